/**
 * A task: one thread of a process (task_struct). What a thread owns alone lives here: its thread
 * id, its registers while it is off the CPU, its blocked-signal mask and private pending signals,
 * the registrations glibc makes per thread (set_tid_address, set_robust_list, rseq), its
 * alternate signal stack, and, while it sleeps in a syscall, what the syscall remembers between
 * tries (wait.ts). What the threads of a process share (address space, descriptors, signal
 * handlers, ids) is the LinuxProcess, `task.process`.
 */
import type { U64 } from '../util/u64.js';
import type { RegisterFile } from '../engine/types.js';
import type { LinuxProcess } from './process.js';
import { SigPending } from './sigpending.js';
import type { SyscallOutcome } from './syscalls/outcome.js';

export type { RegisterFile };
import type { WaitQueue, Waiter, WakeReason } from './wait.js';

export function emptyRegisterFile(): RegisterFile {
  return {
    x: Array.from({ length: 31 }, () => 0n),
    sp: 0n,
    pc: 0n,
    nzcv: 0,
    tpidr: 0n,
    v: Array.from({ length: 32 }, () => new Uint8Array(16)),
    fpcr: 0,
    fpsr: 0,
  };
}

export function cloneRegisterFile(r: RegisterFile): RegisterFile {
  return { x: [...r.x], sp: r.sp, pc: r.pc, nzcv: r.nzcv, tpidr: r.tpidr, v: r.v.map((b) => b.slice()), fpcr: r.fpcr, fpsr: r.fpsr };
}

/**
 * TASK_RUNNING split as the scheduler needs it: 'runnable' waits for its CPU, 'running' is on
 * it; 'blocked' sleeps on wait queues; 'stopped' was stopped by a signal; 'zombie' has exited
 * and waits to be reaped (a thread group leader whose other threads still run, or a process
 * whose parent has not waited); 'dead' is gone.
 */
export type TaskState = 'runnable' | 'running' | 'blocked' | 'stopped' | 'zombie' | 'dead';

/** A syscall a task sleeps in: run again on wake-up (wait.ts). */
export interface BlockedSyscall {
  readonly nr: number;
  readonly args: readonly U64[];
  /** The PC after the svc. */
  readonly pc: number;
  readonly on: readonly WaitQueue[];
  readonly deadlineNs?: bigint;
  readonly restartable: boolean;
  /** What a signal wake-up does (outcome.ts). */
  readonly onSignal?: 'interrupt' | 'retry';
}

/** What restart_syscall runs: the interrupted call again, from where it stopped. */
export interface RestartBlock {
  readonly name: string;
  run(p: LinuxProcess): number | SyscallOutcome;
}

export class Task implements Waiter {
  /** Saved registers while the task is not on the engine. */
  regs: RegisterFile | null = null;
  state: TaskState = 'runnable';
  /** The modeled CPU the task runs on (or last ran on). */
  cpu = 0;
  /** sched_setaffinity's mask, one bit per CPU (bigint: up to any CPU count). */
  affinity: bigint = -1n;

  /** CLONE_CHILD_SETTID: where the task writes its id when it first runs (schedule_tail). */
  setChildTid = 0;
  /** set_tid_address's clear_child_tid pointer (also CLONE_CHILD_CLEARTID). */
  clearChildTid = 0;
  robustList: { readonly head: number; readonly len: number } | null = null;
  rseq: { readonly addr: number; readonly len: number; readonly sig: number } | null = null;
  /** sigaltstack: ss_sp, ss_flags, ss_size (sas_ss_*). */
  altStack: { sp: bigint; flags: number; size: bigint } = { sp: 0n, flags: 2 /* SS_DISABLE */, size: 0n };

  // ---- signals (sigstate.ts, sigsend.ts, sigdeliver.ts) ----
  /** task->blocked: change it with setBlocked (sigsend.ts), which retargets shared signals. */
  blocked = 0n;
  /** task->real_blocked: the mask rt_sigtimedwait replaced while it sleeps. */
  realBlocked = 0n;
  /** Signals sent to this thread alone (tkill, tgkill, faults, SIGEV_THREAD_ID timers). */
  readonly pending = new SigPending();
  /**
   * TIF_SIGPENDING: set when a signal is sent to the thread, recomputed when it dequeues or
   * changes its mask. The machine checks it on every return to user space.
   */
  sigpending = false;
  /** The mask to restore after the next delivery or return (saved_sigmask with TIF_RESTORE_SIGMASK). */
  savedSigmask: bigint | null = null;
  /** JOBCTL_STOP_PENDING: the thread must join its process's group stop. */
  jobctlStopPending = false;
  /** thread.fault_address and thread.fault_code (ESR): what the next signal frame reports. */
  faultAddress = 0n;
  faultCode = 0n;
  /** restart_block: what restart_syscall runs after ERESTART_RESTARTBLOCK (nanosleep, futex). */
  restartBlock: RestartBlock | null = null;
  /** The interrupted syscall's restart decision, kept across a stop (sigdeliver.ts). */
  restartContext: { readonly retval: number; readonly continueAddr: bigint; readonly restartAddr: bigint } | null = null;
  /**
   * How a syscall reads the calling thread's user registers (the kernel's pt_regs): the machine
   * installs it; sigaltstack needs SP and rt_sigreturn the whole file. Null: use `regs`.
   */
  userRegs: (() => RegisterFile) | null = null;

  /** Continued by SIGCONT: deliverSignals runs again before its user code (sigdeliver.ts). */
  resumedFromStop = false;
  /** The syscall the task sleeps in, while blocked. */
  blockedIn: BlockedSyscall | null = null;
  /** Why the last sleep ended; read by a handler that runs again after a wake-up. */
  wakeReason: WakeReason | null = null;
  /**
   * What a blocking syscall keeps between its tries (an absolute deadline, a half-done copy):
   * set by the handler, cleared by the scheduler when the syscall returns.
   */
  blockState: unknown = null;
  /** Called by wake(): the scheduler's hook that makes the task runnable again. */
  onWake: ((t: Task, reason: WakeReason) => void) | null = null;

  constructor(
    readonly tid: number,
    public process: LinuxProcess,
  ) {}

  /** Waiter: leaves every queue of its sleep and tells the scheduler. */
  wake(reason: WakeReason): void {
    const b = this.blockedIn;
    if (b === null || this.state !== 'blocked') return;
    for (const q of b.on) q.remove(this);
    this.wakeReason = reason;
    this.state = 'runnable';
    this.onWake?.(this, reason);
  }

  /** The user registers as they are now (see userRegs). */
  currentRegs(): RegisterFile {
    if (this.userRegs !== null) return this.userRegs();
    if (this.regs !== null) return this.regs;
    throw new Error(`task ${this.tid}: its user registers are not available to the kernel model`);
  }

  get isThreadGroupLeader(): boolean {
    return this.tid === this.process.pid;
  }
}
