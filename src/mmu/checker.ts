/**
 * The checker: watches every descriptor store, TLBI and DSB, and reports (as events and
 * counters, never exceptions) what the architecture forbids.
 *
 * Break-before-make (reference A.4). Judged per write and keyed by (ASID, level, VA), not by
 * descriptor address, because page tables are freed and reused. A valid descriptor replaced by an
 * invalid one may still be cached ("stale") until a TLBI that would remove it, made visible and
 * completed by barriers:
 *   1. the invalid store, 2. a DSB (ISHST suffices) so walkers see it, 3. a covering TLBI,
 *   4. a DSB ISH (or SY) so the invalidation has completed; only then is the location clean.
 * Writing a valid value that differs from a possibly cached one in output address, block/table
 * type, contiguous bit, AttrIndx, SH or nG is a violation; so is such a change made directly
 * valid-to-valid. Changes of AF, DBM, AP, XN and software bits alone are allowed. With BBML2
 * (`bbml2`, Linux BBML2_NOABORT) a change of the contiguous bit alone needs no invalidation.
 * With `barriers` off, step 3 alone cleans a location (the lead's original rule).
 * Table descriptors are cached by walk caches, so only non-last-level TLBIs clean them.
 *
 * Contiguous sets (reference A.3 rules 1-4). Rule 1 (the set is the aligned group of 16 entries
 * of one table) holds by construction. Kernel operations pass through legal transient states
 * (contpte_convert repaints 16 entries one by one, wrprotect_ptes walks a block entry by entry,
 * AF and dirty are per entry), so groups touched by writes are judged at `settle()`, the end of a
 * kernel-model operation: every member valid with the bit (rule 3), consecutive output addresses
 * from an aligned base (rule 2), identical attributes ignoring AF, software bits and, where DBM
 * is set, AP[2] (the per-entry dirty state; rule 3). Per write, only what can never be
 * transient is flagged at once: an entry with the bit whose OA disagrees with the group's other
 * valid contiguous entries, or whose set would start at a misaligned OA (rule 2). Rule 4 (the
 * consequence: CONSTRAINED UNPREDICTABLE, possible TLB conflict abort) is what every finding means.
 */
import type { CheckerEvent } from '../trace/events.js';
import type { Telemetry } from '../trace/telemetry.js';
import { bump } from '../trace/stats.js';
import { u64Hex, type U64 } from '../util/u64.js';
import { AP2_LO, CONT_HI, DBM_HI, descriptorKind, leafOutputAddress, tableAddress, type DescriptorKind } from './descriptor.js';
import { CONT_ENTRIES, levelSize, type Level } from './geometry.js';
import type { PhysMem } from './physmem.js';
import { newCheckerStats, type CheckerStats } from './stats.js';
import { tlbiCoversLeaf, tlbiCoversTable, type DecodedTlbi } from './tlbi.js';

export interface CheckerOptions {
  /** BBML2_NOABORT: contiguous-bit-only changes need no break-before-make. Default false. */
  bbml2?: boolean;
  /** Require the DSBs of the break-before-make sequence, not only the TLBI. Default true. */
  barriers?: boolean;
  /** How many findings `findings` keeps (oldest dropped). Default 256. */
  keepFindings?: number;
}

/** Where a descriptor store lands in the address space: the VA it maps, its level, the ASID. */
export interface DescriptorWriteContext {
  va: number;
  level: number;
  asid: number;
}

export type BbmRule =
  /** A valid descriptor changed to another valid one that needs break-before-make. */
  | 'bbm_live_change'
  /** Invalidated, but no TLBI covering the VA and ASID before the new valid value. */
  | 'bbm_no_tlbi'
  /** The covering TLBI came before a DSB had made the invalid store visible to walkers. */
  | 'bbm_tlbi_before_dsb'
  /** A covering TLBI was issued but no DSB ISH completed it before the new valid value. */
  | 'bbm_tlbi_incomplete';

export type ContigRule =
  /** Rule 3: a member of a set with the contiguous bit is not a valid leaf. */
  | 'contig_member_invalid'
  /** Rule 3: a valid member lacks the contiguous bit. */
  | 'contig_member_not_contiguous'
  /** Rule 2: output addresses not consecutive from a base aligned to the set size. */
  | 'contig_oa'
  /** Rule 3: attributes or permissions differ between members. */
  | 'contig_attrs';

