/**
 * mremap, msync, mlock and friends, mincore and MADV_POPULATE_*: argument checks with their
 * errnos, and exact counts where the page tables change (mremap's move_ptes with contpte,
 * msync's writeback with folio_mkclean).
 */
import { describe, expect, it } from 'vitest';
import {
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MCL_CURRENT,
  MCL_FUTURE,
  MCL_ONFAULT,
  MLOCK_ONFAULT,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  MS_ASYNC,
  MS_INVALIDATE,
  MS_SYNC,
  PROT_READ,
  PROT_WRITE,
  VM_LOCKED,
  VM_LOCKONFAULT,
} from '../../src/mm/index.js';
import { pteCont, pteNone, pteWrite, type Pte } from '../../src/pgtable/pte.js';
import { alignedHint, KiB, machine, measure, mmapShared, MiB, PAGE, readPages, writePages, type Machine } from './helpers.js';

const EINVAL = -22;
const ENOMEM = -12;
const EFAULT = -14;
const EBUSY = -16;

function raw(m: Machine, addr: number): Pte {
  const ptep = m.k.pgtable.tables.pteOffsetMap(m.p, addr);
  return ptep === undefined ? { lo: 0, hi: 0 } : m.k.pgtable.raw.__ptepGet(ptep);
}

function anon(m: Machine, len: number, at = alignedHint(m, len)): number {
  const a = m.p.mmap({ addr: at, len, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS, file: null, pgoff: 0 });
  expect(a).toBe(at);
  return a;
}

