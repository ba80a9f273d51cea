import { describe, expect, it } from 'vitest';
import { LowestBitSet } from '../../../src/mm/bitmap.js';
import { Buddy, MAX_PAGE_ORDER, outOfMemoryError } from '../../../src/mm/buddy.js';
import { PAGE_SIZE, PhysMem } from '../../../src/mmu/physmem.js';
import { Telemetry } from '../../../src/trace/index.js';
import { BASE_PFN, makeMm, MiB, PHYS_BASE, rng } from './fixture.js';

function pfnOf(r: ReturnType<Buddy['alloc']>): number {
  if (r.kind !== 'ok') throw new Error(`unexpected ${r.kind}`);
  return r.pfn;
}

describe('LowestBitSet', () => {
  it('finds the lowest member across summary levels', () => {
    const s = new LowestBitSet(100_000);
    expect(s.lowest()).toBe(-1);
    expect(s.add(99_999)).toBe(true);
    expect(s.add(40_000)).toBe(true);
    expect(s.add(40_000)).toBe(false);
    expect(s.lowest()).toBe(40_000);
    expect(s.count).toBe(2);
    expect(s.delete(40_000)).toBe(true);
    expect(s.delete(40_000)).toBe(false);
    expect(s.lowest()).toBe(99_999);
    s.add(31);
    s.add(32);
    const seen: number[] = [];
    s.forEach((i) => seen.push(i));
    expect(seen).toEqual([31, 32, 99_999]);
    expect(s.has(100_000)).toBe(false);
    expect(s.delete(-1)).toBe(false);
  });
});

