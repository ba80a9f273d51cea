/**
 * The JSON summary of a run (docs/design.md "Interfaces other programs rely on"), built from stats snapshots:
 * the keys docs/design.md promises, then the detail users need to explain them (fold attempts, TLBIs
 * by call chain, DSBs by domain, fault paths and retries, folios by order, syscalls by name, the
 * ops counted by the guest's markers and one entry per dump).
 *
 * Groups are read where they exist and count as zero where they do not: a workbench run has no
 * `fault` or `syscalls` group, and a component may add counters at any time. Groups this module
 * does not know are carried along under `counts.other`.
 */
import type { StatsRegistry, StatsSnapshot, Tally } from '../trace/stats.js';
import { checkerSummaryFromJson, NO_FINDINGS, type CheckerSummary } from './findings.js';

/**
 * How a run ended. `signal`: the guest was killed (Linux would have); `budget`: --max-insns or
 * --timeout ran out; `interrupted`: the tool itself got SIGINT/SIGTERM (the counts are partial).
 */
export type EndReason = 'exit' | 'signal' | 'crash' | 'budget' | 'interrupted';

export interface Counts {
  /**
   * `total`, then one entry per hardware fault kind (translation, permission, access_flag ...)
   * and the fault group's other counters (e.g. `major`): numbers only.
   */
  faults: { total: number; [kind: string]: number };
  /** The fault group's other tallies (by_path: the handler that resolved each fault; signals). */
  fault_detail: Record<string, Tally>;
  /** Faults handled again after VM_FAULT_RETRY. */
  fault_retries: number;
  pte_writes: number;
  /** Stores to PMD-level entries of huge PMDs (THP block descriptors, split tables). */
  pmd_writes: number;
  pte_atomics: number;
  folds: number;
  unfolds: number;
  contpte_convert: number;
  fold_attempts: number;
  contpte_set_ptes: number;
  tlbi: { total: number; by_op: Tally; by_site: Tally; by_chain: Tally };
  dsb: number;
  /** DSBs by domain (ishst, ish, nshst, nsh, sy ...). */
  dsb_by_domain: Tally;
  tlb: {
    walks: number;
    fills: number;
    evictions: number;
    invalidated_entries: number;
    contiguous_fills: number;
    [counter: string]: number;
  };
  bbm_violations: number;
  contig_violations: number;
  checker_by_rule: Tally;
  folios: { allocated: Tally; freed: Tally };
  zeroed_pages: number;
  pagecache: Record<string, number | Tally>;
  syscalls: { total: number; by_name: Tally; errors: number; unimplemented: Tally };
  /** The memory manager's own counters (group `mm`: readahead, zaps, set_ptes sizes ...). */
  mm: Record<string, number | Tally>;
  /**
   * Per CPU (index = CPU number): TLBIs it issued, broadcast TLBIs of other CPUs it received,
   * and entries its TLB lost to TLBIs. The totals above are the machine's.
   */
  cpus: CpuCounts[];
  /** The ASID allocator (group `asid`, mm/asid.ts): rollovers and the local flushes they owed. */
  asid: AsidCounts;
  /** Groups not interpreted above, as snapshotted. */
  other: StatsSnapshot;
}

export interface CpuCounts {
  cpu: number;
  tlbi_issued: number;
  tlbi_received: number;
  invalidated_entries: number;
}

export interface AsidCounts {
  /** New ASID generations (the bitmap was full). */
  rollovers: number;
  /** ASIDs new_context took from the bitmap, and old ones it kept into a new generation. */
  allocated: number;
  kept: number;
  /** check_and_switch_context calls that took the lock. */
  slow_paths: number;
  /** local_flush_tlb_all (TLBI VMALLE1) done for rollovers: in all, and by CPU. */
  local_flushes: number;
  local_flushes_by_cpu: Tally;
}

function asidCounts(g: Group | undefined): AsidCounts {
  const byCpu = tally(g, 'local_flushes');
  return { rollovers: num(g, 'rollovers'), allocated: num(g, 'allocated'), kept: num(g, 'kept'), slow_paths: num(g, 'slow_paths'), local_flushes: sumTally(byCpu), local_flushes_by_cpu: byCpu };
}

/** The `cpus` group's tallies (keyed by CPU number) as one row per CPU, `ncpus` rows at least. */
function cpuCounts(g: Group | undefined, ncpus: number): CpuCounts[] {
  const issued = tally(g, 'tlbi_issued');
  const received = tally(g, 'tlbi_received');
  const inv = tally(g, 'invalidated_entries');
  let n = ncpus;
  for (const t of [issued, received, inv]) for (const k of Object.keys(t)) n = Math.max(n, Number(k) + 1);
  return Array.from({ length: n }, (_, cpu) => ({
    cpu,
    tlbi_issued: issued[cpu] ?? 0,
    tlbi_received: received[cpu] ?? 0,
    invalidated_entries: inv[cpu] ?? 0,
  }));
}

