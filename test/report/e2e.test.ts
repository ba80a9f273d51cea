/**
 * End to end through `contpte-lab run` and `contpte-lab compare` on the committed firmware:
 * traces of a real run agree with its summary, the page_fault3-regression preset gives the exact
 * counts derived from the kernel model (docs/kernel-notes.md §1.4, §2.3; reference D.2), and the
 * guest markers keep start-up out of the counts.
 *
 * These tests need `contpte-lab run` (src/machine) and fail until it exists.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { findSummary } from '../../src/report/runner.js';
import type { Summary } from '../../src/report/summary.js';

const ROOT = process.cwd();
const CLI = join(ROOT, 'dist/src/cli/main.js');
const PF3 = join(ROOT, 'firmware/bin/page_fault3');
let dir = '';

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 600_000, maxBuffer: 1 << 28 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function runJson(elf: string, ...args: string[]): Summary {
  const r = cli('run', elf, '--json', ...args);
  if (r.code !== 0) throw new Error(`contpte-lab run ${args.join(' ')} exited ${r.code}: ${r.err.trim().split('\n').slice(-3).join(' | ')}`);
  const s = findSummary(r.out, r.err);
  if (typeof s === 'string') throw new Error(`contpte-lab run ${args.join(' ')}: ${s}`);
  return s;
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with 'npx tsc -p tsconfig.json' (npm test does this)`);
  dir = mkdtempSync(join(tmpdir(), 'e2e-report-'));
});

type Rec = Record<string, unknown>;

/** Events after the last `reset` marker, and between it and the first `dump` after it. */
function regions(events: Rec[], isReset: (e: Rec) => boolean, isDump: (e: Rec) => boolean): { afterReset: Rec[]; toDump: Rec[] } {
  let reset = -1;
  events.forEach((e, i) => {
    if (isReset(e)) reset = i;
  });
  const after = events.slice(reset + 1);
  const dump = after.findIndex(isDump);
  return { afterReset: after, toDump: dump < 0 ? after : after.slice(0, dump) };
}

describe('traces of a firmware run agree with its summary', () => {
  it('JSON lines: every line parses, the kinds are there, and TLBI/fault/PTE-write/DSB events match the counts', () => {
    const file = join(dir, 'pf3.jsonl');
    const s = runJson(PF3, '--trace', file, '--trace-format', 'jsonl', '--', '2M', '1');
    const text = readFileSync(file, 'utf8');
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Rec);
    const end = lines.pop()!;
    expect(end).toMatchObject({ kind: 'trace_end', reason: 'exit', truncated: false, dropped: 0 });
    expect(end['events']).toBe(lines.length);
    const kinds = new Set(lines.map((l) => l['kind'] as string));
    for (const k of ['fault', 'walk', 'tlb_fill', 'pte_write', 'tlbi', 'dsb', 'syscall', 'marker']) expect(kinds.has(k), k).toBe(true);

    const isMarker = (action: string) => (e: Rec) => e['kind'] === 'marker' && e['action'] === action;
    const { afterReset, toDump } = regions(lines, isMarker('reset'), isMarker('dump'));
    const count = (es: Rec[], k: string): number => es.filter((e) => e['kind'] === k).length;
    expect(count(afterReset, 'tlbi')).toBe(s.counts.tlbi.total);
    expect(count(afterReset, 'fault')).toBe(s.counts.faults.total);
    expect(count(afterReset, 'pte_write')).toBe(s.counts.pte_writes);
    expect(count(afterReset, 'dsb')).toBe(s.counts.dsb);
    const dump = s.dumps[0]!;
    expect(count(toDump, 'tlbi')).toBe(dump.counts.tlbi.total);
    expect(count(toDump, 'fault')).toBe(dump.counts.faults.total);
    // The loop's faults are its byte stores, disassembled.
    const loopFault = toDump.find((e) => e['kind'] === 'fault')!;
    expect(loopFault['insn']).toMatch(/^strb wzr, \[x\d+(, x\d+)?\]$/);
    expect(typeof loopFault['pc']).toBe('number');
  });

  it('Perfetto (--trace-time seq): one JSON document with the trace-event fields, a track per component, counters, and as many TLBIs as counted', () => {
    const file = join(dir, 'pf3.json');
    const s = runJson(PF3, '--trace', file, '--trace-format', 'perfetto', '--trace-time', 'seq', '--', '2M', '1');
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: Rec[]; otherData: Rec };
    const ev = doc.traceEvents;
    for (const e of ev) {
      expect(typeof e['ph']).toBe('string');
      expect(typeof e['pid']).toBe('number');
      expect(typeof e['name']).toBe('string');
      if (e['ph'] !== 'M') expect(typeof e['ts']).toBe('number');
      if (e['ph'] === 'i' || e['ph'] === 'X') expect(typeof e['tid']).toBe('number');
    }
    const threads = ev.filter((e) => e['name'] === 'thread_name').map((e) => (e['args'] as Rec)['name']);
    expect(threads).toEqual(['engine/fault', 'mmu/tlb', 'walker', 'pgtable', 'tlbi', 'syscalls', 'markers', 'checker']);
    // The machine has 4 CPUs (the cpus knob's default); the program ran on the first.
    for (const c of ['TLB occupancy cpu0', 'contiguous coverage cpu0', 'TLBIs']) expect(ev.some((e) => e['ph'] === 'C' && e['name'] === c), c).toBe(true);
    const instants = ev.filter((e) => e['ph'] === 'i' && e['cat'] !== 'trace_end');
    const isMarker = (action: string) => (e: Rec) => e['cat'] === 'marker' && (e['args'] as Rec)['action'] === action;
    const { afterReset } = regions(instants, isMarker('reset'), isMarker('dump'));
    expect(afterReset.filter((e) => e['cat'] === 'tlbi').length).toBe(s.counts.tlbi.total);
    expect(doc.otherData).toMatchObject({ reason: 'exit', truncated: false });
  });
});

