/**
 * The firmware's expected behaviour as data: for each run, the binary, its arguments, the exact
 * stdout, the exit code and the exact sequence of marker calls it makes. The qemu-aarch64 test
 * checks the first three against the reference; the engine's tests run the same cases under our
 * tool and can check all four.
 *
 * Expected stdout is computed here from what each program does (sums of the page pattern, the
 * compute mix), not copied from a run, so the cases also check the C code.
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Every program in firmware/bin, in the order of firmware/Makefile's PROGRAMS. */
export const FIRMWARE_PROGRAMS = [
  'hello',
  'page_fault1',
  'page_fault2',
  'page_fault3',
  'read_fault',
  'mprotect_page',
  'partial_munmap',
  'compute',
  'stride',
  'syscalls',
  'cow_data',
  'mm_calls',
  'ipc',
  'calls',
  'collapse',
] as const;
export type FirmwareProgram = (typeof FIRMWARE_PROGRAMS)[number];

/**
 * The multi-task programs (fork, threads, signals, pipes), in the order of firmware/Makefile's
 * MULTITASK. Their expected stdout lives in firmware/expected/ and multitask-qemu.test.ts checks
 * it against qemu-aarch64; the cases above stay single-task.
 */
export const MULTITASK_PROGRAMS = ['wis_harness', 'fork_cow', 'block_ops', 'signals', 'pipe_pingpong', 'threads', 'spawn', 'fork_churn', 'procmem', 'memlock', 'sysvshm', 'tagged_ptr', 'musl_libc', 'code_write', 'punch_hole', 'collapse_cases'] as const;
/** Multi-task programs that execute arm64 programs, which qemu-user cannot: Linux is their reference. */
export const LINUX_REFERENCE_PROGRAMS: readonly MultitaskProgram[] = ['spawn', 'collapse_cases'];
export type MultitaskProgram = (typeof MULTITASK_PROGRAMS)[number];

export const FIRMWARE_DIR = fileURLToPath(new URL('../../firmware/', import.meta.url));

export function firmwareBinary(program: FirmwareProgram | MultitaskProgram): string {
  return path.join(FIRMWARE_DIR, 'bin', program);
}

/** The marker syscall of docs/design.md, as firmware/include/lab.h issues it. */
export const LAB_SYSCALL_NR = 0x4c4142;

/** One marker call, in the order the guest makes them (x0 = 1 mark, 2 reset, 3 dump, 4 ops). */
export type MarkerCall =
  | { readonly op: 'mark'; readonly name: string }
  | { readonly op: 'reset' }
  | { readonly op: 'dump'; readonly label: string }
  | { readonly op: 'ops'; readonly n: number };

export interface FirmwareCase {
  /** Unique, for test titles: the program and its arguments. */
  readonly title: string;
  readonly program: FirmwareProgram;
  readonly args: readonly string[];
  readonly stdout: string;
  readonly exitCode: number;
  /** For failing runs: a line the diagnostic on stderr must contain. */
  readonly stderrIncludes?: string;
  readonly markers: readonly MarkerCall[];
}

/** Every case assumes 4 KiB pages: qemu-aarch64 on an x86-64 host and the tool both use them. */
export const PAGE_SIZE = 4096;

const KiB = 1024;
const MiB = 1024 * KiB;

const mark = (name: string): MarkerCall => ({ op: 'mark', name });
const reset: MarkerCall = { op: 'reset' };
const dump = (label: string): MarkerCall => ({ op: 'dump', label });
const ops = (n: number): MarkerCall => ({ op: 'ops', n });

/** The byte firmware/src/pattern.h stores in page p. */
export function pagePattern(page: number): number {
  return (page % 251) + 1;
}

function patternSum(pages: Iterable<number>): number {
  let sum = 0;
  for (const p of pages) sum += pagePattern(p);
  return sum;
}

function* range(from: number, to: number): Generator<number> {
  for (let i = from; i < to; i++) yield i;
}

function makeCase(program: FirmwareProgram, args: readonly string[], stdout: string, markers: readonly MarkerCall[]): FirmwareCase {
  return { title: [program, ...args].join(' '), program, args, stdout, exitCode: 0, markers };
}

