/**
 * The TLB model: one unified, set-associative level of leaf translations.
 *
 * - Geometry: `entries` and `ways` are parameters; the default 1280 entries, 5-way, is the L2 TLB
 *   of Cortex-A76 (Cortex-A76 Core TRM, Arm 100798, A5.2.3 Table A5-3; Neoverse N1 is the same
 *   core, reference table E.3). One level only: in the emulator only misses of the whole model
 *   reach JavaScript, so an L1/L2 split could not be kept honest.
 * - Entries of every size coexist (4K, 64K, 2M, 32M, 1G, 16G). An entry's set comes from its own
 *   page number at its own size, so a lookup probes one set per size class, and only for the
 *   classes currently resident.
 * - Tagging: an entry from an nG = 1 descriptor matches only its ASID; nG = 0 entries are global.
 * - Contiguous: with `contig` on, a walk of a descriptor with the contiguous bit fills one entry
 *   covering the whole aligned 16-entry span (the A76 TRM lists 64K and 32M entry sizes for the
 *   4K granule: they come from the hint).
 * - Replacement needs no hit information, because in the emulator QEMU serves the hits: the first
 *   free way, else FIFO per set (the way filled longest ago; without invalidations this is a
 *   round-robin victim pointer), or a seeded pseudo-random way. Deterministic either way.
 * - Fills, evictions and invalidations are announced to `observer` (the engine keeps its shadow
 *   tables equal to the TLB through it) and traced when the tracer wants them.
 */
import type { Tracer } from '../trace/tracer.js';
import type { U64 } from '../util/u64.js';
import { CONT_ENTRIES, POW2, type LeafLevel } from './geometry.js';
import { newTlbStats, type TlbStats } from './stats.js';
import { decodeTlbiOperand, tlbiCoversLeaf, type DecodedTlbi, type TlbiOp } from './tlbi.js';
import type { Translation } from './walker.js';

export const TLB_DEFAULT_ENTRIES = 1280;
export const TLB_DEFAULT_WAYS = 5;

export type TlbReplacement = 'fifo' | 'random';

export interface TlbOptions {
  entries?: number;
  ways?: number;
  /** One entry per contiguous span (the `tlb_contig` knob). Default true. */
  contig?: boolean;
  replacement?: TlbReplacement;
  /** Seed for 'random' replacement. */
  seed?: number;
}

/**
 * A resident translation. Each slot of the TLB keeps one entry object and rewrites it when the
 * slot is filled again (a fill allocates nothing): an entry is valid from the fill that
 * announces it to the removal that announces its end, and a holder that keeps one longer copies
 * it.
 */
export interface TlbEntry {
  /** First VA covered and bytes covered (the descriptor's size, or 16 times it when contiguous). */
  readonly vaBase: number;
  readonly span: number;
  /** PA of vaBase. */
  readonly pa: number;
  /** ASID tag, or -1 for a global entry. */
  readonly asid: number;
  /** The entry covers a whole contiguous span. */
  readonly contiguous: boolean;
  /** The walked descriptor had the contiguous bit (true also when `contig` is off). */
  readonly descContiguous: boolean;
  readonly perms: number;
  readonly level: LeafLevel;
  /** Bytes the walked descriptor maps. */
  readonly size: number;
  readonly attrIndx: number;
  readonly sh: number;
  readonly descPa: number;
  readonly desc: U64;
  /** A write needs the hardware dirty update (see Translation.dirtyOnWrite). */
  readonly dirtyOnWrite: boolean;
}

export type TlbRemoveReason = 'evict' | 'invalidate' | 'replace';

export interface TlbObserver {
  onFill(entry: TlbEntry): void;
  /**
   * `entry` leaves the TLB. Its VA range and tag come as arguments too, from the TLB's own compact
   * arrays: an evicted entry object was filled a TLB's worth of misses ago and is usually out of
   * the CPU caches, so an observer that needs only these never touches it (profiled: those loads
   * cost a stride sweep about 0.1 µs per miss).
   */
  onRemove(entry: TlbEntry, reason: TlbRemoveReason, vaBase: number, span: number, asid: number): void;
}

