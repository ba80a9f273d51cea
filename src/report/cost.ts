/**
 * The cost model: modeled CPU cycles for what a run did, from its counts. It is an ESTIMATE. Its
 * value is that the ordering and rough ratios of configurations come out right; its absolute
 * figures are not predictions of any machine. Every default and its basis is in
 * docs/cost-model.md; `--set cost.<param>=value` overrides any of them.
 *
 * cycles = Σ count(kind) × cycles(kind), with a broadcast TLBI costing more the more CPUs are in
 * its Inner Shareable domain (`cpus`), and, when `busy_cpus` CPUs run the same workload, each of
 * them also losing time to the others' TLBIs; per-op cycles divide by the ops the guest counted,
 * and ops per second use the nominal clock.
 */
import type { TraceRecord } from '../trace/events.js';
import { UsageError } from '../util/errors.js';
import { extrapolateCpus, type CpuExtrapolation } from './extrapolate.js';
import { measured, type Counts, type Summary } from './summary.js';

export interface CostParamInfo {
  readonly default: number;
  readonly unit: string;
  /** What one unit of the parameter stands for. */
  readonly what: string;
  /** `integer` parameters take whole numbers; `positive` ones exclude 0. */
  readonly integer?: boolean;
  readonly positive?: boolean;
}

/** The parameters, in the order they are printed. See docs/cost-model.md for every basis. */
export const COST_PARAMS = {
  clock_ghz: { default: 2.6, unit: 'GHz', what: 'nominal core clock, to turn cycles into time and ops/s', positive: true },
  cpus: { default: 1, unit: 'CPUs', what: "CPUs in a broadcast TLBI's Inner Shareable domain", integer: true, positive: true },
  busy_cpus: { default: 1, unit: 'CPUs', what: 'CPUs of the domain running the same workload at once (will-it-scale -t N), each broadcasting its TLBIs to the others', integer: true, positive: true },
  fault_entry_exit: { default: 4500, unit: 'cycles/fault', what: 'a page fault: exception entry and return, VMA lookup, handle_mm_fault and the handler path, except what is modeled separately' },
  fault_retry: { default: 1000, unit: 'cycles/retry', what: 'running handle_mm_fault again after VM_FAULT_RETRY (lock dropped and retaken)' },
  page_cache_lookup: { default: 250, unit: 'cycles/lookup', what: 'a page-cache lookup (xarray walk, folio reference and lock)' },
  folio_alloc: { default: 400, unit: 'cycles/folio', what: 'allocating a folio (any order) from the page allocator' },
  zero_page: { default: 500, unit: 'cycles/page', what: 'zeroing one 4 KiB page' },
  page_map: { default: 60, unit: 'cycles/PTE', what: 'kernel bookkeeping per PTE mapped or zapped (rmap, RSS counters, dirtying the folio), beyond the PTE store itself' },
  pte_write: { default: 4, unit: 'cycles/write', what: 'a plain store to a PTE (cache-hot)' },
  pte_atomic: { default: 25, unit: 'cycles/atomic', what: 'an atomic read-modify-write of a PTE (xchg/cmpxchg: get_and_clear, wrprotect)' },
  fold_attempt: { default: 60, unit: 'cycles/attempt', what: '__contpte_try_fold: folio check and the scan of 16 PTEs' },
  tlbi_local: { default: 20, unit: 'cycles/TLBI', what: 'a non-broadcast TLBI (VALE1, ...)' },
  tlbi_broadcast: { default: 500, unit: 'cycles/TLBI', what: 'a broadcast TLBI (...IS) and its completion, with no other CPU in the domain' },
  tlbi_broadcast_per_cpu: { default: 20, unit: 'cycles/TLBI/CPU', what: 'added to a broadcast TLBI for each other CPU in the domain (DVM delivery and completion)' },
  tlbi_received: { default: 200, unit: 'cycles/TLBI', what: "lost by a busy CPU for each broadcast TLBI it receives from another busy CPU" },
  dsb: { default: 30, unit: 'cycles/DSB', what: 'a DSB of any domain, beyond the TLBI completion charged to the TLBI' },
  walk_level: { default: 25, unit: 'cycles/descriptor', what: 'one descriptor read by a hardware table walk' },
  syscall: { default: 250, unit: 'cycles/syscall', what: 'system call entry and return, without the work done' },
} as const satisfies Record<string, CostParamInfo>;

