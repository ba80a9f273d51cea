/**
 * Call-heavy guest code against qemu-aarch64 (issue 14, item 3): the cost of one operation of
 * firmware/bin/calls (default: glibc's rand()) under `contpte-lab run` and under qemu-aarch64,
 * measured in pairs, alternately, and reported as the median and spread of the per-pair ratios.
 *
 * - contpte-lab: the time between the program's `mark loop` and `ops` markers, in-process
 *   (start-up excluded), divided by the count.
 * - qemu-aarch64: it has no markers, so the whole process is timed twice, with the count and
 *   with 0, and the difference divided by the count (start-up cancels out).
 *
 * Why a guest store costs so much under Unicorn 2.0.1 (the cause of the 20x): QEMU marks every
 * writable TLB entry "not dirty" and 2.0.1 never clears the mark, so each store calls
 * notdirty_write, which allocates and frees a page collection to look for translated code in the
 * page (~80 ns on this machine). rand() makes about ten stores (frames, canary, lock, state).
 * Unicorn 2.1.x clears the mark for a non-executable page unless a memory hook covers it, which
 * the engine's unmapped-access hook, bounded to the addresses above the pool, no longer does.
 * Point the run at 2.1.x with LD_LIBRARY_PATH (README.md, "Unicorn 2.1.4").
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/run-calls.js [kind] [count] [rounds]
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { unicornVersion } from '../src/engine/unicorn.js';
import { runMachine } from '../src/machine/run.js';

const ELF = new URL('../../firmware/bin/calls', import.meta.url).pathname;
const kind = process.argv[2] ?? 'rand';
const count = Number(process.argv[3] ?? 1_000_000);
const rounds = Number(process.argv[4] ?? 5);
/** qemu-aarch64 is 10-20 times faster: a larger count keeps its start-up noise small. */
const qemuCount = count * 10;
const TARGET = 2;

async function labPerOp(): Promise<number> {
  let t0 = 0n;
  let seconds = 0;
  await runMachine({
    elf: ELF,
    args: [kind, String(count)],
    stdout: () => {},
    onMarker: (action, name) => {
      if (action === 'mark' && name === 'loop') t0 = process.hrtime.bigint();
      else if (action === 'ops') seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    },
  });
  return seconds / count;
}

function qemuSeconds(n: number): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('qemu-aarch64', [ELF, kind, String(n)], { encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.error || r.status !== 0) throw new Error(`qemu-aarch64 failed (install Debian's qemu-user): ${r.error?.message ?? r.stderr}`);
  return seconds;
}

function qemuPerOp(): number {
  const full = qemuSeconds(qemuCount);
  const empty = qemuSeconds(0);
  return Math.max(full - empty, 1e-9) / qemuCount;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

await labPerOp(); // warm-up: the page cache, the JIT, QEMU's code buffer
qemuPerOp();
const load0 = loadavg()[0]!;
const lab: number[] = [];
const qemu: number[] = [];
const ratios: number[] = [];
for (let i = 0; i < rounds; i++) {
  const a = await labPerOp();
  const b = qemuPerOp();
  lab.push(a);
  qemu.push(b);
  ratios.push(a / b);
}
const load1 = loadavg()[0]!;
const ns = (s: number) => `${(s * 1e9).toFixed(0)} ns`;
const [major, minor] = unicornVersion();
console.log(`calls ${kind}: ${count} ops under contpte-lab (Unicorn ${major}.${minor}), ${qemuCount} under qemu-aarch64, ${rounds} paired rounds`);
console.log(`  contpte-lab per op: median ${ns(median(lab))} (${ns(Math.min(...lab))}..${ns(Math.max(...lab))})`);
console.log(`  qemu-aarch64 per op: median ${ns(median(qemu))} (${ns(Math.min(...qemu))}..${ns(Math.max(...qemu))})`);
const m = median(ratios);
console.log(`  ratio contpte-lab / qemu-aarch64: median ${m.toFixed(2)} (${Math.min(...ratios).toFixed(2)}..${Math.max(...ratios).toFixed(2)}); target <= ${TARGET}: ${m <= TARGET ? 'met' : 'NOT met'}`);
console.log(`  load average (1 min) ${load0.toFixed(2)} before, ${load1.toFixed(2)} after`);
