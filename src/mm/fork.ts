/**
 * fork's copy of an address space: dup_mmap, copy_page_range, copy_pte_range and
 * copy_present_ptes (kernel/fork.c in 6.9 and 6.12, mm/mmap.c from 6.15, so 7.2; mm/memory.c).
 * The counts are the same in the three profiles: the batched copy of a large folio's PTEs
 * (folio_pte_batch in copy_present_ptes) is v6.9's, and the one flush at the end is
 * flush_tlb_mm of the parent in every version.
 *
 * - Every VMA is duplicated except VM_DONTCOPY ones; the child's copy loses VM_LOCKED and
 *   VM_LOCKONFAULT; a VM_WIPEONFORK VMA arrives empty (no anon_vma, no PTEs).
 * - Page tables are copied only where the child could not fault the same thing back in
 *   (vma_needs_copy): VMAs with an anon_vma, or PFN maps. Shared file and shmem mappings, and
 *   private ones never written, are left for the child to fault.
 * - A present PTE of a large folio is copied with the run of PTEs that maps the same folio with
 *   the same bits (folio_pte_batch, ignoring young and write, and dirty only for shared
 *   mappings): one wrprotect_ptes in the parent (whole contiguous blocks stay contiguous, a
 *   partial block is unfolded) and one set_ptes in the child (contiguous again where the block
 *   is whole). Small folios and the zero page go one PTE at a time (ptep_set_wrprotect).
 * - Anonymous pages become shared: their PageAnonExclusive flag is cleared
 *   (folio_try_dup_anon_rmap_ptes; pinned pages, which the kernel would copy at once, are not
 *   modelled), each mapping takes a reference and a map count in the child's mm.
 * - The child's PTEs are old; shared mappings' are clean; private writable ones are read-only
 *   in both processes, so the next write in either is a copy-on-write fault.
 */
import { PAGE_SIZE } from '../mmu/physmem.js';
import {
  PMD_SIZE,
  pfnPte,
  pteEqual,
  pteMkclean,
  pteMkold,
  pteMkwrite,
  pteNone,
  ptePfn,
  pteSpecial,
  pteWrite,
  pteWrprotect,
  type Pte,
} from '../pgtable/pte.js';
import { LabError } from '../util/errors.js';
import type { Folio } from './folio.js';
import { copyHugePmd } from './huge-memory.js';
import type { Process } from './process.js';
import { AnonVma, VM_DONTCOPY, VM_LOCKED_MASK, VM_MAYWRITE, VM_MIXEDMAP, VM_PFNMAP, VM_SHARED, VM_WIPEONFORK, type Vma } from './vma.js';

