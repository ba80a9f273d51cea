/**
 * MADV_COLLAPSE of private anonymous memory (mm/khugepaged.c madvise_collapse, v6.12.117 and
 * 7.2.13; knob madv_collapse): every whole, aligned 2 MiB of the range still mapped by a PTE table
 * is copied into a new order-9 folio and mapped by one huge PMD, whatever the THP sysfs mode
 * (only VM_NOHUGEPAGE, the VM_SPECIAL flags and a VMA with no anon_vma refuse).
 *
 * Per 2 MiB block (hpage_collapse_scan_pmd, 7.2 collapse_scan_pmd, then collapse_huge_page):
 * - a huge PMD already there counts as done (SCAN_PMD_MAPPED); no PTE table is a failure;
 * - the scan: none and zero-page PTEs are allowed without limit (no max_ptes_none for
 *   MADV_COLLAPSE), shared folios too (no max_ptes_shared), young or not does not matter; a
 *   special PTE fails (SCAN_PAGE_NULL), a file folio (SCAN_PAGE_ANON), a folio whose references
 *   are not all its mappings (SCAN_PAGE_COUNT); 6.12 also wants one writable PTE (SCAN_PAGE_RO);
 * - the order-9 folio is allocated (failure: SCAN_ALLOC_HUGE_PAGE_FAIL, ENOMEM);
 * - pmdp_collapse_flush unlinks the PTE table and flushes the 2 MiB (flush_tlb_range);
 * - each page is copied (zeroed for none and zero-page PTEs), the old PTEs are cleared in the
 *   unlinked table (6.12: ptep_clear of each, so a contiguous block is unfolded by its first
 *   clear, with contpte_convert's own flush; 7.2: a large folio's run in one clear_ptes, which
 *   leaves whole contiguous blocks folded) and the old folios lose their mappings and references;
 * - the emptied table is deposited under the PMD and the huge entry set (dirty, writable if
 *   VM_WRITE).
 * docs/kernel-notes.md §15 follows the source in detail.
 *
 * Model limits: swap entries and userfaultfd do not exist in the model; shmem and tmpfs mappings
 * (collapse_file) are refused with EINVAL.
 */
import { EAGAIN, EINVAL, ENOMEM } from '../util/errno.js';
import { PAGE_SIZE } from '../mmu/physmem.js';
import { HPAGE_PMD_NR, HPAGE_PMD_ORDER, pmdMkhuge, pmdTransHuge } from '../pgtable/pmd.js';
import { PMD_SIZE, pfnPte, pteMkdirty, pteMkwrite, pteNone, ptePfn, ptePresent, pteSpecial, pteWrite, type Pte } from '../pgtable/pte.js';
import type { Folio } from './folio.js';
import type { MmKernel } from './kernel.js';
import { thpVmaSuitablePmd } from './huge-memory.js';
import { vmaIsShmem, vmaPageProt } from './prot.js';
import type { Process } from './process.js';
import { VM_NOHUGEPAGE, VM_SPECIAL, VM_WRITE, type Vma } from './vma.js';
import { folioPteBatch } from './zap.js';

/** The enum scan_result values the anonymous path can reach in the model. */
export type ScanResult =
  | 'SCAN_FAIL'
  | 'SCAN_SUCCEED'
  | 'SCAN_PMD_NULL'
  | 'SCAN_PMD_NONE'
  | 'SCAN_NO_PTE_TABLE'
  | 'SCAN_PMD_MAPPED'
  | 'SCAN_PTE_NON_PRESENT'
  | 'SCAN_PAGE_RO'
  | 'SCAN_PAGE_NULL'
  | 'SCAN_PAGE_ANON'
  | 'SCAN_PAGE_COUNT'
  | 'SCAN_ALLOC_HUGE_PAGE_FAIL';

/** madvise_collapse_errno: the errno the last failure gives. */
export function madviseCollapseErrno(r: ScanResult): number {
  switch (r) {
    case 'SCAN_ALLOC_HUGE_PAGE_FAIL':
      return ENOMEM;
    case 'SCAN_PAGE_COUNT':
      return EAGAIN;
    case 'SCAN_FAIL':
    case 'SCAN_SUCCEED':
    case 'SCAN_PMD_NULL':
    case 'SCAN_PMD_NONE':
    case 'SCAN_NO_PTE_TABLE':
    case 'SCAN_PMD_MAPPED':
    case 'SCAN_PTE_NON_PRESENT':
    case 'SCAN_PAGE_RO':
    case 'SCAN_PAGE_NULL':
    case 'SCAN_PAGE_ANON':
      return EINVAL;
    default: {
      const never: never = r;
      throw new Error(`unknown scan result ${String(never)}`);
    }
  }
}
// EBUSY (SCAN_EXCEED_NONE_PTE, SCAN_CGROUP_CHARGE_FAIL) would need a userfaultfd or a memory cgroup.