function hello(args: readonly string[]): FirmwareCase {
  const lines = ['hello, world', ...args.map((a, i) => `argv[${i + 1}] = ${a}`)];
  return makeCase('hello', args, lines.map((l) => l + '\n').join(''), []);
}

type PageFaultProgram = 'page_fault1' | 'page_fault2' | 'page_fault3';

/** page_fault.c: ops = pages × iterations; marks per iteration around mmap, touch and munmap. */
function pageFault(program: PageFaultProgram, args: readonly string[], size: number, iterations: number, align: number): FirmwareCase {
  const n = (size / PAGE_SIZE) * iterations;
  const loop = Array.from({ length: iterations }, () => [mark('mmap'), mark('touch'), mark('munmap')]).flat();
  return makeCase(
    program,
    args,
    `${program} ops=${n} size=${size} iterations=${iterations} align=${align} pagesize=${PAGE_SIZE}\n`,
    [mark('setup'), reset, ...loop, ops(n), dump(program), mark('done')],
  );
}

function readFault(args: readonly string[], size: number, mode: 'shared' | 'private', iterations: number, linked = false): FirmwareCase {
  const pages = size / PAGE_SIZE;
  const loop = Array.from({ length: iterations }, () => [mark('mmap'), mark('read'), mark('munmap')]).flat();
  return makeCase(
    'read_fault',
    args,
    `read_fault ops=${pages * iterations} size=${size} mode=${mode} iterations=${iterations} sum=${patternSum(range(0, pages)) * iterations}${linked ? ' file=linked' : ''}\n`,
    [mark('setup'), reset, ...loop, ops(pages * iterations), dump('read_fault'), mark('done')],
  );
}

function mprotectPage(args: readonly string[], page: number, iterations: number, size: number, backing: 'anon' | 'shared'): FirmwareCase {
  return makeCase(
    'mprotect_page',
    args,
    `mprotect_page ops=${iterations} page=${page} iterations=${iterations} size=${size} backing=${backing}\n`,
    [mark('setup'), mark('touch'), reset, mark('loop'), ops(iterations), dump('mprotect_page'), mark('verify')],
  );
}

function partialMunmap(args: readonly string[], size: number, first: number, count: number): FirmwareCase {
  const pages = size / PAGE_SIZE;
  const remaining = [...range(0, first), ...range(first + count, pages)];
  return makeCase(
    'partial_munmap',
    args,
    `partial_munmap ops=${remaining.length} size=${size} first=${first} count=${count} sum=${patternSum(remaining)}\n`,
    [mark('setup'), mark('touch'), reset, mark('munmap'), mark('retouch'), ops(remaining.length), dump('partial_munmap'), mark('done')],
  );
}

function collapse(args: readonly string[], size: number): FirmwareCase {
  const pages = size / PAGE_SIZE;
  return makeCase(
    'collapse',
    args,
    `collapse ops=${size / (2 * MiB)} size=${size} sum=${patternSum(range(0, pages))}\n`,
    [mark('setup'), mark('touch'), reset, mark('collapse'), ops(size / (2 * MiB)), dump('collapse'), mark('verify')],
  );
}

/** compute.c's mix(): xorshift64 and a multiply-add, on 64-bit unsigned values. */
export function computeChecksum(iterations: number): bigint {
  const M = (1n << 64n) - 1n;
  let x = 0x9e3779b97f4a7c15n;
  let acc = 0n;
  for (let i = 0n; i < BigInt(iterations); i++) {
    x ^= (x << 13n) & M;
    x ^= x >> 7n;
    x ^= (x << 17n) & M;
    acc = (acc * 0x100000001b3n + (x ^ i)) & M;
  }
  return acc ^ x;
}

function compute(args: readonly string[], iterations: number): FirmwareCase {
  const checksum = computeChecksum(iterations).toString(16).padStart(16, '0');
  return makeCase(
    'compute',
    args,
    `compute ops=${iterations} iterations=${iterations} checksum=0x${checksum}\n`,
    [reset, mark('loop'), ops(iterations), dump('compute'), mark('done')],
  );
}

