/**
 * The page cache: per file, page index → folio (Linux's address_space and its xarray), and the
 * byte-copy paths of read(), write() and ftruncate() (mm/filemap.c and mm/truncate.c, v6.9+).
 *
 * Storage: a table of 512-slot chunks keyed by index / 512, with the last chunk used kept at
 * hand. A lookup is one division, usually no map access, and one array read; every page of a
 * large folio has its slot, like a multi-index xarray entry. Folios are at most order 9
 * (MAX_PAGECACHE_ORDER) and naturally aligned in the file, so a folio never spans two chunks.
 *
 * Which folio orders get created is decided by callers: the fault code's readahead policy calls
 * `addFolioAt(index, order)`, and `filemapWrite` takes a write-miss policy. The primitive refuses
 * misaligned, overlapping and too-large requests with a typed result, so a policy cannot corrupt
 * the cache.
 *
 * Deviations, all on paths page_fault3 does not take:
 * - `filemapRead` copies holes and never-cached ranges from the backing bytes (or zeros) without
 *   allocating. Linux's filemap_read populates the cache through readahead (tmpfs does not for
 *   holes: shmem reads them from the zero page).
 * - Truncation zeroes the part of a large folio beyond the new end of file but does not split the
 *   folio (Linux tries split_folio in truncate_inode_partial_folio).
 * - Files are limited to 2^52 bytes (MAX_FILE_SIZE) so that offsets stay exact numbers.
 */
import { PAGE_SIZE } from '../mmu/physmem.js';
import { bump, type Tally, type Telemetry } from '../trace/index.js';
import { ORDER_KEYS, type OutOfMemory } from './buddy.js';
import { NO_OWNER, type Folio, type FolioOwner, type Memmap } from './folio.js';
import type { Inode } from './inode.js';

/**
 * Largest page-cache folio: min(PMD order, MAX_XAS_ORDER) = 9 (2 MiB) with 4 KiB pages
 * (include/linux/pagemap.h, v6.9).
 */
export const MAX_PAGECACHE_ORDER = 9;

/** Largest file size the model accepts (Linux allows 2^63 - 1). */
export const MAX_FILE_SIZE = 2 ** 52;

const SLOTS = 512;

/**
 * Order of the folio a write() miss creates:
 * - 'order0': always one page (grab_cache_page_write_begin: ext4 before large folios, most
 *   file systems);
 * - 'write_size': from the bytes being written into this folio-sized chunk, as
 *   __filemap_get_folio(FGP_WRITEBEGIN | fgf_set_order(len)) does (iomap since v6.6, ext4 with
 *   large folios), capped by the mapping's max order and by the index's alignment.
 */
export type WriteMissOrder = 'order0' | 'write_size' | ShmemWriteOrders;

/**
 * A tmpfs write() miss on a mount with huge= (shmem_write_begin → shmem_get_folio with no VMA,
 * mm/shmem.c 6.12 and 7.2): the folio orders shmem_allowable_huge_orders gives without a mapping,
 * i.e. the mount's huge= alone (advise needs a VMA's VM_HUGEPAGE, so it gives none), tried
 * highest first where the aligned range holds nothing yet (shmem_suitable_orders), then order 0.
 */
export interface ShmemWriteOrders {
  readonly kind: 'shmem_huge';
  /** always: every order; within_size: those whose aligned block ends inside max(write end, i_size). */
  readonly huge: 'always' | 'within_size';
  /** The orders huge= may give: the PMD order only (6.12) or every file order (7.2). */
  readonly orders: readonly number[];
}

export type AddFolioResult =
  | { kind: 'ok'; folio: Folio }
  /** The index is not a multiple of the folio's number of pages. */
  | { kind: 'misaligned'; index: number; order: number }
  /** A page of the range is already cached; `index` is the first such page. */
  | { kind: 'exists'; index: number }
  /** The mapping does not take folios this large. */
  | { kind: 'order_too_large'; order: number; maxOrder: number }
  | OutOfMemory;

export type WriteResult =
  | { kind: 'ok'; written: number }
  /** The write starts at or beyond MAX_FILE_SIZE (EFBIG). */
  | { kind: 'efbig' }
  /** No memory for a folio; `written` bytes were written before. */
  | { kind: 'oom'; written: number; order: number };

