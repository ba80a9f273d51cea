/**
 * Anonymous private memory: do_anonymous_page with and without mTHP sizes (highest order that
 * fits and whose PTEs are all none, falling back), the zero page and the copy it takes on the
 * first write, MADV_DONTNEED, brk, and the signals of accesses outside a VMA or its protection.
 */
import { describe, expect, it } from 'vitest';
import { accessUser, MADV_DONTNEED, MADV_FREE, MAP_ANONYMOUS, MAP_PRIVATE, PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE } from '../../src/mm/index.js';
import { ptePfn, pteCont, pteDirty, pteYoung } from '../../src/pgtable/pte.js';
import { alignedHint, KiB, machine, measure, MiB, PAGE, readPages, writePages, type Machine } from './helpers.js';

function region(m: Machine, len: number, prot = PROT_READ | PROT_WRITE): number {
  const a = m.p.mmap({ addr: alignedHint(m, len), len, prot, flags: MAP_PRIVATE | MAP_ANONYMOUS, file: null, pgoff: 0 });
  expect(a % (2 * MiB)).toBe(0);
  return a;
}

function rawPte(m: Machine, va: number) {
  return m.k.pgtable.raw.__ptepGet(m.k.pgtable.tables.pteOffsetMap(m.p, va)!);
}

describe('anonymous faults', () => {
  it('without mTHP: one order-0 folio, one zeroed page and one set_ptes(1) per written page', () => {
    const m = machine('linux-6.12');
    const a = region(m, 2 * MiB);
    const c = measure(m, () => writePages(m, a, 256 * KiB));
    expect(c.faults).toBe(64);
    expect(c.setPtesByNr).toEqual({ 1: 64 });
    expect(m.k.mmStats.anon_folios_by_order).toEqual({ 0: 64 });
    // Page tables come zeroed too: pud, pmd and the PTE table for the first fault.
    expect(m.k.buddy.stats.zeroed_pages).toBe(64 + 3);
    expect(c.tlbiTotal).toBe(0);
  });

  it('with 64K mTHP: one order-4 folio per 64 KiB, mapped contiguous by one contpte_set_ptes', () => {
    const m = machine('linux-6.12', ['anon_mthp=64K']);
    const a = region(m, 2 * MiB);
    const c = measure(m, () => writePages(m, a, 256 * KiB));
    expect(c.faults).toBe(4);
    expect(c.contpteSetPtes).toBe(4);
    expect(c.pteWrites).toBe(64);
    expect(m.k.mmStats.anon_folios_by_order).toEqual({ 4: 4 });
    for (let i = 0; i < 64; i++) expect(pteCont(rawPte(m, a + i * PAGE))).toBe(true);
    expect([c.folds, c.tlbiTotal, c.bbm, c.contig]).toEqual([0, 0, 0, 0]);
  });

  it('falls back to the largest enabled order whose aligned range is still all none', () => {
    const m = machine('linux-6.12', ['anon_mthp=16K,64K']);
    const a = region(m, 2 * MiB);
    // A read maps the zero page at page 0, so the 64 KiB block [0,16) is no longer all none.
    readPages(m, a, PAGE);
    const c = measure(m, () => {
      writePages(m, a + 7 * PAGE, PAGE); // [4,8) is none: a 16 KiB folio
      writePages(m, a + 2 * PAGE, PAGE); // [0,4) holds the zero page: order 0
      writePages(m, a + 16 * PAGE, PAGE); // [16,32) is none: a 64 KiB folio
    });
    expect(m.k.mmStats.anon_folios_by_order).toEqual({ 2: 1, 0: 1, 4: 1 });
    expect(c.setPtesByNr).toEqual({ 4: 1, 1: 1, 16: 1 });
    // A 16 KiB folio is not a whole block: no contiguous bit.
    expect(pteCont(rawPte(m, a + 4 * PAGE))).toBe(false);
    expect(pteCont(rawPte(m, a + 16 * PAGE))).toBe(true);
  });

  it('a VMA too small for the aligned block takes order 0', () => {
    const m = machine('linux-6.12', ['anon_mthp=64K']);
    const a = m.p.mmap({ addr: alignedHint(m, 2 * MiB) + 8 * PAGE, len: 32 * KiB, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS, file: null, pgoff: 0 });
    measure(m, () => writePages(m, a, 32 * KiB));
    expect(m.k.mmStats.anon_folios_by_order).toEqual({ 0: 8 });
  });

  it('a read maps the shared zero page; the first write copies it (zeroed) and flushes the stale read-only entry', () => {
    const m = machine('linux-6.12');
    const a = region(m, 2 * MiB);
    const r = measure(m, () => readPages(m, a, 64 * KiB));
    expect(r.faults).toBe(16);
    expect(m.k.mmStats.zero_page_maps).toBe(16);
    for (let i = 0; i < 16; i++) expect(ptePfn(rawPte(m, a + i * PAGE))).toBe(m.k.zeroPfn);
    const w = measure(m, () => writePages(m, a, 64 * KiB));
    // do_wp_page: no normal page behind the special entry, so wp_page_copy: ptep_clear_flush
    // (the entry was young: one flush_tlb_page each) and set_pte_at of the new page.
    expect(w.byPath).toEqual({ do_wp_page: 16 });
    expect(w.tlbi).toEqual({ VALE1IS: 16 });
    expect(w.tlbiBySite).toEqual({ ptep_clear_flush: 16 });
    expect(m.k.mmStats.cow_copies).toBe(16);
    expect(m.p.copyFromUser(a, 8)).toEqual(new Uint8Array(8));
    expect(w.bbm).toBe(0);
  });

  it('MADV_DONTNEED zaps a contiguous folio whole (no unfold), flushes once at the VMA end, and the next touch faults a fresh folio', () => {
    const m = machine('linux-6.12', ['anon_mthp=64K']);
    const a = region(m, 2 * MiB);
    writePages(m, a, 64 * KiB);
    expect(m.p.copyToUser(a + 100, new Uint8Array([7]))).toBe(1);
    const d = measure(m, () => expect(m.p.madvise(a, 64 * KiB, MADV_DONTNEED)).toBe(0));
    expect(d.converts).toBe(0);
    expect(d.pteWrites).toBe(16);
    expect(d.tlbi).toEqual({ RVALE1IS: 1 });
    expect(d.tlbiBySite).toEqual({ tlb_end_vma: 1 });
    // The folio went back to the allocator once the flush was done.
    expect(m.k.memmap.stats.frees_by_order).toEqual({ 4: 1 });
    const again = measure(m, () => writePages(m, a, 64 * KiB));
    expect(again.faults).toBe(1);
    expect(m.p.copyFromUser(a + 100, 1)).toEqual(new Uint8Array([0]));
  });
});

