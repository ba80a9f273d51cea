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
import { u64, u64Hex, type U64 } from '../util/u64.js';
import { ADDR_HI_MASK, ADDR_LO_MASK_4K, AP2_LO, CONT_HI, DBM_HI, descriptorKind, leafOutputAddress, OA_LO_MASK, type DescriptorKind } from './descriptor.js';
import { CONT_ENTRIES, levelSize, POW2, type Level } from './geometry.js';
import type { PhysMem } from './physmem.js';
import { newCheckerStats, type CheckerStats } from './stats.js';
import { StaleSet, type StaleJudge } from './stale.js';
import type { DecodedTlbi } from './tlbi.js';

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
  | 'bbm_tlbi_incomplete'
  /**
   * A CPU loaded an ASID with another translation table while its TLB may still hold entries of
   * the old table under that ASID (no TLBI ASIDE1 or VMALLE1 reached it since): every translation
   * of the ASID changed without an invalidation, which is what an ASID allocator's flush prevents.
   */
  | 'bbm_asid_reuse';

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

interface TouchedGroup {
  groupPtep: number;
  level: Level;
  va0: number;
  asid: number;
}

/**
 * The contiguous groups written since the last settle, in columns: a store appends without
 * allocating, and typed columns keep one number representation whatever the addresses are.
 * One operation stays within one table, so 32 groups (a whole page table) is the usual most.
 */
class TouchedGroups {
  length = 0;
  private groupPtep = new Float64Array(32);
  private va0 = new Float64Array(32);
  private level = new Uint8Array(32);
  private asid = new Int32Array(32);

  /** Whether the most recent group is the one at groupPtep (consecutive stores mostly are). */
  isLast(groupPtep: number): boolean {
    return this.length !== 0 && this.groupPtep[this.length - 1] === groupPtep;
  }

  push(groupPtep: number, level: Level, va0: number, asid: number): void {
    if (this.length === this.groupPtep.length) this.grow();
    const n = this.length++;
    this.groupPtep[n] = groupPtep;
    this.va0[n] = va0;
    this.level[n] = level;
    this.asid[n] = asid;
  }

  at(n: number): TouchedGroup {
    return { groupPtep: this.groupPtep[n]!, level: this.level[n]! as Level, va0: this.va0[n]!, asid: this.asid[n]! };
  }

  groupPtepAt(n: number): number {
    return this.groupPtep[n]!;
  }

  levelAt(n: number): Level {
    return this.level[n]! as Level;
  }

  private grow(): void {
    const cap = this.groupPtep.length * 2;
    const widen = <T extends Float64Array | Uint8Array | Int32Array>(a: T, b: T): T => {
      b.set(a);
      return b;
    };
    this.groupPtep = widen(this.groupPtep, new Float64Array(cap));
    this.va0 = widen(this.va0, new Float64Array(cap));
    this.level = widen(this.level, new Uint8Array(cap));
    this.asid = widen(this.asid, new Int32Array(cap));
  }
}

const hex = (n: number): string => '0x' + n.toString(16);

/** Bits of a break-before-make-relevant change (see `bbmChangeMask`). */
const CH_TYPE = 1;
const CH_TABLE_ADDRESS = 2;
const CH_OUTPUT_ADDRESS = 4;
const CH_CONTIGUOUS = 8;
const CH_ATTRINDX = 16;
const CH_SH = 32;
const CH_NG = 64;
const CHANGE_NAMES: [number, string][] = [
  [CH_TYPE, 'type'],
  [CH_TABLE_ADDRESS, 'table address'],
  [CH_OUTPUT_ADDRESS, 'output address'],
  [CH_CONTIGUOUS, 'contiguous'],
  [CH_ATTRINDX, 'AttrIndx'],
  [CH_SH, 'SH'],
  [CH_NG, 'nG'],
];

/** Whether two descriptors' address fields (bits [47:32] and the low bits in `loMask`) differ. */
function addressDiffers(aLo: number, aHi: number, bLo: number, bHi: number, loMask: number): boolean {
  return ((aHi ^ bHi) & ADDR_HI_MASK) !== 0 || ((aLo ^ bLo) & loMask) !== 0;
}

/** A leaf's output address from its halves (leafOutputAddress without building a U64). */
function leafOa(lo: number, hi: number, level: Level): number {
  return (hi & ADDR_HI_MASK) * POW2[32]! + ((lo & OA_LO_MASK[level]!) >>> 0);
}

/**
 * What differs between two valid descriptors at `level` that requires break-before-make, as a
 * bit mask (0: the change is allowed on a live entry). On the 32-bit halves, allocation-free: it
 * runs on every store.
 */
