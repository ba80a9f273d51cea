/**
 * madvise (mm/madvise.c, 6.12): MADV_DONTNEED zaps the range with its own mmu_gather
 * (zap_page_range_single: one flush at the VMA's end, page tables kept); MADV_FREE clears
 * young and dirty on exclusive anonymous folios so reclaim may drop them
 * (clear_young_dirty_ptes, never unfolding); the read-pattern and huge-page advice only change
 * vm_flags, as do MADV_DONTFORK/DOFORK and MADV_WIPEONFORK/KEEPONFORK (read by fork);
 * MADV_WILLNEED reads a file range ahead; MADV_POPULATE_READ/WRITE fault the range in
 * (madvise_populate, populate.ts); MADV_REMOVE punches a hole in the file of a shared writable
 * mapping (madvise_remove: fallocate's PUNCH_HOLE | KEEP_SIZE, falloc.ts; the file's times are
 * not updated by the model); MADV_COLLAPSE copies whole 2 MiB blocks of anonymous memory into
 * PMD-mapped THPs (madvise_collapse, khugepaged.ts).
 *
 * Deviation: MADV_FREE on a large folio that the range covers only in part leaves it alone
 * (Linux tries to split the folio first).
 */
import {
  EACCES,
  EINVAL,
  ENOMEM,
  MADV_DOFORK,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_FREE,
  MADV_KEEPONFORK,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_COLLAPSE,
  MADV_REMOVE,
  MADV_WIPEONFORK,
  MADV_HUGEPAGE,
  MADV_NOHUGEPAGE,
  MADV_NORMAL,
  MADV_RANDOM,
  MADV_SEQUENTIAL,
  MADV_WILLNEED,
} from './api.js';
import { PAGE_SIZE } from '../mmu/physmem.js';
import { CYDP_CLEAR_DIRTY, CYDP_CLEAR_YOUNG } from '../pgtable/raw.js';
import { hugePmdAt, splitHugePmd } from './huge-memory.js';
import { PMD_SIZE, pteDirty, pteNone, ptePfn, pteSpecial, pteYoung } from '../pgtable/pte.js';
import type { Process } from './process.js';
import { forcePageCacheRa, VM_RAND_READ, VM_SEQ_READ } from './readahead.js';
import { populateRange } from './populate.js';
import { VM_DONTCOPY, VM_HUGEPAGE, VM_IO, VM_LOCKED, VM_MAYWRITE, VM_NOHUGEPAGE, VM_PFNMAP, VM_SHARED, VM_WIPEONFORK, type Vma } from './vma.js';
import { ext4PunchHole, shmemPunchHole, type HoleResult } from './falloc.js';
import { EOPNOTSUPP } from '../util/errno.js';
import { folioPteBatch, unmapPageRange, ZapGather, type ZapDetails } from './zap.js';
import { madviseCollapse } from './khugepaged.js';

const KNOWN = new Set([
  MADV_NORMAL,
  MADV_RANDOM,
  MADV_SEQUENTIAL,
  MADV_WILLNEED,
  MADV_DONTNEED,
  MADV_FREE,
  MADV_REMOVE,
  MADV_HUGEPAGE,
  MADV_NOHUGEPAGE,
  MADV_DONTFORK,
  MADV_DOFORK,
  MADV_WIPEONFORK,
  MADV_KEEPONFORK,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_COLLAPSE,
]);

export function doMadvise(mm: Process, start: number, lenIn: number, advice: number): number {
  if (start % PAGE_SIZE !== 0) return -EINVAL;
  if (!KNOWN.has(advice)) return -EINVAL;
  if (lenIn < 0) return -EINVAL;
  const len = Math.ceil(lenIn / PAGE_SIZE) * PAGE_SIZE;
  if (len === 0) return 0;
  const end = start + len;
  if (end > mm.vmas.taskSize) return -EINVAL;
  const calls = mm.kernel.telemetry.calls;
  calls.enter('do_madvise');
  try {
    // madvise_populate walks the range itself (6.9+: before the per-VMA behaviours).
    if (advice === MADV_POPULATE_READ || advice === MADV_POPULATE_WRITE) {
      return calls.within('madvise_populate', () => populateRange(mm, start, end, advice === MADV_POPULATE_WRITE ? 'write' : 'read', 'madvise'));
    }
    let unmapped = false;
    let cursor = start;
    for (const vma of mm.vmas.intersecting(start, end)) {
      if (vma.start > cursor) unmapped = true;
      const s = Math.max(start, vma.start);
      const e = Math.min(end, vma.end);
      const r = adviseVma(mm, vma, s, e, advice);
      if (r < 0) return r;
      cursor = e;
    }
    if (cursor < end) unmapped = true;
    return unmapped ? -ENOMEM : 0;
  } finally {
    calls.leave();
  }
}