function stride(args: readonly string[], pages: number, step: number, rounds: number): FirmwareCase {
  const n = pages * rounds;
  return makeCase(
    'stride',
    args,
    `stride ops=${n} pages=${pages} stride=${step} rounds=${rounds} sum=${patternSum(range(0, pages)) * rounds}\n`,
    [mark('setup'), reset, mark('sweep'), ops(n), dump('stride'), mark('done')],
  );
}

/**
 * What ipc.c prints on any correct Linux (pipe_write merges 100-byte writes 40 to a page, so 16
 * pages hold 64000 bytes; F_SETPIPE_SZ rounds 5000 up to two pages, and a 1-byte write after a
 * full page takes the second).
 */
export const IPC_STDOUT = [
  'pipe: write 4, read 4',
  'pipe: empty read EAGAIN',
  'pipe: F_GETPIPE_SZ 65536',
  'pipe: filled with 100-byte writes: 64000 bytes, then EAGAIN',
  'pipe: poll full 1, revents 0x1 0',
  'pipe: shrink while full other',
  'pipe: drained 64000',
  'pipe: F_SETPIPE_SZ 5000 -> 8192',
  'pipe: 4096 then 1: 4096 1',
  'pipe: poll 1, revents 0x1 0',
  'pipe: after the writer closed: read 4097, read 0',
  'pipe: poll 1, revents 0x10',
  'pipe: write with no reader EPIPE',
  'pipe: O_CLOEXEC 1',
  'dup3: 20, FD_CLOEXEC 0; same fd EINVAL',
  'eventfd: write 8, read 8 -> 8, read again EAGAIN, short read EINVAL',
  'eventfd semaphore: 1 1, then EAGAIN',
  "stream: send 6 5, recv 11 'hello world'",
  'stream: peek 2, then 1',
  'stream: after SHUT_WR the peer reads 0, the writer gets EPIPE',
  "dgram: recvmsg 3 'one' MSG_TRUNC yes, recv(MSG_TRUNC) 4, then EAGAIN",
  'dgram: poll 1 revents 0x4',
  'select: 1, read ready 0, write ready 1',
  'select after a write: 1, read ready 1',
  'readdir: . .. a b c',
]
  .map((l) => l + '\n')
  .join('');
/** glibc's rand() after srand(1): random_r's TYPE_3 additive feedback generator (stdlib/random_r.c). */
export function glibcRand(count: number): number[] {
  const state = new Int32Array(31);
  let word = 1;
  state[0] = word;
  for (let i = 1; i < 31; i++) {
    // 16807 * word mod (2^31 - 1) by Schrage's method, as srandom_r computes it.
    const hi = Math.trunc(word / 127773);
    const lo = word % 127773;
    word = 16807 * lo - 2836 * hi;
    if (word < 0) word += 2147483647;
    state[i] = word;
  }
  let f = 3;
  let r = 0;
  const out: number[] = [];
  for (let n = -310; n < count; n++) {
    state[f] = (state[f]! + state[r]!) | 0;
    const v = (state[f]! >>> 0) >>> 1;
    f = (f + 1) % 31;
    r = (r + 1) % 31;
    if (n >= 0) out.push(v);
  }
  return out;
}

/** calls.c's checksum for each kind after `count` operations. */
export function callsChecksum(kind: 'rand' | 'call' | 'exclusive' | 'atomic' | 'store', count: number): bigint {
  const M = (1n << 64n) - 1n;
  let acc = 0n;
  switch (kind) {
    case 'rand':
      for (const v of glibcRand(count)) acc = (acc * 31n + BigInt(v)) & M;
      return acc;
    case 'call':
      for (let i = 0; i < count; i++) acc = (acc * 0x100000001b3n + 1n) & M;
      return acc;
    case 'exclusive':
    case 'atomic':
      return BigInt(count);
    case 'store':
      return count === 0 ? 0n : BigInt(count - 1);
  }
}

function calls(args: readonly string[], kind: 'rand' | 'call' | 'exclusive' | 'atomic' | 'store', count: number): FirmwareCase {
  const checksum = callsChecksum(kind, count).toString(16).padStart(16, '0');
  return makeCase(
    'calls',
    args,
    `calls kind=${kind} ops=${count} checksum=0x${checksum}\n`,
    [reset, mark('loop'), ops(count), dump('calls'), mark('done')],
  );
}