export interface Dump {
  label: string;
  /** Ops counted by the guest (lab_ops) since the last reset, at the dump; null if none. */
  ops: number | null;
  counts: Counts;
}

export interface Summary {
  exit_code: number | null;
  end: { reason: EndReason; detail?: string };
  profile: string;
  policy: Record<string, string>;
  /** Ops counted by the guest's markers (lab_ops) since the last reset; null when it never said. */
  ops: number | null;
  /** From the last reset (or the start) to the end of the run. */
  counts: Counts;
  dumps: Dump[];
  /** The checker's findings over the whole run (markers do not reset them); see findings.ts. */
  checker: CheckerSummary;
}

const KNOWN_GROUPS = new Set(['fault', 'pgtable', 'tlbi', 'dsb', 'tlb', 'checker', 'folio', 'alloc', 'pagecache', 'syscalls', 'mm', 'cpus', 'asid']);

type Group = Record<string, number | Tally>;

function num(g: Group | undefined, key: string): number {
  const v = g?.[key];
  return typeof v === 'number' ? v : 0;
}

function tally(g: Group | undefined, key: string): Tally {
  const v = g?.[key];
  return typeof v === 'object' && v !== null ? { ...v } : {};
}

/** The group's plain counters, but `except`. */
function numbersExcept(g: Group | undefined, except: string): Tally {
  const out: Tally = {};
  for (const [k, v] of Object.entries(g ?? {})) if (k !== except && typeof v === 'number') out[k] = v;
  return out;
}

function sumTally(t: Tally): number {
  let s = 0;
  for (const v of Object.values(t)) s += v;
  return s;
}

/** The hardware fault kinds tally is spread into `faults`, as docs/design.md's `{ total, <kind> }`. */
const FAULT_KIND_TALLY = 'by_hw_kind';

function faultCounts(g: Group | undefined): Pick<Counts, 'faults' | 'fault_detail' | 'fault_retries'> {
  const faults: Counts['faults'] = { total: num(g, 'total') };
  const detail: Record<string, Tally> = {};
  let retries = 0;
  for (const [k, v] of Object.entries(g ?? {})) {
    if (k === 'total') continue;
    if (typeof v === 'number') {
      if (k === 'fault_retries' || k === 'retries') retries = v;
      else faults[k] = v;
    } else if (k === FAULT_KIND_TALLY) {
      for (const [kind, n] of Object.entries(v)) if (!(kind in faults)) faults[kind] = n;
    } else {
      detail[k] = { ...v };
    }
  }
  return { faults, fault_detail: detail, fault_retries: retries };
}

function tlbCounts(g: Group | undefined): Counts['tlb'] {
  const out: Counts['tlb'] = { walks: 0, fills: 0, evictions: 0, invalidated_entries: 0, contiguous_fills: 0 };
  for (const [k, v] of Object.entries(g ?? {})) if (typeof v === 'number') out[k] = v;
  return out;
}

function syscallCounts(g: Group | undefined): Counts['syscalls'] {
  const byName = tally(g, 'by_name');
  // The syscall layer counts `calls`; `total` is accepted too.
  const total = typeof g?.['total'] === 'number' ? g['total'] : typeof g?.['calls'] === 'number' ? g['calls'] : sumTally(byName);
  return { total, by_name: byName, errors: num(g, 'errors'), unimplemented: tally(g, 'unimplemented') };
}

function copyGroup(g: Group | undefined): Record<string, number | Tally> {
  const out: Record<string, number | Tally> = {};
  for (const [k, v] of Object.entries(g ?? {})) out[k] = typeof v === 'number' ? v : { ...v };
  return out;
}

