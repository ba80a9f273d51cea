/**
 * PMD-mapped transparent huge pages (mm/huge_memory.c, v6.12.117 and 7.2.13): a 2 MiB-aligned,
 * order-9 folio mapped by one level-2 block descriptor instead of 512 PTEs.
 *
 * - Fault: __handle_mm_fault tries create_huge_pmd when the PMD is none and
 *   thp_vma_allowable_order allows the PMD order (thp_pmd and VM_HUGEPAGE/VM_NOHUGEPAGE); for a
 *   private anonymous VMA that is do_huge_pmd_anonymous_page: the huge zero folio on a read (with
 *   use_zero_page, thp_zero_page), else a new zeroed order-9 folio. Either way a PTE table is
 *   allocated and deposited (pgtable_trans_huge_deposit), so that a later split needs no memory.
 *   A present huge PMD takes wp_huge_pmd on a write to a read-only entry, else
 *   huge_pmd_set_accessed.
 * - Write-protect: do_huge_pmd_wp_page reuses an exclusive folio (pmdp_set_access_flags),
 *   otherwise splits the PMD and lets the PTE path copy one page. A write to the huge zero PMD
 *   splits it into 512 zero-page PTEs (6.12) or maps a new THP in its place (7.2,
 *   do_huge_zero_wp_pmd; knob huge_zero_wp).
 * - Split (__split_huge_pmd_locked): the PMD is invalidated and the 2 MiB flushed
 *   (pmdp_invalidate), the deposited table is filled with one set_ptes of 512 entries (which
 *   under contpte sets the contiguous bit on every aligned block at once) and pmd_populate
 *   links it. A file PMD is just cleared and flushed (pmdp_huge_clear_flush): it refaults by PTEs.
 * - Zap (zap_huge_pmd): a whole PMD in the range is cleared, recorded in the gather as a PMD-level
 *   range, the deposited table freed at once; a partial one is split first (zap_pmd_range).
 * - Fork (copy_huge_pmd): both PMDs become read-only and old, the child gets a deposit; a file
 *   PMD is not copied (it refaults).
 * - change_huge_pmd (mprotect of a whole PMD): pmdp_invalidate, the new entry, and a PMD-level
 *   range in the gather when the change needs a flush.
 * - VMA boundaries inside a huge PMD split it first (vma_adjust_trans_huge).
 * - File PMDs (do_set_pmd): an order-9 page-cache folio (tmpfs huge=, 7.2 ext4 readahead) is
 *   mapped by one PMD on a none-PMD fault, whatever the THP setting; no deposit on arm64.
 * docs/kernel-notes.md §12 has the details and what the real kernels showed.
 */
import { PAGE_SIZE } from '../mmu/physmem.js';
import { HPAGE_PMD_NR, HPAGE_PMD_ORDER, pmdMkhuge, pmdTransHuge, type Pmd } from '../pgtable/pmd.js';
import { PMD_SIZE, pfnPte, pteDirty, pteMkdirty, pteMkold, pteMkspecial, pteMkwrite, pteMkyoung, pteModify, ptePfn, pteWrite, pteWrprotect, pteYoung, type Pgprot } from '../pgtable/pte.js';
import { GuestOutOfMemory } from '../util/errors.js';
import type { Folio } from './folio.js';
import type { MmKernel } from './kernel.js';
import type { ThpPmdMode } from './knobs.js';
import { doFaultNoPte, doPageMkwrite } from './file-fault.js';
import { faultAroundWindow, updateMmapMiss } from './filemap.js';
import { pteNeedsFlush } from './mprotect.js';
import { faultAroundPages } from './profiles.js';
import { hasPageMkwrite, vmaIsShared, vmaIsShmem, vmaPageProt } from './prot.js';
import type { Process } from './process.js';
import { DONE, type VmFault, type VmFaultResult } from './vmfault.js';
import { VM_HUGEPAGE, VM_NOHUGEPAGE, VM_WRITE, type Vma } from './vma.js';
import type { ZapGather } from './zap.js';

/** hugepage_global_always / the madvise mode with VM_HUGEPAGE (thp_vma_allowable_orders' mask for order 9). */
export function thpPmdAllowed(mode: ThpPmdMode, vmFlags: number): boolean {
  if (vmFlags & VM_NOHUGEPAGE) return false;
  switch (mode) {
    case 'always':
      return true;
    case 'madvise':
      return (vmFlags & VM_HUGEPAGE) !== 0;
    case 'never':
      return false;
    default: {
      const never: never = mode;
      throw new Error(`unknown thp_pmd mode ${String(never)}`);
    }
  }
}