/** What syscalls.c prints on any correct Linux, qemu-aarch64 included, with stdout not a tty. */
export const SYSCALLS_STDOUT = [
  'write: ok',
  'writev: ok, 2 buffers',
  'write(fd -1): EBADF',
  'getpid: ok',
  'gettid: ok, equals getpid',
  'set_tid_address: ok, returns the tid',
  'set_robust_list: called',
  'getuid/geteuid/getgid/getegid: ok, uid == euid, gid == egid',
  'uname: ok, sysname Linux, machine aarch64',
  'clock_gettime(CLOCK_MONOTONIC): ok, does not go backwards',
  'clock_gettime(CLOCK_REALTIME): ok',
  'clock_gettime(clock 100): EINVAL',
  'gettimeofday: ok',
  'nanosleep(1 ms): ok',
  'nanosleep(tv_nsec 2000000000): EINVAL',
  'getrandom(16): ok, 16 bytes',
  'prlimit64(RLIMIT_STACK): ok, soft <= hard',
  'readlinkat(/proc/self/exe): ok, absolute: yes, basename syscalls',
  'getcwd: ok, absolute: yes',
  'getcwd(size 1): ERANGE',
  'sched_getaffinity: ok, at least one cpu',
  'rt_sigaction(SIGUSR1): ok, was SIG_DFL, handler read back, restored',
  'rt_sigaction(SIGKILL): EINVAL',
  'rt_sigprocmask: ok, SIGUSR2 blocked, mask restored',
  'openat(O_CREAT|O_EXCL): ok',
  'openat(O_CREAT|O_EXCL) again: EEXIST',
  'openat(missing path): ENOENT',
  'write(file): ok, 16 bytes',
  'lseek: ok, SEEK_CUR 16, SEEK_END 16, SEEK_SET 4',
  'lseek(offset -1): EINVAL',
  'read(file): ok, 6 bytes "456789"',
  'ftruncate(8192): ok; fstat: ok, regular file, size 8192',
  'read(hole): ok, zeros',
  'newfstatat: ok, size 8192',
  'statx: ok, regular file, size 8192',
  'mmap(file, MAP_SHARED): ok, sees write(), its store seen by read()',
  'ioctl(file, TCGETS): ENOTTY',
  'ioctl(stdout, TCGETS): called',
  'fcntl: ok, FD_CLOEXEC set then cleared, O_RDWR',
  'dup3(fd, 100, O_CLOEXEC): ok, 100, FD_CLOEXEC, same file',
  'dup3(fd, fd): EINVAL',
  'unlinkat: ok',
  'newfstatat(unlinked): ENOENT',
  'unlinkat(unlinked): ENOENT',
  'close: ok',
  'close(closed fd): EBADF',
  'read(closed fd): EBADF',
  'mmap(anonymous, 4 pages): ok, zero-filled, writable',
  'mmap(neither shared nor private): EINVAL',
  'mprotect: ok, read-only then writable again, data kept',
  'mprotect(unaligned): EINVAL',
  'madvise(MADV_WILLNEED): ok, data kept',
  'madvise(MADV_DONTNEED, page 2): ok, page 2 reads zero, neighbours kept',
  'madvise(unaligned): EINVAL',
  'munmap: ok, in two parts',
  'munmap(unaligned): EINVAL',
  'brk: ok, grew 65536 bytes, wrote them, shrank back',
  'memfd_create: ok, wrote and read back 15 bytes, size 15',
  'exit_group: 0',
]
  .map((l) => l + '\n')
  .join('');

