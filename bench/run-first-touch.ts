/**
 * First touch against re-fault (issue 11, goal 3): page_fault1 writes one byte to every page of
 * a fresh anonymous region, unmaps it, and does it again. The first round's pages come from
 * guest-physical memory the host has never backed (the host kernel faults in and zeroes the
 * pool under the guest's fault); later rounds get the same guest-physical pages back from the
 * model's allocator, already backed. The ratio of the first round's time per fault to the
 * median of the later rounds' is the first-touch overhead; target: within 2x.
 *
 * Each round is timed in-process between the program's `touch` and `munmap` markers; the runs
 * are repeated and the median ratio is reported with its spread.
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

async function once(): Promise<{ first: number; later: number; faults: number; rss: number }> {
  const times: number[] = [];
  let t0 = 0n;
  const r = await runMachine({
    elf: ELF,
    args: [size, String(rounds)],
    stdout: () => {},
    onMarker: (action, name) => {
      if (action !== 'mark') return;
      if (name === 'touch') t0 = process.hrtime.bigint();
      else if (name === 'munmap') times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    },
  });
  const faults = r.summary.dumps.at(-1)!.counts.faults.total / rounds;
  return { first: times[0]!, later: median(times.slice(1)), faults, rss: process.resourceUsage().maxRSS * 1024 };
}

const load0 = loadavg()[0]!;
const ratios: number[] = [];
let last = { first: 0, later: 0, faults: 0, rss: 0 };
for (let i = 0; i < runs; i++) {
  last = await once();
  ratios.push(last.first / last.later);
  console.log(`  run ${i + 1}: first round ${((last.first / last.faults) * 1e6).toFixed(2)} us/fault, later rounds ${((last.later / last.faults) * 1e6).toFixed(2)} us/fault, ratio ${(last.first / last.later).toFixed(2)}`);
}
const m = median(ratios);
console.log(`page_fault1 ${size} x ${rounds}: ${last.faults} faults per round, ${runs} runs`);
console.log(`  first touch / re-fault: median ${m.toFixed(2)} (${Math.min(...ratios).toFixed(2)}..${Math.max(...ratios).toFixed(2)}); target <= 2: ${m <= 2 ? 'met' : 'NOT met'}`);
console.log(`  peak RSS of this process ${(last.rss / 2 ** 20).toFixed(0)} MiB; load average (1 min) ${load0.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after`);
