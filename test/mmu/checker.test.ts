import { describe, expect, it } from 'vitest';
import {
  blockDescriptor,
  Mmu,
  pageDescriptor,
  tableDescriptor,
  tlbiRangeOperand,
  tlbiVaOperand,
  ttl4k,
  type MmuOptions,
  type U64Like,
} from './imports.js';
import { Telemetry } from '../../src/trace/telemetry.js';
import type { TraceRecord } from '../../src/trace/events.js';
import { TableBuilder } from './tables.js';

const ASID = 0x42;
const USER = { AF: true, AP: 1, SH: 3, nG: true, DBM: true, PXN: true, UXN: true } as const;
const NONE: U64Like = { lo: 0, hi: 0 };

/** An Mmu over hand-built tables, with the checker's events collected. */
function harness(opts: MmuOptions = {}) {
  const tb = new TableBuilder();
  const telemetry = new Telemetry();
  const events: TraceRecord[] = [];
  telemetry.tracer.attach({ write: (r) => events.push(r), close: () => {} }, ['bbm_violation', 'contig_violation']);
  const mmu = new Mmu(tb.mem, telemetry, opts);
  mmu.regs.ttbr0 = tb.root;
  mmu.regs.asid = ASID;
  const write = (va: number, value: U64Like, level = 3, asid = ASID) => mmu.writeDescriptor(tb.entryPa(va, level as 0 | 1 | 2 | 3), value, { va, level, asid });
  const rules = () => events.map((e) => (e as { rule: string }).rule);
  /** The break-before-make sequence of Linux's __flush_tlb_range for one page. */
  const flushPage = (va: number, asid = ASID, op: 'VALE1IS' | 'VAE1IS' = 'VALE1IS') => {
    mmu.dsb('ishst');
    mmu.tlbi(op, tlbiVaOperand({ asid, va, ttl: op === 'VALE1IS' ? ttl4k(3) : 0 }));
    mmu.dsb('ish');
  };
  return { tb, mmu, telemetry, events, write, rules, flushPage };
}

const VA = 0x7f00_0012_0000;

