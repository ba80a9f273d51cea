/**
 * MADV_COLLAPSE of anonymous memory (khugepaged.ts): exact PTE/PMD stores and TLBIs, derived from
 * mm/khugepaged.c and arch/arm64 contpte code of 6.12 and 7.2, with THP "never".
 */
import { describe, expect, it } from 'vitest';
import { MADV_COLLAPSE, MADV_NOHUGEPAGE } from '../../src/mm/api.js';
import { accessUser, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/mm/index.js';
import { pmdTransHuge } from '../../src/pgtable/pmd.js';
import { EINVAL, ENOMEM } from '../../src/util/errno.js';
import { alignedHint, machine, measure, MiB, mmapShared, PAGE, readPages, sparseFile, writePages, type Machine } from './helpers.js';

const PROFILES = ['linux-6.12', 'linux-7.2'] as const;

function anon(m: Machine, len: number): number {
  const a = m.p.mmap({ addr: alignedHint(m, len), len, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS, file: null, pgoff: 0 });
  expect(a % (2 * MiB)).toBe(0);
  return a;
}

function stat(m: Machine, group: string, key: string): number {
  return m.k.telemetry.stats.snapshot()[group]![key] as number;
}

function isHuge(m: Machine, va: number): boolean {
  const pmdp = m.k.pgtable.tables.pmdOffset(m.p, va);
  return pmdp !== undefined && pmdTransHuge(m.k.pgtable.pmd.pmdpGet(pmdp));
}

/** Writes one tag word into each page (through the MMU, faulting as needed). */
function tagPages(m: Machine, a: number, len: number, step = PAGE): void {
  for (let off = 0; off < len; off += step) {
    const t = accessUser(m.p, a + off, 'write');
    if (!t.ok) throw new Error('write failed');
    m.k.memmap.mem.write64(t.pa, { lo: (a + off) >>> 0, hi: 0x7a6 });
  }
}

/** The tag word each page holds, 0 where none was written. */
function readTag(m: Machine, va: number): number {
  const t = accessUser(m.p, va, 'read');
  if (!t.ok) throw new Error('read failed');
  const v = m.k.memmap.mem.read64(t.pa);
  return v.hi === 0x7a6 ? v.lo : 0;
}

describe('MADV_COLLAPSE of 512 order-0 pages (THP never)', () => {
  for (const profile of PROFILES) {
    it(`${profile}: pmdp_collapse_flush's one range TLBI, 512 PTE clears, the table deposited under a new huge PMD`, () => {
      const m = machine(profile);
      const a = anon(m, 2 * MiB);
      tagPages(m, a, 2 * MiB);
      const free0 = m.k.buddy.freePages;
      const c = measure(m, () => expect(m.p.madvise(a, 2 * MiB, MADV_COLLAPSE)).toBe(0));
      expect(isHuge(m, a)).toBe(true);
      expect(m.k.pmdDeposits.size).toBe(1);
      // pmdp_huge_get_and_clear, then set_pmd_at.
      expect(stat(m, 'pgtable', 'pmd_writes')).toBe(2);
      // ptep_clear (6.12) / clear_ptes(nr=1) (7.2) of each of the 512 PTEs in the unlinked table.
      expect(c.pteWrites).toBe(512);
      // flush_tlb_range of 2 MiB, stride 4 KiB, any level: 512 pages as one range operation.
      expect(c.tlbi).toEqual({ RVAE1IS: 1 });
      expect(c.tlbiBySite).toEqual({ pmdp_collapse_flush: 1 });
      expect(c.converts).toBe(0);
      expect(c.faults).toBe(0);
      expect(c.bbm).toBe(0);
      expect(stat(m, 'mm', 'thp_collapse_alloc')).toBe(1);
      // 512 order-0 pages freed, one order-9 folio taken: the same number of free pages.
      expect(m.k.buddy.freePages).toBe(free0);
      const r = measure(m, () => {
        for (let off = 0; off < 2 * MiB; off += PAGE) expect(readTag(m, a + off)).toBe((a + off) >>> 0);
      });
      expect(r.faults).toBe(0);
      // A second MADV_COLLAPSE finds the PMD mapped (SCAN_PMD_MAPPED): success, nothing done.
      const again = measure(m, () => expect(m.p.madvise(a, 2 * MiB, MADV_COLLAPSE)).toBe(0));
      expect(again.tlbiTotal).toBe(0);
      expect(stat(m, 'pgtable', 'pmd_writes')).toBe(0);
      // munmap zaps the huge PMD and frees the deposit.
      expect(m.p.munmap(a, 2 * MiB)).toBe(0);
      expect(m.k.pmdDeposits.size).toBe(0);
    });
  }
});

describe('MADV_COLLAPSE of 64 KiB contpte-mapped mTHP folios', () => {
  it('linux-6.12: the first ptep_clear of each block unfolds it (contpte_convert and its RVALE1IS): 32 converts', () => {
    const m = machine('linux-6.12', ['anon_mthp=64K']);
    const a = anon(m, 2 * MiB);
    tagPages(m, a, 2 * MiB);
    const c = measure(m, () => expect(m.p.madvise(a, 2 * MiB, MADV_COLLAPSE)).toBe(0));
    expect(isHuge(m, a)).toBe(true);
    expect(c.unfolds).toBe(32);
    expect(c.converts).toBe(32);
    // Per block: contpte_convert clears 16 and rewrites 16 without the contiguous bit, then 16
    // ptep_clear stores.
    expect(c.pteWrites).toBe(32 * 48);
    expect(c.tlbi).toEqual({ RVAE1IS: 1, RVALE1IS: 32 });
    expect(c.tlbiBySite).toEqual({ pmdp_collapse_flush: 1, contpte_convert: 32 });
    expect(c.bbm).toBe(0);
    for (let off = 0; off < 2 * MiB; off += 64 * 1024) expect(readTag(m, a + off + PAGE)).toBe((a + off + PAGE) >>> 0);
  });

  it('linux-7.2: one clear_ptes per folio leaves whole blocks folded: no convert, 512 stores', () => {
    const m = machine('linux-7.2', ['anon_mthp=64K']);
    const a = anon(m, 2 * MiB);
    tagPages(m, a, 2 * MiB);
    const c = measure(m, () => expect(m.p.madvise(a, 2 * MiB, MADV_COLLAPSE)).toBe(0));
    expect(isHuge(m, a)).toBe(true);
    expect(c.unfolds).toBe(0);
    expect(c.converts).toBe(0);
    expect(c.pteWrites).toBe(512);
    expect(c.tlbi).toEqual({ RVAE1IS: 1 });
    expect(c.bbm).toBe(0);
    for (let off = 0; off < 2 * MiB; off += 64 * 1024) expect(readTag(m, a + off + PAGE)).toBe((a + off + PAGE) >>> 0);
  });
});

describe('MADV_COLLAPSE with none and zero-page PTEs', () => {
  for (const profile of PROFILES) {
    it(`${profile}: none PTEs become zeroed pages, only present PTEs are cleared`, () => {
      const m = machine(profile);
      const a = anon(m, 2 * MiB);
      // Every fourth page written, the one after it read (zero page), the rest never touched.
      tagPages(m, a, 2 * MiB, 4 * PAGE);
      readPages(m, a + PAGE, 2 * MiB - PAGE, 4 * PAGE);
      const c = measure(m, () => expect(m.p.madvise(a, 2 * MiB, MADV_COLLAPSE)).toBe(0));
      expect(c.pteWrites).toBe(256);
      expect(c.tlbi).toEqual({ RVAE1IS: 1 });
      expect(c.bbm).toBe(0);
      for (let off = 0; off < 2 * MiB; off += PAGE) expect(readTag(m, a + off)).toBe(off % (4 * PAGE) === 0 ? (a + off) >>> 0 : 0);
    });
  }

  it('only zero-page PTEs (no writable one): 6.12 refuses (SCAN_PAGE_RO, EINVAL), 7.2 collapses', () => {
    for (const profile of PROFILES) {
      const m = machine(profile);
      const a = anon(m, 4 * MiB);
      // A write in the other block gives the VMA its anon_vma (zero-page reads do not make one).
      writePages(m, a + 2 * MiB, PAGE);
      readPages(m, a, 2 * MiB);
      const v72 = profile === 'linux-7.2';
      const c = measure(m, () => expect(m.p.madvise(a, 2 * MiB, MADV_COLLAPSE)).toBe(v72 ? 0 : -EINVAL));
      expect(isHuge(m, a)).toBe(v72);
      expect(c.pteWrites).toBe(v72 ? 512 : 0);
      expect(c.tlbi).toEqual(v72 ? { RVAE1IS: 1 } : {});
      expect(stat(m, 'mm', 'thp_collapse_alloc')).toBe(v72 ? 1 : 0);
      if (v72) expect(readTag(m, a + PAGE)).toBe(0);
    }
  });

  it('zero-page reads alone leave the VMA without an anon_vma: EINVAL on both', () => {
    for (const profile of PROFILES) {
      const m = machine(profile);
      const a = anon(m, 2 * MiB);
      readPages(m, a, 2 * MiB);
      expect(m.p.madvise(a, 2 * MiB, MADV_COLLAPSE)).toBe(-EINVAL);
    }
  });
});

describe('MADV_COLLAPSE refusals and failures', () => {
  for (const profile of PROFILES) {
    it(`${profile}: VM_NOHUGEPAGE gives EINVAL and changes nothing`, () => {
      const m = machine(profile);
      const a = anon(m, 2 * MiB);
      writePages(m, a, 2 * MiB);
      expect(m.p.madvise(a, 2 * MiB, MADV_NOHUGEPAGE)).toBe(0);
      const c = measure(m, () => expect(m.p.madvise(a, 2 * MiB, MADV_COLLAPSE)).toBe(-EINVAL));
      expect(c.pteWrites + c.tlbiTotal).toBe(0);
      expect(isHuge(m, a)).toBe(false);
    });

    it(`${profile}: a VMA never faulted has no anon_vma: EINVAL`, () => {
      const m = machine(profile);
      const a = anon(m, 2 * MiB);
      expect(m.p.madvise(a, 2 * MiB, MADV_COLLAPSE)).toBe(-EINVAL);
    });
  }

  it('a block with no PTE table: 6.12 stops there (SCAN_PMD_NONE), 7.2 goes on to the next block (SCAN_NO_PTE_TABLE); both EINVAL', () => {
    for (const profile of PROFILES) {
      const m = machine(profile);
      const a = anon(m, 4 * MiB);
      writePages(m, a + 2 * MiB, 2 * MiB);
      expect(m.p.madvise(a, 4 * MiB, MADV_COLLAPSE)).toBe(-EINVAL);
      expect(isHuge(m, a + 2 * MiB)).toBe(profile === 'linux-7.2');
    }
  });

  it('a range holding no whole aligned block: 6.12 EINVAL (unsigned wrap), 7.2 0; both do nothing', () => {
    for (const profile of PROFILES) {
      const m = machine(profile);
      const a = anon(m, 2 * MiB);
      writePages(m, a, 2 * MiB);
      const c = measure(m, () => expect(m.p.madvise(a + PAGE, 16 * PAGE, MADV_COLLAPSE)).toBe(profile === 'linux-6.12' ? -EINVAL : 0));
      expect(c.pteWrites + c.tlbiTotal).toBe(0);
    }
  });

  it('no free order-9 block: SCAN_ALLOC_HUGE_PAGE_FAIL gives ENOMEM before anything is touched', () => {
    for (const profile of PROFILES) {
      const m = machine(profile);
      const a = anon(m, 2 * MiB);
      writePages(m, a, 2 * MiB);
      // Take every free 2 MiB block away from the page allocator.
      while (m.k.memmap.folioAlloc(9).kind === 'ok');
      const c = measure(m, () => expect(m.p.madvise(a, 2 * MiB, MADV_COLLAPSE)).toBe(-ENOMEM));
      expect(c.pteWrites + c.tlbiTotal).toBe(0);
      expect(stat(m, 'pgtable', 'pmd_writes')).toBe(0);
      expect(stat(m, 'mm', 'thp_collapse_alloc_failed')).toBe(1);
      expect(isHuge(m, a)).toBe(false);
    }
  });

  it('shared anonymous (shmem) and ext4 file mappings: EINVAL (shmem: the model has no collapse_file; ext4: no CONFIG_READ_ONLY_THP_FOR_FS)', () => {
    const m = machine('linux-6.12');
    const s = m.p.mmap({ addr: alignedHint(m, 2 * MiB), len: 2 * MiB, prot: PROT_READ | PROT_WRITE, flags: MAP_SHARED | MAP_ANONYMOUS, file: null, pgoff: 0 });
    writePages(m, s, 2 * MiB);
    expect(m.p.madvise(s, 2 * MiB, MADV_COLLAPSE)).toBe(-EINVAL);
    const f = sparseFile(m, 'ext4', 2 * MiB);
    const b = mmapShared(m, f, 2 * MiB, alignedHint(m, 2 * MiB));
    writePages(m, b, 2 * MiB);
    const c = measure(m, () => expect(m.p.madvise(b, 2 * MiB, MADV_COLLAPSE)).toBe(-EINVAL));
    expect(c.pteWrites + c.tlbiTotal).toBe(0);
  });

  it('a VMA smaller than 2 MiB is refused by thp_vma_allowable_order (EINVAL)', () => {
    const m = machine('linux-6.12');
    const a = m.p.mmap({ addr: 0, len: 64 * PAGE, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS, file: null, pgoff: 0 });
    writePages(m, a, 64 * PAGE);
    expect(m.p.madvise(a, 64 * PAGE, MADV_COLLAPSE)).toBe(-EINVAL);
  });
});