export type CostParamName = keyof typeof COST_PARAMS;
export type CostParams = Record<CostParamName, number>;

export const COST_PARAM_NAMES = Object.keys(COST_PARAMS) as CostParamName[];

export function defaultCostParams(): CostParams {
  return Object.fromEntries(COST_PARAM_NAMES.map((k) => [k, COST_PARAMS[k].default])) as CostParams;
}

export function isCostParam(name: string): name is CostParamName {
  return Object.prototype.hasOwnProperty.call(COST_PARAMS, name);
}

/** The prefix that routes a `--set` to the cost model instead of the kernel model. */
export const COST_SET_PREFIX = 'cost.';

/** One `cost.<param>=value` (the prefix optional): the parameter and its checked value. */
export function parseCostSet(text: string, what = '--set'): [CostParamName, number] {
  const eq = text.indexOf('=');
  if (eq < 0) throw new UsageError(`${what}: '${text}' is not cost.<param>=<value>`);
  let name = text.slice(0, eq).trim();
  if (name.startsWith(COST_SET_PREFIX)) name = name.slice(COST_SET_PREFIX.length);
  const raw = text.slice(eq + 1).trim();
  if (!isCostParam(name)) {
    throw new UsageError(`${what}: unknown cost parameter '${name}' (expected one of: ${COST_PARAM_NAMES.join(', ')})`);
  }
  const info: CostParamInfo = COST_PARAMS[name];
  const value = /^[0-9]+(\.[0-9]+)?(e[0-9]+)?$/i.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(value)) throw new UsageError(`${what}: cost.${name}: '${raw}' is not a non-negative number (${info.unit})`);
  if (info.integer && !Number.isInteger(value)) throw new UsageError(`${what}: cost.${name}: '${raw}' is not a whole number (${info.unit})`);
  if (info.positive && value === 0) throw new UsageError(`${what}: cost.${name}: must be more than 0 (${info.unit})`);
  return [name, value];
}

/** Defaults overridden by `cost.<param>=value` settings, applied in order. */
export function costParamsWith(sets: readonly string[], base: CostParams = defaultCostParams(), what = '--set'): CostParams {
  const p = { ...base };
  for (const s of sets) {
    const [k, v] = parseCostSet(s, what);
    p[k] = v;
  }
  return checkCostParams(p, what);
}

/** The items a modeled cost is made of, in the order they are printed. */
export const COST_ITEMS = [
  'faults',
  'fault_retries',
  'page_cache_lookups',
  'folio_allocs',
  'zeroing',
  'page_maps',
  'pte_writes',
  'pte_atomics',
  'fold_attempts',
  'tlbi_local',
  'tlbi_broadcast',
  'tlbi_received',
  'dsb',
  'walks',
  'syscalls',
] as const;

export type CostItem = (typeof COST_ITEMS)[number];

export interface CostResult {
  /** Always true: the figures are a model's, not a measurement's. */
  estimate: true;
  cycles: number;
  breakdown: Record<CostItem, number>;
  /** The event counts the breakdown multiplied. */
  inputs: Record<CostItem, number>;
  ops: number | null;
  cycles_per_op: number | null;
  ops_per_sec: number | null;
  /** Modeled time at the nominal clock. */
  seconds: number;
  params: CostParams;
  /** Inputs this run did not count and the model took as zero. */
  notes: string[];
  /**
   * When `busy_cpus` is more than the CPUs the run simulated busy: the modeled machine's TLB
   * maintenance, EXTRAPOLATED from the simulated CPUs (extrapolate.ts). Absent otherwise.
   */
  cpus_extrapolated?: CpuExtrapolation;
}

/** Whether a TLBI operation is broadcast to the Inner Shareable domain (the ...IS forms). */
export function isBroadcastTlbi(op: string): boolean {
  return op.endsWith('IS');
}

/** Cycles of one broadcast TLBI with `cpus` CPUs in the domain. */
export function broadcastTlbiCycles(p: CostParams): number {
  return p.tlbi_broadcast + p.tlbi_broadcast_per_cpu * (p.cpus - 1);
}

