/**
 * Every line of the real-kernel observations (Debian 6.12.117 and 7.2.13 under QEMU -cpu max,
 * docs/kernel-notes.md §2 and §11), reproduced with the defaults of the profile it names on
 * 16 MiB, 2 MiB-aligned regions, set up as the measuring program did: tmpfs and ext4 files made
 * with mkstemp and unlinked at once, ftruncate'd to 16 MiB, mapped MAP_SHARED ten times in a row.
 * Only the knob a line itself names (the 64 KiB mTHP size) is set.
 */
import { describe, expect, it } from 'vitest';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/mm/index.js';
import { alignedHint, counts, folioRuns, KiB, machine, markers, measure, mmapShared, MiB, PAGE, sparseFile, writePages, type Counts, type Machine } from './helpers.js';

/** The counters that moved between two snapshots (plain numbers and tallies). */
function diffCounts(after: Counts, before: Counts): Counts {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(after)) {
    const b = (before as unknown as Record<string, unknown>)[k];
    if (typeof v === 'number') out[k] = v - (b as number);
    else {
      const t: Record<string, number> = {};
      for (const [kk, vv] of Object.entries(v as Record<string, number>)) {
        const d = vv - ((b as Record<string, number>)[kk] ?? 0);
        if (d !== 0) t[kk] = d;
      }
      out[k] = t;
    }
  }
  return out as unknown as Counts;
}

const SIZE = 16 * MiB;
const PAGES = SIZE / PAGE;
const KERNELS = ['linux-6.12', 'linux-7.2'] as const;