/** thp_vma_suitable_order for the PMD order: the aligned 2 MiB lies inside the VMA (and file offsets line up). */
export function thpVmaSuitablePmd(vma: Vma, addr: number): boolean {
  if (!vma.isAnonymous && (vma.start / PAGE_SIZE - vma.pgoff) % HPAGE_PMD_NR !== 0) return false;
  const haddr = addr - (addr % PMD_SIZE);
  return haddr >= vma.start && haddr + PMD_SIZE <= vma.end;
}

/** A fault on a PMD entry: what create_huge_pmd, wp_huge_pmd and huge_pmd_set_accessed see. */
export interface HugeFault {
  readonly k: MmKernel;
  readonly mm: Process;
  readonly vma: Vma;
  /** The faulting page's address, and the whole block's. */
  readonly address: number;
  readonly haddr: number;
  readonly write: boolean;
  readonly pmdp: number;
  readonly origPmd: Pmd;
}

/** The answer of a huge-PMD handler: done, or VM_FAULT_FALLBACK (null): carry on at PTE level. */
export type HugeResult = VmFaultResult | null;

function oom(k: MmKernel, what: string): GuestOutOfMemory {
  return new GuestOutOfMemory(`out of guest physical memory allocating ${what}; raise --set mem_mb (now ${k.policy.mem_mb})`);
}

/** The deposited PTE table of each huge PMD, by the PMD entry's physical address. */
function deposits(k: MmKernel): Map<number, number> {
  return k.pmdDeposits;
}

/** pgtable_trans_huge_deposit with a fresh pte_alloc_one. */
function depositNewTable(k: MmKernel, pmdp: number): void {
  const t = k.pgtable.tables.pteAllocOne();
  if (t === undefined) throw oom(k, 'the page table a huge PMD deposits');
  if (deposits(k).has(pmdp)) throw new Error(`model bug: the huge PMD at 0x${pmdp.toString(16)} already has a deposited table`);
  deposits(k).set(pmdp, t);
}

/** pgtable_trans_huge_withdraw. */
function withdrawTable(k: MmKernel, pmdp: number): number {
  const t = deposits(k).get(pmdp);
  if (t === undefined) throw new Error(`model bug: no page table deposited under the huge PMD at 0x${pmdp.toString(16)}`);
  deposits(k).delete(pmdp);
  return t;
}

/** zap_deposited_table: pte_free of the deposit (mm_dec_nr_ptes). */
function zapDepositedTable(k: MmKernel, pmdp: number): void {
  k.pgtable.tables.pteFree(withdrawTable(k, pmdp));
}

export function isHugeZeroPmd(k: MmKernel, pmd: Pmd): boolean {
  const z = k.hugeZeroFolioIfAny;
  return z !== null && ptePfn(pmd) === z.firstPfn;
}

/** The huge PMD mapping addr in `mm`, if one does. */
export function hugePmdAt(k: MmKernel, mm: Process, addr: number): { pmdp: number; pmd: Pmd } | null {
  const pmdp = k.pgtable.tables.pmdOffset(mm, addr);
  if (pmdp === undefined) return null;
  const pmd = k.pgtable.pmd.pmdpGet(pmdp);
  return pmdTransHuge(pmd) ? { pmdp, pmd } : null;
}

/**
 * thp_vma_allowable_order(vma, TVA_IN_PF | TVA_ENFORCE_SYSFS, PMD_ORDER) for the fault path: only
 * private anonymous VMAs reach create_huge_pmd with an effect (file VMAs have no huge_fault
 * outside DAX). Suitability is do_huge_pmd_anonymous_page's own first check.
 */
export function pmdFaultAllowed(k: MmKernel, mm: Process, vma: Vma): boolean {
  if (!vma.isAnonymous || !thpPmdAllowed(k.policy.thp_pmd, vma.flags)) return false;
  // The model's stack is a fixed 8 MiB VMA ending at TASK_SIZE (docs/internals.md) in place of
  // the kernel's VM_GROWSDOWN one, which spans only the pages faulted so far and so never holds
  // the aligned 2 MiB around a new stack fault: no huge PMD there.
  return vma.end !== mm.vmas.taskSize;
}