describe('checker: break-before-make', () => {
  it('a correct sequence (invalid, DSB, TLBI, DSB, new value) is not flagged', () => {
    const h = harness();
    h.write(VA, pageDescriptor(0x10_0000, USER));
    h.mmu.settle();
    h.write(VA, NONE);
    h.flushPage(VA);
    h.write(VA, pageDescriptor(0x20_0000, USER));
    h.mmu.settle();
    expect(h.rules()).toEqual([]);
    expect(h.mmu.checker.staleLocations).toBe(0);
  });

  it('a new output address without any TLBI is flagged once, naming the VA and the rule', () => {
    const h = harness();
    h.write(VA, pageDescriptor(0x10_0000, USER));
    h.write(VA, NONE);
    h.telemetry.calls.within('do_fault', () => h.write(VA, pageDescriptor(0x20_0000, USER)));
    expect(h.events).toHaveLength(1);
    expect(h.events[0]).toMatchObject({ kind: 'bbm_violation', va: VA, rule: 'bbm_no_tlbi', chain: 'do_fault' });
    expect((h.events[0] as { detail: string }).detail).toMatch(/changed: output address/);
    expect(h.telemetry.stats.snapshot().checker).toMatchObject({ bbm_violations: 1, contig_violations: 0, by_rule: { bbm_no_tlbi: 1 } });
  });

  it('a valid-to-valid change of the output address is flagged; of AF, AP, DBM, XN or dirty is not', () => {
    const h = harness();
    const a = pageDescriptor(0x10_0000, USER);
    h.write(VA, a);
    h.write(VA, pageDescriptor(0x10_0000, { ...USER, AF: false }));
    h.write(VA, pageDescriptor(0x10_0000, { ...USER, AP: 3, DBM: false, swDirty: true, UXN: false }));
    expect(h.rules()).toEqual([]);
    h.write(VA, pageDescriptor(0x11_0000, USER));
    h.write(VA, pageDescriptor(0x11_0000, { ...USER, AttrIndx: 1 }));
    h.write(VA, pageDescriptor(0x11_0000, { ...USER, AttrIndx: 1, SH: 2 }));
    h.write(VA, pageDescriptor(0x11_0000, { ...USER, AttrIndx: 1, SH: 2, nG: false }));
    expect(h.rules()).toEqual(['bbm_live_change', 'bbm_live_change', 'bbm_live_change', 'bbm_live_change']);
    expect(h.events.map((e) => (e as { detail: string }).detail.replace(/.*changed: /, ''))).toEqual(['output address)', 'AttrIndx)', 'SH)', 'nG)']);
  });

  it('rewriting the same value after an invalidation needs no TLBI (mprotect start/commit)', () => {
    const h = harness();
    h.write(VA, pageDescriptor(0x10_0000, USER));
    h.write(VA, NONE);
    h.write(VA, pageDescriptor(0x10_0000, { ...USER, AP: 3, DBM: false }));
    expect(h.rules()).toEqual([]);
  });

  it('the TLBI must come after a DSB has published the invalid store', () => {
    const h = harness();
    h.write(VA, pageDescriptor(0x10_0000, USER));
    h.write(VA, NONE);
    h.mmu.tlbi('VALE1IS', tlbiVaOperand({ asid: ASID, va: VA }));
    h.mmu.dsb('ish');
    h.write(VA, pageDescriptor(0x20_0000, USER));
    expect(h.rules()).toEqual(['bbm_tlbi_before_dsb']);
  });

  it('the TLBI must be completed by a DSB ISH before the new value', () => {
    const h = harness();
    h.write(VA, pageDescriptor(0x10_0000, USER));
    h.write(VA, NONE);
    h.mmu.dsb('ishst');
    h.mmu.tlbi('VALE1IS', tlbiVaOperand({ asid: ASID, va: VA }));
    h.mmu.dsb('ishst'); // orders stores only: does not complete the TLBI
    h.write(VA, pageDescriptor(0x20_0000, USER));
    expect(h.rules()).toEqual(['bbm_tlbi_incomplete']);
  });

  it('with barrier checking off, a covering TLBI alone is enough', () => {
    const h = harness({ checkBarriers: false });
    h.write(VA, pageDescriptor(0x10_0000, USER));
    h.write(VA, NONE);
    h.mmu.tlbi('VALE1IS', tlbiVaOperand({ asid: ASID, va: VA }));
    h.write(VA, pageDescriptor(0x20_0000, USER));
    expect(h.rules()).toEqual([]);
  });

  it('a TLBI that does not cover the location does not clean it: other ASID, other VA, wrong level hint', () => {
    for (const operand of [
      tlbiVaOperand({ asid: ASID + 1, va: VA }),
      tlbiVaOperand({ asid: ASID, va: VA + 4096 }),
      tlbiVaOperand({ asid: ASID, va: VA, ttl: ttl4k(2) }),
    ]) {
      const h = harness();
      h.write(VA, pageDescriptor(0x10_0000, USER));
      h.write(VA, NONE);
      h.mmu.dsb('ishst');
      h.mmu.tlbi('VALE1IS', operand);
      h.mmu.dsb('ish');
      h.write(VA, pageDescriptor(0x20_0000, USER));
      expect(h.rules()).toEqual(['bbm_no_tlbi']);
    }
  });

  it('KPTI: the user-ASID copy of the TLBI is the one that cleans user entries', () => {
    const h = harness();
    const userAsid = ASID | 1;
    h.write(VA, pageDescriptor(0x10_0000, USER), 3, userAsid);
    h.write(VA, NONE, 3, userAsid);
    h.flushPage(VA, ASID & ~1);
    expect(h.mmu.checker.staleLocations).toBe(1);
    h.flushPage(VA, userAsid);
    expect(h.mmu.checker.staleLocations).toBe(0);
    h.write(VA, pageDescriptor(0x20_0000, USER), 3, userAsid);
    expect(h.rules()).toEqual([]);
  });

  it('a global entry is cleaned by a by-VA TLBI of any ASID, but not by ASIDE1IS', () => {
    const h = harness();
    const g = pageDescriptor(0x10_0000, { ...USER, nG: false });
    h.write(VA, g);
    h.write(VA, NONE);
    h.mmu.dsb('ishst');
    h.mmu.tlbi('ASIDE1IS', tlbiVaOperand({ asid: ASID, va: 0 }));
    h.mmu.dsb('ish');
    expect(h.mmu.checker.staleLocations).toBe(1);
    h.flushPage(VA, 999);
    expect(h.mmu.checker.staleLocations).toBe(0);
  });

  it('table descriptors are cleaned only by non-last-level TLBIs (walk caches)', () => {
    for (const [op, expected] of [['VALE1IS', ['bbm_no_tlbi']], ['VAE1IS', []]] as const) {
      const h = harness();
      const pmdVa = 0x40_0000;
      h.write(pmdVa, tableDescriptor(0x4020_0000), 2);
      h.write(pmdVa, NONE, 2); // pmd_clear, then free_pte_range...
      h.flushPage(pmdVa, ASID, op);
      h.write(pmdVa, tableDescriptor(0x4030_0000), 2); // ...and a new table there
      expect(h.rules()).toEqual(expected);
    }
  });

  it('a range TLBI covering the location cleans it; one ending just before does not', () => {
    const h = harness();
    h.write(VA, pageDescriptor(0x10_0000, USER));
    h.write(VA, NONE);
    h.mmu.dsb('ishst');
    h.mmu.tlbi('RVALE1IS', tlbiRangeOperand({ asid: ASID, tg: 1, scale: 0, num: 7, ttl: 3, baseAddr: (VA - 16 * 4096) / 4096 }));
    h.mmu.dsb('ish');
    expect(h.mmu.checker.staleLocations).toBe(1);
    h.mmu.dsb('ishst');
    h.mmu.tlbi('RVALE1IS', tlbiRangeOperand({ asid: ASID, tg: 1, scale: 0, num: 7, ttl: 3, baseAddr: VA / 4096 }));
    h.mmu.dsb('ish');
    expect(h.mmu.checker.staleLocations).toBe(0);
  });
});

