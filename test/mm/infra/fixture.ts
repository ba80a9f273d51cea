/** A small machine's worth of memory management for the mm infrastructure tests. */
import { PAGE_SIZE, PhysMem, PHYS_BASE } from '../../../src/mmu/physmem.js';
import { Telemetry } from '../../../src/trace/index.js';
import { Buddy } from '../../../src/mm/buddy.js';
import { Memmap } from '../../../src/mm/folio.js';
import { PageCache } from '../../../src/mm/pagecache.js';

export { PHYS_BASE };
export const BASE_PFN = PHYS_BASE / PAGE_SIZE;
export const MiB = 1024 * 1024;

export interface Mm {
  telemetry: Telemetry;
  mem: PhysMem;
  buddy: Buddy;
  memmap: Memmap;
  cache: PageCache;
}

export function makeMm(sizeBytes = 16 * MiB, base = PHYS_BASE): Mm {
  const telemetry = new Telemetry();
  const mem = PhysMem.allocate(base, sizeBytes);
  const buddy = new Buddy(mem, telemetry);
  const memmap = new Memmap(buddy, telemetry);
  const cache = new PageCache(memmap, telemetry);
  return { telemetry, mem, buddy, memmap, cache };
}

/** A deterministic pseudo-random sequence (xorshift32). */
export function rng(seed: number): () => number {
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
