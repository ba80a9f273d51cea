/**
 * Faulting a range in ahead of use, as get_user_pages does it for the callers that populate
 * (mm/gup.c, 6.9 to 7.2): MAP_POPULATE and mlock (__mm_populate → populate_vma_page_range) and
 * MADV_POPULATE_READ/WRITE (madvise_populate → faultin_page_range). A page whose PTE already
 * allows the access is left alone (follow_page_pte); any other goes through handle_mm_fault,
 * with FAULT_FLAG_WRITE for a write, which breaks copy-on-write.
 *
 * - populate ('mlock'): VM_IO/VM_PFNMAP VMAs, VM_LOCKONFAULT ones and inaccessible ones are
 *   skipped; a private writable mapping is written, anything else read; errors are ignored past
 *   the first hole, which ends the walk (mm_populate ignores the result).
 * - madvise ('madvise'): a hole is ENOMEM, a VMA the access is not allowed in (or VM_IO/PFNMAP)
 *   is EINVAL (check_vma_flags under FOLL_MADV_POPULATE), a fault ending in a signal is EFAULT.
 */
import { EFAULT, EINVAL, ENOMEM } from './api.js';
import { PAGE_SIZE } from '../mmu/physmem.js';
import { pteNone, pteWrite } from '../pgtable/pte.js';
import { hugePmdAt } from './huge-memory.js';
import type { Process } from './process.js';
import { VM_ACCESS_FLAGS, VM_IO, VM_LOCKONFAULT, VM_PFNMAP, VM_READ, VM_SHARED, VM_WRITE, type Vma } from './vma.js';

export type PopulateCaller = 'mlock' | 'madvise';

/** follow_page_pte's answer: does the PTE already allow this access? */
function pageReady(mm: Process, addr: number, write: boolean): boolean {
  const k = mm.kernel;
  const ptep = k.pgtable.tables.pteOffsetMap(mm, addr);
  if (ptep === undefined) {
    // follow_huge_pmd: a valid huge PMD answers for its whole 2 MiB.
    const h = hugePmdAt(k, mm, addr);
    return h !== null && (h.pmd.lo & 1) !== 0 && (!write || pteWrite(h.pmd));
  }
  const pte = k.pgtable.ptep.ptepGet(ptep);
  if (pteNone(pte) || !(pte.lo & 1)) return false;
  return !write || pteWrite(pte);
}

/** check_vma_flags for FOLL_MADV_POPULATE. */
function madvisePopulateAllowed(vma: Vma, write: boolean): boolean {
  if (vma.flags & (VM_IO | VM_PFNMAP)) return false;
  return write ? (vma.flags & VM_WRITE) !== 0 : (vma.flags & VM_READ) !== 0;
}

/**
 * Populate [start, end) (page aligned). `mode` is the madvise access; for 'mlock' each VMA picks
 * its own (write for private writable mappings). Returns 0 or -errno (madvise only).
 */
export function populateRange(mm: Process, start: number, end: number, mode: 'read' | 'write' | 'auto', caller: PopulateCaller): number {
  let addr = start;
  while (addr < end) {
    const vma = mm.vmas.vmaLookup(addr);
    if (vma === null) {
      if (caller === 'madvise') return -ENOMEM;
      // __mm_populate: go on at the next VMA.
      const next = mm.vmas.findVma(addr);
      if (next === null || next.start >= end) return 0;
      addr = next.start;
      continue;
    }
    const vmaEnd = Math.min(end, vma.end);
    let write: boolean;
    if (caller === 'madvise') {
      write = mode === 'write';
      if (!madvisePopulateAllowed(vma, write)) return -EINVAL;
    } else {
      if (vma.flags & (VM_IO | VM_PFNMAP) || vma.flags & VM_LOCKONFAULT || !(vma.flags & VM_ACCESS_FLAGS)) {
        addr = vmaEnd;
        continue;
      }
      write = mode === 'write' || (mode === 'auto' && (vma.flags & (VM_WRITE | VM_SHARED)) === VM_WRITE);
    }
    for (; addr < vmaEnd; addr += PAGE_SIZE) {
      if (pageReady(mm, addr, write)) continue;
      const ptep = mm.kernel.pgtable.tables.pteOffsetMap(mm, addr);
      const present = ptep !== undefined ? !pteNone(mm.kernel.pgtable.ptep.ptepGet(ptep)) : hugePmdAt(mm.kernel, mm, addr) !== null;
      const r = mm.handleFault(addr, write ? 'write' : 'read', present ? 'permission' : 'translation');
      if (r.kind === 'signal') {
        if (caller === 'madvise') return -EFAULT;
        return 0;
      }
    }
  }
  return 0;
}
