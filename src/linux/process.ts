/**
 * One Linux process as the guest sees it: its address space (the memory manager's
 * ProcessMemory), file system view and descriptors, credentials, clocks, entropy, limits, signal
 * state and the per-thread registrations glibc makes at start-up. The machine creates one, loads
 * an executable into it (exec.ts) and forwards every `svc` to `syscall()`.
 *
 * Identity is fixed so runs are deterministic: pid = tid = 1000, parent 999, uid = gid = 1000
 * (an ordinary user: the permission checks of the file system apply, as for most benchmarks).
 */
import type { ProcessMemory } from '../mm/api.js';
import type { PageCache, UnmapMappingRange } from '../mm/pagecache.js';
import type { Telemetry } from '../trace/index.js';
import { UsageError } from '../util/errors.js';
import type { U64 } from '../util/u64.js';
import { VirtualClock, type ClockOptions } from './clock.js';
import { FdTable } from './fdtable.js';
import { OpenFile, O_RDONLY, O_WRONLY, type StdioHooks } from './file.js';
import { FileSystem, type FsPolicy } from './fs.js';
import { mountProcfs } from './procfs.js';
import { mountSysroot } from './sysroot.js';
import { singleProcessHost, type ProcHost } from './prochost.js';
import { DEFAULT_HWCAPS, type Hwcaps } from './hwcap.js';
import { GuestRandom, DEFAULT_RANDOM_SEED } from './random.js';
import { RLIMIT_NOFILE, Rlimits } from './rlimit.js';
import { ProcessSignals } from './sigstate.js';
import { singleProcessSignalHost, type SignalHost } from './sigsend.js';
import { HOST_STDIO } from './stdio.js';
import { Task } from './task.js';
import { LinuxSystem, type ExitInfo } from './system.js';
import type { WaitQueue } from './wait.js';
import { SyscallDispatcher, type SyscallOutcome } from './syscalls/dispatch.js';

/** The guest marker calls (docs/design.md "Guest markers"), implemented by the machine. */
export interface Markers {
  mark(name: string): void;
  reset(): void;
  dump(label: string): void;
  ops(n: number): void;
}

export interface ProcessIds {
  readonly pid: number;
  readonly ppid: number;
  readonly uid: number;
  readonly gid: number;
}

export const DEFAULT_IDS: ProcessIds = { pid: 1000, ppid: 999, uid: 1000, gid: 1000 };

/** What uname(2) reports. */
export interface Utsname {
  readonly sysname: string;
  readonly nodename: string;
  readonly release: string;
  readonly version: string;
  readonly machine: string;
  readonly domainname: string;
}

export const DEFAULT_UTSNAME: Utsname = {
  sysname: 'Linux',
  nodename: 'contpte-lab',
  release: '6.9.0-contpte-lab',
  version: '#1 SMP PREEMPT contpte-lab',
  machine: 'aarch64',
  domainname: '(none)',
};

/** The release string for a kernel profile name: 'linux-6.12' gives '6.12.0-contpte-lab'. */
export function releaseForProfile(profile: string): string {
  const m = /^linux-(\d+)\.(\d+)(?:\.(\d+))?/.exec(profile);
  if (m === null) return `0.0.0-contpte-lab-${profile}`;
  return `${m[1]}.${m[2]}.${m[3] ?? '0'}-contpte-lab`;
}

