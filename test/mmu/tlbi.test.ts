import { describe, expect, it } from 'vitest';
import {
  decodeTlbiOperand,
  describeTlbi,
  pageDescriptor,
  Tlb,
  TLBI_OPS,
  TLBI_RANGE_MAX_PAGES,
  tlbiRangeOperand,
  tlbiRangePages,
  tlbiVaOperand,
  ttl4k,
  walk,
  WalkCache,
  type TlbiOp,
} from './imports.js';
import { u64FromBigInt, u64ToBigInt } from '../../src/util/u64.js';
import { TableBuilder } from './tables.js';
import { brief, translation } from './fixtures.js';

const MiB = 2 ** 20;

describe('TLBI operands (reference A.6)', () => {
  it('encodes a by-VA operand: ASID [63:48], TTL [47:44], VA[55:12] in [43:0]', () => {
    expect(u64ToBigInt(tlbiVaOperand({ asid: 0x1234, va: 0x7f12_3456_7000, ttl: 0b0111 }))).toBe(0x1234_7007_f123_4567n);
    expect(u64ToBigInt(tlbiVaOperand({ asid: 0xffff, va: 0xfff }))).toBe(0xffff_0000_0000_0000n);
    expect(u64ToBigInt(tlbiVaOperand({ asid: 1, va: 2 ** 52 + 4096 }))).toBe(0x0001_0100_0000_0001n);
    expect(() => tlbiVaOperand({ asid: 0, va: 2 ** 56 })).toThrow(/not below 2\^56/);
    expect(() => tlbiVaOperand({ asid: 0x10000, va: 0 })).toThrow(/ASID = 65536 does not fit in 16 bits/);
    expect(() => tlbiVaOperand({ asid: 0, va: 0, ttl: 16 })).toThrow(/TTL/);
  });

  it('decodes a by-VA operand per operation', () => {
    const op = u64FromBigInt(0x0005_6000_0012_3456n);
    expect(decodeTlbiOperand('VALE1IS', op)).toEqual({ op: 'VALE1IS', scope: 'va', asid: 5, va: 0x12_3456_000, lastLevel: true, broadcast: true, ttl: 6, hintLevel: 2, noEffect: null });
    expect(decodeTlbiOperand('VAAE1', op)).toMatchObject({ scope: 'va', asid: null, lastLevel: false, broadcast: false });
    expect(decodeTlbiOperand('ASIDE1IS', op)).toEqual({ op: 'ASIDE1IS', scope: 'asid', asid: 5, broadcast: true });
    expect(decodeTlbiOperand('VMALLE1', op)).toEqual({ op: 'VMALLE1', scope: 'all', broadcast: false });
    expect(decodeTlbiOperand('VAE1IS', u64FromBigInt(0x0005_9000_0000_0001n))).toMatchObject({ hintLevel: 0, noEffect: expect.stringMatching(/16 KiB granule/) });
    expect(ttl4k(3)).toBe(0b0111);
    expect(ttl4k(0)).toBe(0);
  });

  it('encodes and decodes a range operand: TG [47:46], SCALE [45:44], NUM [43:39], TTL [38:37], BaseADDR [36:0]', () => {
    const v = tlbiRangeOperand({ asid: 5, tg: 1, scale: 0, num: 7, ttl: 3, baseAddr: 0x12340 });
    expect(u64ToBigInt(v)).toBe(0x0005_43e0_0001_2340n);
    expect(decodeTlbiOperand('RVALE1IS', v)).toEqual({
      op: 'RVALE1IS', scope: 'range', asid: 5, start: 0x1234_0000, end: 0x1235_0000, lastLevel: true, broadcast: true,
      tg: 1, scale: 0, num: 7, ttl: 3, baseAddr: 0x12340, pages: 16, hintLevel: 3, noEffect: null,
    });
    const top = tlbiRangeOperand({ asid: 0xffff, tg: 3, scale: 3, num: 31, ttl: 0, baseAddr: 2 ** 37 - 1 });
    expect(u64ToBigInt(top)).toBe(0xffff_ff9f_ffff_ffffn);
    expect(decodeTlbiOperand('RVAE1', top)).toMatchObject({ tg: 3, scale: 3, num: 31, baseAddr: 2 ** 37 - 1, pages: 2 ** 21, noEffect: expect.stringMatching(/64 KiB/) });
    expect(decodeTlbiOperand('RVAE1IS', tlbiRangeOperand({ asid: 1, tg: 0, scale: 0, num: 0, ttl: 0, baseAddr: 0 }))).toMatchObject({ noEffect: expect.stringMatching(/TG=0 is reserved/) });
    expect(() => tlbiRangeOperand({ asid: 1, tg: 1, scale: 4, num: 0, ttl: 0, baseAddr: 0 })).toThrow(/SCALE/);
    expect(() => tlbiRangeOperand({ asid: 1, tg: 1, scale: 0, num: 32, ttl: 0, baseAddr: 0 })).toThrow(/NUM/);
  });

  it('covers (NUM+1) * 2^(5*SCALE+1) pages: the worked examples of reference B.7', () => {
    expect(tlbiRangePages(0, 0)).toBe(2); // the smallest range
    expect(tlbiRangePages(0, 7)).toBe(16); // a contpte block: SCALE 0, NUM 7
    expect(tlbiRangePages(1, 7)).toBe(512); // 2 MiB of PTEs: SCALE 1, NUM 7
    expect(tlbiRangePages(2, 15)).toBe(32768); // 128 MiB: SCALE 2, NUM 15
    expect(TLBI_RANGE_MAX_PAGES).toBe(2_097_152); // SCALE 3, NUM 31 = Linux MAX_TLBI_RANGE_PAGES
  });

  it('describes operations in one line', () => {
    expect(describeTlbi(decodeTlbiOperand('RVALE1IS', tlbiRangeOperand({ asid: 5, tg: 1, scale: 0, num: 7, ttl: 3, baseAddr: 0x12340 })))).toBe(
      'RVALE1IS asid=5 [0x12340000, 0x12350000) 16 pages (TG=1 SCALE=0 NUM=7) ttl=level 3',
    );
    expect(describeTlbi(decodeTlbiOperand('VAAE1IS', tlbiVaOperand({ asid: 3, va: 0x5000 })))).toBe('VAAE1IS all asids va=0x5000');
    expect(describeTlbi(decodeTlbiOperand('ASIDE1IS', tlbiVaOperand({ asid: 3, va: 0 })))).toBe('ASIDE1IS asid=3');
  });
});

