/**
 * Cost of the process layer itself: syscall dispatch and argument handling, file I/O through the
 * page cache, path walks, ELF parsing and exec, over the real memory manager (MmKernel) with the
 * user pages already faulted in, so the figures are the linux layer's share of a syscall.
 *
 *   npx vite-node bench/linux-syscalls.ts   (or node dist/bench/linux-syscalls.js after npm run build)
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readElfFile } from '../src/linux/elf.js';
import { loadElfBinary } from '../src/linux/exec.js';
import { LinuxProcess } from '../src/linux/process.js';
import { argsFrom } from '../src/linux/syscalls/args.js';
import { syscallNumber } from '../src/linux/syscalls/table.js';
import { MmKernel } from '../src/mm/index.js';
import type { U64 } from '../src/util/u64.js';

/** firmware/bin/hello, found from bench/ (vite-node) or dist/bench/ (compiled). */
function findHello(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const f = join(dir, 'firmware', 'bin', 'hello');
    if (existsSync(f)) return f;
  }
  throw new Error('firmware/bin/hello not found above the bench directory');
}

const HELLO = findHello();

function rate(fn: () => number, minMs = 400): number {
  fn();
  let ops = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < minMs) {
    ops += fn();
    t = performance.now();
  }
  return (ops * 1000) / (t - t0);
}

function report(name: string, perSecond: number): void {
  const us = 1e6 / perSecond;
  console.log(`${name.padEnd(52)} ${(perSecond / 1e3).toFixed(1).padStart(9)} k/s  ${us.toFixed(2).padStart(8)} us`);
}

function newProcess(k = new MmKernel({ profile: 'linux-6.9', sets: ['mem_mb=256'] })): { p: LinuxProcess; k: MmKernel } {
  const mm = k.newProcess();
  k.switchTo(mm);
  const p = new LinuxProcess({
    mm,
    pageCache: k.pageCache,
    telemetry: k.telemetry,
    unmapMappingRange: k.unmapMappingRange,
    stdio: { writeStdout: () => undefined, writeStderr: () => undefined },
    diagnostics: () => undefined,
  });
  return { p, k };
}

const { p } = newProcess();
const nr = (name: string): number => syscallNumber(name);
const call = (n: number, a: U64[]): number => {
  const r = p.syscall(n, a, 0x400004);
  if (r.kind !== 'return') throw new Error(JSON.stringify(r));
  return r.value;
};

const buf = call(nr('mmap'), argsFrom([0, 2 << 20, 3, 0x22, -1, 0]));
p.mm.copyToUser(buf, new Uint8Array(2 << 20)); // fault every page in once
p.mm.copyToUser(buf, new TextEncoder().encode('/tmp/bench\0'));
p.mm.copyToUser(buf + 64, new TextEncoder().encode('/tmp/../tmp/./bench\0'));
const fd = call(nr('openat'), argsFrom([-100, buf, 0o102, 0o600]));
if (call(nr('write'), argsFrom([fd, buf + 4096, 1 << 20])) !== 1 << 20) throw new Error('short write setting up the file');
const devnull = (() => {
  p.mm.copyToUser(buf + 128, new TextEncoder().encode('/dev/null\0'));
  return call(nr('openat'), argsFrom([-100, buf + 128, 1, 0]));
})();

const getpid = [nr('getpid'), argsFrom([])] as const;
report('getpid', rate(() => {
  for (let i = 0; i < 10000; i++) call(getpid[0], getpid[1]);
  return 10000;
}));

const cg = argsFrom([1, buf + 8192]);
report('clock_gettime(CLOCK_MONOTONIC) (16-byte copy out)', rate(() => {
  for (let i = 0; i < 10000; i++) call(nr('clock_gettime'), cg);
  return 10000;
}));

const w1 = argsFrom([devnull, buf, 1]);
report('write(/dev/null, 1 byte)', rate(() => {
  for (let i = 0; i < 10000; i++) call(nr('write'), w1);
  return 10000;
}));

for (const size of [64, 4096, 65536]) {
  const a = argsFrom([fd, buf + 4096, size, 0]);
  if (call(nr('pread64'), a) !== size) throw new Error(`pread64 of ${size} bytes came back short`);
  report(`pread64(tmpfs file, ${size} bytes) via page cache`, rate(() => {
    for (let i = 0; i < 1000; i++) call(nr('pread64'), a);
    return 1000;
  }));
  const wa = argsFrom([fd, buf + 4096, size, 0]);
  report(`pwrite64(tmpfs file, ${size} bytes) via page cache`, rate(() => {
    for (let i = 0; i < 1000; i++) call(nr('pwrite64'), wa);
    return 1000;
  }));
}

const openArgs = argsFrom([-100, buf + 64, 0, 0]);
report('openat("/tmp/../tmp/./bench") + close', rate(() => {
  for (let i = 0; i < 1000; i++) {
    const f = call(nr('openat'), openArgs);
    call(nr('close'), argsFrom([f]));
  }
  return 1000;
}));

const st = argsFrom([fd, buf + 8192]);
report('fstat (128-byte struct out)', rate(() => {
  for (let i = 0; i < 1000; i++) call(nr('fstat'), st);
  return 1000;
}));

report('unimplemented syscall (ENOSYS, reported once)', rate(() => {
  for (let i = 0; i < 10000; i++) p.syscall(nr('mremap'), [], 0x400004);
  return 10000;
}));

report('readElfFile(firmware/bin/hello)', rate(() => {
  readElfFile(HELLO);
  return 1;
}, 300));

const image = readElfFile(HELLO);
const execKernel = new MmKernel({ profile: 'linux-6.9', sets: ['mem_mb=256'] });
report('exec hello (new process, loadElfBinary, exit_mmap)', rate(() => {
  const fresh = newProcess(execKernel);
  const loaded = loadElfBinary(fresh.p, image, { argv: ['hello'] });
  fresh.p.mm.exitMmap();
  // Each process has its own file tree, so each exec brings its own copy of the binary into the
  // page cache: drop it, or the loop fills memory with copies no one will use again.
  execKernel.truncate(loaded.exe.inode, 0);
  return 1;
}, 1000));