/** do_huge_pmd_anonymous_page. */
export function doHugePmdAnonymousPage(f: HugeFault): HugeResult {
  const { k, mm, vma, haddr } = f;
  const calls = k.telemetry.calls;
  calls.enter('do_huge_pmd_anonymous_page');
  try {
    if (!thpVmaSuitablePmd(vma, haddr)) return null;
    mm.vmas.anonVmaPrepare(vma);
    const pmdOps = k.pgtable.pmd;
    if (!f.write && k.policy.thp_zero_page) {
      const zero = k.hugeZeroFolio();
      if (zero === null) {
        k.mmStats.thp_fault_fallback++;
        return null;
      }
      // set_huge_zero_folio: read-only whatever the VMA allows (vm_page_prot of a private mapping).
      if (!pmdNone(pmdOps.pmdpGet(f.pmdp))) return DONE('do_huge_pmd_anonymous_page');
      depositNewTable(k, f.pmdp);
      pmdOps.setPmdAt(mm, haddr, f.pmdp, pmdMkhuge(pfnPte(zero.firstPfn, vmaPageProt(vma))));
      k.mmStats.thp_zero_page_maps++;
      return DONE('do_huge_pmd_anonymous_page');
    }
    const r = k.memmap.folioAlloc(HPAGE_PMD_ORDER);
    if (r.kind !== 'ok') {
      k.mmStats.thp_fault_fallback++;
      return null;
    }
    const folio = r.folio;
    k.memmap.folioZero(folio);
    if (!pmdNone(pmdOps.pmdpGet(f.pmdp))) {
      k.memmap.folioPut(folio);
      return DONE('do_huge_pmd_anonymous_page');
    }
    mapAnonFolioPmd(k, mm, vma, folio, f.pmdp, haddr);
    depositNewTable(k, f.pmdp);
    return DONE('do_huge_pmd_anonymous_page');
  } finally {
    calls.leave();
  }
}

const pmdNone = (p: Pmd): boolean => p.lo === 0 && p.hi === 0;

/** mk_huge_pmd + pmd_mkdirty + maybe_pmd_mkwrite, folio_add_new_anon_rmap (exclusive), set_pmd_at. */
function mapAnonFolioPmd(k: MmKernel, mm: Process, vma: Vma, folio: Folio, pmdp: number, haddr: number): void {
  let entry = pteMkdirty(pmdMkhuge(pfnPte(folio.firstPfn, vmaPageProt(vma))));
  if (vma.flags & VM_WRITE) entry = pteMkwrite(entry);
  folio.owner = mm.vmas.anonVmaPrepare(vma).owner;
  folio.index = vma.pgoffOf(haddr);
  k.memmap.folioAddRmapPmd(folio, mm.mmId);
  k.memmap.setPageAnonExclusive(folio.firstPfn, HPAGE_PMD_NR, true);
  k.pgtable.pmd.setPmdAt(mm, haddr, pmdp, entry);
  k.mmStats.thp_fault_alloc++;
}

/** huge_pmd_set_accessed (touch_pmd): young, and dirty on a write, with no flush. */
export function hugePmdSetAccessed(f: HugeFault): VmFaultResult {
  const k = f.k;
  return k.telemetry.calls.within('huge_pmd_set_accessed', () => {
    let entry = pteMkyoung(f.origPmd);
    if (f.write) entry = pteMkdirty(entry);
    k.pgtable.pmd.pmdpSetAccessFlags(f.mm, f.haddr, f.pmdp, entry, false);
    return DONE('huge_pmd_set_accessed');
  });
}