export interface LinuxProcessOptions {
  readonly mm: ProcessMemory;
  /**
   * fork: the process this one is a copy of (copy_process without CLONE_THREAD). The file system
   * tree, clock, entropy, stdio, markers and dispatcher are the machine's and shared; the
   * working directory, umask, limits, signal dispositions and (unless `shareFds`) the descriptor
   * table are copied.
   */
  readonly forkOf?: LinuxProcess;
  /** CLONE_FILES: share the parent's descriptor table instead of copying it. */
  readonly shareFds?: boolean;
  /** The machine's page cache: regular files' data lives there (not needed by a fork). */
  readonly pageCache?: PageCache;
  readonly telemetry: Telemetry;
  readonly fsPolicy?: FsPolicy;
  /** The memory manager's unmap_mapping_range (ftruncate and O_TRUNC shrink mapped files). */
  readonly unmapMappingRange?: UnmapMappingRange;
  readonly stdio?: Partial<StdioHooks>;
  /** The machine's marker implementation; without one the marker call is ENOSYS, as on Linux. */
  readonly markers?: Markers | null;
  readonly utsname?: Partial<Utsname>;
  readonly randomSeed?: string | number | bigint;
  readonly clock?: ClockOptions;
  /** An unimplemented syscall ends the run instead of returning -ENOSYS. */
  readonly strict?: boolean;
  /** Where one-time diagnostics go (unimplemented syscalls); default: the tool's stderr. */
  readonly diagnostics?: (line: string) => void;
  /** The disassembled instruction at a guest PC, for messages. */
  readonly disassemble?: (pc: number) => string | undefined;
  readonly ids?: Partial<ProcessIds>;
  /**
   * A host directory holding an arm64 root file system, shown under the guest's `/` (sysroot.ts):
   * a shell's /usr/bin/tr, a dynamic program's interpreter and libraries come from there. Without
   * one, execve of a path the guest's tree does not have looks on the host.
   */
  readonly sysroot?: string;
  readonly hwcaps?: Hwcaps;
  /** The working directory, an existing directory of the guest's tree (default '/'). */
  readonly cwd?: string;
  /** What /proc and /sys show of the machine (prochost.ts); default: this process alone, one CPU. */
  readonly procHost?: ProcHost;
}

/** glibc's registrations: where the kernel would write on thread exit and on return to user. */
export interface RseqRegistration {
  readonly addr: number;
  readonly len: number;
  readonly sig: number;
}

export class LinuxProcess {
  /** The address space: replaced by exec. */
  mm: ProcessMemory;
  readonly telemetry: Telemetry;
  readonly fs: FileSystem;
  readonly fds: FdTable;
  readonly clock: VirtualClock;
  readonly random: GuestRandom;
  readonly limits = new Rlimits();
  readonly signals: ProcessSignals;
  /** How signal code finds other processes and threads: the machine replaces the one-process default. */
  signalHost: SignalHost;
  readonly ids: ProcessIds;
  readonly utsname: Utsname;
  readonly stdio: StdioHooks;
  readonly markers: Markers | null;
  readonly hwcaps: Hwcaps;
  /** See LinuxProcessOptions.sysroot; null: the host's root. */
  readonly sysroot: string | null;
  readonly strict: boolean;
  readonly diagnostics: (line: string) => void;
  readonly disassemble: ((pc: number) => string | undefined) | undefined;
  readonly dispatcher: SyscallDispatcher;
  /** The machine as /proc, /sys and sysinfo see it. */
  readonly procHost: ProcHost;

  /** The process's threads, the thread group leader (tid = pid) first. */
  readonly threads: Task[] = [];
  /**
   * The thread whose syscall is being handled (the kernel's `current`): the scheduler sets it
   * before it dispatches; a one-thread process has its leader here from the start.
   */
  current: Task;

  /** The machine's task tables and host, once the machine has registered the process. */
  system: LinuxSystem | null = null;
  /** The parent (null for the first program, whose parent is outside the machine). */
  parent: LinuxProcess | null = null;
  /** Children not yet reaped, in creation order. */
  readonly children: LinuxProcess[] = [];
  /** Woken when a child exits, stops or continues (wait4, waitid). */
  readonly childEvents: WaitQueue;
  /** The signal the parent gets when this process ends (clone's CSIGNAL; SIGCHLD for fork). */
  exitSignal = 17;
  pgid: number;
  sid: number;
  /** How the process ended, once it has (a zombie until reaped). */
  exit: ExitInfo | null = null;
  /** A stop or continue its parent has not collected with WUNTRACED/WCONTINUED yet. */
  stopEvent: { readonly kind: 'stopped' | 'continued'; readonly sig: number } | null = null;
  reaped = false;
  /** Whether exec has run since fork (setpgid's EACCES rule, vfork release). */
  execed = false;
  /** A vfork parent sleeping until this child execs or exits. */
  vforkDone: WaitQueue | null = null;