function adviseVma(mm: Process, vma: Vma, start: number, end: number, advice: number): number {
  switch (advice) {
    case MADV_DONTNEED:
      if (vma.flags & (VM_LOCKED | VM_PFNMAP)) return -EINVAL;
      zapPageRangeSingle(mm, vma, start, end);
      return 0;
    case MADV_FREE:
      if (!vma.isAnonymous || vma.flags & VM_SHARED) return -EINVAL;
      madviseFree(mm, start, end);
      return 0;
    case MADV_REMOVE:
      return madviseRemove(mm, vma, start, end);
    case MADV_NORMAL:
      return updateFlags(mm, vma, start, end, vma.flags & ~(VM_SEQ_READ | VM_RAND_READ));
    case MADV_RANDOM:
      return updateFlags(mm, vma, start, end, (vma.flags & ~VM_SEQ_READ) | VM_RAND_READ);
    case MADV_SEQUENTIAL:
      return updateFlags(mm, vma, start, end, (vma.flags & ~VM_RAND_READ) | VM_SEQ_READ);
    case MADV_HUGEPAGE:
      return updateFlags(mm, vma, start, end, (vma.flags & ~VM_NOHUGEPAGE) | VM_HUGEPAGE);
    case MADV_NOHUGEPAGE:
      return updateFlags(mm, vma, start, end, (vma.flags & ~VM_HUGEPAGE) | VM_NOHUGEPAGE);
    case MADV_DONTFORK:
      return updateFlags(mm, vma, start, end, vma.flags | VM_DONTCOPY);
    case MADV_DOFORK:
      if (vma.flags & VM_IO) return -EINVAL;
      return updateFlags(mm, vma, start, end, vma.flags & ~VM_DONTCOPY);
    case MADV_WIPEONFORK:
      // Private anonymous memory only.
      if (vma.file !== null || vma.flags & VM_SHARED) return -EINVAL;
      return updateFlags(mm, vma, start, end, vma.flags | VM_WIPEONFORK);
    case MADV_KEEPONFORK:
      return updateFlags(mm, vma, start, end, vma.flags & ~VM_WIPEONFORK);
    case MADV_COLLAPSE:
      return madviseCollapse(mm, vma, start, end);
    case MADV_WILLNEED:
      if (vma.file !== null && vma.file.fsType !== 'tmpfs') {
        forcePageCacheRa(mm.kernel.raContext(vma.file), vma.pgoffOf(start), (end - start) / PAGE_SIZE);
      }
      return 0;
    default:
      return -EINVAL;
  }
}

function updateFlags(mm: Process, vma: Vma, start: number, end: number, flags: number): number {
  mm.vmas.modifyFlags(vma, start, end, flags);
  return 0;
}

/**
 * madvise_remove (v6.12): a hole punched in the mapped file over the range, as
 * fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) would, for a shared mapping that may be
 * written (so its file is open for writing).
 */
function madviseRemove(mm: Process, vma: Vma, start: number, end: number): number {
  if (vma.flags & VM_LOCKED) return -EINVAL;
  const inode = vma.file;
  if (inode === null) return -EINVAL;
  if ((vma.flags & (VM_SHARED | VM_MAYWRITE)) !== (VM_SHARED | VM_MAYWRITE)) return -EACCES;
  const offset = vma.pgoff * PAGE_SIZE + (start - vma.start);
  const unmap = mm.kernel.unmapMappingRange;
  let r: HoleResult;
  if (inode.fsType === 'tmpfs') r = shmemPunchHole(inode, offset, end - start, unmap);
  else if (inode.fsType === 'ext4') r = ext4PunchHole(inode, offset, end - start, unmap);
  else return -EOPNOTSUPP;
  return r.kind === 'oom' ? -ENOMEM : 0;
}

/** zap_page_range_single: its own gather, the zap, one flush at the VMA's end; tables stay. */
export function zapPageRangeSingle(mm: Process, vma: Vma, start: number, end: number, details: ZapDetails | null = null): void {
  const calls = mm.kernel.telemetry.calls;
  calls.enter('zap_page_range_single');
  try {
    const g = new ZapGather(mm.kernel, mm, false);
    unmapPageRange(g, vma, start, end, details);
    g.finish();
  } finally {
    calls.leave();
  }
}

/** madvise_free_single_vma / madvise_free_pte_range. */
function madviseFree(mm: Process, start: number, end: number): void {
  const k = mm.kernel;
  const calls = k.telemetry.calls;
  calls.enter('madvise_free_pte_range');
  try {
    const g = new ZapGather(k, mm, false);
    const api = k.pgtable.ptep;
    let addr = start;
    while (addr < end) {
      const pmdEnd = Math.min(addr - (addr % PMD_SIZE) + PMD_SIZE, end);
      // madvise_free_huge_pmd: part of a huge PMD is split first; a whole one is left mapped
      // (the model has no lazyfree state to give it).
      const huge = hugePmdAt(k, mm, addr);
      if (huge !== null) {
        if (pmdEnd - addr === PMD_SIZE) {
          addr = pmdEnd;
          continue;
        }
        const vma = mm.vmas.vmaLookup(addr);
        if (vma !== null) splitHugePmd(mm, vma, huge.pmdp, addr);
      }
      const ptep0 = k.pgtable.tables.pteOffsetMap(mm, addr);
      if (ptep0 === undefined) {
        addr = pmdEnd;
        continue;
      }
      let ptep = ptep0;
      while (addr < pmdEnd) {
        const pte = api.ptepGet(ptep);
        let nr = 1;
        const folio = pteNone(pte) || pteSpecial(pte) ? undefined : k.memmap.folioOfPfn(ptePfn(pte));
        if (folio !== undefined && folio.anon) {
          if (folio.nrPages > 1) nr = folioPteBatch(k, folio, ptep, pte, (pmdEnd - addr) / PAGE_SIZE);
          const whole = nr === folio.nrPages;
          if (whole) {
            folio.dirty = false;
            if (pteYoung(pte) || pteDirty(pte)) {
              api.clearYoungDirtyPtes(mm, addr, ptep, nr, CYDP_CLEAR_YOUNG | CYDP_CLEAR_DIRTY);
              g.tlb.tlbFlushPteRange(addr, nr * PAGE_SIZE);
            }
          }
        }
        addr += nr * PAGE_SIZE;
        ptep += nr * 8;
      }
    }
    g.tlb.tlbEndVma();
    g.finish();
  } finally {
    calls.leave();
  }
}