/** mm_calls.c: the outcomes every Linux prints (and qemu-aarch64, for the calls it kept). */
const MM_CALLS_STDOUT = [
  'mremap(flags 8): EINVAL',
  'mremap(unaligned): EINVAL',
  'mremap(FIXED without MAYMOVE): EINVAL',
  'mremap(DONTUNMAP resizing): EINVAL',
  'mremap(FIXED overlapping): EINVAL',
  'mremap(shrink): same address',
  'mremap(grow): pages hold 1 2 3 4, new page 0',
  'msync(MS_SYNC): ok',
  'msync(MS_ASYNC): ok',
  'msync(len 0): ok',
  'msync(MS_SYNC|MS_ASYNC): EINVAL',
  'msync(unaligned): EINVAL',
  'msync(flags 8): EINVAL',
  'msync(MS_INVALIDATE, locked): EBUSY',
  'mincore(untouched): ok',
  'mincore(untouched): 00000000',
  'mlock(2 pages from +100): ok',
  'mincore(after mlock): ok',
  'mincore(after mlock): 11100000',
  'munlock: ok',
  'mincore(after a write): ok',
  'mincore(after a write): 11100010',
  'mincore(unaligned): EINVAL',
  'mlockall(0): EINVAL',
  'mlockall(MCL_ONFAULT): EINVAL',
  'mlockall(8): EINVAL',
  'munlockall: ok',
  'mm_calls: done',
].map((l) => l + '\n').join('');

/**
 * Small runs: quick under qemu-aarch64 and cheap enough for the tool (at most a few thousand
 * faults each). The page-fault sizes follow real-kernel-observations.md where it matters: 2 MiB
 * alignment, 64 KiB blocks, the mprotect pattern on page 15 and page 0.
 */
export const FIRMWARE_CASES: readonly FirmwareCase[] = [
  hello([]),
  hello(['one', 'two words', '']),
  pageFault('page_fault1', ['1M', '2'], 1 * MiB, 2, 2 * MiB),
  pageFault('page_fault1', ['64K', '3', '0'], 64 * KiB, 3, 0),
  pageFault('page_fault2', ['1M', '2'], 1 * MiB, 2, 2 * MiB),
  pageFault('page_fault3', ['2M', '2'], 2 * MiB, 2, 2 * MiB),
  pageFault('page_fault3', ['0x30000', '1', '64K'], 0x30000, 1, 64 * KiB),
  readFault(['1M'], 1 * MiB, 'shared', 1),
  readFault(['256K', 'private', '2'], 256 * KiB, 'private', 2),
  readFault(['256K', 'shared', '1', 'linked'], 256 * KiB, 'shared', 1, true),
  mprotectPage(['15', '4', '2M'], 15, 4, 2 * MiB, 'anon'),
  mprotectPage(['0', '4', '2M'], 0, 4, 2 * MiB, 'anon'),
  mprotectPage(['15', '2', '1M', 'shared'], 15, 2, 1 * MiB, 'shared'),
  partialMunmap([], 2 * MiB, 8, 16),
  partialMunmap(['256K', '0', '24'], 256 * KiB, 0, 24),
  compute(['1000'], 1000),
  compute(['0'], 0),
  stride(['256', '16', '2'], 256, 16, 2),
  stride(['100', '7', '1'], 100, 7, 1),
  { title: 'syscalls', program: 'syscalls', args: [], stdout: SYSCALLS_STDOUT, exitCode: 0, markers: [] },
  // cow_data.c: the array's first byte is 7; page 5 gets 7 + 1.
  makeCase('cow_data', [], 'cow_data: read 7, page 5 now holds 8\n', [reset, dump('cow')]),
  makeCase('mm_calls', [], MM_CALLS_STDOUT, []),
  { title: 'ipc', program: 'ipc', args: [], stdout: IPC_STDOUT, exitCode: 0, markers: [] },
  calls(['rand', '1000'], 'rand', 1000),
  calls(['call', '1000'], 'call', 1000),
  calls(['exclusive', '1000'], 'exclusive', 1000),
  calls(['atomic', '1000'], 'atomic', 1000),
  calls(['store', '1000'], 'store', 1000),
  calls(['store', '0'], 'store', 0),
  collapse(['4M'], 4 * MiB),
];

/** Every program with no arguments: its documented defaults. Large (up to 65,536 faults). */
export const FIRMWARE_DEFAULT_CASES: readonly FirmwareCase[] = [
  pageFault('page_fault1', [], 128 * MiB, 2, 2 * MiB),
  pageFault('page_fault2', [], 128 * MiB, 2, 2 * MiB),
  pageFault('page_fault3', [], 128 * MiB, 2, 2 * MiB),
  readFault([], 16 * MiB, 'shared', 1),
  mprotectPage([], 15, 16, 16 * MiB, 'anon'),
  partialMunmap([], 2 * MiB, 8, 16),
  compute([], 1_000_000),
  stride([], 4096, 16, 4),
  calls([], 'rand', 1_000_000),
  collapse([], 2 * MiB),
];

