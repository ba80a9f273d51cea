/**
 * will-it-scale page_fault3 (reference D.1) through the memory manager: a sparse 128 MiB ext4
 * file (ftruncate), mmap(MAP_SHARED, PROT_READ|PROT_WRITE), one byte written per 4 KiB page,
 * munmap; twice, the second time with the page cache kept, as the benchmark loop runs. The four
 * configurations of Kefeng Wang's June 2024 report (reference D.2), on the linux-6.9 profile:
 *   (1) page-cache large folios off;  (2) large folios, contpte on;
 *   (3) large folios, contpte off;    (4) large folios, contpte on, finish_fault maps the folio.
 *
 * Shared derivations (128 MiB = 32,768 pages = 64 PTE tables of 512 PTEs = 2,048 blocks of 64 KiB):
 * - Readahead (v6.9, ra_pages 32): the miss at page 0 reads around [0, 32) with the PG_readahead
 *   marker at 24; the fault at 24 starts the async window [32, 64) marked at 32; from then on
 *   every window is 32 pages, marked on its first page, and started by the fault on the previous
 *   window's marker. So the faults at 0, 24, 32, 64, ..., 32,736 run readahead and are retried
 *   once: 1 + 1 + 1,023 = 1,025 retries, 1 major fault, in the first pass; none in the second.
 * - With large folios the windows are built from folios of order 0+2 (read-around), then the
 *   marker folio's order + 2, capped by log2(window): [0,32) is 8 order-2 folios, [32,64) 2
 *   order-4 folios, and every later window one order-5 folio: 8 + 2 + 1,022 = 1,032 folios.
 * - munmap: zap_pte_range runs once per PMD. Every page is a dirty file page, so each of the 64
 *   calls ends with a forced flush of its 512 pages: 64 x RVALE1IS (scale 1, NUM 7). free_pgtables
 *   frees the 64 PTE tables (the neighbour mapping keeps the PMD table), and tlb_finish_mmu
 *   flushes the whole range at PMD stride, non-last-level: 1 x RVAE1IS (32,768 pages: scale 2,
 *   NUM 15). Every PTE is cleared once: 32,768 PTE writes, whatever the folio structure.
 */
import { describe, expect, it } from 'vitest';
import { folioRuns, machine, measure, mmapShared, MiB, sparseFile, writePages, type Counts } from './helpers.js';

const SIZE = 128 * MiB;
const PAGES = SIZE / 4096;

interface Pass {
  map: Counts;
  unmap: Counts;
}

function pageFault3(sets: string[]): { passes: Pass[]; folios: string } {
  const m = machine('linux-6.9', sets, 512);
  const file = sparseFile(m, 'ext4', SIZE);
  const passes: Pass[] = [];
  for (let i = 0; i < 2; i++) {
    let a = 0;
    const map = measure(m, () => {
      a = mmapShared(m, file, SIZE);
      writePages(m, a, SIZE);
    });
    expect(a % (2 * MiB)).toBe(0);
    const unmap = measure(m, () => expect(m.p.munmap(a, SIZE)).toBe(0));
    passes.push({ map, unmap });
  }
  return { passes, folios: folioRuns(file) };
}

/** What every configuration's munmap does (see the header). */
function expectMunmap(u: Counts, getAndClearCalls: number): void {
  expect(u.faults).toBe(0);
  expect(u.pteWrites).toBe(PAGES);
  expect(u.converts).toBe(0);
  expect(u.tlbi).toEqual({ RVALE1IS: 64, RVAE1IS: 1 });
  expect(u.tlbiBySite).toEqual({ zap_pte_range: 64, tlb_finish_mmu: 1 });
  // DSB ISHST + DSB ISH around each of the 65 flushes.
  expect(u.dsb).toBe(130);
  expect(u.bbm).toBe(0);
  expect(u.contig).toBe(0);
  // One call per run of a folio's PTEs (folio_pte_batch).
  expect(u.api).toEqual({ get_and_clear_full_ptes: getAndClearCalls });
}

