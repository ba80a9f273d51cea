/**
 * The pte_t helpers the hot paths lean on: the fold scan's word-level comparison must decide
 * exactly as the Pte-level expression it replaces, and the pte_mk* helpers keep their values
 * (handing back the same object only when nothing changes).
 */
import { describe, expect, it } from 'vitest';
import {
  PAGE_NONE,
  PAGE_READONLY,
  PAGE_SHARED,
  PAGE_SHARED_EXEC,
  pfnPte,
  pteEqual,
  pteMkclean,
  pteMkcont,
  pteMkdirty,
  pteMknoncont,
  pteMkold,
  pteMkwrite,
  pteMkwriteDirty,
  pteMkyoung,
  pteOldCleanIs,
  ptePgprot,
  PTE_AF_LO,
  PTE_DIRTY_HI,
  PTE_RDONLY_LO,
  PTE_WRITE_HI,
  type Pte,
} from '../../src/pgtable/index.js';

/** xorshift32: a fixed sequence, so a failure reproduces. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const PROTS = [PAGE_NONE, PAGE_READONLY, PAGE_SHARED, PAGE_SHARED_EXEC, pteMkwrite(pteMkdirty(PAGE_SHARED))];

describe('pteOldCleanIs (the fold scan on raw words)', () => {
  it('agrees with pte_same(pte_mkold(pte_mkclean(sub)), pfn_pte(pfn, prot)) on 20,000 entries, half of them matches', () => {
    const next = rng(0x5eed);
    let matches = 0;
    let unflippedWrite = 0;
    for (let n = 0; n < 20_000; n++) {
      const pfn = next() % 2 ** 24 + (next() % 16) * 2 ** 24; // up to 2^28: both halves of the address
      const src = PROTS[next() % PROTS.length]!;
      const prot = ptePgprot(pteMkold(pteMkclean(src)));
      let sub: Pte;
      if (n % 2 === 0) {
        // A would-be match: the expected entry with its access, dirty and RDONLY bits shuffled.
        const e = pfnPte(pfn, src);
        const flip = next();
        if ((flip & 8) === 0) unflippedWrite++;
        sub = {
          lo: (e.lo ^ (flip & 1 ? PTE_AF_LO : 0) ^ (flip & 2 ? PTE_RDONLY_LO : 0)) >>> 0,
          hi: (e.hi ^ (flip & 4 ? PTE_DIRTY_HI : 0) ^ (flip & 8 ? PTE_WRITE_HI : 0)) >>> 0,
        };
      } else {
        sub = { lo: next(), hi: next() & 0x07ff_ffff };
      }
      const expected = pteEqual(pteMkold(pteMkclean(sub)), pfnPte(pfn, prot));
      expect(pteOldCleanIs(sub.lo, sub.hi, pfn, prot)).toBe(expected);
      if (expected) matches++;
    }
    // Flipping PTE_WRITE is a real difference; the other three flips are not.
    expect(matches).toBe(unflippedWrite);
    expect(matches).toBeGreaterThan(4_000);
  });

  it('rejects the neighbouring pfn and a different memory attribute', () => {
    const prot = ptePgprot(pteMkold(pteMkclean(PAGE_SHARED)));
    const e = pfnPte(0x40010, PAGE_SHARED);
    expect(pteOldCleanIs(e.lo, e.hi, 0x40010, prot)).toBe(true);
    expect(pteOldCleanIs(e.lo, e.hi, 0x40011, prot)).toBe(false);
    expect(pteOldCleanIs((e.lo | (2 << 2)) >>> 0, e.hi, 0x40010, prot)).toBe(false);
  });
});

describe('pte_mk* helpers', () => {
  it('pteMkwriteDirty is pte_mkwrite(pte_mkdirty()) bit for bit, returning the same object when nothing changes', () => {
    const next = rng(11);
    for (let n = 0; n < 2_000; n++) {
      const p: Pte = { lo: next(), hi: next() };
      const want = pteMkwrite(pteMkdirty(p));
      const got = pteMkwriteDirty(p);
      expect(got).toEqual(want);
      expect(got === p).toBe(pteEqual(want, p));
    }
    const already = pteMkwrite(pteMkdirty(PAGE_SHARED));
    expect(pteMkwriteDirty(already)).toBe(already);
  });

  it('compute the same bits as before and hand back the same object only when nothing changes', () => {
    const next = rng(7);
    for (let n = 0; n < 2_000; n++) {
      const p: Pte = { lo: next(), hi: next() };
      const cases: Array<[Pte, Pte]> = [
        [pteMkyoung(p), { lo: (p.lo | PTE_AF_LO) >>> 0, hi: p.hi }],
        [pteMkold(p), { lo: (p.lo & ~PTE_AF_LO) >>> 0, hi: p.hi }],
        [pteMknoncont(p), { lo: p.lo, hi: (p.hi & ~(1 << 20)) >>> 0 }],
        [pteMkcont(p), { lo: (p.lo | 3) >>> 0, hi: (p.hi | (1 << 20)) >>> 0 }],
        [pteMkclean(p), { lo: (p.lo | PTE_RDONLY_LO) >>> 0, hi: (p.hi & ~PTE_DIRTY_HI) >>> 0 }],
        [pteMkdirty(p), { lo: p.hi & PTE_WRITE_HI ? (p.lo & ~PTE_RDONLY_LO) >>> 0 : p.lo, hi: (p.hi | PTE_DIRTY_HI) >>> 0 }],
      ];
      for (const [got, want] of cases) {
        expect(got).toEqual(want);
        expect(got === p).toBe(pteEqual(want, p));
      }
    }
  });
});