function usageCase(program: FirmwareProgram, args: readonly string[], stderrIncludes: string): FirmwareCase {
  return { title: [program, ...args].join(' '), program, args, stdout: '', exitCode: 2, stderrIncludes, markers: [] };
}

/** Bad arguments: exit code 2, nothing on stdout, a message naming the argument on stderr. */
export const FIRMWARE_USAGE_CASES: readonly FirmwareCase[] = [
  usageCase('page_fault3', ['12X'], "page_fault3: size: '12X' has an unknown suffix (expected K, M or G)"),
  usageCase('page_fault3', ['1000'], 'page_fault3: size: 1000 is not a positive multiple of the page size (4096)'),
  usageCase('page_fault1', ['1M', '-1'], "page_fault1: iterations: '-1' is not a count"),
  usageCase('page_fault2', ['1M', '1', '3K'], 'page_fault2: align: 3072 is not 0 or a power of two of at least the page size (4096)'),
  usageCase('page_fault1', ['1M', '1', '2M', 'x'], 'page_fault1: too many arguments (4)'),
  usageCase('read_fault', ['1M', 'both'], "read_fault: mode: 'both' is not one of shared|private"),
  usageCase('read_fault', ['1M', 'shared', '1', 'named'], "read_fault: file: 'named' is not one of unlinked|linked"),
  usageCase('mprotect_page', ['16', '1', '64K'], 'mprotect_page: page: 16 is outside the region of 16 pages'),
  usageCase('mprotect_page', ['0', '1', '64K', 'file'], "mprotect_page: backing: 'file' is not one of anon|shared"),
  usageCase('partial_munmap', ['64K', '0', '16'], 'partial_munmap: count: unmapping all 16 pages leaves nothing to touch'),
  usageCase('partial_munmap', ['64K', '10', '7'], 'partial_munmap: first 10 and count 7 are not a non-empty range inside the region of 16 pages'),
  usageCase('compute', ['99999999999999999999999'], "compute: iterations: '99999999999999999999999' is not a count"),
  usageCase('stride', ['10', '11'], 'stride: stride: 11 is not between 1 and the number of pages (10)'),
  usageCase('stride', ['0'], 'stride: pages: must be at least 1'),
  usageCase('syscalls', ['x'], 'syscalls: takes no arguments'),
  usageCase('collapse', ['3M'], 'collapse: size 3145728 is not a non-zero multiple of 2M'),
  usageCase('collapse', ['2M', 'maps'], "collapse: mode: 'maps' is not one of smaps"),
  usageCase('calls', ['lock'], "calls: kind: 'lock' is not one of rand|call|exclusive|atomic|store"),
];

/** The multi-task cases: firmware/expected/<name>.out is their stdout under qemu-aarch64 and Linux. */
export interface MultitaskCase {
  /** Names firmware/expected/<name>.out; starts with the program's name. */
  readonly name: string;
  readonly program: MultitaskProgram;
  readonly args: readonly string[];
  readonly exitCode: number;
  /**
   * Why qemu-aarch64 cannot be this case's reference, when it cannot: multitask-qemu.test.ts
   * leaves the case out and the tool's run must still print the expected file.
   */
  readonly notUnderQemu?: string;
}