export type TruncateResult = { kind: 'ok'; removed: Folio[] } | { kind: 'efbig' };

/** The `pagecache` stats group. */
export interface PageCacheStats {
  [key: string]: number | Tally;
  /** Folios inserted, by order, and removed (truncation). */
  folios_added: Tally;
  folios_removed: number;
  /** Bytes copied by filemapRead from folios, and from holes or uncached backing bytes. */
  read_bytes: number;
  read_uncached_bytes: number;
  write_bytes: number;
  /** Folios created by write() misses, by order. */
  write_miss_folios: Tally;
  /** Folios partly beyond a new end of file whose tail was zeroed. */
  truncate_partial: number;
}

/** The machine-wide part of the page cache: the allocator and the counters. */
export class PageCache {
  readonly stats: PageCacheStats;

  constructor(
    readonly memmap: Memmap,
    telemetry: Telemetry,
  ) {
    this.stats = telemetry.stats.register<PageCacheStats>('pagecache', {
      folios_added: {},
      folios_removed: 0,
      read_bytes: 0,
      read_uncached_bytes: 0,
      write_bytes: 0,
      write_miss_folios: {},
      truncate_partial: 0,
    });
  }
}

interface Chunk {
  readonly slots: (Folio | null)[];
  /** Occupied slots. */
  used: number;
}

/** One file's page cache (struct address_space). */
export class AddressSpace {
  /** mapping_max_folio_order(); 0 when the mapping has no large-folio support. */
  readonly maxOrder: number;
  /** Pages and folios cached (mapping->nrpages and a folio count). */
  nrpages = 0;
  nrFolios = 0;
  /** The owner every folio of this cache carries (shared, so adding a folio allocates nothing). */
  readonly owner: FolioOwner;
  private readonly chunks = new Map<number, Chunk>();
  /** NaN matches no key, so a cold cache always goes to the map. */
  private lastKey = NaN;
  private lastChunk: Chunk | null = null;

  constructor(
    readonly host: Inode,
    readonly cache: PageCache,
    maxOrder: number,
  ) {
    if (!(Number.isInteger(maxOrder) && maxOrder >= 0 && maxOrder <= MAX_PAGECACHE_ORDER)) {
      throw new RangeError(`inode ${host.ino}: page-cache max folio order ${maxOrder} is outside 0..${MAX_PAGECACHE_ORDER}`);
    }
    this.maxOrder = maxOrder;
    this.owner = { kind: 'file', mapping: this };
  }

  /** mapping_large_folio_support(). */
  get largeFolios(): boolean {
    return this.maxOrder > 0;
  }

  /** The folio caching page `index`, or null (filemap_get_entry without the reference). */
  lookup(index: number): Folio | null {
    const key = Math.floor(index / SLOTS);
    let chunk = this.lastChunk;
    if (key !== this.lastKey) {
      chunk = this.chunks.get(key) ?? null;
      if (chunk === null) return null;
      this.lastKey = key;
      this.lastChunk = chunk;
    }
    return chunk!.slots[index - key * SLOTS]!;
  }

  /**
   * Inserts a folio the caller allocated at `index` (filemap_add_folio): the cache takes one
   * reference per page; the caller keeps its own.
   */
  addFolio(folio: Folio, index: number): AddFolioResult {
    const refused = this.checkInsert(index, folio.order);
    if (refused !== null) return refused;
    if (folio.owner.kind !== 'none') throw new Error(`pagecache: folio at pfn 0x${folio.firstPfn.toString(16)} already belongs to ${folio.owner.kind} memory`);
    this.insert(folio, index);
    return { kind: 'ok', folio };
  }

  /**
   * Allocates a folio of 2^order pages, fills it from the file (its backing bytes, zeros for
   * holes and beyond them), marks it uptodate and caches it at `index`, as readahead does
   * (ra_alloc_folio + read_folio). Only the cache's references remain on success.
   */
  addFolioAt(index: number, order: number): AddFolioResult {
    const refused = this.checkInsert(index, order);
    if (refused !== null) return refused;
    const memmap = this.cache.memmap;
    const r = memmap.folioAlloc(order);
    if (r.kind !== 'ok') return r;
    const folio = r.folio;
    this.fill(folio, index);
    folio.uptodate = true;
    this.insert(folio, index);
    memmap.folioPut(folio);
    return { kind: 'ok', folio };
  }

