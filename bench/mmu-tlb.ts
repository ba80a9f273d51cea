/**
 * TLB lookup throughput: a full default TLB (1280 entries, 5-way; a quarter of them 64 KiB
 * contiguous entries, so two size classes are probed) and lookups of VAs drawn from what is
 * resident (90 %) and from elsewhere (10 % misses). Target: at least 10 million lookups per second.
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/mmu-tlb.js
 */
import { Tlb } from '../src/mmu/tlb.js';
import type { Translation } from '../src/mmu/walker.js';

function translation(va: number, contiguous: boolean): Translation {
  const size = 4096;
  const span = contiguous ? 65536 : size;
  return {
    ok: true, va, pa: va + 0x1_0000_0000, level: 3, size, contiguous, spanVa: va - (va % span), spanSize: span,
    spanPa: va + 0x1_0000_0000 - ((va + 0x1_0000_0000) % span), global: false, perms: 0x1b, attrIndx: 0, sh: 3,
    descPa: 0, desc: { lo: 0, hi: 0 }, levelsRead: 4, dirtyOnWrite: false, hwUpdates: 0,
  };
}

let seed = 12345;
const rand = (): number => {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed;
};

const ASID = 7;
const tlb = new Tlb();
const resident: number[] = [];
// Single pages and contiguous 64 KiB spans at random places in 1 TiB of VA, 3:1, until the TLB
// has seen 1280 fills (random set conflicts evict some, as they would on hardware).
for (let i = 0; i < 1280; i++) {
  const va = i % 4 === 3 ? (rand() % 2 ** 24) * 65536 : (rand() % 2 ** 28) * 4096;
  tlb.fill(translation(va, i % 4 === 3), ASID);
}
for (const e of tlb.residentEntries()) resident.push(e.vaBase);

const N = 1 << 20;
const vas = new Float64Array(N);
for (let i = 0; i < N; i++) {
  if (rand() % 10 === 0) vas[i] = (rand() % 2 ** 26) * 4096 + 0x800; // mostly misses
  else {
    const base = resident[rand() % resident.length]!;
    vas[i] = base + (rand() % 4096);
  }
}

function run(rounds: number): { perSec: number; hits: number } {
  let hits = 0;
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < N; i++) if (tlb.lookup(vas[i]!, ASID) !== null) hits++;
  }
  const ns = Number(process.hrtime.bigint() - t0);
  return { perSec: (rounds * N) / (ns / 1e9), hits };
}

run(2); // warm up
const results: number[] = [];
let hitRate = 0;
for (let k = 0; k < 5; k++) {
  const r = run(4);
  results.push(r.perSec);
  hitRate = r.hits / (4 * N);
}
results.sort((a, b) => a - b);
console.log(`mmu-tlb: ${tlb.occupancy} resident entries (${tlb.capacity} x ${tlb.ways}-way), hit rate ${(hitRate * 100).toFixed(1)} %`);
console.log(`mmu-tlb: lookups/s median ${(results[2]! / 1e6).toFixed(1)} M, min ${(results[0]! / 1e6).toFixed(1)} M, max ${(results[4]! / 1e6).toFixed(1)} M (target >= 10 M)`);