/**
 * A TLB with entries of two ASIDs, a global one, a contiguous span and a 2 MiB block:
 *   A5 0x10000..0x1ffff  contiguous 64K, asid 5
 *   P5 0x21000           page, asid 5
 *   P6 0x21000           page, asid 6
 *   G  0x22000           global page
 *   P5b 0x23000          page, asid 5
 *   B5 0x400000          2 MiB block, asid 5
 */
function populated(): Tlb {
  const tlb = new Tlb();
  tlb.fill(translation({ va: 0x1_4000, oa: 0x80_4000, contiguous: true }), 5);
  tlb.fill(translation({ va: 0x2_1000, oa: 0x1000 }), 5);
  tlb.fill(translation({ va: 0x2_1000, oa: 0x2000 }), 6);
  tlb.fill(translation({ va: 0x2_2000, oa: 0x3000, global: true }), 5);
  tlb.fill(translation({ va: 0x2_3000, oa: 0x4000 }), 5);
  tlb.fill(translation({ va: 0x40_0000, oa: 0x20_0000, level: 2 }), 5);
  return tlb;
}

function resident(tlb: Tlb): string[] {
  return [...tlb.residentEntries()].map((e) => brief(e).join(' ')).sort();
}

const ALL = ['0x10000 65536 5', '0x21000 4096 5', '0x21000 4096 6', '0x22000 4096 -1', '0x23000 4096 5', '0x400000 2097152 5'];
const without = (...gone: string[]) => ALL.filter((x) => !gone.includes(x));