/** The results after which madvise_collapse goes on with the next block (its whitelist). */
function continuesAfter(k: MmKernel, r: ScanResult): boolean {
  switch (r) {
    case 'SCAN_PMD_NULL':
    case 'SCAN_NO_PTE_TABLE':
    case 'SCAN_PTE_NON_PRESENT':
    case 'SCAN_PAGE_NULL':
    case 'SCAN_PAGE_COUNT':
      return true;
    case 'SCAN_PAGE_RO':
      // 6.12 lists it; 7.2 has no writable check left to give it.
      return k.policy.madv_collapse === 'v6.12';
    default:
      return false;
  }
}

/**
 * thp_vma_allowable_order(vma, vm_flags, 0, PMD_ORDER) as madvise_collapse asks it (no sysfs
 * enforcement; 7.2's TVA_FORCED_COLLAPSE is the same for these VMAs): VM_NOHUGEPAGE and
 * VM_NO_KHUGEPAGED refuse, the VMA must hold an aligned 2 MiB, a file VMA needs
 * CONFIG_READ_ONLY_THP_FOR_FS (not set in Debian's configs), an anonymous one an anon_vma.
 */
function collapseAllowed(vma: Vma): boolean {
  if (vma.flags & (VM_NOHUGEPAGE | VM_SPECIAL)) return false;
  if (vma.end < PMD_SIZE || !thpVmaSuitablePmd(vma, vma.end - PMD_SIZE)) return false;
  // shmem would pass here and go to collapse_file, which the model does not have (see the top).
  if (!vma.isAnonymous) return false;
  return vma.anonVma !== null;
}

/** madvise_collapse for [start, end) inside one VMA; 0 or a negative errno. */
export function madviseCollapse(mm: Process, vma: Vma, start: number, end: number): number {
  const k = mm.kernel;
  const calls = k.telemetry.calls;
  calls.enter('madvise_collapse');
  try {
    if (!collapseAllowed(vma)) return -EINVAL;
    const hstart = Math.ceil(start / PMD_SIZE) * PMD_SIZE;
    const hend = Math.floor(end / PMD_SIZE) * PMD_SIZE;
    if (hstart >= hend) {
      // 7.2 returns early. 6.12 runs the loop zero times and compares thps with
      // (hend - hstart) >> HPAGE_PMD_SHIFT in unsigned arithmetic: equal bounds give 0, a range
      // inside one block (hend below hstart) wraps and gives madvise_collapse_errno(SCAN_FAIL).
      if (k.policy.madv_collapse === 'v7.2' || hstart === hend) return 0;
      return -madviseCollapseErrno('SCAN_FAIL');
    }
    let thps = 0;
    let lastFail: ScanResult = 'SCAN_FAIL';
    let addr = hstart;
    for (; addr < hend; addr += PMD_SIZE) {
      const result = hpageCollapseScanPmd(mm, vma, addr);
      if (result === 'SCAN_SUCCEED' || result === 'SCAN_PMD_MAPPED') {
        thps++;
        continue;
      }
      lastFail = result;
      if (!continuesAfter(k, result)) break;
    }
    return thps === (hend - hstart) / PMD_SIZE ? 0 : -madviseCollapseErrno(lastFail);
  } finally {
    calls.leave();
  }
}

/** find_pmd_or_thp_or_none (6.12) / check_pmd_state (7.2): the PMD slot, or why not. */
function findPmdOrThpOrNone(k: MmKernel, mm: Process, addr: number): { result: ScanResult; pmdp: number } {
  const v72 = k.policy.madv_collapse === 'v7.2';
  const pmdp = k.pgtable.tables.pmdOffset(mm, addr);
  if (pmdp === undefined) return { result: v72 ? 'SCAN_NO_PTE_TABLE' : 'SCAN_PMD_NULL', pmdp: 0 };
  const pmd = k.pgtable.pmd.pmdpGet(pmdp);
  if (pteNone(pmd)) return { result: v72 ? 'SCAN_NO_PTE_TABLE' : 'SCAN_PMD_NONE', pmdp };
  if (pmdTransHuge(pmd)) return { result: 'SCAN_PMD_MAPPED', pmdp };
  return { result: 'SCAN_SUCCEED', pmdp };
}