function bbmChangeMaskWords(aLo: number, aHi: number, bLo: number, bHi: number, level: Level): number {
  const ka = descriptorKind(aLo, level);
  const kb = descriptorKind(bLo, level);
  if (ka === 'invalid' || kb === 'invalid') return 0;
  if (ka !== kb) return CH_TYPE;
  if (ka === 'table') return addressDiffers(aLo, aHi, bLo, bHi, ADDR_LO_MASK_4K) ? CH_TABLE_ADDRESS : 0;
  let m = 0;
  if (addressDiffers(aLo, aHi, bLo, bHi, OA_LO_MASK[level]!)) m |= CH_OUTPUT_ADDRESS;
  if ((aHi & CONT_HI) !== (bHi & CONT_HI)) m |= CH_CONTIGUOUS;
  if (((aLo >>> 2) & 7) !== ((bLo >>> 2) & 7)) m |= CH_ATTRINDX;
  if (((aLo >>> 8) & 3) !== ((bLo >>> 8) & 3)) m |= CH_SH;
  if ((aLo & 0x800) !== (bLo & 0x800)) m |= CH_NG;
  return m;
}

function bbmChangeMask(a: U64, b: U64, level: Level): number {
  return bbmChangeMaskWords(a.lo, a.hi, b.lo, b.hi, level);
}

/**
 * The fields that differ between two valid descriptors at `level` and require break-before-make:
 * 'type' (table vs block/page), 'table address', 'output address', 'contiguous', 'AttrIndx', 'SH',
 * 'nG'. Empty when the change is allowed on a live entry.
 */
export function bbmRelevantChanges(a: U64, b: U64, level: Level): string[] {
  const m = bbmChangeMask(a, b, level);
  return CHANGE_NAMES.filter(([bit]) => (m & bit) !== 0).map(([, name]) => name);
}

// Attributes members of a contiguous set must share: AttrIndx, NS, AP, SH, nG (low half) and
// GP, DBM, PXN, UXN (high half). Not AF (per entry), not software or PBHA bits, not nT.
const SET_ATTR_LO = (7 << 2) | (1 << 5) | (3 << 6) | (3 << 8) | (1 << 11);
const SET_ATTR_HI = (1 << 18) | DBM_HI | (1 << 21) | (1 << 22);

/** The low-half attributes a set's members must share. */
function setAttrLo(lo: number, hi: number): number {
  let a = lo & SET_ATTR_LO;
  // With DBM, AP[2] is the entry's own clean/dirty state (hardware clears it on a write).
  if (hi & DBM_HI) a &= ~AP2_LO;
  return a >>> 0;
}

function setAttributes(v: U64): string {
  return `${setAttrLo(v.lo, v.hi)}:${(v.hi & SET_ATTR_HI) >>> 0}`;
}

/** How many of a run's first findings `firstFindings` keeps. */
const FIRST_FINDINGS_KEPT = 16;

