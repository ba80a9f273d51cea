/**
 * TLB maintenance instructions as values (reference A.6; ARM ARM C5.5 "A64 system instructions
 * for TLB maintenance"): the operations, their Xt operands (encode/decode), and which cached
 * entries an operation removes. The TLB, the walk cache and the checker all ask `tlbiCovers*`,
 * so the three agree by construction.
 *
 * Operand layouts:
 * - by VA: [63:48] ASID, [47:44] TTL (FEAT_TTL hint), [43:0] VA[55:12].
 * - range (FEAT_TLBIRANGE): [63:48] ASID, [47:46] TG, [45:44] SCALE, [43:39] NUM, [38:37] TTL,
 *   [36:0] BaseADDR in granules; it covers (NUM+1) * 2^(5*SCALE+1) granules from BaseADDR.
 * - ASIDE1: [63:48] ASID. VMALLE1: the operand is ignored.
 */
import { u64, type U64 } from '../util/u64.js';
import { POW2 } from './geometry.js';

export const TLBI_OPS = [
  'VAE1IS',
  'VALE1IS',
  'VAAE1IS',
  'VAALE1IS',
  'ASIDE1IS',
  'VMALLE1IS',
  'RVAE1IS',
  'RVALE1IS',
  'VAE1',
  'VALE1',
  'VAAE1',
  'VAALE1',
  'ASIDE1',
  'VMALLE1',
  'RVAE1',
  'RVALE1',
] as const;

export type TlbiOp = (typeof TLBI_OPS)[number];

export type TlbiScope = 'va' | 'range' | 'asid' | 'all';

export interface TlbiOpInfo {
  scope: TlbiScope;
  /** VAA*: the ASID field is ignored and entries of every ASID match. */
  allAsids: boolean;
  /** *L* forms: only last-level (leaf) entries; walk-cache entries may stay. */
  lastLevel: boolean;
  /** *IS forms: broadcast to the Inner Shareable domain. */
  broadcast: boolean;
}

function info(op: string): TlbiOpInfo {
  const broadcast = op.endsWith('IS');
  const base = broadcast ? op.slice(0, -2) : op;
  switch (base) {
    case 'VAE1':
      return { scope: 'va', allAsids: false, lastLevel: false, broadcast };
    case 'VALE1':
      return { scope: 'va', allAsids: false, lastLevel: true, broadcast };
    case 'VAAE1':
      return { scope: 'va', allAsids: true, lastLevel: false, broadcast };
    case 'VAALE1':
      return { scope: 'va', allAsids: true, lastLevel: true, broadcast };
    case 'ASIDE1':
      return { scope: 'asid', allAsids: false, lastLevel: false, broadcast };
    case 'VMALLE1':
      return { scope: 'all', allAsids: true, lastLevel: false, broadcast };
    case 'RVAE1':
      return { scope: 'range', allAsids: false, lastLevel: false, broadcast };
    case 'RVALE1':
      return { scope: 'range', allAsids: false, lastLevel: true, broadcast };
    default:
      throw new Error(`no TLBI operation ${op}`);
  }
}

export const TLBI_OP_INFO: Readonly<Record<TlbiOp, TlbiOpInfo>> = Object.freeze(
  Object.fromEntries(TLBI_OPS.map((op) => [op, info(op)])) as Record<TlbiOp, TlbiOpInfo>,
);

/** The same, looked up by operation: a Map, because decoding sees many different names. */
const OP_INFO: ReadonlyMap<string, TlbiOpInfo> = new Map(Object.entries(TLBI_OP_INFO));

export function isTlbiOp(s: string): s is TlbiOp {
  return (TLBI_OPS as readonly string[]).includes(s);
}

/** A by-VA operation: VAE1, VALE1, VAAE1, VAALE1 (and their IS forms). */
export interface DecodedVaTlbi {
  op: TlbiOp;
  scope: 'va';
  /** null for VAA*: every ASID. */
  asid: number | null;
  /** VA[55:12] << 12 from the operand. */
  va: number;
  lastLevel: boolean;
  broadcast: boolean;
  /** The raw TTL field. */
  ttl: number;
  /** Leaf level named by TTL (1..3), or 0 for no hint. */
  hintLevel: number;
  /** Why the operation invalidates nothing (a hint for another granule), or null. */
  noEffect: string | null;
}

export interface DecodedRangeTlbi {
  op: TlbiOp;
  scope: 'range';
  asid: number | null;
  /** [start, end): the VA range covered. */
  start: number;
  end: number;
  lastLevel: boolean;
  broadcast: boolean;
  tg: number;
  scale: number;
  num: number;
  ttl: number;
  baseAddr: number;
  /** Granules covered: (NUM+1) * 2^(5*SCALE+1). */
  pages: number;
  hintLevel: number;
  /** Why the operation invalidates nothing (TG reserved or not the 4 KiB granule), or null. */
  noEffect: string | null;
}

