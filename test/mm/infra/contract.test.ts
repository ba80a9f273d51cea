/**
 * The memmap is what the page-table layer is given as its FolioLookup (contpte fold check) and
 * PageTableAllocator (table pages). The assignments below fail to typecheck
 * (`npx tsc -p tsconfig.test.json`) if either side's shape drifts; the assertions check the values.
 */
import { describe, expect, it } from 'vitest';
import type { FolioLookup } from '../../../src/pgtable/policy.js';
import type { PageTableAllocator } from '../../../src/pgtable/tables.js';
import { PAGE_SIZE } from '../../../src/mmu/physmem.js';
import { BASE_PFN, makeMm, MiB } from './fixture.js';

describe('memmap as the page-table layer sees it', () => {
  it('answers the contpte fold check with the folio first pfn and size', () => {
    const { memmap } = makeMm(16 * MiB);
    const lookup: FolioLookup = memmap;
    const r = memmap.folioAlloc(4);
    if (r.kind !== 'ok') throw new Error('oom');
    const got = lookup.folioOfPfn(BASE_PFN + 7);
    expect(got?.firstPfn).toBe(BASE_PFN);
    expect(got?.nrPages).toBe(16);
    expect(lookup.folioOfPfn(BASE_PFN + 16)).toBeUndefined();
  });

  it('hands out zeroed table pages by physical address and takes them back', () => {
    const { memmap, mem } = makeMm(4 * MiB);
    const alloc: PageTableAllocator = memmap;
    mem.write(BASE_PFN * PAGE_SIZE, new Uint8Array([0xaa]));
    const pa = alloc.allocTablePage(3);
    expect(pa).toBe(BASE_PFN * PAGE_SIZE);
    expect(mem.read(pa!, 1)[0]).toBe(0);
    expect(memmap.kindOf(BASE_PFN)).toBe('pgtable');
    alloc.freeTablePage(pa!, 3);
    expect(memmap.kindOf(BASE_PFN)).toBe('free');
    // Exhaust the pool: the interface says undefined.
    expect(memmap.folioAlloc(10).kind).toBe('ok');
    expect(alloc.allocTablePage(0)).toBeUndefined();
  });
});