  /** Removes a folio from the cache and drops the cache's references (filemap_remove_folio). */
  removeFolio(folio: Folio): void {
    if (folio.owner.kind !== 'file' || folio.owner.mapping !== this) {
      throw new Error(`pagecache: folio at pfn 0x${folio.firstPfn.toString(16)} is not in the page cache of inode ${this.host.ino}`);
    }
    // Linux warns on this too (filemap_unaccount_folio): the pages must be unmapped first.
    if (folio.mapcount > 0) throw new Error(`pagecache: folio at index ${folio.index} of inode ${this.host.ino} is removed while mapped ${folio.mapcount} times`);
    const key = Math.floor(folio.index / SLOTS);
    const chunk = this.chunks.get(key)!;
    const first = folio.index - key * SLOTS;
    chunk.slots.fill(null, first, first + folio.nrPages);
    chunk.used -= folio.nrPages;
    if (chunk.used === 0) {
      this.chunks.delete(key);
      if (this.lastKey === key) {
        this.lastKey = NaN;
        this.lastChunk = null;
      }
    }
    this.nrpages -= folio.nrPages;
    this.nrFolios--;
    folio.owner = NO_OWNER;
    this.cache.stats.folios_removed++;
    this.cache.memmap.folioPutRefs(folio, folio.nrPages);
  }

  /**
   * Calls `fn` once for every cached folio that has a page in [start, end), in index order
   * (the walk of filemap_get_folios / find_lock_entries). `fn` must not change the cache.
   */
  forEachFolio(start: number, end: number, fn: (folio: Folio) => void): void {
    if (end <= start || this.chunks.size === 0) return;
    const firstKey = Math.floor(start / SLOTS);
    const lastKey = Math.floor((end - 1) / SLOTS);
    // A wide sparse range visits only the chunks that exist, in order.
    const keys =
      lastKey - firstKey < 4 * this.chunks.size
        ? null
        : Array.from(this.chunks.keys())
            .filter((k) => k >= firstKey && k <= lastKey)
            .sort((a, b) => a - b);
    let last: Folio | null = null;
    const visit = (key: number): void => {
      const chunk = this.chunks.get(key);
      if (chunk === undefined) return;
      const base = key * SLOTS;
      const from = Math.max(start, base) - base;
      const to = Math.min(end, base + SLOTS) - base;
      for (let i = from; i < to; i++) {
        const f = chunk.slots[i]!;
        if (f !== null && f !== last) {
          last = f;
          fn(f);
        }
      }
    };
    if (keys === null) for (let k = firstKey; k <= lastKey; k++) visit(k);
    else for (const k of keys) visit(k);
  }

  /** The cached folios with a page in [start, end), in index order. */
  foliosInRange(start: number, end: number): Folio[] {
    const out: Folio[] = [];
    this.forEachFolio(start, end, (f) => out.push(f));
    return out;
  }

  private checkInsert(index: number, order: number): AddFolioResult | null {
    if (!(Number.isInteger(order) && order >= 0)) throw new RangeError(`pagecache: bad folio order ${order}`);
    if (!(Number.isSafeInteger(index) && index >= 0 && index < MAX_FILE_SIZE / PAGE_SIZE)) {
      throw new RangeError(`pagecache: page index ${index} is outside the largest file`);
    }
    if (order > this.maxOrder) return { kind: 'order_too_large', order, maxOrder: this.maxOrder };
    const nr = 1 << order;
    if (index % nr !== 0) return { kind: 'misaligned', index, order };
    const key = Math.floor(index / SLOTS);
    const chunk = this.chunks.get(key);
    if (chunk !== undefined) {
      const first = index - key * SLOTS;
      for (let i = first; i < first + nr; i++) {
        if (chunk.slots[i] !== null) return { kind: 'exists', index: key * SLOTS + i };
      }
    }
    return null;
  }

