/**
 * The page-cache side of file faults (mm/filemap.c): `filemap_fault`, the ->fault of ext4 (and
 * of every file system without its own), which finds or reads the folio and drives mmap
 * readahead; and `filemap_map_pages`, the ->map_pages of fault-around, which maps folios that
 * are already cached around a read fault without taking a fault for each page.
 */
import { PAGE_SIZE } from '../mmu/physmem.js';
import { PMD_SIZE, PTRS_PER_PTE } from '../pgtable/pte.js';
import type { Folio } from './folio.js';
import { outOfMemoryError } from './buddy.js';
import type { Inode } from './inode.js';
import type { MmKernel } from './kernel.js';
import { doAsyncMmapReadahead, doSyncMmapReadahead } from './readahead.js';
import { pteRangeNone, setPteRange, type VmFault } from './vmfault.js';

/** What ->fault hands back: the locked folio holding the page (VM_FAULT_LOCKED), or why not. */
export type FileFaultResult =
  | { readonly kind: 'locked'; readonly folio: Folio; readonly major: boolean }
  | { readonly kind: 'retry'; readonly major: boolean }
  | { readonly kind: 'sigbus'; readonly reason: string };

/**
 * VM_FAULT_LOCKED with `folio`, written into the kernel's one record of it (a new object per fault
 * before). Valid until the next fault; a caller that keeps the answer longer copies it.
 */
export function faultLocked(k: MmKernel, folio: Folio, major: boolean): FileFaultResult {
  const r = k.faultLockedResult;
  r.folio = folio;
  r.major = major;
  return r;
}

/**
 * filemap_fault (v6.9 / 6.12.117 / 7.2.13 agree on the shape, kernel-notes §1.1): beyond EOF
 * is SIGBUS; a hit may start async readahead, a miss runs the sync mmap readahead (a major
 * fault) and then takes the folio readahead created, or an order-0 one if it created none.
 * Either readahead drops the fault lock, so the fault is retried (once per abort in practice).
 */
export function filemapFault(vmf: VmFault): FileFaultResult {
  const k = vmf.k;
  const inode = vmf.vma.file!;
  const mapping = inode.mapping;
  const index = vmf.pgoff;
  const calls = k.telemetry.calls;
  calls.enter('filemap_fault');
  try {
    if (index >= Math.ceil(inode.size / PAGE_SIZE)) return { kind: 'sigbus', reason: `page ${index} is beyond the end of the file (${inode.size} bytes)` };
    let folio = mapping.lookup(index);
    let unlocked = false;
    let major = false;
    if (folio !== null) {
      if (!vmf.tried) unlocked = doAsyncMmapReadahead(vmf.k.raContext(inode), vmf.vma.flags, folio, index);
    } else {
      major = true;
      k.faultStats.major++;
      unlocked = doSyncMmapReadahead(vmf.k.raContext(inode), vmf.vma.flags, index);
      folio = mapping.lookup(index);
      if (folio === null) {
        // __filemap_get_folio(FGP_CREAT | FGP_FOR_MMAP): one page, no readahead order.
        const r = mapping.addFolioAt(index, 0);
        if (r.kind === 'oom') throw outOfMemoryError(r, `the page-cache folio for page ${index} of inode ${inode.ino}`);
        if (r.kind !== 'ok') throw new Error(`filemap_fault: cannot add page ${index} of inode ${inode.ino} (${r.kind})`);
        folio = r.folio;
      }
    }
    if (unlocked) return { kind: 'retry', major };
    return faultLocked(k, folio, major);
  } finally {
    calls.leave();
  }
}

/**
 * filemap_map_pages (fault-around): map the cached, uptodate folios of [startPgoff, endPgoff]
 * that are not readahead markers (a marker must be faulted on to start the next window), one
 * set_pte_range per run of none PTEs inside a folio. Returns true when the faulting page got
 * mapped (VM_FAULT_NOPAGE).
 */
