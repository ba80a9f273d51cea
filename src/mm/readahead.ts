/**
 * File readahead as the page-fault path drives it: the mmap read-around on a page-cache miss,
 * the asynchronous window started when a fault hits a PG_readahead folio, and the folio orders
 * each window is built from. Three versions, because the folio structure a sparse file gets
 * differs between them (kernel-notes §1):
 *
 * - `v69`: mm/readahead.c of v6.9 (ondemand_readahead; page_cache_ra_order adds 2 to the order
 *   it is given and never uses order 1, the "do not allow order-1 folio" fix of v6.9-rc). The
 *   PG_readahead mark is rounded *down* to the folio ("readahead: avoid multiple marked readahead
 *   pages", v6.8), where kernel-notes §1.3 remembers round_up: both agree on every aligned mark.
 * - `v612`: Debian 6.12.117 (page_cache_async_ra with the marker folio's order; the read-around
 *   passes order 0 which page_cache_ra_order raises to 2).
 * - `v72`: Debian 7.2.13 (the order lives in file_ra_state; read-around at order 0, +2 per async
 *   window; a window that reaches EOF carries no marker).
 *
 * Readahead state is per inode here (Linux keeps it per open file, `file->f_ra`): the process
 * layer's mmap request names only the inode. Every stream in the model opens a file once, so the
 * two agree (a documented deviation otherwise).
 *
 * Reads complete at once (no I/O model): folios are added uptodate, zero-filled for holes.
 */
import type { Folio } from './folio.js';
import type { AddressSpace } from './pagecache.js';
import type { ReadaheadVariant } from './knobs.js';
import type { MmStats } from './stats.js';
import { bump } from '../trace/stats.js';
import { ORDER_KEYS } from './buddy.js';
import { PAGE_SIZE } from '../mmu/physmem.js';
import { MAX_PAGECACHE_ORDER } from './pagecache.js';

/** MMAP_LOTSAMISS: beyond this many misses without hits, mmap readahead gives up. */
export const MMAP_LOTSAMISS = 100;

/** struct file_ra_state. */
export class FileRaState {
  start = 0;
  size = 0;
  asyncSize = 0;
  /** Misses minus hits of mmap faults (capped at 10 * MMAP_LOTSAMISS). */
  mmapMiss = 0;
  /** Last byte read by read(2); -1 for none (faults do not move it). */
  prevPos = -1;
  /** The folio order of the last window (v7.x keeps it here). */
  order = 0;

  constructor(
    /** ra_pages: the block device's read_ahead_kb in pages. */
    public raPages: number,
  ) {}
}

/** What readahead works on: one file's page cache, its state and the counters. */
export interface RaContext {
  readonly mapping: AddressSpace;
  readonly ra: FileRaState;
  readonly variant: ReadaheadVariant;
  readonly stats: MmStats;
}

/** The VMA flags readahead looks at (VM_SEQ_READ / VM_RAND_READ from madvise). */
export const VM_SEQ_READ = 0x8000;
export const VM_RAND_READ = 0x10000;

/** get_next_ra_size: ramp the window up quickly while small, then double, up to max. */
export function getNextRaSize(cur: number, max: number): number {
  if (cur < max / 16) return 4 * cur;
  if (cur <= max / 2) return 2 * cur;
  return max;
}

/** get_init_ra_size: the first window of a sequential stream. */
export function getInitRaSize(size: number, max: number): number {
  let n = 1;
  while (n < size) n *= 2;
  if (n <= max / 32) return n * 4;
  if (n <= max / 4) return n * 2;
  return max;
}

/** __ffs: index of the lowest set bit (index > 0). */
function ffs(index: number): number {
  let n = 0;
  let i = index;
  while (i % 2 === 0) {
    i /= 2;
    n++;
  }
  return n;
}

function ilog2(n: number): number {
  return Math.floor(Math.log2(n));
}

function roundDown(n: number, align: number): number {
  return n - (n % align);
}