/** A broadcast TLBI's whole cost to a symmetric run: its own, and its copies received by the other busy CPUs. */
export function broadcastTlbiShare(p: CostParams): number {
  return broadcastTlbiCycles(p) + p.tlbi_received * (p.busy_cpus - 1);
}

/** The parameters must describe a possible machine: busy CPUs are CPUs of the domain. */
export function checkCostParams(p: CostParams, what = '--set'): CostParams {
  if (p.busy_cpus > p.cpus) throw new UsageError(`${what}: cost.busy_cpus (${p.busy_cpus}) is more than cost.cpus (${p.cpus}): busy CPUs are CPUs of the broadcast domain`);
  return p;
}

function sum(t: Readonly<Record<string, number>>): number {
  let s = 0;
  for (const v of Object.values(t)) s += v;
  return s;
}

/** Fault paths that look a page up in the page cache (filemap_fault / shmem_fault behind them). */
const FILE_FAULT_PATHS = /^(do_shared_fault|do_read_fault|do_cow_fault|filemap_fault|shmem_fault)/;

/** Page-cache lookups: counted by the page cache if it does, else one per file-path fault. */
function pageCacheLookups(c: Counts): { n: number; estimated: boolean } {
  const counted = c.pagecache['lookups'];
  if (typeof counted === 'number') return { n: counted, estimated: false };
  let n = 0;
  for (const [path, v] of Object.entries(c.fault_detail['by_path'] ?? {})) if (FILE_FAULT_PATHS.test(path)) n += v;
  return { n, estimated: n > 0 };
}

/** PTEs the kernel mapped (fault paths, fault-around) and zapped, as the memory manager counts them. */
function pteMapsAndZaps(c: Counts): { n: number; missing: boolean } {
  const mapped = c.mm['ptes_mapped'];
  const zapped = c.mm['ptes_zapped'];
  if (typeof mapped !== 'number' && typeof zapped !== 'number') return { n: 0, missing: true };
  return { n: (typeof mapped === 'number' ? mapped : 0) + (typeof zapped === 'number' ? zapped : 0), missing: false };
}

/** The modeled cost of `counts`, per op when `ops` is known. */
export function modelCost(counts: Counts, ops: number | null, params: CostParams = defaultCostParams()): CostResult {
  const notes: string[] = [];
  let local = 0;
  let broadcast = 0;
  for (const [op, n] of Object.entries(counts.tlbi.by_op)) {
    if (isBroadcastTlbi(op)) broadcast += n;
    else local += n;
  }
  // TLBIs counted without an operation name are taken as broadcast (the kernel's user flushes are).
  broadcast += Math.max(0, counts.tlbi.total - local - broadcast);
  const lookups = pageCacheLookups(counts);
  const pageMaps = pteMapsAndZaps(counts);
  if (pageMaps.missing && counts.pte_writes > 0) notes.push('PTEs mapped and zapped not counted (mm.ptes_mapped, mm.ptes_zapped): taken as 0');
  if (lookups.estimated) notes.push('page-cache lookups not counted (pagecache.lookups): one per fault resolved by a file fault path assumed');
  let descriptorReads = counts.tlb['walk_levels_read'] ?? 0;
  if (descriptorReads === 0 && counts.tlb.walks > 0) {
    descriptorReads = 4 * counts.tlb.walks;
    notes.push('descriptor reads not counted (tlb.walk_levels_read): 4 per walk assumed');
  }
  const inputs: Record<CostItem, number> = {
    faults: counts.faults.total,
    fault_retries: counts.fault_retries,
    page_cache_lookups: lookups.n,
    folio_allocs: sum(counts.folios.allocated),
    zeroing: counts.zeroed_pages,
    page_maps: pageMaps.n,
    pte_writes: Math.max(0, counts.pte_writes - counts.pte_atomics),
    pte_atomics: counts.pte_atomics,
    fold_attempts: counts.fold_attempts,
    tlbi_local: local,
    tlbi_broadcast: broadcast,
    // In a symmetric run every other busy CPU broadcasts as many TLBIs per op as this one does.
    tlbi_received: broadcast * (params.busy_cpus - 1),
    dsb: counts.dsb,
    walks: descriptorReads,
    syscalls: counts.syscalls.total,
  };
  const unit: Record<CostItem, number> = {
    faults: params.fault_entry_exit,
    fault_retries: params.fault_retry,
    page_cache_lookups: params.page_cache_lookup,
    folio_allocs: params.folio_alloc,
    zeroing: params.zero_page,
    page_maps: params.page_map,
    pte_writes: params.pte_write,
    pte_atomics: params.pte_atomic,
    fold_attempts: params.fold_attempt,
    tlbi_local: params.tlbi_local,
    tlbi_broadcast: broadcastTlbiCycles(params),
    tlbi_received: params.tlbi_received,
    dsb: params.dsb,
    walks: params.walk_level,
    syscalls: params.syscall,
  };
  const breakdown = {} as Record<CostItem, number>;
  let cycles = 0;
  for (const item of COST_ITEMS) {
    breakdown[item] = inputs[item] * unit[item];
    cycles += breakdown[item];
  }
  const hz = params.clock_ghz * 1e9;
  const perOp = ops !== null && ops > 0 ? cycles / ops : null;
  const extrapolated = extrapolateCpus(counts, params);
  return {
    estimate: true,
    cycles,
    breakdown,
    inputs,
    ops,
    cycles_per_op: perOp,
    ops_per_sec: perOp !== null && perOp > 0 ? hz / perOp : null,
    seconds: cycles / hz,
    params: { ...params },
    notes,
    ...(extrapolated !== null ? { cpus_extrapolated: extrapolated } : {}),
  };
}

