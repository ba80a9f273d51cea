/**
 * Folding and unfolding: when contpte_try_fold folds (only on the last PTE of an aligned block,
 * with every B.5 condition), the exact cost of a fold and of an unfold, and the two patterns of
 * the reference (per-page mapping of a large folio; the mprotect-one-page-and-restore pattern).
 */
import { describe, expect, it } from 'vitest';
import { MT_NORMAL_NC, PAGE_SIZE, pfnPte, pteCont, pteMkspecial, pteMkold, pteMkclean, type Pte } from '../../src/pgtable/index.js';
import { Rig, RO, RW, VA } from './rig.js';

const B = 0x10000; // one 64 KiB block

describe('set_ptes of one page at a time over an aligned 64 KiB folio', () => {
  it('writes 15 plain entries, then folds on the 16th: 1 + 16 clears + range TLBI + 16 contiguous writes', () => {
    const r = new Rig().prepare();
    const f = r.folio(4);
    r.mapPerPage(VA, f.firstPfn, 15);
    expect(r.sequence()).toEqual(['W×15']);
    expect(r.counts().fold_attempts).toBe(0);
    const m = r.mark();
    r.mapPerPage(VA + 15 * PAGE_SIZE, f.firstPfn + 15, 1);
    expect(r.sequence(m)).toEqual(['W×1', 'convert', 'W×16', 'dsb ishst', 'RVALE1IS', 'dsb ish', 'W×16']);
    expect(r.tlbis(m)).toEqual(['RVALE1IS asid=2 [0x40000000, 0x40010000) 16 pages (TG=1 SCALE=0 NUM=7) ttl=level 3']);
    const c = r.counts();
    expect(c).toMatchObject({ pte_writes: 48, folds: 1, unfolds: 0, converts: 1, fold_attempts: 1, tlbi: 1, dsb: 2, bbm: 0, contig: 0 });
    for (let i = 0; i < 16; i++) {
      const p = r.raw(VA + i * PAGE_SIZE);
      expect(pteCont(p)).toBe(true);
      expect(p).toEqual(pfnPte(f.firstPfn + i, { lo: RW.lo, hi: RW.hi | (1 << 20) }));
    }
  });

  it('folds exactly once per block of an order-5 folio mapped page by page, on each 16th page', () => {
    const r = new Rig();
    const f = r.folio(5);
    for (let i = 0; i < 32; i++) {
      const before = r.counts().folds;
      r.mapPerPage(VA + i * PAGE_SIZE, f.firstPfn + i, 1);
      expect(r.counts().folds - before).toBe(i % 16 === 15 ? 1 : 0);
    }
    expect(r.counts()).toMatchObject({ folds: 2, converts: 2, fold_attempts: 2, tlbi: 2, pte_writes: 32 + 2 * 32 });
  });

  it('without FEAT_TLBIRANGE the fold costs 16 VALE1IS with a level-3 hint', () => {
    const r = new Rig({ tlbiRange: false });
    const f = r.folio(4);
    r.mapPerPage(VA, f.firstPfn, 16);
    const t = r.tlbis();
    expect(t).toHaveLength(16);
    for (let i = 0; i < 16; i++) expect(t[i]).toBe(`VALE1IS asid=2 va=0x${(VA + i * PAGE_SIZE).toString(16)} ttl=level 3`);
  });

  it('without FEAT_TTL the single TLBIs carry no hint', () => {
    const r = new Rig({ tlbiRange: false, tlbiTtl: false });
    const f = r.folio(4);
    r.mapPerPage(VA, f.firstPfn, 16);
    expect(r.tlbis()[0]).toBe(`VALE1IS asid=2 va=0x${VA.toString(16)}`);
  });

  it('with KPTI every TLBI is issued twice, the second for the user ASID', () => {
    const r = new Rig({ kpti: true });
    const f = r.folio(4);
    r.mapPerPage(VA, f.firstPfn, 16);
    expect(r.tlbis()).toEqual([
      'RVALE1IS asid=2 [0x40000000, 0x40010000) 16 pages (TG=1 SCALE=0 NUM=7) ttl=level 3',
      'RVALE1IS asid=3 [0x40000000, 0x40010000) 16 pages (TG=1 SCALE=0 NUM=7) ttl=level 3',
    ]);
    expect(r.counts().bbm).toBe(0);
  });

  it('with BBML2_NOABORT contpte_convert issues no TLBI and no DSB, and the checker accepts it', () => {
    const r = new Rig({ bbml2Noabort: true }).prepare();
    const f = r.folio(4);
    r.mapPerPage(VA, f.firstPfn, 16);
    expect(r.sequence()).toEqual(['W×16', 'convert', 'W×32']);
    expect(r.counts()).toMatchObject({ folds: 1, tlbi: 0, dsb: 0, bbm: 0, contig: 0 });
  });

  it('mapping the whole folio with one set_ptes writes it contiguous at once: no fold, no TLBI', () => {
    const r = new Rig().prepare();
    const f = r.folio(4);
    r.mapWhole(VA, f.firstPfn, 16);
    expect(r.sequence()).toEqual(['W×16']);
    expect(r.counts()).toMatchObject({ pte_writes: 16, folds: 0, converts: 0, fold_attempts: 0, tlbi: 0, dsb: 0 });
    for (let i = 0; i < 16; i++) expect(pteCont(r.raw(VA + i * PAGE_SIZE))).toBe(true);
  });

  it('contpte_set_ptes writes only aligned, fully covered 64 KiB pieces contiguous', () => {
    const r = new Rig();
    const f = r.folio(6); // 64 pages, 256 KiB aligned
    // From page 8 for 40 pages: [8,16) plain, [16,32) cont, [32,48) cont.
    r.mapWhole(VA + 8 * PAGE_SIZE, f.firstPfn + 8, 40);
    const cont = Array.from({ length: 48 }, (_, i) => (i < 8 ? null : pteCont(r.raw(VA + i * PAGE_SIZE))));
    expect(cont.slice(8, 16).every((c) => c === false)).toBe(true);
    expect(cont.slice(16, 48).every((c) => c === true)).toBe(true);
    // Physically misaligned: VA aligned but pfn offset by one page: nothing contiguous.
    const r2 = new Rig();
    const g = r2.folio(6);
    r2.mapWhole(VA, g.firstPfn + 1, 32);
    for (let i = 0; i < 32; i++) expect(pteCont(r2.raw(VA + i * PAGE_SIZE))).toBe(false);
  });
});