const TWO31 = 2 ** 31;

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** A slot's entry object, made on the slot's first fill with every field of the final shape. */
function newEntry(): Writable<TlbEntry> & { desc: { lo: number; hi: number } } {
  // Addresses start as non-integers so that their fields hold any address without a change of shape.
  return {
    vaBase: Number.NaN, span: 0, pa: Number.NaN, asid: 0, contiguous: false, descContiguous: false, perms: 0, level: 3, size: 0,
    attrIndx: 0, sh: 0, descPa: Number.NaN, desc: { lo: 0, hi: 0 }, dirtyOnWrite: false,
  };
}

/**
 * `x` rounded down to a multiple of `pow2`, a power of two: exact for addresses (below 2^53), and
 * without the floating-point remainder `%` costs on values above 2^31 (one per fill counts).
 */
function alignDown(x: number, pow2: number): number {
  return Math.floor(x / pow2) * pow2;
}

/** log2 of a power of two; Math.log2 only for spans of 4 GiB and more. */
function log2Of(pow2: number): number {
  return pow2 < TWO31 ? 31 - Math.clz32(pow2) : Math.round(Math.log2(pow2));
}

/**
 * Whether the tracer wants events of `kind`, read by name: `tr.on[kind]` with three names at one
 * site is a megamorphic keyed load, at every fill and eviction.
 */
function tracing(tr: Tracer, kind: 'tlb_fill' | 'tlb_evict' | 'tlb_invalidate'): boolean {
  switch (kind) {
    case 'tlb_fill':
      return tr.on.tlb_fill;
    case 'tlb_evict':
      return tr.on.tlb_evict;
    case 'tlb_invalidate':
      return tr.on.tlb_invalidate;
  }
}

