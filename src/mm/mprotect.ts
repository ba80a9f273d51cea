/**
 * mprotect's page-table half: change_protection / change_pte_range (mm/mprotect.c) with the
 * caller's mmu_gather, and the arm64 ptep_modify_prot_start/commit pair it drives
 * (arch/arm64/mm/mmu.c). Kernel-notes §7.
 *
 * - `mprotect_batch=off` (6.9, 6.12): one start/commit per PTE. Starting on a contiguous entry
 *   unfolds its block (contpte_convert, one range TLBI); committing the last PTE of a block may
 *   fold it again. That is why restoring page 15 of a 64 KiB folio refolds and page 0 does not.
 * - `mprotect_batch=on` (7.x): one start/commit per run of a large folio's PTEs, so whole
 *   blocks keep the contiguous bit without a convert.
 * - Batched, an anonymous folio whose pages differ in PageAnonExclusive (after fork) is
 *   committed in sub-batches of equal exclusivity (commit_anon_folio_batch).
 * - Every PTE whose hardware-visible bits changed adds its page to the gather; tlb_end_vma then
 *   issues one last-level flush for the VMA (one VALE1IS for one page).
 */
import { PAGE_SIZE } from '../mmu/physmem.js';
import {
  PMD_SIZE,
  pteAdvancePfn,
  pteMkwrite,
  pteModify,
  pteNone,
  ptePfn,
  pteProtnone,
  pteSpecial,
  pteAccessible,
  pteUserExec,
  pteValid,
  pteWrite,
  pteDirty,
  type Pgprot,
  type Pte,
} from '../pgtable/pte.js';
import { mmTlbFlushPending } from '../pgtable/policy.js';
import { pmdTransHuge } from '../pgtable/pmd.js';
import { changeHugePmd, splitHugePmd } from './huge-memory.js';
import type { MmKernel } from './kernel.js';
import type { Process } from './process.js';
import { vmaPageProt, vmaWantsManualPteWriteUpgrade } from './prot.js';
import { VM_SHARED, VM_WRITE, type Vma } from './vma.js';
import { folioPteBatch, type ZapGather } from './zap.js';

/** PTE_SWBITS_MASK (v6.9): bit 63 and the software bits 55-58 need no TLB flush when they change. */
const SWBITS_HI = (1 << 31) | (0xf << 23);

/** pte_needs_flush (arm64 tlbflush.h): a valid entry whose hardware-visible bits changed. */
export function pteNeedsFlush(oldPte: Pte, newPte: Pte): boolean {
  if (!pteValid(oldPte)) return false;
  return ((oldPte.lo ^ newPte.lo) | ((oldPte.hi ^ newPte.hi) & ~SWBITS_HI)) !== 0;
}

/**
 * can_change_pte_writable (mm/mprotect.c): a private mapping's exclusive anonymous page, or a
 * shared mapping's dirty page, may become writable without a write fault.
 */
function canChangePteWritable(k: MmKernel, vma: Vma, pte: Pte): boolean {
  if (!(vma.flags & VM_WRITE)) return false;
  if (pteProtnone(pte)) return false;
  if (!(vma.flags & VM_SHARED)) {
    if (pteSpecial(pte)) return false;
    const folio = k.memmap.folioOfPfn(ptePfn(pte));
    // An anonymous page this mm alone maps (not shared with a fork child or parent).
    return folio !== undefined && folio.anon && k.memmap.pageAnonExclusive(ptePfn(pte));
  }
  return pteDirty(pte);
}

/**
 * commit_anon_folio_batch (7.x): a batch of an anonymous folio whose pages differ in
 * PageAnonExclusive (after fork and a partial reuse) is committed in sub-batches of equal
 * exclusivity; only the exclusive ones may become writable.
 */
function commitAnonFolioBatch(k: MmKernel, g: ZapGather, mm: Process, vma: Vma, addr: number, ptep: number, oldPte: Pte, ptent: Pte, nr: number): void {
  const api = k.pgtable.ptep;
  const pfn0 = ptePfn(oldPte);
  let idx = 0;
  while (idx < nr) {
    const exclusive = k.memmap.pageAnonExclusive(pfn0 + idx);
    let len = 1;
    while (idx + len < nr && k.memmap.pageAnonExclusive(pfn0 + idx + len) === exclusive) len++;
    const o = pteAdvancePfn(oldPte, idx);
    let t = pteAdvancePfn(ptent, idx);
    if (exclusive && canChangePteWritable(k, vma, t)) t = pteMkwrite(t);
    api.modifyProtCommitPtes(mm, addr + idx * PAGE_SIZE, ptep + idx * 8, o, t, len);
    if (pteNeedsFlush(o, t)) g.tlb.tlbFlushPteRange(addr + idx * PAGE_SIZE, len * PAGE_SIZE);
    idx += len;
  }
}