describe('each fold condition broken alone prevents the fold (reference B.5)', () => {
  /** Maps pages 0..14 of an aligned order-4 folio with `prot`, then page 15 with `last`. */
  function attempt(opts: { last?: (pfn: number) => Pte; before?: (r: Rig, pfn: number) => void; order?: number; va?: number; isUser?: boolean; fold?: boolean }) {
    const r = new Rig({ contpteFold: opts.fold ?? true });
    const f = r.folio(opts.order ?? 4);
    const va = opts.va ?? VA;
    if (opts.isUser === false) (r.wb as unknown as { mm: { isUser: boolean } }).mm.isUser = false;
    if (opts.before) opts.before(r, f.firstPfn);
    else r.mapPerPage(va, f.firstPfn, 15);
    const last = opts.last ? opts.last(f.firstPfn + 15) : pfnPte(f.firstPfn + 15, RW);
    r.api.setPtes(r.mm, va + 15 * PAGE_SIZE, r.ptep(va + 15 * PAGE_SIZE), last, 1);
    return r.counts();
  }

  it('control: all conditions hold, it folds', () => {
    expect(attempt({})).toMatchObject({ fold_attempts: 1, folds: 1 });
  });
  it('AF and dirty differences do not matter (they are ORed)', () => {
    expect(attempt({ last: (pfn) => pteMkold(pteMkclean(pfnPte(pfn, RW))) })).toMatchObject({ folds: 1 });
  });
  it('automatic folding switched off (6.8-style contpte): no attempt', () => {
    expect(attempt({ fold: false })).toMatchObject({ fold_attempts: 0, folds: 0 });
  });
  it('not the last entry of the block: written last, entry 3 never folds', () => {
    const c = attempt({
      before: (r, pfn) => {
        for (let i = 0; i < 16; i++) if (i !== 3) r.mapPerPage(VA + i * PAGE_SIZE, pfn + i, 1);
        r.mapPerPage(VA + 3 * PAGE_SIZE, pfn + 3, 1);
      },
      last: (pfn) => pfnPte(pfn, RW), // rewriting entry 15 with the same value: this one may fold
    });
    // Entry 15 was written before entry 3 (attempt failed: 3 was none); entry 3 last: no attempt;
    // the final rewrite of 15 then folds.
    expect(c).toMatchObject({ fold_attempts: 2, folds: 1 });
  });
  it('pfn not the last of an aligned group (pfn % 16 != 15): no attempt', () => {
    expect(attempt({ order: 5, before: (r, pfn) => r.mapPerPage(VA, pfn + 1, 15), last: (pfn) => pfnPte(pfn + 1, RW) })).toMatchObject({ fold_attempts: 0, folds: 0 });
  });
  it('an invalid new entry: no attempt', () => {
    expect(attempt({ last: (pfn) => ({ lo: pfnPte(pfn, RW).lo & ~1, hi: pfnPte(pfn, RW).hi }) })).toMatchObject({ fold_attempts: 0, folds: 0 });
  });
  it('a special mapping: no attempt (no folio behind it)', () => {
    expect(attempt({ last: (pfn) => pteMkspecial(pfnPte(pfn, RW)) })).toMatchObject({ fold_attempts: 0, folds: 0 });
  });
  it('a kernel mm (init_mm): attempted, refused', () => {
    expect(attempt({ isUser: false })).toMatchObject({ fold_attempts: 1, folds: 0 });
  });
  it('two order-3 folios covering the block: attempted, refused (direct)', () => {
    const r = new Rig().prepare();
    const [a, b] = r.order3Pair();
    r.mapPerPage(VA, a, 8);
    r.mapPerPage(VA + 8 * PAGE_SIZE, b, 8);
    expect(r.counts()).toMatchObject({ fold_attempts: 1, folds: 0, tlbi: 0 });
  });
  it('order-0 pages at aligned frames: attempted, refused (the folio does not cover the block)', () => {
    const r = new Rig().prepare();
    const pages = r.alignedOrder0Run();
    expect(pages[15]! % 16).toBe(15);
    for (let i = 0; i < 16; i++) r.mapPerPage(VA + i * PAGE_SIZE, pages[i]!, 1);
    expect(r.counts()).toMatchObject({ fold_attempts: 1, folds: 0, tlbi: 0 });
  });
  it('one entry with different permissions: refused', () => {
    expect(attempt({ before: (r, pfn) => { r.mapPerPage(VA, pfn, 15); r.api.ptepSetWrprotect(r.mm, VA + 5 * PAGE_SIZE, r.ptep(VA + 5 * PAGE_SIZE)); } })).toMatchObject({ fold_attempts: 1, folds: 0 });
  });
  it('one entry missing (none): refused', () => {
    expect(attempt({ before: (r, pfn) => { r.mapPerPage(VA, pfn, 6); r.mapPerPage(VA + 7 * PAGE_SIZE, pfn + 7, 8); } })).toMatchObject({ fold_attempts: 1, folds: 0 });
  });
  it('pfns not consecutive: refused', () => {
    expect(attempt({ order: 5, before: (r, pfn) => { r.mapPerPage(VA, pfn, 15); r.api.setPtes(r.mm, VA + 4 * PAGE_SIZE, r.ptep(VA + 4 * PAGE_SIZE), pfnPte(pfn + 20, RW), 1); } })).toMatchObject({ fold_attempts: 1, folds: 0 });
  });
  it('a different memory attribute on one entry: refused', () => {
    expect(attempt({ before: (r, pfn) => { r.mapPerPage(VA, pfn, 14); r.mapPerPage(VA + 14 * PAGE_SIZE, pfn + 14, 1, { lo: (RW.lo & ~(7 << 2)) | (MT_NORMAL_NC << 2), hi: RW.hi }); } })).toMatchObject({ fold_attempts: 1, folds: 0 });
  });
});

