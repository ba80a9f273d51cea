/**
 * The kernel's view of every task on the machine: the pid namespace (one, starting at the first
 * program's pid), parent and child links, process groups and sessions, exit and reaping
 * (kernel/exit.c), and the futex table. The machine implements `TaskHost` (address spaces,
 * registers, the scheduler) and calls into here from the task syscalls (syscalls/task.ts).
 *
 * Deterministic by construction: ids are handed out in order (pid_max is never reached in a run),
 * children are kept in creation order, and wait picks the first eligible child in that order.
 */
import type { ProcessMemory } from '../mm/api.js';
import type { RegisterFile } from '../engine/types.js';
import type { ElfImage } from './elf.js';
import type { RegNode } from './fs.js';
import type { Interpreter } from './interp.js';
import { FutexTable } from './futex.js';
import type { LinuxProcess } from './process.js';
import type { Task } from './task.js';
import { WaitQueue } from './wait.js';
import { killedBySignal } from './signals.js';
import { exitSignals, notifyParentExit } from './sigsend.js';
import { StructReader, StructWriter, getUser, putUser } from './uaccess.js';

const FUTEX_WAITERS = 0x80000000;
const FUTEX_OWNER_DIED = 0x40000000;
const FUTEX_TID_MASK = 0x3fffffff;
/** ROBUST_LIST_LIMIT: how many entries exit walks before giving up on a corrupt list. */
const ROBUST_LIST_LIMIT = 2048;

/** What the machine provides to the task layer. */
export interface TaskHost {
  /**
   * Runs `fn` with `mm` as the translation context (TTBR0/ASID of the running CPU), for the
   * kernel touching another process's memory (its robust list when it is killed), then restores.
   */
  withMm<T>(mm: ProcessMemory, fn: () => T): T;
  /** The calling task's registers as they are now (the svc's PC is past it). */
  currentRegisters(): RegisterFile;
  /** dup_mmap: a copy of `mm` for a forked child. */
  forkMm(mm: ProcessMemory): ProcessMemory;
  /** A fresh, empty address space (exec). */
  newMm(): ProcessMemory;
  /** exit_mmap of an address space nobody uses any more. */
  releaseMm(mm: ProcessMemory): void;
  /** A new task exists, runnable with `regs`; the scheduler places it on a CPU. */
  taskCreated(t: Task, regs: RegisterFile): void;
  /** A task ended (it never runs again). */
  taskExited(t: Task): void;
  /** The running task wants to give up its CPU after this syscall (sched_yield). */
  requestReschedule(): void;
  /** Virtual CLOCK_MONOTONIC of the running CPU, in ns. */
  nowNs(): bigint;
  /** The number of online CPUs and the CPU the current task runs on. */
  readonly cpuCount: number;
  currentCpu(): number;
  /** Moves a task to a CPU its affinity allows (after sched_setaffinity). */
  migrate(t: Task): void;
  /** The futex key of `va` in `mm` (futex.ts): private or by the memory's identity. */
  futexKey(mm: ProcessMemory, va: number, shared: boolean): string;
  /** A signal for a process (kill) or one thread (tgkill); the signal layer decides its fate. */
  signalProcess(p: LinuxProcess, sig: number, info: ChildSignalInfo | null): void;
  /**
   * The point of no return of execve for the calling task: a fresh address space for `p`, the
   * image loaded into it (load_elf_binary), the task's registers replaced. Returns 0, or the
   * message of a failure after the old image is gone (the process then dies of SIGSEGV).
   */
  exec(p: LinuxProcess, image: ElfImage, opts: ExecRequest): string | null;
}

/** What execve hands the loader (exec.ts ExecOptions): its interpreter found, the file it read. */
export interface ExecRequest {
  readonly argv: readonly string[];
  readonly envp: readonly string[];
  readonly exePath: string;
  readonly execfn: string;
  readonly interp?: Interpreter;
  readonly exeNode?: RegNode;
}

/** What SIGCHLD (or another exit signal) carries about the child. */
export interface ChildSignalInfo {
  readonly code: 'CLD_EXITED' | 'CLD_KILLED' | 'CLD_DUMPED' | 'CLD_STOPPED' | 'CLD_CONTINUED';
  readonly pid: number;
  readonly uid: number;
  /** Exit code, or the signal number. */
  readonly status: number;
}

