/**
 * A process over the fake memory manager, with captured standard streams and diagnostics, and
 * helpers to make system calls the way the guest does (raw 64-bit registers) and to put
 * arguments in guest memory.
 */
import { PhysMem, PHYS_BASE } from '../../src/mmu/physmem.js';
import { Buddy } from '../../src/mm/buddy.js';
import { Memmap } from '../../src/mm/folio.js';
import { PageCache } from '../../src/mm/pagecache.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE } from '../../src/mm/vma.js';
import { Telemetry } from '../../src/trace/index.js';
import { LinuxProcess, type LinuxProcessOptions, type Markers } from '../../src/linux/process.js';
import { argsFrom } from '../../src/linux/syscalls/args.js';
import { LinuxSystem } from '../../src/linux/system.js';
import type { SyscallOutcome } from '../../src/linux/syscalls/outcome.js';
import { syscallNumber } from '../../src/linux/syscalls/table.js';
import { FakeMemory } from './fakemm.js';

export { PHYS_BASE };
/** Where the scratch area for syscall arguments lives. */
export const SCRATCH = 0x10000000;

export interface Rig {
  p: LinuxProcess;
  mm: FakeMemory;
  cache: PageCache;
  telemetry: Telemetry;
  stdout: string[];
  stderr: string[];
  diagnostics: string[];
  stdin: Uint8Array[];
  markers: string[];
  /** A read-write scratch area of 64 KiB for syscall arguments. */
  scratch: number;
  /** Makes a syscall by name with arguments as the registers would hold them. */
  sys(name: string, ...args: (number | bigint)[]): SyscallOutcome;
  /** Like sys, but expects a plain return and gives its value. */
  call(name: string, ...args: (number | bigint)[]): number;
  /** Puts a NUL-terminated string in scratch memory at `offset` and returns its address. */
  str(s: string, offset?: number): number;
  /** Puts bytes in scratch memory at `offset` and returns their address. */
  bytes(b: Uint8Array, offset?: number): number;
  read(va: number, len: number): Uint8Array;
  u64(va: number): bigint;
}

export function makeCache(sizeBytes = 16 * 1024 * 1024, mem = PhysMem.allocate(PHYS_BASE, sizeBytes)): { cache: PageCache; memmap: Memmap; telemetry: Telemetry } {
  const telemetry = new Telemetry();
  const buddy = new Buddy(mem, telemetry);
  const memmap = new Memmap(buddy, telemetry);
  return { cache: new PageCache(memmap, telemetry), memmap, telemetry };
}

export function makeRig(opts: Partial<Omit<LinuxProcessOptions, 'mm' | 'pageCache' | 'telemetry'>> = {}): Rig {
  const { cache, memmap, telemetry } = makeCache();
  const mm = new FakeMemory(memmap);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const diagnostics: string[] = [];
  const stdin: Uint8Array[] = [];
  const markers: string[] = [];
  const recorder: Markers = {
    mark: (name) => markers.push(`mark ${name}`),
    reset: () => markers.push('reset'),
    dump: (label) => markers.push(`dump ${label}`),
    ops: (n) => markers.push(`ops ${n}`),
  };
  const dec = new TextDecoder();
  const p = new LinuxProcess({
    mm,
    pageCache: cache,
    telemetry,
    stdio: {
      readStdin: (max) => {
        const next = stdin.shift() ?? new Uint8Array(0);
        if (next.length > max) {
          stdin.unshift(next.subarray(max));
          return next.subarray(0, max);
        }
        return next;
      },
      writeStdout: (b) => stdout.push(dec.decode(b)),
      writeStderr: (b) => stderr.push(dec.decode(b)),
      isatty: false,
    },
    diagnostics: (line) => diagnostics.push(line),
    markers: recorder,
    unmapMappingRange: (inode, hole) => mm.unmapMappingRange(inode, hole),
    ...opts,
  });
  // The task tables over a one-CPU host that runs nothing: syscalls that need the machine (fork,
  // registers) fail loudly; the rest (ids, affinity, futexes, wait) work as on a one-CPU machine.
  const system = new LinuxSystem(
    {
      withMm: (_mm, fn) => fn(),
      currentRegisters: () => {
        throw new Error('the syscall rig has no CPU registers');
      },
      forkMm: () => {
        throw new Error('the syscall rig cannot fork');
      },
      newMm: () => {
        throw new Error('the syscall rig cannot exec');
      },
      releaseMm: () => undefined,
      taskCreated: () => undefined,
      taskExited: () => undefined,
      requestReschedule: () => undefined,
      nowNs: () => p.clock.peekMonotonicNs(),
      cpuCount: 1,
      currentCpu: () => 0,
      migrate: () => undefined,
      futexKey: (_mm, va) => `m:${va}`,
      signalProcess: () => undefined,
      exec: () => 'the syscall rig cannot exec',
    },
    p.pid,
  );
  p.system = system;
  system.addProcess(p);
  // Low and fixed, out of the way of the mmap region's top-down placement.
  const scratch = mm.mmap({ addr: SCRATCH, len: 65536, prot: 3, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, file: null, pgoff: 0 });
  // A sleep (nanosleep) with nothing else to run: time jumps to the deadline and the call runs
  // again, as the machine's scheduler does when every CPU is idle.
  const sys = (name: string, ...args: (number | bigint)[]): SyscallOutcome => {
    const nr = syscallNumber(name);
    const a = argsFrom(args);
    let out = p.syscall(nr, a, 0x400104);
    if (name !== 'nanosleep' && name !== 'clock_nanosleep') return out;
    while (out.kind === 'block' && out.deadlineNs !== undefined && out.on.length === 0) {
      if (p.clock.peekMonotonicNs() < out.deadlineNs) p.clock.setNow(out.deadlineNs);
      p.current.wakeReason = 'timeout';
      out = p.syscall(nr, a, 0x400104);
    }
    p.current.blockState = null;
    p.current.wakeReason = null;
    return out;
  };
  const rig: Rig = {
    p,
    mm,
    cache,
    telemetry,
    stdout,
    stderr,
    diagnostics,
    stdin,
    markers,
    scratch,
    sys,
    call(name, ...args) {
      const r = sys(name, ...args);
      if (r.kind !== 'return') throw new Error(`${name} did not return: ${JSON.stringify(r)}`);
      return r.value;
    },
    str(s, offset = 0) {
      mm.poke(scratch + offset, new TextEncoder().encode(s + '\0'));
      return scratch + offset;
    },
    bytes(b, offset = 0) {
      mm.poke(scratch + offset, b);
      return scratch + offset;
    },
    read: (va, len) => mm.peek(va, len),
    u64: (va) => new DataView(mm.peek(va, 8).buffer).getBigUint64(0, true),
  };
  return rig;
}

/** Offsets in the scratch area for results, away from the strings at its start. */
export const OUT = 32768;