/** do_huge_pmd_wp_page (through wp_huge_pmd: anonymous VMAs only; others split). */
export function wpHugePmd(f: HugeFault): HugeResult {
  const { k, mm, vma } = f;
  const calls = k.telemetry.calls;
  if (!vma.isAnonymous) {
    // COW or write-notify of a file PMD is done on PTEs.
    splitHugePmd(mm, vma, f.pmdp, f.address);
    return null;
  }
  calls.enter('do_huge_pmd_wp_page');
  try {
    if (isHugeZeroPmd(k, f.origPmd)) {
      if (k.policy.huge_zero_wp === 'alloc') {
        // do_huge_zero_wp_pmd (7.x): a new THP replaces the zero one, deposit kept.
        const r = k.memmap.folioAlloc(HPAGE_PMD_ORDER);
        if (r.kind === 'ok') {
          k.memmap.folioZero(r.folio);
          k.pgtable.pmd.pmdpHugeClearFlush(mm, f.haddr, f.pmdp);
          mapAnonFolioPmd(k, mm, vma, r.folio, f.pmdp, f.haddr);
          return DONE('do_huge_pmd_wp_page');
        }
        k.mmStats.thp_fault_fallback++;
      }
      splitHugePmd(mm, vma, f.pmdp, f.address);
      return null;
    }
    const folio = k.memmap.folioOfPfn(ptePfn(f.origPmd));
    if (folio === undefined) throw new Error(`model bug: huge PMD at 0x${f.haddr.toString(16)} maps pfn 0x${ptePfn(f.origPmd).toString(16)}, which is no folio`);
    let reuse = k.memmap.pageAnonExclusive(folio.firstPfn);
    if (!reuse && folio.refcount === 1) {
      // folio_move_anon_rmap + SetPageAnonExclusive: the only reference is this mapping.
      k.memmap.setPageAnonExclusive(folio.firstPfn, HPAGE_PMD_NR, true);
      reuse = true;
    }
    if (reuse) {
      let entry = pteMkdirty(pteMkyoung(f.origPmd));
      if (vma.flags & VM_WRITE) entry = pteMkwrite(entry);
      k.pgtable.pmd.pmdpSetAccessFlags(mm, f.haddr, f.pmdp, entry, true);
      k.mmStats.wp_reuses++;
      return DONE('do_huge_pmd_wp_page');
    }
    splitHugePmd(mm, vma, f.pmdp, f.address);
    return null;
  } finally {
    calls.leave();
  }
}

/** __split_huge_pmd: split the huge PMD at pmdp (covering address) into a PTE table, if it still is one. */
export function splitHugePmd(mm: Process, vma: Vma, pmdp: number, address: number): void {
  const k = mm.kernel;
  const calls = k.telemetry.calls;
  calls.enter('__split_huge_pmd');
  try {
    const haddr = address - (address % PMD_SIZE);
    if (!pmdTransHuge(k.pgtable.pmd.pmdpGet(pmdp))) return;
    splitHugePmdLocked(k, mm, vma, pmdp, haddr);
  } finally {
    calls.leave();
  }
}

/** split_huge_pmd_address: the huge PMD covering address, if any, split. */
export function splitHugePmdAddress(mm: Process, vma: Vma, address: number): void {
  const h = hugePmdAt(mm.kernel, mm, address);
  if (h !== null) splitHugePmd(mm, vma, h.pmdp, address);
}

/**
 * vma_adjust_trans_huge / split_huge_pmd_if_needed: a VMA boundary about to land at `address`
 * inside a huge PMD that the VMA covers whole splits that PMD first.
 */
export function splitHugePmdIfNeeded(mm: Process, vma: Vma, address: number): void {
  if (address % PMD_SIZE === 0) return;
  const haddr = address - (address % PMD_SIZE);
  if (haddr < vma.start || haddr + PMD_SIZE > vma.end) return;
  splitHugePmdAddress(mm, vma, address);
}