/** How a process ended, for its parent's wait. */
export interface ExitInfo {
  /** Exited with a code (exit/exit_group), or killed by a signal (core dumped or not). */
  readonly kind: 'exited' | 'killed';
  /** The exit code (0..255) or the signal. */
  readonly value: number;
  readonly core: boolean;
}

/** The wait status word (wait4's *wstatus): WIFEXITED/WIFSIGNALED encodings. */
export function waitStatus(e: ExitInfo): number {
  return e.kind === 'exited' ? (e.value & 0xff) << 8 : (e.value & 0x7f) | (e.core ? 0x80 : 0);
}

export class LinuxSystem {
  readonly processes = new Map<number, LinuxProcess>();
  readonly tasks = new Map<number, Task>();
  readonly futexes = new FutexTable();
  /** The process the run started with: its exit ends the run. */
  init: LinuxProcess | null = null;
  private nextId: number;

  constructor(
    readonly host: TaskHost,
    firstPid: number,
  ) {
    this.nextId = firstPid + 1;
  }

  /** alloc_pid: the next unused id (tids and pids share one space). */
  allocId(): number {
    while (this.tasks.has(this.nextId) || this.processes.has(this.nextId)) this.nextId++;
    return this.nextId++;
  }

  /** Registers a process and its threads (the first program, a forked child). */
  addProcess(p: LinuxProcess): void {
    this.processes.set(p.pid, p);
    for (const t of p.threads) this.tasks.set(t.tid, t);
    if (this.init === null) this.init = p;
  }

  addThread(t: Task): void {
    this.tasks.set(t.tid, t);
  }

  /** Processes of a process group. */
  group(pgid: number): LinuxProcess[] {
    return [...this.processes.values()].filter((q) => q.pgid === pgid && q.exit === null);
  }

  /** release_task of a reaped zombie: its ids become free, its parent forgets it. */
  reap(child: LinuxProcess): void {
    const parent = child.parent;
    if (parent !== null) {
      const i = parent.children.indexOf(child);
      if (i >= 0) parent.children.splice(i, 1);
    }
    this.processes.delete(child.pid);
    for (const t of child.threads) this.tasks.delete(t.tid);
    child.reaped = true;
  }

  /** A thread left its process; it stays known until the process is reaped (its tid is busy). */
  forgetThread(t: Task): void {
    if (!t.isThreadGroupLeader) this.tasks.delete(t.tid);
  }

  /** Wakes the parent's wait4/waitid (child exit, stop, continue). */
  notifyParent(child: LinuxProcess): void {
    child.parent?.childEvents.wake();
  }

  /**
   * do_exit for one thread: its clear_child_tid is cleared and woken (pthread_join), its robust
   * futexes released, and it never runs again. When it was the last thread, the process exits
   * with `info`. Returns whether the process ended.
   */
  exitThread(t: Task, info: ExitInfo): boolean {
    if (t.state === 'dead' || t.state === 'zombie') return false;
    const p = t.process;
    this.releaseRobustList(t);
    if (t.clearChildTid !== 0 && p.threads.some((o) => o !== t && o.state !== 'dead' && o.state !== 'zombie')) {
      // mm_release: only while someone else can still see the memory.
      const addr = t.clearChildTid;
      this.host.withMm(p.mm, () => {
        if (putUser(p.mm, addr, new Uint8Array(4)) === 0) this.futexes.wake(this.host.futexKey(p.mm, addr, true), 1);
      });
    }
    this.leave(t);
    if (p.threads.every((o) => o.state === 'dead' || o.state === 'zombie')) {
      this.exitProcess(p, info);
      return true;
    }
    return false;
  }

  /** do_group_exit: every thread of `p` ends, then the process with `info`. */
  exitGroup(p: LinuxProcess, info: ExitInfo): void {
    if (p.exit !== null) return;
    for (const t of [...p.threads]) {
      if (t.state === 'dead' || t.state === 'zombie') continue;
      this.releaseRobustList(t);
      this.leave(t);
    }
    this.exitProcess(p, info);
  }

  /** de_thread: exec leaves only the calling thread in its process. */
  deThread(t: Task): void {
    for (const o of [...t.process.threads]) {
      if (o === t || o.state === 'dead' || o.state === 'zombie') continue;
      this.leave(o);
      o.state = 'dead';
    }
    const p = t.process;
    const keep = p.threads.filter((o) => o === t || o.isThreadGroupLeader);
    p.threads.length = 0;
    p.threads.push(...keep);
  }

