/**
 * The signal state a process's threads share (kernel/signal.c, include/linux/sched/signal.h,
 * v6.9): the handler table (sighand_struct, which CLONE_SIGHAND shares even between processes)
 * and the rest of signal_struct: the process-wide pending set, the group exit and group stop,
 * the notification owed to the parent after a stop or continue, the interval and POSIX timers.
 * What each thread owns alone (mask, private pending set, alternate stack) is in task.ts.
 */
import { RLIMIT_CORE, RLIMIT_SIGPENDING, type Rlimits } from './rlimit.js';
import { SigPending } from './sigpending.js';
import {
  DEFAULT_ACTION, NSIG, SIG_DFL, SIG_IGN, UAPI_SA_FLAGS, UNBLOCKABLE, type ProcessEnd, type SigAction,
} from './signals.js';
import { ProcessTimers } from './itimer.js';

/** sighand_struct: one action per signal. */
export class SigHand {
  private readonly actions: SigAction[] = Array.from({ length: NSIG + 1 }, () => DEFAULT_ACTION);

  action(sig: number): SigAction {
    return this.actions[sig] ?? DEFAULT_ACTION;
  }

  /** do_sigaction's store: unknown flags and the unblockable signals of the mask are dropped. */
  setAction(sig: number, act: SigAction): SigAction {
    const old = this.actions[sig]!;
    this.actions[sig] = { handler: act.handler, flags: act.flags & UAPI_SA_FLAGS, restorer: act.restorer, mask: act.mask & ~UNBLOCKABLE };
    return old;
  }

  /** SA_RESETHAND at delivery: back to SIG_DFL, flags and mask kept (get_signal). */
  resetHandler(sig: number): void {
    this.actions[sig] = { ...this.action(sig), handler: SIG_DFL };
  }

  /** copy_sighand: a forked child starts with its parent's actions. */
  copy(): SigHand {
    const c = new SigHand();
    for (let sig = 1; sig <= NSIG; sig++) c.actions[sig] = this.actions[sig]!;
    return c;
  }

  /** flush_signal_handlers at exec: caught signals go back to SIG_DFL, ignored ones stay ignored. */
  flushHandlers(): void {
    for (let sig = 1; sig <= NSIG; sig++) {
      const a = this.actions[sig]!;
      if (a.handler !== SIG_IGN) this.actions[sig] = DEFAULT_ACTION;
      else this.actions[sig] = { handler: SIG_IGN, flags: 0n, restorer: 0n, mask: 0n };
    }
  }
}

/** A report to the parent that do_notify_parent_cldstop owes after a stop or continue. */
export interface CldNotify {
  readonly why: 'stopped' | 'continued';
  readonly sig: number;
}

/** The process-wide half of the signal state (signal_struct). */
export class ProcessSignals {
  sighand = new SigHand();
  /** Signals sent to the process as a whole (kill, timers, SIGCHLD). */
  readonly shared = new SigPending();
  /** SIGNAL_GROUP_EXIT: the process is dying of this; every thread exits at its next check. */
  groupExit: ProcessEnd | null = null;
  /** SIGNAL_GROUP_EXIT from exit_group: the exit code every thread leaves with. */
  groupExitCode: number | null = null;
  /** group_exit_code of a group stop: the stop signal. */
  stopSig = 0;
  /** group_stop_count: threads that have yet to stop. */
  stopCount = 0;
  /** SIGNAL_STOP_STOPPED: the group stop completed. */
  stopped = false;
  cldNotify: CldNotify | null = null;
  /** curr_target: where complete_signal's search for a thread starts (an index in `threads`). */
  currTarget = 0;
  /** Queue entries charged to RLIMIT_SIGPENDING (the kernel counts per user; here per process). */
  queued = 0;
  readonly timers = new ProcessTimers();
  /**
   * Where the sigreturn trampoline is mapped in this address space (sigtramp.ts), once a handler
   * without SA_RESTORER has run. A fork's child has it at the same address; exec forgets it.
   */
  trampoline: number | null = null;

  constructor(private readonly limits: Rlimits) {}

  action(sig: number): SigAction {
    return this.sighand.action(sig);
  }

  /** signal_group_exit: the process is going away, by a signal or exit_group. */
  get exiting(): boolean {
    return this.groupExit !== null || this.groupExitCode !== null;
  }

  hasHandler(sig: number): boolean {
    const h = this.action(sig).handler;
    return h !== SIG_DFL && h !== SIG_IGN;
  }

  /** Whether one more queue entry fits in RLIMIT_SIGPENDING. */
  mayQueue(): boolean {
    return BigInt(this.queued + 1) <= this.limits.get(RLIMIT_SIGPENDING).cur;
  }

  /**
   * do_coredump's first test: a core is written only if RLIMIT_CORE allows at least a page
   * (binfmt min_coredump). The model writes no file; it reports WCOREDUMP as Linux would.
   */
  dumpsCore(): boolean {
    return this.limits.get(RLIMIT_CORE).cur >= 4096n;
  }
}
