import { describe, expect, it } from 'vitest';
import { Tlb, type TlbEntry, type TlbRemoveReason } from './imports.js';
import { Tracer } from '../../src/trace/tracer.js';
import type { TraceRecord } from '../../src/trace/events.js';
import { brief, translation } from './fixtures.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

describe('TLB: lookup and fill', () => {
  it('a 4 KiB entry translates its page only, for its ASID only', () => {
    const tlb = new Tlb();
    tlb.fill(translation({ va: 0x40_1000, oa: 0x9000 }), 7);
    const e = tlb.lookup(0x40_1abc, 7)!;
    expect(e).toMatchObject({ vaBase: 0x40_1000, span: 4096, pa: 0x9000, asid: 7, contiguous: false, level: 3 });
    expect(e.pa + (0x40_1abc - e.vaBase)).toBe(0x9abc);
    expect(tlb.lookup(0x40_0fff, 7)).toBeNull();
    expect(tlb.lookup(0x40_2000, 7)).toBeNull();
    expect(tlb.lookup(0x40_1000, 8)).toBeNull();
    expect(tlb.stats).toMatchObject({ lookups: 4, hits: 1, fills: 1, contiguous_fills: 0 });
  });

  it('a global entry (nG = 0) matches every ASID', () => {
    const tlb = new Tlb();
    tlb.fill(translation({ va: 0x5000, oa: 0x5000, global: true }), 7);
    expect(tlb.lookup(0x5000, 7)?.asid).toBe(-1);
    expect(tlb.lookup(0x5000, 1234)?.asid).toBe(-1);
  });

  it('a contiguous page covers its whole aligned 64 KiB span with one entry', () => {
    const tlb = new Tlb();
    tlb.fill(translation({ va: 0x12_3000 + 0x7000, oa: 0x80_0000 + 0x7000, contiguous: true }), 1);
    expect(tlb.occupancy).toBe(1);
    for (let p = 0; p < 16; p++) {
      const e = tlb.lookup(0x12_0000 + p * 4096 + 5, 1)!;
      expect(brief(e)).toEqual(['0x120000', 0x10000, 1]);
      expect(e.pa + (0x12_0000 + p * 4096 + 5 - e.vaBase)).toBe(0x80_0000 + p * 4096 + 5);
    }
    expect(tlb.lookup(0x11_ffff, 1)).toBeNull();
    expect(tlb.lookup(0x13_0000, 1)).toBeNull();
    expect(tlb.stats.contiguous_fills).toBe(1);
  });

  it('with contig off, a contiguous descriptor fills a single-page entry', () => {
    const tlb = new Tlb({ contig: false });
    const e = tlb.fill(translation({ va: 0x12_7000, oa: 0x80_7000, contiguous: true }), 1);
    expect(e).toMatchObject({ vaBase: 0x12_7000, span: 4096, contiguous: false, descContiguous: true });
    expect(tlb.lookup(0x12_6000, 1)).toBeNull();
    expect(tlb.stats.contiguous_fills).toBe(0);
  });

  it('entries of all six sizes coexist and each VA finds its own', () => {
    const tlb = new Tlb();
    tlb.fill(translation({ va: 0x1000, oa: 0x1000 }), 1); // 4K
    tlb.fill(translation({ va: 0x2_0000, oa: 0x2_0000, contiguous: true }), 1); // 64K
    tlb.fill(translation({ va: 0x40_0000, oa: 0x40_0000, level: 2 }), 1); // 2M
    tlb.fill(translation({ va: 0x400_0000, oa: 0x400_0000, level: 2, contiguous: true }), 1); // 32M
    tlb.fill(translation({ va: GiB, oa: GiB, level: 1 }), 1); // 1G
    tlb.fill(translation({ va: 16 * GiB, oa: 16 * GiB, level: 1, contiguous: true }), 1); // 16G
    const spanAt = (va: number) => tlb.lookup(va, 1)?.span ?? 0;
    expect([0x1000, 0x2_f000, 0x5f_ffff, 0x5ff_ffff, GiB + 123, 31 * GiB].map(spanAt)).toEqual([4096, 0x10000, 2 * MiB, 32 * MiB, GiB, 16 * GiB]);
    expect([0x0, 0x3_0000, 0x60_0000, 0x600_0000, 2 * GiB, 32 * GiB].map(spanAt)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(tlb.occupancy).toBe(6);
  });

  it('a refill of the same page and ASID replaces the entry in place', () => {
    const tlb = new Tlb();
    const events: string[] = [];
    tlb.observer = { onFill: (e) => events.push(`fill ${e.pa.toString(16)}`), onRemove: (e, r) => events.push(`${r} ${e.pa.toString(16)}`) };
    tlb.fill(translation({ va: 0x7000, oa: 0xa000 }), 3);
    tlb.fill(translation({ va: 0x7000, oa: 0xb000 }), 3);
    tlb.fill(translation({ va: 0x7000, oa: 0xc000 }), 4);
    expect(events).toEqual(['fill a000', 'replace a000', 'fill b000', 'fill c000']);
    expect(tlb.occupancy).toBe(2);
    expect(tlb.stats).toMatchObject({ fills: 3, replaced: 1, evictions: 0 });
  });
});

describe('TLB: replacement', () => {
  /** A 4-entry, 2-way TLB: even page numbers go to set 0. */
  const setZeroPage = (k: number) => k * 2 * 4096;

  it('FIFO per set: free ways first, then the way filled longest ago', () => {
    const tlb = new Tlb({ entries: 4, ways: 2 });
    const log: string[] = [];
    tlb.observer = { onFill: (e) => log.push(`fill ${e.vaBase / 8192}`), onRemove: (e, r) => log.push(`${r} ${e.vaBase / 8192}`) };
    for (const k of [0, 1, 2, 3]) tlb.fill(translation({ va: setZeroPage(k), oa: 0 }), 1);
    tlb.invalidate('VALE1IS', { lo: setZeroPage(2) / 4096, hi: 1 << 16 });
    tlb.fill(translation({ va: setZeroPage(4), oa: 0 }), 1); // takes the free way
    tlb.fill(translation({ va: setZeroPage(5), oa: 0 }), 1); // evicts 3, the oldest left
    tlb.fill(translation({ va: setZeroPage(6), oa: 0 }), 1); // evicts 4
    expect(log).toEqual(['fill 0', 'fill 1', 'evict 0', 'fill 2', 'evict 1', 'fill 3', 'invalidate 2', 'fill 4', 'evict 3', 'fill 5', 'evict 4', 'fill 6']);
    expect(tlb.stats).toMatchObject({ fills: 7, evictions: 4, invalidated_entries: 1 });
    // The other set was never touched.
    tlb.fill(translation({ va: 4096, oa: 0 }), 1);
    expect(tlb.stats.evictions).toBe(4);
  });

  it('seeded random replacement is deterministic', () => {
    const victims = (seed: number): number[] => {
      const tlb = new Tlb({ entries: 8, ways: 8, replacement: 'random', seed });
      const out: number[] = [];
      tlb.observer = { onFill: () => {}, onRemove: (e, r) => r === 'evict' && out.push(e.vaBase / 4096) };
      for (let k = 0; k < 40; k++) tlb.fill(translation({ va: k * 4096, oa: 0 }), 1);
      return out;
    };
    const a = victims(42);
    expect(a).toHaveLength(32);
    expect(victims(42)).toEqual(a);
    expect(victims(43)).not.toEqual(a);
    expect(new Set(a).size).toBeGreaterThan(8); // not a fixed way
  });

  it('rejects a geometry that is not set associative', () => {
    expect(() => new Tlb({ entries: 1280, ways: 3 })).toThrow(/cannot be 3-way/);
    expect(() => new Tlb({ entries: 0 })).toThrow(/not a positive integer/);
  });

  it('defaults to 1280 entries, 5-way (Cortex-A76 / Neoverse N1 L2 TLB)', () => {
    const tlb = new Tlb();
    expect([tlb.capacity, tlb.ways, tlb.sets, tlb.contig, tlb.replacement]).toEqual([1280, 5, 256, true, 'fifo']);
  });

  it('holds 1280 distinct pages before the first eviction', () => {
    const tlb = new Tlb();
    for (let k = 0; k < 1280; k++) tlb.fill(translation({ va: k * 4096, oa: 0 }), 1);
    expect(tlb.stats.evictions).toBe(0);
    tlb.fill(translation({ va: 1280 * 4096, oa: 0 }), 1);
    expect(tlb.stats.evictions).toBe(1);
    expect(tlb.lookup(0, 1)).toBeNull(); // page 0 shared set 0 with page 1280 and was oldest
  });
});

describe('TLB: observers and trace', () => {
  it('announces fills, evictions and invalidations, with occupancy in the trace', () => {
    const tracer = new Tracer();
    const records: TraceRecord[] = [];
    tracer.attach({ write: (r) => records.push(r), close: () => {} }, ['tlb_fill', 'tlb_evict', 'tlb_invalidate']);
    const tlb = new Tlb({ entries: 2, ways: 1 }, { tracer });
    const seen: [TlbRemoveReason | 'fill', TlbEntry][] = [];
    // Copies: an entry object is rewritten when its slot is filled again.
    tlb.observer = { onFill: (e) => seen.push(['fill', { ...e }]), onRemove: (e, r) => seen.push([r, { ...e }]) };
    tlb.fill(translation({ va: 0, oa: 0x1000 }), 9);
    tlb.fill(translation({ va: 0x2000, oa: 0x2000, global: true }), 9); // same set (1 way): evicts
    tlb.invalidate('VMALLE1IS', { lo: 0, hi: 0 });
    expect(seen.map(([r, e]) => [r, ...brief(e)])).toEqual([
      ['fill', '0x0', 4096, 9],
      ['evict', '0x0', 4096, 9],
      ['fill', '0x2000', 4096, -1],
      ['invalidate', '0x2000', 4096, -1],
    ]);
    expect(records.map((r) => [r.kind, (r as { occupancy: number }).occupancy])).toEqual([
      ['tlb_fill', 1],
      ['tlb_evict', 0],
      ['tlb_fill', 1],
      ['tlb_invalidate', 0],
    ]);
    expect([...tlb.residentEntries()]).toEqual([]);
  });

  it('hands a removed entry\'s range and tag to onRemove, equal to the entry\'s own, for every reason and size', () => {
    const tlb = new Tlb({ entries: 4, ways: 1 });
    const seen: string[] = [];
    tlb.observer = {
      onFill: () => {},
      onRemove: (e, r, vaBase, span, asid) => {
        expect([vaBase, span, asid]).toEqual([e.vaBase, e.span, e.asid]);
        seen.push(`${r} 0x${vaBase.toString(16)} +0x${span.toString(16)} ${asid}`);
      },
    };
    const high = 2 ** 40 - 16 * GiB; // above 2^31, where page numbers stop being small integers
    tlb.fill(translation({ va: high + 0x7000, oa: 0x7000 }), 5);
    tlb.fill(translation({ va: high + 0x7000, oa: 0x8000 }), 5); // same page and ASID: replaces
    tlb.fill(translation({ va: high + 4 * 4096, oa: 0x9000 }), 5); // same set, one way: evicts
    tlb.fill(translation({ va: high + 0x3_5000, oa: 0x5_5000, contiguous: true, global: true }), 5);
    tlb.fill(translation({ va: 16 * GiB + 0x1234, oa: 0, level: 1, contiguous: true }), 5);
    tlb.invalidate('VMALLE1IS', { lo: 0, hi: 0 });
    expect(seen).toEqual([
      `replace 0x${(high + 0x7000).toString(16)} +0x1000 5`,
      `evict 0x${(high + 0x7000).toString(16)} +0x1000 5`,
      // VMALLE1IS goes through the slots in order
      `invalidate 0x${(high + 0x4000).toString(16)} +0x1000 5`,
      `invalidate 0x400000000 +0x400000000 5`,
      `invalidate 0x${(high + 0x3_0000).toString(16)} +0x10000 -1`,
    ]);
  });
});