/** The last page index below i_size, or -1 for an empty file. */
function lastIndex(mapping: AddressSpace): number {
  const size = mapping.host.size;
  return size === 0 ? -1 : Math.floor((size - 1) / PAGE_SIZE);
}

/** page_cache_next_miss: the first index in [index, index + maxScan) with nothing cached, or index + maxScan. */
export function pageCacheNextMiss(mapping: AddressSpace, index: number, maxScan: number): number {
  for (let i = 0; i < maxScan; i++) if (mapping.lookup(index + i) === null) return index + i;
  return index + maxScan;
}

/** page_cache_prev_miss: the first index at or below `index` with nothing cached, or index - maxScan (-1 for "before 0"). */
function pageCachePrevMiss(mapping: AddressSpace, index: number, maxScan: number): number {
  for (let i = 0; i < maxScan; i++) {
    if (index - i < 0) return -1;
    if (mapping.lookup(index - i) === null) return index - i;
  }
  return index - maxScan;
}

type AllocErr = 'ok' | 'exists' | 'oom';

/** ra_alloc_folio: one folio of `order` at `index`, marked PG_readahead when it holds `mark`. */
function raAllocFolio(ctx: RaContext, index: number, mark: number | null, order: number): AllocErr {
  const r = ctx.mapping.addFolioAt(index, order);
  switch (r.kind) {
    case 'ok':
      if (mark !== null && index === roundDown(mark, 2 ** order)) r.folio.readahead = true;
      bump(ctx.stats.ra_folios_by_order, ORDER_KEYS[order]!);
      return 'ok';
    case 'oom':
      return 'oom';
    case 'exists':
    case 'misaligned':
    case 'order_too_large':
      return 'exists';
    default: {
      const never: never = r;
      throw new Error(`unexpected ${String(never)}`);
    }
  }
}

/**
 * page_cache_ra_unbounded: order-0 folios for [index, index + nr), skipping cached pages, with
 * the marker on the page `lookahead` before the end.
 */
function pageCacheRaUnbounded(ctx: RaContext, index: number, nr: number, lookahead: number): void {
  const mark = lookahead > 0 && lookahead <= nr ? nr - lookahead : -1;
  for (let i = 0; i < nr; i++) {
    if (ctx.mapping.lookup(index + i) !== null) continue;
    const r = raAllocFolio(ctx, index + i, i === mark ? index + i : null, 0);
    if (r === 'oom') break;
  }
}

/** do_page_cache_ra: page_cache_ra_unbounded clipped at end of file. */
function doPageCacheRa(ctx: RaContext, index: number, nrIn: number, lookaheadIn: number): void {
  const end = lastIndex(ctx.mapping);
  if (end < 0 || index > end) return;
  let nr = nrIn;
  let lookahead = lookaheadIn;
  if (nr > end - index) {
    nr = end - index + 1;
    // 7.x drops the marker of a window clipped at EOF (kernel-notes §1.3).
    if (ctx.variant === 'v72') lookahead = 0;
  }
  pageCacheRaUnbounded(ctx, index, nr, lookahead);
}

/**
 * page_cache_ra_order: build the window [ra.start, ra.start + ra.size) from naturally aligned
 * folios of the order the version picks, lowered for alignment and to stay inside the window
 * and the file; fall back to order-0 readahead when large folios are not possible or a folio
 * is already cached in the window.
 */