/** pte_none_or_zero. */
function pteNoneOrZero(k: MmKernel, pte: Pte): boolean {
  return pteNone(pte) || (ptePresent(pte) && ptePfn(pte) === k.zeroPfn);
}

/**
 * vm_normal_page + page_folio for an anonymous mapping: special entries have no page (the zero
 * page was handled by the caller).
 */
function normalFolio(k: MmKernel, pte: Pte): Folio | undefined {
  if (pteSpecial(pte)) return undefined;
  return k.memmap.folioOfPfn(ptePfn(pte));
}

/**
 * is_refcount_suitable (6.12) / folio_expected_ref_count (7.2) for an anonymous folio outside the
 * swap cache: one reference per mapping, nothing else (no GUP pin, no LRU batch: the caller
 * drained those with lru_add_drain_all).
 */
function refcountSuitable(folio: Folio): boolean {
  return folio.refcount === folio.mapcount;
}

/**
 * The checks hpage_collapse_scan_pmd (6.12) / collapse_scan_pmd (7.2) and
 * __collapse_huge_page_isolate make on the 512 entries of `table`, when not khugepaged: the same
 * questions in both, asked twice by the kernel (before the allocation under the read lock, again
 * with the table unlinked); the model's answer cannot change in between.
 */
function scanPtes(k: MmKernel, table: number): ScanResult {
  const api = k.pgtable.ptep;
  let writable = false;
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const pte = api.ptepGet(table + i * 8);
    if (pteNoneOrZero(k, pte)) continue;
    if (!ptePresent(pte)) return 'SCAN_PTE_NON_PRESENT';
    if (pteWrite(pte)) writable = true;
    const folio = normalFolio(k, pte);
    if (folio === undefined) return 'SCAN_PAGE_NULL';
    if (!folio.anon) return 'SCAN_PAGE_ANON';
    if (!refcountSuitable(folio)) return 'SCAN_PAGE_COUNT';
  }
  if (!writable && k.policy.madv_collapse === 'v6.12') return 'SCAN_PAGE_RO';
  return 'SCAN_SUCCEED';
}

/** hpage_collapse_scan_pmd (6.12) / collapse_scan_pmd + mthp_collapse at the PMD order (7.2). */
export function hpageCollapseScanPmd(mm: Process, vma: Vma, addr: number): ScanResult {
  const k = mm.kernel;
  const found = findPmdOrThpOrNone(k, mm, addr);
  if (found.result !== 'SCAN_SUCCEED') return found.result;
  const table = k.pgtable.tables.pmdPageTable(found.pmdp);
  if (table === undefined) return k.policy.madv_collapse === 'v7.2' ? 'SCAN_NO_PTE_TABLE' : 'SCAN_PMD_NULL';
  const result = scanPtes(k, table);
  if (result !== 'SCAN_SUCCEED') return result;
  return collapseHugePage(mm, vma, addr);
}

/**
 * pmdp_collapse_flush (mm/pgtable-generic.c; arm64 has no own version): the table entry is
 * exchanged with zero and the whole 2 MiB flushed at every level, so no walk or TLB entry can
 * reach the old PTEs while they are copied and cleared.
 */
export function pmdpCollapseFlush(k: MmKernel, mm: Process, haddr: number, pmdp: number): void {
  k.telemetry.calls.within('pmdp_collapse_flush', () => {
    k.pgtable.pmd.pmdpHugeGetAndClear(mm, haddr, pmdp);
    k.pgtable.flush.flushTlbRange(mm, haddr, haddr + PMD_SIZE);
  });
}

