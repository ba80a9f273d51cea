/**
 * munmap details beyond the observations: a range that splits contiguous blocks (partial blocks
 * are unfolded by get_and_clear/clear_full_ptes, whole ones are not), page tables kept when a
 * neighbour still uses them, the gather's page batches forcing a flush in the middle of a PMD,
 * and exit_mmap's full-mm gather.
 */
import { describe, expect, it } from 'vitest';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/index.js';
import { pteCont, pteNone } from '../../src/pgtable/pte.js';
import { alignedHint, KiB, machine, measure, MiB, PAGE, writePages, type Machine } from './helpers.js';

function anon(m: Machine, len: number): number {
  const a = m.p.mmap({ addr: alignedHint(m, len), len, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS, file: null, pgoff: 0 });
  expect(a % (2 * MiB)).toBe(0);
  return a;
}

function raw(m: Machine, va: number) {
  return m.k.pgtable.raw.__ptepGet(m.k.pgtable.tables.pteOffsetMap(m.p, va)!);
}

describe('munmap of a range that splits contiguous blocks', () => {
  for (const [lpa2, endVmaTlbis] of [
    // The tlb_end_vma flush covers pages 8..23 (16 pages from a 32 KiB boundary). With LPA2,
    // range operands need a 64 KiB-aligned start: 8 single ops, then one range op for 8 pages.
    ['on', { VALE1IS: 8, RVALE1IS: 1 }],
    // Without LPA2: one range op (scale 0, NUM 7).
    ['off', { RVALE1IS: 1 }],
  ] as const) {
    it(`unfolds only the two partial blocks (lpa2=${lpa2})`, () => {
      const m = machine('linux-6.12', ['anon_mthp=64K', `lpa2=${lpa2}`]);
      const a = anon(m, 2 * MiB);
      writePages(m, a, 192 * KiB);
      const c = measure(m, () => expect(m.p.munmap(a + 8 * PAGE, 16 * PAGE)).toBe(0));
      // Folio 0 loses pages 8-15: clear_full_ptes(8) starts mid-block, so contpte_try_unfold_partial
      // unfolds block 0. Folio 1 loses pages 16-23: 8 < 16 PTEs, so block 1 is unfolded too.
      // Each unfold is a contpte_convert (16 clears, one RVALE1IS, 16 writes); then 16 clears.
      expect(c.unfolds).toBe(2);
      expect(c.folds).toBe(0);
      expect(c.pteWrites).toBe(2 * 32 + 16);
      const converts = { RVALE1IS: 2 };
      const total: Record<string, number> = { ...endVmaTlbis };
      total['RVALE1IS'] = (total['RVALE1IS'] ?? 0) + converts.RVALE1IS;
      expect(c.tlbi).toEqual(total);
      expect(c.tlbiBySite['contpte_convert']).toBe(2);
      // The PTE table is still used by both remaining parts: not freed, no table flush.
      expect(c.tlbiBySite['tlb_finish_mmu']).toBeUndefined();
      expect(m.p.vmas.intersecting(a, a + 2 * MiB).map((v) => [v.start - a, v.end - a])).toEqual([
        [0, 8 * PAGE],
        [24 * PAGE, 2 * MiB],
      ]);
      expect(pteCont(raw(m, a))).toBe(false);
      expect(pteNone(raw(m, a + 8 * PAGE))).toBe(true);
      expect(pteCont(raw(m, a + 24 * PAGE))).toBe(false);
      expect(pteCont(raw(m, a + 32 * PAGE))).toBe(true);
      expect([c.bbm, c.contig]).toEqual([0, 0]);
    });
  }
});

