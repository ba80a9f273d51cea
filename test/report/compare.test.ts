/**
 * Comparisons end to end inside the process: cases resolved to runs, each run made by the real
 * page-table layer and mmu (the page_fault3 pattern on the Workbench, configured by the case's
 * settings, with the guest markers' reset/ops/dump), the table with exact counts and modeled
 * cost, a failed case reported in its row, cost-only variations sharing one run.
 */
import { describe, expect, it } from 'vitest';
import { expandMatrix, parseCasesText } from '../../src/report/cases.js';
import { comparisonJson, comparisonTable, distinctRuns, failureReport, resolveCases, runComparison, type CompareRequest } from '../../src/report/compare.js';
import { costParamsWith, modelCost } from '../../src/report/cost.js';
import type { RunResult, RunSpec } from '../../src/report/runner.js';
import { buildSummary, MarkerCounts } from '../../src/report/summary.js';
import { renderCsv, renderText } from '../../src/report/table.js';
import type { PgtablePolicy } from '../../src/pgtable/index.js';
import { UsageError } from '../../src/util/errors.js';
import { Pf3Workload } from '../trace/workload.js';

const ON_OFF: Record<string, boolean> = { on: true, off: false };

/**
 * A run of the page_fault3 pattern on the Workbench: one pass of start-up, reset, two measured
 * passes (64 ops each), dump, one more pass as the exit. Knobs: contpte, tlbi_range, kpti.
 */
async function workbenchRun(r: RunSpec): Promise<RunResult> {
  const policy: Partial<PgtablePolicy> = {};
  for (const s of r.sets) {
    const [k, v] = s.split('=') as [string, string];
    if (k === 'mode' && v === 'fail') return { ok: false, error: 'exit code 2: contpte-lab: --set mode: no such knob', exitCode: 2, seconds: 0.01, stderr: '' };
    const b = ON_OFF[v];
    if (b === undefined) throw new Error(`test runner: ${s}`);
    if (k === 'contpte') policy.contpte = b;
    else if (k === 'tlbi_range') policy.tlbiRange = b;
    else if (k === 'kpti') policy.kpti = b;
    else throw new Error(`test runner: unknown knob ${k}`);
  }
  const w = new Pf3Workload([5, 5], policy);
  const m = new MarkerCounts(w.telemetry.stats);
  w.pass();
  m.reset();
  w.pass();
  w.pass();
  m.addOps(128);
  m.dump('page_fault3');
  w.pass();
  const summary = buildSummary({
    exitCode: 0,
    end: { reason: 'exit' },
    profile: r.profile ?? 'linux-6.12',
    policy: Object.fromEntries(r.sets.map((s) => s.split('=') as [string, string])),
    snapshot: w.telemetry.stats.snapshot(),
    ops: m.ops,
    dumps: m.dumps,
  });
  return { ok: true, summary, seconds: 0.01, stderr: '' };
}

const request = (cases: CompareRequest['cases'], more: Partial<CompareRequest> = {}): CompareRequest => ({
  elf: '/fw/page_fault3',
  args: ['16M', '2'],
  cases,
  profile: 'linux-6.9',
  sets: [],
  costSets: ['cost.cpus=128'],
  ...more,
});