/** collapse_huge_page for the PMD order. */
export function collapseHugePage(mm: Process, vma: Vma, haddr: number): ScanResult {
  const k = mm.kernel;
  const calls = k.telemetry.calls;
  calls.enter('collapse_huge_page');
  try {
    // alloc_charge_folio: GFP_TRANSHUGE for MADV_COLLAPSE.
    const r = k.memmap.folioAlloc(HPAGE_PMD_ORDER);
    if (r.kind !== 'ok') {
      k.mmStats.thp_collapse_alloc_failed++;
      return 'SCAN_ALLOC_HUGE_PAGE_FAIL';
    }
    k.mmStats.thp_collapse_alloc++;
    const folio = r.folio;
    const found = findPmdOrThpOrNone(k, mm, haddr);
    const table = found.result === 'SCAN_SUCCEED' ? k.pgtable.tables.pmdPageTable(found.pmdp) : undefined;
    if (table === undefined) {
      k.memmap.folioPut(folio);
      return found.result === 'SCAN_SUCCEED' ? 'SCAN_FAIL' : found.result;
    }
    const pmdp = found.pmdp;
    pmdpCollapseFlush(k, mm, haddr, pmdp);
    // __collapse_huge_page_isolate: the scan's questions again, now on the unlinked table.
    const isolated = scanPtes(k, table);
    if (isolated !== 'SCAN_SUCCEED') {
      k.pgtable.pmd.pmdPopulate(mm, haddr, pmdp, table);
      k.memmap.folioPut(folio);
      return isolated;
    }
    collapseHugePageCopy(k, mm, table, folio, haddr);
    // __folio_mark_uptodate, then the huge entry over the deposited table.
    folio.uptodate = true;
    folio.owner = mm.vmas.anonVmaPrepare(vma).owner;
    folio.index = vma.pgoffOf(haddr);
    let entry = pteMkdirty(pmdMkhuge(pfnPte(folio.firstPfn, vmaPageProt(vma))));
    if (vma.flags & VM_WRITE) entry = pteMkwrite(entry);
    k.memmap.folioAddRmapPmd(folio, mm.mmId);
    k.memmap.setPageAnonExclusive(folio.firstPfn, HPAGE_PMD_NR, true);
    if (k.pmdDeposits.has(pmdp)) throw new Error(`model bug: the PMD at 0x${pmdp.toString(16)} already has a deposited table`);
    k.pmdDeposits.set(pmdp, table);
    k.pgtable.pmd.setPmdAt(mm, haddr, pmdp, entry);
    return 'SCAN_SUCCEED';
  } finally {
    calls.leave();
  }
}

/**
 * __collapse_huge_page_copy and __collapse_huge_page_copy_succeeded: the 512 pages copied into
 * the new folio (zeroed for none and zero-page entries; no machine-check failures in the model),
 * then the old entries cleared and their folios' mappings and references dropped.
 */
function collapseHugePageCopy(k: MmKernel, mm: Process, table: number, folio: Folio, haddr: number): void {
  const calls = k.telemetry.calls;
  const api = k.pgtable.ptep;
  const mem = k.memmap.mem;
  calls.within('__collapse_huge_page_copy', () => {
    for (let i = 0; i < HPAGE_PMD_NR; i++) {
      const pte = api.ptepGet(table + i * 8);
      if (pteNoneOrZero(k, pte)) k.buddy.zero(folio.firstPfn + i, 1);
      else mem.copyPage(folio.pa + i * PAGE_SIZE, ptePfn(pte) * PAGE_SIZE);
    }
  });
  calls.enter('__collapse_huge_page_copy_succeeded');
  try {
    const batched = k.policy.madv_collapse === 'v7.2';
    let i = 0;
    while (i < HPAGE_PMD_NR) {
      const ptep = table + i * 8;
      const addr = haddr + i * PAGE_SIZE;
      const pte = api.ptepGet(ptep);
      if (pteNone(pte)) {
        i++;
        continue;
      }
      if (pteNoneOrZero(k, pte)) {
        api.ptepGetAndClear(mm, addr, ptep);
        i++;
        continue;
      }
      const src = normalFolio(k, pte)!;
      const pfn = ptePfn(pte);
      // 7.2: a large folio's consecutive entries as one batch (folio_pte_batch, clear_ptes).
      const nr = batched && src.nrPages > 1 ? folioPteBatch(k, src, ptep, pte, HPAGE_PMD_NR - i) : 1;
      if (batched) api.clearFullPtes(mm, addr, ptep, nr);
      else api.ptepGetAndClear(mm, addr, ptep);
      k.memmap.folioRemoveRmapPtes(src, pfn, nr, mm.mmId);
      k.memmap.folioPutRefs(src, nr);
      i += nr;
    }
  } finally {
    calls.leave();
  }
}
