import { describe, expect, it } from 'vitest';
import { ANON_OWNER, type Folio, type FolioAlloc } from '../../../src/mm/folio.js';
import { PAGE_SIZE } from '../../../src/mmu/physmem.js';
import { BASE_PFN, makeMm, MiB } from './fixture.js';

function folioOf(r: FolioAlloc): Folio {
  if (r.kind !== 'ok') throw new Error(`unexpected ${r.kind}`);
  return r.folio;
}

describe('Memmap', () => {
  it('maps every page of a large folio to it in O(1)', () => {
    const { memmap } = makeMm(16 * MiB);
    const small = folioOf(memmap.folioAlloc(0));
    const big = folioOf(memmap.folioAlloc(4));
    expect(small.firstPfn).toBe(BASE_PFN);
    expect(big.firstPfn).toBe(BASE_PFN + 16);
    expect(big.nrPages).toBe(16);
    expect(big.pa).toBe((BASE_PFN + 16) * PAGE_SIZE);
    for (let p = big.firstPfn; p < big.firstPfn + 16; p++) {
      expect(memmap.folioOfPfn(p)).toBe(big);
      expect(memmap.kindOf(p)).toBe('folio');
    }
    expect(memmap.folioOfPfn(BASE_PFN + 1)).toBeUndefined();
    expect(memmap.kindOf(BASE_PFN + 1)).toBe('free');
    expect(memmap.folioOfPfn(BASE_PFN + 32)).toBeUndefined();
    expect(memmap.folioOfPfn(BASE_PFN - 1)).toBeUndefined();
    expect(memmap.folioOfPfn(BASE_PFN + 4096)).toBeUndefined();
    expect(() => memmap.kindOf(BASE_PFN + 4096)).toThrow(/outside physical memory/);
  });

  it('frees a folio with its last reference and forgets its pages', () => {
    const { memmap, buddy, telemetry } = makeMm(16 * MiB);
    const initial = buddy.freeBlocks();
    const f = folioOf(memmap.folioAlloc(5));
    memmap.folioGet(f);
    memmap.folioRefAdd(f, 3);
    expect(f.refcount).toBe(5);
    memmap.folioPutRefs(f, 4);
    expect(f.live).toBe(true);
    expect(memmap.folioOfPfn(f.firstPfn + 31)).toBe(f);
    memmap.folioPut(f);
    expect(f.live).toBe(false);
    expect(memmap.folioOfPfn(f.firstPfn + 31)).toBeUndefined();
    expect(memmap.kindOf(f.firstPfn)).toBe('free');
    expect(buddy.freeBlocks()).toEqual(initial);
    expect(() => memmap.folioPut(f)).toThrow(/freed folio/);
    expect(telemetry.stats.snapshot()['folio']).toEqual({
      allocs_by_order: { '5': 1 },
      frees_by_order: { '5': 1 },
      pgtable_allocs: 0,
      pgtable_frees: 0,
    });
  });

  it('keeps per-page and total map counts, and refuses to free a mapped folio', () => {
    const { memmap } = makeMm(16 * MiB);
    const f = folioOf(memmap.folioAlloc(4));
    f.owner = ANON_OWNER;
    memmap.folioAddRmapPtes(f, f.firstPfn + 2, 3);
    memmap.folioAddRmapPtes(f, f.firstPfn + 3, 1);
    expect(f.mapcount).toBe(4);
    expect([1, 2, 3, 4, 5].map((i) => memmap.pageMapcount(f.firstPfn + i))).toEqual([0, 1, 2, 1, 0]);
    memmap.folioAddRmapPmd(f);
    expect(f.mapcount).toBe(5);
    expect(f.entireMapcount).toBe(1);
    expect(() => memmap.folioAddRmapPtes(f, f.firstPfn + 15, 2)).toThrow(/outside the folio/);
    expect(() => memmap.folioPut(f)).toThrow(/still mapped 5 times/);
    memmap.folioRemoveRmapPmd(f);
    expect(() => memmap.folioRemoveRmapPmd(f)).toThrow(/no PMD mapping/);
    memmap.folioRemoveRmapPtes(f, f.firstPfn + 2, 3);
    expect(() => memmap.folioRemoveRmapPtes(f, f.firstPfn + 2, 1)).toThrow(/unmapped more often than mapped/);
  });

  it('allocates zeroed page-table pages that are not folios', () => {
    const { memmap, mem, buddy } = makeMm(16 * MiB);
    // Dirty the page the allocator will hand out next.
    mem.write(BASE_PFN * PAGE_SIZE + 100, new Uint8Array([0xff]));
    const r = memmap.pgtableAlloc();
    if (r.kind !== 'ok') throw new Error('oom');
    expect(r.pfn).toBe(BASE_PFN);
    expect(mem.read(r.pfn * PAGE_SIZE + 100, 1)[0]).toBe(0);
    expect(buddy.stats.zeroed_pages).toBe(1);
    expect(memmap.kindOf(r.pfn)).toBe('pgtable');
    expect(memmap.folioOfPfn(r.pfn)).toBeUndefined();
    const f = folioOf(memmap.folioAlloc(0));
    expect(f.firstPfn).toBe(BASE_PFN + 1);
    expect(() => memmap.pgtableFree(f.firstPfn)).toThrow(/not a page-table page/);
    memmap.pgtableFree(r.pfn);
    expect(memmap.kindOf(r.pfn)).toBe('free');
    expect(memmap.stats.pgtable_allocs).toBe(1);
    expect(memmap.stats.pgtable_frees).toBe(1);
  });

  it('tags reserved pages and never hands them out', () => {
    const { memmap } = makeMm(16 * MiB);
    memmap.reserve(BASE_PFN, 2);
    expect(memmap.kindOf(BASE_PFN + 1)).toBe('reserved');
    expect(folioOf(memmap.folioAlloc(1)).firstPfn).toBe(BASE_PFN + 2);
  });

  it('returns out of memory as a result', () => {
    const { memmap } = makeMm(4 * MiB);
    expect(folioOf(memmap.folioAlloc(10)).firstPfn).toBe(BASE_PFN);
    expect(memmap.folioAlloc(0)).toEqual({ kind: 'oom', order: 0, freePages: 0, poolPages: 1024 });
    expect(memmap.pgtableAlloc()).toEqual({ kind: 'oom', order: 0, freePages: 0, poolPages: 1024 });
  });

  it('zeroes a folio through the counted path and exposes its bytes', () => {
    const { memmap, buddy } = makeMm(16 * MiB);
    const f = folioOf(memmap.folioAlloc(2));
    const bytes = memmap.folioBytes(f);
    expect(bytes.length).toBe(4 * PAGE_SIZE);
    bytes[5] = 7;
    bytes[4 * PAGE_SIZE - 1] = 8;
    memmap.folioZero(f);
    expect(bytes[5]).toBe(0);
    expect(bytes[4 * PAGE_SIZE - 1]).toBe(0);
    expect(buddy.stats.zeroed_pages).toBe(4);
  });
});
