/**
 * PMD-mapped THP (huge-memory.ts): exact counts and TLBIs of the fault, zap, split, mprotect,
 * fork/COW and huge-zero paths, for 6.12 and 7.2 (thp_pmd=always unless said otherwise).
 */
import { describe, expect, it } from 'vitest';
import { MADV_HUGEPAGE } from '../../src/mm/api.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, type Process } from '../../src/mm/index.js';
import { filemapWrite } from '../../src/mm/pagecache.js';
import { pmdTransHuge } from '../../src/pgtable/pmd.js';
import { pteCont } from '../../src/pgtable/pte.js';
import { alignedHint, asProcess, folioRuns, machine, measure, MiB, mmapShared, PAGE, readPages, sparseFile, writePages, type Machine } from './helpers.js';

function anon(m: Machine, len: number): number {
  const a = m.p.mmap({ addr: alignedHint(m, len), len, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS, file: null, pgoff: 0 });
  expect(a % (2 * MiB)).toBe(0);
  return a;
}

function mmStat(m: Machine, key: string): number {
  return m.k.telemetry.stats.snapshot()['mm']![key] as number;
}

function pmdWrites(m: Machine): number {
  return m.k.telemetry.stats.snapshot()['pgtable']!['pmd_writes'] as number;
}

function isHuge(m: Machine, p: Process, va: number): boolean {
  const pmdp = m.k.pgtable.tables.pmdOffset(p, va);
  return pmdp !== undefined && pmdTransHuge(m.k.pgtable.pmd.pmdpGet(pmdp));
}

const PROFILES = ['linux-6.12', 'linux-7.2'] as const;

describe('anonymous PMD fault (do_huge_pmd_anonymous_page)', () => {
  for (const profile of PROFILES) {
    it(`${profile}: one fault and one PMD store per 2 MiB, no PTE, no TLBI; reads map the huge zero folio`, () => {
      const m = machine(profile, ['thp_pmd=always']);
      const a = anon(m, 4 * MiB);
      const w = measure(m, () => writePages(m, a, 2 * MiB));
      expect(w.faults).toBe(1);
      expect(w.byPath).toEqual({ do_huge_pmd_anonymous_page: 1 });
      expect(w.pteWrites).toBe(0);
      expect(pmdWrites(m)).toBe(1);
      expect(w.tlbiTotal).toBe(0);
      expect(w.bbm).toBe(0);
      expect(mmStat(m, 'thp_fault_alloc')).toBe(1);
      expect(isHuge(m, m.p, a)).toBe(true);
      // The deposited PTE table is allocated but not linked.
      expect(m.k.pmdDeposits.size).toBe(1);
      const r = measure(m, () => readPages(m, a + 2 * MiB, 2 * MiB));
      expect(r.faults).toBe(1);
      expect(mmStat(m, 'thp_zero_page_maps')).toBe(1);
      expect(mmStat(m, 'thp_fault_alloc')).toBe(0);
      expect(pmdWrites(m)).toBe(1);
      expect(r.tlbiTotal).toBe(0);
    });
  }

  it('madvise mode: only VM_HUGEPAGE VMAs get a PMD; never and VM_NOHUGEPAGE fall back to PTEs', () => {
    const m = machine('linux-6.12', ['thp_pmd=madvise']);
    const a = anon(m, 2 * MiB);
    expect(measure(m, () => writePages(m, a, PAGE)).byPath).toEqual({ do_anonymous_page: 1 });
    const b = anon(m, 2 * MiB);
    expect(m.p.madvise(b, 2 * MiB, MADV_HUGEPAGE)).toBe(0);
    expect(measure(m, () => writePages(m, b, PAGE)).byPath).toEqual({ do_huge_pmd_anonymous_page: 1 });
    const n = machine('linux-6.12');
    const c = anon(n, 2 * MiB);
    expect(n.p.madvise(c, 2 * MiB, MADV_HUGEPAGE)).toBe(0);
    expect(measure(n, () => writePages(n, c, PAGE)).byPath).toEqual({ do_anonymous_page: 1 });
  });

  it('a VMA that holds no aligned 2 MiB falls back (thp_vma_suitable_order)', () => {
    const m = machine('linux-6.12', ['thp_pmd=always']);
    const a = anon(m, 4 * MiB);
    expect(m.p.munmap(a, PAGE)).toBe(0);
    const c = measure(m, () => writePages(m, a + PAGE, PAGE));
    expect(c.byPath).toEqual({ do_anonymous_page: 1 });
    expect(measure(m, () => writePages(m, a + 2 * MiB, PAGE)).byPath).toEqual({ do_huge_pmd_anonymous_page: 1 });
  });
});

