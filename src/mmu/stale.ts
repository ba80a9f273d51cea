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
 * integers; table and block entries (levels 0-2, rare) in a map of records.
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

/** The level-3 entries of one 2 MiB piece of one ASID's address space. */
interface Region {
  base: number;
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
function recordKey(level: number, vaBase: number): number {
  return Math.floor(vaBase / 4096) * 4 + level;
}

export class StaleSet {
  private dsbs = 0;
  private fullDsbs = 0;
  /** ASID bucket (-1 = global) -> region index (VA / 2 MiB) -> region. */
  private readonly regions = new Map<number, Map<number, Region>>();
  private readonly records = new Map<number, Map<number, Rec>>();
  /** Emptied regions, kept for reuse: a fold or unfold empties one and fills it again at once. */
  private readonly pool: Region[] = [];

  constructor(
    /** With barriers off, a covering TLBI alone cleans (the DSBs are not required). */
    private readonly barriers: boolean,
  ) {}

  get empty(): boolean {
    return this.regions.size === 0 && this.records.size === 0;
  }

  /** Remembers that `old` (valid) was replaced by an invalid value. */
  add(old: U64, level: Level, vaBase: number, bucketAsid: number, isTable: boolean, sameValue: (a: U64, b: U64) => boolean): void {
    if (level === 3) {
      let byIdx = this.regions.get(bucketAsid);
      if (!byIdx) {
        byIdx = new Map();
        this.regions.set(bucketAsid, byIdx);
      }
      const idx = Math.floor(vaBase / REGION);
      let r = byIdx.get(idx);
      if (!r) {
        r = this.pool.pop() ?? newRegion();
        r.base = idx * REGION;
        byIdx.set(idx, r);
      }
      const i = Math.floor(vaBase / 4096) & 511;
      if (r.state[i] === INVALIDATING && this.fullDsbs > r.invFull[i]!) this.resetSlot(bucketAsid, idx, r, i);
      if (r.state[i] === CLEAN) {
        r.lo[i] = old.lo;
        r.hi[i] = old.hi;
        r.live++;
      } else if (!sameValue({ lo: r.lo[i]!, hi: r.hi[i]! }, old)) {
        const key = i;
        r.extra ??= new Map();
        const list = r.extra.get(key) ?? [];
        if (!list.some((v) => sameValue(v, old))) list.push(old);
        r.extra.set(key, list);
      }
      r.state[i] = CLEARED;
      r.flags[i] = 0;
      r.clearDsb[i] = this.dsbs;
      return;
    }
    let bucket = this.records.get(bucketAsid);
    if (!bucket) {
      bucket = new Map();
      this.records.set(bucketAsid, bucket);
    }
    const key = recordKey(level, vaBase);
    let rec = bucket.get(key);
    if (rec && rec.state === INVALIDATING && this.fullDsbs > rec.invFull) {
      bucket.delete(key);
      rec = undefined;
    }
    if (!rec) {
      rec = { key, level, vaBase, size: levelSize(level), values: [], hasTable: false, hasLeaf: false, state: CLEAN, flags: 0, clearDsb: 0, invFull: 0 };
      bucket.set(key, rec);
    }
    if (!rec.values.some((v) => sameValue(v, old))) rec.values.push(old);
    if (isTable) rec.hasTable = true;
    else rec.hasLeaf = true;
    rec.state = CLEARED;
    rec.flags = 0;
    rec.clearDsb = this.dsbs;
  }