/**
 * page_fault3 16M 2 on linux-6.9 with /tmp on ext4, between the guest's reset and dump (two
 * iterations of mmap, 4,096 page writes, munmap):
 * - munmap of 16 MiB of dirty shared file pages: 8 × RVALE1IS (one per 2 MiB of PTEs, forced by
 *   the dirty pages) and 1 × RVAE1IS after the PTE tables are freed, per iteration (§2.3);
 * - with file large folios the 6.9 readahead builds [0,32) of order-2 folios and order-4/5 after
 *   (§1.4); page-by-page mapping folds the 254 blocks inside order-4/5 folios per iteration, each
 *   fold one contpte_convert (32 PTE writes) and one RVALE1IS (§2.5);
 * - finish_fault=folio (Kefeng Wang's case 4) maps each folio whole on its first write fault: per
 *   iteration 8 order-2 + 2 order-4 + 126 order-5 folios = 136 faults, each one contpte_set_ptes,
 *   no fold.
 */
describe('the page_fault3-regression preset', () => {
  it('gives the exact counts of each configuration, and the cost model orders them as the report did', () => {
    const html = join(dir, 'preset.html');
    const r = cli('compare', '--preset', 'page_fault3-regression', '--format', 'json', '--html', html, '--', '16M', '2');
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(r.out) as { cases: { name: string; status: string; measured_from: string; cost: { ops: number; ops_per_sec: number }; summary: Summary }[] };
    const byName = Object.fromEntries(doc.cases.map((c) => [c.name, c]));
    const counts = (n: string) => byName[n]!.summary.dumps[0]!.counts;
    for (const c of doc.cases) {
      expect(c.status).toBe('ok');
      expect(c.measured_from).toBe("dump 'page_fault3'");
      expect(c.cost.ops).toBe(8192);
    }
    const MUNMAP = { total: 18, by_op: { RVALE1IS: 16, RVAE1IS: 2 } };
    const c1 = counts('1-no-large-folios');
    expect(c1).toMatchObject({ faults: { total: 8192 }, folds: 0, unfolds: 0, contpte_convert: 0, pte_writes: 16384, tlbi: MUNMAP });
    expect(c1.dsb_by_domain['ish']).toBe(18);
    const c2 = counts('2-large-folios+contpte');
    expect(c2).toMatchObject({ faults: { total: 8192 }, folds: 508, unfolds: 0, contpte_convert: 508, tlbi: { total: 526, by_op: { RVALE1IS: 524, RVAE1IS: 2 } } });
    expect(c2.tlbi.by_site['contpte_convert']).toBe(508);
    expect(c2.pte_writes - c1.pte_writes).toBe(508 * 32);
    expect(c2.dsb_by_domain['ish']).toBe(526);
    const c3 = counts('3-large-folios,contpte-off');
    expect(c3).toMatchObject({ faults: { total: 8192 }, folds: 0, unfolds: 0, contpte_convert: 0, pte_writes: 16384, tlbi: MUNMAP });
    const c4 = counts('4-large-folios+contpte+folio-map');
    expect(c4).toMatchObject({ faults: { total: 272 }, folds: 0, unfolds: 0, contpte_convert: 0, contpte_set_ptes: 272, pte_writes: 16384, tlbi: MUNMAP });

    const speed = (n: string): number => byName[n]!.cost.ops_per_sec;
    expect(speed('2-large-folios+contpte')).toBeLessThan(speed('1-no-large-folios'));
    expect(speed('2-large-folios+contpte')).toBeLessThan(speed('3-large-folios,contpte-off'));
    expect(speed('4-large-folios+contpte+folio-map')).toBeGreaterThan(speed('1-no-large-folios'));
    expect(speed('4-large-folios+contpte+folio-map')).toBeGreaterThan(speed('3-large-folios,contpte-off'));

    const page = readFileSync(html, 'utf8');
    expect(page).toContain('id="chart-tlbi"');
    expect(page).toContain('id="chart-speed"');
  });
});

