/**
 * Every public API of the reference's B.2 table: the exact sequence of PTE writes, TLBIs and DSBs
 * for a contiguous and a non-contiguous target, aligned, unaligned and partial ranges, under the
 * default CPU (FEAT_TLBIRANGE), without range ops, with KPTI and with BBML2_NOABORT.
 *
 * Sequences are written as fragments (one contpte_convert, one 64 KiB range flush, one page
 * flush) that depend on the policy; the fragments themselves are spelled out by hand below.
 */
import { describe, expect, it } from 'vitest';
import {
  CYDP_CLEAR_DIRTY,
  CYDP_CLEAR_YOUNG,
  PAGE_NONE,
  PAGE_SIZE,
  pfnPte,
  pteCont,
  pteDirty,
  pteMkold,
  pteMkyoung,
  ptePfn,
  pteWrite,
  pteYoung,
  type PgtablePolicy,
} from '../../src/pgtable/index.js';
import { Rig, RO, RW, VA } from './rig.js';

interface Case {
  name: string;
  policy: Partial<PgtablePolicy>;
}
const POLICIES: Case[] = [
  { name: 'default (FEAT_TLBIRANGE)', policy: {} },
  { name: 'without FEAT_TLBIRANGE', policy: { tlbiRange: false } },
  { name: 'KPTI', policy: { kpti: true } },
  { name: 'BBML2_NOABORT', policy: { bbml2Noabort: true } },
];

/** The flush of one 64 KiB block, as __flush_tlb_range(64K, PAGE_SIZE, last level, level 3). */
function blockFlush(p: Partial<PgtablePolicy>, sync: boolean): string[] {
  let ops: string[];
  if (p.tlbiRange === false) ops = Array.from({ length: 16 }, () => 'VALE1IS');
  else ops = ['RVALE1IS'];
  if (p.kpti) ops = ops.flatMap((o) => [o, o]);
  return ['dsb ishst', ...ops, ...(sync ? ['dsb ish'] : [])];
}

/** flush_tlb_page(_nosync): one VALE1IS without a level hint. */
function pageFlush(p: Partial<PgtablePolicy>, sync: boolean): string[] {
  return ['dsb ishst', ...(p.kpti ? ['VALE1IS', 'VALE1IS'] : ['VALE1IS']), ...(sync ? ['dsb ish'] : [])];
}

/** One contpte_convert: 16 clears, the block flush (none under BBML2), 16 writes. */
function convert(p: Partial<PgtablePolicy>): string[] {
  return ['convert', 'W×16', ...(p.bbml2Noabort ? [] : blockFlush(p, true)), 'W×16'];
}

/** Concatenates fragments, merging adjacent PTE-write runs as Rig.sequence() does. */
function seq(...parts: (string | string[])[]): string[] {
  const out: string[] = [];
  for (const s of parts.flat()) {
    const last = out[out.length - 1];
    if (s.startsWith('W×') && last?.startsWith('W×')) out[out.length - 1] = `W×${Number(last.slice(2)) + Number(s.slice(2))}`;
    else out.push(s);
  }
  return out;
}

const W = (n: number): string => `W×${n}`;
const B = 0x10000;

/** A rig with: block 0 contiguous (an order-5 folio mapped whole: blocks 0 and 1 contiguous), block 2 plain. */
function setup(policy: Partial<PgtablePolicy>): { r: Rig; cont: number; cont2: number; plain: number; pfn: number; plainPfn: number } {
  const r = new Rig(policy).prepare();
  const f = r.folio(5);
  r.mapWhole(VA, f.firstPfn, 32);
  const g = r.folio(5);
  // Mapped from the folio's second page: physically misaligned, so never contiguous.
  r.mapWhole(VA + 2 * B, g.firstPfn + 1, 16);
  r.resetCounts();
  expect(pteCont(r.raw(VA))).toBe(true);
  expect(pteCont(r.raw(VA + 2 * B))).toBe(false);
  return { r, cont: VA, cont2: VA + B, plain: VA + 2 * B, pfn: f.firstPfn, plainPfn: g.firstPfn + 1 };
}