describe('Buddy', () => {
  it('starts as naturally aligned maximal blocks', () => {
    const { buddy } = makeMm(16 * MiB);
    expect(buddy.poolPages).toBe(4096);
    expect(buddy.freeBlocks()).toEqual([
      [BASE_PFN, 10],
      [BASE_PFN + 1024, 10],
      [BASE_PFN + 2048, 10],
      [BASE_PFN + 3072, 10],
    ]);
  });

  it('carves a pool that is not a multiple of the largest block', () => {
    const { buddy } = makeMm(1 * MiB + 5 * PAGE_SIZE);
    expect(buddy.freeBlocks()).toEqual([
      [BASE_PFN + 260, 0],
      [BASE_PFN + 256, 2],
      [BASE_PFN, 8],
    ]);
  });

  it('aligns blocks to absolute pfns when the pool base is not block aligned', () => {
    const telemetry = new Telemetry();
    const base = PHYS_BASE + 5 * PAGE_SIZE;
    const buddy = new Buddy(PhysMem.allocate(base, 64 * PAGE_SIZE), telemetry);
    expect(buddy.spanBase).toBe(BASE_PFN);
    // [5, 69): 5 | 6-7 | 8-15 | 16-31 | 32-63 | 64-67 | 68
    expect(buddy.freeBlocks()).toEqual([
      [BASE_PFN + 5, 0],
      [BASE_PFN + 68, 0],
      [BASE_PFN + 6, 1],
      [BASE_PFN + 64, 2],
      [BASE_PFN + 8, 3],
      [BASE_PFN + 16, 4],
      [BASE_PFN + 32, 5],
    ]);
    const r = buddy.alloc(3);
    expect(pfnOf(r) % 8).toBe(0);
  });

  it('splits the smallest sufficient block and hands out the lowest address first', () => {
    const { buddy } = makeMm(16 * MiB);
    const got = [buddy.alloc(0), buddy.alloc(0), buddy.alloc(2), buddy.alloc(0)].map((r) => pfnOf(r) - BASE_PFN);
    expect(got).toEqual([0, 1, 4, 2]);
    expect(buddy.stats.splits).toBe(11);
    expect(buddy.freePages).toBe(4096 - 7);
    expect(buddy.allocatedPages).toBe(7);
    expect(buddy.allocatedBlocksByOrder()).toEqual([3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('gives every order naturally aligned, disjoint blocks', () => {
    const { buddy } = makeMm(64 * MiB);
    const owner = new Int32Array(buddy.poolPages).fill(-1);
    const next = rng(7);
    let n = 0;
    for (;;) {
      const order = next() % (MAX_PAGE_ORDER + 1);
      const r = buddy.alloc(order);
      if (r.kind !== 'ok') break;
      expect(r.pfn % (1 << order)).toBe(0);
      for (let p = r.pfn; p < r.pfn + (1 << order); p++) {
        expect(owner[p - BASE_PFN]).toBe(-1);
        owner[p - BASE_PFN] = n;
      }
      n++;
    }
    expect(n).toBeGreaterThan(20);
  });

  it('coalesces back to the original blocks whatever the order of frees', () => {
    const { buddy } = makeMm(16 * MiB);
    const initial = buddy.freeBlocks();
    const blocks: Array<[number, number]> = [];
    const next = rng(42);
    for (let i = 0; i < 300; i++) {
      const order = next() % 6;
      const r = buddy.alloc(order);
      if (r.kind === 'ok') blocks.push([r.pfn, order]);
    }
    // Free in a shuffled order.
    for (let i = blocks.length - 1; i > 0; i--) {
      const j = next() % (i + 1);
      [blocks[i], blocks[j]] = [blocks[j]!, blocks[i]!];
    }
    for (const [pfn, order] of blocks) buddy.free(pfn, order);
    expect(buddy.freeBlocks()).toEqual(initial);
    expect(buddy.freePages).toBe(4096);
    expect(buddy.stats.merges).toBe(buddy.stats.splits);
  });

  it('is deterministic: the same requests give the same pfns', () => {
    const run = (): number[] => {
      const { buddy } = makeMm(16 * MiB);
      const next = rng(1234);
      const live: Array<[number, number]> = [];
      const out: number[] = [];
      for (let i = 0; i < 2000; i++) {
        if (live.length > 0 && next() % 3 === 0) {
          const [pfn, order] = live.splice(next() % live.length, 1)[0]!;
          buddy.free(pfn, order);
        } else {
          const order = next() % 5;
          const r = buddy.alloc(order);
          out.push(r.kind === 'ok' ? r.pfn : -1);
          if (r.kind === 'ok') live.push([r.pfn, order]);
        }
      }
      return out;
    };
    const a = run();
    expect(run()).toEqual(a);
    expect(a.length).toBeGreaterThan(1000);
  });

  it('reports out of memory as a typed result, also when memory is only fragmented', () => {
    const { buddy, telemetry } = makeMm(1 * MiB);
    const pages: number[] = [];
    for (let i = 0; i < 256; i++) pages.push(pfnOf(buddy.alloc(0)));
    expect(buddy.alloc(0)).toEqual({ kind: 'oom', order: 0, freePages: 0, poolPages: 256 });
    // Free every other page: 128 pages free, none of them next to another.
    for (let i = 0; i < 256; i += 2) buddy.free(pages[i]!, 0);
    expect(buddy.alloc(1)).toEqual({ kind: 'oom', order: 1, freePages: 128, poolPages: 256 });
    expect(pfnOf(buddy.alloc(0))).toBe(BASE_PFN);
    const snap = telemetry.stats.snapshot();
    expect(snap['alloc']).toEqual({
      allocs: 257,
      frees: 128,
      failed: 2,
      // 255 halvings turn the one 256-page block into 256 single pages.
      splits: 255,
      merges: 0,
      pages_allocated: 257,
      pages_freed: 128,
      zeroed_pages: 0,
      allocs_by_order: { '0': 257 },
      frees_by_order: { '0': 128 },
    });
    const err = outOfMemoryError({ kind: 'oom', order: 1, freePages: 128, poolPages: 256 }, 'an anonymous fault');
    expect(err.exitCode).toBe(137); // the guest's death (SIGKILL), not bad input
    expect(err.message).toBe(
      'out of guest physical memory: an anonymous fault needs an order-1 block (8 KiB) but no free block is that large (128 pages free in all); the pool is 1 MiB: raise it with --set mem_mb=64',
    );
  });

  it('reserves pages by splitting around them', () => {
    const { buddy } = makeMm(16 * MiB);
    buddy.reserve(BASE_PFN, 3);
    expect(buddy.reservedPages).toBe(3);
    expect(buddy.freePages).toBe(4093);
    expect(buddy.freeBlocks().slice(0, 4)).toEqual([
      [BASE_PFN + 3, 0],
      [BASE_PFN + 4, 2],
      [BASE_PFN + 8, 3],
      [BASE_PFN + 16, 4],
    ]);
    expect(pfnOf(buddy.alloc(0))).toBe(BASE_PFN + 3);
    expect(() => buddy.reserve(BASE_PFN + 3, 1)).toThrow(/allocated/);
    expect(() => buddy.reserve(BASE_PFN - 1, 1)).toThrow(/outside the pool/);
    buddy.reserve(BASE_PFN, 2); // already reserved: a no-op
    expect(buddy.reservedPages).toBe(3);
    // A reserved page never coalesces: freeing its neighbour stops at order 0.
    buddy.free(BASE_PFN + 3, 0);
    expect(buddy.isFreeBlock(BASE_PFN + 3, 0)).toBe(true);
  });

  it('refuses double frees, wrong orders and bad orders', () => {
    const { buddy } = makeMm(16 * MiB);
    const p = pfnOf(buddy.alloc(2));
    expect(() => buddy.free(p, 1)).toThrow(/not an allocated order-1 block/);
    buddy.free(p, 2);
    expect(() => buddy.free(p, 2)).toThrow(/double free/);
    expect(() => buddy.alloc(11)).toThrow(/outside 0..10/);
  });

  it('zeroes on request and counts it', () => {
    const { buddy, mem } = makeMm(16 * MiB);
    const p = pfnOf(buddy.alloc(1));
    mem.write(p * PAGE_SIZE + 10, new Uint8Array([1, 2, 3]));
    mem.write(p * PAGE_SIZE + PAGE_SIZE + 4095, new Uint8Array([9]));
    buddy.zero(p, 2);
    expect(mem.read(p * PAGE_SIZE, 2 * PAGE_SIZE).every((b) => b === 0)).toBe(true);
    expect(buddy.stats.zeroed_pages).toBe(2);
  });

  it('serves the default 2 GiB pool', () => {
    const { buddy } = makeMm(2048 * MiB);
    expect(buddy.poolPages).toBe(524288);
    expect(buddy.freeBlocks().length).toBe(512);
    const r = buddy.alloc(9);
    expect(pfnOf(r)).toBe(BASE_PFN);
    expect(pfnOf(buddy.alloc(0))).toBe(BASE_PFN + 512);
  });
});