describe('MADV_DONTNEED of part of 64 KiB blocks (validate: block_ops dontneed, the same counts on 6.12 and 7.2)', () => {
  for (const profile of ['linux-6.12', 'linux-7.2']) {
    it(`${profile}: pages 8..23 unfold both blocks, the range flush starts page by page up to the 64 KiB boundary (LPA2), zapped pages read zero and are copied on write`, () => {
      const m = machine(profile, ['anon_mthp=64K']);
      const a = region(m, MiB);
      writePages(m, a, MiB);
      const d = measure(m, () => expect(m.p.madvise(a + 8 * PAGE, 16 * PAGE, MADV_DONTNEED)).toBe(0));
      // contpte_get_and_clear_full_ptes -> contpte_try_unfold_partial: one convert per cut block.
      expect(d.converts).toBe(2);
      expect(d.tlbiBySite).toEqual({ contpte_convert: 2, tlb_end_vma: 9 });
      expect(d.tlbi).toEqual({ RVALE1IS: 3, VALE1IS: 8 });
      const r = measure(m, () => {
        for (let p = 8; p < 24; p++) {
          expect(m.p.copyFromUser(a + p * PAGE, 1)).toEqual(new Uint8Array([0]));
          readPages(m, a + p * PAGE, PAGE);
          writePages(m, a + p * PAGE, PAGE);
        }
      });
      // A read fault maps the zero page; the write copies it (wp_page_copy: one VALE1IS each).
      expect(r.faults).toBe(32);
      expect(r.tlbi).toEqual({ VALE1IS: 16 });
      // The pages left in the cut blocks kept their data and take no fault.
      expect(measure(m, () => writePages(m, a, 8 * PAGE)).faults).toBe(0);
    });
  }
});

describe('MADV_FREE', () => {
  it('clears young and dirty of whole exclusive folios without unfolding; a folio covered in part is left alone', () => {
    const m = machine('linux-6.12', ['anon_mthp=64K']);
    const a = region(m, 2 * MiB);
    writePages(m, a, 128 * KiB);
    const c = measure(m, () => expect(m.p.madvise(a, 64 * KiB + 8 * PAGE, MADV_FREE)).toBe(0));
    // clear_young_dirty_ptes on the whole block: 16 stores, contiguous bit kept, no convert;
    // the range goes into the gather and is flushed once at the VMA end. The second folio is
    // only half covered (Linux would try to split it; the model skips it).
    expect(c.pteWrites).toBe(16);
    expect(c.converts).toBe(0);
    expect(c.tlbi).toEqual({ RVALE1IS: 1 });
    const p0 = rawPte(m, a);
    expect([pteCont(p0), pteYoung(p0), pteDirty(p0)]).toEqual([true, false, false]);
    const p1 = rawPte(m, a + 16 * PAGE);
    expect([pteCont(p1), pteDirty(p1)]).toEqual([true, true]);
    expect([c.bbm, c.contig]).toEqual([0, 0]);
  });
});

