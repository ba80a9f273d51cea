/**
 * Shadow tables against the virtual TLB mode (Unicorn 2.1.x's TLB-fill hook), paired and
 * alternating: each round runs every benchmark once per mode, in a fresh process each, the order
 * of the two modes swapped every round, and each pair gives one ratio virtual / shadow. Quoted:
 * per mode the median (min..max), and the median (min..max) of the paired ratios.
 *
 *   - page_fault3 128M 10 (the CLI's default profile): host seconds between the guest's reset and
 *     dump markers (the measured loop), and the whole run;
 *   - bench/run-stride.js: µs per model-TLB miss end to end;
 *   - bench/run-calls.js rand 1000000 5: ns per rand() call (store-heavy; few fills);
 *   - bench/context-switch.js: µs per context switch (cpus=4 and cpus=1).
 *
 * Needs Unicorn 2.1.x: run with LD_LIBRARY_PATH=/opt/unicorn-2.1.4/usr/lib/x86_64-linux-gnu
 * (README, "Unicorn 2.1.4").
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/tlb-modes.js [rounds=5] [only=pf3,stride,calls,cswitch]
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unicornVersion } from '../src/engine/unicorn.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '../..');
const rounds = Number(process.argv[2] ?? 5);
const only = (process.argv[3] ?? 'pf3,stride,calls,cswitch').split(',');
const MODES = ['shadow', 'virtual'] as const;
type Mode = (typeof MODES)[number];

const [major, minor] = unicornVersion();
if (major === 2 && minor < 1) throw new Error(`the virtual TLB mode needs Unicorn 2.1.x; this is ${major}.${minor} (set LD_LIBRARY_PATH, README "Unicorn 2.1.4")`);

/**
 * One run of a firmware program, timed between its reset and dump markers in host seconds and in
 * CPU seconds of this process (user + system: on a 2-core machine shared with other work, wall
 * time mostly measures the neighbours), printed as JSON with the run's TLB walks.
 */
const driver = (program: string, args: string[], sets: string[]): string => `
import { runMachine } from ${JSON.stringify(join(root, 'dist/src/machine/run.js'))};
let t0 = 0n, t1 = 0n, c0, c1;
const r = await runMachine({ elf: ${JSON.stringify(join(root, 'firmware/bin', program))}, args: ${JSON.stringify(args)}, sets: ${JSON.stringify(sets)}, stdout: () => {},
  onMarker: (a) => { if (a === 'reset') { t0 = process.hrtime.bigint(); c0 = process.cpuUsage(); } if (a === 'dump') { t1 = process.hrtime.bigint(); c1 = process.cpuUsage(c0); } } });
if (r.end.exitCode !== 0) throw new Error(${JSON.stringify(program)} + ' failed');
console.log(JSON.stringify({ wall: Number(t1 - t0) / 1e9, cpu: (c1.user + c1.system) / 1e6, walks: r.summary.dumps.at(-1).counts.tlb.walks }));
`;

function region(mode: Mode, program: string, args: string[], sets: string[] = []): { wall: number; cpu: number; walks: number } {
  return JSON.parse(run(mode, ['--input-type=module', '-e', driver(program, args, sets)]).trim().split('\n').pop()!) as { wall: number; cpu: number; walks: number };
}

function run(mode: Mode, args: string[]): string {
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', cwd: root, env: { ...process.env, CONTPTE_LAB_TLB_MODE: mode }, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${args.join(' ')} (${mode}) failed: ${r.stderr}`);
  return r.stdout;
}

function grab(out: string, re: RegExp, what: string): number {
  const m = re.exec(out);
  if (!m) throw new Error(`no ${what} in:\n${out}`);
  return Number(m[1]!.replace(/,/g, ''));
}

/** A benchmark: its metrics (name -> value) from one run in one mode. */
const BENCHES: Record<string, { unit: string; measure: (mode: Mode) => Record<string, number> }> = {
  pf3: {
    unit: 's',
    measure: (mode) => {
      const m = region(mode, 'page_fault3', ['128M', '10']);
      return { 'page_fault3 128M 10, measured loop, host (s)': m.wall, 'page_fault3 128M 10, measured loop, CPU (s)': m.cpu };
    },
  },
  stride: {
    unit: 'µs',
    // bench/run-stride.ts's sweeps (4096 pages x 50 rounds; 1280 TLB entries: every load misses;
    // 8190: none does), once each per run, the difference per extra walk.
    measure: (mode) => {
      const miss = region(mode, 'stride', ['4096', '1', '50'], ['tlb_entries=1280']);
      const hit = region(mode, 'stride', ['4096', '1', '50'], ['tlb_entries=8190']);
      const walks = miss.walks - hit.walks;
      return {
        'stride, per model-TLB miss, host (µs)': ((miss.wall - hit.wall) / walks) * 1e6,
        'stride, per model-TLB miss, CPU (µs)': ((miss.cpu - hit.cpu) / walks) * 1e6,
      };
    },
  },
  calls: {
    unit: 'ns',
    measure: (mode) => ({ 'run-calls rand 1000000 5, per call (ns)': grab(run(mode, ['dist/bench/run-calls.js', 'rand', '1000000', '5']), /contpte-lab per op: median ([\d.]+) ns/, 'per-op cost') }),
  },
  cswitch: {
    unit: 'µs',
    measure: (mode) => {
      const out = run(mode, ['dist/bench/context-switch.js']);
      const per = [...out.matchAll(/cpus=(\d+):[^\n]*\n\s+per context switch: median ([\d.]+) µs[^\n]*\n\s+CPU time per context switch: median ([\d.]+) µs/g)];
      if (per.length === 0) throw new Error(`no context-switch figures in:\n${out}`);
      return Object.fromEntries(per.flatMap((m) => [
        [`context-switch cpus=${m[1]}, per switch, host (µs)`, Number(m[2])],
        [`context-switch cpus=${m[1]}, per switch, CPU (µs)`, Number(m[3])],
      ]));
    },
  },
};

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};
const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(3));
const spread = (xs: number[]): string => `${fmt(median(xs))} (${fmt(Math.min(...xs))}..${fmt(Math.max(...xs))})`;

const load0 = loadavg()[0]!;
console.log(`TLB modes, Unicorn ${major}.${minor}, ${rounds} paired rounds (fresh process per run, order alternating)`);
for (const name of only) {
  const b = BENCHES[name];
  if (b === undefined) throw new Error(`unknown benchmark '${name}' (${Object.keys(BENCHES).join(', ')})`);
  const got: Record<string, Record<Mode, number[]>> = {};
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? MODES : ([...MODES].reverse() as Mode[]);
    for (const mode of order) {
      for (const [k, v] of Object.entries(b.measure(mode))) {
        got[k] ??= { shadow: [], virtual: [] };
        got[k][mode].push(v);
      }
    }
  }
  for (const [k, v] of Object.entries(got)) {
    const ratios = v.virtual.map((x, i) => x / v.shadow[i]!);
    console.log(`${k}: shadow ${spread(v.shadow)}, virtual ${spread(v.virtual)}; virtual/shadow ${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(3)}..${Math.max(...ratios).toFixed(3)})`);
  }
}
console.log(`load average (1 min) ${load0.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after`);
