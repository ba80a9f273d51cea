/**
 * What the checker remembers between an invalidating store and the TLBI that makes it safe:
 * the valid values once held at (ASID, level, VA) that a TLB or walk cache may still hold.
 *
 * Break-before-make takes four steps (reference A.4): the invalid store, a DSB so walkers see it,
 * a covering TLBI, and a DSB ISH so the invalidation has completed. Instead of moving records
 * between sets at every barrier, each record notes how many DSBs had been executed when it was
 * cleared and when a covering TLBI reached it; its phase follows from the counters:
 *   cleared    no DSB since the clear                  (a TLBI now is "before the DSB")
 *   visible    a DSB since the clear, no covering TLBI
 *   invalidating  a covering TLBI, no full DSB since   (complete after the next DSB ISH/NSH/SY)
 * A barrier is then O(1), which matters: every PTE clear and every flush goes through here.
 *
 * Leaf entries at level 3 (by far the most) live in dense per-2 MiB arrays keyed by small
 * integers; table and block entries (levels 0-2, rare) in a map of records. Every descriptor store
 * asks this set a question, so the level-3 path allocates nothing: values travel as 32-bit
 * halves, the last region used is remembered (stores come in runs), and a region that empties
 * stays attached for its next use (a fold or an unfold empties one and fills it again at once).
 */
import type { U64 } from '../util/u64.js';
import type { Level } from './geometry.js';
import { levelSize } from './geometry.js';
import { tlbiCoversLeaf, tlbiCoversTable, type DecodedTlbi } from './tlbi.js';

export type StaleRule = 'bbm_no_tlbi' | 'bbm_tlbi_before_dsb' | 'bbm_tlbi_incomplete';

const CLEAN = 0;
const CLEARED = 1;
const INVALIDATING = 2;
const TLBI_BEFORE_DSB = 1;
const REGION = 2 * 1024 * 1024;
const PAGES_PER_REGION = REGION / 4096;
/** Emptied regions kept attached for reuse; beyond this many they are detached to the pool. */
const IDLE_REGIONS = 16;

/**
 * How descriptor values are compared, given once by the checker (which owns the rules) so that
 * no closure is built per store. Values are (lo, hi) halves of the 64-bit descriptor.
 */
export interface StaleJudge {
  /** Two stale values at one location count as one: replacing either needs the same care. */
  sameStale(aLo: number, aHi: number, bLo: number, bHi: number, level: Level): boolean;
  /** `new` may be written where `old` may still be cached, without break-before-make. */
  mayReplace(oldLo: number, oldHi: number, newLo: number, newHi: number, level: Level): boolean;
}

/** The level-3 entries of one 2 MiB piece of one ASID's address space. */
interface Region {
  bucketAsid: number;
  /** VA / 2 MiB. */
  idx: number;
  base: number;
  /** Slots not CLEAN (including INVALIDATING ones whose completing DSB came, reset lazily). */
  live: number;
  state: Uint8Array;
  flags: Uint8Array;
  /** DSBs executed when the entry was cleared / full DSBs when a covering TLBI reached it. */
  clearDsb: Float64Array;
  invFull: Float64Array;
  lo: Uint32Array;
  hi: Uint32Array;
  /** Further distinct stale values of a slot (rare: re-mapped and cleared again before a TLBI). */
  extra: Map<number, U64[]> | null;
}

/** A table or block entry (levels 0-2). */
interface Rec {
  key: number;
  level: Level;
  vaBase: number;
  size: number;
  values: U64[];
  hasTable: boolean;
  hasLeaf: boolean;
  state: number;
  flags: number;
  clearDsb: number;
  invFull: number;
}

/** Key of (level, VA) for levels 0-2: VA page number * 4 + level. */
function recordKey(level: number, vpn: number): number {
  return vpn * 4 + level;
}