export type CheckerRule = BbmRule | ContigRule;

export interface CheckerFinding {
  kind: 'bbm_violation' | 'contig_violation';
  rule: CheckerRule;
  va: number;
  level: number;
  asid: number;
  detail: string;
  chain: string;
}

type Phase = 'cleared' | 'visible' | 'invalidating';

/** Valid values once stored at one (ASID, level, VA) that a TLB or walk cache may still hold. */
interface StaleRecord {
  key: number;
  /** -1 for a global leaf (nG = 0), else the ASID. */
  asid: number;
  level: Level;
  vaBase: number;
  size: number;
  values: U64[];
  hasTable: boolean;
  hasLeaf: boolean;
  phase: Phase;
  tlbiBeforeDsb: boolean;
}

interface TouchedGroup {
  groupPtep: number;
  level: Level;
  va0: number;
  asid: number;
}

const hex = (n: number): string => '0x' + n.toString(16);

/** Key of (level, VA) within an ASID bucket: VA page number * 4 + level (below 2^38). */
function recordKey(level: number, vaBase: number): number {
  return Math.floor(vaBase / 4096) * 4 + level;
}

/**
 * The fields that differ between two valid descriptors at `level` and require break-before-make:
 * 'type' (table vs block/page), 'table address', 'output address', 'contiguous', 'AttrIndx', 'SH',
 * 'nG'. Empty when the change is allowed on a live entry.
 */
export function bbmRelevantChanges(a: U64, b: U64, level: Level): string[] {
  const ka = descriptorKind(a.lo, level);
  const kb = descriptorKind(b.lo, level);
  if (ka === 'invalid' || kb === 'invalid') return [];
  if (ka !== kb) return ['type'];
  if (ka === 'table') return tableAddress(a) === tableAddress(b) ? [] : ['table address'];
  const out: string[] = [];
  if (leafOutputAddress(a, level) !== leafOutputAddress(b, level)) out.push('output address');
  if ((a.hi & CONT_HI) !== (b.hi & CONT_HI)) out.push('contiguous');
  if (((a.lo >>> 2) & 7) !== ((b.lo >>> 2) & 7)) out.push('AttrIndx');
  if (((a.lo >>> 8) & 3) !== ((b.lo >>> 8) & 3)) out.push('SH');
  if ((a.lo & 0x800) !== (b.lo & 0x800)) out.push('nG');
  return out;
}

// Attributes members of a contiguous set must share: AttrIndx, NS, AP, SH, nG (low half) and
// GP, DBM, PXN, UXN (high half). Not AF (per entry), not software or PBHA bits, not nT.
const SET_ATTR_LO = (7 << 2) | (1 << 5) | (3 << 6) | (3 << 8) | (1 << 11);
const SET_ATTR_HI = (1 << 18) | DBM_HI | (1 << 21) | (1 << 22);

function setAttributes(v: U64): string {
  let lo = v.lo & SET_ATTR_LO;
  // With DBM, AP[2] is the entry's own clean/dirty state (hardware clears it on a write).
  if (v.hi & DBM_HI) lo &= ~AP2_LO;
  return `${lo >>> 0}:${(v.hi & SET_ATTR_HI) >>> 0}`;
}

export class Checker {
  readonly stats: CheckerStats;
  readonly bbml2: boolean;
  readonly barriers: boolean;
  /** The most recent findings (also emitted as events when traced). */
  readonly findings: CheckerFinding[] = [];
  private readonly keep: number;
  /** ASID bucket (-1 = global leaves) -> key -> record. */
  private readonly stale = new Map<number, Map<number, StaleRecord>>();
  private readonly awaitingVisibility = new Set<StaleRecord>();
  private readonly awaitingCompletion = new Set<StaleRecord>();
  private readonly touched = new Map<number, TouchedGroup>();
  /** `${groupPtep}:${rule}` already reported since the last settle. */
  private readonly reported = new Set<string>();

  constructor(
    private readonly mem: PhysMem,
    private readonly telemetry: Telemetry,
    opts: CheckerOptions = {},
    stats?: CheckerStats,
  ) {
    this.bbml2 = opts.bbml2 ?? false;
    this.barriers = opts.barriers ?? true;
    this.keep = opts.keepFindings ?? 256;
    this.stats = stats ?? newCheckerStats();
  }

