/**
 * __flush_tlb_range, table-driven: for 1, 2, 16, 17, 511, 512 and 32768 pages, with and without
 * FEAT_TLBIRANGE, under each version's rules, the exact operations (op, first page, pages covered,
 * SCALE/NUM) and DSBs. Expected values are written out by hand from reference B.7 (the worked
 * numbers) and the kernel's loops, not computed by the code under test.
 */
import { describe, expect, it } from 'vitest';
import { planFlushRangeOps, PAGE_SIZE, type FlushRangeRules, DEFAULT_PGTABLE_POLICY } from '../../src/pgtable/index.js';
import { decodeTlbiOperand } from '../../src/mmu/index.js';
import { Rig } from './rig.js';

const START = 0x4000_0000;
type Op = [op: string, firstPage: number, pages: number, scale?: number, num?: number];

/** Expected op lists; 'ASID' means the helper gave up and flushed the whole ASID. */
const TABLE: Record<FlushRangeRules, Record<'range' | 'norange', Record<number, Op[] | 'ASID'>>> = {
  'v6.9': {
    range: {
      1: [['VALE1IS', 0, 1]],
      2: [['RVALE1IS', 0, 2, 0, 0]],
      16: [['RVALE1IS', 0, 16, 0, 7]],
      17: [['RVALE1IS', 0, 16, 0, 7], ['VALE1IS', 16, 1]],
      511: [['RVALE1IS', 0, 448, 1, 6], ['RVALE1IS', 448, 62, 0, 30], ['VALE1IS', 510, 1]],
      512: [['RVALE1IS', 0, 512, 1, 7]],
      32768: [['RVALE1IS', 0, 32768, 2, 15]],
    },
    norange: {
      1: [['VALE1IS', 0, 1]],
      2: [['VALE1IS', 0, 1], ['VALE1IS', 1, 1]],
      16: 'each16',
      17: 'each17',
      511: 'each511',
      512: 'ASID',
      32768: 'ASID',
    } as unknown as Record<number, Op[] | 'ASID'>,
  },
  'v6.7': {
    range: {
      1: [['VALE1IS', 0, 1]],
      2: [['RVALE1IS', 0, 2, 0, 0]],
      16: [['RVALE1IS', 0, 16, 0, 7]],
      17: [['RVALE1IS', 0, 16, 0, 7], ['VALE1IS', 16, 1]],
      511: [['RVALE1IS', 0, 448, 1, 6], ['RVALE1IS', 448, 62, 0, 30], ['VALE1IS', 510, 1]],
      512: [['RVALE1IS', 0, 512, 1, 7]],
      32768: [['RVALE1IS', 0, 32768, 2, 15]],
    },
    norange: { 1: [['VALE1IS', 0, 1]], 2: [['VALE1IS', 0, 1], ['VALE1IS', 1, 1]], 16: 'each16', 17: 'each17', 511: 'each511', 512: 'ASID', 32768: 'ASID' } as unknown as Record<number, Op[] | 'ASID'>,
  },
  'v6.1': {
    range: {
      1: [['VALE1IS', 0, 1]],
      2: [['RVALE1IS', 0, 2, 0, 0]],
      16: [['RVALE1IS', 0, 16, 0, 7]],
      // An odd count peels one page off the front first.
      17: [['VALE1IS', 0, 1], ['RVALE1IS', 1, 16, 0, 7]],
      511: [['VALE1IS', 0, 1], ['RVALE1IS', 1, 62, 0, 30], ['RVALE1IS', 63, 448, 1, 6]],
      512: [['RVALE1IS', 0, 512, 1, 7]],
      32768: [['RVALE1IS', 0, 32768, 2, 15]],
    },
    norange: { 1: [['VALE1IS', 0, 1]], 2: [['VALE1IS', 0, 1], ['VALE1IS', 1, 1]], 16: 'each16', 17: 'each17', 511: 'each511', 512: 'ASID', 32768: 'ASID' } as unknown as Record<number, Op[] | 'ASID'>,
  },
};

function expand(e: Op[] | 'ASID' | string): Op[] | 'ASID' {
  if (e === 'ASID') return 'ASID';
  if (typeof e === 'string') {
    const n = Number(e.slice(4));
    return Array.from({ length: n }, (_, i): Op => ['VALE1IS', i, 1]);
  }
  return e;
}

