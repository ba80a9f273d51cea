/**
 * A walk cache: recently used table descriptors (levels 0-2), so a walk can start below the top
 * (Arm TRMs call it the "walk cache RAM": results of a stage-1 walk up to, not including, the
 * last level). It exists in the model so that last-level TLBIs (VALE1IS, RVALE1IS) leaving such
 * entries behind is observable: a page table freed after only a last-level flush can still be
 * walked through.
 *
 * Entries are tagged with the ASID and TTBR0 of the walk that filled them (tagging is
 * IMPLEMENTATION DEFINED; this is the conservative choice for a model that checks software).
 * Set-associative, round-robin victim per set: hits are not tracked (see tlb.ts for why).
 *
 * Default geometry 64 entries, 4-way: the Cortex-A55 walk cache (Cortex-A55 TRM, as tabulated in
 * Intel's Agilex 5 HPS TRM 814346 "MMU Components"). Neoverse N1 / Cortex-A76 keep walk entries
 * inside the 1280-entry L2 TLB instead (Cortex-A76 TRM 100798, A5.2.3), which one small separate
 * cache approximates.
 */
import { levelSize, POW2, type Level } from './geometry.js';
import { tlbiCoversTable, type DecodedTlbi } from './tlbi.js';

export const WALK_CACHE_DEFAULT_ENTRIES = 64;
export const WALK_CACHE_DEFAULT_WAYS = 4;

export interface WalkCacheStats {
  hits: number;
  misses: number;
  fills: number;
  invalidated: number;
}

/** One cached table descriptor, as `entries()` reports it. */
export interface WalkCacheEntry {
  /** Level of the cached table descriptor (the walk continues at level + 1). */
  level: Level;
  /** First VA the descriptor is used for, and how many bytes (512 GiB, 1 GiB or 2 MiB). */
  vaBase: number;
  size: number;
  asid: number;
  ttbr0: number;
  nextTable: number;
  /** Table attributes (PXNTable, UXNTable, APTable, NSTable as bits 0..4) ORed down to here. */
  tableAttrs: number;
}

export class WalkCache {
  readonly capacity: number;
  readonly ways: number;
  readonly sets: number;
  readonly stats: WalkCacheStats = { hits: 0, misses: 0, fills: 0, invalidated: 0 };
  private readonly level: Int8Array;
  private readonly prefix: Float64Array;
  private readonly asid: Int32Array;
  private readonly ttbr: Float64Array;
  private readonly next: Float64Array;
  private readonly attrs: Uint8Array;
  private readonly victim: Uint16Array;
  private live = 0;

  constructor(capacity = WALK_CACHE_DEFAULT_ENTRIES, ways = WALK_CACHE_DEFAULT_WAYS) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`walk cache size ${capacity} is not a non-negative integer`);
    if (capacity > 0 && (!Number.isInteger(ways) || ways < 1 || capacity % ways !== 0)) {
      throw new RangeError(`walk cache of ${capacity} entries cannot be ${ways}-way set associative`);
    }
    this.capacity = capacity;
    this.ways = capacity === 0 ? 1 : ways;
    this.sets = capacity === 0 ? 0 : capacity / ways;
    this.level = new Int8Array(capacity).fill(-1);
    this.prefix = new Float64Array(capacity);
    this.asid = new Int32Array(capacity);
    this.ttbr = new Float64Array(capacity);
    this.next = new Float64Array(capacity);
    this.attrs = new Uint8Array(capacity);
    this.victim = new Uint16Array(this.sets);
  }

  get occupancy(): number {
    return this.live;
  }

  private setBase(prefix: number, level: number): number {
    return (((prefix >>> 0) ^ (level * 0x9e3779b1)) >>> 0) % this.sets * this.ways;
  }

  /**
   * The slot of the deepest cached table descriptor on the walk of `va` (levels 2 down to
   * `startLevel`), or -1. Read it with slotLevel/slotNext/slotAttrs.
   */
  lookup(ttbr0: number, asid: number, va: number, startLevel: Level): number {
    if (this.live === 0) {
      this.stats.misses++;
      return -1;
    }
    for (let l = 2; l >= startLevel; l--) {
      const prefix = Math.floor(va / POW2[39 - 9 * l]!);
      const base = this.setBase(prefix, l);
      for (let w = 0; w < this.ways; w++) {
        const i = base + w;
        if (this.level[i] === l && this.prefix[i] === prefix && this.asid[i] === asid && this.ttbr[i] === ttbr0) {
          this.stats.hits++;
          return i;
        }
      }
    }
    this.stats.misses++;
    return -1;
  }

  slotLevel(slot: number): Level {
    return this.level[slot]! as Level;
  }

  slotNext(slot: number): number {
    return this.next[slot]!;
  }

  slotAttrs(slot: number): number {
    return this.attrs[slot]!;
  }

  /** Caches the table descriptor read at `level` on the walk of `va`. */
  insert(ttbr0: number, asid: number, level: Level, va: number, nextTable: number, tableAttrs: number): void {
    if (this.capacity === 0) return;
    const prefix = Math.floor(va / POW2[39 - 9 * level]!);
    const base = this.setBase(prefix, level);
    let slot = -1;
    for (let w = 0; w < this.ways; w++) {
      const i = base + w;
      if (this.level[i] === level && this.prefix[i] === prefix && this.asid[i] === asid && this.ttbr[i] === ttbr0) {
        slot = i; // refresh in place
        break;
      }
      if (slot < 0 && this.level[i] === -1) slot = i;
    }
    if (slot < 0) {
      const set = base / this.ways;
      slot = base + this.victim[set]!;
      this.victim[set] = (this.victim[set]! + 1) % this.ways;
    } else if (this.level[slot] === -1) {
      this.live++;
    }
    this.level[slot] = level;
    this.prefix[slot] = prefix;
    this.asid[slot] = asid;
    this.ttbr[slot] = ttbr0;
    this.next[slot] = nextTable;
    this.attrs[slot] = tableAttrs;
    this.stats.fills++;
  }

  /** Applies a TLBI; returns how many entries it removed. */
  invalidate(d: DecodedTlbi): number {
    if (this.live === 0) return 0;
    let removed = 0;
    for (let i = 0; i < this.capacity; i++) {
      const l = this.level[i]!;
      if (l < 0) continue;
      const size = levelSize(l as Level);
      if (tlbiCoversTable(d, this.prefix[i]! * size, size, this.asid[i]!)) {
        this.level[i] = -1;
        this.live--;
        removed++;
      }
    }
    this.stats.invalidated += removed;
    return removed;
  }

  clear(): void {
    this.level.fill(-1);
    this.live = 0;
  }

  *entries(): IterableIterator<WalkCacheEntry> {
    for (let i = 0; i < this.capacity; i++) {
      const l = this.level[i]!;
      if (l < 0) continue;
      const size = levelSize(l as Level);
      yield {
        level: l as Level,
        vaBase: this.prefix[i]! * size,
        size,
        asid: this.asid[i]!,
        ttbr0: this.ttbr[i]!,
        nextTable: this.next[i]!,
        tableAttrs: this.attrs[i]!,
      };
    }
  }
}
