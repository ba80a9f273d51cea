/**
 * The HTML report: well-formed (every tag closed in order, attributes quoted, text escaped),
 * self-contained (no scripts, no external resources), with the comparison table, the TLBI chart
 * stacked by operation, the modeled-speed chart, and for a single run the events-over-time chart
 * (from a JSON-lines trace, or from the dumps).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandMatrix, parseCasesText } from '../../src/report/cases.js';
import { comparisonTable, runComparison, type CompareRequest } from '../../src/report/compare.js';
import { renderHtmlReport } from '../../src/report/html.js';
import type { RunResult, RunSpec } from '../../src/report/runner.js';
import { buildSummary, MarkerCounts } from '../../src/report/summary.js';
import { barChartSvg, colourOf, escapeXml, lineChartSvg, niceStep } from '../../src/report/svg.js';

/** TLBIs by call site of the cases that ran: each fold's contpte_convert, and the unmap's flushes. */
const SITE_BARS: [string, string][] = [
  ['on: contpte_convert 8', colourOf('contpte_convert')],
  ['on: unmap_region 2', colourOf('unmap_region')],
  ['off: unmap_region 2', colourOf('unmap_region')],
  ['no ranges <&>: contpte_convert 128', colourOf('contpte_convert')],
  ['no ranges <&>: unmap_region 128', colourOf('unmap_region')],
];
import { timelineFromDumps, timelineFromJsonl } from '../../src/report/timeline.js';
import { JsonlSink } from '../../src/trace/sinks/index.js';
import { Pf3Workload } from '../trace/workload.js';

interface Element {
  name: string;
  attrs: Record<string, string>;
  children: Element[];
  text: string;
}

/**
 * A strict parser for the markup we write: it throws on an unclosed or mismatched tag, an
 * unquoted attribute, or a bare '<', '>' or '&' in text. Returns the root element.
 */