function splitHugePmdLocked(k: MmKernel, mm: Process, vma: Vma, pmdp: number, haddr: number): void {
  const pmdOps = k.pgtable.pmd;
  k.mmStats.thp_split_pmd++;
  if (!vma.isAnonymous) {
    // File (and shmem) PMDs: clear and flush; the pages refault through PTEs. No deposit on arm64.
    const old = pmdOps.pmdpHugeClearFlush(mm, haddr, pmdp);
    if (isHugeZeroPmd(k, old)) return;
    const folio = k.memmap.folioOfPfn(ptePfn(old));
    if (folio === undefined) return;
    if (pteDirty(old)) folio.dirty = true;
    if (pteYoung(old)) folio.young = true;
    k.memmap.folioRemoveRmapPmd(folio, mm.mmId);
    k.memmap.folioPut(folio);
    return;
  }
  if (isHugeZeroPmd(k, pmdOps.pmdpGet(pmdp))) {
    splitHugeZeroPagePmd(k, mm, vma, pmdp, haddr);
    return;
  }
  const old = pmdOps.pmdpInvalidate(mm, haddr, pmdp);
  const folio = k.memmap.folioOfPfn(ptePfn(old));
  if (folio === undefined) throw new Error(`model bug: huge PMD at 0x${haddr.toString(16)} maps no folio`);
  const dirty = pteDirty(old);
  if (dirty) folio.dirty = true;
  const write = pteWrite(old);
  const young = pteYoung(old);
  const exclusive = k.memmap.pageAnonExclusive(folio.firstPfn);
  // The PMD's one reference becomes one per PTE; folio_add_anon_rmap_ptes with RMAP_EXCLUSIVE if the head was.
  k.memmap.folioRefAdd(folio, HPAGE_PMD_NR - 1);
  k.memmap.folioAddRmapPtes(folio, folio.firstPfn, HPAGE_PMD_NR, mm.mmId);
  k.memmap.setPageAnonExclusive(folio.firstPfn, HPAGE_PMD_NR, exclusive);
  const table = withdrawTable(k, pmdp);
  let entry = pfnPte(folio.firstPfn, vmaPageProt(vma));
  if (write) entry = pteMkwrite(entry);
  if (!young) entry = pteMkold(entry);
  if (dirty) entry = pteMkdirty(entry);
  // The PTEs are written through the table's own address before it is linked (pte_offset_map of
  // the local _pmd), as the kernel fills the withdrawn table.
  k.pgtable.ptep.setPtes(mm, haddr, table, entry, HPAGE_PMD_NR);
  k.memmap.folioRemoveRmapPmd(folio, mm.mmId);
  pmdOps.pmdPopulate(mm, haddr, pmdp, table);
}

/** __split_huge_zero_page_pmd: 512 special PTEs of the 4 KiB zero page, set one by one. */
function splitHugeZeroPagePmd(k: MmKernel, mm: Process, vma: Vma, pmdp: number, haddr: number): void {
  const pmdOps = k.pgtable.pmd;
  pmdOps.pmdpHugeClearFlush(mm, haddr, pmdp);
  const table = withdrawTable(k, pmdp);
  const entry = pteMkspecial(pfnPte(k.zeroPfn, vmaPageProt(vma)));
  for (let i = 0; i < HPAGE_PMD_NR; i++) k.pgtable.ptep.setPtes(mm, haddr + i * PAGE_SIZE, table + i * 8, entry, 1);
  pmdOps.pmdPopulate(mm, haddr, pmdp, table);
}

/**
 * zap_huge_pmd: clear the whole PMD (pmdp_huge_get_and_clear_full), record a PMD-level range in
 * the gather (tlb_remove_pmd_tlb_entry), free the deposit, drop the rmap and queue the folio
 * (one batch slot) for after the flush.
 */
export function zapHugePmd(g: ZapGather, vma: Vma, pmdp: number, addr: number): void {
  const k = g.mm.kernel;
  const calls = k.telemetry.calls;
  calls.enter('zap_huge_pmd');
  try {
    const old = k.pgtable.pmd.pmdpHugeGetAndClear(g.mm, addr, pmdp);
    g.tlb.tlbFlushPmdRange(addr, PMD_SIZE);
    k.mmStats.thp_pmds_zapped++;
    if (isHugeZeroPmd(k, old)) {
      zapDepositedTable(k, pmdp);
      return;
    }
    const folio = k.memmap.folioOfPfn(ptePfn(old));
    if (folio === undefined) throw new Error(`model bug: huge PMD at 0x${addr.toString(16)} maps no folio`);
    k.memmap.folioRemoveRmapPmd(folio, g.mm.mmId);
    if (folio.anon) zapDepositedTable(k, pmdp);
    else {
      if (pteDirty(old)) folio.dirty = true;
      if (pteYoung(old)) folio.young = true;
    }
    if (g.removeFolioPages(folio, folio.firstPfn, 1, false)) g.flushMmu();
  } finally {
    calls.leave();
  }
}

/**
 * copy_huge_pmd for a private anonymous VMA: the child's PMD gets a deposit and the parent's
 * entry write-protected and made old; both share the folio (not exclusive any more). Returns
 * false when there was nothing huge to copy.
 */