  /** Locations whose old value may still be cached (for tests and reports). */
  get staleLocations(): number {
    let n = 0;
    for (const b of this.stale.values()) n += b.size;
    return n;
  }

  /** A descriptor store of `value` over `old` at `ptep`. */
  onWrite(ptep: number, old: U64, value: U64, ctx: DescriptorWriteContext): void {
    const level = ctx.level;
    if (level !== 0 && level !== 1 && level !== 2 && level !== 3) throw new RangeError(`descriptor write context: level ${level} is not 0..3`);
    const size = levelSize(level);
    const index = Math.floor(ctx.va / size) % 512;
    if (index !== Math.floor((ptep % 4096) / 8)) {
      throw new RangeError(`descriptor write context: VA ${hex(ctx.va)} is entry ${index} at level ${level}, but the store is to entry ${Math.floor((ptep % 4096) / 8)} (PA ${hex(ptep)})`);
    }
    const vaBase = ctx.va - (ctx.va % size);
    const oldKind = descriptorKind(old.lo, level);
    const newKind = descriptorKind(value.lo, level);

    if (newKind === 'invalid') {
      if (oldKind !== 'invalid') this.addStale(old, oldKind, level, vaBase, ctx.asid);
    } else {
      this.checkBbm(old, oldKind, value, level, vaBase, ctx);
      if (newKind === 'leaf' && (value.hi & CONT_HI) !== 0) this.checkContiguousWrite(ptep, value, level, ctx);
    }
    if (level >= 1) {
      const groupPtep = ptep - (ptep % (CONT_ENTRIES * 8));
      if (!this.touched.has(groupPtep)) {
        const span = size * CONT_ENTRIES;
        this.touched.set(groupPtep, { groupPtep, level, va0: ctx.va - (ctx.va % span), asid: ctx.asid });
      }
    }
  }

  private addStale(old: U64, kind: DescriptorKind, level: Level, vaBase: number, asid: number): void {
    const bucketAsid = kind === 'leaf' && (old.lo & 0x800) === 0 ? -1 : asid;
    let bucket = this.stale.get(bucketAsid);
    if (!bucket) {
      bucket = new Map();
      this.stale.set(bucketAsid, bucket);
    }
    const key = recordKey(level, vaBase);
    let rec = bucket.get(key);
    if (!rec) {
      rec = { key, asid: bucketAsid, level, vaBase, size: levelSize(level), values: [], hasTable: false, hasLeaf: false, phase: 'cleared', tlbiBeforeDsb: false };
      bucket.set(key, rec);
    }
    if (!rec.values.some((v) => bbmRelevantChanges(v, old, level).length === 0)) rec.values.push(old);
    if (kind === 'table') rec.hasTable = true;
    else rec.hasLeaf = true;
    rec.phase = 'cleared';
    rec.tlbiBeforeDsb = false;
    this.awaitingCompletion.delete(rec);
    if (this.barriers) this.awaitingVisibility.add(rec);
  }

  private allowed(changes: string[]): boolean {
    return changes.length === 0 || (this.bbml2 && changes.length === 1 && changes[0] === 'contiguous');
  }

  private checkBbm(old: U64, oldKind: DescriptorKind, value: U64, level: Level, vaBase: number, ctx: DescriptorWriteContext): void {
    if (oldKind !== 'invalid') {
      const changes = bbmRelevantChanges(old, value, level);
      if (!this.allowed(changes)) {
        this.report('bbm_violation', 'bbm_live_change', ctx.va, level, ctx.asid, `valid ${u64Hex(old)} replaced by valid ${u64Hex(value)} without break-before-make (changed: ${changes.join(', ')})`, null);
        return;
      }
    }
    const key = recordKey(level, vaBase);
    for (const bucketAsid of ctx.asid === -1 ? [-1] : [ctx.asid, -1]) {
      const rec = this.stale.get(bucketAsid)?.get(key);
      if (!rec) continue;
      for (const v of rec.values) {
        const changes = bbmRelevantChanges(v, value, level);
        if (this.allowed(changes)) continue;
        const rule: BbmRule = rec.phase === 'invalidating' ? 'bbm_tlbi_incomplete' : rec.tlbiBeforeDsb ? 'bbm_tlbi_before_dsb' : 'bbm_no_tlbi';
        const why =
          rule === 'bbm_tlbi_incomplete'
            ? 'the covering TLBI was not completed by a DSB ISH'
            : rule === 'bbm_tlbi_before_dsb'
              ? 'the covering TLBI came before a DSB made the invalid store visible'
              : 'no TLBI covering this VA and ASID since it was invalidated';
        this.report('bbm_violation', rule, ctx.va, level, ctx.asid, `${u64Hex(value)} written where ${u64Hex(v)} may still be cached: ${why} (changed: ${changes.join(', ')})`, null);
        return;
      }
    }
  }