  private insert(folio: Folio, index: number): void {
    const key = Math.floor(index / SLOTS);
    let chunk = this.chunks.get(key);
    if (chunk === undefined) {
      chunk = { slots: new Array<Folio | null>(SLOTS).fill(null), used: 0 };
      this.chunks.set(key, chunk);
    }
    const first = index - key * SLOTS;
    chunk.slots.fill(folio, first, first + folio.nrPages);
    chunk.used += folio.nrPages;
    this.nrpages += folio.nrPages;
    this.nrFolios++;
    folio.owner = this.owner;
    folio.index = index;
    this.cache.memmap.folioRefAdd(folio, folio.nrPages);
    bump(this.cache.stats.folios_added, ORDER_KEYS[folio.order]!);
  }

  /** Reads the folio's range of the file: backing bytes where there are some, zeros elsewhere. */
  private fill(folio: Folio, index: number): void {
    const memmap = this.cache.memmap;
    const start = index * PAGE_SIZE;
    const content = this.host.content;
    const have = content === null ? 0 : Math.max(0, Math.min(content.length - start, folio.size));
    if (have === 0) {
      memmap.folioZero(folio);
      return;
    }
    memmap.mem.write(folio.pa, content!.subarray(start, start + have));
    const tail = folio.size - have;
    if (tail > 0) {
      // Whole pages past the backing bytes count as zeroed pages; the rest of a partial page
      // is part of reading it.
      const partial = (PAGE_SIZE - (have % PAGE_SIZE)) % PAGE_SIZE;
      if (partial > 0) memmap.mem.zero(folio.pa + have, partial);
      const wholePages = (tail - partial) / PAGE_SIZE;
      if (wholePages > 0) memmap.buddy.zero(folio.firstPfn + (have + partial) / PAGE_SIZE, wholePages);
    }
  }
}

/** The folio order fgf_set_order(size) asks for: floor(log2(size)) - PAGE_SHIFT, at least 0. */
export function filemapGetOrder(size: number): number {
  if (size < 2 * PAGE_SIZE) return 0;
  return Math.floor(Math.log2(size)) - 12;
}

/** Index of the lowest set bit of a positive integer index (__ffs). */
function ffs(index: number): number {
  let n = 0;
  while (index % 2 === 0) {
    index /= 2;
    n++;
  }
  return n;
}

/**
 * Copies `len` bytes of the file from `pos` to a new host buffer, stopping at end of file (a
 * short read; empty at or past EOF). Cached folios are read from physical memory; other pages
 * from the backing bytes or as zeros, without allocating (see the deviations above).
 */
export function filemapRead(inode: Inode, pos: number, len: number): Uint8Array {
  if (!(Number.isSafeInteger(pos) && pos >= 0 && Number.isSafeInteger(len) && len >= 0)) {
    throw new RangeError(`filemapRead: bad range pos=${pos} len=${len}`);
  }
  const n = Math.max(0, Math.min(len, inode.size - pos));
  const out = new Uint8Array(n);
  const mapping = inode.mapping;
  const mem = mapping.cache.memmap.mem;
  const stats = mapping.cache.stats;
  let done = 0;
  while (done < n) {
    const p = pos + done;
    const index = Math.floor(p / PAGE_SIZE);
    const folio = mapping.lookup(index);
    if (folio !== null) {
      const off = p - folio.index * PAGE_SIZE;
      const take = Math.min(n - done, folio.size - off);
      out.set(mem.read(folio.pa + off, take), done);
      folio.young = true;
      stats.read_bytes += take;
      done += take;
    } else {
      const take = Math.min(n - done, (index + 1) * PAGE_SIZE - p);
      const content = inode.content;
      if (content !== null && p < content.length) out.set(content.subarray(p, Math.min(p + take, content.length)), done);
      stats.read_uncached_bytes += take;
      done += take;
    }
  }
  return out;
}

/**
 * filemapRead for a caller that copies the bytes out at once (read(2) into user memory): a read
 * inside one cached folio comes back as a view of that folio's memory, not a copy. It must not
 * be kept: the next change of the folio shows through it. (A syscall-bound guest such as
 * will-it-scale's read1 spent a third of its host time allocating and filling the copy.)
 */
