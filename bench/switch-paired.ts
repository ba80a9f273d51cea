/**
 * A context switch's host cost in this build against another build of contpte-lab (a base
 * commit built in its own directory), measured in paired, alternating child processes: each
 * child runs firmware/bin/pipe_pingpong with 50 rounds (warm-up), 200 and 2200, and reports
 * (CPU time, wall time) of the 2200 run minus the 200 run, divided by the extra context switches
 * (the machine's `sched` counters). Each pair is one child of each build, in alternating order;
 * the ratio this/base of each pair is printed with the median and spread.
 *
 * Run: npm run build && node dist/bench/switch-paired.js BASE_DIR [pairs] [cpus]
 *      (BASE_DIR: a checkout with `npx tsc -p tsconfig.json` done, e.g. a git worktree)
 *      LD_LIBRARY_PATH picks the Unicorn library for both builds.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';

interface PerSwitch {
  cpuUs: number;
  wallUs: number;
  switches: number;
}

async function child(root: string, cpus: number): Promise<void> {
  const run = (await import(pathToFileURL(join(root, 'dist/src/machine/run.js')).href)) as typeof import('../src/machine/run.js');
  const elf = join(root, 'firmware/bin/pipe_pingpong');
  const timed = async (rounds: number): Promise<{ cpu: number; wall: number; switches: number }> => {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    const r = await run.runMachine({ elf, args: [String(rounds)], sets: [`cpus=${cpus}`], stdout: () => {} });
    const wall = Number(process.hrtime.bigint() - t0) / 1e3;
    const c = process.cpuUsage(c0);
    if (r.end.exitCode !== 0) throw new Error(`pipe_pingpong ${rounds} failed: ${r.end.message ?? r.end.exitCode}`);
    const sched = r.summary.counts.other['sched'] as Record<string, number>;
    return { cpu: c.user + c.system, wall, switches: sched['context_switches']! };
  };
  await timed(50);
  const a = await timed(200);
  const b = await timed(2200);
  const switches = b.switches - a.switches;
  const out: PerSwitch = { cpuUs: (b.cpu - a.cpu) / switches, wallUs: (b.wall - a.wall) / switches, switches };
  process.stdout.write(JSON.stringify(out));
}

function measure(root: string, cpus: number): PerSwitch {
  const self = fileURLToPath(import.meta.url);
  return JSON.parse(execFileSync(process.execPath, [self, '--child', root, String(cpus)], { encoding: 'utf8' })) as PerSwitch;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (xs: number[], digits = 1): string => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}..${Math.max(...xs).toFixed(digits)})`;

if (process.argv[2] === '--child') {
  await child(process.argv[3]!, Number(process.argv[4]));
} else {
  const base = resolve(process.argv[2] ?? '');
  if (process.argv[2] === undefined) throw new Error('usage: node dist/bench/switch-paired.js BASE_DIR [pairs] [cpus]');
  const pairs = Number(process.argv[3] ?? 5);
  const cpus = Number(process.argv[4] ?? 4);
  const here = resolve(fileURLToPath(new URL('../..', import.meta.url)));
  const load0 = loadavg()[0]!;
  const rows: { base: PerSwitch; here: PerSwitch }[] = [];
  for (let i = 0; i < pairs; i++) {
    // Alternate which build goes first: the machine's speed drifts.
    let b: PerSwitch;
    let h: PerSwitch;
    if (i % 2 === 0) {
      b = measure(base, cpus);
      h = measure(here, cpus);
    } else {
      h = measure(here, cpus);
      b = measure(base, cpus);
    }
    if (b.switches !== h.switches) throw new Error(`the builds made different numbers of switches: ${b.switches} and ${h.switches}`);
    rows.push({ base: b, here: h });
    console.log(`  pair ${i + 1}: base CPU ${b.cpuUs.toFixed(1)} µs wall ${b.wallUs.toFixed(1)} µs | this CPU ${h.cpuUs.toFixed(1)} µs wall ${h.wallUs.toFixed(1)} µs per switch`);
  }
  console.log(`cpus=${cpus}, ${rows[0]!.here.switches} extra switches per run, ${pairs} pairs, load average ${load0.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after`);
  console.log(`  base CPU per switch: ${fmt(rows.map((r) => r.base.cpuUs))} µs; wall ${fmt(rows.map((r) => r.base.wallUs))} µs`);
  console.log(`  this CPU per switch: ${fmt(rows.map((r) => r.here.cpuUs))} µs; wall ${fmt(rows.map((r) => r.here.wallUs))} µs`);
  console.log(`  this/base CPU: ${fmt(rows.map((r) => r.here.cpuUs / r.base.cpuUs), 3)}; wall ${fmt(rows.map((r) => r.here.wallUs / r.base.wallUs), 3)}`);
}