for (const { name, policy: p } of POLICIES) {
  describe(`public API, ${name}`, () => {
    it('ptep_get / ptep_get_lockless: no writes; a contiguous entry reports the block-wide access and dirty state', () => {
      const { r, cont, plain } = setup(p);
      // Make the block old and clean except one entry, which is young.
      r.api.clearYoungDirtyPtes(r.mm, cont, r.ptep(cont), 16, CYDP_CLEAR_YOUNG | CYDP_CLEAR_DIRTY);
      r.api.setPtes; // (no-op reference to keep the API list visible)
      const m = r.mark();
      const got = r.api.ptepGet(r.ptep(cont + 3 * PAGE_SIZE));
      const lockless = r.api.ptepGetLockless(r.ptep(cont + 3 * PAGE_SIZE));
      expect(r.sequence(m)).toEqual([]);
      expect(pteYoung(got)).toBe(false);
      expect(lockless).toEqual(got);
      r.wb.pgtable.raw.__ptepTestAndClearYoung(r.mm, cont, r.ptep(cont)); // still old
      expect(pteYoung(r.api.ptepGet(r.ptep(plain)))).toBe(true);
    });

    it('set_ptes(nr = 1) over a valid contiguous entry unfolds first; over a plain one it is one write', () => {
      const { r, cont, plain, pfn, plainPfn } = setup(p);
      r.api.setPtes(r.mm, cont + 5 * PAGE_SIZE, r.ptep(cont + 5 * PAGE_SIZE), pfnPte(pfn + 5, RO), 1);
      expect(r.sequence()).toEqual(seq(convert(p), W(1)));
      const m = r.mark();
      r.api.setPtes(r.mm, plain + 5 * PAGE_SIZE, r.ptep(plain + 5 * PAGE_SIZE), pfnPte(plainPfn + 5, RO), 1);
      expect(r.sequence(m)).toEqual([W(1)]);
      expect(r.counts()).toMatchObject({ unfolds: 1, folds: 0, bbm: 0, contig: 0 });
    });

    it('set_ptes(nr > 1): aligned blocks contiguous, unaligned plain, never a TLBI', () => {
      const r = new Rig(p).prepare(VA + 8 * B);
      const f = r.folio(5);
      r.mapWhole(VA + 8 * B + 4 * PAGE_SIZE, f.firstPfn + 4, 28); // [4,16) plain, [16,32) contiguous
      expect(r.sequence()).toEqual([W(28)]);
      expect(pteCont(r.raw(VA + 8 * B + 4 * PAGE_SIZE))).toBe(false);
      expect(pteCont(r.raw(VA + 9 * B))).toBe(true);
    });

    it('set_pte writes a plain entry (and warns over a contiguous one)', () => {
      const { r, plain, plainPfn } = setup(p);
      r.api.setPte(r.mm, plain, r.ptep(plain), pfnPte(plainPfn, RO));
      expect(r.sequence()).toEqual([W(1)]);
      expect(r.wb.pgtable.stats.warnings).toBe(0);
    });

    for (const api of ['pte_clear', 'ptep_get_and_clear'] as const) {
      it(`${api}: a contiguous target unfolds then clears one entry; a plain one clears only`, () => {
        const { r, cont, plain } = setup(p);
        const call = (va: number) => (api === 'pte_clear' ? r.api.pteClear(r.mm, va, r.ptep(va)) : r.api.ptepGetAndClear(r.mm, va, r.ptep(va)));
        call(cont + 7 * PAGE_SIZE);
        expect(r.sequence()).toEqual(seq(convert(p), W(1)));
        const m = r.mark();
        call(plain + 7 * PAGE_SIZE);
        expect(r.sequence(m)).toEqual([W(1)]);
        expect(r.counts()).toMatchObject({ bbm: 0, contig: 0 });
      });
    }

    for (const api of ['clear_full_ptes', 'get_and_clear_full_ptes'] as const) {
      const call = (r: Rig, va: number, nr: number) =>
        api === 'clear_full_ptes' ? r.api.clearFullPtes(r.mm, va, r.ptep(va), nr) : r.api.getAndClearFullPtes(r.mm, va, r.ptep(va), nr);
      it(`${api}: whole contiguous blocks are cleared without unfolding or any TLBI`, () => {
        const { r, cont } = setup(p);
        call(r, cont, 32);
        expect(r.sequence()).toEqual([W(32)]);
        expect(r.counts()).toMatchObject({ converts: 0, tlbi: 0, bbm: 0, contig: 0 });
      });
      it(`${api}: a range starting inside a block unfolds it; one ending inside the next unfolds that too`, () => {
        const { r, cont } = setup(p);
        call(r, cont + 8 * PAGE_SIZE, 16); // pages 8..23: the tail of block 0, the head of block 1
        expect(r.sequence()).toEqual(seq(convert(p), convert(p), W(16)));
        expect(r.counts()).toMatchObject({ unfolds: 2, bbm: 0, contig: 0 });
      });
      it(`${api}: an aligned range shorter than a block still unfolds it (nr < CONT_PTES)`, () => {
        const { r, cont } = setup(p);
        call(r, cont, 8);
        expect(r.sequence()).toEqual(seq(convert(p), W(8)));
      });
      it(`${api}: one contiguous entry unfolds; plain entries are just cleared`, () => {
        const { r, cont, plain } = setup(p);
        call(r, cont + 3 * PAGE_SIZE, 1);
        expect(r.sequence()).toEqual(seq(convert(p), W(1)));
        const m = r.mark();
        call(r, plain, 16);
        expect(r.sequence(m)).toEqual([W(16)]);
      });
    }

    it('get_and_clear_full_ptes returns young and dirty gathered over the range', () => {
      const { r, cont } = setup(p);
      r.api.clearYoungDirtyPtes(r.mm, cont, r.ptep(cont), 16, CYDP_CLEAR_YOUNG | CYDP_CLEAR_DIRTY);
      r.wb.pgtable.raw.__ptepSetAccessFlags(r.mm, cont + 9 * PAGE_SIZE, r.ptep(cont + 9 * PAGE_SIZE), pteMkyoung(r.raw(cont + 9 * PAGE_SIZE)), false);
      const got = r.api.getAndClearFullPtes(r.mm, cont, r.ptep(cont), 16);
      expect(pteYoung(got)).toBe(true);
      expect(pteDirty(got)).toBe(false);
    });

    it('ptep_test_and_clear_young: a contiguous target clears all 16 (atomically), no unfold, no TLBI', () => {
      const { r, cont, plain } = setup(p);
      expect(r.api.ptepTestAndClearYoung(r.mm, cont + 2 * PAGE_SIZE, r.ptep(cont + 2 * PAGE_SIZE))).toBe(true);
      expect(r.sequence()).toEqual([W(16)]);
      for (let i = 0; i < 16; i++) expect(pteYoung(r.raw(cont + i * PAGE_SIZE))).toBe(false);
      const m = r.mark();
      expect(r.api.ptepTestAndClearYoung(r.mm, plain, r.ptep(plain))).toBe(true);
      expect(r.sequence(m)).toEqual([W(1)]);
      expect(r.wb.pgtable.stats.pte_atomics).toBe(17);
    });

    it('ptep_clear_flush_young: the block flush without its trailing DSB (contiguous), one page flush (plain), nothing when old', () => {
      const { r, cont, plain } = setup(p);
      expect(r.api.ptepClearFlushYoung(r.mm, cont + 2 * PAGE_SIZE, r.ptep(cont + 2 * PAGE_SIZE))).toBe(true);
      expect(r.sequence()).toEqual(seq(W(16), blockFlush(p, false)));
      if (p.tlbiRange !== false) expect(r.tlbis()[0]).toBe('RVALE1IS asid=2 [0x40000000, 0x40010000) 16 pages (TG=1 SCALE=0 NUM=7) ttl=level 3');
      let m = r.mark();
      expect(r.api.ptepClearFlushYoung(r.mm, plain, r.ptep(plain))).toBe(true);
      expect(r.sequence(m)).toEqual(seq(W(1), pageFlush(p, false)));
      expect(r.tlbis(m)[0]).toBe(`VALE1IS asid=2 va=0x${plain.toString(16)}`);
      m = r.mark();
      expect(r.api.ptepClearFlushYoung(r.mm, plain, r.ptep(plain))).toBe(false);
      expect(r.sequence(m)).toEqual([W(1)]);
    });

    it('ptep_set_wrprotect: a contiguous target unfolds, then one cmpxchg; plain: one cmpxchg', () => {
      const { r, cont, plain } = setup(p);
      r.api.ptepSetWrprotect(r.mm, cont + 4 * PAGE_SIZE, r.ptep(cont + 4 * PAGE_SIZE));
      expect(r.sequence()).toEqual(seq(convert(p), W(1)));
      expect(pteWrite(r.raw(cont + 4 * PAGE_SIZE))).toBe(false);
      expect(pteDirty(r.raw(cont + 4 * PAGE_SIZE))).toBe(true); // hardware dirty moved to the software bit
      const m = r.mark();
      r.api.ptepSetWrprotect(r.mm, plain, r.ptep(plain));
      expect(r.sequence(m)).toEqual([W(1)]);
    });

    it('wrprotect_ptes: whole blocks stay contiguous (no unfold); a partial range unfolds its blocks', () => {
      const { r, cont, plain } = setup(p);
      r.api.wrprotectPtes(r.mm, cont, r.ptep(cont), 32);
      expect(r.sequence()).toEqual([W(32)]);
      expect(pteCont(r.raw(cont)) && !pteWrite(r.raw(cont))).toBe(true);
      expect(r.counts()).toMatchObject({ converts: 0, contig: 0, bbm: 0 });
      const s2 = setup(p);
      s2.r.api.wrprotectPtes(s2.r.mm, s2.cont + 12 * PAGE_SIZE, s2.r.ptep(s2.cont + 12 * PAGE_SIZE), 8);
      expect(s2.r.sequence()).toEqual(seq(convert(p), convert(p), W(8)));
      const m = r.mark();
      r.api.wrprotectPtes(r.mm, plain, r.ptep(plain), 4);
      expect(r.sequence(m)).toEqual([W(4)]);
    });

    it('ptep_set_access_flags: contiguous, same write permission: all 16 updated, one block flush if dirty', () => {
      const { r, cont } = setup(p);
      r.api.clearYoungDirtyPtes(r.mm, cont, r.ptep(cont), 16, CYDP_CLEAR_YOUNG);
      let m = r.mark();
      const cur = r.api.ptepGet(r.ptep(cont + 6 * PAGE_SIZE));
      expect(r.api.ptepSetAccessFlags(r.mm, cont + 6 * PAGE_SIZE, r.ptep(cont + 6 * PAGE_SIZE), pteMkyoung(cur), false)).toBe(true);
      expect(r.sequence(m)).toEqual([W(16)]);
      // Nothing to change now: a no-op, no writes.
      m = r.mark();
      expect(r.api.ptepSetAccessFlags(r.mm, cont + 6 * PAGE_SIZE, r.ptep(cont + 6 * PAGE_SIZE), pteMkyoung(cur), true)).toBe(false);
      expect(r.sequence(m)).toEqual([]);
      r.api.clearYoungDirtyPtes(r.mm, cont, r.ptep(cont), 16, CYDP_CLEAR_YOUNG);
      m = r.mark();
      expect(r.api.ptepSetAccessFlags(r.mm, cont + 6 * PAGE_SIZE, r.ptep(cont + 6 * PAGE_SIZE), pteMkyoung(cur), true)).toBe(true);
      expect(r.sequence(m)).toEqual(seq(W(16), blockFlush(p, true)));
      expect(r.counts()).toMatchObject({ converts: 0, bbm: 0, contig: 0 });
    });

    it('ptep_set_access_flags: contiguous, write permission changes: unfold, then one entry (and a page flush if dirty)', () => {
      const { r, cont, pfn } = setup(p);
      r.api.wrprotectPtes(r.mm, cont, r.ptep(cont), 16);
      const m = r.mark();
      expect(r.api.ptepSetAccessFlags(r.mm, cont + 6 * PAGE_SIZE, r.ptep(cont + 6 * PAGE_SIZE), pfnPte(pfn + 6, RW), true)).toBe(true);
      expect(r.sequence(m)).toEqual(seq(convert(p), W(1), pageFlush(p, true)));
      expect(pteWrite(r.raw(cont + 6 * PAGE_SIZE))).toBe(true);
    });

    it('ptep_set_access_flags: plain target, one cmpxchg, and flush_tlb_page when dirty', () => {
      const { r, plain } = setup(p);
      r.api.ptepTestAndClearYoung(r.mm, plain, r.ptep(plain));
      const m = r.mark();
      expect(r.api.ptepSetAccessFlags(r.mm, plain, r.ptep(plain), pteMkyoung(r.raw(plain)), true)).toBe(true);
      expect(r.sequence(m)).toEqual(seq(W(1), pageFlush(p, true)));
    });

    it('clear_young_dirty_ptes: a partial range on a contiguous block widens to the block and never unfolds', () => {
      const { r, cont, plain } = setup(p);
      r.api.clearYoungDirtyPtes(r.mm, cont + 4 * PAGE_SIZE, r.ptep(cont + 4 * PAGE_SIZE), 4, CYDP_CLEAR_YOUNG);
      expect(r.sequence()).toEqual([W(16)]);
      expect(r.wb.pgtable.stats.pte_atomics).toBe(16);
      for (let i = 0; i < 16; i++) expect(pteYoung(r.raw(cont + i * PAGE_SIZE))).toBe(false);
      // Clearing both young and dirty is a plain store per entry.
      let m = r.mark();
      r.api.clearYoungDirtyPtes(r.mm, cont2(cont), r.ptep(cont2(cont)), 16, CYDP_CLEAR_YOUNG | CYDP_CLEAR_DIRTY);
      expect(r.sequence(m)).toEqual([W(16)]);
      expect(r.wb.pgtable.stats.pte_atomics).toBe(16);
      m = r.mark();
      r.api.clearYoungDirtyPtes(r.mm, plain, r.ptep(plain), 1, CYDP_CLEAR_DIRTY);
      expect(r.sequence(m)).toEqual([W(1)]);
      expect(r.counts()).toMatchObject({ converts: 0, tlbi: 0, bbm: 0, contig: 0 });
    });

    it('ptep_modify_prot_start/commit on a contiguous entry that is not the last: unfold, clear, one write, no refold', () => {
      const { r, cont, pfn } = setup(p);
      const ptep = r.ptep(cont + 3 * PAGE_SIZE);
      const old = r.api.ptepModifyProtStart(r.mm, cont + 3 * PAGE_SIZE, ptep);
      expect(r.sequence()).toEqual(seq(convert(p), W(1)));
      expect(pteCont(old)).toBe(false);
      const m = r.mark();
      r.api.ptepModifyProtCommit(r.mm, cont + 3 * PAGE_SIZE, ptep, old, pfnPte(pfn + 3, RO));
      expect(r.sequence(m)).toEqual([W(1)]);
      expect(r.counts()).toMatchObject({ fold_attempts: 0, bbm: 0, contig: 0 });
    });

    it('ptep_clear_flush: get-and-clear (unfolding a contiguous entry), then flush_tlb_page if pte_accessible (valid, young or old)', () => {
      const { r, cont } = setup(p);
      r.api.ptepClearFlush(r.mm, cont + 3 * PAGE_SIZE, r.ptep(cont + 3 * PAGE_SIZE));
      expect(r.sequence()).toEqual(seq(convert(p), W(1), pageFlush(p, true)));
      // An old entry may still be cached (ptep_clear_flush_young does not wait for its TLBI):
      // arm64 pte_accessible is pte_valid since 5.10.
      let m = r.mark();
      r.api.ptepTestAndClearYoung(r.mm, cont + 4 * PAGE_SIZE, r.ptep(cont + 4 * PAGE_SIZE));
      r.api.ptepClearFlush(r.mm, cont + 4 * PAGE_SIZE, r.ptep(cont + 4 * PAGE_SIZE));
      expect(r.sequence(m)).toEqual(seq(W(2), pageFlush(p, true)));
      // A none entry: nothing to flush.
      m = r.mark();
      r.api.ptepClearFlush(r.mm, cont + 4 * PAGE_SIZE, r.ptep(cont + 4 * PAGE_SIZE));
      expect(r.sequence(m)).toEqual([W(1)]);
    });

    it('ptep_clear_flush of a PROT_NONE entry flushes only while the mm has a batched flush pending (mm_tlb_flush_pending)', () => {
      const { r, plain } = setup(p);
      const ptep = r.ptep(plain);
      const protnone = pfnPte(ptePfn(r.raw(plain)), PAGE_NONE);
      r.api.setPte(r.mm, plain, ptep, protnone);
      let m = r.mark();
      r.api.ptepClearFlush(r.mm, plain, ptep);
      expect(r.sequence(m)).toEqual([W(1)]);
      r.api.setPte(r.mm, plain, ptep, protnone);
      const tlb = r.wb.pgtable.gather(r.mm);
      expect(r.mm.tlbFlushPending).toBe(1);
      m = r.mark();
      r.api.ptepClearFlush(r.mm, plain, ptep);
      expect(r.sequence(m)).toEqual(seq(W(1), pageFlush(p, true)));
      tlb.tlbFinishMmu();
      expect(r.mm.tlbFlushPending).toBe(0);
    });

    it('modify_prot_start_ptes/commit_ptes (batched mprotect) keep a whole block contiguous without converting', () => {
      const { r, cont, pfn } = setup(p);
      const old = r.api.modifyProtStartPtes(r.mm, cont, r.ptep(cont), 16);
      r.api.modifyProtCommitPtes(r.mm, cont, r.ptep(cont), old, pfnPte(pfn, pteMkold(RO)), 16);
      expect(r.sequence()).toEqual([W(32)]);
      expect(pteCont(r.raw(cont)) && !pteWrite(r.raw(cont))).toBe(true);
      expect(r.counts()).toMatchObject({ converts: 0, bbm: 0, contig: 0 });
    });
  });
}

function cont2(cont: number): number {
  return cont + B;
}

describe('with contpte switched off', () => {
  it('set_ptes never sets the contiguous bit and nothing ever folds', () => {
    const r = new Rig({ contpte: false }).prepare();
    const f = r.folio(4);
    r.mapWhole(VA, f.firstPfn, 16);
    r.mapPerPage(VA + B, r.folio(4).firstPfn, 16);
    for (let i = 0; i < 32; i++) expect(pteCont(r.raw(VA + i * PAGE_SIZE))).toBe(false);
    expect(r.counts()).toMatchObject({ pte_writes: 32, converts: 0, fold_attempts: 0, tlbi: 0 });
  });
});