export function pageCacheRaOrder(ctx: RaContext, newOrderIn: number): void {
  const { mapping, ra } = ctx;
  const start = ra.start;
  let index = start;
  const eof = lastIndex(mapping);
  const maxOrder = Math.min(mapping.maxOrder, MAX_PAGECACHE_ORDER);
  switch (ctx.variant) {
    case 'v69': {
      // follows mm/readahead.c (v6.9) page_cache_ra_order
      const mark = start + ra.size - ra.asyncSize;
      if (!mapping.largeFolios || ra.size < 4) {
        doPageCacheRa(ctx, index, ra.size, ra.asyncSize);
        return;
      }
      const limit = Math.min(eof, start + ra.size - 1);
      let newOrder = newOrderIn;
      if (newOrder < MAX_PAGECACHE_ORDER) {
        newOrder = Math.min(newOrder + 2, MAX_PAGECACHE_ORDER, ilog2(ra.size));
      }
      // v6.9 has no per-mapping maximum; the model's mapping may still cap it (file_max_order).
      newOrder = Math.min(newOrder, maxOrder);
      let err: AllocErr = 'ok';
      while (index <= limit) {
        let order = newOrder;
        if (index % 2 ** order !== 0) {
          order = ffs(index);
          if (order === 1) order = 0;
        }
        while (index + 2 ** order - 1 > limit) {
          if (--order === 1) order = 0;
        }
        err = raAllocFolio(ctx, index, mark, order);
        if (err !== 'ok') break;
        index += 2 ** order;
      }
      if (err === 'ok') return;
      doPageCacheRa(ctx, index, ra.size, ra.asyncSize);
      return;
    }
    case 'v612': {
      // follows Debian 6.12.117 mm/readahead.c page_cache_ra_order
      const mark = start + ra.size - ra.asyncSize;
      if (!mapping.largeFolios || ra.size < 4) {
        doPageCacheRa(ctx, index, ra.size, ra.asyncSize);
        return;
      }
      const limit = Math.min(eof, start + ra.size - 1);
      let newOrder = newOrderIn;
      if (newOrder < maxOrder) newOrder += 2;
      newOrder = Math.max(0, Math.min(newOrder, maxOrder, ilog2(ra.size)));
      const err = allocWindow(ctx, index, limit, mark, newOrder);
      if (err.err === 'ok') return;
      // The pre-2025 fallback reads the whole window size again from where it stopped.
      doPageCacheRa(ctx, err.index, ra.size, ra.asyncSize);
      return;
    }
    case 'v72': {
      // follows Debian 7.2.13 mm/readahead.c page_cache_ra_order
      if (!mapping.largeFolios) {
        ra.order = 0;
        doPageCacheRa(ctx, index, ra.size, ra.asyncSize);
        return;
      }
      let limit = eof;
      let mark: number | null = null;
      if (limit > start + ra.size - 1) {
        limit = start + ra.size - 1;
        mark = start + ra.size - ra.asyncSize;
      }
      let newOrder = Math.min(ra.order, maxOrder);
      newOrder = Math.max(0, Math.min(newOrder, ilog2(ra.size)));
      ra.order = newOrder;
      const err = allocWindow(ctx, index, limit, mark, newOrder);
      if (err.err === 'ok') return;
      index = err.index;
      if (ra.size > index - start) doPageCacheRa(ctx, index, ra.size - (index - start), ra.asyncSize);
      return;
    }
    default: {
      const never: never = ctx.variant;
      throw new Error(`unknown readahead variant ${String(never)}`);
    }
  }
}

/** The allocation loop of 6.10+ page_cache_ra_order: alignment, then EOF/window trimming. */
function allocWindow(ctx: RaContext, from: number, limit: number, mark: number | null, newOrder: number): { err: AllocErr; index: number } {
  let index = from;
  while (index <= limit) {
    let order = newOrder;
    if (index % 2 ** order !== 0) order = ffs(index);
    while (order > 0 && index + 2 ** order - 1 > limit) order--;
    const err = raAllocFolio(ctx, index, mark, order);
    if (err !== 'ok') return { err, index };
    index += 2 ** order;
  }
  return { err: 'ok', index };
}

/**
 * The asynchronous readahead a fault on a PG_readahead folio starts (page_cache_async_ra; in
 * v6.9 through ondemand_readahead). `index` is the faulting page's index.
 */