/** is_cow_mapping: private and may become writable. */
export function isCowMapping(flags: number): boolean {
  return (flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;
}

/** vma_needs_copy: only where a fault could not rebuild the PTE the same way. */
function vmaNeedsCopy(src: Vma): boolean {
  if (src.flags & (VM_PFNMAP | VM_MIXEDMAP)) return true;
  return src.anonVma !== null;
}

/**
 * dup_mmap: fill `child` (a new, empty mm) with copies of `parent`'s VMAs and page tables, then
 * flush the parent's TLB entries, which may still allow writes to pages now shared.
 */
export function dupMmap(parent: Process, child: Process): void {
  const k = parent.kernel;
  const calls = k.telemetry.calls;
  calls.enter('dup_mmap');
  try {
    k.mmStats.fork_calls++;
    for (const mpnt of parent.vmas.all()) {
      if (mpnt.flags & VM_DONTCOPY) continue;
      const wipe = (mpnt.flags & VM_WIPEONFORK) !== 0;
      // anon_vma_fork: a child anon_vma of its own (the folios keep the parent's as owner, as
      // the kernel's rmap walk reaches both through the shared root).
      const anonVma = !wipe && mpnt.anonVma !== null ? new AnonVma() : null;
      const r = child.vmas.insert({
        start: mpnt.start,
        end: mpnt.end,
        flags: mpnt.flags & ~VM_LOCKED_MASK,
        pgoff: mpnt.pgoff,
        file: mpnt.file,
        anonVma,
        name: mpnt.name,
      });
      if (r.kind !== 'ok') throw new Error(`dup_mmap: the child already maps [0x${mpnt.start.toString(16)}, 0x${mpnt.end.toString(16)})`);
      if (!wipe) copyPageRange(child, parent, mpnt);
    }
    k.pgtable.flush.flushTlbMm(parent);
  } finally {
    calls.leave();
  }
}

/** copy_page_range: per PMD, the PTE tables the parent has. */
function copyPageRange(dst: Process, src: Process, srcVma: Vma): void {
  if (!vmaNeedsCopy(srcVma)) return;
  const k = src.kernel;
  const calls = k.telemetry.calls;
  calls.enter('copy_page_range');
  try {
    let addr = srcVma.start;
    while (addr < srcVma.end) {
      const next = Math.min(addr - (addr % PMD_SIZE) + PMD_SIZE, srcVma.end);
      // copy_pmd_range: a huge PMD is copied whole; a PMD with no PTE table is skipped.
      if (copyHugePmd(dst, src, dstVmaOf(dst, srcVma), addr)) {
        addr = next;
        continue;
      }
      if (k.pgtable.tables.pteOffsetMap(src, addr) !== undefined) copyPteRange(dst, src, srcVma, addr, next);
      addr = next;
    }
  } finally {
    calls.leave();
  }
}

/** The child's VMA for the parent's (dup_mmap inserted it just before copying). */
function dstVmaOf(dst: Process, srcVma: Vma): Vma {
  const v = dst.vmas.findVma(srcVma.start);
  if (v === null || v.start !== srcVma.start) throw new Error(`dup_mmap: the child has no VMA at 0x${srcVma.start.toString(16)}`);
  return v;
}

function copyPteRange(dst: Process, src: Process, srcVma: Vma, start: number, end: number): void {
  const k = src.kernel;
  const calls = k.telemetry.calls;
  calls.enter('copy_pte_range');
  try {
    const api = k.pgtable.ptep;
    const srcPtep0 = k.pgtable.tables.pteOffsetMap(src, start)!;
    const dstPtep0 = dst.pteAlloc(start);
    let addr = start;
    let i = 0;
    while (addr < end) {
      const ptent = api.ptepGet(srcPtep0 + i * 8);
      let nr = 1;
      if (!pteNone(ptent)) {
        nr = copyPresentPtes(dst, src, srcVma, dstPtep0 + i * 8, srcPtep0 + i * 8, ptent, addr, (end - addr) / PAGE_SIZE);
      }
      addr += nr * PAGE_SIZE;
      i += nr;
    }
  } finally {
    calls.leave();
  }
}

/** __pte_batch_clear_ignored (6.9): young and write never count; dirty only when asked. */
function batchKey(p: Pte, ignoreDirty: boolean): Pte {
  const q = pteWrprotect(pteMkold(p));
  return ignoreDirty ? pteMkclean(q) : q;
}

/**
 * folio_pte_batch as copy_present_ptes calls it: the PTEs from ptep mapping the following pages
 * of `folio` with the same bits, read through ptep_get; also whether any of them was writable.
 */
function forkPteBatch(src: Process, folio: Folio, ptep: number, pte: Pte, maxNr: number, ignoreDirty: boolean): { nr: number; anyWritable: boolean } {
  const api = src.kernel.pgtable.ptep;
  const pfn = ptePfn(pte);
  const max = Math.min(maxNr, folio.firstPfn + folio.nrPages - pfn);
  const first = batchKey(pte, ignoreDirty);
  let anyWritable = pteWrite(pte);
  let nr = 1;
  while (nr < max) {
    const cur = api.ptepGet(ptep + nr * 8);
    if (pteNone(cur) || pteSpecial(cur)) break;
    if (!pteEqual(batchKey(cur, ignoreDirty), pfnPte(pfn + nr, first))) break;
    if (pteWrite(cur)) anyWritable = true;
    nr++;
  }
  return { nr, anyWritable };
}

/** copy_present_ptes: returns how many PTEs it copied. */
function copyPresentPtes(dst: Process, src: Process, srcVma: Vma, dstPtep: number, srcPtep: number, ptent: Pte, addr: number, maxNr: number): number {
  const k = src.kernel;
  const memmap = k.memmap;
  // vm_normal_page: the zero page (special) has none; it is copied as a bare PTE.
  const folio = pteSpecial(ptent) ? undefined : memmap.folioOfPfn(ptePfn(ptent));
  if (folio === undefined) {
    if (!pteSpecial(ptent)) throw new LabError(`model bug: fork found a PTE at 0x${addr.toString(16)} mapping pfn 0x${ptePfn(ptent).toString(16)}, which is no folio`);
    copyPresentPtesCommon(dst, src, srcVma, dstPtep, srcPtep, ptent, addr, 1);
    return 1;
  }
  const pfn = ptePfn(ptent);
  let nr = 1;
  let pte = ptent;
  if (folio.nrPages > 1 && maxNr !== 1) {
    const b = forkPteBatch(src, folio, srcPtep, ptent, maxNr, (srcVma.flags & VM_SHARED) !== 0);
    nr = b.nr;
    if (b.anyWritable) pte = pteMkwrite(pte);
  }
  memmap.folioRefAdd(folio, nr);
  if (folio.anon) memmap.setPageAnonExclusive(pfn, nr, false);
  memmap.folioAddRmapPtes(folio, pfn, nr, dst.mmId);
  k.mmStats.fork_ptes_copied += nr;
  copyPresentPtesCommon(dst, src, srcVma, dstPtep, srcPtep, pte, addr, nr);
  return nr;
}

/**
 * __copy_present_ptes: write-protect a COW mapping's writable PTEs in the parent (wrprotect_ptes:
 * the flush is dup_mmap's at the end), then set the child's, old, and clean if shared.
 */
function copyPresentPtesCommon(dst: Process, src: Process, srcVma: Vma, dstPtep: number, srcPtep: number, pteIn: Pte, addr: number, nr: number): void {
  const api = src.kernel.pgtable.ptep;
  let pte = pteIn;
  if (isCowMapping(srcVma.flags) && pteWrite(pte)) {
    api.wrprotectPtes(src, addr, srcPtep, nr);
    pte = pteWrprotect(pte);
  }
  if (srcVma.flags & VM_SHARED) pte = pteMkclean(pte);
  pte = pteMkold(pte);
  api.setPtes(dst, addr, dstPtep, pte, nr);
}
