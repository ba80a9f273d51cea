/**
 * VMSAv8-64 stage-1 descriptors for the 4 KiB granule and 48-bit OAs (reference A.2; ARM ARM
 * D8.3): typed decode and encode of invalid, table, block and page descriptors.
 *
 * `encode(decode(x, level))` equals `x` for every 64-bit `x` at every level: fields the hardware
 * ignores or reserves (RES0, IGNORED, PBHA, software bits) are kept in fields of their own, so a
 * decoded descriptor shown to a user is the whole truth. The walker does not use these types on
 * its hot path (it tests the bit constants below on the two 32-bit halves directly).
 */
import { u64, type U64 } from '../util/u64.js';
import { levelSize, POW2, type Level } from './geometry.js';

// Bit masks within the low (bits 31:0) and high (bits 63:32) halves of a descriptor.
export const DESC_VALID_LO = 1 << 0;
export const DESC_TYPE_LO = 1 << 1;
export const ATTRINDX_SHIFT = 2;
export const NS_LO = 1 << 5;
export const AP_SHIFT = 6;
/** AP[1] (bit 6): EL0 may access. Linux PTE_USER. */
export const AP1_LO = 1 << 6;
/** AP[2] (bit 7): read-only. Linux PTE_RDONLY. */
export const AP2_LO = 1 << 7;
export const SH_SHIFT = 8;
export const AF_LO = 1 << 10;
export const NG_LO = 1 << 11;
export const NT_LO = 1 << 16;
export const GP_HI = 1 << (50 - 32);
export const DBM_HI = 1 << (51 - 32);
export const CONT_HI = 1 << (52 - 32);
export const PXN_HI = 1 << (53 - 32);
export const UXN_HI = 1 << (54 - 32);
/** Linux PTE_DIRTY, a software bit. */
export const SW_DIRTY_HI = 1 << (55 - 32);
/** Linux PTE_SPECIAL, a software bit. */
export const SW_SPECIAL_HI = 1 << (56 - 32);
export const PXN_TABLE_HI = 1 << (59 - 32);
export const UXN_TABLE_HI = 1 << (60 - 32);
export const AP_TABLE_SHIFT_HI = 61 - 32;
export const NS_TABLE_HI = 1 << (63 - 32);
/** Bits [47:32] of an address field live in bits [15:0] of the high half. */
export const ADDR_HI_MASK = 0xffff;
/** Bits [31:12] of a table or page address. */
export const ADDR_LO_MASK_4K = 0xfffff000;

/** Low-half mask of the output address of a leaf at each level (bits [31:shift]). */
export const OA_LO_MASK: readonly number[] = [0, 0xc0000000, 0xffe00000, 0xfffff000];
/** Low-half bits of a block descriptor between the OA and the attributes: RES0 except nT (bit 16). */
const BLOCK_RES0_LO: readonly number[] = [0, 0x3ffef000, 0x001ef000, 0];

/** Attributes of a block or page descriptor (ARM ARM D8.3.2), plus what Linux keeps in it. */
export interface LeafAttributes {
  /** [4:2] index into MAIR_EL1. */
  AttrIndx: number;
  /** [5] non-secure (meaningful only in Secure state). */
  NS: boolean;
  /** [7:6] AP[2:1]: AP[1] EL0 access, AP[2] read-only. */
  AP: number;
  /** [9:8] shareability: 0 non-shareable, 2 outer, 3 inner. */
  SH: number;
  /** [10] access flag. */
  AF: boolean;
  /** [11] not global: the TLB entry is tagged with the ASID. */
  nG: boolean;
  /** [49:48] RES0 with 48-bit OAs. */
  res0Hi: number;
  /** [50] BTI guarded page. */
  GP: boolean;
  /** [51] dirty bit modifier (FEAT_HAFDBS); Linux PTE_WRITE. */
  DBM: boolean;
  /** [52] contiguous hint. */
  contiguous: boolean;
  /** [53] privileged execute never. */
  PXN: boolean;
  /** [54] unprivileged execute never. */
  UXN: boolean;
  /** [55] Linux PTE_DIRTY (software). */
  swDirty: boolean;
  /** [56] Linux PTE_SPECIAL (software). */
  swSpecial: boolean;
  /** [58:57] the other software bits. */
  swOther: number;
  /** [62:59] PBHA or IGNORED. */
  pbha: number;
  /** [63] IGNORED. */
  ignored63: boolean;
}

export interface InvalidDescriptor {
  type: 'invalid';
  level: Level;
  /** The whole value (bit 0 clear): software may keep anything here, e.g. a swap entry. */
  raw: U64;
}

/** bits[1:0] = 01 where no block is allowed (level 0, and level 3): it faults like an invalid one. */
export interface ReservedDescriptor {
  type: 'reserved';
  level: 0 | 3;
  raw: U64;
}