describe('mremap', () => {
  it('argument checks (mm/mremap.c)', () => {
    const m = machine('linux-6.12');
    const a = anon(m, 64 * KiB);
    expect(m.p.mremap(a, PAGE, PAGE, 8, 0)).toBe(EINVAL); // unknown flag
    expect(m.p.mremap(a, PAGE, PAGE, MREMAP_FIXED, a + MiB)).toBe(EINVAL); // FIXED without MAYMOVE
    expect(m.p.mremap(a, PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0)).toBe(EINVAL); // DONTUNMAP resizing
    expect(m.p.mremap(a + 1, PAGE, PAGE, 0, 0)).toBe(EINVAL);
    expect(m.p.mremap(a, PAGE, 0, 0, 0)).toBe(EINVAL);
    expect(m.p.mremap(a - 16 * MiB, PAGE, PAGE, 0, 0)).toBe(EFAULT); // nothing mapped there
    expect(m.p.mremap(a, 128 * KiB, 256 * KiB, MREMAP_MAYMOVE, 0)).toBe(EFAULT); // across the VMA's end
    expect(m.p.mremap(a, 0, PAGE, MREMAP_MAYMOVE, 0)).toBe(EINVAL); // duplicating a private mapping
    expect(m.p.mremap(a, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, a + PAGE)).toBe(EINVAL); // overlap
    expect(m.p.mremap(a, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, a + 16 * MiB + 1)).toBe(EINVAL);
  });

  it('shrinks in place (unmapping the tail) and grows in place when the space after is free; ENOMEM without MAYMOVE', () => {
    const m = machine('linux-6.12');
    const a = anon(m, 64 * KiB);
    writePages(m, a, 64 * KiB);
    expect(m.p.mremap(a, 64 * KiB, 32 * KiB, 0, 0)).toBe(a);
    expect(m.p.vmas.vmaLookup(a)!.end).toBe(a + 32 * KiB);
    expect(pteNone(raw(m, a + 40 * KiB))).toBe(true);
    expect(m.p.mremap(a, 32 * KiB, 128 * KiB, 0, 0)).toBe(a);
    expect(m.p.vmas.vmaLookup(a)!.end).toBe(a + 128 * KiB);
    // Something right after: no room to grow, and no permission to move.
    anon(m, PAGE, a + 128 * KiB);
    expect(m.p.mremap(a, 128 * KiB, 256 * KiB, 0, 0)).toBe(ENOMEM);
  });

  for (const [profile, batched] of [['linux-6.12', false], ['linux-7.2', true]] as const) {
    it(`${profile}: moving 128 KiB of 64 KiB mTHP ${batched ? 'moves each block whole (no convert)' : 'unfolds each block and folds it again at the new address'}, one flush_tlb_range of the old range`, () => {
      const m = machine(profile, ['anon_mthp=64K']);
      const a = anon(m, 128 * KiB);
      writePages(m, a, 128 * KiB);
      expect(m.p.copyToUser(a + 5 * PAGE, new Uint8Array([99]))).toBe(1);
      const to = a - 4 * MiB;
      let r = 0;
      const c = measure(m, () => (r = m.p.mremap(a, 128 * KiB, 128 * KiB, MREMAP_MAYMOVE | MREMAP_FIXED, to)));
      expect(r).toBe(to);
      expect(m.k.mmStats.mremap_ptes_moved).toBe(32);
      if (batched) {
        expect(c.api).toMatchObject({ get_and_clear_full_ptes: 2, set_ptes: 2 });
        expect(c.pteWrites).toBe(64);
        expect([c.converts, c.folds, c.unfolds]).toEqual([0, 0, 0]);
        expect(c.tlbi).toEqual({ RVAE1IS: 2 });
      } else {
        // Per block: an unfold at the first PTE, 16 clears, 16 sets, a fold at the 16th.
        expect(c.pteWrites).toBe(2 * (32 + 16 + 16 + 32));
        expect([c.converts, c.folds, c.unfolds]).toEqual([4, 2, 2]);
        expect(c.tlbi).toEqual({ RVALE1IS: 4, RVAE1IS: 2 });
        expect(c.tlbiBySite).toMatchObject({ contpte_convert: 4 });
      }
      // move_ptes' flush_tlb_range of the old range, then the munmap of the old range frees its
      // (now empty) PTE table: the final non-last-level flush.
      expect(c.tlbiBySite['move_ptes']).toBe(1);
      expect(c.tlbiBySite['tlb_finish_mmu']).toBe(1);
      expect([c.bbm, c.contig]).toEqual([0, 0]);
      expect(pteCont(raw(m, to))).toBe(true);
      expect(m.p.vmas.vmaLookup(a)).toBeNull();
      expect(m.p.copyFromUser(to + 5 * PAGE, 1)).toEqual(new Uint8Array([99]));
      // Nothing faulted: the pages moved with their PTEs.
      const f = measure(m, () => writePages(m, to, 128 * KiB));
      expect(f.faults).toBe(0);
    });
  }

  it('a whole 2 MiB-aligned PMD moves its PTE table (move_normal_pmd): no PTE written, one flush_tlb_range of the old PMD', () => {
    const m = machine('linux-6.12', ['anon_mthp=64K']);
    const a = anon(m, 2 * MiB);
    writePages(m, a, 2 * MiB);
    expect(m.p.copyToUser(a + 77 * PAGE, new Uint8Array([5]))).toBe(1);
    const to = a - 8 * MiB;
    let r = 0;
    const c = measure(m, () => (r = m.p.mremap(a, 2 * MiB, 2 * MiB, MREMAP_MAYMOVE | MREMAP_FIXED, to)));
    expect(r).toBe(to);
    expect([m.k.mmStats.mremap_pmds_moved, m.k.mmStats.mremap_ptes_moved]).toEqual([1, 0]);
    expect(c.pteWrites).toBe(0);
    expect(c.converts).toBe(0);
    expect(c.tlbi).toEqual({ RVAE1IS: 1 });
    expect(c.tlbiBySite).toEqual({ move_normal_pmd: 1 });
    expect([c.bbm, c.contig]).toEqual([0, 0]);
    expect(pteCont(raw(m, to))).toBe(true);
    expect(m.p.copyFromUser(to + 77 * PAGE, 1)).toEqual(new Uint8Array([5]));
    const f = measure(m, () => writePages(m, to, 2 * MiB));
    expect(f.faults).toBe(0);
    // The old range faults afresh (nothing mapped there any more).
    expect(m.p.vmas.vmaLookup(a)).toBeNull();
  });

  it('MREMAP_DONTUNMAP: the PTEs move, the old VMA stays (empty: reads give zeros)', () => {
    const m = machine('linux-6.12');
    const a = anon(m, 64 * KiB);
    writePages(m, a, 64 * KiB);
    expect(m.p.copyToUser(a, new Uint8Array([7]))).toBe(1);
    const r = m.p.mremap(a, 64 * KiB, 64 * KiB, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
    expect(r).toBeGreaterThan(0);
    expect(r).not.toBe(a);
    expect(m.p.copyFromUser(r, 1)).toEqual(new Uint8Array([7]));
    expect(m.p.vmas.vmaLookup(a)).not.toBeNull();
    expect(pteNone(raw(m, a))).toBe(true);
    expect(m.p.copyFromUser(a, 1)).toEqual(new Uint8Array([0]));
  });
});

describe('msync', () => {
  it('argument checks and holes', () => {
    const m = machine('linux-6.12');
    const a = anon(m, 64 * KiB);
    expect(m.p.msync(a, PAGE, 8)).toBe(EINVAL);
    expect(m.p.msync(a + 1, PAGE, MS_SYNC)).toBe(EINVAL);
    expect(m.p.msync(a, PAGE, MS_SYNC | MS_ASYNC)).toBe(EINVAL);
    expect(m.p.msync(a, 0, MS_SYNC)).toBe(0);
    expect(m.p.msync(a, 64 * KiB, MS_ASYNC)).toBe(0);
    // A hole before the VMA: plain MS_ASYNC stops at once, MS_SYNC goes on and reports it.
    expect(m.p.msync(a - 64 * KiB, 128 * KiB, MS_ASYNC)).toBe(ENOMEM);
    expect(m.p.msync(a - 64 * KiB, 128 * KiB, MS_SYNC)).toBe(ENOMEM);
    expect(m.p.msync(a, 64 * KiB, MS_SYNC)).toBe(0);
    expect(m.p.mlock(a, PAGE)).toBe(0);
    expect(m.p.msync(a, PAGE, MS_INVALIDATE)).toBe(EBUSY);
  });

  for (const profile of ['linux-6.12', 'linux-7.2']) {
    it(`${profile}: MS_SYNC writes back a shared ext4 mapping: each dirty PTE cleaned with ptep_clear_flush (one VALE1IS each); the next writes go through ->page_mkwrite`, () => {
      const m = machine(profile);
      const f = m.k.newInode({ fsType: 'ext4' });
      expect(m.k.truncate(f, 64 * KiB).kind).toBe('ok');
      const a = mmapShared(m, f, 64 * KiB, alignedHint(m, 64 * KiB));
      writePages(m, a, 64 * KiB);
      expect(pteWrite(raw(m, a))).toBe(true);
      const c = measure(m, () => expect(m.p.msync(a, 64 * KiB, MS_SYNC)).toBe(0));
      // A sparse file's first pages are order-0 folios (read-around at order 0): no block.
      expect(m.k.mmStats.writeback_folios).toBe(16);
      expect(c.api).toEqual({ ptep_clear_flush: 16, ptep_get_and_clear: 16, set_ptes: 16 });
      expect(c.pteWrites).toBe(32);
      expect(c.tlbi).toEqual({ VALE1IS: 16 });
      expect(c.tlbiBySite).toEqual({ ptep_clear_flush: 16 });
      expect(pteWrite(raw(m, a))).toBe(false);
      expect(c.bbm).toBe(0);
      // Clean now: a second msync writes nothing back.
      const again = measure(m, () => expect(m.p.msync(a, 64 * KiB, MS_SYNC)).toBe(0));
      expect([m.k.mmStats.writeback_folios, again.tlbiTotal]).toEqual([0, 0]);
      // The next write of each page: do_wp_page, reuse, the access-flag flush (local in 7.x).
      const w = measure(m, () => writePages(m, a, 64 * KiB));
      expect(w.byPath).toEqual({ do_wp_page: 16 });
      expect(w.tlbi).toEqual(profile === 'linux-7.2' ? { VALE1: 16 } : { VALE1IS: 16 });
    });
  }
});

describe('mlock family', () => {
  it('mlock populates and sets VM_LOCKED (splitting the VMA); munlock clears it; mlock2(MLOCK_ONFAULT) does not populate', () => {
    const m = machine('linux-6.12');
    const a = anon(m, 64 * KiB);
    const c = measure(m, () => expect(m.p.mlock(a + 100, 2 * PAGE)).toBe(0));
    // [a, a + 3 pages): the range widened to whole pages, written (private writable).
    expect(c.byPath).toEqual({ do_anonymous_page: 3 });
    expect(m.p.vmas.vmaLookup(a)!.flags & VM_LOCKED).toBe(VM_LOCKED);
    expect(m.p.vmas.vmaLookup(a)!.end).toBe(a + 3 * PAGE);
    expect(m.p.munlock(a, 3 * PAGE)).toBe(0);
    expect(m.p.vmas.vmaLookup(a)!.flags & VM_LOCKED).toBe(0);
    expect(m.p.vmas.vmaLookup(a)!.end).toBe(a + 64 * KiB);
    expect(m.p.mlock2(a, PAGE, 2)).toBe(EINVAL);
    const d = measure(m, () => expect(m.p.mlock2(a + 8 * PAGE, 4 * PAGE, MLOCK_ONFAULT)).toBe(0));
    expect(d.faults).toBe(0);
    expect(m.p.vmas.vmaLookup(a + 8 * PAGE)!.flags & (VM_LOCKED | VM_LOCKONFAULT)).toBe(VM_LOCKED | VM_LOCKONFAULT);
    expect(m.p.mlock(a - 16 * MiB, PAGE)).toBe(ENOMEM);
  });

  it('mlockall(MCL_CURRENT|MCL_FUTURE) locks and populates what exists and what comes; munlockall undoes it', () => {
    const m = machine('linux-6.12');
    expect(m.p.mlockall(0)).toBe(EINVAL);
    expect(m.p.mlockall(MCL_ONFAULT)).toBe(EINVAL);
    expect(m.p.mlockall(8)).toBe(EINVAL);
    const a = anon(m, 64 * KiB);
    const c = measure(m, () => expect(m.p.mlockall(MCL_CURRENT | MCL_FUTURE)).toBe(0));
    // The helper's neighbour mapping (16 pages) and this one (16 pages).
    expect(c.byPath).toEqual({ do_anonymous_page: 32 });
    const d = measure(m, () => anon(m, 32 * KiB, a - MiB));
    expect(d.byPath).toEqual({ do_anonymous_page: 8 });
    expect(m.p.munlockall()).toBe(0);
    for (const v of m.p.vmas.all()) expect(v.flags & VM_LOCKED).toBe(0);
    const e = measure(m, () => anon(m, 32 * KiB, a - 2 * MiB));
    expect(e.faults).toBe(0);
    // MCL_FUTURE|MCL_ONFAULT: locked, not populated.
    expect(m.p.mlockall(MCL_FUTURE | MCL_ONFAULT)).toBe(0);
    const f = measure(m, () => anon(m, 32 * KiB, a - 3 * MiB));
    expect(f.faults).toBe(0);
    expect(m.p.vmas.vmaLookup(a - 3 * MiB)!.flags & VM_LOCKONFAULT).toBe(VM_LOCKONFAULT);
  });
});

describe('mincore and MADV_POPULATE_*', () => {
  it('mincore: present PTEs and cached file pages are 1; EINVAL, ENOMEM', () => {
    const m = machine('linux-6.12');
    const a = anon(m, 64 * KiB);
    writePages(m, a + 2 * PAGE, PAGE);
    readPages(m, a + 4 * PAGE, PAGE);
    const v = m.p.mincore(a, 8 * PAGE);
    expect(v).toEqual(new Uint8Array([0, 0, 1, 0, 1, 0, 0, 0]));
    expect(m.p.mincore(a + 1, PAGE)).toBe(EINVAL);
    expect(m.p.mincore(a + 60 * KiB, 8 * PAGE)).toBe(ENOMEM);
    const f = m.k.newInode({ fsType: 'ext4', content: new Uint8Array(64 * KiB).fill(1) });
    const s = mmapShared(m, f, 64 * KiB);
    // Nothing mapped or cached yet; one read brings the fault-around window into the cache.
    expect(m.p.mincore(s, 4 * PAGE)).toEqual(new Uint8Array(4));
    readPages(m, s, PAGE);
    expect(m.p.mincore(s, 4 * PAGE)).toEqual(new Uint8Array([1, 1, 1, 1]));
  });

  it('MADV_POPULATE_READ maps the zero page, MADV_POPULATE_WRITE breaks it; EINVAL on a read-only mapping, ENOMEM on a hole', () => {
    const m = machine('linux-6.12');
    const a = anon(m, 64 * KiB);
    const r = measure(m, () => expect(m.p.madvise(a, 4 * PAGE, MADV_POPULATE_READ)).toBe(0));
    expect(r.byPath).toEqual({ do_anonymous_page: 4 });
    expect(m.k.mmStats.zero_page_maps).toBe(4);
    const w = measure(m, () => expect(m.p.madvise(a, 4 * PAGE, MADV_POPULATE_WRITE)).toBe(0));
    expect(w.byPath).toEqual({ do_wp_page: 4 });
    const again = measure(m, () => expect(m.p.madvise(a, 4 * PAGE, MADV_POPULATE_WRITE)).toBe(0));
    expect(again.faults).toBe(0);
    expect(m.p.mprotect(a, PAGE, PROT_READ)).toBe(0);
    expect(m.p.madvise(a, PAGE, MADV_POPULATE_WRITE)).toBe(EINVAL);
    expect(m.p.madvise(a + 60 * KiB, 8 * PAGE, MADV_POPULATE_READ)).toBe(ENOMEM);
  });
});