export class StaleSet {
  private dsbs = 0;
  private fullDsbs = 0;
  /** ASID bucket (-1 = global) -> region index (VA / 2 MiB) -> region. */
  private readonly regions = new Map<number, Map<number, Region>>();
  private readonly records = new Map<number, Map<number, Rec>>();
  /** Live slots over all regions: the set is empty when this and `records` are. */
  private liveSlots = 0;
  /** Those of them in the global bucket (-1), which every store must also consult. */
  private liveGlobalSlots = 0;
  /** Attached regions with no live slot. */
  private idleRegions = 0;
  /** The region last looked up (consecutive stores nearly always land in the same one). */
  private lastRegion: Region | null = null;
  /**
   * The (bucket, region index) last found without a region: a fault's PTE store asks about a
   * piece of address space that no clear left stale, for every page of it, and each answer was two
   * Map look-ups. Only attachRegion makes a region appear, and it forgets this.
   */
  private missBucket = Number.NaN;
  private missIdx = Number.NaN;
  /** Detached regions, kept for reuse. */
  private readonly pool: Region[] = [];

  constructor(
    /** With barriers off, a covering TLBI alone cleans (the DSBs are not required). */
    private readonly barriers: boolean,
    private readonly judge: StaleJudge,
  ) {}

  get empty(): boolean {
    return this.liveSlots === 0 && this.records.size === 0;
  }

  /**
   * Remembers that the valid value (oldLo, oldHi) was replaced by an invalid one, in the entry at
   * `level` whose first VA is page `vpn` (VA / 4 KiB: a small integer, where the VA would be a
   * heap number passed to each call).
   */
  add(oldLo: number, oldHi: number, level: Level, vpn: number, bucketAsid: number, isTable: boolean): void {
    if (level === 3) {
      this.addLeaf(oldLo, oldHi, vpn, bucketAsid);
      return;
    }
    this.addRecord(oldLo, oldHi, level, vpn, bucketAsid, isTable);
  }

  /**
   * `add` for a table or block entry (levels 0-2). A function of its own because its closure
   * (`values.some`) captures the arguments: V8 builds the context for them at every entry to the
   * function that holds it, which was 80 bytes per level-3 store while this was part of `add`.
   */
  private addRecord(oldLo: number, oldHi: number, level: Level, vpn: number, bucketAsid: number, isTable: boolean): void {
    let bucket = this.records.get(bucketAsid);
    if (!bucket) {
      bucket = new Map();
      this.records.set(bucketAsid, bucket);
    }
    const key = recordKey(level, vpn);
    let rec = bucket.get(key);
    if (rec && rec.state === INVALIDATING && this.fullDsbs > rec.invFull) {
      bucket.delete(key);
      rec = undefined;
    }
    if (!rec) {
      rec = { key, level, vaBase: vpn * 4096, size: levelSize(level), values: [], hasTable: false, hasLeaf: false, state: CLEAN, flags: 0, clearDsb: 0, invFull: 0 };
      bucket.set(key, rec);
    }
    if (!rec.values.some((v) => this.judge.sameStale(v.lo, v.hi, oldLo, oldHi, level))) rec.values.push({ lo: oldLo, hi: oldHi });
    if (isTable) rec.hasTable = true;
    else rec.hasLeaf = true;
    rec.state = CLEARED;
    rec.flags = 0;
    rec.clearDsb = this.dsbs;
  }

  private addLeaf(oldLo: number, oldHi: number, vpn: number, bucketAsid: number): void {
    const idx = Math.floor(vpn / PAGES_PER_REGION);
    const r = this.region(bucketAsid, idx) ?? this.attachRegion(bucketAsid, idx);
    const i = vpn & 511;
    const st = r.state[i]!;
    if (st === CLEAN || (st === INVALIDATING && this.fullDsbs > r.invFull[i]!)) {
      // A clean slot, or one whose invalidation has completed (its old values are gone): this
      // value is the only one that may be cached now.
      if (st === CLEAN) this.slotLive(r);
      else r.extra?.delete(i);
      r.lo[i] = oldLo;
      r.hi[i] = oldHi;
    } else if (!this.judge.sameStale(r.lo[i]!, r.hi[i]!, oldLo, oldHi, 3)) {
      r.extra ??= new Map();
      const list = r.extra.get(i) ?? [];
      if (!list.some((v) => this.judge.sameStale(v.lo, v.hi, oldLo, oldHi, 3))) list.push({ lo: oldLo, hi: oldHi });
      r.extra.set(i, list);
    }
    r.state[i] = CLEARED;
    r.flags[i] = 0;
    r.clearDsb[i] = this.dsbs;
  }