  /** The thread stops running for good (its sleep, if any, is abandoned). */
  private leave(t: Task): void {
    const b = t.blockedIn;
    if (b !== null) for (const q of b.on) q.remove(t);
    t.blockedIn = null;
    t.state = t.isThreadGroupLeader ? 'zombie' : 'dead';
    exitSignals(t);
    this.host.taskExited(t);
    this.forgetThread(t);
  }

  /**
   * The process's resources go (exit_files, exit_mm), its children are orphaned, a vfork
   * parent is released, and the parent is told (exit signal and wait) or, if it does not
   * wait, the process is reaped at once.
   */
  private exitProcess(p: LinuxProcess, info: ExitInfo): void {
    p.exit = info;
    for (const t of p.threads) if (t.state !== 'dead') t.state = 'zombie';
    // CLONE_FILES without CLONE_THREAD shares the table: it closes with its last user.
    if (![...this.processes.values()].some((q) => q !== p && q.exit === null && q.fds === p.fds)) p.fds.closeAll();
    const mmShared = [...this.processes.values()].some((q) => q !== p && q.exit === null && q.mm === p.mm);
    if (!mmShared) this.host.releaseMm(p.mm);
    p.vforkDone?.wake();
    p.vforkDone = null;
    // Orphans are adopted by the machine's own reaper (init, outside the guest): a zombie goes now.
    for (const c of [...p.children]) {
      c.parent = null;
      if (c.exit !== null) this.reap(c);
    }
    p.children.length = 0;
    const parent = p.parent;
    if (parent === null || parent.exit !== null) {
      this.reap(p);
      return;
    }
    // do_notify_parent: the exit signal with CLD_*; a parent that ignores SIGCHLD (SIG_IGN or
    // SA_NOCLDWAIT) reaps at once, which notifyParentExit says.
    const end = info.kind === 'exited' ? { code: info.value } : { ...killedBySignal(info.value, 'its exit'), coreDumped: info.core };
    if (p.exitSignal !== 0 && notifyParentExit(p, parent, end, p.exitSignal)) this.reap(p);
    this.notifyParent(p);
  }

  /**
   * exit_robust_list: each futex on the thread's robust list that it owns gets FUTEX_OWNER_DIED
   * and one waiter woken (kernel/futex/core.c, handle_futex_death).
   */
  private releaseRobustList(t: Task): void {
    const rl = t.robustList;
    if (rl === null) return;
    this.host.withMm(t.process.mm, () => this.walkRobustList(t, rl));
  }

  private walkRobustList(t: Task, rl: { readonly head: number; readonly len: number }): void {
    const mm = t.process.mm;
    const head = getUser(mm, rl.head, 24);
    if (head === null) return;
    const h = new StructReader(head);
    const offset = Number(BigInt.asIntN(64, h.u64(8)));
    const pending = Number(h.u64(16));
    const visit = (entry: number): void => {
      const va = entry + offset;
      const w = getUser(mm, va, 4);
      if (w === null) return;
      const word = new StructReader(w).u32(0);
      if ((word & FUTEX_TID_MASK) !== t.tid) return;
      const next = ((word & FUTEX_WAITERS) | FUTEX_OWNER_DIED) >>> 0;
      if (putUser(mm, va, new StructWriter(4).u32(0, next).bytes) < 0) return;
      if ((word & FUTEX_WAITERS) !== 0) this.futexes.wake(this.host.futexKey(mm, va, true), 1);
    };
    let entry = Number(h.u64(0));
    for (let n = 0; entry !== rl.head && entry !== 0 && n < ROBUST_LIST_LIMIT; n++) {
      const e = getUser(mm, entry, 8);
      if (e === null) break;
      const nextEntry = Number(new StructReader(e).u64(0) & ~1n);
      if (entry !== pending) visit(entry);
      entry = nextEntry;
    }
    if (pending !== 0) visit(pending);
    t.robustList = null;
  }

  /** A new queue of child events for a process (in its constructor). */
  static childQueue(pid: number): WaitQueue {
    return new WaitQueue(`wait_chldexit of ${pid}`);
  }
}