export function pageCacheAsyncRa(ctx: RaContext, folio: Folio, index: number, reqCount: number): void {
  const { ra, mapping } = ctx;
  if (ra.raPages === 0) return;
  folio.readahead = false;
  ctx.stats.ra_async++;
  const max = ra.raPages;
  switch (ctx.variant) {
    case 'v69':
      ondemandReadahead(ctx, folio, index, reqCount);
      return;
    case 'v612': {
      // follows Debian 6.12.117 mm/readahead.c page_cache_async_ra
      const expected = roundDown(ra.start + ra.size - ra.asyncSize, folio.nrPages);
      if (index === expected) {
        ra.start += ra.size;
        ra.size = Math.max(ra.size, getNextRaSize(ra.size, max));
        ra.asyncSize = ra.size;
      } else {
        const start = pageCacheNextMiss(mapping, index + 1, max);
        if (start === 0 || start - index > max) return;
        ra.start = start;
        ra.size = getNextRaSize(start - index + reqCount, max);
        ra.asyncSize = ra.size;
      }
      pageCacheRaOrder(ctx, folio.order);
      return;
    }
    case 'v72': {
      // follows Debian 7.2.13 mm/readahead.c page_cache_async_ra
      const expected = roundDown(ra.start + ra.size - ra.asyncSize, folio.nrPages);
      if (index === expected) {
        ra.start += ra.size;
        ra.size = Math.max(ra.size, getNextRaSize(ra.size, max));
      } else {
        const start = pageCacheNextMiss(mapping, index + 1, max);
        if (start === 0 || start - index > max) return;
        ra.start = start;
        ra.size = getNextRaSize(start - index + reqCount, max);
      }
      ra.order += 2;
      // Keep the window end aligned to the folio size the window will use.
      const align = 2 ** Math.min(ra.order, ffs(max));
      const end = ra.start + ra.size;
      const alignedEnd = roundDown(end, align);
      if (alignedEnd > ra.start) ra.size -= end - alignedEnd;
      ra.asyncSize = ra.size;
      pageCacheRaOrder(ctx, ra.order);
      return;
    }
    default: {
      const never: never = ctx.variant;
      throw new Error(`unknown readahead variant ${String(never)}`);
    }
  }
}

/** v6.9 ondemand_readahead (mm/readahead.c), for both the sync (folio null) and async paths. */
function ondemandReadahead(ctx: RaContext, folio: Folio | null, index: number, reqSize: number): void {
  const { ra, mapping } = ctx;
  const max = ra.raPages;
  const order = folio !== null ? folio.order : 0;
  let initial = index === 0;
  if (!initial) {
    const expected = roundDown(ra.start + ra.size - ra.asyncSize, 2 ** order);
    if (index === expected || index === ra.start + ra.size) {
      ra.start += ra.size;
      ra.size = getNextRaSize(ra.size, max);
      ra.asyncSize = ra.size;
      return readit(ctx, index, order);
    }
    if (folio !== null) {
      const start = pageCacheNextMiss(mapping, index + 1, max);
      if (start === 0 || start - index > max) return;
      ra.start = start;
      ra.size = getNextRaSize(start - index + reqSize, max);
      ra.asyncSize = ra.size;
      return readit(ctx, index, order);
    }
    if (reqSize > max) initial = true;
    else if (ra.prevPos >= 0 && index - Math.floor(ra.prevPos / PAGE_SIZE) >= 0 && index - Math.floor(ra.prevPos / PAGE_SIZE) <= 1) initial = true;
    else {
      // try_context_readahead: a run of cached pages just before index means a stream.
      const miss = pageCachePrevMiss(mapping, index - 1, max);
      let history = index - 1 - miss;
      if (history > reqSize) {
        if (history >= index) history *= 2;
        ra.start = index;
        ra.size = Math.min(history + reqSize, max);
        ra.asyncSize = 1;
        return readit(ctx, index, order);
      }
      doPageCacheRa(ctx, index, reqSize, 0);
      return;
    }
  }
  ra.start = index;
  ra.size = getInitRaSize(reqSize, max);
  ra.asyncSize = ra.size > reqSize ? ra.size - reqSize : ra.size;
  readit(ctx, index, order);
}