describe('zap and split', () => {
  for (const profile of PROFILES) {
    it(`${profile}: munmap of a whole huge PMD: one PMD clear, one last-level range TLBI at PMD stride (zap_huge_pmd)`, () => {
      const m = machine(profile, ['thp_pmd=always']);
      const a = anon(m, 2 * MiB);
      writePages(m, a, PAGE);
      const free0 = m.k.buddy.freePages;
      const c = measure(m, () => expect(m.p.munmap(a, 2 * MiB)).toBe(0));
      expect(pmdWrites(m)).toBe(1);
      expect(c.pteWrites).toBe(0);
      // __flush_tlb_range(2 MiB, stride PMD_SIZE, last level, level 2): 512 pages as one range op.
      expect(c.tlbi).toEqual({ RVALE1IS: 1 });
      expect(c.tlbiBySite).toEqual({ tlb_end_vma: 1 });
      expect(mmStat(m, 'thp_pmds_zapped')).toBe(1);
      expect(m.k.pmdDeposits.size).toBe(0);
      // The folio (512 pages) and the deposited table went back.
      expect(m.k.buddy.freePages - free0).toBe(513);
      expect(c.bbm).toBe(0);
    });

    it(`${profile}: mprotect of one page splits the PMD: pmdp_invalidate's flush, 512 PTEs with contiguous blocks, then the PTE path`, () => {
      const m = machine(profile, ['thp_pmd=always']);
      const a = anon(m, 2 * MiB);
      writePages(m, a, PAGE);
      const c = measure(m, () => expect(m.p.mprotect(a + PAGE, PAGE, PROT_READ)).toBe(0));
      expect(mmStat(m, 'thp_split_pmd')).toBe(1);
      // pmdp_invalidate, then pmd_populate.
      expect(pmdWrites(m)).toBe(2);
      // set_ptes(512) = 512 stores (32 contiguous blocks set directly, no fold); the mprotected
      // page's block is unfolded (16 clears + 16 stores) and the PTE modified (2 stores).
      expect(c.pteWrites).toBe(512 + 32 + 2);
      expect(c.folds).toBe(0);
      expect(c.unfolds).toBe(1);
      // flush_pmd_tlb_range: not last-level, PMD stride, level 2: one RVAE1IS.
      expect(c.tlbi).toEqual({ RVAE1IS: 1, RVALE1IS: 1, VALE1IS: 1 });
      expect(c.tlbiBySite).toEqual({ flush_pmd_tlb_range: 1, contpte_convert: 1, tlb_end_vma: 1 });
      expect(c.bbm).toBe(0);
      expect(c.contig).toBe(0);
      expect(isHuge(m, m.p, a)).toBe(false);
      const ptep = m.k.pgtable.tables.pteOffsetMap(m.p, a + 64 * 1024)!;
      expect(pteCont(m.k.pgtable.raw.__ptepGet(ptep))).toBe(true);
      expect(m.k.pmdDeposits.size).toBe(0);
    });

    it(`${profile}: mprotect of the whole huge PMD changes it in place (change_huge_pmd)`, () => {
      const m = machine(profile, ['thp_pmd=always']);
      const a = anon(m, 2 * MiB);
      writePages(m, a, PAGE);
      const c = measure(m, () => expect(m.p.mprotect(a, 2 * MiB, PROT_READ)).toBe(0));
      expect(pmdWrites(m)).toBe(2);
      expect(c.pteWrites).toBe(0);
      expect(c.tlbi).toEqual({ RVAE1IS: 1, RVALE1IS: 1 });
      expect(c.tlbiBySite).toEqual({ flush_pmd_tlb_range: 1, tlb_end_vma: 1 });
      expect(isHuge(m, m.p, a)).toBe(true);
      expect(m.p.mprotect(a, 2 * MiB, PROT_READ | PROT_WRITE)).toBe(0);
      // The exclusive folio became writable again: no fault on the next write.
      expect(measure(m, () => writePages(m, a, PAGE)).faults).toBe(0);
    });

    it(`${profile}: munmap of half a huge PMD splits it at the VMA boundary and zaps 256 PTEs`, () => {
      const m = machine(profile, ['thp_pmd=always']);
      const a = anon(m, 2 * MiB);
      writePages(m, a, PAGE);
      const c = measure(m, () => expect(m.p.munmap(a + MiB, MiB)).toBe(0));
      expect(mmStat(m, 'thp_split_pmd')).toBe(1);
      expect(mmStat(m, 'ptes_zapped')).toBe(256);
      expect(c.tlbiBySite['flush_pmd_tlb_range']).toBe(1);
      expect(c.bbm).toBe(0);
      expect(measure(m, () => writePages(m, a, MiB)).faults).toBe(0);
    });
  }
});