export interface DecodedAsidTlbi {
  op: TlbiOp;
  scope: 'asid';
  asid: number;
  broadcast: boolean;
}

export interface DecodedAllTlbi {
  op: TlbiOp;
  scope: 'all';
  broadcast: boolean;
}

export type DecodedTlbi = DecodedVaTlbi | DecodedRangeTlbi | DecodedAsidTlbi | DecodedAllTlbi;

function checkBits(name: string, v: number, width: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= POW2[width]!) throw new RangeError(`TLBI operand ${name} = ${v} does not fit in ${width} bits`);
}

/**
 * The operand of a by-VA TLBI (Linux `__TLBI_VADDR`): ASID, VA >> 12 and an optional TTL hint
 * (TTL[3:2] = TG, 01 for 4 KiB; TTL[1:0] = leaf level). Bits of `va` below 12 are dropped.
 */
export function tlbiVaOperand(o: { asid: number; va: number; ttl?: number }): U64 {
  const ttl = o.ttl ?? 0;
  checkBits('ASID', o.asid, 16);
  checkBits('TTL', ttl, 4);
  if (!Number.isSafeInteger(o.va) || o.va < 0 || o.va >= POW2[56]!) throw new RangeError(`TLBI operand VA 0x${o.va.toString(16)} is not below 2^56`);
  const vpn = Math.floor(o.va / 4096);
  return u64(vpn >>> 0, (Math.floor(vpn / POW2[32]!) & 0xfff) | (ttl << 12) | (o.asid << 16));
}

/** TTL for a by-VA operand with the 4 KiB granule and a leaf at `level` (1..3); 0 = no hint. */
export function ttl4k(level: number): number {
  if (level === 0) return 0;
  checkBits('level', level, 2);
  return 0b0100 | level;
}

/** The operand of a range TLBI (Linux `__TLBI_VADDR_RANGE`). */
export function tlbiRangeOperand(o: { asid: number; tg: number; scale: number; num: number; ttl: number; baseAddr: number }): U64 {
  checkBits('ASID', o.asid, 16);
  checkBits('TG', o.tg, 2);
  checkBits('SCALE', o.scale, 2);
  checkBits('NUM', o.num, 5);
  checkBits('TTL', o.ttl, 2);
  if (!Number.isSafeInteger(o.baseAddr) || o.baseAddr < 0 || o.baseAddr >= POW2[37]!) throw new RangeError(`TLBI operand BaseADDR ${o.baseAddr} does not fit in 37 bits`);
  const hi = (o.asid << 16) | (o.tg << 14) | (o.scale << 12) | (o.num << 7) | (o.ttl << 5) | (Math.floor(o.baseAddr / POW2[32]!) & 0x1f);
  return u64(o.baseAddr >>> 0, hi);
}

/** Granules one range operation covers. */
export function tlbiRangePages(scale: number, num: number): number {
  return (num + 1) * POW2[5 * scale + 1]!;
}

/** The most granules one range operation can cover: SCALE 3, NUM 31 (Linux MAX_TLBI_RANGE_PAGES). */
export const TLBI_RANGE_MAX_PAGES = tlbiRangePages(3, 31);

const GRANULE_OF_TG: readonly number[] = [0, 4096, 16384, 65536];

/**
 * Decodes `operand` as `op` would read it. `ds` is TCR_EL1.DS (FEAT_LPA2): with the 4 KiB and
 * 16 KiB granules a range operand's BaseADDR then holds VA[52:16], i.e. counts 64 KiB units.
 */
export function decodeTlbiOperand(op: TlbiOp, operand: U64, ds = false): DecodedTlbi {
  const i = OP_INFO.get(op);
  if (i === undefined) throw new RangeError(`unknown TLBI operation '${String(op)}'`);
  const asidField = operand.hi >>> 16;
  switch (i.scope) {
    case 'all':
      return { op, scope: 'all', broadcast: i.broadcast };
    case 'asid':
      return { op, scope: 'asid', asid: asidField, broadcast: i.broadcast };
    case 'va': {
      const ttl = (operand.hi >>> 12) & 0xf;
      const va = ((operand.hi & 0xfff) * POW2[32]! + operand.lo) * 4096;
      const tg = ttl >>> 2;
      let hintLevel = 0;
      let noEffect: string | null = null;
      // TTL 0b00xx: no hint. 0b01xx: 4 KiB granule, xx the leaf level (0b0100 names level 0,
      // where no 4 KiB leaf exists, so it is treated as no hint). 16K/64K hints name another
      // granule: the architecture then requires nothing to be invalidated.
      if (tg === 1) hintLevel = ttl & 3;
      else if (tg !== 0) noEffect = `TTL=0b${ttl.toString(2).padStart(4, '0')} names the ${tg === 2 ? '16' : '64'} KiB granule; the regime uses 4 KiB`;
      return { op, scope: 'va', asid: i.allAsids ? null : asidField, va, lastLevel: i.lastLevel, broadcast: i.broadcast, ttl, hintLevel, noEffect };
    }
    case 'range': {
      const tg = (operand.hi >>> 14) & 3;
      const scale = (operand.hi >>> 12) & 3;
      const num = (operand.hi >>> 7) & 0x1f;
      const ttl = (operand.hi >>> 5) & 3;
      const baseAddr = (operand.hi & 0x1f) * POW2[32]! + operand.lo;
      const pages = tlbiRangePages(scale, num);
      const granule = GRANULE_OF_TG[tg]!;
      const start = baseAddr * (ds && (tg === 1 || tg === 2) ? 65536 : granule);
      let noEffect: string | null = null;
      if (tg === 0) noEffect = 'TG=0 is reserved: no entries are invalidated';
      else if (tg !== 1) noEffect = `TG=${tg} names the ${tg === 2 ? '16' : '64'} KiB granule; the regime uses 4 KiB`;
      return {
        op,
        scope: 'range',
        asid: i.allAsids ? null : asidField,
        start,
        end: start + pages * granule,
        lastLevel: i.lastLevel,
        broadcast: i.broadcast,
        tg,
        scale,
        num,
        ttl,
        baseAddr,
        pages,
        hintLevel: ttl,
        noEffect,
      };
    }
    default: {
      const never: never = i.scope;
      throw new Error(`unknown TLBI scope ${String(never)}`);
    }
  }
}