export interface TableDescriptor {
  type: 'table';
  level: 0 | 1 | 2;
  /** [47:12] physical address of the next-level table. */
  nextTable: number;
  /** [11:2] IGNORED, in place (bits 2..11 of the value). */
  ignoredLo: number;
  /** [51:48] RES0 with 48-bit OAs. */
  res0Hi: number;
  /** [58:52] IGNORED. */
  ignoredHi: number;
  PXNTable: boolean;
  UXNTable: boolean;
  /** [62:61] APTable: bit 61 no EL0 access below, bit 62 no write access below. */
  APTable: number;
  NSTable: boolean;
}

export interface BlockDescriptor extends LeafAttributes {
  type: 'block';
  level: 1 | 2;
  /** Output address, aligned to the block size (1 GiB or 2 MiB). */
  oa: number;
  /** [16] nT (FEAT_BBM level 1). */
  nT: boolean;
  /** RES0 bits between the OA and bit 12, except bit 16, in place. */
  res0Lo: number;
}

export interface PageDescriptor extends LeafAttributes {
  type: 'page';
  level: 3;
  /** Output address, 4 KiB aligned. */
  oa: number;
}

export type Descriptor = InvalidDescriptor | ReservedDescriptor | TableDescriptor | BlockDescriptor | PageDescriptor;
export type LeafDescriptor = BlockDescriptor | PageDescriptor;

const bit = (word: number, mask: number): boolean => (word & mask) !== 0;

function addrFrom(lo: number, hi: number, loMask: number): number {
  return (hi & ADDR_HI_MASK) * POW2[32]! + ((lo & loMask) >>> 0);
}

function decodeLeafAttributes(lo: number, hi: number): LeafAttributes {
  return {
    AttrIndx: (lo >>> ATTRINDX_SHIFT) & 7,
    NS: bit(lo, NS_LO),
    AP: (lo >>> AP_SHIFT) & 3,
    SH: (lo >>> SH_SHIFT) & 3,
    AF: bit(lo, AF_LO),
    nG: bit(lo, NG_LO),
    res0Hi: (hi >>> 16) & 3,
    GP: bit(hi, GP_HI),
    DBM: bit(hi, DBM_HI),
    contiguous: bit(hi, CONT_HI),
    PXN: bit(hi, PXN_HI),
    UXN: bit(hi, UXN_HI),
    swDirty: bit(hi, SW_DIRTY_HI),
    swSpecial: bit(hi, SW_SPECIAL_HI),
    swOther: (hi >>> 25) & 3,
    pbha: (hi >>> 27) & 0xf,
    ignored63: (hi >>> 31) !== 0,
  };
}

/** Decodes a descriptor read at `level` (the same bits mean different things at each level). */
export function decodeDescriptor(v: U64, level: Level): Descriptor {
  const { lo, hi } = v;
  if ((lo & DESC_VALID_LO) === 0) return { type: 'invalid', level, raw: u64(lo, hi) };
  const isTableOrPage = (lo & DESC_TYPE_LO) !== 0;
  if (!isTableOrPage && (level === 0 || level === 3)) return { type: 'reserved', level, raw: u64(lo, hi) };
  if (level === 3) return { type: 'page', level, oa: addrFrom(lo, hi, OA_LO_MASK[3]!), ...decodeLeafAttributes(lo, hi) };
  if (isTableOrPage) {
    return {
      type: 'table',
      level,
      nextTable: addrFrom(lo, hi, ADDR_LO_MASK_4K),
      ignoredLo: lo & 0xffc,
      res0Hi: (hi >>> 16) & 0xf,
      ignoredHi: (hi >>> 20) & 0x7f,
      PXNTable: bit(hi, PXN_TABLE_HI),
      UXNTable: bit(hi, UXN_TABLE_HI),
      APTable: (hi >>> AP_TABLE_SHIFT_HI) & 3,
      NSTable: bit(hi, NS_TABLE_HI),
    };
  }
  return {
    type: 'block',
    level: level as 1 | 2,
    oa: addrFrom(lo, hi, OA_LO_MASK[level]!),
    nT: bit(lo, NT_LO),
    res0Lo: (lo & BLOCK_RES0_LO[level]!) >>> 0,
    ...decodeLeafAttributes(lo, hi),
  };
}

function checkField(name: string, value: number, width: number): number {
  if (!Number.isInteger(value) || value < 0 || value >= POW2[width]!) {
    throw new RangeError(`descriptor field ${name} = ${value} does not fit in ${width} bits`);
  }
  return value;
}