/** xorshift32: a tiny deterministic generator for 'random' replacement. */
function xorshift32(seed: number): () => number {
  let s = seed >>> 0 || 0x2545f491;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

export class Tlb {
  readonly capacity: number;
  readonly ways: number;
  readonly sets: number;
  readonly contig: boolean;
  readonly replacement: TlbReplacement;
  readonly stats: TlbStats;
  observer: TlbObserver | null = null;

  /** Per slot: its entry object (valid while shiftTag is not 0), made at the slot's first fill. */
  private readonly slots: (ReturnType<typeof newEntry> | null)[];
  /** Per slot: log2 of the span (0 = empty), page number at that size, ASID tag. */
  private readonly shiftTag: Uint8Array;
  private readonly vpnTag: Float64Array;
  private readonly asidTag: Int32Array;
  /** Per slot: when it was filled (fill count), for FIFO. */
  private readonly filledAt: Float64Array;
  private fillSeq = 0;
  /** Resident entries per span shift, and the shifts with any, ascending. */
  private readonly classCount = new Int32Array(64);
  private activeShifts: number[] = [];
  private live = 0;
  private readonly random: () => number;
  private readonly tracer: Tracer | null;

  /** The CPU whose TLB this is, for its trace events. */
  private readonly cpu: number;

  constructor(opts: TlbOptions = {}, sinks: { stats?: TlbStats; tracer?: Tracer; cpu?: number } = {}) {
    const entries = opts.entries ?? TLB_DEFAULT_ENTRIES;
    const ways = opts.ways ?? TLB_DEFAULT_WAYS;
    if (!Number.isInteger(entries) || entries < 1) throw new RangeError(`TLB size ${entries} is not a positive integer`);
    if (!Number.isInteger(ways) || ways < 1 || entries % ways !== 0) throw new RangeError(`a TLB of ${entries} entries cannot be ${ways}-way set associative`);
    this.capacity = entries;
    this.ways = ways;
    this.sets = entries / ways;
    this.contig = opts.contig ?? true;
    this.replacement = opts.replacement ?? 'fifo';
    this.random = xorshift32(opts.seed ?? 1);
    this.stats = sinks.stats ?? newTlbStats();
    this.tracer = sinks.tracer ?? null;
    this.cpu = sinks.cpu ?? 0;
    this.slots = new Array<ReturnType<typeof newEntry> | null>(entries).fill(null);
    this.shiftTag = new Uint8Array(entries);
    this.vpnTag = new Float64Array(entries);
    this.asidTag = new Int32Array(entries);
    this.filledAt = new Float64Array(entries);
  }

  /** Entries resident now. */
  get occupancy(): number {
    return this.live;
  }

  private setBase(vpn: number): number {
    return ((vpn >>> 0) % this.sets) * this.ways;
  }

  /** The entry translating `va` for `asid` (global entries match any ASID), or null. */
  lookup(va: number, asid: number): TlbEntry | null {
    this.stats.lookups++;
    const shifts = this.activeShifts;
    for (let k = 0; k < shifts.length; k++) {
      const s = shifts[k]!;
      const vpn = Math.floor(va / POW2[s]!);
      const base = ((vpn >>> 0) % this.sets) * this.ways;
      for (let w = 0; w < this.ways; w++) {
        const i = base + w;
        if (this.shiftTag[i] === s && this.vpnTag[i] === vpn) {
          const a = this.asidTag[i]!;
          if (a === -1 || a === asid) {
            this.stats.hits++;
            return this.slots[i]!;
          }
        }
      }
    }
    return null;
  }

  /** Caches the result of a walk for `asid`; returns the new entry. */
  fill(t: Translation, asid: number): TlbEntry {
    const oa = t.pa - (t.va - alignDown(t.va, t.size));
    const span = this.contig && t.contiguous ? t.size * CONT_ENTRIES : t.size;
    const vaBase = alignDown(t.va, span);
    const tag = t.global ? -1 : asid;
    const s = log2Of(span);
    const vpn = vaBase / span;
    const base = this.setBase(vpn);

    // An entry this fill supersedes (same page and size, one the filling ASID would hit) goes first.
    let slot = -1;
    for (let w = 0; w < this.ways; w++) {
      const i = base + w;
      if (this.shiftTag[i] === s && this.vpnTag[i] === vpn) {
        const a = this.asidTag[i]!;
        if (a === -1 || a === asid || a === tag) {
          this.remove(i, 'replace');
          this.stats.replaced++;
        }
      }
    }
    for (let w = 0; w < this.ways; w++) {
      if (this.shiftTag[base + w] === 0) {
        slot = base + w;
        break;
      }
    }
    if (slot < 0) {
      if (this.replacement === 'random') {
        slot = base + (this.random() % this.ways);
      } else {
        slot = base;
        for (let w = 1; w < this.ways; w++) if (this.filledAt[base + w]! < this.filledAt[slot]!) slot = base + w;
      }
      this.remove(slot, 'evict');
      this.stats.evictions++;
    }

    const entry = this.slots[slot] ?? (this.slots[slot] = newEntry());
    entry.vaBase = vaBase;
    entry.span = span;
    entry.pa = alignDown(oa, span);
    entry.asid = tag;
    entry.contiguous = span > t.size;
    entry.descContiguous = t.contiguous;
    entry.perms = t.perms;
    entry.level = t.level;
    entry.size = t.size;
    entry.attrIndx = t.attrIndx;
    entry.sh = t.sh;
    entry.descPa = t.descPa;
    entry.desc.lo = t.desc.lo;
    entry.desc.hi = t.desc.hi;
    entry.dirtyOnWrite = t.dirtyOnWrite;
    this.shiftTag[slot] = s;
    this.vpnTag[slot] = vpn;
    this.asidTag[slot] = tag;
    this.filledAt[slot] = ++this.fillSeq;
    this.live++;
    if (this.classCount[s]!++ === 0) this.activeShifts = [...this.activeShifts, s].sort((a, b) => a - b);
    this.stats.fills++;
    if (entry.contiguous) this.stats.contiguous_fills++;
    this.observer?.onFill(entry);
    this.trace('tlb_fill', entry);
    return entry;
  }

  private remove(i: number, reason: TlbRemoveReason): TlbEntry {
    const entry = this.slots[i]!;
    const s = this.shiftTag[i]!;
    const span = POW2[s]!;
    const vaBase = this.vpnTag[i]! * span;
    const asid = this.asidTag[i]!;
    this.shiftTag[i] = 0;
    this.vpnTag[i] = -1;
    this.live--;
    if (--this.classCount[s]! === 0) this.activeShifts = this.activeShifts.filter((x) => x !== s);
    this.observer?.onRemove(entry, reason, vaBase, span, asid);
    if (reason !== 'replace') this.trace(reason === 'evict' ? 'tlb_evict' : 'tlb_invalidate', entry);
    return entry;
  }

  private trace(kind: 'tlb_fill' | 'tlb_evict' | 'tlb_invalidate', e: TlbEntry): void {
    const tr = this.tracer;
    if (tr === null || !tracing(tr, kind)) return;
    tr.emit({ kind, cpu: this.cpu, va: e.vaBase, span: e.span, pa: e.pa, asid: e.asid, contiguous: e.contiguous, occupancy: this.live });
  }

  /** One TLBI operation; returns the number of entries it removed. */
  invalidate(op: TlbiOp, operand: U64): number {
    return this.invalidateDecoded(decodeTlbiOperand(op, operand));
  }

  invalidateDecoded(d: DecodedTlbi): number {
    if (this.live === 0) return 0;
    let removed = 0;
    const take = (i: number): void => {
      const e = this.slots[i]!;
      if (tlbiCoversLeaf(d, e.vaBase, e.span, e.asid, e.level)) {
        this.remove(i, 'invalidate');
        removed++;
      }
    };
    if (d.scope === 'va' || (d.scope === 'range' && this.rangeProbesAreCheaper(d.start, d.end))) {
      // Probe the sets that can hold an entry covering the VA or range, class by class.
      const lo = d.scope === 'va' ? d.va : d.start;
      const hi = d.scope === 'va' ? d.va + 1 : d.end;
      for (const s of [...this.activeShifts]) {
        const size = POW2[s]!;
        const firstVpn = Math.floor(lo / size);
        const lastVpn = Math.floor((hi - 1) / size);
        for (let vpn = firstVpn; vpn <= lastVpn; vpn++) {
          const base = this.setBase(vpn);
          for (let w = 0; w < this.ways; w++) {
            const i = base + w;
            if (this.shiftTag[i] === s && this.vpnTag[i] === vpn) take(i);
          }
        }
      }
    } else {
      for (let i = 0; i < this.capacity; i++) if (this.shiftTag[i] !== 0) take(i);
    }
    this.stats.invalidated_entries += removed;
    return removed;
  }

  /** Probing per page number beats a full scan when the range spans fewer pages than slots. */
  private rangeProbesAreCheaper(start: number, end: number): boolean {
    let probes = 0;
    for (const s of this.activeShifts) probes += (Math.floor((end - 1) / POW2[s]!) - Math.floor(start / POW2[s]!) + 1) * this.ways;
    return probes < this.capacity;
  }

  /** Empties the TLB (each entry reported as invalidated). */
  flushAll(): number {
    let n = 0;
    for (let i = 0; i < this.capacity; i++) {
      if (this.shiftTag[i] !== 0) {
        this.remove(i, 'invalidate');
        n++;
      }
    }
    this.stats.invalidated_entries += n;
    return n;
  }

  /** Resident entries in slot order. */
  *residentEntries(): IterableIterator<TlbEntry> {
    for (let i = 0; i < this.capacity; i++) {
      if (this.shiftTag[i] !== 0) yield this.slots[i]!;
    }
  }
}