  /**
   * The first value possibly cached at (level, page `vpn`) for `asid` (or globally) that the new value
   * (newLo, newHi) may not replace, with the break-before-make step that is missing.
   */
  conflict(level: Level, vpn: number, asid: number, newLo: number, newHi: number): { old: U64; rule: StaleRule } | null {
    if (level === 3) {
      // The ASID's own bucket, then global entries (which match every ASID), if there are any.
      const c = this.leafConflict(asid, vpn, newLo, newHi);
      if (c !== null || asid === -1 || this.liveGlobalSlots === 0) return c;
      return this.leafConflict(-1, vpn, newLo, newHi);
    }
    for (let pass = 0; pass < 2; pass++) {
      const bucketAsid = pass === 0 ? asid : -1;
      if (pass === 1 && asid === -1) break;
      const bucket = this.records.get(bucketAsid);
      const rec = bucket?.get(recordKey(level, vpn));
      if (!bucket || !rec) continue;
      if (rec.state === INVALIDATING && this.fullDsbs > rec.invFull) {
        this.deleteRecord(bucketAsid, bucket, rec);
        continue;
      }
      for (const v of rec.values) {
        if (!this.judge.mayReplace(v.lo, v.hi, newLo, newHi, level)) return { old: v, rule: ruleOf(rec.state, rec.flags) };
      }
    }
    return null;
  }

  private leafConflict(bucketAsid: number, vpn: number, newLo: number, newHi: number): { old: U64; rule: StaleRule } | null {
    const r = this.region(bucketAsid, Math.floor(vpn / PAGES_PER_REGION));
    if (r === undefined || r.live === 0) return null;
    const i = vpn & 511;
    const st = r.state[i]!;
    if (st === CLEAN) return null;
    if (st === INVALIDATING && this.fullDsbs > r.invFull[i]!) {
      this.resetSlot(r, i);
      return null;
    }
    const rule = ruleOf(st, r.flags[i]!);
    if (!this.judge.mayReplace(r.lo[i]!, r.hi[i]!, newLo, newHi, 3)) return { old: { lo: r.lo[i]!, hi: r.hi[i]! }, rule };
    const extra = r.extra?.get(i);
    if (extra !== undefined) {
      for (const v of extra) if (!this.judge.mayReplace(v.lo, v.hi, newLo, newHi, 3)) return { old: v, rule };
    }
    return null;
  }

  onDsb(full: boolean): void {
    if (!this.barriers) return;
    this.dsbs++;
    if (full) this.fullDsbs++;
  }

  /** A TLBI: the stale entries it covers move on (or are clean when barriers are not checked). */
  onTlbi(d: DecodedTlbi): void {
    if (this.empty) return;
    // Deleting the entry being visited is safe while iterating a Map, so no copy is needed.
    if (this.liveSlots !== 0) {
      for (const [bucketAsid, byIdx] of this.regions) {
        if (this.bucketMayMatch(d, bucketAsid)) this.tlbiRegions(d, byIdx);
      }
    }
    if (this.records.size === 0) return;
    for (const [bucketAsid, bucket] of this.records) {
      if (!this.bucketMayMatch(d, bucketAsid)) continue;
      if (d.scope === 'va') {
        for (let l = 0; l <= 2; l++) {
          const size = levelSize(l as Level);
          const rec = bucket.get(recordKey(l, (Math.floor(d.va / size) * size) / 4096));
          if (rec) this.considerRecord(d, bucketAsid, bucket, rec);
        }
      } else {
        for (const rec of bucket.values()) this.considerRecord(d, bucketAsid, bucket, rec);
      }
    }
  }