export function copyHugePmd(dst: Process, src: Process, dstVma: Vma, addr: number): boolean {
  const k = src.kernel;
  const calls = k.telemetry.calls;
  calls.enter('copy_huge_pmd');
  try {
    const srcPmdp = k.pgtable.tables.pmdOffset(src, addr)!;
    const pmd = k.pgtable.pmd.pmdpGet(srcPmdp);
    if (!pmdTransHuge(pmd)) return false;
    // Skip if it can be refilled on fault: file PMDs.
    if (!dstVma.isAnonymous) return true;
    const dstPmdp = dst.pmdAlloc(addr);
    if (!isHugeZeroPmd(k, pmd)) {
      const folio = k.memmap.folioOfPfn(ptePfn(pmd))!;
      k.memmap.folioGet(folio);
      // folio_try_dup_anon_rmap_pmd: no pins in the model, so it always succeeds.
      k.memmap.setPageAnonExclusive(folio.firstPfn, HPAGE_PMD_NR, false);
      k.memmap.folioAddRmapPmd(folio, dst.mmId);
    }
    depositNewTable(k, dstPmdp);
    k.pgtable.pmd.pmdpSetWrprotect(src, addr, srcPmdp);
    k.pgtable.pmd.setPmdAt(dst, addr, dstPmdp, pteMkold(pteWrprotect(pmd)));
    k.mmStats.thp_pmds_copied++;
    return true;
  } finally {
    calls.leave();
  }
}

/**
 * change_huge_pmd (mprotect over a whole huge PMD): invalidate (with its flush), install the
 * entry with the new protection, and add a PMD range to the gather when the old entry could
 * still be cached (huge_pmd_needs_flush, which is arm64's pte_needs_flush on the PMD).
 */
export function changeHugePmd(g: ZapGather, vma: Vma, pmdp: number, addr: number, newprot: Pgprot, tryWritable: boolean): void {
  const k = g.mm.kernel;
  const calls = k.telemetry.calls;
  calls.enter('change_huge_pmd');
  try {
    const pmdOps = k.pgtable.pmd;
    const cur = pmdOps.pmdpGet(pmdp);
    // An anonymous zero PMD keeps its read-only protection (it is never made writable).
    const old = pmdOps.pmdpInvalidate(g.mm, addr, pmdp);
    let entry = pmdMkhuge(pteModify(old, newprot));
    if (tryWritable && !pteWrite(entry) && (vma.flags & VM_WRITE) && !isHugeZeroPmd(k, cur)) {
      const folio = k.memmap.folioOfPfn(ptePfn(old));
      if (folio !== undefined && folio.anon && k.memmap.pageAnonExclusive(folio.firstPfn)) entry = pteMkwrite(entry);
    }
    pmdOps.setPmdAt(g.mm, addr, pmdp, entry);
    if (pteNeedsFlush(old, entry)) g.tlb.tlbFlushPmdRange(addr, PMD_SIZE);
    k.mmStats.mprotect_updates++;
    k.mmStats.mprotect_ptes += HPAGE_PMD_NR;
  } finally {
    calls.leave();
  }
}

/**
 * do_set_pmd (mm/memory.c, the same in 6.12 and 7.2): an order-9 file folio mapped by one PMD,
 * whatever the THP sysfs setting (only VM_NOHUGEPAGE refuses), when the VMA holds the aligned
 * 2 MiB at a matching file offset. No deposit: arm64 does not need one for file PMDs. The
 * mapping takes one folio reference. False: VM_FAULT_FALLBACK.
 */
export function doSetPmd(f: HugeFault, folio: Folio): boolean {
  const { k, mm, vma, haddr } = f;
  if (vma.flags & VM_NOHUGEPAGE) return false;
  if (!thpVmaSuitablePmd(vma, haddr)) return false;
  if (folio.order !== HPAGE_PMD_ORDER) return false;
  return k.telemetry.calls.within('do_set_pmd', () => {
    const pmdOps = k.pgtable.pmd;
    if (!pmdNone(pmdOps.pmdpGet(f.pmdp))) return true;
    let entry = pmdMkhuge(pfnPte(folio.firstPfn, vmaPageProt(vma)));
    if (f.write) {
      entry = pteMkdirty(entry);
      if (vma.flags & VM_WRITE) entry = pteMkwrite(entry);
    }
    k.memmap.folioAddRmapPmd(folio, mm.mmId);
    k.memmap.folioRefAdd(folio, 1);
    pmdOps.setPmdAt(mm, haddr, f.pmdp, entry);
    k.mmStats.thp_file_mapped++;
    return true;
  });
}

/** What the PMD-level file fault came to: done, carry on with PTEs (with the folio ->fault gave, if any). */
export type FilePmdResult = VmFaultResult | { readonly kind: 'prefetched'; readonly folio: Folio; readonly major: boolean } | null;