export function filemapMapPages(vmf: VmFault, startPgoff: number, endPgoffIn: number): boolean {
  const k = vmf.k;
  const vma = vmf.vma;
  const inode = vma.file!;
  const calls = k.telemetry.calls;
  calls.enter('filemap_map_pages');
  try {
    const lastPage = Math.ceil(inode.size / PAGE_SIZE) - 1;
    const endPgoff = Math.min(endPgoffIn, lastPage);
    if (endPgoff < startPgoff) return false;
    // PTE address of page `pgoff` of the VMA: the window lies in the faulting PTE table.
    const ptepOf = (pgoff: number): number => vmf.ptep + (pgoff - vmf.pgoff) * 8;
    let mapped = false;
    let visited = 0;
    const folios: Folio[] = [];
    inode.mapping.forEachFolio(startPgoff, endPgoff + 1, (f) => folios.push(f));
    for (const folio of folios) {
      if (!folio.uptodate || folio.readahead) continue;
      let from = Math.max(startPgoff, folio.index);
      let to = Math.min(endPgoff, folio.index + folio.nrPages - 1);
      if (folio.nrPages > 1) {
        if (k.policy.fault_around_whole_folio && wholeFolioFits(vmf, folio, lastPage)) {
          // 7.x filemap_map_folio_range: map the whole folio when it cannot stray outside the
          // file, the VMA or this PTE table.
          from = folio.index;
          to = folio.index + folio.nrPages - 1;
        }
      }
      visited += to - from + 1;
      let runStart = -1;
      for (let p = from; p <= to + 1; p++) {
        const none = p <= to && pteRangeNone(k, ptepOf(p), 1);
        if (none) {
          if (runStart < 0) runStart = p;
          continue;
        }
        if (runStart >= 0) {
          const nr = p - runStart;
          const addr = vma.start + (runStart - vma.pgoff) * PAGE_SIZE;
          setPteRange(vmf, folio, folio.firstPfn + (runStart - folio.index), nr, addr, ptepOf(runStart), nr);
          const hit = vmf.pgoff >= runStart && vmf.pgoff < p;
          if (hit) mapped = true;
          k.mmStats.fault_around_pages += hit ? nr - 1 : nr;
          runStart = -1;
        }
      }
    }
    updateMmapMiss(vmf, inode, visited, mapped);
    return mapped;
  } finally {
    calls.leave();
  }
}

/**
 * The 7.x widening condition of filemap_map_folio_range (7.2.13 mm/filemap.c): the folio is
 * within i_size (or shmem), the VMA and one PMD. The i_size test compares `file_end`, the index
 * of the file's *last page*, with the folio's next index (`file_end >= folio_next_index`), so a
 * folio that ends exactly on the last page fails it and is mapped only inside the fault-around
 * window. A file written with write() usually ends in such a folio.
 */
function wholeFolioFits(vmf: VmFault, folio: Folio, lastPage: number): boolean {
  const vma = vmf.vma;
  const isShmem = vma.file!.fsType === 'tmpfs';
  if (!isShmem && !(lastPage >= folio.index + folio.nrPages)) return false;
  const start = vma.start + (folio.index - vma.pgoff) * PAGE_SIZE;
  const end = start + folio.nrPages * PAGE_SIZE;
  if (folio.index < vma.pgoff || start < vma.start || end > vma.end) return false;
  return Math.floor(start / PMD_SIZE) === Math.floor((end - 1) / PMD_SIZE);
}

/**
 * mmap_miss after fault-around: 6.x subtracts the pages walked (folios not in the workingset,
 * which is all of them here); 7.x counts one hit when fault-around mapped the faulting page.
 */
export function updateMmapMiss(vmf: VmFault, inode: Inode, visited: number, mapped: boolean): void {
  const k = vmf.k;
  if (inode.fsType === 'tmpfs') return;
  const ra = k.raState(inode);
  if (k.policy.readahead === 'v72') {
    if (mapped && !vmf.tried && ra.mmapMiss > 0) ra.mmapMiss--;
    return;
  }
  ra.mmapMiss -= Math.min(ra.mmapMiss, visited);
}

/**
 * The fault-around window of do_fault_around (mm/memory.c, identical in 6.12 and 7.2): the
 * naturally aligned `nr` pages around the fault, clipped to the VMA and to the PTE table; as
 * page offsets [start, end].
 */
export function faultAroundWindow(vmf: VmFault, nr: number): { start: number; end: number } {
  const vma = vmf.vma;
  const pteOff = Math.floor(vmf.address / PAGE_SIZE) % PTRS_PER_PTE;
  const vmaOff = vmf.pgoff - vma.pgoff;
  const fromPte = Math.max(pteOff - (pteOff % nr), pteOff - Math.min(pteOff, vmaOff));
  const toPte = Math.min(fromPte + nr, PTRS_PER_PTE, pteOff + vma.pages - vmaOff) - 1;
  return { start: vmf.pgoff + fromPte - pteOff, end: vmf.pgoff + toPte - pteOff };
}
