/**
 * Cost of one model-TLB miss round trip through the engine: data abort -> UC_HOOK_INTR -> decode
 * the load -> check the shadow -> provider (FIFO TLB: evict the oldest entry, fill) -> shadow
 * unmap + map -> one QEMU TLBI -> retry.
 *
 * A stride sweep over many more pages than the TLB holds, so every access misses and every miss
 * evicts. The provider is the cheapest possible (a Map page table, an array as FIFO), so the
 * figure is the engine's share ("model costs aside"). The same sweep with every page already in
 * the shadow gives the non-miss time to subtract. Target: <= 3 us per miss. CPU time (user +
 * system of this process) is reported beside wall time: on a shared 2-core machine the wall
 * time also counts the moments other processes had the CPU.
 *
 * Run: npx vite-node bench/engine-miss.ts [pages] [rounds] [tlbEntries]
 */
import { Engine, type EngineHooks, PHYS_BASE } from '../src/engine/index.js';

const CODE = 0x400000;
const DATA = 0x10000000;
const PAGE = 4096;
// outer: mov x3, x0; mov x4, x1; inner: ldr x5, [x3]; add x3, x3, x6; subs x4, x4, #1;
// b.ne inner; subs x2, x2, #1; b.ne outer; svc #0
const SWEEP = [0xaa0003e3, 0xaa0103e4, 0xf9400065, 0x8b060063, 0xf1000484, 0x54ffffa1, 0xf1000442, 0x54ffff21, 0xd4000001];

const pages = Number(process.argv[2] ?? 2048);
const rounds = Number(process.argv[3] ?? 20);
const tlbEntries = Number(process.argv[4] ?? 64);

const pageTable = new Map<number, number>();
const fifo: number[] = [];
let misses = 0;
let capacity = tlbEntries;
let e!: Engine;

const hooks: EngineHooks = {
  readInsn: (pc) => e.phys.dv.getUint32(pageTable.get(pc - (pc % PAGE))! + (pc % PAGE) - PHYS_BASE, true),
  onSvc: () => ({ kind: 'exit', code: 0 }),
  onAbort: (info) => {
    for (const f of info.faults) {
      const va = f.va - (f.va % PAGE);
      if (f.kind === 'exec') {
        e.shadow.map(va, PAGE, pageTable.get(va)!, { r: true, w: false, x: true });
        continue;
      }
      misses++;
      if (fifo.length >= capacity) e.shadow.unmap(fifo.shift()!, PAGE);
      fifo.push(va);
      e.shadow.map(va, PAGE, pageTable.get(va)!, { r: true, w: false, x: false });
    }
    return 'retry';
  },
};

e = new Engine({ memMb: 64, hooks });
pageTable.set(CODE, PHYS_BASE);
SWEEP.forEach((w, i) => e.phys.dv.setUint32(4 * i, w, true));
for (let i = 0; i < pages; i++) pageTable.set(DATA + i * PAGE, PHYS_BASE + (i + 1) * PAGE);

/** Wall-clock and CPU (user + system) microseconds of one sweep of `r` rounds. */
function sweep(r: number): { wall: number; cpu: number } {
  e.setX(0, DATA);
  e.setX(1, pages);
  e.setX(2, r);
  e.setX(6, PAGE);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const stop = e.run(CODE);
  const wall = Number(process.hrtime.bigint() - t0) / 1e3;
  const c = process.cpuUsage(c0);
  if (stop.kind !== 'exit') throw new Error(JSON.stringify(stop));
  return { wall, cpu: c.user + c.system };
}

sweep(2); // warm up (translation, JIT)
const wall: number[] = [];
const cpu: number[] = [];
for (let rep = 0; rep < 5; rep++) {
  misses = 0;
  const before = e.shadow.stats.qemu_tlbi;
  const t = sweep(rounds);
  if (misses !== pages * rounds) throw new Error(`expected ${pages * rounds} misses, saw ${misses}`);
  wall.push(t.wall / misses);
  cpu.push(t.cpu / misses);
  if (rep === 0) console.log(`  (QEMU TLBIs: ${e.shadow.stats.qemu_tlbi - before} for ${misses} misses)`);
}
// Baseline: the same sweep with every page resident (the TLB large enough, warmed by one round).
capacity = pages + 1;
sweep(1);
misses = 0;
const hit = sweep(rounds);
if (misses !== 0) throw new Error(`the warm sweep missed ${misses} times`);

const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[2]!;
const hitWall = hit.wall / (pages * rounds);
const hitCpu = hit.cpu / (pages * rounds);
console.log(`stride sweep: ${pages} pages x ${rounds} rounds, FIFO TLB of ${tlbEntries} entries: every access misses and evicts`);
console.log(`  per miss, median of 5: wall ${med(wall).toFixed(3)} us [min ${Math.min(...wall).toFixed(3)}], CPU ${med(cpu).toFixed(3)} us [min ${Math.min(...cpu).toFixed(3)}]`);
console.log(`  same sweep, all pages resident: wall ${hitWall.toFixed(4)} us, CPU ${hitCpu.toFixed(4)} us per access`);
const net = med(cpu) - hitCpu;
console.log(`  miss round trip, net CPU time: ${net.toFixed(3)} us (wall: ${(med(wall) - hitWall).toFixed(3)} us); target <= 3 us: ${net <= 3 ? 'met' : 'NOT met'}`);
e.close();