/**
 * A file fault while the PMD is none, up to where the kernel installs a PTE table
 * (do_read_fault / do_shared_fault with filemap_map_pmd and finish_fault's do_set_pmd):
 * - a read with fault-around: the first uptodate, non-marker folio of the window (within i_size,
 *   or shmem) is PMD-mapped if it is order 9 (filemap_map_pmd); any other first folio means PTEs;
 * - otherwise ->fault runs here (with no PTE table yet, as in the kernel: a retry leaves the PMD
 *   none), and finish_fault's do_set_pmd maps an order-9 folio unless the i_size rule wants one
 *   PTE. A private write is a copy-on-write of one page: always PTEs.
 */
export function filePmdFault(f: HugeFault, vmf: VmFault): FilePmdResult {
  const { k, vma } = f;
  if (vma.flags & VM_NOHUGEPAGE || !thpVmaSuitablePmd(vma, f.haddr)) return null;
  const shared = vmaIsShared(vma);
  if (f.write && !shared) return null;
  const inode = vma.file!;
  const shmem = vmaIsShmem(vma);
  const lastPage = Math.ceil(inode.size / PAGE_SIZE) - 1;
  const nr = faultAroundPages(k.policy);
  if (!f.write && nr > 1) {
    const w = faultAroundWindow(vmf, nr);
    let first: Folio | null = null;
    inode.mapping.forEachFolio(w.start, Math.min(w.end, lastPage) + 1, (folio) => {
      if (first === null && folio.uptodate && !folio.readahead) first = folio;
    });
    if (first !== null) {
      const folio: Folio = first;
      const canMapLarge = shmem || lastPage >= folio.index + folio.nrPages;
      if (!(canMapLarge && doSetPmd(f, folio))) return null;
      return k.telemetry.calls.within('do_read_fault', () =>
        k.telemetry.calls.within('do_fault_around', () =>
          k.telemetry.calls.within('filemap_map_pages', () => {
            updateMmapMiss(vmf, inode, 0, true);
            return DONE('do_read_fault');
          }),
        ),
      );
    }
  }
  const path = f.write ? 'do_shared_fault' : 'do_read_fault';
  return k.telemetry.calls.within(path, (): FilePmdResult => {
    const r = doFaultNoPte(vmf);
    if (r.kind === 'retry') return { kind: 'retry', major: r.major };
    if (r.kind === 'sigbus') return { kind: 'error', signal: 'SIGBUS', reason: r.reason };
    const folio = r.folio;
    // finish_fault's i_size rule: a non-shmem folio reaching past EOF is mapped by one PTE.
    const needsFallback = k.policy.finish_fault_isize_fallback && !shmem && folio.index + folio.nrPages > lastPage + 1;
    if (needsFallback || !k.telemetry.calls.within('finish_fault', () => doSetPmd(f, folio))) return { kind: 'prefetched', folio, major: r.major };
    if (f.write) {
      if (hasPageMkwrite(inode)) doPageMkwrite(vmf, folio);
      folio.dirty = true;
    }
    return DONE(path);
  });
}

/**
 * move_huge_pmd (mremap of a whole, aligned 2 MiB): the entry moves to the new PMD slot with its
 * deposited table, and the old range is flushed (flush_pmd_tlb_range) since it was present.
 * False, changing nothing, when the new slot is not none.
 */
export function moveHugePmd(mm: Process, oldAddr: number, newAddr: number, oldPmdp: number): boolean {
  const k = mm.kernel;
  return k.telemetry.calls.within('move_huge_pmd', () => {
    const newPmdp = mm.pmdAlloc(newAddr);
    const pmdOps = k.pgtable.pmd;
    if (!pmdNone(pmdOps.pmdpGet(newPmdp))) return false;
    const pmd = pmdOps.pmdpHugeGetAndClear(mm, oldAddr, oldPmdp);
    const t = deposits(k).get(oldPmdp);
    if (t !== undefined) {
      deposits(k).delete(oldPmdp);
      deposits(k).set(newPmdp, t);
    }
    pmdOps.setPmdAt(mm, newAddr, newPmdp, pmd);
    pmdOps.flushPmdTlbRange(mm, oldAddr, oldAddr + PMD_SIZE);
    k.mmStats.mremap_pmds_moved++;
    return true;
  });
}