const hex = (n: number): string => '0x' + n.toString(16);

/** One line: what the operation invalidates. */
export function describeTlbi(d: DecodedTlbi): string {
  switch (d.scope) {
    case 'all':
      return `${d.op}: all entries`;
    case 'asid':
      return `${d.op} asid=${d.asid}`;
    case 'va': {
      const who = d.asid === null ? 'all asids' : `asid=${d.asid}`;
      const hint = d.hintLevel ? ` ttl=level ${d.hintLevel}` : '';
      return `${d.op} ${who} va=${hex(d.va)}${hint}${d.noEffect ? ` (no effect: ${d.noEffect})` : ''}`;
    }
    case 'range': {
      const who = d.asid === null ? 'all asids' : `asid=${d.asid}`;
      const hint = d.hintLevel ? ` ttl=level ${d.hintLevel}` : '';
      return `${d.op} ${who} [${hex(d.start)}, ${hex(d.end)}) ${d.pages} pages (TG=${d.tg} SCALE=${d.scale} NUM=${d.num})${hint}${d.noEffect ? ` (no effect: ${d.noEffect})` : ''}`;
    }
    default: {
      const never: never = d;
      return String(never);
    }
  }
}

/**
 * Does `d` remove a leaf TLB entry covering [base, base + span), tagged `asidTag` (-1 = global),
 * made from a descriptor at `level`?
 * - by VA: the entry's span contains the VA (so one VA removes a whole contiguous entry); the
 *   ASID matches or the entry is global; a TTL hint must name the entry's level.
 * - range: the spans overlap; same ASID and hint rules.
 * - ASIDE1: non-global entries of that ASID. VMALLE1: everything.
 */
export function tlbiCoversLeaf(d: DecodedTlbi, base: number, span: number, asidTag: number, level: number): boolean {
  switch (d.scope) {
    case 'all':
      return true;
    case 'asid':
      return asidTag === d.asid;
    case 'va':
      if (d.noEffect !== null) return false;
      if (d.asid !== null && asidTag !== -1 && asidTag !== d.asid) return false;
      if (d.hintLevel !== 0 && d.hintLevel !== level) return false;
      return d.va >= base && d.va < base + span;
    case 'range':
      if (d.noEffect !== null) return false;
      if (d.asid !== null && asidTag !== -1 && asidTag !== d.asid) return false;
      if (d.hintLevel !== 0 && d.hintLevel !== level) return false;
      return d.start < base + span && base < d.end;
    default: {
      const never: never = d;
      throw new Error(`unknown TLBI ${String(never)}`);
    }
  }
}

/**
 * Does `d` remove a walk-cache entry (a cached table descriptor used for [base, base + size),
 * tagged with `asid`)? Last-level forms never do; TTL hints name the leaf's level, so they do not
 * spare intermediate entries.
 */
export function tlbiCoversTable(d: DecodedTlbi, base: number, size: number, asid: number): boolean {
  switch (d.scope) {
    case 'all':
      return true;
    case 'asid':
      return asid === d.asid;
    case 'va':
      if (d.lastLevel || d.noEffect !== null) return false;
      if (d.asid !== null && asid !== d.asid) return false;
      return d.va >= base && d.va < base + size;
    case 'range':
      if (d.lastLevel || d.noEffect !== null) return false;
      if (d.asid !== null && asid !== d.asid) return false;
      return d.start < base + size && base < d.end;
    default: {
      const never: never = d;
      throw new Error(`unknown TLBI ${String(never)}`);
    }
  }
}
