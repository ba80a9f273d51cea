/**
 * The page-cache side of fallocate's hole modes, per file system (v6.12):
 * - tmpfs, FALLOC_FL_PUNCH_HOLE (mm/shmem.c shmem_fallocate): the pages wholly inside the hole
 *   are unmapped once, keeping private copy-on-write copies, then shmem_truncate_range drops
 *   them from the cache and zeroes the covered part of the pages at either end.
 * - ext4, FALLOC_FL_PUNCH_HOLE (fs/ext4/inode.c ext4_punch_hole): nothing beyond i_size; a hole
 *   past it ends at i_size rounded up to a page. truncate_pagecache_range (mm/truncate.c)
 *   unmaps and drops the same way, then ext4_zero_partial_blocks zeroes the partial blocks at the
 *   ends through the page cache, reading a block in if it is not cached (4 KiB blocks: one page
 *   each), and the blocks in between are freed.
 * - ext4, FALLOC_FL_ZERO_RANGE (fs/ext4/extents.c ext4_zero_range): the same page-cache work
 *   over the range, whose blocks become unwritten extents (reading zeros); the size grows to
 *   cover it unless FALLOC_FL_KEEP_SIZE.
 * Large folios straddling an end keep their place with the covered part zeroed, as truncation
 * does in the model (truncate_inode_pages_range: Linux tries to split them).
 */
import { PAGE_SIZE } from '../mmu/physmem.js';
import type { Inode } from './inode.js';
import { truncateInodePagesRange, type UnmapMappingRange } from './pagecache.js';

export type HoleResult = { kind: 'ok' } | { kind: 'oom' };

/** shmem_fallocate's FALLOC_FL_PUNCH_HOLE branch for bytes [offset, offset + len). */
export function shmemPunchHole(inode: Inode, offset: number, len: number, unmap: UnmapMappingRange | undefined): HoleResult {
  truncatePagecacheRange(inode, offset, offset + len, unmap);
  zeroBacking(inode, offset, offset + len);
  return { kind: 'ok' };
}

/** ext4_punch_hole for bytes [offset, offset + len); i_size does not change. */
export function ext4PunchHole(inode: Inode, offset: number, len: number, unmap: UnmapMappingRange | undefined): HoleResult {
  if (offset >= inode.size) return { kind: 'ok' };
  const end = Math.min(offset + len, Math.ceil(inode.size / PAGE_SIZE) * PAGE_SIZE);
  return ext4ClearRange(inode, offset, end, unmap);
}

/** ext4_zero_range for bytes [offset, offset + len); the caller grows i_size unless KEEP_SIZE. */
export function ext4ZeroRange(inode: Inode, offset: number, len: number, unmap: UnmapMappingRange | undefined): HoleResult {
  return ext4ClearRange(inode, offset, offset + len, unmap);
}

/** What both ext4 modes do to the page cache and the blocks of [start, end). */
function ext4ClearRange(inode: Inode, start: number, end: number, unmap: UnmapMappingRange | undefined): HoleResult {
  truncatePagecacheRange(inode, start, end, unmap);
  // ext4_zero_partial_blocks: the block holding each unaligned end is read into the cache (if it
  // is not there) and its covered part zeroed; an end past i_size has no block to zero.
  const partial = [start, end].filter((at) => at % PAGE_SIZE !== 0 && at < inode.size);
  const blocks = new Set(partial.map((at) => Math.floor(at / PAGE_SIZE)));
  for (const index of blocks) {
    let folio = inode.mapping.lookup(index);
    if (folio === null) {
      const r = inode.mapping.addFolioAt(index, 0);
      if (r.kind === 'oom') return { kind: 'oom' };
      if (r.kind !== 'ok') throw new Error(`ext4 zero_partial_blocks: cannot cache block ${index} (${r.kind})`);
      folio = r.folio;
    }
    const blockStart = index * PAGE_SIZE;
    const from = Math.max(start, blockStart);
    const to = Math.min(end, blockStart + PAGE_SIZE);
    inode.mapping.cache.memmap.mem.zero(folio.pa + (from - folio.index * PAGE_SIZE), to - from);
    folio.dirty = true;
  }
  zeroBacking(inode, start, end);
  return { kind: 'ok' };
}

/**
 * truncate_pagecache_range: unmap the pages wholly inside [start, end), keeping private
 * copy-on-write copies, then drop them from the cache and zero the covered part of the others.
 */
function truncatePagecacheRange(inode: Inode, start: number, end: number, unmap: UnmapMappingRange | undefined): void {
  const unmapStart = Math.ceil(start / PAGE_SIZE) * PAGE_SIZE;
  const unmapEnd = Math.floor(end / PAGE_SIZE) * PAGE_SIZE;
  if (unmapEnd > unmapStart) unmap?.(inode, unmapStart, unmapEnd - unmapStart, false);
  truncateInodePagesRange(inode.mapping, start, end);
}

/** The freed (or unwritten) blocks read as zeros: the backing bytes of [start, end) become 0. */
function zeroBacking(inode: Inode, start: number, end: number): void {
  const content = inode.content;
  if (content === null || start >= content.length) return;
  // The backing bytes may be shared with the host's copy of the file: write to our own copy.
  const own = content.slice();
  own.fill(0, start, Math.min(end, own.length));
  inode.content = own;
}