/** Modeled cycles of one traced event: the virtual clock of a Perfetto trace's cycles time base. */
export function eventCycles(params: CostParams): (r: TraceRecord) => number {
  const bcast = broadcastTlbiShare(params);
  return (r) => {
    switch (r.kind) {
      case 'fault':
        return params.fault_entry_exit;
      case 'walk':
        return r.levels * params.walk_level;
      case 'pte_write':
        return params.pte_write;
      case 'fold_attempt':
        return params.fold_attempt;
      case 'tlbi':
        return isBroadcastTlbi(r.op) ? bcast : params.tlbi_local;
      case 'dsb':
        return params.dsb;
      case 'syscall':
        return params.syscall;
      case 'tlb_fill':
      case 'tlb_evict':
      case 'tlb_invalidate':
      case 'fold':
      case 'unfold':
      case 'contpte_convert':
      case 'marker':
      case 'bbm_violation':
      case 'contig_violation':
        return 0;
      default: {
        const never: never = r;
        throw new Error(`no cost for event ${JSON.stringify(never)}`);
      }
    }
  };
}

/**
 * A run's `--set` list split in two: kernel knobs (`knob=value`, checked for shape only: the
 * profile layer knows the names) and cost parameters (`cost.<param>=value`, checked here).
 */
export function partitionSets(sets: readonly string[], what = '--set'): { knobs: string[]; cost: string[] } {
  const knobs: string[] = [];
  const cost: string[] = [];
  for (const s of sets) {
    if (s.startsWith(COST_SET_PREFIX)) {
      parseCostSet(s, what);
      cost.push(s);
    } else {
      if (!/^[a-z][a-z0-9_]*=.+$/.test(s)) throw new UsageError(`${what}: '${s}' is not knob=value (e.g. contpte=off, or cost.cpus=64 for the cost model)`);
      knobs.push(s);
    }
  }
  return { knobs, cost };
}

/** The modeled cost of a run's measured region (its last dump, else the whole run). */
export function summaryCost(s: Summary, params: CostParams = defaultCostParams()): CostResult {
  const m = measured(s);
  return modelCost(m.counts, m.ops, params);
}

/**
 * The summary as `run --json` prints it and the library returns it: with the modeled cost of its
 * measured region and where that region came from.
 */
export function summaryWithCost(s: Summary, params: CostParams = defaultCostParams()): Summary & { cost: CostResult & { source: string } } {
  return { ...s, cost: { source: measured(s).source, ...summaryCost(s, params) } };
}

/** The parameters as `name=value` words, for tables and reports. */
export function describeCostParams(p: CostParams): string {
  return COST_PARAM_NAMES.map((k) => `${k}=${p[k]}`).join(' ');
}