describe('TLBI semantics on the TLB', () => {
  const va = (asid: number, addr: number, ttl = 0) => tlbiVaOperand({ asid, va: addr, ttl });
  const cases: [string, TlbiOp, ReturnType<typeof va>, string[]][] = [
    ['VAE1IS removes a whole contiguous entry from any VA in it', 'VAE1IS', va(5, 0x1_f000), without('0x10000 65536 5')],
    ['VALE1IS by VA and ASID leaves the other ASID', 'VALE1IS', va(5, 0x2_1000), without('0x21000 4096 5')],
    ['VALE1IS removes a global entry whatever the ASID', 'VALE1IS', va(77, 0x2_2fff), without('0x22000 4096 -1')],
    ['VAAE1IS removes every ASID at the VA', 'VAAE1IS', va(0, 0x2_1000), without('0x21000 4096 5', '0x21000 4096 6')],
    ['VAALE1IS removes every ASID at the VA', 'VAALE1IS', va(0, 0x2_1abc), without('0x21000 4096 5', '0x21000 4096 6')],
    ['VAE1IS inside a 2 MiB block removes the block', 'VAE1IS', va(5, 0x5f_f000), without('0x400000 2097152 5')],
    ['VALE1IS with TTL level 3 spares a level-2 block', 'VALE1IS', va(5, 0x40_0000, 0b0111), ALL],
    ['VALE1IS with TTL level 2 removes the block', 'VALE1IS', va(5, 0x40_0000, 0b0110), without('0x400000 2097152 5')],
    ['VALE1IS with TTL level 2 spares a page', 'VALE1IS', va(5, 0x2_1000, 0b0110), ALL],
    ['VAE1IS with a 16K TTL hint invalidates nothing', 'VAE1IS', va(5, 0x2_1000, 0b1011), ALL],
    ['ASIDE1IS removes non-global entries of one ASID', 'ASIDE1IS', va(5, 0), ['0x21000 4096 6', '0x22000 4096 -1']],
    ['VMALLE1IS removes everything', 'VMALLE1IS', va(0, 0), []],
    ['VAE1 (local) behaves like VAE1IS on one PE', 'VAE1', va(6, 0x2_1000), without('0x21000 4096 6')],
    ['ASIDE1 (local)', 'ASIDE1', va(6, 0), without('0x21000 4096 6')],
    ['VMALLE1 (local)', 'VMALLE1', va(0, 0), []],
    ['VALE1 (local)', 'VALE1', va(5, 0x2_3000), without('0x23000 4096 5')],
    ['VAALE1 (local)', 'VAALE1', va(5, 0x2_2000), without('0x22000 4096 -1')],
    ['VAAE1 (local)', 'VAAE1', va(5, 0x1_0000), without('0x10000 65536 5')],
  ];
  for (const [name, op, operand, expected] of cases) {
    it(name, () => {
      const tlb = populated();
      const removed = tlb.invalidate(op, operand);
      expect(resident(tlb)).toEqual(expected.slice().sort());
      expect(removed).toBe(ALL.length - expected.length);
      expect(tlb.stats.invalidated_entries).toBe(removed);
    });
  }

  const range = (asid: number, start: number, scale: number, num: number, ttl = 0) => tlbiRangeOperand({ asid, tg: 1, scale, num, ttl, baseAddr: start / 4096 });
  it('RVALE1IS removes entries overlapping the range, contiguous ones included', () => {
    const tlb = populated();
    // [0x1e000, 0x22000): 4 pages: overlaps the 64K entry and the asid-5 page at 0x21000.
    expect(tlb.invalidate('RVALE1IS', range(5, 0x1_e000, 0, 1))).toBe(2);
    expect(resident(tlb)).toEqual(without('0x10000 65536 5', '0x21000 4096 5'));
  });
  it('RVAE1IS over 512 pages (SCALE 1, NUM 7) removes the 2 MiB block and nothing outside', () => {
    const tlb = populated();
    expect(tlb.invalidate('RVAE1IS', range(5, 0x40_0000, 1, 7))).toBe(1);
    const t2 = populated();
    expect(t2.invalidate('RVAE1IS', range(5, 0x20_0000, 1, 7))).toBe(0); // ends exactly at 0x400000
  });
  it('a range is end-exclusive and start-inclusive at page granularity (17 pages = 16-page range + 1 single op)', () => {
    const tlb = new Tlb();
    for (let p = 0; p < 19; p++) tlb.fill(translation({ va: 0x100_0000 + (p - 1) * 4096, oa: 0 }), 1);
    // Pages 0..16 relative to 0x1000000 (17 pages): one 16-page range op, then one VALE1IS.
    expect(tlb.invalidate('RVALE1IS', range(1, 0x100_0000, 0, 7))).toBe(16);
    expect(tlb.invalidate('VALE1IS', tlbiVaOperand({ asid: 1, va: 0x101_0000 }))).toBe(1);
    expect(resident(tlb)).toEqual(['0x1011000 4096 1', '0xfff000 4096 1']);
  });
  it('a range TTL hint restricts to entries of that level', () => {
    const tlb = populated();
    expect(tlb.invalidate('RVAE1IS', range(5, 0, 2, 0, 2))).toBe(1); // 2048 pages from 0, level 2 only
    expect(resident(tlb)).toEqual(without('0x400000 2097152 5'));
  });
  it('a range with TG=0 invalidates nothing', () => {
    const tlb = populated();
    expect(tlb.invalidate('RVAE1IS', tlbiRangeOperand({ asid: 5, tg: 0, scale: 3, num: 31, ttl: 0, baseAddr: 0 }))).toBe(0);
    expect(resident(tlb)).toEqual(ALL);
  });
  it('a maximal range scans every entry (global ones included)', () => {
    const tlb = populated();
    expect(tlb.invalidate('RVAE1IS', range(5, 0, 3, 31))).toBe(5);
    expect(resident(tlb)).toEqual(['0x21000 4096 6']);
  });
  it('every operation name decodes', () => {
    for (const op of TLBI_OPS) expect(decodeTlbiOperand(op, tlbiVaOperand({ asid: 1, va: 0 })).op).toBe(op);
  });
});