/** The counts of a summary from one stats snapshot. */
export function countsFromSnapshot(s: StatsSnapshot, ncpus = 0): Counts {
  const pg = s['pgtable'];
  const tlbi = s['tlbi'];
  const dsb = s['dsb'];
  const checker = s['checker'];
  const folio = s['folio'];
  const other: StatsSnapshot = {};
  for (const [name, g] of Object.entries(s)) if (!KNOWN_GROUPS.has(name)) other[name] = copyGroup(g);
  return {
    ...faultCounts(s['fault']),
    pte_writes: num(pg, 'pte_writes'),
    pmd_writes: num(pg, 'pmd_writes'),
    pte_atomics: num(pg, 'pte_atomics'),
    folds: num(pg, 'folds'),
    unfolds: num(pg, 'unfolds'),
    contpte_convert: num(pg, 'contpte_convert'),
    fold_attempts: num(pg, 'fold_attempts'),
    contpte_set_ptes: num(pg, 'contpte_set_ptes'),
    tlbi: { total: num(tlbi, 'total'), by_op: tally(tlbi, 'by_op'), by_site: tally(tlbi, 'by_site'), by_chain: tally(tlbi, 'by_chain') },
    dsb: num(dsb, 'total'),
    dsb_by_domain: numbersExcept(dsb, 'total'),
    tlb: tlbCounts(s['tlb']),
    bbm_violations: num(checker, 'bbm_violations'),
    contig_violations: num(checker, 'contig_violations'),
    checker_by_rule: tally(checker, 'by_rule'),
    folios: { allocated: tally(folio, 'allocs_by_order'), freed: tally(folio, 'frees_by_order') },
    zeroed_pages: num(s['alloc'], 'zeroed_pages'),
    pagecache: copyGroup(s['pagecache']),
    syscalls: syscallCounts(s['syscalls']),
    mm: copyGroup(s['mm']),
    cpus: cpuCounts(s['cpus'], ncpus),
    asid: asidCounts(s['asid']),
    other,
  };
}

/**
 * The guest markers' effect on counting (docs/design.md): reset zeroes every counter and the ops,
 * dump records the counts since the last reset, ops adds to the op count. The machine calls these
 * from its marker syscall and hands `dumps` and `ops` to `buildSummary`.
 */
export class MarkerCounts {
  ops: number | null = null;
  readonly dumps: { label: string; ops: number | null; snapshot: StatsSnapshot }[] = [];

  constructor(private readonly stats: StatsRegistry) {}

  reset(): void {
    this.stats.reset();
    this.ops = null;
  }

  dump(label: string): void {
    this.dumps.push({ label, ops: this.ops, snapshot: this.stats.snapshot() });
  }

  addOps(n: number): void {
    this.ops = (this.ops ?? 0) + n;
  }
}

export interface SummaryInput {
  exitCode: number | null;
  end: { reason: EndReason; detail?: string };
  profile: string;
  policy: Readonly<Record<string, string>>;
  /** The stats at the end of the run. */
  snapshot: StatsSnapshot;
  ops?: number | null;
  dumps?: readonly { label: string; ops: number | null; snapshot: StatsSnapshot }[];
  /** The machine's CPU count: `cpus[]` lists every CPU, idle ones too. */
  cpus?: number;
  checker?: CheckerSummary;
}

export function buildSummary(i: SummaryInput): Summary {
  return {
    exit_code: i.exitCode,
    end: i.end.detail === undefined ? { reason: i.end.reason } : { reason: i.end.reason, detail: i.end.detail },
    profile: i.profile,
    policy: { ...i.policy },
    ops: i.ops ?? null,
    counts: countsFromSnapshot(i.snapshot, i.cpus ?? 0),
    dumps: (i.dumps ?? []).map((d) => ({ label: d.label, ops: d.ops, counts: countsFromSnapshot(d.snapshot, i.cpus ?? 0) })),
    checker: i.checker ?? NO_FINDINGS,
  };
}

/**
 * The counts a comparison measures: the last dump when the guest made one (its region of
 * interest, e.g. page_fault3's loop, without the exit after it), otherwise the run's counts.
 */
