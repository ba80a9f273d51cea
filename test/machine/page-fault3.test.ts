/**
 * page_fault3 through the whole emulator, under the four configurations of the June 2024 report,
 * gives exactly the counts the memory manager gives when the same pattern is played through its
 * own API (test/mm/page-fault3.test.ts derives those numbers): the firmware's markers bracket two
 * iterations (mmap, one store per 4 KiB page, munmap) of a sparse 128 MiB ext4 file.
 *
 * The derivation, per iteration (128 MiB = 32,768 pages = 2,048 blocks of 64 KiB):
 * (1) large folios off: 32,768 faults, one PTE write each; munmap clears 32,768 PTEs with
 *     64 x RVALE1IS (one forced flush per PTE table of dirty file pages) and 1 x RVAE1IS.
 * (2) large folios + contpte: the same faults, but every 64 KiB block of a large folio folds on
 *     its 16th write fault: 2,048 blocks minus the 2 of the first readahead window (order-2
 *     folios) = 2,046 folds, each a contpte_convert with 1 x RVALE1IS and 32 more PTE writes.
 * (3) large folios, contpte off: as (1).
 * (4) large folios + contpte + finish_fault mapping the whole folio: one fault per folio
 *     (8 + 2 + 1,022 = 1,032), each folio written in one set_ptes: contiguous at once, no fold.
 */
import { describe, expect, it } from 'vitest';
import { mmapShared, machine, measure, MiB, sparseFile, writePages, type Counts } from '../mm/helpers.js';
import { firmwareBinary } from '../firmware/cases.js';
import { runCaptured } from './helpers.js';

const SIZE = 128 * MiB;
const PAGES = SIZE / 4096;

const CONFIGS: [string, string[]][] = [
  ['(1) large folios off', ['file_large_folios=off']],
  ['(2) large folios, contpte on', ['file_large_folios=on']],
  ['(3) large folios, contpte off', ['file_large_folios=on', 'contpte=off']],
  ['(4) large folios, contpte on, finish_fault maps the folio', ['file_large_folios=on', 'finish_fault=folio']],
];

/** The same two iterations through the memory manager's API. */
function throughMm(sets: string[]): Counts[] {
  const m = machine('linux-6.9', sets, 512);
  const file = sparseFile(m, 'ext4', SIZE);
  const out: Counts[] = [];
  for (let i = 0; i < 2; i++) {
    let a = 0;
    out.push(
      measure(m, () => {
        a = mmapShared(m, file, SIZE);
        writePages(m, a, SIZE);
        expect(m.p.munmap(a, SIZE)).toBe(0);
      }),
    );
  }
  return out;
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
function sumTally(ts: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of ts) for (const [k, v] of Object.entries(t)) out[k] = (out[k] ?? 0) + v;
  return out;
}

describe('page_fault3 128 MiB x 2 under contpte-lab run = the memory manager alone (linux-6.9)', () => {
  for (const [name, sets] of CONFIGS) {
    it(name, async () => {
      const run = await runCaptured({ elf: firmwareBinary('page_fault3'), args: ['128M', '2'], profile: 'linux-6.9', sets, stdout: () => {} });
      expect(run.end.exitCode).toBe(0);
      const dump = run.summary.dumps.at(-1)!;
      expect(dump.ops).toBe(2 * PAGES);
      const c = dump.counts;
      const mm = throughMm(sets);
      expect(c.faults.total).toBe(sum(mm.map((x) => x.faults)));
      expect(c.pte_writes).toBe(sum(mm.map((x) => x.pteWrites)));
      expect(c.folds).toBe(sum(mm.map((x) => x.folds)));
      expect(c.unfolds).toBe(sum(mm.map((x) => x.unfolds)));
      expect(c.contpte_convert).toBe(sum(mm.map((x) => x.converts)));
      expect(c.fold_attempts).toBe(sum(mm.map((x) => x.foldAttempts)));
      expect(c.tlbi.by_op).toEqual(sumTally(mm.map((x) => x.tlbi)));
      expect(c.tlbi.by_site).toEqual(sumTally(mm.map((x) => x.tlbiBySite)));
      // DSBs: per iteration, one DSB ISHST per PTE table allocated by the faults (set_pmd of a
      // valid entry: 64), a DSB ISHST + DSB ISH around every flush (65 at munmap, one per convert).
      // (The mm-only run also allocates the PUD and PMD tables once: 2 more there.)
      expect(c.dsb).toBe(2 * (64 + 2 * 65 + (2 * c.contpte_convert) / 2));
      expect(sum(mm.map((x) => x.dsb))).toBe(c.dsb + 2);
      expect(c.bbm_violations).toBe(0);
      expect(c.contig_violations).toBe(0);
      // And the headline figures of the derivation above.
      const perIteration = { faults: c.faults.total / 2, converts: c.contpte_convert / 2, tlbi: c.tlbi.total / 2 };
      switch (name[1]) {
        case '1':
        case '3':
          expect(perIteration).toEqual({ faults: PAGES, converts: 0, tlbi: 65 });
          break;
        case '2':
          expect(perIteration).toEqual({ faults: PAGES, converts: 2046, tlbi: 2046 + 65 });
          expect(c.tlbi.by_site['contpte_convert']).toBe(2 * 2046);
          break;
        case '4':
          expect(perIteration).toEqual({ faults: 1032, converts: 0, tlbi: 65 });
          break;
      }
    });
  }
});
