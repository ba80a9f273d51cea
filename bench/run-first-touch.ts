/**
 * First touch against re-fault (issue 11, goal 3): page_fault1 writes one byte to every page of
 * a fresh anonymous region, unmaps it, and does it again. The first round's pages come from
 * guest-physical memory the host has never backed (the host kernel faults in and zeroes the
 * pool under the guest's fault); later rounds get the same guest-physical pages back from the
 * model's allocator, already backed. The ratio of the first round's time per fault to the
 * median of the later rounds' is the first-touch overhead; target: within 2x.
 *
 * Each round is timed in-process between the program's `touch` and `munmap` markers, in CPU time
 * of the process (user + system, all threads: V8's helpers too) and in wall time; the ratio is
 * taken on CPU time, which a busy machine does not inflate the way it inflates wall time. The
 * runs are repeated (each on a new machine, so a new, never-touched pool) and the median ratio
 * is reported with its spread.
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/run-first-touch.js [size] [rounds] [runs]
 */
import { loadavg } from 'node:os';
import { runMachine } from '../src/machine/run.js';

const ELF = new URL('../../firmware/bin/page_fault1', import.meta.url).pathname;
const size = process.argv[2] ?? '256M';
const rounds = Number(process.argv[3] ?? 4);
const runs = Number(process.argv[4] ?? 3);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Once {
  first: number;
  later: number;
  /** User and system CPU seconds of the first round and the median later round. */
  firstCpu: [number, number];
  laterCpu: [number, number];
  faults: number;
  rss: number;
}

async function once(): Promise<Once> {
  const times: number[] = [];
  const users: number[] = [];
  const systems: number[] = [];
  let t0 = 0n;
  let c0 = process.cpuUsage();
  const r = await runMachine({
    elf: ELF,
    args: [size, String(rounds)],
    stdout: () => {},
    onMarker: (action, name) => {
      if (action !== 'mark') return;
      if (name === 'touch') {
        t0 = process.hrtime.bigint();
        c0 = process.cpuUsage();
      } else if (name === 'munmap') {
        times.push(Number(process.hrtime.bigint() - t0) / 1e9);
        const c = process.cpuUsage(c0);
        users.push(c.user / 1e6);
        systems.push(c.system / 1e6);
      }
    },
  });
  const faults = r.summary.dumps.at(-1)!.counts.faults.total / rounds;
  return {
    first: times[0]!,
    later: median(times.slice(1)),
    firstCpu: [users[0]!, systems[0]!],
    laterCpu: [median(users.slice(1)), median(systems.slice(1))],
    faults,
    rss: process.resourceUsage().maxRSS * 1024,
  };
}

const load0 = loadavg()[0]!;
const ratios: number[] = [];
let last: Once | undefined;
const us = (s: number) => ((s / last!.faults) * 1e6).toFixed(2);
for (let i = 0; i < runs; i++) {
  last = await once();
  const first = last.firstCpu[0] + last.firstCpu[1];
  const later = last.laterCpu[0] + last.laterCpu[1];
  ratios.push(first / later);
  console.log(
    `  run ${i + 1}: CPU per fault, first round ${us(first)} us (user ${us(last.firstCpu[0])} + sys ${us(last.firstCpu[1])}), ` +
      `later rounds ${us(later)} us (user ${us(last.laterCpu[0])} + sys ${us(last.laterCpu[1])}), ratio ${(first / later).toFixed(2)}; ` +
      `wall ${us(last.first)} and ${us(last.later)} us`,
  );
}
if (last === undefined) throw new Error('no run');
const m = median(ratios);
console.log(`page_fault1 ${size} x ${rounds}: ${last.faults} faults per round, ${runs} runs`);
console.log(`  first touch / re-fault, CPU time: median ${m.toFixed(2)} (${Math.min(...ratios).toFixed(2)}..${Math.max(...ratios).toFixed(2)}); target <= 2: ${m <= 2 ? 'met' : 'NOT met'}`);
console.log(`  peak RSS of this process ${(last.rss / 2 ** 20).toFixed(0)} MiB; load average (1 min) ${load0.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after`);
