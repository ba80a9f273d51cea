/**
 * The guest-physical page allocator: a binary buddy system over the page frames of one PhysMem,
 * so that a block of order n (2^n pages) is always naturally aligned in physical memory, as the
 * contpte code and large folios require. Page tables, page cache and anonymous memory all come
 * from here.
 *
 * Follows mm/page_alloc.c (v6.9): __rmqueue_smallest takes the smallest order that has a free
 * block and splits it with expand(), keeping the low half and freeing the high halves;
 * __free_one_page merges a freed block with its buddy (pfn ^ 2^order) while the buddy is free.
 *
 * Which free block of an order is taken, Linux vs here:
 * - Linux keeps each order's free blocks on lists (per migratetype) and takes the list head.
 *   Boot frees memory to the tail in ascending order, so a fresh zone hands out low addresses
 *   first; later frees go to the head (most recently freed first, for cache warmth), and small
 *   orders go through per-CPU lists first. The pfn a request gets therefore depends on history.
 * - Here each order's free blocks are a set ordered by address, and allocation takes the
 *   lowest-addressed block of the smallest order that has one. The same sequence of requests
 *   gives the same pfns whatever the order of earlier frees, which makes runs reproducible and
 *   tests exact. Per-CPU lists, migratetypes, watermarks and compaction are not modelled.
 *
 * Zeroing is the caller's choice (Linux's __GFP_ZERO): `zero()` does it and counts it.
 */
import { PAGE_SIZE, type PhysMem } from '../mmu/physmem.js';
import { bump, type Tally, type Telemetry } from '../trace/index.js';
import { GuestOutOfMemory } from '../util/errors.js';
import { LowestBitSet } from './bitmap.js';

/** Largest block order: 4 MiB blocks with 4 KiB pages, as Linux 6.x on arm64 (MAX_PAGE_ORDER). */
export const MAX_PAGE_ORDER = 10;

/** Tally keys, so the hot path does not build strings. */
export const ORDER_KEYS: readonly string[] = Array.from({ length: MAX_PAGE_ORDER + 1 }, (_, i) => String(i));

export interface OutOfMemory {
  kind: 'oom';
  /** The order that could not be satisfied. */
  order: number;
  /** Free pages left, possibly all in blocks smaller than the request. */
  freePages: number;
  /** Size of the whole pool in pages. */
  poolPages: number;
}

export type BuddyAlloc = { kind: 'ok'; pfn: number } | OutOfMemory;

/** The `alloc` stats group. Counters only: current usage is read from the allocator. */
export interface AllocStats {
  [key: string]: number | Tally;
  /** Blocks handed out / returned, and requests that found no block. */
  allocs: number;
  frees: number;
  failed: number;
  /** Halvings of a larger block (expand) and merges with a free buddy. */
  splits: number;
  merges: number;
  /** Pages in the blocks handed out and returned. */
  pages_allocated: number;
  pages_freed: number;
  /** Pages zeroed on request (`zero()`). */
  zeroed_pages: number;
  /** Blocks handed out and returned, by order. */
  allocs_by_order: Tally;
  frees_by_order: Tally;
}

/** Page state, one byte per page of the span: an allocated block's order at its first page. */
const NOT_HEAD = -1;
const RESERVED = -2;

export class Buddy {
  readonly basePfn: number;
  readonly endPfn: number;
  /**
   * First pfn of the bookkeeping span: basePfn rounded down to a MAX_PAGE_ORDER block, so that
   * alignment of blocks is absolute (a pfn multiple of 2^order), as in Linux. Pages of the span
   * below basePfn do not exist and are never free.
   */
  readonly spanBase: number;
  readonly stats: AllocStats;

  /** freeSets[k] holds (offset >> k) for every free block of order k (offset from spanBase). */
  private readonly freeSets: LowestBitSet[] = [];
  private readonly state: Int8Array;
  /** Allocated blocks by order, live. */
  private readonly liveBlocks = new Int32Array(MAX_PAGE_ORDER + 1);
  private nrFree = 0;
  private nrReserved = 0;