  /**
   * The first value possibly cached at (level, vaBase) for `asid` (or globally) that `value` may
   * not replace (`allowed(old)` false), with the break-before-make step that is missing.
   */
  conflict(level: Level, vaBase: number, asid: number, allowed: (old: U64) => boolean): { old: U64; rule: StaleRule } | null {
    for (let pass = 0; pass < 2; pass++) {
      const bucketAsid = pass === 0 ? asid : -1;
      if (pass === 1 && asid === -1) break;
      if (level === 3) {
        const byIdx = this.regions.get(bucketAsid);
        if (!byIdx) continue;
        const idx = Math.floor(vaBase / REGION);
        const r = byIdx.get(idx);
        if (!r) continue;
        const i = Math.floor(vaBase / 4096) & 511;
        const st = r.state[i]!;
        if (st === CLEAN) continue;
        if (st === INVALIDATING && this.fullDsbs > r.invFull[i]!) {
          this.resetSlot(bucketAsid, idx, r, i);
          continue;
        }
        const rule = ruleOf(st, r.flags[i]!);
        const first = { lo: r.lo[i]!, hi: r.hi[i]! };
        if (!allowed(first)) return { old: first, rule };
        for (const v of r.extra?.get(i) ?? []) if (!allowed(v)) return { old: v, rule };
        continue;
      }
      const bucket = this.records.get(bucketAsid);
      const rec = bucket?.get(recordKey(level, vaBase));
      if (!bucket || !rec) continue;
      if (rec.state === INVALIDATING && this.fullDsbs > rec.invFull) {
        this.deleteRecord(bucketAsid, bucket, rec);
        continue;
      }
      for (const v of rec.values) if (!allowed(v)) return { old: v, rule: ruleOf(rec.state, rec.flags) };
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
    for (const [bucketAsid, byIdx] of [...this.regions]) {
      if (!this.bucketMayMatch(d, bucketAsid)) continue;
      this.tlbiRegions(d, bucketAsid, byIdx);
    }
    for (const [bucketAsid, bucket] of [...this.records]) {
      if (!this.bucketMayMatch(d, bucketAsid)) continue;
      if (d.scope === 'va') {
        for (let l = 0; l <= 2; l++) {
          const size = levelSize(l as Level);
          const rec = bucket.get(recordKey(l, d.va - (d.va % size)));
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

  private tlbiRegions(d: DecodedTlbi, bucketAsid: number, byIdx: Map<number, Region>): void {
    if (d.scope === 'va') {
      const idx = Math.floor(d.va / REGION);
      const r = byIdx.get(idx);
      if (r) this.considerSlot(d, bucketAsid, idx, r, Math.floor(d.va / 4096) & 511);
      return;
    }
    if (d.scope === 'range') {
      const first = Math.floor(d.start / REGION);
      const last = Math.floor((d.end - 1) / REGION);
      if (last - first + 1 <= byIdx.size) {
        for (let idx = first; idx <= last; idx++) {
          const r = byIdx.get(idx);
          if (!r) continue;
          const lo = Math.max(0, Math.floor((d.start - r.base) / 4096));
          const hi = Math.min(511, Math.floor((d.end - 1 - r.base) / 4096));
          for (let i = lo; i <= hi; i++) if (r.state[i] !== CLEAN) this.considerSlot(d, bucketAsid, idx, r, i);
        }
        return;
      }
    }
    for (const [idx, r] of [...byIdx]) for (let i = 0; i < 512; i++) if (r.state[i] !== CLEAN) this.considerSlot(d, bucketAsid, idx, r, i);
  }

  private considerSlot(d: DecodedTlbi, bucketAsid: number, idx: number, r: Region, i: number): void {
    const st = r.state[i]!;
    if (st === CLEAN) return;
    if (st === INVALIDATING && this.fullDsbs > r.invFull[i]!) {
      this.resetSlot(bucketAsid, idx, r, i);
      return;
    }
    if (!tlbiCoversLeaf(d, r.base + i * 4096, 4096, bucketAsid, 3)) return;
    if (!this.barriers) {
      this.resetSlot(bucketAsid, idx, r, i);
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

  private resetSlot(bucketAsid: number, idx: number, r: Region, i: number): void {
    r.state[i] = CLEAN;
    r.flags[i] = 0;
    r.extra?.delete(i);
    if (--r.live === 0) {
      const byIdx = this.regions.get(bucketAsid)!;
      byIdx.delete(idx);
      if (byIdx.size === 0) this.regions.delete(bucketAsid);
      r.extra = null;
      if (this.pool.length < 64) this.pool.push(r);
    }
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