/** change_protection over [start, end) of `vma`, whose vm_flags already hold the new protection. */
export function changeProtection(g: ZapGather, vma: Vma, start: number, end: number): void {
  const mm = g.mm;
  const k = mm.kernel;
  const calls = k.telemetry.calls;
  calls.enter('change_protection');
  try {
    const newprot = vmaPageProt(vma);
    const tryWritable = vmaWantsManualPteWriteUpgrade(vma);
    let addr = start;
    while (addr < end) {
      const next = Math.min(addr - (addr % PMD_SIZE) + PMD_SIZE, end);
      // change_pmd_range: a huge PMD changes whole, or is split when the range covers part of it.
      const pmdp = k.pgtable.tables.pmdOffset(mm, addr);
      if (pmdp !== undefined && pmdTransHuge(k.pgtable.pmd.pmdpGet(pmdp))) {
        if (next - addr === PMD_SIZE) {
          changeHugePmd(g, vma, pmdp, addr, newprot, tryWritable);
          addr = next;
          continue;
        }
        splitHugePmd(mm, vma, pmdp, addr);
      }
      changePteRange(k, g, mm, vma, addr, next, newprot, tryWritable);
      addr = next;
    }
    g.tlb.tlbEndVma();
  } finally {
    calls.leave();
  }
}

function changePteRange(k: MmKernel, g: ZapGather, mm: Process, vma: Vma, start: number, end: number, newprot: Pgprot, tryWritable: boolean): void {
  const calls = k.telemetry.calls;
  calls.enter('change_pte_range');
  try {
    const ptep0 = k.pgtable.tables.pteOffsetMap(mm, start);
    if (ptep0 === undefined) return;
    const api = k.pgtable.ptep;
    const batch = k.policy.mprotect_batch;
    let addr = start;
    let ptep = ptep0;
    while (addr < end) {
      const cur = api.ptepGet(ptep);
      if (pteNone(cur)) {
        addr += PAGE_SIZE;
        ptep += 8;
        continue;
      }
      let nr = 1;
      if (batch && !pteSpecial(cur)) {
        const folio = k.memmap.folioOfPfn(ptePfn(cur));
        if (folio !== undefined && folio.nrPages > 1) nr = folioPteBatch(k, folio, ptep, cur, (end - addr) / PAGE_SIZE, true);
      }
      // Cortex-A715 erratum 2645198: an executable user entry needs break-before-make with a
      // flush before its permissions change: ptep_clear_flush per PTE (arch/arm64/mm/mmu.c
      // ptep_modify_prot_start, 6.9/6.12), or when batched (modify_prot_start_ptes, 7.x) a range
      // flush if pte_accessible, which inside mprotect's gather (flush pending) means present.
      const erratum = k.policy.erratum_2645198 && pteUserExec(cur);
      let oldPte: Pte;
      if (batch) {
        oldPte = api.modifyProtStartPtes(mm, addr, ptep, nr);
        if (erratum && pteAccessible(mmTlbFlushPending(mm), oldPte)) k.pgtable.flush.__flushTlbRange(mm, addr, addr + nr * PAGE_SIZE, PAGE_SIZE, true, 3);
      } else {
        oldPte = erratum ? api.ptepClearFlush(mm, addr, ptep) : api.ptepModifyProtStart(mm, addr, ptep);
      }
      let ptent = pteModify(oldPte, newprot);
      k.mmStats.mprotect_updates++;
      k.mmStats.mprotect_ptes += nr;
      if (batch && nr > 1 && tryWritable && !pteWrite(ptent) && !(vma.flags & VM_SHARED)) {
        commitAnonFolioBatch(k, g, mm, vma, addr, ptep, oldPte, ptent, nr);
      } else {
        if (tryWritable && !pteWrite(ptent) && canChangePteWritable(k, vma, ptent)) ptent = pteMkwrite(ptent);
        if (batch) api.modifyProtCommitPtes(mm, addr, ptep, oldPte, ptent, nr);
        else api.ptepModifyProtCommit(mm, addr, ptep, oldPte, ptent);
        if (pteNeedsFlush(oldPte, ptent)) g.tlb.tlbFlushPteRange(addr, nr * PAGE_SIZE);
      }
      addr += nr * PAGE_SIZE;
      ptep += nr * 8;
    }
  } finally {
    calls.leave();
  }
}
