/**
 * The memory manager's counters: group `fault` (guest aborts handled, by the handler that
 * resolved them) and group `mm` (what the kernel model did: readahead, PTEs mapped per
 * set_ptes call, zaps, flushes forced by the mmu_gather). Folios by order are in `folio` and
 * `pagecache`, zeroed pages in `alloc`, PTE writes in `pgtable`.
 */
import type { StatsRegistry, Tally } from '../trace/stats.js';

export interface FaultStats {
  [k: string]: number | Tally;
  /** Guest aborts (and uaccess faults) given to handleFault: one per abort, whatever the retries. */
  total: number;
  /** By the path that resolved the fault (do_anonymous_page, do_shared_fault, ...) or the signal. */
  by_path: Tally;
  /** By the hardware fault kind reported (translation, access_flag, permission). */
  by_hw_kind: Tally;
  /** Extra handle_mm_fault passes after VM_FAULT_RETRY inside one abort (kernel-notes §1.1). */
  fault_retries: number;
  /** Faults that missed the page cache (VM_FAULT_MAJOR, PGMAJFAULT). */
  major: number;
  /** Signals delivered, by signal and code. */
  signals: Tally;
  /** Of `total`, faults get_user_pages took for the kernel (FOLL_FORCE /proc/<pid>/mem): no abort. */
  gup: number;
}

export interface MmStats {
  [k: string]: number | Tally;
  /** set_ptes calls made by the fault paths, by the number of PTEs (1, 4, 16, ...). */
  set_ptes_by_nr: Tally;
  /** PTEs mapped by fault paths (fault-around included). */
  ptes_mapped: number;
  /** PTEs cleared by zap_pte_range, and zap_pte_range calls. */
  ptes_zapped: number;
  zap_pte_range_calls: number;
  /** zap_pte_range flushes forced by dirty shared file pages (delayed rmap). */
  zap_dirty_force_flushes: number;
  /** Forced flushes because the mmu_gather page batches were full. */
  zap_batch_force_flushes: number;
  /** PTE tables, PMD tables and PUD tables freed by free_pgtables. */
  pgtables_freed: number;
  /** Readahead calls: sync (on a miss), async (marker hit), and folios they added by order. */
  ra_sync: number;
  ra_async: number;
  ra_folios_by_order: Tally;
  /** Pages mapped by fault-around (filemap_map_pages), beyond the faulting page. */
  fault_around_pages: number;
  /** Anonymous folios allocated by do_anonymous_page, by order. */
  anon_folios_by_order: Tally;
  /** shmem folios allocated by shmem_fault, by order. */
  shmem_folios_by_order: Tally;
  /** Read faults on anonymous memory mapped to the shared zero page. */
  zero_page_maps: number;
  /** Copy-on-write copies (wp_page_copy, do_cow_fault) and write-protect reuses (wp_page_reuse). */
  cow_copies: number;
  wp_reuses: number;
  /** fork: address spaces copied (dup_mmap) and PTEs copied into children. */
  fork_calls: number;
  fork_ptes_copied: number;
  /** mremap: VMAs moved and PTEs they carried (move_ptes). */
  mremap_calls: number;
  mremap_moves: number;
  /** PTE tables moved whole (move_normal_pmd). */
  mremap_pmds_moved: number;
  /** Dirty page-cache folios written back by msync(MS_SYNC) (folio_mkclean on each). */
  writeback_folios: number;
  mremap_ptes_moved: number;
  /** mprotect PTE updates (per PTE or per batch) and the PTEs they covered. */
  mprotect_updates: number;
  mprotect_ptes: number;
  /** PMD-mapped THP (huge-memory.ts), as /proc/vmstat's thp_* counters: order-9 folios mapped by a PMD fault, huge zero PMDs, fallbacks to PTEs, PMD splits, whole PMDs zapped, huge PMDs copied by fork. */
  thp_fault_alloc: number;
  thp_zero_page_maps: number;
  thp_fault_fallback: number;
  thp_split_pmd: number;
  thp_pmds_zapped: number;
  thp_pmds_copied: number;
  /** File folios mapped by a PMD (do_set_pmd; THP_FILE_MAPPED). */
  thp_file_mapped: number;
  /** MADV_COLLAPSE (khugepaged.ts): order-9 folios allocated for a collapse, and allocations that failed (THP_COLLAPSE_ALLOC, THP_COLLAPSE_ALLOC_FAILED). */
  thp_collapse_alloc: number;
  thp_collapse_alloc_failed: number;
  /** Syscall-level operations. */
  mmap_calls: number;
  munmap_calls: number;
  mprotect_calls: number;
  madvise_calls: number;
  brk_calls: number;
}

export function registerFaultStats(stats: StatsRegistry): FaultStats {
  return stats.register<FaultStats>('fault', { total: 0, by_path: {}, by_hw_kind: {}, fault_retries: 0, major: 0, signals: {}, gup: 0 });
}

export function registerMmStats(stats: StatsRegistry): MmStats {
  return stats.register<MmStats>('mm', {
    set_ptes_by_nr: {},
    ptes_mapped: 0,
    ptes_zapped: 0,
    zap_pte_range_calls: 0,
    zap_dirty_force_flushes: 0,
    zap_batch_force_flushes: 0,
    pgtables_freed: 0,
    ra_sync: 0,
    ra_async: 0,
    ra_folios_by_order: {},
    fault_around_pages: 0,
    anon_folios_by_order: {},
    shmem_folios_by_order: {},
    zero_page_maps: 0,
    cow_copies: 0,
    wp_reuses: 0,
    fork_calls: 0,
    fork_ptes_copied: 0,
    mremap_calls: 0,
    mremap_moves: 0,
    mremap_pmds_moved: 0,
    writeback_folios: 0,
    mremap_ptes_moved: 0,
    mprotect_updates: 0,
    mprotect_ptes: 0,
    thp_fault_alloc: 0,
    thp_zero_page_maps: 0,
    thp_fault_fallback: 0,
    thp_split_pmd: 0,
    thp_pmds_zapped: 0,
    thp_pmds_copied: 0,
    thp_file_mapped: 0,
    thp_collapse_alloc: 0,
    thp_collapse_alloc_failed: 0,
    mmap_calls: 0,
    munmap_calls: 0,
    mprotect_calls: 0,
    madvise_calls: 0,
    brk_calls: 0,
  });
}