describe('access-flag faults (no hardware access flag)', () => {
  it('after MADV_FREE cleared AF, the first read of a contiguous block sets it on all 16 entries: one fault, no flush', () => {
    const m = machine('linux-6.12', ['hw_af=off', 'hw_dirty=off', 'anon_mthp=64K']);
    const a = region(m, 2 * MiB);
    writePages(m, a, 64 * KiB);
    expect(m.p.madvise(a, 64 * KiB, MADV_FREE)).toBe(0);
    const c = measure(m, () => readPages(m, a + 3 * PAGE, 13 * PAGE));
    // handle_pte_fault: pte_mkyoung, ptep_set_access_flags on a contiguous entry with the same
    // write permission: every sub-PTE gets AF, no unfold, and no flush for a read (dirty = 0).
    expect(c.faults).toBe(1);
    expect(c.byPath).toEqual({ handle_pte_fault: 1 });
    expect(m.k.faultStats.by_hw_kind).toEqual({ access_flag: 1 });
    expect([c.converts, c.tlbiTotal, c.pteWrites]).toEqual([0, 0, 16]);
    expect(pteYoung(rawPte(m, a))).toBe(true);
    expect(pteCont(rawPte(m, a))).toBe(true);
  });
});

describe('signals', () => {
  it('SIGSEGV SEGV_MAPERR outside any VMA, SEGV_ACCERR against the protection', () => {
    const m = machine('linux-6.12');
    const ro = region(m, 2 * MiB, PROT_READ);
    const none = m.p.mmap({ addr: 0, len: PAGE, prot: PROT_NONE, flags: MAP_PRIVATE | MAP_ANONYMOUS, file: null, pgoff: 0 });
    const hole = ro - 64 * MiB;
    const cases: Array<[number, 'read' | 'write' | 'exec', string]> = [
      [hole, 'read', 'SEGV_MAPERR'],
      [ro, 'write', 'SEGV_ACCERR'],
      [ro, 'exec', 'SEGV_ACCERR'],
      [none, 'read', 'SEGV_ACCERR'],
    ];
    for (const [va, access, code] of cases) {
      const t = accessUser(m.p, va, access);
      expect(t.ok).toBe(false);
      if (!t.ok) expect([t.outcome.signal, t.outcome.code]).toEqual(['SIGSEGV', code]);
    }
    expect(m.k.faultStats.signals).toEqual({ 'SIGSEGV/SEGV_MAPERR': 1, 'SIGSEGV/SEGV_ACCERR': 3 });
    // A read of the read-only mapping is fine (the zero page).
    expect(accessUser(m.p, ro, 'read').ok).toBe(true);
    // Executable anonymous memory can be fetched from.
    const x = m.p.mmap({ addr: 0, len: PAGE, prot: PROT_READ | PROT_EXEC, flags: MAP_PRIVATE | MAP_ANONYMOUS, file: null, pgoff: 0 });
    expect(accessUser(m.p, x, 'exec').ok).toBe(true);
  });

  it('a stack VMA (MAP_GROWSDOWN) grows down to a fault below it, within RLIMIT_STACK', () => {
    const m = machine('linux-6.12');
    const top = alignedHint(m, 16 * MiB);
    const s = m.p.mmap({ addr: top, len: 128 * KiB, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | 0x0100, file: null, pgoff: 0 });
    expect(s).toBe(top);
    expect(accessUser(m.p, s - 3 * PAGE + 8, 'write').ok).toBe(true);
    expect(m.p.vmas.vmaLookup(s - 3 * PAGE)!.start).toBe(s - 3 * PAGE);
    const far = accessUser(m.p, s + 128 * KiB - 9 * MiB, 'write');
    expect(far.ok).toBe(false);
  });
});

describe('brk', () => {
  it('grows a heap VMA from the break, shrinks it with munmap semantics, refuses below the base', () => {
    const m = machine('linux-6.12');
    const base = 0x40_0000 + 123;
    m.p.setBrkBase(base);
    const start = 0x40_1000;
    expect(m.p.brk(0)).toBe(start);
    expect(m.p.brk(start + 3 * PAGE + 5)).toBe(start + 3 * PAGE + 5);
    const heap = m.p.vmas.vmaLookup(start)!;
    expect([heap.start, heap.end]).toEqual([start, start + 4 * PAGE]);
    writePages(m, start, 4 * PAGE);
    const shrink = measure(m, () => expect(m.p.brk(start + PAGE)).toBe(start + PAGE));
    // The three pages given back are zapped: one last-level flush at the VMA end (pages 1..3 from
    // a 4K-aligned start: LPA2 needs single ops until 64K alignment: 3 x VALE1IS). The PTE table
    // stays (the first heap page still uses it).
    expect(shrink.tlbi).toEqual({ VALE1IS: 3 });
    expect(m.p.vmas.vmaLookup(start)!.end).toBe(start + PAGE);
    expect(m.p.brk(start - PAGE)).toBe(start + PAGE);
    expect(accessUser(m.p, start + 2 * PAGE, 'write').ok).toBe(false);
  });
});