describe('the gather page batches', () => {
  it('a 64 MiB anonymous munmap overflows them: forced flushes in the middle of a PMD', () => {
    const m = machine('linux-6.12');
    const a = anon(m, 64 * MiB);
    writePages(m, a, 64 * MiB);
    const c = measure(m, () => expect(m.p.munmap(a, 64 * MiB)).toBe(0));
    // The local batch holds 7 pages before it asks for another; each extra batch 509; at most 19
    // extra: 7 + 19 x 509 = 9,678 pages, then zap_pte_range breaks out, flushes what it gathered
    // and resumes. Of 16,384 pages, it flushes after 9,678 (in PMD 18, at its page 462); the
    // rest fit the batches again.
    expect(m.k.mmStats.zap_batch_force_flushes).toBe(1);
    // The forced flush covers 9,678 pages from a 2 MiB boundary: one range op per non-zero
    // digit of 9,678 = 4 x 2,048 + 23 x 64 + 7 x 2 (scales 2, 1, 0): 3 x RVALE1IS. tlb_end_vma
    // covers the other 6,706 from page 9,678, 2 pages short of a 64 KiB boundary: with LPA2,
    // 2 single ops first, then 6,704 = 3 x 2,048 + 8 x 64 + 24 x 2: 3 x RVALE1IS. The 32 PTE
    // tables go and tlb_finish_mmu flushes 64 MiB at PMD stride: 1 x RVAE1IS.
    expect(c.tlbi).toEqual({ RVALE1IS: 6, VALE1IS: 2, RVAE1IS: 1 });
    expect(c.tlbiBySite).toEqual({ zap_pte_range: 3, tlb_end_vma: 5, tlb_finish_mmu: 1 });
    expect(c.bbm).toBe(0);
  });

  it('dirty file pages allow only one extra batch: 516 pages per flush, one flush per PMD', () => {
    // (page_fault3's munmap: 512 order-0 pages per PMD fit, see page-fault3.test.ts.)
    const m = machine('linux-6.12');
    const f = m.k.newInode({ fsType: 'tmpfs' });
    m.k.truncate(f, 2 * MiB);
    const a = m.p.mmap({ addr: alignedHint(m, 2 * MiB), len: 2 * MiB, prot: PROT_READ | PROT_WRITE, flags: 1, file: f, fileWritable: true, pgoff: 0 });
    writePages(m, a, 2 * MiB);
    const c = measure(m, () => m.p.munmap(a, 2 * MiB));
    expect(m.k.mmStats.zap_batch_force_flushes).toBe(0);
    expect(m.k.mmStats.zap_dirty_force_flushes).toBe(1);
    expect(c.tlbi).toEqual({ RVALE1IS: 1, RVAE1IS: 1 });
  });
});

describe('exit_mmap', () => {
  it('zaps everything under a full-mm gather: no per-range TLBIs, one ASIDE1IS for the freed tables, every page back', () => {
    const m = machine('linux-6.12', ['anon_mthp=64K']);
    const a = anon(m, 4 * MiB);
    writePages(m, a, 4 * MiB);
    const f = m.k.newInode({ fsType: 'tmpfs' });
    m.k.truncate(f, 1 * MiB);
    const b = m.p.mmap({ addr: 0, len: 1 * MiB, prot: PROT_READ | PROT_WRITE, flags: 1, file: f, fileWritable: true, pgoff: 0 });
    writePages(m, b, 1 * MiB);
    const c = measure(m, () => m.p.exitMmap());
    // Dirty shared pages still force flushes per PMD, but a full-mm tlb_flush issues nothing
    // until page tables are freed; then flush_tlb_mm once.
    expect(c.tlbi).toEqual({ ASIDE1IS: 1 });
    expect(c.tlbiBySite).toEqual({ tlb_finish_mmu: 1 });
    expect([c.converts, c.bbm]).toEqual([0, 0]);
    expect(m.p.vmas.count).toBe(0);
    // Only the tmpfs file's page cache (256 pages) remains allocated.
    expect(m.k.buddy.allocatedPages).toBe(256);
    expect(m.k.pgtable.tables.pages).toEqual([0, 0, 0, 0]);
    expect(() => m.p.munmap(a, PAGE)).toThrow(/torn down/);
    void KiB;
  });
});
