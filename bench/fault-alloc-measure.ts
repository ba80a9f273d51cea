/**
 * JavaScript heap allocated per fault in steady state, and where (bench/fault-alloc.ts prints it;
 * test/machine/fault-alloc.test.ts bounds it). A page_fault program runs in-process; from its
 * second round on (the first warms the JIT and the caches) V8's sampling heap profiler records
 * every allocation, including objects that the next scavenge frees, with the function that made
 * it. Bytes per fault = the sampled total / the faults of those rounds.
 *
 * Run it in a process started with --no-concurrent-recompilation (fault-alloc.ts does): with
 * optimisation in background threads, how much of the measured rounds runs before the optimised
 * code arrives depends on the machine's load, and so does the figure (unoptimised code boxes
 * every address it computes). V8 ignores the flag once it has started.
 */
import { join } from 'node:path';
import { packageRoot } from '../src/library/package.js';
import { runMachine } from '../src/machine/run.js';
import { connectInspector, type ProfileNode } from './inspector.js';

export interface FaultAllocation {
  /** Faults of the measured rounds (2..rounds). */
  readonly faults: number;
  readonly bytesPerFault: number;
  /** Bytes per fault by allocation site ("function file:line  <  caller file:line"), largest first. */
  readonly sites: readonly (readonly [string, number])[];
}

/** Runs firmware/bin/`program` with `size` and `rounds` and measures rounds 2..rounds. */
export async function measureFaultAllocation(program: string, size: string, rounds: number): Promise<FaultAllocation> {
  if (!(rounds >= 2)) throw new Error(`${program} needs at least 2 rounds, not ${rounds}`);
  const elf = join(packageRoot(), 'firmware', 'bin', program);
  const inspector = connectInspector();
  const post = inspector.post;
  let mmaps = 0;
  let profile: { head: ProfileNode } | undefined;
  try {
    const r = await runMachine({
      elf,
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
    if (profile === undefined) throw new Error(`${program} ended before its second round's dump`);
    const faults = (r.summary.dumps.at(-1)!.counts.faults.total * (rounds - 1)) / rounds;
    const bySite = new Map<string, number>();
    let total = 0;
    const visit = (n: ProfileNode, caller: string): void => {
      const f = n.callFrame;
      const here = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(dist\/)?(src|bench)\//, '$2/')}:${f.lineNumber + 1}`;
      if (n.selfSize > 0) {
        total += n.selfSize;
        const key = `${here}  <  ${caller}`;
        bySite.set(key, (bySite.get(key) ?? 0) + n.selfSize);
      }
      for (const c of n.children) visit(c, here);
    };
    visit(profile.head, '');
    const sites = [...bySite].map(([k, v]) => [k, v / faults] as const).sort((a, b) => b[1] - a[1]);
    return { faults, bytesPerFault: total / faults, sites };
  } finally {
    inspector.disconnect();
  }
}