function checkAddress(name: string, addr: number, align: number): void {
  if (!Number.isSafeInteger(addr) || addr < 0 || addr >= POW2[48]! || addr % align !== 0) {
    throw new RangeError(`descriptor ${name} 0x${addr.toString(16)} is not a ${align}-aligned address below 2^48`);
  }
}

const flag = (b: boolean, mask: number): number => (b ? mask : 0);

function encodeLeafAttributes(a: LeafAttributes): { lo: number; hi: number } {
  const lo =
    (checkField('AttrIndx', a.AttrIndx, 3) << ATTRINDX_SHIFT) |
    flag(a.NS, NS_LO) |
    (checkField('AP', a.AP, 2) << AP_SHIFT) |
    (checkField('SH', a.SH, 2) << SH_SHIFT) |
    flag(a.AF, AF_LO) |
    flag(a.nG, NG_LO);
  const hi =
    (checkField('res0Hi', a.res0Hi, 2) << 16) |
    flag(a.GP, GP_HI) |
    flag(a.DBM, DBM_HI) |
    flag(a.contiguous, CONT_HI) |
    flag(a.PXN, PXN_HI) |
    flag(a.UXN, UXN_HI) |
    flag(a.swDirty, SW_DIRTY_HI) |
    flag(a.swSpecial, SW_SPECIAL_HI) |
    (checkField('swOther', a.swOther, 2) << 25) |
    (checkField('pbha', a.pbha, 4) << 27) |
    flag(a.ignored63, 1 << 31);
  return { lo, hi };
}

function splitAddr(addr: number): { lo: number; hi: number } {
  return { lo: addr >>> 0, hi: Math.floor(addr / POW2[32]!) & ADDR_HI_MASK };
}

/** The 64-bit value of a decoded descriptor; throws RangeError on a field out of range. */
export function encodeDescriptor(d: Descriptor): U64 {
  switch (d.type) {
    case 'invalid':
      if (d.raw.lo & DESC_VALID_LO) throw new RangeError('an invalid descriptor must have bit 0 clear');
      return u64(d.raw.lo, d.raw.hi);
    case 'reserved':
      if ((d.raw.lo & 3) !== 1) throw new RangeError('a reserved descriptor has bits[1:0] = 01');
      return u64(d.raw.lo, d.raw.hi);
    case 'table': {
      checkAddress('next-level table', d.nextTable, 4096);
      const a = splitAddr(d.nextTable);
      if ((d.ignoredLo & ~0xffc) !== 0) throw new RangeError(`table ignoredLo 0x${d.ignoredLo.toString(16)} has bits outside [11:2]`);
      const lo = a.lo | d.ignoredLo | DESC_TYPE_LO | DESC_VALID_LO;
      const hi =
        a.hi |
        (checkField('res0Hi', d.res0Hi, 4) << 16) |
        (checkField('ignoredHi', d.ignoredHi, 7) << 20) |
        flag(d.PXNTable, PXN_TABLE_HI) |
        flag(d.UXNTable, UXN_TABLE_HI) |
        (checkField('APTable', d.APTable, 2) << AP_TABLE_SHIFT_HI) |
        flag(d.NSTable, NS_TABLE_HI);
      return u64(lo, hi);
    }
    case 'block': {
      checkAddress(`level ${d.level} block output address`, d.oa, levelSize(d.level));
      const mask = BLOCK_RES0_LO[d.level]!;
      if (((d.res0Lo & ~mask) >>> 0) !== 0) throw new RangeError(`block res0Lo 0x${d.res0Lo.toString(16)} has bits outside the RES0 field`);
      const a = splitAddr(d.oa);
      const attrs = encodeLeafAttributes(d);
      return u64(a.lo | d.res0Lo | flag(d.nT, NT_LO) | attrs.lo | DESC_VALID_LO, a.hi | attrs.hi);
    }
    case 'page': {
      checkAddress('page output address', d.oa, 4096);
      const a = splitAddr(d.oa);
      const attrs = encodeLeafAttributes(d);
      return u64(a.lo | attrs.lo | DESC_TYPE_LO | DESC_VALID_LO, a.hi | attrs.hi);
    }
    default: {
      const never: never = d;
      throw new Error(`unknown descriptor ${String(never)}`);
    }
  }
}

/** Attributes with every flag clear: AttrIndx 0, AP 0 (EL1 read/write), non-shareable, AF 0. */
export const NO_ATTRIBUTES: Readonly<LeafAttributes> = Object.freeze({
  AttrIndx: 0,
  NS: false,
  AP: 0,
  SH: 0,
  AF: false,
  nG: false,
  res0Hi: 0,
  GP: false,
  DBM: false,
  contiguous: false,
  PXN: false,
  UXN: false,
  swDirty: false,
  swSpecial: false,
  swOther: 0,
  pbha: 0,
  ignored63: false,
});