describe('fork and copy-on-write of a huge PMD', () => {
  for (const profile of PROFILES) {
    it(`${profile}: copy_huge_pmd write-protects both; the first write splits and copies one page`, () => {
      const m = machine(profile, ['thp_pmd=always']);
      const a = anon(m, 2 * MiB);
      writePages(m, a, PAGE);
      let child: Process | null = null;
      const f = measure(m, () => {
        child = m.p.fork();
      });
      expect(mmStat(m, 'thp_pmds_copied')).toBe(1);
      // pmdp_set_wrprotect in the parent, set_pmd_at in the child; dup_mmap's flush_tlb_mm.
      expect(pmdWrites(m)).toBe(2);
      expect(f.tlbi).toEqual({ ASIDE1IS: 1 });
      expect(isHuge(m, child!, a)).toBe(true);
      const w = measure(m, () => writePages(m, a, PAGE));
      expect(w.faults).toBe(1);
      expect(mmStat(m, 'thp_split_pmd')).toBe(1);
      expect(mmStat(m, 'cow_copies')).toBe(1);
      expect(w.tlbiBySite).toEqual({ flush_pmd_tlb_range: 1, contpte_convert: 1, ptep_clear_flush: 1 });
      expect(w.bbm).toBe(0);
      // The child still maps the whole folio with its PMD and copies on its own write.
      expect(isHuge(m, child!, a)).toBe(true);
      const cw = measure(m, () => asProcess(m, child!, (cm) => writePages(cm, a, PAGE)));
      expect(cw.faults).toBe(1);
      expect(mmStat(m, 'cow_copies')).toBe(1);
    });
  }

  it('a write to the huge zero PMD: 6.12 splits it into 512 zero-page PTEs and copies one page; 7.2 maps a new THP', () => {
    const m6 = machine('linux-6.12', ['thp_pmd=always']);
    const a = anon(m6, 2 * MiB);
    readPages(m6, a, PAGE);
    const c6 = measure(m6, () => writePages(m6, a, PAGE));
    expect(mmStat(m6, 'thp_split_pmd')).toBe(1);
    expect(c6.pteWrites).toBe(512 + 2);
    expect(c6.tlbiBySite).toEqual({ flush_pmd_tlb_range: 1, ptep_clear_flush: 1 });
    const m7 = machine('linux-7.2', ['thp_pmd=always']);
    const b = anon(m7, 2 * MiB);
    readPages(m7, b, PAGE);
    const c7 = measure(m7, () => writePages(m7, b, PAGE));
    expect(c7.byPath).toEqual({ do_huge_pmd_wp_page: 1 });
    expect(mmStat(m7, 'thp_fault_alloc')).toBe(1);
    expect(c7.pteWrites).toBe(0);
    // pmdp_huge_clear_flush, then set_pmd_at.
    expect(pmdWrites(m7)).toBe(2);
    expect(c7.tlbiBySite).toEqual({ flush_pmd_tlb_range: 1 });
    expect(isHuge(m7, m7.p, b)).toBe(true);
  });
});

