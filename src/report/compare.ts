/**
 * A comparison: cases resolved to child runs (cases that differ only in cost-model settings share
 * one run), run in a pool, and their measured counts and modeled cost put side by side, with a
 * ratio to a baseline case. Rendering is table.ts's and html.ts's job; this module builds the
 * table model and the JSON document.
 */
import type { CaseSpec } from './cases.js';
import { costParamsWith, describeCostParams, modelCost, COST_PARAM_NAMES, type CostParams, type CostResult } from './cost.js';
import { runChild, runPool, type PoolProgress, type RunResult, type RunSpec } from './runner.js';
import { judgeResult, stderrTail } from './outcome.js';
import { measured, type Counts } from './summary.js';
import type { Column, Cell, Table } from './table.js';
import { UsageError } from '../util/errors.js';

export interface CompareRequest {
  elf: string;
  /** The command's guest arguments (a case's own `args` replace them). */
  args: readonly string[];
  cases: readonly CaseSpec[];
  /** The command's --profile, for cases that name none. */
  profile?: string;
  /** Kernel-model settings applied before each case's own, and after them. */
  sets: readonly string[];
  overrideSets?: readonly string[];
  /** Cost-model settings applied before each case's own, and after them. */
  costSets: readonly string[];
  overrideCostSets?: readonly string[];
  /** The baseline case (default: the first). */
  baseline?: string;
  /** More `run` options for every child (e.g. --max-insns). */
  extra?: readonly string[];
}

export interface ResolvedCase {
  name: string;
  run: RunSpec;
  /** Cases with equal keys share one child run. */
  runKey: string;
  cost: CostParams;
  costSets: string[];
}

export interface CaseOutcome extends ResolvedCase {
  result: RunResult;
  /** For a successful run: the counts measured (the last dump, or the whole run) and their cost. */
  counts?: Counts;
  ops?: number | null;
  source?: string;
  modeled?: CostResult;
}

export interface Comparison {
  elf: string;
  baseline: string;
  cases: CaseOutcome[];
}

export function resolveCases(req: CompareRequest): ResolvedCase[] {
  if (req.cases.length === 0) throw new UsageError('compare: no cases to run (give --matrix, --cases or --preset)');
  const names = req.cases.map((c) => c.name);
  if (req.baseline !== undefined && !names.includes(req.baseline)) {
    throw new UsageError(`--baseline: no case is named '${req.baseline}' (cases: ${names.join(', ')})`);
  }
  return req.cases.map((c) => {
    const costSets = [...req.costSets, ...c.costSets, ...(req.overrideCostSets ?? [])];
    const run: RunSpec = {
      elf: req.elf,
      args: c.args ?? req.args,
      ...((c.profile ?? req.profile) !== undefined ? { profile: (c.profile ?? req.profile)! } : {}),
      sets: [...req.sets, ...c.sets, ...(req.overrideSets ?? [])],
      extra: req.extra ?? [],
    };
    return { name: c.name, run, runKey: JSON.stringify(run), cost: costParamsWith(costSets), costSets };
  });
}

export interface ComparisonOptions {
  jobs: number;
  /** How a run is made (default: a child process of this package's CLI). */
  runner?: (r: RunSpec) => Promise<RunResult>;
  progress?: PoolProgress;
}

/** Runs every distinct run once (in a pool) and models each case's cost. */
export async function runComparison(req: CompareRequest, opts: ComparisonOptions): Promise<Comparison> {
  const resolved = resolveCases(req);
  const keys = [...new Set(resolved.map((r) => r.runKey))];
  const specs = keys.map((k) => resolved.find((r) => r.runKey === k)!.run);
  const runner = opts.runner ?? ((r: RunSpec) => runChild(r));
  // A guest that did not exit 0 is a failed case whatever runner made it (report/outcome.ts).
  const results = await runPool(
    specs.map((s) => async () => judgeResult(await runner(s))),
    opts.jobs,
    (r) => r.ok,
    opts.progress,
  );
  const byKey = new Map(keys.map((k, i) => [k, results[i]!]));
  const cases: CaseOutcome[] = resolved.map((r) => {
    const result = byKey.get(r.runKey)!;
    if (!result.ok) return { ...r, result };
    const m = measured(result.summary);
    return { ...r, result, counts: m.counts, ops: m.ops, source: m.source, modeled: modelCost(m.counts, m.ops, r.cost) };
  });
  return { elf: req.elf, baseline: req.baseline ?? resolved[0]!.name, cases };
}