export function filemapReadTransient(inode: Inode, pos: number, len: number): Uint8Array {
  if (Number.isSafeInteger(pos) && pos >= 0 && Number.isSafeInteger(len) && len > 0 && pos < inode.size) {
    const n = Math.min(len, inode.size - pos);
    const mapping = inode.mapping;
    const folio = mapping.lookup(Math.floor(pos / PAGE_SIZE));
    if (folio !== null) {
      const off = pos - folio.index * PAGE_SIZE;
      if (off + n <= folio.size) {
        folio.young = true;
        mapping.cache.stats.read_bytes += n;
        return mapping.cache.memmap.mem.read(folio.pa + off, n);
      }
    }
  }
  return filemapRead(inode, pos, len);
}

/**
 * Writes `bytes` at `pos` through the page cache (generic_perform_write), creating folios on
 * misses by `policy`, marking them dirty, and extending i_size.
 */
export function filemapWrite(inode: Inode, pos: number, bytes: Uint8Array, policy: WriteMissOrder): WriteResult {
  if (!(Number.isSafeInteger(pos) && pos >= 0)) throw new RangeError(`filemapWrite: bad position ${pos}`);
  if (bytes.length === 0) return { kind: 'ok', written: 0 };
  if (pos >= MAX_FILE_SIZE) return { kind: 'efbig' };
  const len = Math.min(bytes.length, MAX_FILE_SIZE - pos);
  const mapping = inode.mapping;
  const mem = mapping.cache.memmap.mem;
  const stats = mapping.cache.stats;
  // generic_perform_write works in chunks of the largest folio the mapping can hold.
  const chunk = PAGE_SIZE * 2 ** mapping.maxOrder;
  let written = 0;
  while (written < len) {
    const p = pos + written;
    const want = Math.min(chunk - (p % chunk), len - written);
    const index = Math.floor(p / PAGE_SIZE);
    let folio = mapping.lookup(index);
    if (folio === null) {
      const created = typeof policy === 'string' ? writeMissFolio(mapping, index, want, policy) : shmemWriteMissFolio(inode, index, p + want, policy);
      if (created.kind === 'oom') {
        inode.size = Math.max(inode.size, p);
        return { kind: 'oom', written, order: created.order };
      }
      folio = created.folio;
      bump(stats.write_miss_folios, ORDER_KEYS[folio.order]!);
    }
    const off = p - folio.index * PAGE_SIZE;
    const take = Math.min(want, folio.size - off);
    mem.write(folio.pa + off, bytes.subarray(written, written + take));
    folio.dirty = true;
    folio.young = true;
    written += take;
  }
  stats.write_bytes += written;
  inode.size = Math.max(inode.size, pos + written);
  return { kind: 'ok', written };
}

/**
 * The no_page path of __filemap_get_folio (v6.10+): the requested order, capped by the mapping,
 * lowered to the index's alignment, then smaller orders while the range overlaps cached pages
 * or memory is short.
 */
function writeMissFolio(mapping: AddressSpace, index: number, len: number, policy: 'order0' | 'write_size'): { kind: 'ok'; folio: Folio } | OutOfMemory {
  let order = policy === 'write_size' ? Math.min(filemapGetOrder(len), mapping.maxOrder) : 0;
  if (index % 2 ** order !== 0) order = ffs(index);
  let oom: OutOfMemory | null = null;
  for (; order >= 0; order--) {
    const r = mapping.addFolioAt(index, order);
    switch (r.kind) {
      case 'ok':
        return r;
      case 'oom':
        oom = r;
        break;
      case 'exists':
      case 'misaligned':
      case 'order_too_large':
        break;
      default: {
        const never: never = r;
        throw new Error(`unexpected ${String(never)}`);
      }
    }
  }
  return oom!;
}

