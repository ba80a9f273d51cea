/**
 * Attribution of page-table work: the call stack (src/trace/calls.ts) the page-table layer keeps,
 * and the TLBI tallies by site and by chain it produces for folds and unfolds.
 */
import { describe, expect, it } from 'vitest';
import { PAGE_SIZE, pfnPte } from '../../src/pgtable/index.js';
import { CallStack } from '../../src/trace/calls.js';
import { Rig, RW, VA } from './rig.js';

describe('CallStack', () => {
  it('names the chain, the site and the root at every depth, and leaving at the bottom is harmless', () => {
    const c = new CallStack();
    c.markHelpers('__flush_tlb_range');
    expect([c.chain(), c.site(), c.root(), c.depth]).toEqual(['(none)', '(none)', '(none)', 0]);
    c.enter('set_ptes');
    c.enter('contpte_convert');
    c.enter('__flush_tlb_range');
    expect([c.chain(), c.site(), c.root(), c.depth]).toEqual(['set_ptes > contpte_convert > __flush_tlb_range', 'contpte_convert', 'set_ptes', 3]);
    c.leave();
    expect([c.chain(), c.site(), c.depth]).toEqual(['set_ptes > contpte_convert', 'contpte_convert', 2]);
    c.leave();
    c.leave();
    c.leave();
    expect([c.chain(), c.site(), c.root(), c.depth]).toEqual(['(none)', '(none)', '(none)', 0]);
    c.enter('zap_pte_range');
    expect([c.chain(), c.site(), c.root(), c.depth]).toEqual(['zap_pte_range', 'zap_pte_range', 'zap_pte_range', 1]);
  });

  it('re-entering a chain gives the same string; the same frame under another parent is another chain', () => {
    const c = new CallStack();
    c.enter('a');
    c.enter('b');
    const first = c.chain();
    c.leave();
    c.leave();
    c.enter('x');
    c.enter('b');
    expect(c.chain()).toBe('x > b');
    c.leave();
    c.leave();
    c.enter('a');
    c.enter('b');
    expect(c.chain()).toBe(first);
    expect(c.chain()).toBe('a > b');
  });

  it('a site computed before markHelpers is recomputed after it', () => {
    const c = new CallStack();
    c.enter('contpte_convert');
    c.enter('__flush_tlb_range');
    c.enter('__flush_tlb_range_nosync');
    expect(c.site()).toBe('__flush_tlb_range_nosync');
    c.markHelpers('__flush_tlb_range_nosync');
    expect(c.site()).toBe('__flush_tlb_range');
    c.markHelpers('__flush_tlb_range');
    expect(c.site()).toBe('contpte_convert');
    // Every frame a helper: the outermost is charged.
    c.markHelpers('contpte_convert');
    expect(c.site()).toBe('contpte_convert');
  });

  it('within() leaves its frame when the function throws', () => {
    const c = new CallStack();
    c.enter('outer');
    expect(() => c.within('inner', () => {
      throw new Error('boom');
    })).toThrow('boom');
    expect(c.chain()).toBe('outer');
    expect(c.within('inner', () => c.chain())).toBe('outer > inner');
  });
});

describe('TLBI attribution of folds and unfolds', () => {
  it('mprotect of one page of a folded block and back: every TLBI charged to contpte_convert, by its whole chain', () => {
    const r = new Rig().prepare();
    const f = r.folio(4);
    r.api.setPtes(r.mm, VA, r.ptep(VA), pfnPte(f.firstPfn, RW), 16);
    const va = VA + 15 * PAGE_SIZE;
    const p = r.ptep(va);
    r.resetCounts();
    for (let i = 0; i < 3; i++) {
      const old = r.api.ptepModifyProtStart(r.mm, va, p);
      r.api.ptepModifyProtCommit(r.mm, va, p, old, old);
    }
    const tlbi = r.wb.mmu.tlbiStats;
    expect(tlbi.by_site).toEqual({ contpte_convert: 6 });
    expect(Object.entries(tlbi.by_chain)).toEqual([
      ['ptep_modify_prot_start > ptep_get_and_clear > contpte_try_unfold > contpte_convert > __flush_tlb_range > __flush_tlb_range_nosync', 3],
      ['ptep_modify_prot_commit > set_ptes > contpte_try_fold > contpte_convert > __flush_tlb_range > __flush_tlb_range_nosync', 3],
    ]);
    expect(r.wb.pgtable.stats.api_calls).toEqual({ ptep_modify_prot_start: 3, ptep_get_and_clear: 3, ptep_modify_prot_commit: 3, set_ptes: 3 });
    expect(r.wb.telemetry.calls.chain()).toBe('(none)');
  });
});