function anonRegion(m: Machine, len = SIZE, shared = false): number {
  const a = m.p.mmap({ addr: alignedHint(m, len), len, prot: PROT_READ | PROT_WRITE, flags: (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, file: null, pgoff: 0 });
  expect(a % (2 * MiB)).toBe(0);
  return a;
}

/** The measuring program's file: created, unlinked at once (link count 0 when mapped), ftruncate'd. */
function mapUnlinked(m: Machine, file: ReturnType<typeof sparseFile>, len = SIZE): number {
  const a = m.p.mmap({ addr: alignedHint(m, len), len, prot: PROT_READ | PROT_WRITE, flags: MAP_SHARED, file, fileWritable: true, pgoff: 0, fileNlink: 0 });
  expect(a % (2 * MiB)).toBe(0);
  return a;
}

function fileRegion(m: Machine, fs: 'ext4' | 'tmpfs') {
  const file = sparseFile(m, fs, SIZE);
  return { file, a: mapUnlinked(m, file) };
}

describe('faults', () => {
  for (const kernel of KERNELS) {
    it(`${kernel}: anonymous private memory, no mTHP: one fault per 4 KiB page`, () => {
      const m = machine(kernel);
      const a = anonRegion(m);
      const c = measure(m, () => writePages(m, a, SIZE));
      expect(c.faults).toBe(PAGES);
      expect(c.byPath).toEqual({ do_anonymous_page: PAGES });
      expect(c.setPtesByNr).toEqual({ 1: PAGES });
      expect([c.folds, c.converts, c.tlbiTotal, c.bbm]).toEqual([0, 0, 0, 0]);
    });

    it(`${kernel}: anonymous memory with 64 KiB mTHP: one fault per 64 KiB, contiguous at fault time, no TLBI`, () => {
      const m = machine(kernel, ['anon_mthp=64K']);
      const a = anonRegion(m);
      const c = measure(m, () => writePages(m, a, SIZE));
      // alloc_anon_folio takes order 4 (the aligned 16 PTEs are none); set_ptes(16) writes one
      // aligned block contiguous through contpte_set_ptes, which never converts or flushes.
      expect(c.faults).toBe(PAGES / 16);
      expect(c.contpteSetPtes).toBe(PAGES / 16);
      expect(c.setPtesByNr).toEqual({ 16: PAGES / 16 });
      expect([c.folds, c.converts, c.tlbiTotal, c.bbm, c.contig]).toEqual([0, 0, 0, 0, 0]);
      expect(m.k.mmStats.anon_folios_by_order).toEqual({ 4: 256 });
    });

    it(`${kernel}: tmpfs file, shared, written page by page, default shmem: 4 KiB folios, one fault per page`, () => {
      const m = machine(kernel);
      const { file, a } = fileRegion(m, 'tmpfs');
      const c = measure(m, () => writePages(m, a, SIZE));
      expect(c.faults).toBe(PAGES);
      expect(c.retries).toBe(0); // shmem has no readahead
      expect(folioRuns(file)).toBe(`o0x${PAGES}`);
      expect([c.folds, c.tlbiTotal, c.bbm]).toEqual([0, 0, 0]);
    });
  }

  for (const kernel of KERNELS) {
    it(`${kernel}: tmpfs with 64 KiB shmem mTHP: one fault per 64 KiB, whole folio at the first write, no fold, no TLBI`, () => {
      const m = machine(kernel, ['shmem_mthp=64K']);
      const { file, a } = fileRegion(m, 'tmpfs');
      const c = measure(m, () => writePages(m, a, SIZE));
      // The unlinked file's mapping is anonymous shmem (shmem_mmap), so the per-size knob reaches
      // it: shmem_fault allocates an order-4 folio at the aligned index, and finish_fault maps the
      // whole folio (6.12: vma_is_anon_shmem; 7.2: any file folio) with one contpte_set_ptes.
      expect(c.faults).toBe(PAGES / 16);
      expect(c.byPath).toEqual({ do_shared_fault: PAGES / 16 });
      expect(c.contpteSetPtes).toBe(PAGES / 16);
      expect(folioRuns(file)).toBe(`o4x${PAGES / 16}`);
      expect(m.k.mmStats.shmem_folios_by_order).toEqual({ 4: 256 });
      expect([c.folds, c.converts, c.tlbiTotal, c.bbm, c.contig]).toEqual([0, 0, 0, 0, 0]);
    });

    it(`${kernel}: a linked tmpfs file with 64 KiB shmem mTHP gets 4 KiB folios (the mount's huge=never decides)`, () => {
      const m = machine(kernel, ['shmem_mthp=64K']);
      const file = sparseFile(m, 'tmpfs', SIZE);
      const a = mmapShared(m, file, SIZE, alignedHint(m, SIZE));
      const c = measure(m, () => writePages(m, a, SIZE));
      expect(c.faults).toBe(PAGES);
      expect(folioRuns(file)).toBe(`o0x${PAGES}`);
      expect([c.contpteSetPtes, c.folds, c.tlbiTotal]).toEqual([0, 0, 0]);
    });
  }

  describe('the shmem_mthp_scope=all knob (no kernel does this): the per-size knob applied to every tmpfs mapping', () => {
    it('with finish_fault=shmem_folio a linked file behaves like an unlinked one', () => {
      const m = machine('linux-6.12', ['shmem_mthp=64K', 'shmem_mthp_scope=all', 'finish_fault=shmem_folio']);
      const file = sparseFile(m, 'tmpfs', SIZE);
      const a = mmapShared(m, file, SIZE, alignedHint(m, SIZE));
      const c = measure(m, () => writePages(m, a, SIZE));
      expect(folioRuns(file)).toBe('o4x256');
      expect(c.faults).toBe(256);
      expect(c.contpteSetPtes).toBe(256);
      expect([c.folds, c.tlbiTotal, c.bbm]).toEqual([0, 0, 0]);
    });

    it('alone, on 6.12: 64 KiB folios mapped page by page, each block folding on its 16th write', () => {
      const m = machine('linux-6.12', ['shmem_mthp=64K', 'shmem_mthp_scope=all']);
      const file = sparseFile(m, 'tmpfs', SIZE);
      const a = mmapShared(m, file, SIZE, alignedHint(m, SIZE));
      const c = measure(m, () => writePages(m, a, SIZE));
      expect(folioRuns(file)).toBe('o4x256');
      expect(c.faults).toBe(PAGES);
      expect(c.folds).toBe(256);
      expect(c.tlbi).toEqual({ RVALE1IS: 256 });
    });
  });

  it('linux-6.12: ext4 page cache uses 4 KiB folios only, one fault per page', () => {
    const m = machine('linux-6.12');
    const { file, a } = fileRegion(m, 'ext4');
    const c = measure(m, () => writePages(m, a, SIZE));
    expect(c.faults).toBe(PAGES);
    expect(folioRuns(file)).toBe(`o0x${PAGES}`);
    // Readahead still runs (order 0): the miss at 0, the marker at 24, then every 32-page window.
    expect(c.retries).toBe(1 + 1 + 127);
    expect([c.contpteSetPtes, c.folds, c.tlbiTotal, c.bbm]).toEqual([0, 0, 0, 0]);
  });

  describe('linux-7.2 ext4: 25,600 faults and 5,120 contpte_set_ptes for 40,960 pages, no contpte_convert', () => {
    it('one 16 MiB file mapped and written ten times: the 8 MiB window of the virtio-blk disk gives 2,048 + 512 faults per pass', () => {
      const m = machine('linux-7.2');
      const file = sparseFile(m, 'ext4', SIZE);
      const passes: Counts[] = [];
      const all = measure(m, () => {
        for (let it = 0; it < 10; it++) {
          const before = counts(m);
          const a = mapUnlinked(m, file);
          writePages(m, a, SIZE);
          expect(m.p.munmap(a, SIZE)).toBe(0);
          passes.push(diffCounts(counts(m), before));
        }
      });
      // read_ahead_kb = 2 x max_sectors_kb = 8 MiB (blk_apply_bdi_limits, 7.2): the miss at 0
      // reads around [0, 2048) at order 0 (marker at 1536); the marker starts the async window
      // [2048, 4096) at order 2, which reaches EOF and so carries no marker. finish_fault maps
      // whole folios: 2,048 one-page faults and 512 four-page ones (too small for a block).
      expect(folioRuns(file)).toBe('o0x2048 o2x512');
      expect(markers(file)).toEqual([]);
      expect(all.faults).toBe(25_600);
      expect(all.contpteSetPtes).toBe(5_120);
      expect(all.setPtesByNr).toEqual({ 1: 20_480, 4: 5_120 });
      // The page cache is kept between passes: only the first reads (two readahead faults).
      expect(passes.map((p) => p.retries)).toEqual([2, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
      expect([all.converts, all.folds, all.bbm]).toEqual([0, 0, 0]);
    });

    it('ra_kb=128 (the 6.12 window) gives what the 7.2 algorithm does with 32 pages instead: 167 faults and 135 contpte_set_ptes per pass', () => {
      const m = machine('linux-7.2', ['ra_kb=128']);
      const file = sparseFile(m, 'ext4', SIZE);
      const passes = [0, 1].map(() =>
        measure(m, () => {
          const a = mapUnlinked(m, file);
          writePages(m, a, SIZE);
          m.p.munmap(a, SIZE);
        }),
      );
      // [0,32) order 0, [32,64) order 2, [64,96) order 4, then one order-5 folio per window.
      expect(folioRuns(file)).toBe('o0x32 o2x8 o4x2 o5x125');
      for (const [i, c] of passes.entries()) {
        expect(c.faults).toBe(167);
        expect(c.contpteSetPtes).toBe(135);
        expect(c.setPtesByNr).toEqual({ 1: 32, 4: 8, 16: 2, 32: 125 });
        expect(c.retries).toBe(i === 0 ? 128 : 0);
      }
    });
  });
});

describe('munmap', () => {
  for (const kernel of KERNELS) {
    for (const fs of ['tmpfs', 'ext4'] as const) {
      it(`${kernel}: a fully written shared ${fs} mapping of 16 MiB: 8 x RVALE1IS during the zap, then 1 x RVAE1IS`, () => {
        const m = machine(kernel);
        const { a } = fileRegion(m, fs);
        writePages(m, a, SIZE);
        const c = measure(m, () => expect(m.p.munmap(a, SIZE)).toBe(0));
        // Dirty file pages delay their rmap removal, so each zap_pte_range (one per PMD) flushes
        // its 512 pages before dropping the lock; free_pgtables then frees the 8 PTE tables and
        // tlb_finish_mmu flushes 16 MiB at PMD stride, non-last-level (4,096 pages: scale 2, NUM 1).
        expect(c.tlbi).toEqual({ RVALE1IS: 8, RVAE1IS: 1 });
        expect(c.tlbiBySite).toEqual({ zap_pte_range: 8, tlb_finish_mmu: 1 });
        expect(c.bbm).toBe(0);
      });
    }

    it(`${kernel}: a fully written anonymous mapping of 16 MiB: 1 x RVALE1IS and 1 x RVAE1IS`, () => {
      const m = machine(kernel);
      const a = anonRegion(m);
      writePages(m, a, SIZE);
      const c = measure(m, () => expect(m.p.munmap(a, SIZE)).toBe(0));
      // Nothing forces a flush during the zap (4,096 order-0 pages fit the gather's batches), so
      // tlb_end_vma flushes the VMA once, last-level, then the table flush.
      expect(c.tlbi).toEqual({ RVALE1IS: 1, RVAE1IS: 1 });
      expect(c.tlbiBySite).toEqual({ tlb_end_vma: 1, tlb_finish_mmu: 1 });
      expect(c.bbm).toBe(0);
    });
  }
});

describe('mprotect on one 4 KiB page (PROT_READ, then back to PROT_READ|PROT_WRITE)', () => {
  for (const kernel of KERNELS) {
    it(`${kernel}: without contiguous entries, exactly 1 x VALE1IS per call`, () => {
      const m = machine(kernel);
      const a = anonRegion(m, 2 * MiB);
      writePages(m, a, 64 * KiB);
      for (let i = 0; i < 3; i++) {
        for (const prot of [PROT_READ, PROT_READ | PROT_WRITE]) {
          const c = measure(m, () => expect(m.p.mprotect(a + 15 * PAGE, PAGE, prot)).toBe(0));
          expect(c.tlbi).toEqual({ VALE1IS: 1 });
          expect(c.tlbiBySite).toEqual({ tlb_end_vma: 1 });
          expect(c.converts).toBe(0);
          expect(c.bbm).toBe(0);
        }
      }
    });

    for (const kind of ['anonymous', 'tmpfs'] as const) {
      const setup = (): { m: Machine; a: number } => {
        const m = machine(kernel, kind === 'anonymous' ? ['anon_mthp=64K'] : ['shmem_mthp=64K']);
        const a = kind === 'anonymous' ? anonRegion(m, 2 * MiB) : mapUnlinked(m, sparseFile(m, 'tmpfs', 2 * MiB), 2 * MiB);
        writePages(m, a, 64 * KiB);
        return { m, a };
      };

      it(`${kernel}: page 15 of a contiguous 64 KiB ${kind} folio: 2 converts and 4 TLBIs per pair, every time`, () => {
        const { m, a } = setup();
        for (let i = 0; i < 3; i++) {
          // PROT_READ: ptep_modify_prot_start on a contiguous PTE unfolds the block (one convert,
          // one RVALE1IS); the commit at index 15 tries to fold but 15 now differs from 0-14.
          const ro = measure(m, () => expect(m.p.mprotect(a + 15 * PAGE, PAGE, PROT_READ)).toBe(0));
          expect([ro.unfolds, ro.folds]).toEqual([1, 0]);
          expect(ro.tlbi).toEqual({ RVALE1IS: 1, VALE1IS: 1 });
          expect(ro.tlbiBySite).toEqual({ contpte_convert: 1, tlb_end_vma: 1 });
          // Restore: committing the block's last PTE makes all 16 equal again: fold.
          const rw = measure(m, () => expect(m.p.mprotect(a + 15 * PAGE, PAGE, PROT_READ | PROT_WRITE)).toBe(0));
          expect([rw.unfolds, rw.folds]).toEqual([0, 1]);
          expect(rw.tlbi).toEqual({ RVALE1IS: 1, VALE1IS: 1 });
          // Each contpte_convert costs exactly one RVALE1IS.
          expect(ro.converts + rw.converts).toBe(2);
          expect(ro.bbm + rw.bbm + ro.contig + rw.contig).toBe(0);
        }
      });

      it(`${kernel}: page 0 of a contiguous 64 KiB ${kind} folio: the first PROT_READ unfolds, nothing refolds, then 1 x VALE1IS per call`, () => {
        const { m, a } = setup();
        for (let i = 0; i < 3; i++) {
          const ro = measure(m, () => expect(m.p.mprotect(a, PAGE, PROT_READ)).toBe(0));
          const rw = measure(m, () => expect(m.p.mprotect(a, PAGE, PROT_READ | PROT_WRITE)).toBe(0));
          expect(ro.tlbi).toEqual(i === 0 ? { RVALE1IS: 1, VALE1IS: 1 } : { VALE1IS: 1 });
          expect(ro.converts).toBe(i === 0 ? 1 : 0);
          // Folding is tried only on a block's last entry, never when page 0 is written.
          expect(rw.tlbi).toEqual({ VALE1IS: 1 });
          expect([rw.converts, rw.foldAttempts]).toEqual([0, 0]);
          expect(ro.bbm + rw.bbm).toBe(0);
        }
      });
    }
  }
});

describe('other', () => {
  it('__contpte_try_fold is entered and gives up when order-0 folios sit at aligned frames: attempts, not folds', () => {
    // 48 MiB written page by page: the PTE table of PMD r is allocated just before its first
    // page, so page i of PMD r sits at pfn base + 4 + r + i (pgd, pud, pmd, first PTE table take
    // the first four). An attempt needs VA index and pfn both 15 mod 16: r = 12 only, 32 times.
    const m = machine('linux-6.12');
    const a = anonRegion(m, 48 * MiB);
    const c = measure(m, () => writePages(m, a, 48 * MiB));
    expect(c.foldAttempts).toBe(32);
    expect([c.folds, c.converts, c.tlbiTotal]).toEqual([0, 0, 0]);
  });
});