  /** Entries still possibly cached (for tests and reports). */
  count(): number {
    let n = 0;
    for (const byIdx of this.regions.values()) {
      for (const r of byIdx.values()) {
        for (let i = 0; i < 512; i++) {
          const st = r.state[i]!;
          if (st === CLEARED || (st === INVALIDATING && this.fullDsbs <= r.invFull[i]!)) n++;
        }
      }
    }
    for (const bucket of this.records.values()) {
      for (const rec of bucket.values()) if (rec.state === CLEARED || (rec.state === INVALIDATING && this.fullDsbs <= rec.invFull)) n++;
    }
    return n;
  }

  private bucketMayMatch(d: DecodedTlbi, bucketAsid: number): boolean {
    if (d.scope === 'all') return true;
    if (d.scope === 'asid') return bucketAsid === d.asid;
    return d.asid === null || bucketAsid === d.asid || bucketAsid === -1;
  }

  private tlbiRegions(d: DecodedTlbi, byIdx: Map<number, Region>): void {
    if (d.scope === 'va') {
      const r = byIdx.get(Math.floor(d.va / REGION));
      if (r === undefined || r.live === 0) return;
      const i = Math.floor(d.va / 4096) & 511;
      this.considerSlot(r, i, tlbiCoversLeaf(d, r.base + i * 4096, 4096, r.bucketAsid, 3));
      return;
    }
    if (d.scope === 'range') {
      const first = Math.floor(d.start / REGION);
      const last = Math.floor((d.end - 1) / REGION);
      if (last - first + 1 <= byIdx.size) {
        for (let idx = first; idx <= last; idx++) {
          const r = byIdx.get(idx);
          if (r === undefined || r.live === 0) continue;
          const lo = Math.max(0, Math.floor((d.start - r.base) / 4096));
          const hi = Math.min(511, Math.floor((d.end - 1 - r.base) / 4096));
          // Every slot in [lo, hi] overlaps the range, and nothing else in the answer depends on
          // the slot: the operation covers all of them or none.
          const covers = tlbiCoversLeaf(d, r.base + lo * 4096, 4096, r.bucketAsid, 3);
          for (let i = lo; i <= hi; i++) if (r.state[i] !== CLEAN) this.considerSlot(r, i, covers);
        }
        return;
      }
    }
    for (const r of byIdx.values()) {
      if (r.live === 0) continue;
      // ASIDE1 and VMALLE1 do not look at the VA: one answer for the whole region.
      const whole = d.scope === 'range' ? null : tlbiCoversLeaf(d, r.base, 4096, r.bucketAsid, 3);
      for (let i = 0; i < 512; i++) {
        if (r.state[i] !== CLEAN) this.considerSlot(r, i, whole ?? tlbiCoversLeaf(d, r.base + i * 4096, 4096, r.bucketAsid, 3));
      }
    }
  }

  /** A TLBI reached slot i of r; `covers` says whether it removes the slot's entry. */
  private considerSlot(r: Region, i: number, covers: boolean): void {
    const st = r.state[i]!;
    if (st === CLEAN) return;
    if (st === INVALIDATING && this.fullDsbs > r.invFull[i]!) {
      this.resetSlot(r, i);
      return;
    }
    if (!covers) return;
    if (!this.barriers) {
      this.resetSlot(r, i);
      return;
    }
    if (st === CLEARED && this.dsbs === r.clearDsb[i]) {
      r.flags[i]! |= TLBI_BEFORE_DSB;
      return;
    }
    r.state[i] = INVALIDATING;
    r.invFull[i] = this.fullDsbs;
  }