describe('defaults stay PTE-mapped', () => {
  it('every profile has thp_pmd=never (the measurement set-up)', () => {
    for (const profile of ['linux-6.9', 'linux-6.12', 'linux-7.2']) {
      const m = machine(profile);
      expect(m.k.policy.thp_pmd).toBe('never');
      const a = anon(m, 2 * MiB);
      expect(measure(m, () => writePages(m, a, PAGE)).byPath).toEqual({ do_anonymous_page: 1 });
    }
  });
});

describe('file PMDs (do_set_pmd): tmpfs huge=', () => {
  for (const profile of PROFILES) {
    it(`${profile}: huge=always gives a linked tmpfs file order-9 folios mapped by one PMD each, with THP "never"`, () => {
      const m = machine(profile, ['tmpfs_huge=always']);
      expect(m.k.policy.thp_pmd).toBe('never');
      const f = sparseFile(m, 'tmpfs', 4 * MiB);
      const a = mmapShared(m, f, 4 * MiB, alignedHint(m, 4 * MiB), true);
      const w = measure(m, () => writePages(m, a, 2 * MiB));
      expect(w.byPath).toEqual({ do_shared_fault: 1 });
      expect(w.pteWrites).toBe(0);
      expect(pmdWrites(m)).toBe(1);
      expect(mmStat(m, 'thp_file_mapped')).toBe(1);
      expect(folioRuns(f, 0, 512)).toBe('o9x1');
      const r = measure(m, () => readPages(m, a + 2 * MiB, 2 * MiB));
      expect(r.byPath).toEqual({ do_read_fault: 1 });
      expect(pmdWrites(m)).toBe(1);
      // Both PMDs go in one zap; no deposit to free for a file PMD on arm64.
      const z = measure(m, () => expect(m.p.munmap(a, 4 * MiB)).toBe(0));
      expect(mmStat(m, 'thp_pmds_zapped')).toBe(2);
      expect(z.tlbi).toEqual({ RVALE1IS: 1 });
      expect(z.bbm).toBe(0);
      // The page cache keeps the folios; the mapping's references are gone.
      expect(f.mapping.lookup(0)!.mapcount).toBe(0);
    });

    it(`${profile}: huge=never (the default) keeps tmpfs at order 0 and PTEs`, () => {
      const m = machine(profile);
      const f = sparseFile(m, 'tmpfs', 2 * MiB);
      const a = mmapShared(m, f, 2 * MiB, alignedHint(m, 2 * MiB), true);
      const w = measure(m, () => writePages(m, a, 4 * PAGE));
      expect(w.faults).toBe(4);
      expect(pmdWrites(m)).toBe(0);
    });
  }

  for (const profile of PROFILES) {
    it(`${profile}: write() into a tmpfs file on a huge=always mount makes 2 MiB folios (shmem_write_begin has no VMA: the mount's huge= alone decides), so a read sweep of a linked file maps a PMD per 2 MiB`, () => {
      // The real kernels (validate: read_fault 16M shared 2 linked on a huge=always tmpfs): 8 faults
      // and 8 thp_file_mapped per pass, no PTE table freed at munmap.
      const m = machine(profile, ['tmpfs_huge=always']);
      const f = m.k.newInode({ fsType: 'tmpfs' });
      const chunk = new Uint8Array(64 * 1024).fill(7);
      for (let pos = 0; pos < 4 * MiB; pos += chunk.length) expect(filemapWrite(f, pos, chunk, m.k.fsTraits('tmpfs').writeMiss).kind).toBe('ok');
      expect(folioRuns(f)).toBe('o9x2');
      const a = mmapShared(m, f, 4 * MiB, alignedHint(m, 4 * MiB), true);
      const r = measure(m, () => readPages(m, a, 4 * MiB));
      expect(r.faults).toBe(2);
      expect(r.pteWrites).toBe(0);
      expect(pmdWrites(m)).toBe(2);
      expect(mmStat(m, 'thp_file_mapped')).toBe(2);
    });
  }

  it('write() on a huge=within_size mount: a block only when it ends inside the file as written so far; 6.12 then falls to order 0, 7.2 to the next order that fits', () => {
    for (const [profile, runs] of [['linux-6.12', 'o9x1 o0x256'], ['linux-7.2', 'o9x1 o8x1']] as const) {
      const m = machine(profile, ['tmpfs_huge=within_size']);
      const f = m.k.newInode({ fsType: 'tmpfs' });
      expect(filemapWrite(f, 0, new Uint8Array(3 * MiB).fill(1), m.k.fsTraits('tmpfs').writeMiss)).toEqual({ kind: 'ok', written: 3 * MiB });
      expect(folioRuns(f), profile).toBe(runs);
    }
  });

  it('write() on a mount without huge= (and with huge=advise, which needs a VMA) stays at order 0', () => {
    for (const huge of ['never', 'advise']) {
      const m = machine('linux-7.2', [`tmpfs_huge=${huge}`]);
      const f = m.k.newInode({ fsType: 'tmpfs' });
      expect(filemapWrite(f, 0, new Uint8Array(2 * MiB).fill(1), m.k.fsTraits('tmpfs').writeMiss).kind).toBe('ok');
      expect(folioRuns(f), huge).toBe('o0x512');
    }
  });

  it('linux-7.2 ext4 with its 8 MiB device window: readahead reaches order 9 in a 64 MiB file, and do_set_pmd maps those folios whole with THP "never" (validate: page_fault3 64M 1, the same on 7.2.13)', () => {
    const m = machine('linux-7.2');
    expect(m.k.policy.thp_pmd).toBe('never');
    const f = sparseFile(m, 'ext4', 64 * MiB);
    const a = mmapShared(m, f, 64 * MiB, alignedHint(m, 64 * MiB), true);
    const w = measure(m, () => writePages(m, a, 64 * MiB));
    expect(w.faults).toBe(2740);
    expect(w.contpteSetPtes).toBe(680);
    expect(w.converts).toBe(0);
    expect(mmStat(m, 'thp_file_mapped')).toBe(12);
    expect(folioRuns(f).split(' ').pop()).toBe('o9x12');
  });

  it('6.12 gives a tmpfs file only the PMD order; 7.2 any order that fits (tmpfs_huge_orders)', () => {
    for (const [profile, runs] of [['linux-6.12', 'o0x1'], ['linux-7.2', 'o8x1']] as const) {
      const m = machine(profile, ['tmpfs_huge=always']);
      const f = sparseFile(m, 'tmpfs', MiB);
      const a = mmapShared(m, f, MiB, alignedHint(m, MiB), true);
      writePages(m, a, PAGE);
      expect(folioRuns(f, 0, 1)).toBe(runs);
    }
  });

  it('a partial munmap of a file PMD clears it (pmdp_huge_clear_flush); the rest refaults with PTEs', () => {
    const m = machine('linux-6.12', ['tmpfs_huge=always']);
    const f = sparseFile(m, 'tmpfs', 2 * MiB);
    const a = mmapShared(m, f, 2 * MiB, alignedHint(m, 2 * MiB), true);
    writePages(m, a, PAGE);
    const c = measure(m, () => expect(m.p.munmap(a + MiB, MiB)).toBe(0));
    expect(mmStat(m, 'thp_split_pmd')).toBe(1);
    expect(c.tlbiBySite['flush_pmd_tlb_range']).toBe(1);
    expect(mmStat(m, 'ptes_zapped')).toBe(0);
    const r = measure(m, () => writePages(m, a, PAGE));
    // do_set_pmd refuses (the VMA no longer holds the 2 MiB): a PTE table and one PTE (a shmem
    // folio of a linked file: finish_fault maps the faulting page only on 6.12).
    expect(r.byPath).toEqual({ do_shared_fault: 1 });
    expect(pmdWrites(m)).toBe(0);
    expect(r.pteWrites).toBe(1);
  });
});