/** The distinct runs of a request, in order (what `--dry-run` shows). */
export function distinctRuns(req: CompareRequest): { run: RunSpec; cases: string[] }[] {
  const out: { run: RunSpec; cases: string[]; key: string }[] = [];
  for (const r of resolveCases(req)) {
    const hit = out.find((o) => o.key === r.runKey);
    if (hit !== undefined) hit.cases.push(r.name);
    else out.push({ run: r.run, cases: [r.name], key: r.runKey });
  }
  return out.map(({ run, cases }) => ({ run, cases }));
}

function tlbiOps(cases: readonly CaseOutcome[]): string[] {
  const totals = new Map<string, number>();
  for (const c of cases) for (const [op, n] of Object.entries(c.counts?.tlbi.by_op ?? {})) totals.set(op, (totals.get(op) ?? 0) + n);
  return [...totals.entries()].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([op]) => op);
}

/** A case's modeled speed relative to the baseline's (ops/s ratio; modeled-cycles ratio when no ops are counted). */
export function ratioToBaseline(c: CaseOutcome, base: CaseOutcome | undefined): number | null {
  if (base?.modeled === undefined || c.modeled === undefined) return null;
  if (c.modeled.ops_per_sec !== null && base.modeled.ops_per_sec !== null) return c.modeled.ops_per_sec / base.modeled.ops_per_sec;
  if (c.modeled.ops === null && base.modeled.ops === null && c.modeled.cycles > 0) return base.modeled.cycles / c.modeled.cycles;
  return null;
}

function settingsText(c: ResolvedCase): string {
  const parts: string[] = [];
  if (c.run.profile !== undefined) parts.push(`--profile ${c.run.profile}`);
  for (const s of c.run.sets) parts.push(`--set ${s}`);
  for (const s of c.costSets) parts.push(`--set ${s}`);
  if (c.run.args.length > 0) parts.push(`-- ${c.run.args.join(' ')}`);
  return parts.length > 0 ? parts.join(' ') : '(defaults)';
}

