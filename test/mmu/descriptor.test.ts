import { describe, expect, it } from 'vitest';
import {
  blockDescriptor,
  decodeDescriptor,
  describeDescriptor,
  descriptorKind,
  encodeDescriptor,
  pageDescriptor,
  tableDescriptor,
  type Level,
} from './imports.js';
import { u64, u64FromBigInt, u64ToBigInt } from '../../src/util/u64.js';

/** splitmix-style 32-bit generator so the round trip sees the same values every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

describe('descriptor round trip', () => {
  it('encode(decode(x)) === x for 200,000 random 64-bit values at every level', () => {
    const next = rng(1234);
    const counts = { invalid: 0, reserved: 0, table: 0, block: 0, page: 0 };
    for (let n = 0; n < 50_000; n++) {
      // Bias bits[1:0] so every type is hit often.
      const lo = next();
      const hi = next();
      for (const level of [0, 1, 2, 3] as Level[]) {
        const x = u64(lo, hi);
        const d = decodeDescriptor(x, level);
        counts[d.type]++;
        const y = encodeDescriptor(d);
        if (y.lo !== x.lo || y.hi !== x.hi) throw new Error(`round trip failed at level ${level}: ${u64ToBigInt(x).toString(16)} -> ${u64ToBigInt(y).toString(16)}`);
      }
    }
    for (const k of Object.keys(counts) as (keyof typeof counts)[]) expect(counts[k]).toBeGreaterThan(10_000);
  });

  it('round-trips the all-ones and all-zero patterns', () => {
    for (const level of [0, 1, 2, 3] as Level[]) {
      for (const x of [u64(0, 0), u64(0xffffffff, 0xffffffff), u64(0xfffffffe, 0xffffffff), u64(1, 0), u64(3, 0)]) {
        expect(encodeDescriptor(decodeDescriptor(x, level))).toEqual(x);
      }
    }
  });
});

describe('descriptor fields', () => {
  it('decodes a Linux-style user page exactly', () => {
    // PTE_VALID|PTE_TYPE_PAGE|AttrIndx 0|PTE_USER|SH=11|AF|nG|DBM|CONT|PXN|UXN|swDirty, OA 0x12345000
    const v = u64FromBigInt(0x00f8_0000_1234_5f43n | (1n << 55n));
    const d = decodeDescriptor(v, 3);
    expect(d).toEqual({
      type: 'page',
      level: 3,
      oa: 0x12345000,
      AttrIndx: 0,
      NS: false,
      AP: 0b01,
      SH: 0b11,
      AF: true,
      nG: true,
      res0Hi: 0,
      GP: false,
      DBM: true,
      contiguous: true,
      PXN: true,
      UXN: true,
      swDirty: true,
      swSpecial: false,
      swOther: 0,
      pbha: 0,
      ignored63: false,
    });
    expect(u64ToBigInt(v)).toBe(0x00f8_0000_1234_5f43n | (1n << 55n));
    expect(describeDescriptor(d)).toBe('page oa=0x12345000 AttrIndx=0 AP=01 SH=11 AF nG DBM Cont PXN UXN swDirty');
  });

  it('decodes table descriptors with hierarchical attributes', () => {
    const v = u64FromBigInt(0xf800_0000_8000_0003n | 0x0000_0abc_0000_0000n);
    const d = decodeDescriptor(v, 1);
    expect(d).toMatchObject({ type: 'table', nextTable: 0xabc_8000_0000, PXNTable: true, UXNTable: true, APTable: 3, NSTable: true, ignoredLo: 0, res0Hi: 0, ignoredHi: 0 });
    expect(describeDescriptor(d)).toBe('table -> 0xabc80000000 PXNTable UXNTable APTable=11 NSTable');
  });

  it('decodes blocks at levels 1 and 2 with their own OA widths, nT and RES0 bits', () => {
    // Level 1: OA [47:30]; bits [29:12] except 16 are RES0, kept in res0Lo.
    const l1 = decodeDescriptor(u64(0xc0012401, 0x1), 1);
    expect(l1).toMatchObject({ type: 'block', level: 1, oa: 0x1_c000_0000, nT: true, res0Lo: 0x2000, AF: true });
    const l2 = decodeDescriptor(u64(0x00e00401 | 0x100000, 0), 2);
    expect(l2).toMatchObject({ type: 'block', level: 2, oa: 0x00e00000, res0Lo: 0x100000, nT: false });
  });

  it('reports bits[1:0] = 01 at levels 0 and 3 as reserved, and bit 0 clear as invalid at every level', () => {
    expect(decodeDescriptor(u64(0x40000401, 0), 0).type).toBe('reserved');
    expect(decodeDescriptor(u64(0x40000401, 0), 3).type).toBe('reserved');
    expect(decodeDescriptor(u64(0x40000401, 0), 1).type).toBe('block');
    expect(decodeDescriptor(u64(0x40000403, 0), 0).type).toBe('table');
    expect(decodeDescriptor(u64(0x40000403, 0), 3).type).toBe('page');
    for (const level of [0, 1, 2, 3] as Level[]) expect(decodeDescriptor(u64(0xfffffffe, 0xffffffff), level).type).toBe('invalid');
    expect(descriptorKind(0x401, 0)).toBe('invalid');
    expect(descriptorKind(0x401, 2)).toBe('leaf');
    expect(descriptorKind(0x403, 2)).toBe('table');
    expect(descriptorKind(0x403, 3)).toBe('leaf');
  });

  it('builds descriptors from fields and rejects values that do not fit', () => {
    expect(u64ToBigInt(pageDescriptor(0x5000, { AF: true, AP: 1, SH: 3, nG: true, contiguous: true }))).toBe(0x0010_0000_0000_5f43n);
    expect(u64ToBigInt(blockDescriptor(2, 0x4020_0000, { AF: true, nT: true }))).toBe(0x4021_0401n);
    expect(u64ToBigInt(tableDescriptor(0x7000, { PXNTable: true }))).toBe(0x0800_0000_0000_7003n);
    expect(() => pageDescriptor(0x5800)).toThrow(/4096-aligned/);
    expect(() => blockDescriptor(2, 0x4010_0000)).toThrow(/2097152-aligned/);
    expect(() => pageDescriptor(0x5000, { AttrIndx: 8 })).toThrow(/AttrIndx = 8 does not fit in 3 bits/);
    expect(() => pageDescriptor(2 ** 48)).toThrow(/below 2\^48/);
  });
});