function parseStrict(src: string): Element {
  let s = src.replace(/^<!DOCTYPE html>\s*/, '');
  const root: Element = { name: '#root', attrs: {}, children: [], text: '' };
  const stack: Element[] = [root];
  const checkText = (t: string): void => {
    if (/[<>]/.test(t)) throw new Error(`bare < or > in text: ${t.slice(0, 60)}`);
    const amp = t.match(/&[^;\s]*;?/g) ?? [];
    for (const a of amp) if (!/^&(amp|lt|gt|quot|#39);$/.test(a)) throw new Error(`bad entity ${a}`);
  };
  while (s.length > 0) {
    const lt = s.indexOf('<');
    if (lt < 0) {
      checkText(s);
      stack[stack.length - 1]!.text += s;
      break;
    }
    const text = s.slice(0, lt);
    const top = stack[stack.length - 1]!;
    if (top.name === 'style') {
      const end = s.indexOf('</style>');
      top.text += s.slice(0, end);
      s = s.slice(end);
    } else {
      checkText(text);
      top.text += text;
      s = s.slice(lt);
    }
    const close = /^<\/([a-zA-Z][\w-]*)>/.exec(s);
    if (close) {
      const open = stack.pop()!;
      if (open.name !== close[1]) throw new Error(`</${close[1]}> closes <${open.name}>`);
      s = s.slice(close[0].length);
      continue;
    }
    const tag = /^<([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<>]*")*)\s*(\/?)>/.exec(s);
    if (!tag) throw new Error(`malformed tag at: ${s.slice(0, 80)}`);
    const attrs: Record<string, string> = {};
    for (const m of tag[2]!.matchAll(/([\w:-]+)="([^"]*)"/g)) {
      if (m[1]! in attrs) throw new Error(`attribute ${m[1]} twice`);
      checkText(m[2]!);
      attrs[m[1]!] = m[2]!;
    }
    const el: Element = { name: tag[1]!, attrs, children: [], text: '' };
    stack[stack.length - 1]!.children.push(el);
    if (tag[3] !== '/') stack.push(el);
    s = s.slice(tag[0].length);
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  return root;
}

function all(e: Element, name: string): Element[] {
  const out: Element[] = [];
  const walk = (x: Element): void => {
    if (x.name === name) out.push(x);
    x.children.forEach(walk);
  };
  walk(e);
  return out;
}

function textOf(e: Element): string {
  return e.text + e.children.map(textOf).join('');
}

const unescape = (s: string): string => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');

async function run(r: RunSpec): Promise<RunResult> {
  if (r.sets.includes('mode=fail')) return { ok: false, error: 'exit code 2: <bad> & "worse"', exitCode: 2, seconds: 0, stderr: 'usage: page_fault3 [size]\n\n  size  <bytes> & more\n' };
  const w = new Pf3Workload([5, 5], { contpte: !r.sets.includes('contpte=off'), tlbiRange: !r.sets.includes('tlbi_range=off') });
  const m = new MarkerCounts(w.telemetry.stats);
  m.reset();
  w.pass();
  m.addOps(64);
  m.dump('pass 1');
  w.pass();
  m.addOps(64);
  m.dump('pass 2');
  return { ok: true, summary: buildSummary({ exitCode: 0, end: { reason: 'exit' }, profile: 'linux-6.9', policy: {}, snapshot: w.telemetry.stats.snapshot(), ops: m.ops, dumps: m.dumps }), seconds: 0, stderr: '' };
}

const req = (cases: CompareRequest['cases']): CompareRequest => ({ elf: '/fw/page_fault3 <&>', args: [], cases, sets: [], costSets: [] });

describe('the HTML report', () => {
  it('is well-formed and self-contained, with the table and both bar charts', async () => {
    const cases = parseCasesText('on: contpte=on\noff: contpte=off\nno ranges <&>: tlbi_range=off\nbroken: mode=fail', 'c');
    const cmp = await runComparison(req(cases), { jobs: 2, runner: run });
    const table = comparisonTable(cmp);
    const html = renderHtmlReport({ title: 'contpte-lab: "page_fault3" <test>', comparison: cmp, table, version: '0.1.0', command: "contpte-lab compare x --cases 'c <&>'" });
    const doc = parseStrict(html);
    expect(doc.children.map((e) => e.name)).toEqual(['html']);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\bsrc=|\bhref=|@import|url\(/i);
    expect(html.match(/https?:\/\/[^"]*/g)).toEqual(Array(4).fill('http://www.w3.org/2000/svg'));
    // The version and the exact command; the failed case named at the top and its row marked.
    const meta = all(doc, 'p').find((p) => p.attrs['class'] === 'meta')!;
    expect(meta.text).toMatch(/^Made by contpte-lab 0\.1\.0 with/);
    expect(unescape(textOf(all(meta, 'code')[0]!))).toBe("contpte-lab compare x --cases 'c <&>'");
    const banner = all(doc, 'div').find((d) => d.attrs['class'] === 'failed-banner')!;
    expect(banner.attrs['role']).toBe('alert');
    expect(unescape(textOf(all(banner, 'strong')[0]!))).toBe('1 of 4 cases FAILED');
    expect(all(banner, 'li').map((li) => unescape(textOf(li)))).toEqual([': exit code 2: <bad> & "worse"brokenusage: page_fault3 [size]\n  size  <bytes> & more']);
    // With the guest's last stderr lines, as compare prints them on the terminal.
    expect(all(banner, 'pre').map((p) => [p.attrs['class'], unescape(textOf(p))])).toEqual([['stderr', 'usage: page_fault3 [size]\n  size  <bytes> & more']]);
    expect(unescape(textOf(all(doc, 'title')[0]!))).toBe('contpte-lab: "page_fault3" <test>');

    const [tbl] = all(doc, 'table');
    const headers = all(tbl!, 'th').map((e) => unescape(textOf(e)));
    expect(headers).toEqual(['case', 'faults', 'PTE writes', 'folds', 'unfolds', 'converts', 'TLBIs', 'VALE1IS', 'RVALE1IS', 'DSBs', 'walks', 'cycles/op', 'ops/s', 'vs on', 'error']);
    const rows = all(tbl!, 'tr').slice(1).map((tr) => all(tr, 'td').map((td) => unescape(textOf(td))));
    expect(rows.map((r) => r.slice(0, 7))).toEqual([
      ['on', '128', '512', '8', '0', '8', '10'],
      ['off', '128', '256', '0', '0', '0', '2'],
      ['no ranges <&>', '128', '512', '8', '0', '8', '256'],
      ['broken', '', '', '', '', '', ''],
    ]);
    expect(rows[3]![14]).toBe('FAILED: exit code 2: <bad> & "worse"');
    expect(all(tbl!, 'tr').slice(1).map((tr) => tr.attrs['class'] ?? '')).toEqual(['', '', '', 'failed']);

    const svgs = all(doc, 'svg');
    // Measured-region counts and reset-to-end counts never share an axis: each has its chart.
    expect(svgs.map((s) => s.attrs['id'])).toEqual(['chart-tlbi-site', 'chart-tlbi', 'chart-tlbi-to-end', 'chart-speed']);
    for (const svg of svgs) expect(svg.attrs['viewBox']).toMatch(/^0 0 \d+ \d+$/);
    const site = svgs[0]!;
    expect(textOf(all(site, 'title')[0]!)).toBe('TLBIs per case, by kernel call site (measured region)');
    const siteBars = all(site, 'rect').filter((r) => all(r, 'title').length === 1).map((r) => [unescape(textOf(all(r, 'title')[0]!)), r.attrs['fill']]);
    expect(siteBars).toEqual(SITE_BARS);
    // A failed case is a red band saying so, in every bar chart, never an empty bar.
    for (const svg of [svgs[0]!, svgs[1]!, svgs[2]!, svgs[3]!]) expect(all(svg, 'text').filter((t) => t.attrs['class'] === 'failed').map(textOf)).toEqual(['FAILED (no counts)']);
    const tlbi = svgs[1]!;
    // Stacked by operation: a legend entry per op, one rect per (case, op) with a count.
    expect(all(tlbi, 'text').filter((t) => t.attrs['class'] === 'legend').map(textOf)).toEqual(['RVALE1IS', 'VALE1IS']);
    const bars = all(tlbi, 'rect').filter((r) => all(r, 'title').length === 1).map((r) => unescape(textOf(all(r, 'title')[0]!)));
    expect(bars).toEqual(['on: RVALE1IS 10', 'off: RVALE1IS 2', 'no ranges <&>: VALE1IS 256']);
    expect(all(tlbi, 'text').filter((t) => t.attrs['class'] === 'value').map(textOf)).toEqual(['10', '2', '256']);
    // Each operation keeps its colour whatever the other operations of the report.
    const fills = Object.fromEntries(all(tlbi, 'rect').filter((r) => all(r, 'title').length === 1).map((r) => [/: (\S+) \d+$/.exec(unescape(textOf(all(r, 'title')[0]!)))![1], r.attrs['fill']]));
    expect(fills).toEqual({ RVALE1IS: colourOf('RVALE1IS'), VALE1IS: colourOf('VALE1IS') });
    expect(colourOf('RVALE1IS')).not.toBe(colourOf('VALE1IS'));
    const speed = svgs[3]!;
    expect(textOf(all(speed, 'title')[0]!)).toBe('Modeled ops per second per case (estimate)');
    expect(all(speed, 'rect').filter((r) => all(r, 'title').length === 1)).toHaveLength(3);
    expect(html).toContain('an estimate whose value is the ordering and rough ratios of the cases');
    // At 800 px: charts scale down to the page (their viewBox keeps them whole), wide tables scroll in their own box.
    expect(html).toMatch(/svg\.chart \{[^}]*max-width: 100%; height: auto;/);
    expect(html).toMatch(/\.scroll \{ overflow-x: auto;/);
    expect(all(doc, 'table').length).toBe(all(doc, 'div').filter((d) => d.attrs['class'] === 'scroll').length);
  });

  it('for a single run, adds the chart of events over time from its trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'html-'));
    const file = join(dir, 'trace.jsonl');
    const w = new Pf3Workload([5, 5]);
    const sink = new JsonlSink(file);
    w.telemetry.tracer.attach(sink);
    w.pass();
    w.pass();
    w.telemetry.tracer.close('exit');
    const timeline = await timelineFromJsonl(file, 10);
    // 606 + 603 events in buckets that doubled from 1 until 20 of them cover the sequence: 64 wide.
    expect(timeline.xUnit).toBe('event sequence (each point: 64 events)');
    expect(sink.events).toBe(1209);
    expect(timeline.xLabels).toHaveLength(Math.ceil(1209 / 64));
    const total = (name: string): number => timeline.series.find((s) => s.name === name)!.values.reduce((a, b) => a + b, 0);
    expect(timeline.series.map((s) => s.name).slice(0, 3)).toEqual(['pte_write', 'walk', 'fault']);
    expect(total('pte_write')).toBe(512);
    expect(total('fault')).toBe(128);
    expect(total('walk')).toBe(256);
    expect(timeline.series).toHaveLength(8);

    const cmp = await runComparison(req(expandMatrix('contpte=on')), { jobs: 1, runner: run });
    const html = renderHtmlReport({ title: 'one run', comparison: cmp, table: comparisonTable(cmp), timeline, generated: '2025-01-01T00:00:00Z' });
    const doc = parseStrict(html);
    const svgs = all(doc, 'svg');
    expect(svgs.map((s) => s.attrs['id'])).toEqual(['chart-tlbi-site', 'chart-tlbi', 'chart-tlbi-to-end', 'chart-speed', 'chart-timeline']);
    const lines = all(svgs[4]!, 'polyline');
    expect(lines).toHaveLength(8);
    expect(lines[0]!.attrs['points']!.split(' ')).toHaveLength(timeline.xLabels.length);
    expect(html).toContain('generated 2025-01-01T00:00:00Z');
  });

  it('or from its dumps when there is no trace', async () => {
    const cmp = await runComparison(req(expandMatrix('contpte=on')), { jobs: 1, runner: run });
    const only = cmp.cases[0]!.result;
    if (!only.ok) throw new Error('run failed');
    const t = timelineFromDumps(only.summary)!;
    expect(t.xLabels).toEqual(['pass 1', 'pass 2']);
    expect(t.series.find((s) => s.name === 'TLBIs')!.values).toEqual([5, 10]);
    const svg = lineChartSvg({ title: 'dumps', xUnit: t.xUnit, xLabels: t.xLabels, yUnit: 'events', series: t.series }, 'x');
    parseStrict(svg);
    expect(timelineFromDumps({ ...only.summary, dumps: [] })).toBeNull();
  });
});

describe('svg helpers', () => {
  it('escapes everything that matters in XML', () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('picks round axis steps', () => {
    expect([0, 7, 10, 11, 260, 5330, 700000].map((m) => niceStep(m))).toEqual([1, 2, 2, 5, 100, 2000, 200000]);
  });

  it('draws a plain bar chart of one series as well-formed SVG', () => {
    const svg = barChartSvg({ title: 'T', unit: 'u', categories: ['a', 'b'], series: [{ name: 's', values: [3, null] }] }, 'c');
    const root = parseStrict(svg);
    expect(all(root, 'rect').filter((r) => r.attrs['class'] !== 'failed-band')).toHaveLength(1);
    expect(all(root, 'text').filter((t) => t.attrs['class'] === 'value').map(textOf)).toEqual(['3']);
    expect(all(root, 'text').filter((t) => t.attrs['class'] === 'failed').map(textOf)).toEqual(['FAILED (no counts)']);
  });
});