/** Writes the 16 entries of the set at `va0` mapping `pa0`, with the given attributes. */
function writeSet(h: ReturnType<typeof harness>, va0: number, pa0: number, attrs: Parameters<typeof pageDescriptor>[1]) {
  for (let i = 0; i < 16; i++) h.write(va0 + i * 4096, pageDescriptor(pa0 + i * 4096, attrs));
}

describe('checker: contpte_convert as break-before-make', () => {
  const va0 = 0x5555_0000;
  const pa0 = 0x66_0000;
  function fold(h: ReturnType<typeof harness>, withTlbi: boolean) {
    writeSet(h, va0, pa0, USER);
    h.mmu.settle();
    h.telemetry.calls.within('contpte_convert', () => {
      for (let i = 0; i < 16; i++) h.write(va0 + i * 4096, NONE);
      if (withTlbi) {
        h.mmu.dsb('ishst');
        h.mmu.tlbi('RVALE1IS', tlbiRangeOperand({ asid: ASID, tg: 1, scale: 0, num: 7, ttl: 3, baseAddr: va0 / 4096 }));
        h.mmu.dsb('ish');
      }
      writeSet(h, va0, pa0, { ...USER, contiguous: true });
    });
    h.mmu.settle();
  }

  it('a fold with its range TLBI is clean', () => {
    const h = harness();
    fold(h, true);
    expect(h.rules()).toEqual([]);
  });

  it('a fold without the TLBI breaks BBM once per entry', () => {
    const h = harness();
    fold(h, false);
    expect(h.rules()).toEqual(Array(16).fill('bbm_no_tlbi'));
    expect(h.events.every((e) => (e as { chain: string }).chain === 'contpte_convert')).toBe(true);
  });

  it('a fold without the TLBI is clean under BBML2_NOABORT (only the contiguous bit changed)', () => {
    const h = harness({ bbml2: true });
    fold(h, false);
    expect(h.rules()).toEqual([]);
  });

  it('BBML2 does not excuse an output-address change', () => {
    const h = harness({ bbml2: true });
    h.write(VA, pageDescriptor(0x10_0000, USER));
    h.write(VA, pageDescriptor(0x20_0000, { ...USER, contiguous: true }));
    expect(h.rules()).toEqual(['bbm_live_change']);
  });
});