export const MULTITASK_CASES: readonly MultitaskCase[] = [
  { name: 'wis_harness', program: 'wis_harness', args: ['-c', 'page_fault1', '-m', 'processes', '-t', '4', '-z', '1M', '-i', '4', '-q'], exitCode: 0 },
  { name: 'wis_harness-threads', program: 'wis_harness', args: ['-c', 'page_fault3', '-m', 'threads', '-t', '4', '-z', '1M', '-i', '4', '-a', '2M', '-q'], exitCode: 0 },
  { name: 'wis_harness-page_fault2', program: 'wis_harness', args: ['-c', 'page_fault2', '-m', 'processes', '-t', '2', '-z', '2M', '-i', '3', '-a', '2M', '-q'], exitCode: 0 },
  { name: 'wis_harness-usage', program: 'wis_harness', args: ['-s', '1', '-q'], exitCode: 2 },
  // The syscall-bound testcases: brk up and down, mmap and munmap, reads past end of file (a
  // rewind every 257 reads), writes wrapping at 1 MiB, and a pipe ping-pong with a partner.
  { name: 'wis_harness-brk1', program: 'wis_harness', args: ['-c', 'brk1', '-m', 'processes', '-t', '4', '-i', '200', '-q'], exitCode: 0 },
  {
    name: 'wis_harness-brk1-threads',
    program: 'wis_harness',
    args: ['-c', 'brk1', '-m', 'threads', '-t', '4', '-i', '200', '-q'],
    exitCode: 0,
    // Seen with Debian's qemu-user 10.0.2: 19 runs in 30 stopped with "brk(up a page) failed:
    // ENOMEM". qemu-user emulates brk by mapping the pages above the old break itself, and two
    // threads doing so at once collide; Linux moves the break under mmap_lock, where both succeed
    // (Debian's 6.12.117 arm64 kernel on 4 CPUs printed the expected file in 10 runs of 10).
    notUnderQemu: "qemu-user's brk is not atomic between threads: concurrent brk calls fail with ENOMEM",
  },
  { name: 'wis_harness-mmap1', program: 'wis_harness', args: ['-c', 'mmap1', '-m', 'processes', '-t', '2', '-z', '16M', '-i', '50', '-q'], exitCode: 0 },
  { name: 'wis_harness-read1', program: 'wis_harness', args: ['-c', 'read1', '-m', 'processes', '-t', '2', '-i', '600', '-q'], exitCode: 0 },
  { name: 'wis_harness-write1-threads', program: 'wis_harness', args: ['-c', 'write1', '-m', 'threads', '-t', '2', '-i', '600', '-q'], exitCode: 0 },
  { name: 'wis_harness-context_switch1', program: 'wis_harness', args: ['-c', 'context_switch1', '-m', 'processes', '-t', '2', '-i', '100', '-q'], exitCode: 0 },
  { name: 'wis_harness-context_switch1-threads', program: 'wis_harness', args: ['-c', 'context_switch1', '-m', 'threads', '-t', '2', '-i', '100', '-q'], exitCode: 0 },
  { name: 'fork_cow', program: 'fork_cow', args: [], exitCode: 0 },
  { name: 'fork_cow-4M', program: 'fork_cow', args: ['4M'], exitCode: 0 },
  { name: 'block_ops-dontneed', program: 'block_ops', args: ['dontneed'], exitCode: 0 },
  { name: 'block_ops-mremap', program: 'block_ops', args: ['mremap', '128K'], exitCode: 0 },
  { name: 'block_ops-fork', program: 'block_ops', args: ['fork'], exitCode: 0 },
  { name: 'block_ops-usage', program: 'block_ops', args: ['fork', '2M'], exitCode: 2 },
  { name: 'signals', program: 'signals', args: [], exitCode: 0 },
  { name: 'pipe_pingpong', program: 'pipe_pingpong', args: [], exitCode: 0 },
  { name: 'threads', program: 'threads', args: [], exitCode: 0 },
  { name: 'threads-16', program: 'threads', args: ['16'], exitCode: 0 },
  { name: 'fork_churn', program: 'fork_churn', args: [], exitCode: 0 },
  { name: 'procmem', program: 'procmem', args: [], exitCode: 0 },
  { name: 'memlock', program: 'memlock', args: [], exitCode: 0 },
  { name: 'sysvshm', program: 'sysvshm', args: [], exitCode: 0 },
  { name: 'tagged_ptr', program: 'tagged_ptr', args: [], exitCode: 0 },
  { name: 'musl_libc', program: 'musl_libc', args: [], exitCode: 0 },
  { name: 'code_write', program: 'code_write', args: [], exitCode: 0 },
  { name: 'punch_hole', program: 'punch_hole', args: [], exitCode: 0 },
];