describe('__flush_tlb_range(start, start + pages, PAGE_SIZE, last_level, level 3): the exact operations', () => {
  for (const rules of ['v6.1', 'v6.7', 'v6.9'] as const) {
    for (const range of [true, false]) {
      for (const pages of [1, 2, 16, 17, 511, 512, 32768]) {
        it(`${rules}, ${range ? 'with' : 'without'} FEAT_TLBIRANGE, ${pages} pages`, () => {
          const r = new Rig({ tlbiRange: range, flushRangeRules: rules }).prepare(START);
          r.wb.pgtable.flush.__flushTlbRange(r.mm, START, START + pages * PAGE_SIZE, PAGE_SIZE, true, 3);
          const want = expand(TABLE[rules][range ? 'range' : 'norange'][pages]!);
          const got = r.since(0, ['tlbi', 'dsb']);
          if (want === 'ASID') {
            expect(got.map((e) => (e.kind === 'tlbi' ? e.decoded : `dsb ${e.kind === 'dsb' ? e.domain : ''}`))).toEqual(['dsb ishst', 'ASIDE1IS asid=2', 'dsb ish', 'dsb ish']);
            return;
          }
          expect(got[0]).toMatchObject({ kind: 'dsb', domain: 'ishst' });
          expect(got[got.length - 1]).toMatchObject({ kind: 'dsb', domain: 'ish' });
          const ops = got.slice(1, -1).map((e): Op => {
            if (e.kind !== 'tlbi') throw new Error('expected only TLBIs between the DSBs');
            const d = decodeTlbiOperand(e.op as never, e.operand);
            if (d.scope === 'range') return [e.op, (d.start - START) / PAGE_SIZE, d.pages, d.scale, d.num];
            if (d.scope === 'va') {
              expect(d.hintLevel).toBe(3);
              return [e.op, (d.va - START) / PAGE_SIZE, 1];
            }
            throw new Error(`unexpected ${e.op}`);
          });
          expect(ops).toEqual(want);
          // Whatever the rules, the ranges cover exactly the pages asked for, once.
          expect(ops.reduce((n, o) => n + o[2], 0)).toBe(pages);
        });
      }
    }
  }

  it('non-last-level flushes use VAE1IS / RVAE1IS, and a PMD stride steps by 2 MiB', () => {
    const p = { ...DEFAULT_PGTABLE_POLICY, tlbiRange: false };
    // 128 MiB of freed PTE tables without range ops: 64 VAE1IS, one per 2 MiB (reference C.6).
    const ops = planFlushRangeOps(START, 32768, 2 * 1024 * 1024, 2, false, 0, p);
    expect(ops).toHaveLength(64);
    expect(new Set(ops.map((o) => o.op))).toEqual(new Set(['VAE1IS']));
    const withRange = planFlushRangeOps(START, 32768, 2 * 1024 * 1024, 2, false, 0, DEFAULT_PGTABLE_POLICY);
    expect(withRange.map((o) => o.op)).toEqual(['RVAE1IS']);
  });

  it('gives up beyond MAX_TLBI_RANGE_PAGES with range ops (v6.9: strictly more; v6.1: at or above)', () => {
    for (const [rules, pages, asid] of [['v6.9', 2097152, false], ['v6.9', 2097153, true], ['v6.1', 2097152, true]] as const) {
      const r = new Rig({ flushRangeRules: rules }).prepare(START);
      r.wb.pgtable.flush.__flushTlbRange(r.mm, START, START + pages * PAGE_SIZE, PAGE_SIZE, true, 3);
      expect(r.counts().by_op['ASIDE1IS'] === 1, `${rules} ${pages}`).toBe(asid);
    }
  });

  it('the v6.7 NUM masking cannot encode exactly 2^21 pages (the bug Gavin Shan fixed in v6.9)', () => {
    const p = { ...DEFAULT_PGTABLE_POLICY, flushRangeRules: 'v6.7' as const };
    expect(() => planFlushRangeOps(START, 2097152, PAGE_SIZE, 2, true, 3, p)).toThrow(/uncovered/);
    expect(planFlushRangeOps(START, 2097152, PAGE_SIZE, 2, true, 3, DEFAULT_PGTABLE_POLICY).map((o) => o.op)).toEqual(['RVALE1IS']);
  });
});
