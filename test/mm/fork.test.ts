/**
 * fork's copy of an address space (dup_mmap → copy_page_range → copy_pte_range →
 * copy_present_ptes) and the copy-on-write faults that follow, with 64 KiB anonymous mTHP, under
 * the three profiles. Exact counts: PTE writes, contpte converts, TLBIs by op and site, faults.
 *
 * The set-up: 256 KiB of private anonymous memory, 2 MiB-aligned, written once: four 64 KiB
 * folios, each mapped by one set_ptes(16) and so contiguous from the start.
 */
import { describe, expect, it } from 'vitest';
import {
  MADV_DONTFORK,
  MADV_WIPEONFORK,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from '../../src/mm/index.js';
import { pteCont, pteNone, ptePfn, pteWrite, pteYoung, type Pte } from '../../src/pgtable/pte.js';
import { alignedHint, asProcess, KiB, machine, measure, PAGE, readPages, writePages, type Machine } from './helpers.js';

const PROFILES = ['linux-6.9', 'linux-6.12', 'linux-7.2'] as const;
const SIZE = 256 * KiB;

function rawPte(m: Machine, p: Process, addr: number): Pte {
  const ptep = m.k.pgtable.tables.pteOffsetMap(p, addr);
  if (ptep === undefined) return { lo: 0, hi: 0 };
  return m.k.pgtable.raw.__ptepGet(ptep);
}

function setup(profile: string, sets: readonly string[] = ['anon_mthp=64K']) {
  const m = machine(profile, sets);
  const a = m.p.mmap({ addr: alignedHint(m, SIZE), len: SIZE, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS, file: null, pgoff: 0 });
  expect(a % (2 * 1024 * 1024)).toBe(0);
  writePages(m, a, SIZE);
  // A recognisable byte in every page.
  for (let i = 0; i < SIZE / PAGE; i++) expect(m.p.copyToUser(a + i * PAGE, new Uint8Array([i + 1]))).toBe(1);
  return { m, a };
}

const as = asProcess;

describe('fork of 64 KiB mTHP anonymous memory', () => {
  for (const profile of PROFILES) {
    describe(profile, () => {
      it('dup_mmap: one wrprotect_ptes(16) in the parent and one set_ptes(16) in the child per block, no unfold, one ASIDE1IS', () => {
        const { m, a } = setup(profile);
        let child: Process | null = null;
        const c = measure(m, () => (child = m.p.fork()));
        const ch = child! as Process;
        expect(c.pteWrites).toBe(4 * 16 + 4 * 16);
        expect(c.api).toEqual({ wrprotect_ptes: 4, set_ptes: 4 });
        expect(c.setPtesByNr).toEqual({});
        expect([c.converts, c.folds, c.unfolds, c.contpteSetPtes]).toEqual([0, 0, 0, 4]);
        expect(c.tlbi).toEqual({ ASIDE1IS: 1 });
        expect(c.tlbiBySite).toEqual({ dup_mmap: 1 });
        expect([c.faults, c.bbm, c.contig]).toEqual([0, 0, 0]);
        expect(m.k.mmStats.fork_ptes_copied).toBe(64);
        expect(ch.asid).not.toBe(m.p.asid);
        expect(ch.pgd).not.toBe(m.p.pgd);
        for (let i = 0; i < 64; i++) {
          const pp = rawPte(m, m.p, a + i * PAGE);
          const cp = rawPte(m, ch, a + i * PAGE);
          // Both read-only and still contiguous; the child's old; same page.
          expect([pteCont(pp), pteWrite(pp), pteCont(cp), pteWrite(cp), pteYoung(cp)]).toEqual([true, false, true, false, false]);
          expect(ptePfn(cp)).toBe(ptePfn(pp));
        }
        const folio = m.k.memmap.folioOfPfn(ptePfn(rawPte(m, m.p, a)))!;
        expect([folio.nrPages, folio.refcount, folio.mapcount, folio.maybeMappedShared]).toEqual([16, 32, 32, true]);
        expect(m.k.memmap.pageAnonExclusive(folio.firstPfn)).toBe(false);
        // The child sees the parent's bytes.
        expect(as(m, ch, (mm) => mm.p.copyFromUser(a + 5 * PAGE, 1))).toEqual(new Uint8Array([6]));
      });

      it('COW in the child: the first write unfolds its block (one RVALE1IS), every write copies one page (one VALE1IS each)', () => {
        const { m, a } = setup(profile);
        const ch = m.p.fork();
        const c = measure(m, () => as(m, ch, (mm) => writePages(mm, a, 64 * KiB)));
        expect(c.faults).toBe(16);
        expect(c.byPath).toEqual({ do_wp_page: 16 });
        expect(m.k.mmStats.cow_copies).toBe(16);
        // Unfold: 16 clears and 16 sets; then per page a clear and a set.
        expect(c.pteWrites).toBe(32 + 16 * 2);
        expect([c.converts, c.unfolds, c.folds]).toEqual([1, 1, 0]);
        expect(c.tlbi).toEqual({ RVALE1IS: 1, VALE1IS: 16 });
        expect(c.tlbiBySite).toEqual({ contpte_convert: 1, ptep_clear_flush: 16 });
        expect([c.bbm, c.contig]).toEqual([0, 0]);
        // The child's writes stay in the child.
        as(m, ch, (mm) => expect(mm.p.copyToUser(a + 3 * PAGE, new Uint8Array([0xee]))).toBe(1));
        expect(m.p.copyFromUser(a + 3 * PAGE, 1)).toEqual(new Uint8Array([4]));
        expect(as(m, ch, (mm) => mm.p.copyFromUser(a + 3 * PAGE, 1))).toEqual(new Uint8Array([0xee]));
        // The parent's block is untouched: still contiguous.
        expect(pteCont(rawPte(m, m.p, a))).toBe(true);
        const folio = m.k.memmap.folioOfPfn(ptePfn(rawPte(m, m.p, a)))!;
        expect([folio.refcount, folio.mapcount, folio.maybeMappedShared]).toEqual([16, 16, false]);
      });

      it('COW in the parent while the child still maps the block: copies in every version (the folio is mapped shared)', () => {
        const { m, a } = setup(profile);
        m.p.fork();
        const c = measure(m, () => writePages(m, a, 64 * KiB));
        expect(c.byPath).toEqual({ do_wp_page: 16 });
        expect([m.k.mmStats.cow_copies, m.k.mmStats.wp_reuses]).toEqual([16, 0]);
        expect(c.tlbi).toEqual({ RVALE1IS: 1, VALE1IS: 16 });
        expect(c.tlbiBySite).toEqual({ contpte_convert: 1, ptep_clear_flush: 16 });
        expect(c.bbm).toBe(0);
      });

      const reuses = profile === 'linux-7.2';
      it(`COW in the parent after the child copied the whole block: ${reuses ? 'reused (7.x: one mm maps the large folio)' : 'copied again (large folios are never reused before 7.x)'}`, () => {
        const { m, a } = setup(profile);
        const ch = m.p.fork();
        as(m, ch, (mm) => writePages(mm, a, 64 * KiB));
        const c = measure(m, () => writePages(m, a, 64 * KiB));
        expect(c.byPath).toEqual({ do_wp_page: 16 });
        if (reuses) {
          expect([m.k.mmStats.cow_copies, m.k.mmStats.wp_reuses]).toEqual([0, 16]);
          // ptep_set_access_flags changes the write bit: the block unfolds once, then each page
          // is made writable with a local flush (7.x).
          expect(c.pteWrites).toBe(32 + 16);
          expect(c.tlbi).toEqual({ RVALE1IS: 1, VALE1: 16 });
          expect(c.tlbiBySite).toEqual({ contpte_convert: 1, ptep_set_access_flags: 16 });
        } else {
          expect([m.k.mmStats.cow_copies, m.k.mmStats.wp_reuses]).toEqual([16, 0]);
          expect(c.pteWrites).toBe(32 + 32);
          expect(c.tlbi).toEqual({ RVALE1IS: 1, VALE1IS: 16 });
          expect(c.tlbiBySite).toEqual({ contpte_convert: 1, ptep_clear_flush: 16 });
        }
        expect(c.bbm).toBe(0);
        expect(m.p.copyFromUser(a + 7 * PAGE, 1)).toEqual(new Uint8Array([8]));
      });

      it(`the child exits, then the parent writes: ${reuses ? 'reused' : 'still copied'}; shared folios survive the child's exit_mmap and are freed with the parent's`, () => {
        const { m, a } = setup(profile);
        const ch = m.p.fork();
        const folio = m.k.memmap.folioOfPfn(ptePfn(rawPte(m, m.p, a)))!;
        const e = measure(m, () => ch.exitMmap());
        // exit_mmap: a fullmm gather; page tables freed, so one ASIDE1IS for the child.
        expect(e.tlbi).toEqual({ ASIDE1IS: 1 });
        expect(e.tlbiBySite).toEqual({ tlb_finish_mmu: 1 });
        expect([folio.live, folio.refcount, folio.mapcount, folio.maybeMappedShared]).toEqual([true, 16, 16, false]);
        const c = measure(m, () => writePages(m, a, 64 * KiB));
        expect([m.k.mmStats.cow_copies, m.k.mmStats.wp_reuses]).toEqual(reuses ? [0, 16] : [16, 0]);
        expect(folio.live).toBe(!reuses ? false : true);
        expect(c.bbm).toBe(0);
        m.p.exitMmap();
        const frees = m.k.telemetry.stats.snapshot()['folio']!['frees_by_order'] as Record<string, number>;
        // 6.x freed block 0 when its last page was copied; the other three go with the parent.
        expect(frees['4']).toBe(4);
      });
    });
  }
});

describe('fork: small folios, partial blocks, DONTFORK, WIPEONFORK, the zero page, shared memory', () => {
  it('order-0 pages: once the child has gone, the parent reuses each page (refcount 1), no copy', () => {
    const { m, a } = setup('linux-6.12', []);
    const ch = m.p.fork();
    const f = measure(m, () => void 0);
    expect(f.tlbi).toEqual({});
    ch.exitMmap();
    const c = measure(m, () => writePages(m, a, 64 * KiB));
    expect([m.k.mmStats.cow_copies, m.k.mmStats.wp_reuses]).toEqual([0, 16]);
    // Each reuse: ptep_set_access_flags with a flush of the page (6.12: broadcast).
    expect(c.tlbi).toEqual({ VALE1IS: 16 });
    expect(c.tlbiBySite).toEqual({ ptep_set_access_flags: 16 });
  });

  it('order-0 pages: the fork copies one PTE at a time (ptep_set_wrprotect, set_ptes(1))', () => {
    const { m } = setup('linux-6.12', []);
    const c = measure(m, () => m.p.fork());
    expect(c.api).toEqual({ ptep_set_wrprotect: 64, set_ptes: 64 });
    expect(c.pteWrites).toBe(128);
    expect(c.tlbi).toEqual({ ASIDE1IS: 1 });
  });

  it('MADV_DONTFORK on half a block: the copied half unfolds the block in the parent (partial wrprotect_ptes)', () => {
    const { m, a } = setup('linux-6.12');
    expect(m.p.madvise(a, 8 * PAGE, MADV_DONTFORK)).toBe(0);
    let child: Process | null = null;
    const c = measure(m, () => (child = m.p.fork()));
    const ch = child! as Process;
    // Block 0: pages 8..15 copied with wrprotect_ptes(8), which unfolds the block first
    // (contpte_try_unfold_partial); blocks 1..3 whole.
    expect(c.api).toEqual({ wrprotect_ptes: 4, set_ptes: 4 });
    expect(c.pteWrites).toBe(32 + 8 + 8 + 3 * 32);
    expect([c.converts, c.unfolds]).toEqual([1, 1]);
    expect(c.tlbi).toEqual({ RVALE1IS: 1, ASIDE1IS: 1 });
    expect(c.tlbiBySite).toEqual({ contpte_convert: 1, dup_mmap: 1 });
    // The DONTFORK half stays writable in the parent and is absent from the child.
    expect(pteWrite(rawPte(m, m.p, a))).toBe(true);
    expect(pteWrite(rawPte(m, m.p, a + 8 * PAGE))).toBe(false);
    expect(ch.vmas.vmaLookup(a)).toBeNull();
    expect(pteCont(rawPte(m, ch, a + 8 * PAGE))).toBe(false);
    expect(c.bbm).toBe(0);
  });

  it('MADV_WIPEONFORK: the child gets the VMA empty and reads zeros; the parent keeps its pages writable', () => {
    const { m, a } = setup('linux-7.2');
    expect(m.p.madvise(a, SIZE, MADV_WIPEONFORK)).toBe(0);
    const c = measure(m, () => m.p.fork());
    expect(c.pteWrites).toBe(0);
    expect(c.tlbi).toEqual({ ASIDE1IS: 1 });
    const ch = m.k.liveProcesses.at(-1)!;
    expect(ch.vmas.vmaLookup(a)!.anonVma).toBeNull();
    expect(as(m, ch, (mm) => mm.p.copyFromUser(a + 5 * PAGE, 1))).toEqual(new Uint8Array([0]));
    expect(pteWrite(rawPte(m, m.p, a))).toBe(true);
    // MADV_WIPEONFORK is for private anonymous memory only.
    const s = m.p.mmap({ addr: 0, len: 64 * KiB, prot: PROT_READ | PROT_WRITE, flags: MAP_SHARED | MAP_ANONYMOUS, file: null, pgoff: 0 });
    expect(m.p.madvise(s, 64 * KiB, MADV_WIPEONFORK)).toBe(-22);
  });

  it('read-only anonymous memory (no anon_vma) is not copied; next to a written page, the zero page is copied as a bare special PTE', () => {
    const m = machine('linux-6.12');
    const a = m.p.mmap({ addr: alignedHint(m, SIZE), len: SIZE, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS, file: null, pgoff: 0 });
    readPages(m, a + PAGE, 15 * PAGE);
    // Reads map the zero page without an anon_vma: vma_needs_copy says no.
    const none = measure(m, () => m.p.fork());
    expect([none.pteWrites, none.tlbiTotal]).toEqual([0, 1]);
    writePages(m, a, PAGE);
    const c = measure(m, () => m.p.fork());
    expect(c.api).toEqual({ ptep_set_wrprotect: 1, set_ptes: 16 });
    expect(c.pteWrites).toBe(17);
    const ch = m.k.liveProcesses.at(-1)!;
    expect(ptePfn(rawPte(m, ch, a + PAGE))).toBe(m.k.zeroPfn);
    // The child's write takes a fresh page.
    const w = measure(m, () => as(m, ch, (mm) => writePages(mm, a + PAGE, PAGE)));
    expect(w.byPath).toEqual({ do_wp_page: 1 });
    expect(m.k.mmStats.cow_copies).toBe(1);
  });

  it('MAP_SHARED|MAP_ANONYMOUS: both processes see each other\'s writes; the shmem pages go only when the last one unmaps', () => {
    const m = machine('linux-6.12');
    const s = m.p.mmap({ addr: 0, len: 64 * KiB, prot: PROT_READ | PROT_WRITE, flags: MAP_SHARED | MAP_ANONYMOUS, file: null, pgoff: 0 });
    expect(m.p.copyToUser(s + PAGE, new Uint8Array([42]))).toBe(1);
    const c = measure(m, () => m.p.fork());
    // No anon_vma: nothing copied, the child faults the shmem pages in itself.
    expect(c.pteWrites).toBe(0);
    const ch = m.k.liveProcesses.at(-1)!;
    const inode = m.p.vmas.vmaLookup(s)!.file!;
    expect(ch.vmas.vmaLookup(s)!.file).toBe(inode);
    expect(as(m, ch, (mm) => mm.p.copyFromUser(s + PAGE, 1))).toEqual(new Uint8Array([42]));
    as(m, ch, (mm) => expect(mm.p.copyToUser(s + 2 * PAGE, new Uint8Array([43]))).toBe(1));
    expect(m.p.copyFromUser(s + 2 * PAGE, 1)).toEqual(new Uint8Array([43]));
    expect(ch.munmap(s, 64 * KiB)).toBe(0);
    expect(inode.mapping.nrpages).toBe(2);
    expect(m.p.copyFromUser(s + 2 * PAGE, 1)).toEqual(new Uint8Array([43]));
    ch.exitMmap();
    expect(m.p.munmap(s, 64 * KiB)).toBe(0);
    expect(inode.mapping.nrpages).toBe(0);
  });

  it('a shared ext4 file mapping: both see each other\'s stores through the page cache; msync(MS_SYNC) in the child cleans the parent\'s PTEs too (folio_mkclean over every mm)', () => {
    const m = machine('linux-6.12');
    const f = m.k.newInode({ fsType: 'ext4' });
    expect(m.k.truncate(f, 64 * KiB).kind).toBe('ok');
    const s = m.p.mmap({ addr: 0, len: 64 * KiB, prot: PROT_READ | PROT_WRITE, flags: MAP_SHARED, file: f, fileWritable: true, pgoff: 0 });
    expect(m.p.copyToUser(s + PAGE, new Uint8Array([42]))).toBe(1);
    const c = measure(m, () => m.p.fork());
    // A shared file VMA has no anon_vma: the child faults its PTEs from the page cache.
    expect(c.pteWrites).toBe(0);
    const ch = m.k.liveProcesses.at(-1)!;
    expect(as(m, ch, (mm) => mm.p.copyFromUser(s + PAGE, 1))).toEqual(new Uint8Array([42]));
    as(m, ch, (mm) => expect(mm.p.copyToUser(s + 2 * PAGE, new Uint8Array([43]))).toBe(1));
    expect(m.p.copyFromUser(s + 2 * PAGE, 1)).toEqual(new Uint8Array([43]));
    expect(pteWrite(rawPte(m, m.p, s + PAGE))).toBe(true);
    const w = measure(m, () => expect(ch.msync(s, 64 * KiB, 4)).toBe(0));
    // Two dirty folios. Page 1 is writable in the parent (the child only read it: ext4 maps
    // reads read-only, for ->page_mkwrite), page 2 in the child: two PTEs cleaned, each flushed.
    expect(m.k.mmStats.writeback_folios).toBe(2);
    expect(w.tlbiBySite).toEqual({ ptep_clear_flush: 2 });
    expect(pteWrite(rawPte(m, m.p, s + PAGE))).toBe(false);
    expect(pteWrite(rawPte(m, ch, s + 2 * PAGE))).toBe(false);
  });

  it('linux-7.2 batched mprotect after fork and one reuse: the exclusive page alone becomes writable again (commit_anon_folio_batch sub-batches)', () => {
    const { m, a } = setup('linux-7.2');
    m.p.fork().exitMmap();
    // The child is gone: page 0's write fault reuses it and makes it exclusive; the rest are not.
    writePages(m, a, PAGE);
    expect(m.k.mmStats.wp_reuses).toBe(1);
    expect(m.p.mprotect(a, 64 * KiB, PROT_READ)).toBe(0);
    const c = measure(m, () => expect(m.p.mprotect(a, 64 * KiB, PROT_READ | PROT_WRITE)).toBe(0));
    expect(c.api).toMatchObject({ modify_prot_start_ptes: 1, modify_prot_commit_ptes: 2 });
    expect(c.setPtesByNr).toEqual({});
    expect(pteWrite(rawPte(m, m.p, a))).toBe(true);
    expect(pteWrite(rawPte(m, m.p, a + PAGE))).toBe(false);
    expect(pteCont(rawPte(m, m.p, a + PAGE))).toBe(false);
    expect(c.bbm).toBe(0);
  });

  it('a forked child of a forked child: three mms on one folio keep it shared until two have let go', () => {
    const { m, a } = setup('linux-7.2');
    const c1 = m.p.fork();
    const c2 = c1.fork();
    const folio = m.k.memmap.folioOfPfn(ptePfn(rawPte(m, m.p, a)))!;
    expect([folio.mapcount, folio.refcount, folio.maybeMappedShared]).toEqual([48, 48, true]);
    c1.exitMmap();
    expect(folio.maybeMappedShared).toBe(true);
    c2.exitMmap();
    expect(folio.maybeMappedShared).toBe(false);
    measure(m, () => writePages(m, a, 64 * KiB));
    expect(m.k.mmStats.wp_reuses).toBe(16);
    expect(pteNone(rawPte(m, m.p, a))).toBe(false);
  });
});
