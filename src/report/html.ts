/**
 * The HTML report of a comparison: one self-contained file (inline CSS and SVG, no scripts, no
 * network), written as well-formed XHTML-style markup so it can be checked mechanically. It holds
 * the comparison table, a bar chart of TLBIs per case stacked by operation, a bar chart of modeled
 * ops/s per case (or modeled cycles when the guest counted no ops), and for a single run a chart
 * of events over time.
 */
import { ratioToBaseline, type CaseOutcome, type Comparison } from './compare.js';
import { stderrTail } from './outcome.js';
import type { Counts } from './summary.js';
import { barChartSvg, colourOf, escapeXml, lineChartSvg, type BarChart } from './svg.js';
import { formatCell, type Table } from './table.js';
import { timelineChart, type Timeline } from './timeline.js';

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1em auto; padding: 0 1em; max-width: 1100px; color: #222; }
h1 { font-size: 1.4em; overflow-wrap: anywhere; } h2 { font-size: 1.15em; margin-top: 2em; }
code { overflow-wrap: anywhere; }
.meta { color: #444; } .meta code { background: #f3f3f3; padding: 1px 4px; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.failed { color: #b00; font-weight: bold; min-width: 24em; } tr.failed td { background: #fbe3e3; }
.failed-banner { background: #fbe3e3; border-left: 4px solid #b00; padding: 0.5em 1em; color: #700; }
.failed-banner pre.stderr { margin: 0.3em 0; padding: 0.3em 0.6em; background: #fff; color: #333; white-space: pre-wrap; overflow-wrap: anywhere; }
.notes { color: #555; font-size: 0.92em; overflow-wrap: anywhere; } .estimate { background: #fff6d8; padding: 0.5em 1em; border-left: 4px solid #e0b000; }
svg.chart { display: block; margin: 1em 0; font: 12px system-ui, sans-serif; max-width: 100%; height: auto; }
svg .chart-title { font-weight: bold; font-size: 13px; } svg .grid { stroke: #e4e4e4; }
svg .tick, svg .unit, svg .legend { fill: #555; } svg .value { fill: #222; }
@media (max-width: 820px) { body { font-size: 13px; padding: 0 0.5em; } th, td { padding: 2px 4px; } }
`;

function tableHtml(t: Table): string {
  const head = '<tr>' + t.columns.map((c) => `<th>${escapeXml(c.title)}</th>`).join('') + '</tr>';
  const errorCol = t.columns.findIndex((c) => c.key === 'error');
  const rows = t.rows.map(
    (r) =>
      (errorCol >= 0 && r[errorCol] !== null && r[errorCol] !== '' ? '<tr class="failed">' : '<tr>') +
      r
        .map((c, i) => {
          const col = t.columns[i]!;
          const text = formatCell(c, col.kind);
          const cls = col.key === 'error' && text !== '' ? ' class="failed"' : col.kind === 'text' ? '' : ' class="num"';
          return `<td${cls}>${escapeXml(text)}</td>`;
        })
        .join('') +
      '</tr>',
  );
  return `<div class="scroll"><table>\n<thead>${head}</thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table></div>`;
}

/** Which counts a chart draws: the measured region (the last dump, else the run), or reset-to-end. */
export type CountsScope = 'measured' | 'to-end';

function countsOf(c: CaseOutcome, scope: CountsScope): Counts | undefined {
  if (c.counts === undefined) return undefined;
  return scope === 'measured' ? c.counts : c.result.ok ? c.result.summary.counts : undefined;
}

const SCOPE_UNIT: Record<CountsScope, string> = {
  measured: 'TLBI instructions in the measured region (the last dump, else the whole run)',
  'to-end': "TLBI instructions from the guest's last reset to the end of the run",
};

/** TLBIs per case, stacked by operation (each operation always in its own colour). */
export function tlbiChart(cmp: Comparison, scope: CountsScope = 'measured'): BarChart {
  const ops = [...new Set(cmp.cases.flatMap((c) => Object.keys(countsOf(c, scope)?.tlbi.by_op ?? {})))].sort();
  return {
    title: scope === 'measured' ? 'TLBIs per case, by operation (measured region)' : 'TLBIs per case, by operation (last reset to the end of the run)',
    unit: SCOPE_UNIT[scope],
    categories: cmp.cases.map((c) => c.name),
    series:
      ops.length === 0
        ? [{ name: 'TLBI', values: cmp.cases.map((c) => (countsOf(c, scope) === undefined ? null : 0)) }]
        : ops.map((op) => ({ name: op, colour: colourOf(op), values: cmp.cases.map((c) => { const k = countsOf(c, scope); return k === undefined ? null : (k.tlbi.by_op[op] ?? 0); }) })),
  };
}

/** At most this many call sites get their own bar segment; the rest are summed as "other sites". */
export const MAX_SITES = 8;

/**
 * TLBIs per case by the kernel function that issued them (`counts.tlbi.by_site`): the sites with
 * the most TLBIs over all cases, the rest together.
 */
export function siteChart(cmp: Comparison): BarChart {
  const total = new Map<string, number>();
  for (const c of cmp.cases) for (const [site, n] of Object.entries(c.counts?.tlbi.by_site ?? {})) total.set(site, (total.get(site) ?? 0) + n);
  const ranked = [...total].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([s]) => s);
  const shown = ranked.length > MAX_SITES ? ranked.slice(0, MAX_SITES - 1) : ranked;
  const rest = ranked.slice(shown.length);
  const series = shown.map((site) => ({ name: site, colour: colourOf(site), values: cmp.cases.map((c) => (c.counts === undefined ? null : (c.counts.tlbi.by_site[site] ?? 0))) }));
  if (rest.length > 0) {
    series.push({ name: `other sites (${rest.length})`, colour: '#bab0ac', values: cmp.cases.map((c) => (c.counts === undefined ? null : rest.reduce((a, s) => a + (c.counts!.tlbi.by_site[s] ?? 0), 0))) });
  }
  return {
    title: 'TLBIs per case, by kernel call site (measured region)',
    unit: 'TLBI instructions, charged to the kernel function that issued them',
    categories: cmp.cases.map((c) => c.name),
    series: series.length > 0 ? series : [{ name: 'TLBI', values: cmp.cases.map((c) => (c.counts === undefined ? null : 0)) }],
  };
}

/** Modeled ops/s per case, or modeled cycles when no case counted ops. */
export function speedChart(cmp: Comparison): BarChart {
  const perOp = cmp.cases.some((c) => c.modeled?.ops_per_sec != null);
  return perOp
    ? {
        title: 'Modeled ops per second per case (estimate)',
        unit: 'ops/s at the nominal clock (cost model)',
        categories: cmp.cases.map((c) => c.name),
        series: [{ name: 'ops/s', values: cmp.cases.map((c) => c.modeled?.ops_per_sec ?? null) }],
      }
    : {
        title: 'Modeled cycles per case (estimate)',
        unit: 'cycles (cost model)',
        categories: cmp.cases.map((c) => c.name),
        series: [{ name: 'cycles', values: cmp.cases.map((c) => c.modeled?.cycles ?? null) }],
      };
}

/**
 * The machine's CPUs per case: broadcast TLBIs each CPU received from the others (what a
 * many-CPU machine pays for every broadcast), as min / mean / max over the CPUs, with the totals.
 */
export function cpuTableHtml(cmp: Comparison): string {
  const rows = cmp.cases.map((c) => {
    const cpus = c.counts?.cpus ?? [];
    if (c.counts === undefined || cpus.length === 0) return `<tr><td>${escapeXml(c.name)}</td><td colspan="6">${c.result.ok ? 'no per-CPU counts' : 'failed'}</td></tr>`;
    const received = cpus.map((x) => x.tlbi_received);
    const sum = (v: number[]): number => v.reduce((a, b) => a + b, 0);
    const cells = [
      String(cpus.length),
      String(sum(cpus.map((x) => x.tlbi_issued))),
      String(sum(received)),
      String(Math.min(...received)),
      (sum(received) / cpus.length).toFixed(1),
      String(Math.max(...received)),
    ];
    return `<tr><td>${escapeXml(c.name)}</td>${cells.map((v) => `<td class="num">${v}</td>`).join('')}</tr>`;
  });
  const head = ['case', 'CPUs', 'TLBIs issued', 'broadcasts received', 'received per CPU: min', 'mean', 'max'].map((h) => `<th>${h}</th>`).join('');
  // The modeled machine beyond the simulated CPUs (cost.busy_cpus): labelled, never mixed into the table.
  const extra = cmp.cases.flatMap((c) => {
    const x = c.modeled?.cpus_extrapolated;
    if (x === undefined) return [];
    return [`<p class="notes">${escapeXml(c.name)}, EXTRAPOLATED (not simulated): ${x.simulated_busy_cpus} simulated busy CPUs stand for ${x.modeled_busy_cpus} of ${x.modeled_cpus}; per busy CPU ${x.per_busy_cpu.tlbi_received.toFixed(0)} broadcasts received, the machine ${x.tlbi_received.toFixed(0)}.</p>`];
  });
  return `<div class="scroll"><table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table></div>${extra.length > 0 ? '\n' + extra.join('\n') : ''}`;
}

export interface HtmlReportInput {
  title: string;
  comparison: Comparison;
  table: Table;
  /** Events over time, for a single run. */
  timeline?: Timeline | null;
  /** When the report was made (left out when undefined, so tests get stable output). */
  generated?: string;
  /** contpte-lab's version, and the command that made the report. */
  version?: string;
  command?: string;
}

export function renderHtmlReport(r: HtmlReportInput): string {
  const cmp = r.comparison;
  const parts: string[] = [];
  parts.push('<!DOCTYPE html>');
  parts.push('<html lang="en">');
  parts.push('<head>');
  parts.push('<meta charset="utf-8"/>');
  parts.push(`<title>${escapeXml(r.title)}</title>`);
  parts.push(`<style>${STYLE}</style>`);
  parts.push('</head>');
  parts.push('<body>');
  parts.push(`<h1>${escapeXml(r.title)}</h1>`);
  if (r.version !== undefined || r.command !== undefined) {
    parts.push(`<p class="meta">Made by contpte-lab ${escapeXml(r.version ?? '')}${r.command !== undefined ? ` with <code>${escapeXml(r.command)}</code>` : ''}.</p>`);
  }
  const failed = cmp.cases.filter((c) => !c.result.ok);
  if (failed.length > 0) {
    parts.push(`<div class="failed-banner" role="alert"><p><strong>${failed.length} of ${cmp.cases.length} case${cmp.cases.length === 1 ? '' : 's'} FAILED</strong>: their counts are not compared.</p><ul>`);
    for (const c of failed) {
      // The guest's last stderr lines say why, as on the terminal (its usage message, an assertion).
      const tail = stderrTail(c.result.stderr);
      const quoted = tail.length > 0 ? `<pre class="stderr">${escapeXml(tail.join('\n'))}</pre>` : '';
      parts.push(`<li><strong>${escapeXml(c.name)}</strong>: ${escapeXml(c.result.ok ? '' : c.result.error)}${quoted}</li>`);
    }
    parts.push('</ul></div>');
  }
  const base = cmp.cases.find((c) => c.name === cmp.baseline);
  const summaryLine = cmp.cases
    .map((c) => {
      const ratio = ratioToBaseline(c, base);
      return `${c.name}: ${c.result.ok ? (ratio === null ? 'ran' : formatCell(ratio, 'ratio')) : 'failed'}`;
    })
    .join('; ');
  parts.push(`<p>Program <code>${escapeXml(cmp.elf)}</code>, ${cmp.cases.length} case${cmp.cases.length === 1 ? '' : 's'}, baseline <code>${escapeXml(cmp.baseline)}</code>${r.generated !== undefined ? `, generated ${escapeXml(r.generated)}` : ''}.</p>`);
  parts.push(`<p>Relative modeled speed: ${escapeXml(summaryLine)}.</p>`);
  parts.push(
    '<p class="estimate">Counts (faults, PTE writes, folds, TLBIs, DSBs, walks) are exact counts of the model. Cycles and ops/s come from the cost model: an estimate whose value is the ordering and rough ratios of the cases, not their absolute figures (see docs/cost-model.md).</p>',
  );
  parts.push('<h2>Comparison</h2>');
  parts.push(tableHtml(r.table));
  parts.push('<div class="notes">');
  for (const n of r.table.notes) parts.push(`<p>${escapeXml(n)}</p>`);
  parts.push('</div>');
  parts.push('<h2>TLBIs by kernel call site</h2>');
  parts.push('<p>Each TLBI is charged to the kernel function that issued it (the innermost frame that is not a TLB-flush helper); <code>run --json</code> has the whole call chains (<code>counts.tlbi.by_chain</code>).</p>');
  parts.push(barChartSvg(siteChart(cmp), 'chart-tlbi-site'));
  parts.push('<h2>TLBIs by operation</h2>');
  parts.push(barChartSvg(tlbiChart(cmp, 'measured'), 'chart-tlbi'));
  // Counts of different regions are never drawn on one axis: the run to its end gets its own chart.
  if (cmp.cases.some((c) => c.source !== undefined && c.source !== 'whole run')) parts.push(barChartSvg(tlbiChart(cmp, 'to-end'), 'chart-tlbi-to-end'));
  parts.push('<h2>TLBIs by CPU</h2>');
  parts.push('<p>Every broadcast TLBI (the …IS forms) reaches all the other CPUs of the machine (the <code>cpus</code> knob); the JSON has each CPU\'s counts (<code>counts.cpus</code>).</p>');
  parts.push(cpuTableHtml(cmp));
  parts.push('<h2>Modeled speed</h2>');
  parts.push(barChartSvg(speedChart(cmp), 'chart-speed'));
  if (r.timeline !== undefined && r.timeline !== null) {
    parts.push('<h2>Events over time</h2>');
    parts.push(lineChartSvg(timelineChart(r.timeline, `Events over time: ${cmp.cases[0]?.name ?? ''}`), 'chart-timeline'));
  }
  parts.push('</body>');
  parts.push('</html>');
  return parts.join('\n') + '\n';
}