/** shmem_get_folio_gfp for a write() miss (see ShmemWriteOrders): the folio holding `index`. */
function shmemWriteMissFolio(inode: Inode, index: number, writeEnd: number, w: ShmemWriteOrders): { kind: 'ok'; folio: Folio } | OutOfMemory {
  const mapping = inode.mapping;
  // shmem_huge_global_enabled (6.12) / shmem_get_orders_within_size (7.2): an order is allowed
  // when the block after the aligned one holding `index` starts inside the larger of the write's
  // end and i_size; every lower order is allowed with it.
  const sizePages = Math.ceil(Math.max(writeEnd, inode.size) / PAGE_SIZE);
  let allowed = w.orders.filter((o) => o <= mapping.maxOrder);
  if (w.huge === 'within_size') {
    const fits = allowed.filter((o) => sizePages >= Math.ceil((index + 1) / 2 ** o) * 2 ** o);
    const top = fits.length > 0 ? Math.max(...fits) : -1;
    allowed = allowed.filter((o) => o <= top);
  }
  let oom: OutOfMemory | null = null;
  for (const order of [...allowed].sort((a, b) => b - a)) {
    const first = index - (index % 2 ** order);
    if (mapping.foliosInRange(first, first + 2 ** order).length > 0) continue;
    const r = mapping.addFolioAt(first, order);
    if (r.kind === 'ok') return r;
    if (r.kind === 'oom') oom = r;
  }
  const r = mapping.addFolioAt(index, 0);
  if (r.kind === 'ok' || r.kind === 'oom') return r;
  if (oom !== null) return oom;
  throw new Error(`pagecache: no order-0 folio can be added at ${index} (${r.kind})`);
}

/**
 * Drops the cached pages from byte `lstart` on (truncate_inode_pages): folios wholly beyond it
 * leave the cache; a folio that straddles it keeps its place with the part beyond zeroed.
 * Returns the removed folios (freed unless someone still holds a reference).
 */
export function truncateInodePages(mapping: AddressSpace, lstart: number): Folio[] {
  return truncateInodePagesRange(mapping, lstart, Number.MAX_SAFE_INTEGER);
}

/**
 * Drops the cached pages of bytes [lstart, lend) (truncate_inode_pages_range, mm/truncate.c
 * v6.12): folios wholly inside leave the cache; a folio that straddles an end keeps its place
 * with the covered part zeroed (truncate_inode_partial_folio; the model does not split it).
 * The caller has unmapped the pages first. Returns the removed folios.
 */
export function truncateInodePagesRange(mapping: AddressSpace, lstart: number, lend: number): Folio[] {
  if (lend <= lstart) return [];
  const victims = mapping.foliosInRange(Math.floor(lstart / PAGE_SIZE), Math.ceil(lend / PAGE_SIZE));
  const removed: Folio[] = [];
  const memmap = mapping.cache.memmap;
  for (const folio of victims) {
    const start = folio.index * PAGE_SIZE;
    const end = start + folio.size;
    if (start >= lstart && end <= lend) {
      mapping.removeFolio(folio);
      removed.push(folio);
    } else {
      const from = Math.max(start, lstart);
      memmap.mem.zero(folio.pa + (from - start), Math.min(end, lend) - from);
      mapping.cache.stats.truncate_partial++;
    }
  }
  return removed;
}

/**
 * Unmaps the page-table entries of a file for bytes [holebegin, holebegin + holelen), or from
 * holebegin on when holelen is 0 (unmap_mapping_range); private copy-on-write copies of those
 * pages go too only with `evenCows` (truncation), not for a punched hole. The fault/munmap layer
 * provides it.
 */
export type UnmapMappingRange = (inode: Inode, holebegin: number, holelen?: number, evenCows?: boolean) => void;

/**
 * Sets the file size (truncate_setsize): on a shrink, cuts the backing bytes, unmaps the pages
 * past the new end, drops them from the cache and unmaps again (truncate_pagecache); a grow
 * leaves a hole that reads as zeros.
 */
export function truncateSetsize(inode: Inode, newSize: number, unmap?: UnmapMappingRange): TruncateResult {
  if (!(Number.isSafeInteger(newSize) && newSize >= 0)) throw new RangeError(`truncateSetsize: bad size ${newSize}`);
  if (newSize > MAX_FILE_SIZE) return { kind: 'efbig' };
  const old = inode.size;
  inode.size = newSize;
  if (newSize >= old) return { kind: 'ok', removed: [] };
  if (inode.content !== null && inode.content.length > newSize) inode.content = inode.content.subarray(0, newSize);
  const holebegin = Math.ceil(newSize / PAGE_SIZE) * PAGE_SIZE;
  unmap?.(inode, holebegin);
  const removed = truncateInodePages(inode.mapping, newSize);
  unmap?.(inode, holebegin);
  return { kind: 'ok', removed };
}
