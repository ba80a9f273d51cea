/**
 * msync (mm/msync.c, 6.9 to 7.2) and the writeback it starts. MS_ASYNC does nothing since 2.6.19
 * (dirty pages are tracked anyway); MS_INVALIDATE only refuses locked VMAs; MS_SYNC fsyncs the
 * file range behind every shared file VMA of the range (vfs_fsync_range). A hole is ENOMEM, at
 * once for plain MS_ASYNC, at the end otherwise.
 *
 * Writeback of a dirty page-cache folio (folio_clear_dirty_for_io → folio_mkclean, mm/rmap.c):
 * every shared mapping of it, in every process, gets its dirty or writable PTEs cleaned with
 * page_vma_mkclean_one: ptep_clear_flush (a contiguous block unfolds at its first PTE; every
 * valid PTE is flushed), then set_pte_at of the write-protected, clean entry (the 16th of a block
 * may fold it again). The next write is a write-protect fault (->page_mkwrite). tmpfs and shmem
 * have nothing to write back (noop_fsync).
 */
import { EBUSY, EINVAL, ENOMEM } from '../util/errno.js';
import { PAGE_SIZE } from '../mmu/physmem.js';
import { pteDirty, pteMkclean, pteNone, ptePfn, pteWrite, pteWrprotect } from '../pgtable/pte.js';
import type { Folio } from './folio.js';
import type { Inode } from './inode.js';
import type { MmKernel } from './kernel.js';
import type { Process } from './process.js';
import { VM_LOCKED, VM_SHARED } from './vma.js';

export const MS_ASYNC = 1;
export const MS_INVALIDATE = 2;
export const MS_SYNC = 4;

export function doMsync(mm: Process, startIn: number, lenIn: number, flags: number): number {
  if (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) return -EINVAL;
  if (startIn % PAGE_SIZE !== 0) return -EINVAL;
  if (flags & MS_ASYNC && flags & MS_SYNC) return -EINVAL;
  const len = Math.ceil(lenIn / PAGE_SIZE) * PAGE_SIZE;
  let start = startIn;
  const end = start + len;
  if (!Number.isSafeInteger(end) || end < start) return -ENOMEM;
  if (end === start) return 0;
  const k = mm.kernel;
  return k.telemetry.calls.within('msync', () => {
    let unmappedError = 0;
    let vma = mm.vmas.findVma(start);
    for (;;) {
      if (vma === null) return -ENOMEM;
      if (start < vma.start) {
        if (flags === MS_ASYNC) return -ENOMEM;
        start = vma.start;
        if (start >= end) return -ENOMEM;
        unmappedError = -ENOMEM;
      }
      if (flags & MS_INVALIDATE && vma.flags & VM_LOCKED) return -EBUSY;
      const fstart = start - vma.start + vma.pgoff * PAGE_SIZE;
      const fend = fstart + (Math.min(end, vma.end) - start) - 1;
      const file = vma.file;
      start = vma.end;
      if (flags & MS_SYNC && file !== null && vma.flags & VM_SHARED) fsyncRange(k, file, fstart, fend);
      if (start >= end) return unmappedError;
      vma = mm.vmas.findVma(start);
    }
  });
}

/** vfs_fsync_range: write back the dirty folios of [fstart, fend] (bytes, inclusive). */
export function fsyncRange(k: MmKernel, inode: Inode, fstart: number, fend: number): void {
  if (inode.fsType === 'tmpfs') return;
  const calls = k.telemetry.calls;
  calls.enter('vfs_fsync_range');
  try {
    for (const folio of inode.mapping.foliosInRange(Math.floor(fstart / PAGE_SIZE), Math.floor(fend / PAGE_SIZE) + 1)) {
      if (!folio.dirty) continue;
      folioMkclean(k, inode, folio);
      folio.dirty = false;
      k.mmStats.writeback_folios++;
    }
  } finally {
    calls.leave();
  }
}

/** folio_mkclean: page_vma_mkclean_one on every shared mapping of the folio. */
function folioMkclean(k: MmKernel, inode: Inode, folio: Folio): void {
  const calls = k.telemetry.calls;
  calls.enter('folio_mkclean');
  try {
    const api = k.pgtable.ptep;
    for (const p of k.liveProcesses) {
      for (const vma of p.vmas.all()) {
        if (vma.file !== inode || !(vma.flags & VM_SHARED)) continue;
        const first = Math.max(folio.index, vma.pgoff);
        const last = Math.min(folio.index + folio.nrPages, vma.pgoff + vma.pages);
        for (let idx = first; idx < last; idx++) {
          const addr = vma.start + (idx - vma.pgoff) * PAGE_SIZE;
          const ptep = k.pgtable.tables.pteOffsetMap(p, addr);
          if (ptep === undefined) continue;
          const pte = api.ptepGet(ptep);
          if (pteNone(pte) || ptePfn(pte) !== folio.firstPfn + (idx - folio.index)) continue;
          if (!pteDirty(pte) && !pteWrite(pte)) continue;
          const old = api.ptepClearFlush(p, addr, ptep);
          api.setPteAt(p, addr, ptep, pteMkclean(pteWrprotect(old)));
        }
      }
    }
  } finally {
    calls.leave();
  }
}
