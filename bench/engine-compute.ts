/**
 * Compute speed of the engine against bare Unicorn, in one run.
 *
 * Two loops: 'alu' (add, eor, subs, b.ne: registers only) and 'mem' (load, add, store, index
 * arithmetic, branch: 7 instructions per iteration over one 4 KiB buffer). Each runs
 *   - under bare Unicorn 2.0.1 with the MMU off (code and data as plain memory regions), and
 *   - under the Engine: EL0, MMU on, translations from the shadow tables;
 * alternately, several times, and the medians are compared. The engine is also timed with a
 * time budget (Unicorn's timeout thread) and with an instruction budget (Unicorn's counting hook)
 * to show what each costs. Target: engine / bare >= 0.8 with no instruction budget.
 *
 * Run: npx vite-node bench/engine-compute.ts [scale]   (or node dist/bench/engine-compute.js)
 */
import { Engine, type EngineHooks, type EngineOptions, PHYS_BASE, Unicorn, uc } from '../src/engine/index.js';

const CODE = 0x400000;
const DATA = 0x10000000;

interface Workload {
  name: string;
  words: number[];
  iterations: number;
  /** Instructions executed for `iterations`. */
  insns: number;
}

const scale = Number(process.argv[2] ?? 1);
const WORKLOADS: Workload[] = [
  // 1: add x1, x1, x0; eor x2, x2, x1; subs x0, x0, #1; b.ne 1b; svc #0
  { name: 'alu', words: [0x8b000021, 0xca010042, 0xf1000400, 0x54ffffa1, 0xd4000001], iterations: 100_000_000 * scale, insns: 0 },
  // mov x3, #0; 1: ldr x2, [x1, x3]; add x2, x2, x0; str x2, [x1, x3]; add x3, x3, #8;
  // and x3, x3, #0xff8; subs x0, x0, #1; b.ne 1b; svc #0
  { name: 'mem', words: [0xd2800003, 0xf8636822, 0x8b000042, 0xf8236822, 0x91002063, 0x927d2063, 0xf1000400, 0x54ffff41, 0xd4000001], iterations: 10_000_000 * scale, insns: 0 },
];
WORKLOADS[0]!.insns = 4 * WORKLOADS[0]!.iterations + 1;
WORKLOADS[1]!.insns = 7 * WORKLOADS[1]!.iterations + 2;

let w: Workload = WORKLOADS[0]!;
let iterations = w.iterations;

function words(): Uint8Array {
  const b = new Uint8Array(w.words.length * 4);
  const dv = new DataView(b.buffer);
  w.words.forEach((x, i) => dv.setUint32(4 * i, x, true));
  return b;
}

function bare(): () => number {
  const u = Unicorn.open(uc.UC_ARCH_ARM64, uc.UC_MODE_ARM, uc.UC_CPU_ARM64_MAX);
  u.memMap(CODE, 4096, uc.UC_PROT_ALL);
  u.memMap(DATA, 4096, uc.UC_PROT_ALL);
  u.memWrite(CODE, words());
  u.hookIntr(() => u.emuStop());
  return () => {
    u.regWrite(uc.UC_ARM64_REG_X0, iterations);
    u.regWrite(uc.UC_ARM64_REG_X1, DATA);
    const t0 = process.hrtime.bigint();
    u.emuStartChecked(CODE, 0xfffffffffffcn);
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
}

/** The smallest provider that can stand in for the model: a fixed page map, no eviction. */
function engine(options: EngineOptions): () => number {
  const pages = new Map<number, number>([[CODE, PHYS_BASE], [DATA, PHYS_BASE + 4096]]);
  let e!: Engine;
  const hooks: EngineHooks = {
    readInsn: (pc) => e.phys.dv.getUint32(pages.get(pc - (pc % 4096))! + (pc % 4096) - PHYS_BASE, true),
    onSvc: () => ({ kind: 'exit', code: 0 }),
    onAbort: (info) => {
      for (const f of info.faults) {
        const va = f.va - (f.va % 4096);
        e.shadow.map(va, 4096, pages.get(va)!, { r: true, w: va === DATA, x: va === CODE });
      }
      return 'retry';
    },
  };
  e = new Engine({ memMb: 16, hooks, ...options });
  e.phys.write(PHYS_BASE, words());
  return () => {
    e.setX(0, iterations);
    e.setX(1, DATA);
    const t0 = process.hrtime.bigint();
    const stop = e.run(CODE);
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (stop.kind !== 'exit') throw new Error(`engine run ended with ${JSON.stringify(stop)}`);
    return dt;
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

for (const workload of WORKLOADS) {
  w = workload;
  iterations = w.iterations;
  const variants: [string, () => number][] = [
    ['bare Unicorn, MMU off', bare()],
    ['engine, MMU on (no budget)', engine({})],
    ['engine + time budget (maxSeconds)', engine({ maxSeconds: 3600 })],
    ['engine + instruction budget (maxInsns)', engine({ maxInsns: 1e15 })],
  ];
  const times = new Map<string, number[]>(variants.map(([n]) => [n, []]));
  for (const [, run] of variants) run(); // warm up: translate the loop once
  for (let rep = 0; rep < 5; rep++) for (const [n, run] of variants) times.get(n)!.push(run());

  console.log(`'${w.name}' loop: ${w.insns} instructions per run, median of 5 runs`);
  const base = median(times.get(variants[0]![0])!);
  for (const [n] of variants) {
    const t = median(times.get(n)!);
    console.log(`  ${n.padEnd(40)} ${t.toFixed(3)} s  ${(w.insns / t / 1e6).toFixed(0).padStart(5)} M insn/s  ratio ${(base / t).toFixed(2)}`);
  }
  const ratio = base / median(times.get(variants[1]![0])!);
  console.log(`  engine / bare = ${ratio.toFixed(2)} (target >= 0.80): ${ratio >= 0.8 ? 'met' : 'NOT met'}`);
}
