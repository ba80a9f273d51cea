/**
 * JavaScript heap allocated per context switch, and where: V8's sampling heap profiler records
 * every allocation (objects the next scavenge frees included) during whole runs of
 * firmware/bin/pipe_pingpong with 200 and 2200 rounds; the difference per site, divided by the
 * difference of the machine's context switches, is a switch's share (with its syscalls).
 *
 * Run: npm run build && node dist/bench/switch-alloc.js [cpus] [top]
 */
import { runMachine } from '../src/machine/run.js';
import { connectInspector, type ProfileNode } from './inspector.js';

const elf = new URL('../../firmware/bin/pipe_pingpong', import.meta.url).pathname;
const cpus = Number(process.argv[2] ?? 4);
const top = Number(process.argv[3] ?? 20);

const { post } = connectInspector();

async function sampled(rounds: number): Promise<{ switches: number; bySite: Map<string, number> }> {
  post('HeapProfiler.enable');
  post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  const r = await runMachine({ elf, args: [String(rounds)], sets: [`cpus=${cpus}`], stdout: () => {} });
  const profile = post<{ profile: { head: ProfileNode } }>('HeapProfiler.stopSampling').profile;
  if (r.end.exitCode !== 0) throw new Error(`pipe_pingpong ${rounds} failed: ${r.end.message ?? r.end.exitCode}`);
  const bySite = new Map<string, number>();
  const visit = (n: ProfileNode, caller: string): void => {
    const f = n.callFrame;
    const here = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/dist\//, '')}:${f.lineNumber + 1}`;
    if (n.selfSize > 0) {
      const key = `${here}  <  ${caller}`;
      bySite.set(key, (bySite.get(key) ?? 0) + n.selfSize);
    }
    for (const c of n.children) visit(c, here);
  };
  visit(profile.head, '');
  const sched = r.summary.counts.other['sched'] as Record<string, number>;
  return { switches: sched['context_switches']!, bySite };
}

await sampled(50); // warm-up: the JIT's first compilations are not a switch's cost
const a = await sampled(200);
const b = await sampled(2200);
const switches = b.switches - a.switches;
const diff = new Map<string, number>();
let total = 0;
for (const [k, v] of b.bySite) {
  const d = v - (a.bySite.get(k) ?? 0);
  diff.set(k, d);
  total += d;
}
for (const [k, v] of a.bySite) if (!b.bySite.has(k)) total -= v;
console.log(`cpus=${cpus}: ${switches} extra switches; JavaScript heap allocated per switch: ${(total / switches).toFixed(0)} bytes`);
console.log('  top allocation sites (bytes per switch, site < caller):');
for (const [k, v] of [...diff].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`  ${(v / switches).toFixed(1).padStart(8)}  ${k}`);
