/**
 * JavaScript heap allocated per fault in steady state (issue 11, goal 1: < 256 bytes per fault),
 * and where it is allocated. A page_fault program runs in-process; from its second round on (the
 * first warms the JIT and the caches) V8's sampling heap profiler records every allocation,
 * including objects that the next scavenge frees, with the function that made it. Bytes per fault
 * = the sampled total / the faults of those rounds.
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/fault-alloc.js [program] [size] [rounds] [top]
 *      (default: page_fault1 64M 4, top 15 sites)
 */
import { Session } from 'node:inspector';
import { runMachine } from '../src/machine/run.js';

const program = process.argv[2] ?? 'page_fault1';
const size = process.argv[3] ?? '64M';
const rounds = Number(process.argv[4] ?? 4);
const top = Number(process.argv[5] ?? 15);
const ELF = new URL(`../../firmware/bin/${program}`, import.meta.url).pathname;

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const session = new Session();
session.connect();
/** Same-thread inspector sessions answer synchronously: usable from inside a marker callback. */
function post<T>(method: string, params?: object): T {
  let result: T | undefined;
  let error: Error | null = null;
  session.post(method, params ?? {}, (err, r) => {
    error = err;
    result = r as T;
  });
  if (error) throw error;
  if (result === undefined) throw new Error(`${method}: no synchronous answer`);
  return result;
}

let mmaps = 0;
let profile: { head: ProfileNode } | undefined;
const r = await runMachine({
  elf: ELF,
  args: [size, String(rounds)],
  stdout: () => {},
  onMarker: (action, name) => {
    if (action === 'mark' && name === 'mmap' && ++mmaps === 2) {
      post('HeapProfiler.enable');
      post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    } else if (action === 'dump' && mmaps >= 2) {
      profile = post<{ profile: { head: ProfileNode } }>('HeapProfiler.stopSampling').profile;
    }
  },
});
if (profile === undefined) throw new Error(`${program} needs at least 2 rounds`);
const faults = (r.summary.dumps.at(-1)!.counts.faults.total * (rounds - 1)) / rounds;

const bySite = new Map<string, number>();
let total = 0;
const visit = (n: ProfileNode, stack: string): void => {
  const f = n.callFrame;
  const here = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/dist\//, '')}:${f.lineNumber + 1}`;
  if (n.selfSize > 0) {
    total += n.selfSize;
    const key = `${here}  <  ${stack}`;
    bySite.set(key, (bySite.get(key) ?? 0) + n.selfSize);
  }
  for (const c of n.children) visit(c, here);
};
visit(profile.head, '');
console.log(`${program} ${size} x ${rounds}: rounds 2..${rounds}, ${faults} faults`);
console.log(`  JavaScript heap allocated per fault: ${(total / faults).toFixed(0)} bytes (target < 256) ${total / faults < 256 ? 'met' : 'NOT met'}`);
console.log(`  top allocation sites (bytes per fault, site < caller):`);
for (const [k, v] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${(v / faults).toFixed(1).padStart(8)}  ${k}`);