export function measured(s: Summary): { counts: Counts; ops: number | null; source: string } {
  const d = s.dumps[s.dumps.length - 1];
  if (d !== undefined) return { counts: d.counts, ops: d.ops, source: `dump '${d.label}'` };
  return { counts: s.counts, ops: s.ops, source: 'whole run' };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function numbersOf(v: unknown): Tally {
  const out: Tally = {};
  if (isRecord(v)) for (const [k, x] of Object.entries(v)) if (typeof x === 'number') out[k] = x;
  return out;
}

/**
 * Counts read back from JSON (a child's `run --json`, a saved summary): every key the model
 * knows is present afterwards (zero when the producer did not write it), numbers only where
 * numbers belong.
 */
export function countsFromJson(v: unknown): Counts {
  const c = isRecord(v) ? v : {};
  const zero = countsFromSnapshot({});
  const n = (key: string): number => (typeof c[key] === 'number' ? (c[key] as number) : 0);
  const tlbi = isRecord(c['tlbi']) ? c['tlbi'] : {};
  const dsbDomain = numbersOf(c['dsb_by_domain']);
  const faults = numbersOf(c['faults']);
  const syscalls = isRecord(c['syscalls']) ? c['syscalls'] : {};
  const folios = isRecord(c['folios']) ? c['folios'] : {};
  const detail: Record<string, Tally> = {};
  if (isRecord(c['fault_detail'])) for (const [k, t] of Object.entries(c['fault_detail'])) detail[k] = numbersOf(t);
  return {
    faults: { ...faults, total: faults['total'] ?? 0 },
    fault_detail: detail,
    fault_retries: n('fault_retries'),
    pte_writes: n('pte_writes'),
    pmd_writes: n('pmd_writes'),
    pte_atomics: n('pte_atomics'),
    folds: n('folds'),
    unfolds: n('unfolds'),
    contpte_convert: n('contpte_convert'),
    fold_attempts: n('fold_attempts'),
    contpte_set_ptes: n('contpte_set_ptes'),
    tlbi: {
      total: typeof tlbi['total'] === 'number' ? tlbi['total'] : 0,
      by_op: numbersOf(tlbi['by_op']),
      by_site: numbersOf(tlbi['by_site']),
      by_chain: numbersOf(tlbi['by_chain']),
    },
    dsb: n('dsb'),
    dsb_by_domain: dsbDomain,
    tlb: { ...zero.tlb, ...numbersOf(c['tlb']) },
    bbm_violations: n('bbm_violations'),
    contig_violations: n('contig_violations'),
    checker_by_rule: numbersOf(c['checker_by_rule']),
    folios: { allocated: numbersOf(folios['allocated']), freed: numbersOf(folios['freed']) },
    zeroed_pages: n('zeroed_pages'),
    pagecache: isRecord(c['pagecache']) ? (c['pagecache'] as Record<string, number | Tally>) : {},
    syscalls: {
      total: typeof syscalls['total'] === 'number' ? syscalls['total'] : 0,
      by_name: numbersOf(syscalls['by_name']),
      errors: typeof syscalls['errors'] === 'number' ? syscalls['errors'] : 0,
      unimplemented: numbersOf(syscalls['unimplemented']),
    },
    mm: isRecord(c['mm']) ? (c['mm'] as Record<string, number | Tally>) : {},
    cpus: Array.isArray(c['cpus'])
      ? (c['cpus'] as unknown[]).filter(isRecord).map((r, i) => ({
          cpu: typeof r['cpu'] === 'number' ? r['cpu'] : i,
          tlbi_issued: typeof r['tlbi_issued'] === 'number' ? r['tlbi_issued'] : 0,
          tlbi_received: typeof r['tlbi_received'] === 'number' ? r['tlbi_received'] : 0,
          invalidated_entries: typeof r['invalidated_entries'] === 'number' ? r['invalidated_entries'] : 0,
        }))
      : [],
    asid: asidFromJson(c['asid']),
    other: isRecord(c['other']) ? (c['other'] as StatsSnapshot) : {},
  };
}

function asidFromJson(v: unknown): AsidCounts {
  const a = isRecord(v) ? v : {};
  const n = (key: string): number => (typeof a[key] === 'number' ? (a[key] as number) : 0);
  return { rollovers: n('rollovers'), allocated: n('allocated'), kept: n('kept'), slow_paths: n('slow_paths'), local_flushes: n('local_flushes'), local_flushes_by_cpu: numbersOf(a['local_flushes_by_cpu']) };
}

const END_REASONS: readonly EndReason[] = ['exit', 'signal', 'crash', 'budget', 'interrupted'];

/** A summary read back from JSON; throws an Error naming what is missing when it is not one. */
export function summaryFromJson(v: unknown): Summary {
  if (!isRecord(v)) throw new Error('not a JSON object');
  if (!isRecord(v['counts'])) throw new Error("no 'counts' object");
  const exit = v['exit_code'];
  if (exit !== null && typeof exit !== 'number') throw new Error("'exit_code' is neither a number nor null");
  const end = isRecord(v['end']) ? v['end'] : {};
  const reason = END_REASONS.includes(end['reason'] as EndReason) ? (end['reason'] as EndReason) : 'exit';
  const policy: Record<string, string> = {};
  if (isRecord(v['policy'])) for (const [k, x] of Object.entries(v['policy'])) policy[k] = String(x);
  const dumps: Dump[] = Array.isArray(v['dumps'])
    ? v['dumps'].filter(isRecord).map((d) => ({
        label: String(d['label'] ?? ''),
        ops: typeof d['ops'] === 'number' ? d['ops'] : null,
        counts: countsFromJson(d['counts']),
      }))
    : [];
  return {
    exit_code: exit,
    end: typeof end['detail'] === 'string' ? { reason, detail: end['detail'] } : { reason },
    profile: typeof v['profile'] === 'string' ? v['profile'] : '',
    policy,
    ops: typeof v['ops'] === 'number' ? v['ops'] : null,
    counts: countsFromJson(v['counts']),
    dumps,
    checker: checkerSummaryFromJson(v['checker']),
  };
}