describe('checker: contiguous sets (rules 1-4)', () => {
  const va0 = 0x1234_0000;
  const pa0 = 0x80_0000;
  const CONT = { ...USER, contiguous: true };

  it('a correct set is clean', () => {
    const h = harness();
    writeSet(h, va0, pa0, CONT);
    h.mmu.settle();
    expect(h.rules()).toEqual([]);
  });

  it('per-entry AF, software dirty and (with DBM) AP[2] may differ', () => {
    const h = harness();
    for (let i = 0; i < 16; i++) {
      const a = { ...CONT, AF: i % 2 === 0, swDirty: i % 3 === 0, AP: i % 5 === 0 ? 3 : 1 };
      h.write(va0 + i * 4096, pageDescriptor(pa0 + i * 4096, a));
    }
    h.mmu.settle();
    expect(h.rules()).toEqual([]);
  });

  it('a member without the bit is flagged at settle', () => {
    const h = harness();
    for (let i = 0; i < 16; i++) h.write(va0 + i * 4096, pageDescriptor(pa0 + i * 4096, i === 9 ? USER : CONT));
    expect(h.rules()).toEqual([]);
    h.mmu.settle();
    expect(h.rules()).toEqual(['contig_member_not_contiguous']);
    expect(h.events[0]).toMatchObject({ va: va0 });
    expect((h.events[0] as { detail: string }).detail).toMatch(/^entries 9 are valid without the contiguous bit/);
  });

  it('clearing the bit of a live member without break-before-make is a live change', () => {
    const h = harness();
    writeSet(h, va0, pa0, CONT);
    h.write(va0 + 9 * 4096, pageDescriptor(pa0 + 9 * 4096, USER));
    expect(h.rules()).toEqual(['bbm_live_change']);
    h.mmu.settle();
    expect(h.rules()).toEqual(['bbm_live_change', 'contig_member_not_contiguous']);
  });

  it('a later member whose OA disagrees with the earlier ones is flagged at its write', () => {
    const h = harness();
    for (let i = 0; i < 16; i++) h.write(va0 + i * 4096, pageDescriptor(i === 12 ? pa0 + 0x10000 + 12 * 4096 : pa0 + i * 4096, CONT));
    expect(h.rules()).toEqual(['contig_oa']);
    expect((h.events[0] as { detail: string }).detail).toBe('entry 12 has OA 0x81c000 but contiguous entry 0 has 0x800000 (expected 0x810000)');
  });

  it('an invalid member is flagged at settle, a whole invalid set is not', () => {
    const h = harness();
    writeSet(h, va0, pa0, CONT);
    h.mmu.settle();
    h.write(va0 + 4 * 4096, NONE);
    h.mmu.settle();
    expect(h.rules()).toEqual(['contig_member_invalid']);
    for (let i = 0; i < 16; i++) h.write(va0 + i * 4096, NONE);
    h.mmu.settle();
    expect(h.rules()).toEqual(['contig_member_invalid']);
  });

  it('a misaligned output address is flagged at the write, and only once', () => {
    const h = harness();
    writeSet(h, va0, pa0 + 4096, CONT);
    expect(h.rules()).toEqual(['contig_oa']);
    h.mmu.settle();
    expect(h.rules()).toEqual(['contig_oa']);
    expect((h.events[0] as { detail: string }).detail).toMatch(/entry 0 has OA 0x801000, so the set would start at 0x801000, not aligned to 0x10000/);
  });

  it('an output address that disagrees with the other members is flagged at the write', () => {
    const h = harness();
    for (let i = 0; i < 16; i++) h.write(va0 + i * 4096, pageDescriptor(pa0 + (i === 5 ? 0x9000 : i * 4096), CONT));
    expect(h.rules()).toEqual(['contig_oa']);
    expect((h.events[0] as { detail: string }).detail).toMatch(/^entry 5 has OA 0x809000, so the set would start at 0x804000, not aligned to 0x10000$/);
  });

  it('different permissions are flagged at settle, and are fine while an operation is still repainting', () => {
    const h = harness();
    const ro = { ...CONT, AP: 3, DBM: false };
    writeSet(h, va0, pa0, { ...CONT, DBM: false });
    h.mmu.settle();
    // wrprotect_ptes on a whole block: entry by entry, one operation.
    for (let i = 0; i < 16; i++) h.write(va0 + i * 4096, pageDescriptor(pa0 + i * 4096, ro));
    h.mmu.settle();
    expect(h.rules()).toEqual([]);
    // The same, but the operation stops half way.
    for (let i = 0; i < 8; i++) h.write(va0 + i * 4096, pageDescriptor(pa0 + i * 4096, { ...CONT, DBM: false }));
    h.mmu.settle();
    expect(h.rules()).toEqual(['contig_attrs']);
    expect((h.events[0] as { detail: string }).detail).toMatch(/^entries 8,9,10,11,12,13,14,15 differ from entry 0/);
  });

  it('level-2 contiguous blocks (32 MiB sets) are judged the same way', () => {
    const h = harness();
    const base = 64 * 2 ** 20;
    for (let i = 0; i < 16; i++) h.write(base + i * 2 ** 21, blockDescriptor(2, 0x4000_0000 + i * 2 ** 21, { ...CONT }), 2);
    h.mmu.settle();
    expect(h.rules()).toEqual([]);
    h.write(base + 3 * 2 ** 21, NONE, 2);
    h.mmu.settle();
    expect(h.rules()).toEqual(['contig_member_invalid']);
    expect(h.events[0]).toMatchObject({ va: base });
  });

  it('rejects a write context whose VA does not index the written entry', () => {
    const h = harness();
    const pa = h.tb.entryPa(VA, 3);
    expect(() => h.mmu.writeDescriptor(pa, NONE, { va: VA + 4096, level: 3, asid: ASID })).toThrow(/is entry 289 at level 3, but the store is to entry 288 \(PA 0x40003900\)/);
  });
});