describe('TLBI semantics on the walk cache: last-level forms leave it', () => {
  function cached(): { tb: TableBuilder; wc: WalkCache } {
    const tb = new TableBuilder();
    const wc = new WalkCache(16, 4);
    const regs = { ttbr0: tb.root, asid: 5, t0sz: 16, ha: false, hd: false };
    for (const v of [0x20_0000, 0x40_0000]) {
      tb.set(v, 3, pageDescriptor(0x1000, { AF: true }));
      walk(tb.mem, regs, v, 'read', 1, { walkCache: wc });
    }
    walk(tb.mem, { ...regs, asid: 6 }, 0x20_0000, 'read', 1, { walkCache: wc });
    return { tb, wc };
  }
  // Cached: asid 5: L0, L1, L2(0x200000), L2(0x400000); asid 6: L0, L1, L2(0x200000) = 7 entries.
  const op = (asid: number, addr: number) => tlbiVaOperand({ asid, va: addr, ttl: ttl4k(3) });
  const rng = (asid: number, start: number, num: number) => tlbiRangeOperand({ asid, tg: 1, scale: 0, num, ttl: 3, baseAddr: start / 4096 });
  const cases: [TlbiOp, ReturnType<typeof op>, number][] = [
    ['VALE1IS', op(5, 0x20_0000), 0],
    ['VAALE1IS', op(5, 0x20_0000), 0],
    ['RVALE1IS', rng(5, 0x20_0000, 7), 0],
    ['VAE1IS', op(5, 0x20_0000), 3], // L0, L1 and the L2 entry used for that VA, asid 5 only (TTL does not spare them)
    ['VAAE1IS', op(5, 0x20_0000), 6],
    ['RVAE1IS', rng(5, 0x3f_f000, 0), 4], // two pages straddling 0x400000: both L2 entries, L0, L1
    ['ASIDE1IS', op(6, 0), 3],
    ['VMALLE1IS', op(0, 0), 7],
  ];
  for (const [name, operand, removed] of cases) {
    it(`${name} removes ${removed} walk-cache entries`, () => {
      const { wc } = cached();
      expect(wc.occupancy).toBe(7);
      expect(wc.invalidate(decodeTlbiOperand(name, operand))).toBe(removed);
      expect(wc.occupancy).toBe(7 - removed);
    });
  }
  it('after a last-level flush a walk still uses the cached table descriptors', () => {
    const { tb, wc } = cached();
    wc.invalidate(decodeTlbiOperand('VALE1IS', op(5, 0x20_0000)));
    const regs = { ttbr0: tb.root, asid: 5, t0sz: 16, ha: false, hd: false };
    expect(walk(tb.mem, regs, 0x20_0000, 'read', 1, { walkCache: wc })).toMatchObject({ levelsRead: 1 });
    wc.invalidate(decodeTlbiOperand('VAE1IS', op(5, 0x20_0000)));
    expect(walk(tb.mem, regs, 0x20_0000, 'read', 1, { walkCache: wc })).toMatchObject({ levelsRead: 4 });
    expect(MiB).toBe(2 ** 20);
  });
});