  /** Rule 2 at the moment of the write: OA must agree with the other contiguous members. */
  private checkContiguousWrite(ptep: number, value: U64, level: Level, ctx: DescriptorWriteContext): void {
    const size = levelSize(level);
    const groupPtep = ptep - (ptep % (CONT_ENTRIES * 8));
    const i = (ptep - groupPtep) / 8;
    const oa = leafOutputAddress(value, level);
    const base = oa - i * size;
    const span = size * CONT_ENTRIES;
    let problem: string | null = null;
    if (base < 0 || base % span !== 0) {
      problem = `entry ${i} has OA ${hex(oa)}, so the set would start at ${base < 0 ? `-${hex(-base)}` : hex(base)}, not aligned to ${hex(span)}`;
    } else {
      for (let j = 0; j < CONT_ENTRIES && problem === null; j++) {
        if (j === i) continue;
        const v = this.mem.read64(groupPtep + j * 8);
        if (descriptorKind(v.lo, level) !== 'leaf' || (v.hi & CONT_HI) === 0) continue;
        const other = leafOutputAddress(v, level);
        if (other !== base + j * size) problem = `entry ${i} has OA ${hex(oa)} but contiguous entry ${j} has ${hex(other)} (expected ${hex(base + j * size)})`;
      }
    }
    if (problem !== null) {
      const va0 = ctx.va - (ctx.va % span);
      this.report('contig_violation', 'contig_oa', va0, level, ctx.asid, problem, `${groupPtep}:contig_oa`);
    }
  }

  /** A TLBI: stale locations it covers move on (or are clean when barriers are not checked). */
  onTlbi(d: DecodedTlbi): void {
    if (this.stale.size === 0) return;
    const consider = (rec: StaleRecord, bucket: Map<number, StaleRecord>): void => {
      const covered =
        (!rec.hasTable || tlbiCoversTable(d, rec.vaBase, rec.size, rec.asid)) &&
        (!rec.hasLeaf || tlbiCoversLeaf(d, rec.vaBase, rec.size, rec.asid, rec.level));
      if (!covered) return;
      if (!this.barriers) {
        bucket.delete(rec.key);
        return;
      }
      if (rec.phase === 'cleared') {
        rec.tlbiBeforeDsb = true;
        return;
      }
      rec.phase = 'invalidating';
      this.awaitingCompletion.add(rec);
    };
    const buckets: [number, Map<number, StaleRecord>][] = [];
    const asid = d.scope === 'all' ? null : d.asid;
    if (asid === null) {
      buckets.push(...this.stale.entries());
    } else {
      const a = this.stale.get(asid);
      if (a) buckets.push([asid, a]);
      const g = this.stale.get(-1);
      if (g && d.scope !== 'asid') buckets.push([-1, g]);
    }
    for (const [, bucket] of buckets) {
      if (d.scope === 'va') {
        for (let l = 0; l <= 3; l++) {
          const size = levelSize(l as Level);
          const rec = bucket.get(recordKey(l, d.va - (d.va % size)));
          if (rec) consider(rec, bucket);
        }
      } else {
        for (const rec of [...bucket.values()]) consider(rec, bucket);
      }
    }
    this.dropEmptyBuckets();
  }