function readit(ctx: RaContext, index: number, order: number): void {
  const { ra } = ctx;
  const max = ra.raPages;
  // A window started at the faulting index: add an async part so the stream keeps going.
  if (index === ra.start && ra.size === ra.asyncSize) {
    const add = getNextRaSize(ra.size, max);
    if (ra.size + add <= max) {
      ra.asyncSize = add;
      ra.size += add;
    } else {
      ra.size = max;
      ra.asyncSize = max >> 1;
    }
  }
  pageCacheRaOrder(ctx, order);
}

/** page_cache_sync_ra for a VM_SEQ_READ mapping: a sequential stream starting at `index`. */
export function pageCacheSyncRa(ctx: RaContext, index: number, reqCount: number): void {
  const { ra } = ctx;
  ctx.stats.ra_sync++;
  if (ctx.variant === 'v69') {
    ondemandReadahead(ctx, null, index, reqCount);
    return;
  }
  // 6.10+ page_cache_sync_ra: the initial window of a sequential stream.
  const max = ra.raPages;
  ra.start = index;
  ra.size = getInitRaSize(reqCount, max);
  ra.asyncSize = ra.size > reqCount ? ra.size - reqCount : ra.size;
  if (ctx.variant === 'v72') ra.order = 0;
  pageCacheRaOrder(ctx, 0);
}

/** The mmap read-around of do_sync_mmap_readahead: a window of ra_pages centred on the miss. */
function mmapReadAround(ctx: RaContext, pgoff: number): void {
  const { ra } = ctx;
  ctx.stats.ra_sync++;
  ra.start = Math.max(0, pgoff - Math.floor(ra.raPages / 2));
  ra.size = ra.raPages;
  ra.asyncSize = Math.floor(ra.raPages / 4);
  if (ctx.variant === 'v72') ra.order = 0;
  pageCacheRaOrder(ctx, 0);
}

/**
 * do_sync_mmap_readahead (mm/filemap.c): on a page-cache miss. Returns true when it dropped the
 * fault lock to read (maybe_unlock_mmap_for_io), so the fault must be retried.
 */
export function doSyncMmapReadahead(ctx: RaContext, vmFlags: number, pgoff: number): boolean {
  const { ra } = ctx;
  if (ra.raPages === 0) return false;
  if (vmFlags & VM_RAND_READ) return false;
  if (vmFlags & VM_SEQ_READ) {
    pageCacheSyncRa(ctx, pgoff, ra.raPages);
    return true;
  }
  if (ra.mmapMiss < MMAP_LOTSAMISS * 10) ra.mmapMiss++;
  if (ra.mmapMiss > MMAP_LOTSAMISS) return false;
  mmapReadAround(ctx, pgoff);
  return true;
}

/**
 * do_async_mmap_readahead (mm/filemap.c): on a page-cache hit. A hit counts against mmap_miss;
 * a PG_readahead folio starts the next window (and drops the fault lock: retry).
 */
export function doAsyncMmapReadahead(ctx: RaContext, vmFlags: number, folio: Folio, pgoff: number): boolean {
  const { ra } = ctx;
  if (vmFlags & VM_RAND_READ || ra.raPages === 0) return false;
  // 7.x leaves mmap_miss alone for sequential mappings (and locked folios, never seen here).
  if (!(ctx.variant === 'v72' && vmFlags & VM_SEQ_READ) && ra.mmapMiss > 0) ra.mmapMiss--;
  if (!folio.readahead) return false;
  pageCacheAsyncRa(ctx, folio, pgoff, ra.raPages);
  return true;
}

/** force_page_cache_ra (MADV_WILLNEED): order-0 readahead of up to ra_pages from `index`, in 2 MiB chunks. */
export function forcePageCacheRa(ctx: RaContext, index: number, nrToRead: number): void {
  let nr = Math.min(nrToRead, ctx.ra.raPages);
  let i = index;
  while (nr > 0) {
    const chunk = Math.min(512, nr);
    doPageCacheRa(ctx, i, chunk, 0);
    i += chunk;
    nr -= chunk;
  }
}