  constructor(opts: LinuxProcessOptions) {
    this.mm = opts.mm;
    this.telemetry = opts.telemetry;
    this.ids = { ...DEFAULT_IDS, ...opts.ids };
    this.pgid = this.ids.pid;
    this.sid = this.ids.pid;
    this.childEvents = LinuxSystem.childQueue(this.ids.pid);
    const parent = opts.forkOf;
    if (parent !== undefined) {
      this.utsname = parent.utsname;
      this.clock = parent.clock;
      this.random = parent.random;
      this.stdio = parent.stdio;
      this.markers = parent.markers;
      this.hwcaps = parent.hwcaps;
      this.sysroot = parent.sysroot;
      this.strict = parent.strict;
      this.diagnostics = parent.diagnostics;
      this.disassemble = parent.disassemble;
      this.fs = parent.fs.forkView();
      this.fds = opts.shareFds === true ? parent.fds : parent.fds.fork(() => this.limits.curNumber(RLIMIT_NOFILE));
      this.limits.copyFrom(parent.limits);
      // The machine completes the signal state with initForkSignals (handlers copied or shared).
      this.signals = new ProcessSignals(this.limits);
      this.signalHost = parent.signalHost;
      this.dispatcher = parent.dispatcher;
      this.procHost = parent.procHost;
      this.pgid = parent.pgid;
      this.sid = parent.sid;
      this.parent = parent;
      this.system = parent.system;
      this.current = new Task(this.ids.pid, this);
      this.threads.push(this.current);
      return;
    }
    this.utsname = { ...DEFAULT_UTSNAME, ...opts.utsname };
    this.clock = new VirtualClock(opts.clock);
    this.random = new GuestRandom(opts.randomSeed ?? DEFAULT_RANDOM_SEED);
    this.stdio = { ...HOST_STDIO, ...opts.stdio };
    this.markers = opts.markers ?? null;
    this.hwcaps = opts.hwcaps ?? DEFAULT_HWCAPS;
    this.sysroot = opts.sysroot ?? null;
    this.strict = opts.strict ?? false;
    this.diagnostics = opts.diagnostics ?? ((line) => this.stdio.writeStderr(new TextEncoder().encode(line + '\n')));
    this.disassemble = opts.disassemble;
    if (opts.pageCache === undefined) throw new Error('LinuxProcess: a new process needs the page cache');
    this.fs = new FileSystem({
      pageCache: opts.pageCache,
      ...(opts.fsPolicy !== undefined ? { policy: opts.fsPolicy } : {}),
      creds: { uid: this.ids.uid, gid: this.ids.gid },
      now: () => this.clock.peekRealtimeNs(),
      ...(opts.unmapMappingRange !== undefined ? { unmapMappingRange: opts.unmapMappingRange } : {}),
      random: this.random,
    });
    this.procHost = opts.procHost ?? singleProcessHost(() => this);
    mountProcfs(this.fs, this.procHost);
    if (this.sysroot !== null) mountSysroot(this.fs, this.sysroot);
    if (opts.cwd !== undefined) {
      const dir = this.fs.lookup(this.fs.root, opts.cwd, true);
      if (!opts.cwd.startsWith('/') || dir.kind !== 'ok' || dir.node.kind !== 'dir') {
        throw new UsageError(`working directory '${opts.cwd}': not an absolute path to a directory of the guest (/, /tmp, /dev, /proc ...)`);
      }
      this.fs.cwd = dir.node;
    }
    this.fds = new FdTable(() => this.limits.curNumber(RLIMIT_NOFILE));
    for (const [stream, mode] of [['stdin', O_RDONLY], ['stdout', O_WRONLY], ['stderr', O_WRONLY]] as const) {
      const node = this.fs.newFifo();
      // /dev/stdin and friends open the tool's stream again.
      node.reopen = (flags) => new OpenFile(node, flags, stream);
      this.fds.install(new OpenFile(node, mode, stream), false);
    }
    this.dispatcher = new SyscallDispatcher(opts.telemetry);
    this.signals = new ProcessSignals(this.limits);
    this.signalHost = singleProcessSignalHost(this);
    this.current = new Task(this.ids.pid, this);
    this.threads.push(this.current);
  }

  get pid(): number {
    return this.ids.pid;
  }

  /** The thread id of the calling thread (gettid). */
  get tid(): number {
    return this.current.tid;
  }

  /**
   * One system call: x8 (`nr`, see syscallNumberFromX8), x0..x5 and the PC after the `svc`.
   * The machine writes a 'return' value to x0 (returnRegister) and ends the run on the others.
   */
  syscall(nr: number, args: readonly U64[], pc: number): SyscallOutcome {
    return this.dispatcher.dispatch(this, nr, args, pc);
  }
}