describe('a comparison of real model runs', () => {
  it('tabulates exact counts, TLBIs by operation, modeled cost and the ratio to the baseline', async () => {
    const cmp = await runComparison(request(expandMatrix('contpte=on,off tlbi_range=on,off')), { jobs: 2, runner: workbenchRun });
    const table = comparisonTable(cmp);
    const text = renderText(table);
    // Two measured passes: with contpte, 8 folds (4 per pass), each one convert and one range
    // TLBI (16 VALE1IS without FEAT_TLBIRANGE); the unmap flush of 64 pages is one RVALE1IS, or
    // 64 VALE1IS without ranges (below the 512-page give-up threshold). cycles/op of the first
    // row: (128 faults × 4500 + 128 lookups × 250 + 256 stores × 4 + 256 atomics × 25 + 8 fold
    // attempts × 60 + 10 TLBIs × (500 + 20 × 127) + 20 DSBs × 30 + the walks' descriptor reads
    // × 25) / 128 ops.
    const rows = text.split('\n');
    expect(rows.slice(0, 6)).toEqual([
      'case                        faults  PTE writes  folds  unfolds  converts  TLBIs  VALE1IS  RVALE1IS  DSBs  walks  cycles/op    ops/s  vs contpte=on tlbi_range=on',
      '--------------------------  ------  ----------  -----  -------  --------  -----  -------  --------  ----  -----  ---------  -------  ---------------------------',
      'contpte=on tlbi_range=on       128         512      8        0         8     10        0        10    20    256      5,104  509,411                        1.00x',
      'contpte=on tlbi_range=off      128         512      8        0         8    256      256         0    20    256     10,946  237,520                        0.47x',
      'contpte=off tlbi_range=on      128         256      0        0         0      2        0         2     4    256      4,877  533,067                        1.05x',
      'contpte=off tlbi_range=off     128         256      0        0         0    128      128         0     4    256      7,870  330,371                        0.65x',
    ]);
    expect(rows.slice(6)).toEqual([
      '',
      "counts: dump 'page_fault3' (a dump covers the guest's reset-to-dump region)",
      'cost: modeled cycles per op and ops/s at the nominal clock; vs contpte=on tlbi_range=on: modeled ops/s relative to it. An ESTIMATE (docs/cost-model.md).',
      'cost parameters: clock_ghz=2.6 cpus=128 busy_cpus=1 fault_entry_exit=4500 fault_retry=1000 page_cache_lookup=250 folio_alloc=400 zero_page=500 page_map=60 pte_write=4 pte_atomic=25 fold_attempt=60 tlbi_local=20 tlbi_broadcast=500 tlbi_broadcast_per_cpu=20 tlbi_received=200 dsb=30 walk_level=25 syscall=250',
      'contpte=on tlbi_range=on: --profile linux-6.9 --set contpte=on --set tlbi_range=on --set cost.cpus=128 -- 16M 2',
      'contpte=on tlbi_range=off: --profile linux-6.9 --set contpte=on --set tlbi_range=off --set cost.cpus=128 -- 16M 2',
      'contpte=off tlbi_range=on: --profile linux-6.9 --set contpte=off --set tlbi_range=on --set cost.cpus=128 -- 16M 2',
      'contpte=off tlbi_range=off: --profile linux-6.9 --set contpte=off --set tlbi_range=off --set cost.cpus=128 -- 16M 2',
      '',
    ]);
    // The figures in the table are the cost model's on the dump's counts.
    const c0 = cmp.cases[0]!;
    expect(c0.modeled).toEqual(modelCost(c0.counts!, 128, costParamsWith(['cost.cpus=128'])));
    expect(c0.source).toBe("dump 'page_fault3'");
    const m = c0.modeled!;
    expect(m.inputs).toMatchObject({ faults: 128, page_cache_lookups: 128, pte_writes: 256, pte_atomics: 256, fold_attempts: 8, tlbi_broadcast: 10, dsb: 20 });
    expect(m.cycles).toBe(128 * 4500 + 128 * 250 + 256 * 4 + 256 * 25 + 8 * 60 + 10 * (500 + 20 * 127) + 20 * 30 + m.inputs.walks * 25);
  });

  it('reports a failed case in its row and keeps the others', async () => {
    const cases = parseCasesText('good: contpte=on\nbad: mode=fail\nplain: contpte=off', 'c');
    const cmp = await runComparison(request(cases, { baseline: 'plain' }), { jobs: 3, runner: workbenchRun });
    const t = comparisonTable(cmp);
    expect(t.columns.map((c) => c.key)).toEqual(['case', 'faults', 'pte_writes', 'folds', 'unfolds', 'contpte_convert', 'tlbi', 'tlbi_RVALE1IS', 'dsb', 'walks', 'cycles_per_op', 'ops_per_sec', 'ratio', 'error']);
    expect(t.rows[1]).toEqual(['bad', null, null, null, null, null, null, null, null, null, null, null, null, 'FAILED: exit code 2: contpte-lab: --set mode: no such knob']);
    expect(t.rows[0]![t.rows[0]!.length - 1]).toBeNull();
    expect(t.rows[2]![12]).toBe(1);
    expect(t.rows[0]![12]).toBeLessThan(1);
    const json = comparisonJson(cmp) as { baseline: string; cases: { name: string; status: string; error?: string; summary: unknown }[] };
    expect(json.baseline).toBe('plain');
    expect(json.cases.map((c) => [c.name, c.status])).toEqual([['good', 'ok'], ['bad', 'failed'], ['plain', 'ok']]);
    expect(json.cases[1]!.error).toBe('exit code 2: contpte-lab: --set mode: no such knob');
    expect(json.cases[1]!.summary).toBeNull();
  });

  it('a guest that exited non-zero or was stopped by a budget is a failed case in every format, never compared', async () => {
    // The runner finished (a summary exists) but the guest did not do its work.
    const ended = (r: RunSpec): Promise<RunResult> =>
      workbenchRun({ ...r, sets: r.sets.filter((s) => !s.startsWith('end=')) }).then((res) => {
        if (!res.ok) return res;
        const how = r.sets.find((s) => s.startsWith('end='))?.slice(4);
        if (how === 'usage') return { ...res, summary: { ...res.summary, exit_code: 2 }, stderr: 'usage: page_fault3 [size]\n  size  bytes per iteration\n' };
        if (how === 'budget') return { ...res, summary: { ...res.summary, exit_code: null, end: { reason: 'budget', detail: 'the guest ran out of its instruction budget (10 instructions) at pc 0x400000' } } };
        return res;
      });
    const cases = parseCasesText('good: contpte=on\nusage: contpte=on end=usage\nbudget: contpte=off end=budget', 'c');
    const cmp = await runComparison(request(cases), { jobs: 1, runner: ended });
    expect(cmp.cases.map((c) => c.result.ok)).toEqual([true, false, false]);
    const t = comparisonTable(cmp);
    const err = t.columns.length - 1;
    expect(t.rows[1]!.slice(1, err).every((c) => c === null)).toBe(true);
    expect(t.rows[2]!.slice(1, err).every((c) => c === null)).toBe(true);
    expect(t.rows[1]![err]).toBe('FAILED: the guest exited with status 2');
    expect(t.rows[2]![err]).toBe('FAILED: stopped by a budget: the guest ran out of its instruction budget (10 instructions) at pc 0x400000');
    expect(renderCsv(t).split('\r\n')[2]).toBe('usage,,,,,,,,,,,,,FAILED: the guest exited with status 2');
    const json = comparisonJson(cmp) as { cases: { name: string; status: string; error?: string; exit_code?: number; stderr_tail?: string[]; cost: unknown; ratio_to_baseline: unknown; summary: { exit_code: number } | null }[] };
    expect(json.cases.map((c) => c.status)).toEqual(['ok', 'failed', 'failed']);
    expect(json.cases[1]).toMatchObject({ error: 'the guest exited with status 2', exit_code: 2, stderr_tail: ['usage: page_fault3 [size]', '  size  bytes per iteration'], cost: null, ratio_to_baseline: null });
    expect(json.cases[1]!.summary!.exit_code).toBe(2);
    expect(failureReport(cmp)).toEqual([
      'case usage FAILED: the guest exited with status 2',
      '  | usage: page_fault3 [size]',
      '  |   size  bytes per iteration',
      'case budget FAILED: stopped by a budget: the guest ran out of its instruction budget (10 instructions) at pc 0x400000',
    ]);
  });

  it('cases that differ only in cost settings share one run', async () => {
    let calls = 0;
    const counting = (r: RunSpec): Promise<RunResult> => {
      calls++;
      return workbenchRun(r);
    };
    const cases = expandMatrix('contpte=on cost.cpus=1,16,128');
    const req = request(cases, { costSets: [] });
    expect(distinctRuns(req)).toHaveLength(1);
    expect(distinctRuns(req)[0]!.cases).toEqual(['contpte=on cost.cpus=1', 'contpte=on cost.cpus=16', 'contpte=on cost.cpus=128']);
    const cmp = await runComparison(req, { jobs: 2, runner: counting });
    expect(calls).toBe(1);
    const perOp = cmp.cases.map((c) => c.modeled!.cycles_per_op!);
    expect(perOp[0]).toBeLessThan(perOp[1]!);
    expect(perOp[1]).toBeLessThan(perOp[2]!);
    // Per op, the difference is 10 broadcast TLBIs over 128 ops × 20 cycles for each of 127 more CPUs.
    expect(perOp[2]! - perOp[0]!).toBeCloseTo((10 * 20 * 127) / 128, 9);
  });

  it('resolves settings in order: command, case, then overrides; an unknown baseline is a usage error', () => {
    const cases = parseCasesText('a: --profile linux-7.2 contpte=off cost.cpus=8 -- 2M\nb: contpte=on', 'c');
    const r = resolveCases(request(cases, { sets: ['tmp_fs=ext4'], overrideSets: ['contpte=on'], costSets: ['cost.cpus=2'], overrideCostSets: ['cost.dsb=99'] }));
    expect(r[0]!.run).toEqual({ elf: '/fw/page_fault3', args: ['2M'], profile: 'linux-7.2', sets: ['tmp_fs=ext4', 'contpte=off', 'contpte=on'], extra: [] });
    expect(r[0]!.cost).toMatchObject({ cpus: 8, dsb: 99 });
    expect(r[1]!.run).toMatchObject({ args: ['16M', '2'], profile: 'linux-6.9' });
    expect(r[1]!.cost).toMatchObject({ cpus: 2, dsb: 99 });
    expect(() => resolveCases(request(cases, { baseline: 'c' }))).toThrow(UsageError);
    expect(() => resolveCases(request(cases, { baseline: 'c' }))).toThrow("--baseline: no case is named 'c' (cases: a, b)");
  });
});