  constructor(
    readonly mem: PhysMem,
    telemetry: Telemetry,
  ) {
    this.basePfn = mem.basePfn;
    this.endPfn = mem.endPfn;
    const blockPages = 1 << MAX_PAGE_ORDER;
    this.spanBase = Math.floor(this.basePfn / blockPages) * blockPages;
    const spanPages = this.endPfn - this.spanBase;
    if (spanPages >= 2 ** 31) throw new RangeError(`buddy: a pool of ${spanPages} pages is too large (at most 2^31 pages)`);
    this.state = new Int8Array(spanPages).fill(NOT_HEAD);
    for (let k = 0; k <= MAX_PAGE_ORDER; k++) this.freeSets.push(new LowestBitSet(Math.ceil(spanPages / 2 ** k)));
    this.stats = telemetry.stats.register<AllocStats>('alloc', {
      allocs: 0,
      frees: 0,
      failed: 0,
      splits: 0,
      merges: 0,
      pages_allocated: 0,
      pages_freed: 0,
      zeroed_pages: 0,
      allocs_by_order: {},
      frees_by_order: {},
    });
    this.populate(this.basePfn - this.spanBase, spanPages);
  }

  /** Frees [from, to) as the largest naturally aligned blocks that fit, like memblock_free_all. */
  private populate(from: number, to: number): void {
    let off = from;
    while (off < to) {
      let k = MAX_PAGE_ORDER;
      while (k > 0 && (off % (1 << k) !== 0 || off + (1 << k) > to)) k--;
      this.freeSets[k]!.add(off >> k);
      this.nrFree += 1 << k;
      off += 1 << k;
    }
  }

  get poolPages(): number {
    return this.endPfn - this.basePfn;
  }

  get freePages(): number {
    return this.nrFree;
  }

  get reservedPages(): number {
    return this.nrReserved;
  }

  get allocatedPages(): number {
    return this.poolPages - this.nrFree - this.nrReserved;
  }

  /** Live allocated blocks of each order (index = order). */
  allocatedBlocksByOrder(): number[] {
    return Array.from(this.liveBlocks);
  }

  /**
   * A naturally aligned block of 2^order pages, the lowest-addressed one of the smallest order
   * that has a free block, or a typed out-of-memory result.
   */
  alloc(order: number): BuddyAlloc {
    const pfn = this.allocPfn(order);
    return pfn >= 0 ? { kind: 'ok', pfn } : this.oom(order);
  }

  /**
   * `alloc` without a result object, for the fault path: the block's first pfn, or -1 when no
   * block is free (counted as a failure; `oom(order)` describes it).
   */
  allocPfn(order: number): number {
    if (!(order >= 0 && order <= MAX_PAGE_ORDER && Number.isInteger(order))) {
      throw new RangeError(`buddy: order ${order} is outside 0..${MAX_PAGE_ORDER}`);
    }
    for (let k = order; k <= MAX_PAGE_ORDER; k++) {
      const idx = this.freeSets[k]!.lowest();
      if (idx < 0) continue;
      this.freeSets[k]!.delete(idx);
      const off = idx * (1 << k);
      // expand(): the high half of each split goes back to the free set one order down.
      for (let j = k - 1; j >= order; j--) {
        this.freeSets[j]!.add((off >> j) + 1);
        this.stats.splits++;
      }
      this.state[off] = order;
      this.nrFree -= 1 << order;
      this.liveBlocks[order]!++;
      this.stats.allocs++;
      this.stats.pages_allocated += 1 << order;
      bump(this.stats.allocs_by_order, ORDER_KEYS[order]!);
      return this.spanBase + off;
    }
    this.stats.failed++;
    return -1;
  }

  /** The out-of-memory result of a failed allocation of 2^order pages, as the pool is now. */
  oom(order: number): OutOfMemory {
    return { kind: 'oom', order, freePages: this.nrFree, poolPages: this.poolPages };
  }