describe('the mprotect-one-page-and-restore pattern on a folded block (reference, real-kernel observations)', () => {
  function protectAndRestore(r: Rig, page: number): void {
    const va = VA + page * PAGE_SIZE;
    const ptep = r.ptep(va);
    const old = r.api.ptepModifyProtStart(r.mm, va, ptep);
    r.api.ptepModifyProtCommit(r.mm, va, ptep, old, pfnPte(pfnFrom(old), RO));
    r.wb.pgtable.flush.flushTlbPage(r.mm, va); // mprotect's own flush (1 VALE1IS, from the gather)
    const old2 = r.api.ptepModifyProtStart(r.mm, va, ptep);
    r.api.ptepModifyProtCommit(r.mm, va, ptep, old2, pfnPte(pfnFrom(old2), RW));
    r.wb.pgtable.flush.flushTlbPage(r.mm, va);
  }
  const pfnFrom = (p: Pte): number => (p.hi & 0xffff) * 0x100000 + (p.lo >>> 12);

  it('page 15: each protect/restore pair costs exactly two contpte_convert calls (one unfold, one fold) and 4 TLBIs', () => {
    const r = new Rig();
    const f = r.folio(4);
    r.mapWhole(VA, f.firstPfn, 16);
    for (let round = 0; round < 3; round++) {
      r.resetCounts();
      protectAndRestore(r, 15);
      expect(r.counts()).toMatchObject({ converts: 2, unfolds: 1, folds: 1, tlbi: 4, bbm: 0, contig: 0 });
      expect(r.since(0, ['tlbi']).map((e) => (e.kind === 'tlbi' ? e.op : ''))).toEqual(['RVALE1IS', 'VALE1IS', 'RVALE1IS', 'VALE1IS']);
      expect(pteCont(r.raw(VA))).toBe(true);
    }
  });

  it('page 0: the first pair unfolds once, the block never refolds, later pairs cost one VALE1IS per call', () => {
    const r = new Rig();
    const f = r.folio(4);
    r.mapWhole(VA, f.firstPfn, 16);
    protectAndRestore(r, 0);
    expect(r.counts()).toMatchObject({ converts: 1, unfolds: 1, folds: 0, tlbi: 3, fold_attempts: 0 });
    for (let round = 0; round < 3; round++) {
      r.resetCounts();
      protectAndRestore(r, 0);
      expect(r.counts()).toMatchObject({ converts: 0, tlbi: 2, by_op: { VALE1IS: 2 } });
      expect(pteCont(r.raw(VA + 15 * PAGE_SIZE))).toBe(false);
    }
  });
});