describe('checker: stale tracking across regions, buckets and reuse', () => {
  const REGION = 2 * 2 ** 20;
  /** 40 pages, one in each of 40 consecutive 2 MiB regions (more than are kept idle for reuse). */
  const vas = Array.from({ length: 40 }, (_, k) => VA + k * REGION);
  const map = (h: ReturnType<typeof harness>, pa: number) => vas.forEach((va, k) => h.write(va, pageDescriptor(pa + k * 4096, USER)));
  const clear = (h: ReturnType<typeof harness>) => vas.forEach((va) => h.write(va, NONE));
  const flushAsid = (h: ReturnType<typeof harness>) => {
    h.mmu.dsb('ishst');
    h.mmu.tlbi('ASIDE1IS', tlbiVaOperand({ asid: ASID, va: 0, ttl: 0 }));
    h.mmu.dsb('ish');
  };

  it('regions emptied and refilled many times keep exact state: clean after ASIDE1IS, flagged without it', () => {
    const h = harness();
    for (let cycle = 0; cycle < 3; cycle++) {
      map(h, 0x10_0000 + cycle * 0x10_0000);
      clear(h);
      expect(h.mmu.checker.staleLocations).toBe(40);
      flushAsid(h);
      expect(h.mmu.checker.staleLocations).toBe(0);
    }
    // A new output address everywhere after the last flush: clean.
    map(h, 0x80_0000);
    expect(h.rules()).toEqual([]);
    // Cleared again but never invalidated: every new value is a violation, one per page.
    clear(h);
    map(h, 0x90_0000);
    expect(h.rules()).toEqual(Array(40).fill('bbm_no_tlbi'));
    expect(h.events.map((e) => (e as { va: number }).va)).toEqual(vas);
  });

  it('a global entry is found for a write in any ASID, next to non-global ones of the same region', () => {
    const h = harness();
    const GLOBAL = { ...USER, nG: false };
    h.write(VA, pageDescriptor(0x10_0000, GLOBAL));
    h.write(VA + 4096, pageDescriptor(0x11_0000, USER));
    h.write(VA, NONE);
    h.write(VA + 4096, NONE);
    expect(h.mmu.checker.staleLocations).toBe(2);
    // Same output address, but nG differs from the global value that may still be cached.
    h.write(VA, pageDescriptor(0x10_0000, USER), 3, ASID + 1);
    expect(h.rules()).toEqual(['bbm_no_tlbi']);
    expect((h.events[0] as { detail: string }).detail).toMatch(/\(changed: nG\)$/);
    h.write(VA, NONE, 3, ASID + 1);
    expect(h.mmu.checker.staleLocations).toBe(3);
    // A by-VA TLBI of yet another ASID cleans the global entry only.
    h.flushPage(VA, ASID + 2);
    expect(h.mmu.checker.staleLocations).toBe(2);
    h.write(VA, pageDescriptor(0x30_0000, USER), 3, ASID + 3);
    expect(h.rules()).toEqual(['bbm_no_tlbi']);
    h.write(VA + 4096, pageDescriptor(0x31_0000, USER));
    expect(h.rules()).toEqual(['bbm_no_tlbi', 'bbm_no_tlbi']);
    expect(h.events[1]).toMatchObject({ va: VA + 4096, rule: 'bbm_no_tlbi' });
    // A finding does not make the location safe: both non-global records are still there.
    expect(h.mmu.checker.staleLocations).toBe(2);
  });

  it('a location cleared again after its invalidation completed remembers only the newer value', () => {
    const h = harness();
    h.write(VA, pageDescriptor(0x10_0000, USER));
    h.write(VA, NONE);
    h.flushPage(VA);
    // Reused by another ASID (a recycled table): the first ASID's record is complete but not yet
    // looked at again, and this write does not look at it.
    h.write(VA, pageDescriptor(0x20_0000, USER), 3, ASID + 1);
    h.write(VA, NONE);
    expect(h.mmu.checker.staleLocations).toBe(1);
    h.write(VA, pageDescriptor(0x30_0000, USER));
    expect(h.rules()).toEqual(['bbm_no_tlbi']);
    expect((h.events[0] as { detail: string }).detail).toBe(
      '0x0068000000300f43 written where 0x0068000000200f43 may still be cached: no TLBI covering this VA and ASID since it was invalidated (changed: output address)',
    );
  });

  it('two different stale values of one location are both remembered until a TLBI', () => {
    const h = harness();
    h.write(VA, pageDescriptor(0x10_0000, USER));
    h.write(VA, NONE);
    h.write(VA, pageDescriptor(0x10_0000, USER)); // same value back: allowed
    h.write(VA, NONE);
    h.write(VA, pageDescriptor(0x20_0000, USER)); // flagged against 0x100000
    h.write(VA, NONE);
    h.write(VA, pageDescriptor(0x10_0000, USER)); // flagged against 0x200000, remembered too
    expect(h.rules()).toEqual(['bbm_no_tlbi', 'bbm_no_tlbi']);
    expect((h.events[1] as { detail: string }).detail).toMatch(/^0x0068000000100f43 written where 0x0068000000200f43 may still be cached/);
    h.write(VA, NONE);
    h.flushPage(VA);
    h.write(VA, pageDescriptor(0x40_0000, USER));
    expect(h.rules()).toHaveLength(2);
  });

  it('one settle judges every contiguous group touched since the last, beyond a page table of them', () => {
    const h = harness();
    const va0 = 0x4000_0000;
    // Entry 0 of 40 groups (2.5 page tables' worth) gets the bit, its 15 neighbours stay invalid.
    for (let g = 0; g < 40; g++) h.write(va0 + g * 0x10000, pageDescriptor(0x100_0000 + g * 0x10000, { ...USER, contiguous: true }));
    expect(h.rules()).toEqual([]);
    h.mmu.settle();
    expect(h.rules()).toEqual(Array(40).fill('contig_member_invalid'));
    expect(h.events.map((e) => (e as { va: number }).va)).toEqual(Array.from({ length: 40 }, (_, g) => va0 + g * 0x10000));
    h.mmu.settle();
    expect(h.rules()).toHaveLength(40);
  });
});