  private considerRecord(d: DecodedTlbi, bucketAsid: number, bucket: Map<number, Rec>, rec: Rec): void {
    if (rec.state === INVALIDATING && this.fullDsbs > rec.invFull) {
      this.deleteRecord(bucketAsid, bucket, rec);
      return;
    }
    const covered =
      (!rec.hasTable || tlbiCoversTable(d, rec.vaBase, rec.size, bucketAsid)) &&
      (!rec.hasLeaf || tlbiCoversLeaf(d, rec.vaBase, rec.size, bucketAsid, rec.level));
    if (!covered) return;
    if (!this.barriers) {
      this.deleteRecord(bucketAsid, bucket, rec);
      return;
    }
    if (rec.state === CLEARED && this.dsbs === rec.clearDsb) {
      rec.flags |= TLBI_BEFORE_DSB;
      return;
    }
    rec.state = INVALIDATING;
    rec.invFull = this.fullDsbs;
  }

  /** The attached region for (bucket, VA / 2 MiB), if any. */
  private region(bucketAsid: number, idx: number): Region | undefined {
    const last = this.lastRegion;
    if (last !== null && last.idx === idx && last.bucketAsid === bucketAsid) return last;
    if (idx === this.missIdx && bucketAsid === this.missBucket) return undefined;
    const r = this.regions.get(bucketAsid)?.get(idx);
    this.lastRegion = r ?? null;
    if (r === undefined) {
      this.missBucket = bucketAsid;
      this.missIdx = idx;
    }
    return r;
  }

  private attachRegion(bucketAsid: number, idx: number): Region {
    let byIdx = this.regions.get(bucketAsid);
    if (!byIdx) {
      byIdx = new Map();
      this.regions.set(bucketAsid, byIdx);
    }
    const r = this.pool.pop() ?? newRegion();
    r.bucketAsid = bucketAsid;
    r.idx = idx;
    r.base = idx * REGION;
    byIdx.set(idx, r);
    this.idleRegions++;
    this.lastRegion = r;
    this.missBucket = Number.NaN;
    this.missIdx = Number.NaN;
    return r;
  }

  /** A clean slot of `r` becomes live. */
  private slotLive(r: Region): void {
    if (r.live++ === 0) this.idleRegions--;
    this.liveSlots++;
    if (r.bucketAsid === -1) this.liveGlobalSlots++;
  }

  private resetSlot(r: Region, i: number): void {
    r.state[i] = CLEAN;
    r.flags[i] = 0;
    r.extra?.delete(i);
    this.liveSlots--;
    if (r.bucketAsid === -1) this.liveGlobalSlots--;
    if (--r.live === 0) this.regionIdle(r);
  }

  /** `r` has no live slot left: keep it attached for its next use, unless enough are idle. */
  private regionIdle(r: Region): void {
    r.extra = null;
    if (this.idleRegions < IDLE_REGIONS) {
      this.idleRegions++;
      return;
    }
    const byIdx = this.regions.get(r.bucketAsid)!;
    byIdx.delete(r.idx);
    if (byIdx.size === 0) this.regions.delete(r.bucketAsid);
    if (this.lastRegion === r) this.lastRegion = null;
    if (this.pool.length < 64) this.pool.push(r);
  }

  private deleteRecord(bucketAsid: number, bucket: Map<number, Rec>, rec: Rec): void {
    bucket.delete(rec.key);
    if (bucket.size === 0) this.records.delete(bucketAsid);
  }
}

function ruleOf(state: number, flags: number): StaleRule {
  if (state === INVALIDATING) return 'bbm_tlbi_incomplete';
  return flags & TLBI_BEFORE_DSB ? 'bbm_tlbi_before_dsb' : 'bbm_no_tlbi';
}

function newRegion(): Region {
  return {
    bucketAsid: 0,
    idx: 0,
    base: 0,
    live: 0,
    state: new Uint8Array(512),
    flags: new Uint8Array(512),
    clearDsb: new Float64Array(512),
    invFull: new Float64Array(512),
    lo: new Uint32Array(512),
    hi: new Uint32Array(512),
    extra: null,
  };
}