describe('the checker', () => {
  it('stays silent across every fold and unfold of the model', () => {
    const r = new Rig();
    const f = r.folio(6);
    r.mapPerPage(VA, f.firstPfn, 64);
    for (let b = 0; b < 4; b++) r.api.ptepSetWrprotect(r.mm, VA + b * B + 3 * PAGE_SIZE, r.ptep(VA + b * B + 3 * PAGE_SIZE));
    r.api.getAndClearFullPtes(r.mm, VA, r.ptep(VA), 64);
    expect(r.counts()).toMatchObject({ folds: 4, unfolds: 4, bbm: 0, contig: 0 });
  });

  it('flags a deliberately wrong repaint: contiguous bit set without clearing and invalidating', () => {
    const r = new Rig();
    const f = r.folio(4);
    r.mapPerPage(VA, f.firstPfn, 15);
    // Touch the block so the TLB holds the plain entries, then repaint 16 entries in place.
    for (let i = 0; i < 15; i++) r.wb.mmu.translate(VA + i * PAGE_SIZE, 'read', 0);
    const cont = { lo: RW.lo, hi: RW.hi | (1 << 20) };
    r.wb.pgtable.raw.__setPtes(r.mm, VA, r.ptep(VA), pfnPte(f.firstPfn, cont), 16);
    r.wb.mmu.settle();
    expect(r.counts().bbm).toBeGreaterThan(0);
  });

  it('flags a misprogrammed contiguous block (one entry left plain)', () => {
    const r = new Rig();
    const f = r.folio(4);
    const cont = { lo: RW.lo, hi: RW.hi | (1 << 20) };
    r.wb.pgtable.raw.__setPtes(r.mm, VA, r.ptep(VA), pfnPte(f.firstPfn, cont), 15);
    r.wb.pgtable.raw.__setPtes(r.mm, VA + 15 * PAGE_SIZE, r.ptep(VA + 15 * PAGE_SIZE), pfnPte(f.firstPfn + 15, RW), 1);
    r.wb.mmu.settle();
    expect(r.counts().contig).toBeGreaterThan(0);
  });
});