/** A page descriptor value: `attrs` override NO_ATTRIBUTES. */
export function pageDescriptor(oa: number, attrs: Partial<LeafAttributes> = {}): U64 {
  return encodeDescriptor({ ...NO_ATTRIBUTES, ...attrs, type: 'page', level: 3, oa });
}

/** A block descriptor value at level 1 (1 GiB) or 2 (2 MiB). */
export function blockDescriptor(level: 1 | 2, oa: number, attrs: Partial<LeafAttributes> & { nT?: boolean } = {}): U64 {
  const { nT = false, ...rest } = attrs;
  return encodeDescriptor({ ...NO_ATTRIBUTES, ...rest, type: 'block', level, oa, nT, res0Lo: 0 });
}

/** A table descriptor value pointing at `nextTable`. */
export function tableDescriptor(
  nextTable: number,
  attrs: Partial<Pick<TableDescriptor, 'PXNTable' | 'UXNTable' | 'APTable' | 'NSTable'>> = {},
): U64 {
  return encodeDescriptor({
    type: 'table',
    level: 0,
    nextTable,
    ignoredLo: 0,
    res0Hi: 0,
    ignoredHi: 0,
    PXNTable: attrs.PXNTable ?? false,
    UXNTable: attrs.UXNTable ?? false,
    APTable: attrs.APTable ?? 0,
    NSTable: attrs.NSTable ?? false,
  });
}

/** What a descriptor is at `level`, from bits [1:0] alone: the checker's and the walker's view. */
export type DescriptorKind = 'invalid' | 'table' | 'leaf';

export function descriptorKind(lo: number, level: Level): DescriptorKind {
  if ((lo & DESC_VALID_LO) === 0) return 'invalid';
  if ((lo & DESC_TYPE_LO) !== 0) return level === 3 ? 'leaf' : 'table';
  return level === 1 || level === 2 ? 'leaf' : 'invalid';
}

/** The output address of a leaf descriptor at `level` (1..3). */
export function leafOutputAddress(v: U64, level: Level): number {
  return addrFrom(v.lo, v.hi, OA_LO_MASK[level]!);
}

/** The next-level table address of a table descriptor. */
export function tableAddress(v: U64): number {
  return addrFrom(v.lo, v.hi, ADDR_LO_MASK_4K);
}

const hex = (n: number): string => '0x' + n.toString(16);

/** One line naming every field that is set, for `walk` output and checker messages. */
export function describeDescriptor(d: Descriptor): string {
  switch (d.type) {
    case 'invalid':
      return 'invalid';
    case 'reserved':
      return `reserved encoding (bits[1:0]=01 at level ${d.level}): faults as invalid`;
    case 'table': {
      const parts = [`table -> ${hex(d.nextTable)}`];
      if (d.PXNTable) parts.push('PXNTable');
      if (d.UXNTable) parts.push('UXNTable');
      if (d.APTable) parts.push(`APTable=${d.APTable.toString(2).padStart(2, '0')}`);
      if (d.NSTable) parts.push('NSTable');
      if (d.ignoredLo) parts.push(`ignored[11:2]=${hex(d.ignoredLo)}`);
      if (d.res0Hi) parts.push(`res0[51:48]=${hex(d.res0Hi)}`);
      if (d.ignoredHi) parts.push(`ignored[58:52]=${hex(d.ignoredHi)}`);
      return parts.join(' ');
    }
    case 'block':
    case 'page': {
      const parts = [`${d.type} oa=${hex(d.oa)}`, `AttrIndx=${d.AttrIndx}`, `AP=${d.AP.toString(2).padStart(2, '0')}`, `SH=${d.SH.toString(2).padStart(2, '0')}`];
      const flags: [boolean, string][] = [
        [d.AF, 'AF'],
        [d.nG, 'nG'],
        [d.NS, 'NS'],
        [d.type === 'block' && d.nT, 'nT'],
        [d.GP, 'GP'],
        [d.DBM, 'DBM'],
        [d.contiguous, 'Cont'],
        [d.PXN, 'PXN'],
        [d.UXN, 'UXN'],
        [d.swDirty, 'swDirty'],
        [d.swSpecial, 'swSpecial'],
        [d.ignored63, 'bit63'],
      ];
      for (const [on, name] of flags) if (on) parts.push(name);
      if (d.swOther) parts.push(`sw[58:57]=${d.swOther}`);
      if (d.pbha) parts.push(`pbha=${d.pbha}`);
      if (d.res0Hi) parts.push(`res0[49:48]=${d.res0Hi}`);
      if (d.type === 'block' && d.res0Lo) parts.push(`res0lo=${hex(d.res0Lo)}`);
      return parts.join(' ');
    }
    default: {
      const never: never = d;
      return String(never);
    }
  }
}