describe('guest markers', () => {
  it('reset and dump make the start-up of a program invisible in the counts', () => {
    const s = runJson(PF3, '--', '2M', '1');
    const dump = s.dumps[0]!;
    expect(dump.label).toBe('page_fault3');
    expect(dump.ops).toBe(512);
    expect(s.ops).toBe(512);
    // Between reset and dump: the loop's syscalls only (the markers are syscalls too).
    expect(Object.keys(dump.counts.syscalls.by_name).sort()).toEqual(['lab_marker', 'mmap', 'munmap']);
    expect(dump.counts.syscalls.by_name['mmap']).toBe(1);
    expect(dump.counts.syscalls.by_name['munmap']).toBe(1);
    // One shared write fault per page, nothing from loading, libc start-up or the file's creation.
    expect(dump.counts.faults.total).toBe(512);
    // The whole-run counts start at the reset too: the output line and the exit come after the dump.
    for (const startup of ['brk', 'set_tid_address', 'prlimit64', 'readlinkat', 'openat', 'ftruncate', 'unlinkat']) {
      expect(s.counts.syscalls.by_name[startup], startup).toBeUndefined();
    }
    expect(s.counts.syscalls.by_name['write']).toBe(1);
    // Without markers (hello), the counts cover the whole run, start-up included.
    const hello = runJson(join(ROOT, 'firmware/bin/hello'));
    expect(hello.dumps).toEqual([]);
    expect(hello.ops).toBeNull();
    expect(hello.counts.syscalls.by_name['brk']).toBeGreaterThanOrEqual(2);
    expect(hello.counts.faults.total).toBeGreaterThan(0);
  });

  it('compare --html of a single run adds the chart of events over time', () => {
    const html = join(dir, 'single.html');
    const r = cli('compare', PF3, '--matrix', 'contpte=on', '--html', html, '--', '2M', '1');
    expect(r.code, r.err).toBe(0);
    const page = readFileSync(html, 'utf8');
    for (const id of ['chart-tlbi', 'chart-speed', 'chart-timeline']) expect(page).toContain(`id="${id}"`);
  });
});
