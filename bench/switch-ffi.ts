/**
 * Native (koffi) calls per context switch: every function of the Unicorn binding is wrapped with
 * a counter, then firmware/bin/pipe_pingpong runs with 200 and with 2200 rounds; the difference
 * of the counts divided by the difference of the machine's context switches is what one switch
 * costs in calls into Unicorn, with its share of the syscalls around it (ppoll, read, write).
 * Counts, not times: the figures do not depend on the machine's load.
 *
 * Run: npm run build && node dist/bench/switch-ffi.js [cpus]
 */
import { loadUnicorn } from '../src/engine/unicorn.js';
import { runMachine } from '../src/machine/run.js';

const elf = new URL('../../firmware/bin/pipe_pingpong', import.meta.url).pathname;
const cpus = Number(process.argv[2] ?? 4);

const calls = new Map<string, number>();
const api = loadUnicorn().api as unknown as Record<string, (...a: unknown[]) => unknown>;
for (const name of Object.keys(api)) {
  const fn = api[name]!;
  calls.set(name, 0);
  api[name] = (...a: unknown[]) => {
    calls.set(name, calls.get(name)! + 1);
    return fn(...a);
  };
}

async function counted(rounds: number): Promise<{ switches: number; calls: Map<string, number>; syscalls: number }> {
  for (const k of calls.keys()) calls.set(k, 0);
  const r = await runMachine({ elf, args: [String(rounds)], sets: [`cpus=${cpus}`], stdout: () => {} });
  if (r.end.exitCode !== 0) throw new Error(`pipe_pingpong ${rounds} failed: ${r.end.message ?? r.end.exitCode}`);
  const sched = r.summary.counts.other['sched'] as Record<string, number>;
  const engine = r.summary.counts.other['engine'] as Record<string, number>;
  return { switches: sched['context_switches']!, calls: new Map(calls), syscalls: engine['svc']! };
}

const a = await counted(200);
const b = await counted(2200);
const switches = b.switches - a.switches;
const svc = b.syscalls - a.syscalls;
console.log(`cpus=${cpus}: ${switches} extra switches, ${svc} extra syscalls (${(svc / switches).toFixed(2)} per switch)`);
let total = 0;
for (const [name, n] of b.calls) {
  const d = n - a.calls.get(name)!;
  if (d === 0) continue;
  total += d;
  console.log(`  ${name.padEnd(24)} ${(d / switches).toFixed(3)} per switch`);
}
console.log(`  ${'all'.padEnd(24)} ${(total / switches).toFixed(3)} per switch`);
