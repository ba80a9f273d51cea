import type { StatsRegistry, Tally } from '../trace/stats.js';

/** The page-table layer's counters (group `pgtable`). */
export interface PgtableStats {
  [k: string]: number | Tally;
  /** Every store to a PTE by the kernel model, atomic or not. */
  pte_writes: number;
  /** Stores to PMD-level leaf entries (THP block descriptors) and to PMDs pointed at split tables. */
  pmd_writes: number;
  /** The subset that were atomic read-modify-writes (xchg, cmpxchg). */
  pte_atomics: number;
  /** contpte_convert calls that set the contiguous bit, and that cleared it. */
  folds: number;
  unfolds: number;
  contpte_convert: number;
  /** Entries into __contpte_try_fold (the inline pre-checks passed), whether or not it folded. */
  fold_attempts: number;
  /** contpte_set_ptes calls (set_ptes with nr > 1 on a user mm). */
  contpte_set_ptes: number;
  /** set_pte found a valid contiguous entry to overwrite (the kernel warns; never expected). */
  warnings: number;
  /** Public API calls by name. */
  api_calls: Tally;
}

export function registerPgtableStats(stats: StatsRegistry): PgtableStats {
  return stats.register<PgtableStats>('pgtable', {
    pte_writes: 0,
    pmd_writes: 0,
    pte_atomics: 0,
    folds: 0,
    unfolds: 0,
    contpte_convert: 0,
    fold_attempts: 0,
    contpte_set_ptes: 0,
    warnings: 0,
    api_calls: {},
  });
}
