/**
 * Cortex-A715 erratum 2645198 in mprotect: a user-executable PTE is cleared and flushed before
 * its permissions change. The flush decision is pte_accessible(), evaluated inside mprotect's
 * mmu_gather (mm_tlb_flush_pending): old entries are flushed like young ones.
 */
import { describe, expect, it } from 'vitest';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE } from '../../src/mm/index.js';
import { alignedHint, KiB, machine, measure, PAGE, writePages } from './helpers.js';

function setup(profile: string, sets: string[]) {
  const m = machine(profile, ['erratum_2645198=on', ...sets]);
  const len = 64 * KiB;
  const a = m.p.mmap({ addr: alignedHint(m, len), len, prot: PROT_READ | PROT_WRITE | PROT_EXEC, flags: MAP_PRIVATE | MAP_ANONYMOUS, file: null, pgoff: 0 });
  writePages(m, a, len);
  // Age page 3 as reclaim would (ptep_test_and_clear_young: no flush).
  const ptep = m.k.pgtable.tables.pteOffsetMap(m.p, a + 3 * PAGE)!;
  expect(m.k.pgtable.ptep.ptepTestAndClearYoung(m.p, a + 3 * PAGE, ptep)).toBe(true);
  return { m, a, len };
}

describe('mprotect with erratum 2645198', () => {
  it('linux-6.12 (per PTE): ptep_clear_flush flushes every executable PTE, the old one too', () => {
    const { m, a, len } = setup('linux-6.12', []);
    const c = measure(m, () => expect(m.p.mprotect(a, len, PROT_READ)).toBe(0));
    expect(c.api['ptep_clear_flush']).toBe(16);
    expect(c.tlbiBySite).toEqual({ ptep_clear_flush: 16, tlb_end_vma: 1 });
    expect(c.tlbi).toEqual({ VALE1IS: 16, RVALE1IS: 1 });
    expect(m.p.tlbFlushPending).toBe(0);
    expect(c.bbm).toBe(0);
  });

  it('linux-7.2 (batched, a 64 KiB block): one range flush after get_and_clear_ptes', () => {
    const { m, a, len } = setup('linux-7.2', ['anon_mthp=64K']);
    const c = measure(m, () => expect(m.p.mprotect(a, len, PROT_READ)).toBe(0));
    expect(c.api['modify_prot_start_ptes']).toBe(1);
    expect(c.tlbiBySite).toEqual({ change_pte_range: 1, tlb_end_vma: 1 });
    expect(c.tlbi).toEqual({ RVALE1IS: 2 });
    expect(c.bbm).toBe(0);
  });
});