/** The table of a comparison: counts, TLBIs by operation, modeled cost, and the ratio to the baseline. */
export function comparisonTable(cmp: Comparison): Table {
  const ops = tlbiOps(cmp.cases);
  const perOp = cmp.cases.some((c) => c.modeled?.ops_per_sec != null);
  const failed = cmp.cases.some((c) => !c.result.ok);
  const base = cmp.cases.find((c) => c.name === cmp.baseline);
  const columns: Column[] = [
    { key: 'case', title: 'case', kind: 'text' },
    { key: 'faults', title: 'faults', kind: 'int' },
    { key: 'pte_writes', title: 'PTE writes', kind: 'int' },
    { key: 'folds', title: 'folds', kind: 'int' },
    { key: 'unfolds', title: 'unfolds', kind: 'int' },
    { key: 'contpte_convert', title: 'converts', kind: 'int' },
    { key: 'tlbi', title: 'TLBIs', kind: 'int' },
    ...ops.map((op): Column => ({ key: `tlbi_${op}`, title: op, kind: 'int' })),
    { key: 'dsb', title: 'DSBs', kind: 'int' },
    { key: 'walks', title: 'walks', kind: 'int' },
    ...(perOp
      ? [
          { key: 'cycles_per_op', title: 'cycles/op', kind: 'float' } as Column,
          { key: 'ops_per_sec', title: 'ops/s', kind: 'int' } as Column,
        ]
      : [{ key: 'mcycles', title: 'Mcycles', kind: 'float' } as Column]),
    { key: 'ratio', title: `vs ${cmp.baseline}`, kind: 'ratio' },
    ...(failed ? [{ key: 'error', title: 'error', kind: 'text' } as Column] : []),
  ];
  const rows: Cell[][] = cmp.cases.map((c) => {
    const k = c.counts;
    const m = c.modeled;
    if (k === undefined || m === undefined) {
      const row: Cell[] = columns.map(() => null);
      row[0] = c.name;
      row[columns.length - 1] = c.result.ok ? null : `FAILED: ${c.result.error}`;
      return row;
    }
    const row: Cell[] = [
      c.name,
      k.faults.total,
      k.pte_writes,
      k.folds,
      k.unfolds,
      k.contpte_convert,
      k.tlbi.total,
      ...ops.map((op) => k.tlbi.by_op[op] ?? 0),
      k.dsb,
      k.tlb.walks,
      ...(perOp ? [m.cycles_per_op, m.ops_per_sec] : [m.cycles / 1e6]),
      ratioToBaseline(c, base),
    ];
    if (failed) row.push(null);
    return row;
  });
  const notes: string[] = [];
  const sources = [...new Set(cmp.cases.flatMap((c) => (c.source !== undefined ? [c.source] : [])))];
  if (sources.length > 0) notes.push(`counts: ${sources.join(', ')} (a dump covers the guest's reset-to-dump region)`);
  notes.push(
    perOp
      ? `cost: modeled cycles per op and ops/s at the nominal clock; vs ${cmp.baseline}: modeled ops/s relative to it. An ESTIMATE (docs/cost-model.md).`
      : `cost: modeled cycles (millions); vs ${cmp.baseline}: its modeled cycles over the case's. An ESTIMATE (docs/cost-model.md).`,
  );
  const first = cmp.cases[0]!.cost;
  const sameParams = cmp.cases.every((c) => COST_PARAM_NAMES.every((p) => c.cost[p] === first[p]));
  if (sameParams) notes.push(`cost parameters: ${describeCostParams(first)}`);
  else for (const c of cmp.cases) notes.push(`cost parameters of ${c.name}: ${describeCostParams(c.cost)}`);
  for (const c of cmp.cases) notes.push(`${c.name}: ${settingsText(c)}`);
  if (base !== undefined && !base.result.ok) notes.push(`the baseline ${base.name} failed: no ratios`);
  return { columns, rows, notes };
}

/**
 * One line per failed case: its name, why, and the child's last stderr lines (the guest's usage
 * message, the tool's error), for the end of `compare`'s output; empty when every case ran.
 */
export function failureReport(cmp: Comparison): string[] {
  const out: string[] = [];
  for (const c of cmp.cases) {
    if (c.result.ok) continue;
    out.push(`case ${c.name} FAILED: ${c.result.error}`);
    for (const l of stderrTail(c.result.stderr)) out.push(`  | ${l}`);
  }
  return out;
}

/** The whole comparison as one JSON document (summaries included; a failed guest's is kept but not compared). */
export function comparisonJson(cmp: Comparison): unknown {
  const base = cmp.cases.find((c) => c.name === cmp.baseline);
  return {
    elf: cmp.elf,
    baseline: cmp.baseline,
    estimate_note: 'cost figures are modeled estimates (docs/cost-model.md), not measurements',
    cases: cmp.cases.map((c) => ({
      name: c.name,
      profile: c.run.profile ?? null,
      sets: c.run.sets,
      cost_sets: c.costSets,
      args: c.run.args,
      status: c.result.ok ? 'ok' : 'failed',
      ...(c.result.ok ? {} : { error: c.result.error, exit_code: c.result.exitCode, stderr_tail: stderrTail(c.result.stderr) }),
      seconds: Number(c.result.seconds.toFixed(3)),
      measured_from: c.source ?? null,
      ratio_to_baseline: ratioToBaseline(c, base),
      cost: c.modeled ?? null,
      summary: c.result.ok ? c.result.summary : (c.result.summary ?? null),
    })),
  };
}