  /** A DSB: stores before it are visible to walkers; with ISH/SY, earlier TLBIs have completed. */
  onDsb(domain: 'ishst' | 'ish' | 'nshst' | 'nsh' | 'sy'): void {
    if (!this.barriers) return;
    // A store barrier orders the clearing stores; only a full barrier completes TLBIs.
    if (domain !== 'ishst' && domain !== 'nshst') {
      for (const rec of this.awaitingCompletion) {
        if (rec.phase === 'invalidating') this.stale.get(rec.asid)?.delete(rec.key);
      }
      this.awaitingCompletion.clear();
      this.dropEmptyBuckets();
    }
    for (const rec of this.awaitingVisibility) if (rec.phase === 'cleared') rec.phase = 'visible';
    this.awaitingVisibility.clear();
  }

  private dropEmptyBuckets(): void {
    for (const [a, b] of this.stale) if (b.size === 0) this.stale.delete(a);
  }

  /** End of a kernel-model operation: judge the contiguous sets touched since the last settle. */
  settle(): void {
    for (const g of this.touched.values()) this.checkGroup(g);
    this.touched.clear();
    this.reported.clear();
  }

  private checkGroup(g: TouchedGroup): void {
    const size = levelSize(g.level);
    const values: U64[] = [];
    const kinds: DescriptorKind[] = [];
    let anyCont = false;
    for (let j = 0; j < CONT_ENTRIES; j++) {
      const v = this.mem.read64(g.groupPtep + j * 8);
      const k = descriptorKind(v.lo, g.level);
      values.push(v);
      kinds.push(k);
      if (k === 'leaf' && (v.hi & CONT_HI) !== 0) anyCont = true;
    }
    if (!anyCont) return;
    const contIdx: number[] = [];
    const notLeaf: number[] = [];
    const noBit: number[] = [];
    for (let j = 0; j < CONT_ENTRIES; j++) {
      if (kinds[j] !== 'leaf') notLeaf.push(j);
      else if ((values[j]!.hi & CONT_HI) === 0) noBit.push(j);
      else contIdx.push(j);
    }
    const report = (rule: ContigRule, detail: string): void => {
      this.report('contig_violation', rule, g.va0, g.level, g.asid, detail, `${g.groupPtep}:${rule}`);
    };
    if (notLeaf.length > 0) report('contig_member_invalid', `entries ${notLeaf.join(',')} of the set are not valid ${g.level === 3 ? 'pages' : 'blocks'} while entries ${contIdx.join(',')} have the contiguous bit`);
    if (noBit.length > 0) report('contig_member_not_contiguous', `entries ${noBit.join(',')} are valid without the contiguous bit while entries ${contIdx.join(',')} have it`);

    const first = contIdx[0]!;
    const base = leafOutputAddress(values[first]!, g.level) - first * size;
    const span = size * CONT_ENTRIES;
    const badOa = contIdx.filter((j) => leafOutputAddress(values[j]!, g.level) !== base + j * size);
    if (base < 0 || base % span !== 0 || badOa.length > 0) {
      const oas = contIdx.map((j) => `${j}:${hex(leafOutputAddress(values[j]!, g.level))}`).join(' ');
      report('contig_oa', `output addresses are not consecutive from a ${hex(span)}-aligned base: ${oas}`);
    }
    const attrs = setAttributes(values[first]!);
    const badAttrs = contIdx.filter((j) => setAttributes(values[j]!) !== attrs);
    if (badAttrs.length > 0) {
      report('contig_attrs', `entries ${badAttrs.join(',')} differ from entry ${first} in attributes or permissions (${u64Hex(values[badAttrs[0]!]!)} vs ${u64Hex(values[first]!)})`);
    }
  }

  private report(kind: CheckerEvent['kind'], rule: CheckerRule, va: number, level: number, asid: number, detail: string, dedupeKey: string | null): void {
    if (dedupeKey !== null) {
      if (this.reported.has(dedupeKey)) return;
      this.reported.add(dedupeKey);
    }
    if (kind === 'bbm_violation') this.stats.bbm_violations++;
    else this.stats.contig_violations++;
    bump(this.stats.by_rule, rule);
    const chain = this.telemetry.calls.chain();
    this.findings.push({ kind, rule, va, level, asid, detail, chain });
    if (this.findings.length > this.keep) this.findings.shift();
    const tr = this.telemetry.tracer;
    if (tr.on[kind]) tr.emit({ kind, va, rule, detail, chain });
  }
}