export class Checker implements StaleJudge {
  readonly stats: CheckerStats;
  readonly bbml2: boolean;
  readonly barriers: boolean;
  /** The most recent findings (also emitted as events when traced). */
  readonly findings: CheckerFinding[] = [];
  /** The first findings of the run and the whole run's totals by rule: a marker reset zeroes `stats`, not these. */
  readonly firstFindings: CheckerFinding[] = [];
  readonly runByRule: Partial<Record<CheckerRule, number>> = {};
  runTotal = 0;
  private readonly keep: number;
  private readonly stale: StaleSet;
  /** Contiguous groups written since the last settle (consecutive writes mostly hit the same one). */
  private readonly touched = new TouchedGroups();
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
    this.stale = new StaleSet(this.barriers, this);
  }

  /** Locations whose old value may still be cached (for tests and reports). */
  get staleLocations(): number {
    return this.stale.count();
  }

  /** A descriptor store of `value` over `old` at `ptep`. */
  onWrite(ptep: number, old: U64, value: U64, ctx: DescriptorWriteContext): void {
    this.onWriteWords(ptep, old.lo, old.hi, value, ctx);
  }

  /** `onWrite` with the old value as its two halves (a store that builds no U64 for it). */
  onWriteWords(ptep: number, oldLo: number, oldHi: number, value: U64, ctx: DescriptorWriteContext): void {
    const level = ctx.level;
    if (level !== 0 && level !== 1 && level !== 2 && level !== 3) throw new RangeError(`descriptor write context: level ${level} is not 0..3`);
    const size = levelSize(level);
    // Floor division and masks rather than % (a slow floating-point remainder above 2^31).
    const vaIndex = Math.floor(ctx.va / size);
    const index = vaIndex & 511;
    const entry = (ptep / 8) & 511;
    if (index !== entry) {
      throw new RangeError(`descriptor write context: VA ${hex(ctx.va)} is entry ${index} at level ${level}, but the store is to entry ${entry} (PA ${hex(ptep)})`);
    }
    // The entry's first page: a small integer to pass on, where the VA would be a heap number.
    const vpn = vaIndex * (size / 4096);
    const oldKind = descriptorKind(oldLo, level);
    const newKind = descriptorKind(value.lo, level);

    if (newKind === 'invalid') {
      if (oldKind !== 'invalid') this.addStale(oldLo, oldHi, oldKind, level, vpn, ctx.asid);
    } else {
      this.checkBbm(oldLo, oldHi, oldKind, value, level, vpn, ctx);
      if (newKind === 'leaf' && (value.hi & CONT_HI) !== 0) this.checkContiguousWrite(ptep, value, level, ctx);
    }
    // A set's contiguity can only change through a store whose old or new value has the bit
    // (a set without the bit is trivially fine), so only those groups are judged at settle().
    if (level >= 1 && ((oldHi | value.hi) & CONT_HI) !== 0) {
      const groupPtep = ptep - (ptep & (CONT_ENTRIES * 8 - 1));
      if (!this.touched.isLast(groupPtep)) {
        const span = size * CONT_ENTRIES;
        this.touched.push(groupPtep, level, Math.floor(ctx.va / span) * span, ctx.asid);
      }
    }
  }

  /** CPU `cpu` loads `asid` with table `ttbr0`, having run it with `oldTtbr0` since it last invalidated the ASID. */
  onAsidReuse(cpu: number, asid: number, oldTtbr0: number, ttbr0: number): void {
    this.report('bbm_violation', 'bbm_asid_reuse', 0, 0, asid, `CPU ${cpu} loads ASID ${asid} with table ${hex(ttbr0)} while its TLB may still hold entries of table ${hex(oldTtbr0)} under that ASID (no TLBI ASIDE1 or VMALLE1 since)`, null);
  }

  private addStale(oldLo: number, oldHi: number, kind: DescriptorKind, level: Level, vpn: number, asid: number): void {
    const bucketAsid = kind === 'leaf' && (oldLo & 0x800) === 0 ? -1 : asid;
    this.stale.add(oldLo, oldHi, level, vpn, bucketAsid, kind === 'table');
  }

  /** StaleJudge: two stale values needing the same care are remembered once. */
  sameStale(aLo: number, aHi: number, bLo: number, bHi: number, level: Level): boolean {
    return bbmChangeMaskWords(aLo, aHi, bLo, bHi, level) === 0;
  }

  /** StaleJudge: a value may replace a possibly cached one when nothing that needs BBM changed. */
  mayReplace(oldLo: number, oldHi: number, newLo: number, newHi: number, level: Level): boolean {
    return this.allowed(bbmChangeMaskWords(oldLo, oldHi, newLo, newHi, level));
  }

  private allowed(changes: number): boolean {
    return changes === 0 || (this.bbml2 && changes === CH_CONTIGUOUS);
  }

  private checkBbm(oldLo: number, oldHi: number, oldKind: DescriptorKind, value: U64, level: Level, vpn: number, ctx: DescriptorWriteContext): void {
    if (oldKind !== 'invalid') {
      const changes = bbmChangeMaskWords(oldLo, oldHi, value.lo, value.hi, level);
      if (!this.allowed(changes)) {
        const old = u64(oldLo, oldHi);
        this.report('bbm_violation', 'bbm_live_change', ctx.va, level, ctx.asid, `valid ${u64Hex(old)} replaced by valid ${u64Hex(value)} without break-before-make (changed: ${bbmRelevantChanges(old, value, level).join(', ')})`, null);
        return;
      }
    }
    if (this.stale.empty) return;
    const c = this.stale.conflict(level, vpn, ctx.asid, value.lo, value.hi);
    if (c === null) return;
    const why =
      c.rule === 'bbm_tlbi_incomplete'
        ? 'the covering TLBI was not completed by a DSB ISH'
        : c.rule === 'bbm_tlbi_before_dsb'
          ? 'the covering TLBI came before a DSB made the invalid store visible'
          : 'no TLBI covering this VA and ASID since it was invalidated';
    this.report('bbm_violation', c.rule, ctx.va, level, ctx.asid, `${u64Hex(value)} written where ${u64Hex(c.old)} may still be cached: ${why} (changed: ${bbmRelevantChanges(c.old, value, level).join(', ')})`, null);
  }

  /** Rule 2 at the moment of the write: OA must agree with the other contiguous members. */
  private checkContiguousWrite(ptep: number, value: U64, level: Level, ctx: DescriptorWriteContext): void {
    const size = levelSize(level);
    const groupPtep = ptep - (ptep & (CONT_ENTRIES * 8 - 1));
    const i = (ptep - groupPtep) / 8;
    const oa = leafOa(value.lo, value.hi, level);
    const base = oa - i * size;
    const span = size * CONT_ENTRIES;
    let problem: string | null = null;
    if (base < 0 || Math.floor(base / span) * span !== base) {
      problem = `entry ${i} has OA ${hex(oa)}, so the set would start at ${base < 0 ? `-${hex(-base)}` : hex(base)}, not aligned to ${hex(span)}`;
    } else {
      // Every contiguous member was checked against the others when it was stored, so the valid
      // members already agree with one another: comparing with the first one found suffices.
      // (Read in place, no allocation: this runs for every contiguous store.)
      const u32 = this.mem.u32;
      const w0 = (groupPtep - this.mem.base) >>> 2;
      for (let j = 0; j < CONT_ENTRIES; j++) {
        if (j === i) continue;
        const lo = u32[w0 + 2 * j]!;
        const hi = u32[w0 + 2 * j + 1]!;
        if ((hi & CONT_HI) === 0 || descriptorKind(lo, level) !== 'leaf') continue;
        const other = leafOa(lo, hi, level);
        if (other !== base + j * size) problem = `entry ${i} has OA ${hex(oa)} but contiguous entry ${j} has ${hex(other)} (expected ${hex(base + j * size)})`;
        break;
      }
    }
    if (problem !== null) {
      const va0 = ctx.va - (ctx.va % span);
      this.report('contig_violation', 'contig_oa', va0, level, ctx.asid, problem, `${groupPtep}:contig_oa`);
    }
  }

  /** A TLBI: stale locations it covers move on (or are clean when barriers are not checked). */
  onTlbi(d: DecodedTlbi): void {
    this.stale.onTlbi(d);
  }

  /** A DSB: stores before it are visible to walkers; with ISH/NSH/SY, earlier TLBIs have completed. */
  onDsb(domain: 'ishst' | 'ish' | 'nshst' | 'nsh' | 'sy'): void {
    this.stale.onDsb(domain !== 'ishst' && domain !== 'nshst');
  }

  /** End of a kernel-model operation: judge the contiguous sets touched since the last settle. */
  settle(): void {
    const touched = this.touched;
    for (let n = 0; n < touched.length; n++) {
      if (!this.groupIsSound(touched.groupPtepAt(n), touched.levelAt(n))) this.diagnoseGroup(touched.at(n));
    }
    touched.length = 0;
    // Most operations report nothing: leave the empty set alone then.
    if (this.reported.size !== 0) this.reported.clear();
  }

  /**
   * The common outcome, a complete and consistent set or no contiguous entry at all, decided on
   * the raw words without allocating; the detailed diagnosis runs only for a bad set.
   */
  private groupIsSound(groupPtep: number, level: Level): boolean {
    const u32 = this.mem.u32;
    const w0 = (groupPtep - this.mem.base) >>> 2;
    const size = levelSize(level);
    let cont = 0;
    let complete = true;
    let firstAttrLo = 0;
    let firstAttrHi = 0;
    let base = -1;
    let consistent = true;
    for (let j = 0; j < CONT_ENTRIES; j++) {
      const lo = u32[w0 + 2 * j]!;
      const hi = u32[w0 + 2 * j + 1]!;
      const leaf = descriptorKind(lo, level) === 'leaf';
      if (!leaf || (hi & CONT_HI) === 0) {
        complete = false;
        continue;
      }
      const aLo = setAttrLo(lo, hi);
      const aHi = hi & SET_ATTR_HI;
      const b = leafOa(lo, hi, level) - j * size;
      if (cont === 0) {
        firstAttrLo = aLo;
        firstAttrHi = aHi;
        base = b;
      } else if (aLo !== firstAttrLo || aHi !== firstAttrHi || b !== base) {
        consistent = false;
      }
      cont++;
    }
    if (cont === 0) return true;
    const span = size * CONT_ENTRIES;
    return complete && consistent && base >= 0 && Math.floor(base / span) * span === base;
  }

  /** Names every rule a bad contiguous set breaks. */
  private diagnoseGroup(g: TouchedGroup): void {
    const size = levelSize(g.level);
    const values: U64[] = [];
    const kinds: DescriptorKind[] = [];
    for (let j = 0; j < CONT_ENTRIES; j++) {
      const v = this.mem.read64(g.groupPtep + j * 8);
      values.push(v);
      kinds.push(descriptorKind(v.lo, g.level));
    }
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
    const finding: CheckerFinding = { kind, rule, va, level, asid, detail, chain };
    this.findings.push(finding);
    if (this.findings.length > this.keep) this.findings.shift();
    this.runTotal++;
    this.runByRule[rule] = (this.runByRule[rule] ?? 0) + 1;
    if (this.firstFindings.length < FIRST_FINDINGS_KEPT) this.firstFindings.push(finding);
    const tr = this.telemetry.tracer;
    if (tr.on[kind]) tr.emit({ kind, va, rule, detail, chain });
  }
}