  /** Returns a block obtained from `alloc(order)`; merges it with free buddies. */
  free(pfn: number, order: number): void {
    let off = pfn - this.spanBase;
    if (!(off >= 0 && off < this.state.length) || this.state[off] !== order) {
      throw new Error(`buddy: pfn 0x${pfn.toString(16)} is not an allocated order-${order} block (double free or wrong order)`);
    }
    this.state[off] = NOT_HEAD;
    this.mem.forgetCode(pfn * PAGE_SIZE, (1 << order) * PAGE_SIZE);
    this.nrFree += 1 << order;
    this.liveBlocks[order]!--;
    this.stats.frees++;
    this.stats.pages_freed += 1 << order;
    bump(this.stats.frees_by_order, ORDER_KEYS[order]!);
    let k = order;
    while (k < MAX_PAGE_ORDER) {
      const buddyIdx = (off >> k) ^ 1;
      if (!this.freeSets[k]!.delete(buddyIdx)) break;
      off = (buddyIdx & ~1) * (1 << k);
      k++;
      this.stats.merges++;
    }
    this.freeSets[k]!.add(off >> k);
  }

  /**
   * Takes pages out of the allocator for good (firmware, the zero page, anything the caller
   * wants at a fixed address). Every page must currently be free or already reserved.
   */
  reserve(pfn: number, nr: number): void {
    if (!(Number.isInteger(pfn) && Number.isInteger(nr) && nr >= 0 && pfn >= this.basePfn && pfn + nr <= this.endPfn)) {
      throw new RangeError(`buddy: cannot reserve ${nr} pages at pfn 0x${pfn.toString(16)}: outside the pool [0x${this.basePfn.toString(16)}, 0x${this.endPfn.toString(16)})`);
    }
    for (let p = pfn - this.spanBase, end = p + nr; p < end; p++) {
      if (this.state[p] === RESERVED) continue;
      const k = this.freeBlockContaining(p);
      if (k < 0) throw new Error(`buddy: cannot reserve pfn 0x${(this.spanBase + p).toString(16)}: it is allocated`);
      let block = p - (p % (1 << k));
      this.freeSets[k]!.delete(block >> k);
      // Split down to the single page, freeing the halves that do not hold it.
      for (let j = k - 1; j >= 0; j--) {
        const high = block + (1 << j);
        if (p >= high) {
          this.freeSets[j]!.add(block >> j);
          block = high;
        } else {
          this.freeSets[j]!.add(high >> j);
        }
      }
      this.state[p] = RESERVED;
      this.nrFree--;
      this.nrReserved++;
    }
  }

  /** Order of the free block that holds page offset `off`, or -1 if the page is not free. */
  private freeBlockContaining(off: number): number {
    for (let k = 0; k <= MAX_PAGE_ORDER; k++) {
      if (this.freeSets[k]!.has(off >> k)) return k;
    }
    return -1;
  }

  /** True when `pfn` is the first page of a free block of exactly `order`. */
  isFreeBlock(pfn: number, order: number): boolean {
    const off = pfn - this.spanBase;
    return off >= 0 && off % (1 << order) === 0 && this.freeSets[order]!.has(off >> order);
  }

  /** Every free block as [pfn, order], by order then address (for tests and reports). */
  freeBlocks(): Array<[pfn: number, order: number]> {
    const out: Array<[number, number]> = [];
    for (let k = 0; k <= MAX_PAGE_ORDER; k++) {
      this.freeSets[k]!.forEach((idx) => out.push([this.spanBase + idx * (1 << k), k]));
    }
    return out;
  }

  /** Zeroes `nr` pages from `pfn` in physical memory and counts them. */
  zero(pfn: number, nr: number): void {
    this.mem.zero(pfn * PAGE_SIZE, nr * PAGE_SIZE);
    this.stats.zeroed_pages += nr;
  }
}

/**
 * The error a caller raises when it cannot go on without the memory (a fault that must be
 * served, a page table that must exist): it names the request and the knob that sizes the pool.
 */
export function outOfMemoryError(oom: OutOfMemory, what: string): GuestOutOfMemory {
  const kib = (PAGE_SIZE << oom.order) / 1024;
  const poolMib = (oom.poolPages * PAGE_SIZE) / (1024 * 1024);
  return new GuestOutOfMemory(
    `out of guest physical memory: ${what} needs an order-${oom.order} block (${kib} KiB) but no free block is that large (${oom.freePages} pages free in all); ` +
      `the pool is ${poolMib} MiB: raise it with --set mem_mb=${Math.max(2 * poolMib, 64)}`,
  );
}