describe('page_fault3 on 128 MiB, the four configurations of the 2024 report (linux-6.9)', () => {
  it('(1) large folios off: one fault and one PTE write per page, no fold, no TLBI until munmap', () => {
    const { passes, folios } = pageFault3(['file_large_folios=off']);
    expect(folios).toBe(`o0x${PAGES}`);
    for (const [i, { map, unmap }] of passes.entries()) {
      expect(map.faults).toBe(PAGES);
      expect(map.byPath).toEqual({ do_shared_fault: PAGES });
      expect(map.retries).toBe(i === 0 ? 1025 : 0);
      expect(map.major).toBe(i === 0 ? 1 : 0);
      expect(map.pteWrites).toBe(PAGES);
      expect(map.setPtesByNr).toEqual({ 1: PAGES });
      expect([map.folds, map.unfolds, map.converts, map.tlbiTotal]).toEqual([0, 0, 0, 0]);
      // The "Other" line of the observations: order-0 folios at aligned frames are tried, not
      // folded. A fold is tried at VA index 15 (mod 16) when the pfn is 15 (mod 16) too. The
      // pool starts 16-aligned; pgd, pud, pmd and the first PTE table take pfns +0..+3, so page
      // i sits at pfn +4+i until the next PTE table: the one for PMD r is allocated at the
      // fault on page 512r, after the window [512r, 512r+32) was read, which shifts later pages
      // by one. Pages 512r+32.. sit at +4+r+i: aligned when r = 12, 28, 44, 60 (30 attempts
      // each); pages 512r..512r+31 at +3+r+i: aligned when r = 13, 29, 45, 61 (2 each).
      // 4 x 30 + 4 x 2 = 128, in both passes (the page cache keeps its frames).
      expect(map.foldAttempts).toBe(128);
      expect(map.bbm).toBe(0);
      expectMunmap(unmap, PAGES);
    }
  });

  it('(2) large folios, contpte on: every 64 KiB block of a large folio folds on its 16th write fault', () => {
    const { passes, folios } = pageFault3([]);
    expect(folios).toBe('o2x8 o4x2 o5x1022');
    for (const [i, { map, unmap }] of passes.entries()) {
      expect(map.faults).toBe(PAGES);
      expect(map.retries).toBe(i === 0 ? 1025 : 0);
      // finish_fault maps one page per fault (v6.9): set_ptes(nr=1) each time. Of the 2,048
      // blocks, the 2 in [0, 32) hold order-2 folios and cannot fold (their page 15 and 31 sit
      // at pfns 3 mod 16, so not even an attempt); the other 2,046 lie inside order-4/5 folios,
      // naturally aligned in VA and PA, and fold when their 16th PTE is written:
      // contpte_convert clears 16 PTEs, flushes 64 KiB (16 pages: scale 0, NUM 7, one
      // RVALE1IS) and writes 16 contiguous PTEs.
      expect(map.foldAttempts).toBe(2046);
      expect(map.folds).toBe(2046);
      expect(map.converts).toBe(2046);
      expect(map.unfolds).toBe(0);
      expect(map.tlbi).toEqual({ RVALE1IS: 2046 });
      expect(map.tlbiBySite).toEqual({ contpte_convert: 2046 });
      // 32,768 set_ptes writes + 2,046 x (16 clears + 16 sets).
      expect(map.pteWrites).toBe(PAGES + 2046 * 32);
      expect(map.setPtesByNr).toEqual({ 1: PAGES });
      expect(map.bbm).toBe(0);
      expect(map.contig).toBe(0);
      // Each folio's PTEs go in one get_and_clear_full_ptes: whole blocks without an unfold.
      expectMunmap(unmap, 1032);
    }
  });

  it('(3) large folios, contpte off: the same faults, nothing folds, no TLBI until munmap', () => {
    const { passes, folios } = pageFault3(['contpte=off']);
    expect(folios).toBe('o2x8 o4x2 o5x1022');
    for (const [i, { map, unmap }] of passes.entries()) {
      expect(map.faults).toBe(PAGES);
      expect(map.retries).toBe(i === 0 ? 1025 : 0);
      expect(map.pteWrites).toBe(PAGES);
      expect([map.foldAttempts, map.folds, map.converts, map.tlbiTotal, map.contpteSetPtes]).toEqual([0, 0, 0, 0, 0]);
      expect(map.bbm).toBe(0);
      expectMunmap(unmap, 1032);
    }
  });

  it('(4) large folios, contpte, finish_fault maps the whole folio: one fault per folio, contiguous at once', () => {
    const { passes, folios } = pageFault3(['finish_fault=folio']);
    expect(folios).toBe('o2x8 o4x2 o5x1022');
    for (const [i, { map, unmap }] of passes.entries()) {
      // One fault per folio (the first write to it); the readahead faults are each the first
      // write to a folio (0, 24, 32, 64, ...), so the retries are the same 1,025.
      expect(map.faults).toBe(1032);
      expect(map.retries).toBe(i === 0 ? 1025 : 0);
      // One set_ptes(nr = folio size) per fault: contpte_set_ptes writes each aligned 64 KiB
      // chunk contiguous straight away; order-2 folios are too small for a block.
      expect(map.setPtesByNr).toEqual({ 4: 8, 16: 2, 32: 1022 });
      expect(map.contpteSetPtes).toBe(1032);
      expect(map.pteWrites).toBe(PAGES);
      expect([map.foldAttempts, map.folds, map.converts, map.tlbiTotal]).toEqual([0, 0, 0, 0]);
      expect(map.bbm).toBe(0);
      expect(map.contig).toBe(0);
      expectMunmap(unmap, 1032);
    }
  });
});
