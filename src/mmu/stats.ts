/**
 * The counter groups the mmu owns (src/trace/stats.ts registers them): `tlb`, `tlbi`, `dsb` and
 * `checker`. Names are the JSON summary's (docs/design.md); new counters are one line here.
 */
import type { Tally } from '../trace/stats.js';

export interface TlbStats {
  [k: string]: number | Tally;
  /** Table walks started on a TLB miss (or for a hardware dirty update). */
  walks: number;
  /** Walks that ended in a fault. */
  walk_faults: number;
  /** Descriptors read from memory by walks. */
  walk_levels_read: number;
  walk_cache_hits: number;
  fills: number;
  /** Fills whose entry covers a whole contiguous span. */
  contiguous_fills: number;
  /** Entries pushed out by a fill (replacement). */
  evictions: number;
  /** Entries removed by TLBI operations. */
  invalidated_entries: number;
  /** Entries replaced in place by a refill of the same VA and ASID (e.g. after a dirty update). */
  replaced: number;
  lookups: number;
  hits: number;
  /** Hits whose cached permissions refused the access: a permission fault without a walk. */
  permission_faults_from_tlb: number;
  /** Hardware updates written by walks (FEAT_HAFDBS). */
  hw_af_updates: number;
  hw_dirty_updates: number;
}

export function newTlbStats(): TlbStats {
  return {
    walks: 0,
    walk_faults: 0,
    walk_levels_read: 0,
    walk_cache_hits: 0,
    fills: 0,
    contiguous_fills: 0,
    evictions: 0,
    invalidated_entries: 0,
    replaced: 0,
    lookups: 0,
    hits: 0,
    permission_faults_from_tlb: 0,
    hw_af_updates: 0,
    hw_dirty_updates: 0,
  };
}

export interface TlbiStats {
  [k: string]: number | Tally;
  total: number;
  by_op: Tally;
  /** By `calls.site()`: the innermost kernel function that is not a flush helper. */
  by_site: Tally;
  /** By the whole `calls.chain()`. */
  by_chain: Tally;
  /** Walk-cache entries removed (non-last-level operations only). */
  walk_cache_invalidated: number;
}

export function newTlbiStats(): TlbiStats {
  return { total: 0, by_op: {}, by_site: {}, by_chain: {}, walk_cache_invalidated: 0 };
}

export interface DsbStats {
  [k: string]: number | Tally;
  total: number;
  ishst: number;
  ish: number;
  nshst: number;
  nsh: number;
  sy: number;
}

export function newDsbStats(): DsbStats {
  return { total: 0, ishst: 0, ish: 0, nshst: 0, nsh: 0, sy: 0 };
}

export interface CheckerStats {
  [k: string]: number | Tally;
  bbm_violations: number;
  contig_violations: number;
  /** Findings by rule name. */
  by_rule: Tally;
}

export function newCheckerStats(): CheckerStats {
  return { bbm_violations: 0, contig_violations: 0, by_rule: {} };
}
