/**
 * Sending signals (kernel/signal.c, v6.9): prepare_signal's side effects of stop and continue
 * signals and its ignore test, the queueing of __send_signal_locked (standard signals coalesce,
 * real-time ones queue with their siginfo up to RLIMIT_SIGPENDING), complete_signal's choice of
 * the thread that takes a process-directed signal and its immediate group kill for a fatal one,
 * and the kill/tkill/tgkill/sigqueue targets and permission checks. Also the notifications to a
 * parent (do_notify_parent, do_notify_parent_cldstop) and mask changes (set_current_blocked).
 *
 * The rest of the kernel model reaches processes and threads through `SignalHost`, which the
 * machine implements over its task table and scheduler.
 */
import { EAGAIN, EINVAL, EPERM, ESRCH } from '../util/errno.js';
import { SIGEV_THREAD_ID, type PosixTimer, type TimerFiring } from './itimer.js';
import type { LinuxProcess } from './process.js';
import {
  BUS_ADRALN, BUS_ADRERR, CLD_CONTINUED, CLD_DUMPED, CLD_EXITED, CLD_KILLED, CLD_STOPPED, SEGV_ACCERR, SEGV_MAPERR, SI_TKILL, SI_USER,
  fromUser, siCode, type SigInfo,
} from './siginfo.js';
import type { QueueOwner } from './sigpending.js';
import {
  NSIG, SA_NOCLDSTOP, SA_NOCLDWAIT, SIGCHLD, SIGCONT, SIGKILL, SIGRTMIN, SIG_DFL, SIG_IGN, STOP_MASK, UNBLOCKABLE,
  defaultAction, fatalFault, kernelIgnores, killedBySignal, sigBit, signalNumber, type FatalFault, type FaultSiCode, type ProcessEnd,
} from './signals.js';
import type { Task } from './task.js';

/** What the signal code needs from the machine: lookups and the scheduler's side of job control. */
export interface SignalHost {
  /** The live process (thread group) with this id, or null. */
  findProcess(pid: number): LinuxProcess | null;
  /** The live thread with this id (any process), or null. */
  findThread(tid: number): Task | null;
  /** The live processes of a process group, in ascending pid order. */
  processGroup(pgid: number): readonly LinuxProcess[];
  /** Every live process, in ascending pid order. */
  allProcesses(): readonly LinuxProcess[];
  pgidOf(p: LinuxProcess): number;
  sidOf(p: LinuxProcess): number;
  /** The parent that is told of stops, continues and exits (real_parent), or null. */
  parentOf(p: LinuxProcess): LinuxProcess | null;
  /** is_current_pgrp_orphaned: SIGTSTP, SIGTTIN and SIGTTOU are dropped in an orphaned group. */
  isOrphanedProcessGroup(pgid: number): boolean;
  /**
   * A stopped thread continues (SIGCONT, or SIGKILL): make it runnable. It calls
   * deliverSignals again before running user code.
   */
  resumeStopped(t: Task): void;
  /** The process stopped or continued: what wait4/waitid report with WUNTRACED/WCONTINUED; wake its parent's waiters. */
  jobControlChanged(p: LinuxProcess, change: { readonly kind: 'stopped'; readonly sig: number } | { readonly kind: 'continued' }): void;
}

/** A host for a process alone (tests, the one-process machine): no parent, no other process. */
export function singleProcessSignalHost(p: LinuxProcess): SignalHost {
  return {
    findProcess: (pid) => (pid === p.pid ? p : null),
    findThread: (tid) => p.threads.find((t) => t.tid === tid && isLive(t)) ?? null,
    processGroup: (pgid) => (pgid === p.pid ? [p] : []),
    allProcesses: () => [p],
    pgidOf: () => p.pid,
    sidOf: () => p.pid,
    parentOf: () => null,
    isOrphanedProcessGroup: () => true,
    resumeStopped: (t) => {
      t.state = 'runnable';
    },
    jobControlChanged: () => undefined,
  };
}

export function isLive(t: Task): boolean {
  return t.state !== 'zombie' && t.state !== 'dead';
}

function liveThreads(p: LinuxProcess): Task[] {
  return p.threads.filter(isLive);
}

/** recalc_sigpending: whether the thread has something to do on its way back to user space. */
export function recalcSigpending(t: Task): void {
  const s = t.process.signals;
  t.sigpending = s.exiting || t.jobctlStopPending || ((t.pending.set | s.shared.set) & ~t.blocked) !== 0n;
}

/** signal_wake_up: flag the thread and wake it from an interruptible sleep (or a stop, for SIGKILL). */
export function signalWakeUp(t: Task, resume: boolean): void {
  t.sigpending = true;
  if (t.state === 'blocked') t.wake('signal');
  else if (resume && t.state === 'stopped') {
    t.process.signalHost.resumeStopped(t);
  }
}

/** sig_ignored: dropped on arrival (a blocked signal never is: it may be unblocked with another disposition). */
function sigIgnored(t: Task, sig: number): boolean {
  if (((t.blocked | t.realBlocked) & sigBit(sig)) !== 0n) return false;
  const h = t.process.signals.action(sig).handler;
  return h === SIG_IGN || (h === SIG_DFL && kernelIgnores(sig));
}

/** prepare_signal: stop and continue side effects; false if the signal is dropped. */
function prepareSignal(p: LinuxProcess, t: Task, sig: number): boolean {
  const s = p.signals;
  if (s.exiting) return false;
  if ((sigBit(sig) & STOP_MASK) !== 0n) {
    s.shared.flush(sigBit(SIGCONT));
    for (const th of p.threads) th.pending.flush(sigBit(SIGCONT));
  } else if (sig === SIGCONT) {
    s.shared.flush(STOP_MASK);
    for (const th of p.threads) {
      th.pending.flush(STOP_MASK);
      th.jobctlStopPending = false;
      if (th.state === 'stopped') p.signalHost.resumeStopped(th);
    }
    // A stop half done is reported as done (SIGCHLD does not queue: the continue is lost).
    if (s.stopped) s.cldNotify = { why: 'continued', sig: SIGCONT };
    else if (s.stopCount > 0) s.cldNotify = { why: 'stopped', sig: s.stopSig };
    if (s.stopped) p.signalHost.jobControlChanged(p, { kind: 'continued' });
    s.stopped = false;
    s.stopCount = 0;
  }
  return !sigIgnored(t, sig);
}

/** wants_signal. */
function wantsSignal(sig: number, t: Task): boolean {
  if ((t.blocked & sigBit(sig)) !== 0n) return false;
  if (!isLive(t)) return false;
  if (sig === SIGKILL) return true;
  if (t.state === 'stopped') return false;
  return t.state === 'running' || !t.sigpending;
}

/** sig_fatal: the default action ends the process. */
function sigFatal(p: LinuxProcess, sig: number): boolean {
  const d = defaultAction(sig);
  return d !== 'ignore' && d !== 'continue' && d !== 'stop' && p.signals.action(sig).handler === SIG_DFL;
}

/** Kills every thread of the process: SIGKILL pending everywhere, sleepers and stopped threads woken. */
export function startGroupExit(p: LinuxProcess, end: ProcessEnd): void {
  p.signals.groupExit = end;
  zapThreads(p, null);
}

/**
 * do_group_exit for exit_group(code) from `caller`: the other threads are killed (SIGKILL, woken)
 * and leave with the same code when they next reach deliverSignals ({ kind: 'exited' }).
 */
export function startGroupExitCode(caller: Task, code: number): void {
  const p = caller.process;
  if (p.signals.exiting) return;
  p.signals.groupExitCode = code & 0xff;
  zapThreads(p, caller);
}

function zapThreads(p: LinuxProcess, except: Task | null): void {
  const s = p.signals;
  s.stopCount = 0;
  for (const th of liveThreads(p)) {
    if (th === except) continue;
    th.jobctlStopPending = false;
    th.pending.add(SIGKILL, null);
    signalWakeUp(th, true);
  }
}

/** complete_signal: which thread takes the signal, and the immediate group kill of a fatal one. */
function completeSignal(p: LinuxProcess, sig: number, t: Task, toThread: boolean, info: SigInfo): void {
  const s = p.signals;
  let target: Task;
  const threads = liveThreads(p);
  if (wantsSignal(sig, t)) {
    target = t;
  } else if (toThread || threads.length <= 1) {
    return;
  } else {
    const n = p.threads.length;
    let i = s.currTarget % n;
    let found = -1;
    for (let k = 0; k < n; k++, i = (i + 1) % n) {
      if (wantsSignal(sig, p.threads[i]!)) {
        found = i;
        break;
      }
    }
    if (found < 0) return;
    s.currTarget = found;
    target = p.threads[found]!;
  }
  if (sigFatal(p, sig) && !s.exiting && (target.realBlocked & sigBit(sig)) === 0n && defaultAction(sig) !== 'core') {
    startGroupExit(p, killedBySignal(sig, describeInfo(info)));
    return;
  }
  signalWakeUp(target, sig === SIGKILL);
}

/** How a siginfo reads in the message of a process it killed. */
export function describeInfo(info: SigInfo): string {
  switch (info.kind) {
    case 'kill':
      if (info.pid === 0) return 'sent by the kernel';
      return info.code === SI_TKILL ? `sent by process ${info.pid} with tkill/tgkill` : `sent by process ${info.pid} with kill`;
    case 'kernel':
      return 'sent by the kernel';
    case 'chld':
      return `a child, process ${info.pid}, changed state`;
    case 'fault':
      return `code ${info.code} at address 0x${info.addr.toString(16)}`;
    case 'timer':
      return `POSIX timer ${info.timerId} expired`;
    case 'queue':
      return `queued by process ${info.pid}`;
    case 'raw':
      return 'queued with rt_sigqueueinfo';
  }
}

export interface SendOptions {
  /** Thread-directed (PIDTYPE_PID) rather than to the process. */
  readonly toThread?: boolean;
  /** The entry's owner (a POSIX timer's preallocated siginfo). */
  readonly owner?: QueueOwner;
}

/**
 * __send_signal_locked: `t` is the target thread (for a process-directed signal, the thread
 * the lookup found, normally the leader). Returns 0 or -EAGAIN (real-time queue full).
 */
export function sendSignal(t: Task, sig: number, info: SigInfo, opts: SendOptions = {}): number {
  const p = t.process;
  const s = p.signals;
  if (!prepareSignal(p, t, sig)) return 0;
  const pending = opts.toThread === true ? t.pending : s.shared;
  if (pending.coalesces(sig)) return 0;
  if (sig === SIGKILL) {
    pending.add(sig, null);
  } else if (opts.owner !== undefined) {
    pending.add(sig, { sig, info, owner: opts.owner });
  } else {
    const override = sig < SIGRTMIN || info.kind === 'kernel' || siCode(info) >= 0;
    if (override || s.mayQueue()) {
      s.queued++;
      pending.add(sig, { sig, info, owner: chargedEntry(s) });
    } else if (sig >= SIGRTMIN && siCode(info) !== SI_USER) {
      return -EAGAIN;
    } else {
      // A silent loss of the siginfo: the signal still arrives.
      pending.add(sig, null);
    }
  }
  completeSignal(p, sig, t, opts.toThread === true, info);
  return 0;
}

/** An entry counted against RLIMIT_SIGPENDING gives its charge back when it goes. */
function chargedEntry(s: LinuxProcess['signals']): QueueOwner {
  return {
    dequeued: (info) => {
      s.queued--;
      return info;
    },
    dropped: () => {
      s.queued--;
    },
  };
}

/** A signal to the process (kill, SIGCHLD, timers): the leader is the first candidate, as in Linux. */
export function sendToProcess(p: LinuxProcess, sig: number, info: SigInfo, owner?: QueueOwner): number {
  const t = liveThreads(p)[0] ?? p.threads[0];
  if (t === undefined) return -ESRCH;
  return sendSignal(t, sig, info, owner !== undefined ? { owner } : {});
}

// ---- forced signals (faults) ----

/**
 * force_sig_info_to_task: a signal the thread cannot refuse. With `resetHandler` (force_sigsegv
 * of a failed frame, HANDLER_SIG_DFL) the default action runs whatever the handler; otherwise a
 * blocked or ignored signal is unblocked and reset to SIG_DFL first, so it kills.
 */
export function forceSignal(t: Task, sig: number, info: SigInfo, resetHandler = false): void {
  const s = t.process.signals;
  const a = s.action(sig);
  const blocked = (t.blocked & sigBit(sig)) !== 0n;
  if (blocked || a.handler === SIG_IGN || resetHandler) {
    s.sighand.setAction(sig, { ...a, handler: SIG_DFL });
    if (blocked) {
      t.blocked &= ~sigBit(sig);
    }
  }
  sendSignal(t, sig, info, { toThread: true });
}

/**
 * A fault the machine turns into a signal (arm64_force_sig_fault): records the fault address and
 * ESR the next frame reports, and forces the signal on the thread. `message` is the whole
 * message of the process's end if the signal kills it.
 */
export function forceSigFault(t: Task, sig: number, code: number, addr: bigint, esr: bigint, message?: string): void {
  t.faultAddress = addr;
  t.faultCode = esr;
  forceSignal(t, sig, { kind: 'fault', signo: sig, code, addr, ...(message !== undefined ? { message } : {}) });
}

const FAULT_CODES: Readonly<Record<FaultSiCode, number>> = { SEGV_MAPERR, SEGV_ACCERR, BUS_ADRALN, BUS_ADRERR };

/**
 * The machine's fault as a signal for the faulting thread (what it ended the run with before
 * handlers could run): SIGSEGV or SIGBUS with its si_code and address, and the ESR the frame's
 * esr_context reports. If nothing handles it, the process ends with fatalFault's message.
 */
export function forceFault(t: Task, f: FatalFault, esr: bigint): void {
  const sig = signalNumber(f.signal);
  forceSigFault(t, sig, FAULT_CODES[f.code], BigInt(f.addr), esr, fatalFault(f).message);
}

// ---- kill, tkill, tgkill, sigqueue ----

/** check_kill_permission (a user-space sender): same thread group, same user, or root; SIGCONT within the session. */
function killPermitted(sender: Task, target: LinuxProcess, sig: number, info: SigInfo): boolean {
  if (!fromUser(info)) return true;
  const me = sender.process;
  if (me === target) return true;
  const a = me.ids;
  const b = target.ids;
  if (a.uid === 0 || a.uid === b.uid) return true;
  return sig === SIGCONT && me.signalHost.sidOf(me) === me.signalHost.sidOf(target);
}

/** group_send_sig_info: permission, then the signal (0 only checks). */
function groupSend(sender: Task, target: LinuxProcess, sig: number, info: SigInfo): number {
  if (sig < 0 || sig > NSIG) return -EINVAL;
  if (!killPermitted(sender, target, sig, info)) return -EPERM;
  if (sig === 0) return 0;
  return sendToProcess(target, sig, info);
}

/** The siginfo kill(2) sends. */
export function killInfo(sender: Task, sig: number, code: typeof SI_USER | typeof SI_TKILL = SI_USER): SigInfo {
  return { kind: 'kill', signo: sig, code, pid: sender.process.pid, uid: sender.process.ids.uid };
}

/**
 * kill_something_info: pid > 0 one process, 0 the sender's group, -1 every process but init and
 * the sender's, < -1 the group -pid. `info` defaults to kill's SI_USER.
 */
export function killSomething(sender: Task, pid: number, sig: number, info: SigInfo = killInfo(sender, sig)): number {
  const host = sender.process.signalHost;
  if (pid > 0) {
    const p = host.findProcess(pid);
    return p === null ? -ESRCH : groupSend(sender, p, sig, info);
  }
  if (pid === -1) {
    let count = 0;
    let ret = 0;
    for (const p of host.allProcesses()) {
      if (p.pid <= 1 || p === sender.process) continue;
      const err = groupSend(sender, p, sig, info);
      count++;
      if (err !== -EPERM) ret = err;
    }
    return count > 0 ? ret : -ESRCH;
  }
  // pid == INT_MIN has no group to name.
  if (pid === -0x80000000) return -ESRCH;
  const pgid = pid === 0 ? host.pgidOf(sender.process) : -pid;
  let success = false;
  let retval = -ESRCH;
  for (const p of host.processGroup(pgid)) {
    const err = groupSend(sender, p, sig, info);
    if (err === 0) success = true;
    retval = err;
  }
  return success ? 0 : retval;
}

/** do_send_specific (tgkill, tkill with tgid ≤ 0, rt_tgsigqueueinfo). */
export function sendSpecific(sender: Task, tgid: number, tid: number, sig: number, info: SigInfo): number {
  const t = sender.process.signalHost.findThread(tid);
  if (t === null || (tgid > 0 && t.process.pid !== tgid)) return -ESRCH;
  if (sig < 0 || sig > NSIG) return -EINVAL;
  if (!killPermitted(sender, t.process, sig, info)) return -EPERM;
  if (sig === 0) return 0;
  const r = sendSignal(t, sig, info, { toThread: true });
  // A thread that exits under us is success (the signal would have died with it).
  return r === -ESRCH ? 0 : r;
}

export function tgkill(sender: Task, tgid: number, tid: number, sig: number): number {
  if (tid <= 0 || tgid <= 0) return -EINVAL;
  return sendSpecific(sender, tgid, tid, sig, killInfo(sender, sig, SI_TKILL));
}

export function tkill(sender: Task, tid: number, sig: number): number {
  if (tid <= 0) return -EINVAL;
  return sendSpecific(sender, 0, tid, sig, killInfo(sender, sig, SI_TKILL));
}

// ---- masks ----

/**
 * set_user_sigmask (ppoll, pselect6, epoll_pwait): the call's mask replaces the thread's, which
 * is saved to come back when the call returns. A call that runs again after a wake-up keeps the
 * first saved mask.
 */
export function setUserSigmask(t: Task, mask: bigint): void {
  if (t.savedSigmask === null) t.savedSigmask = t.blocked;
  setBlocked(t, mask);
}

/**
 * restore_saved_sigmask_unless: when the call returns -ERESTARTNOHAND (a signal interrupted it),
 * its mask stays for the delivery (the handler's frame saves the old one); otherwise it goes now.
 */
export function restoreSavedSigmaskUnless(t: Task, interrupted: boolean): void {
  if (interrupted || t.savedSigmask === null) return;
  const m = t.savedSigmask;
  t.savedSigmask = null;
  setBlocked(t, m);
}

/**
 * set_current_blocked: SIGKILL and SIGSTOP stay unblocked; shared signals the thread now blocks
 * are handed to a sibling that can take them (retarget_shared_pending).
 */
export function setBlocked(t: Task, mask: bigint): void {
  const next = mask & ~UNBLOCKABLE & ((1n << 64n) - 1n);
  const p = t.process;
  const newlyBlocked = next & ~t.blocked;
  let retarget = p.signals.shared.set & newlyBlocked;
  if (retarget !== 0n && isLive(t)) {
    for (const th of p.threads) {
      if (th === t || !isLive(th) || th.sigpending) continue;
      const take = retarget & ~th.blocked;
      if (take === 0n) continue;
      retarget &= ~take;
      signalWakeUp(th, false);
      if (retarget === 0n) break;
    }
  }
  t.blocked = next;
  recalcSigpending(t);
}

// ---- notifications to the parent ----

/**
 * do_notify_parent for a child that ended: SIGCHLD (or its exit signal) with CLD_EXITED, KILLED or
 * DUMPED. Returns whether the child is reaped at once (the parent ignores SIGCHLD or set
 * SA_NOCLDWAIT); the caller wakes the parent's wait4 waiters.
 */
export function notifyParentExit(child: LinuxProcess, parent: LinuxProcess, end: { readonly code: number } | ProcessEnd, exitSignal = SIGCHLD): boolean {
  let code: typeof CLD_EXITED | typeof CLD_KILLED | typeof CLD_DUMPED;
  let status: number;
  if ('code' in end) {
    code = CLD_EXITED;
    status = end.code & 0xff;
  } else {
    code = end.coreDumped === true ? CLD_DUMPED : CLD_KILLED;
    status = end.signal;
  }
  const info: SigInfo = { kind: 'chld', signo: exitSignal, code, pid: child.pid, uid: child.ids.uid, status, utime: 0n, stime: 0n };
  const a = parent.signals.action(SIGCHLD);
  let autoreap = false;
  let sig = exitSignal;
  if (exitSignal === SIGCHLD && (a.handler === SIG_IGN || (a.flags & SA_NOCLDWAIT) !== 0n)) {
    autoreap = true;
    if (a.handler === SIG_IGN) sig = 0;
  }
  if (sig > 0 && sig <= NSIG) sendToProcess(parent, sig, info);
  return autoreap;
}

/** do_notify_parent_cldstop: SIGCHLD with CLD_STOPPED or CLD_CONTINUED, unless the parent said SA_NOCLDSTOP. */
export function notifyParentStop(child: LinuxProcess, why: 'stopped' | 'continued', sig: number): void {
  const parent = child.signalHost.parentOf(child);
  if (parent === null) return;
  const info: SigInfo = {
    kind: 'chld', signo: SIGCHLD, code: why === 'stopped' ? CLD_STOPPED : CLD_CONTINUED,
    pid: child.pid, uid: child.ids.uid, status: why === 'stopped' ? sig : SIGCONT, utime: 0n, stime: 0n,
  };
  if ((parent.signals.action(SIGCHLD).flags & SA_NOCLDSTOP) === 0n) sendToProcess(parent, SIGCHLD, info);
}

// ---- timers ----

/** The preallocated entry of a POSIX timer: its overrun count is read when the signal is taken. */
function timerOwner(t: PosixTimer): QueueOwner {
  return {
    dequeued: (info) => {
      const overrun = t.overrun;
      t.overrunLast = overrun;
      t.overrun = 0;
      t.queued = false;
      return info.kind === 'timer' ? { ...info, overrun } : info;
    },
    dropped: () => {
      t.queued = false;
    },
  };
}

/**
 * The scheduler's timer tick for one process: every timer due at `nowNs` sends its signal.
 * Call it when virtual time reaches `p.signals.timers.nextDeadline()`.
 */
export function expireTimers(p: LinuxProcess, nowNs: bigint): TimerFiring[] {
  const fired = p.signals.timers.expire(nowNs);
  for (const f of fired) {
    if (f.kind === 'itimer') {
      sendToProcess(p, f.sig, { kind: 'kernel', signo: f.sig });
      continue;
    }
    const t = f.timer;
    const info: SigInfo = { kind: 'timer', signo: t.signo, timerId: t.id, overrun: 0, value: t.value };
    const owner = timerOwner(t);
    if (t.notify === SIGEV_THREAD_ID) {
      const th = p.threads.find((x) => x.tid === t.tid && isLive(x));
      if (th !== undefined) sendSignal(th, t.signo, info, { toThread: true, owner });
      else t.queued = false;
    } else {
      sendToProcess(p, t.signo, info, owner);
    }
    // A signal dropped on arrival (ignored) leaves the entry free for the next expiry.
    if (!p.signals.shared.queue.some((q) => q.owner === owner) && !p.threads.some((th) => th.pending.queue.some((q) => q.owner === owner))) t.queued = false;
  }
  return fired;
}

// ---- fork, threads, exec, exit ----

/**
 * copy_process for a new thread (CLONE_THREAD): it starts with its creator's mask, nothing
 * pending, and no alternate stack (a thread shares the address space, so not the creator's).
 */
export function initThreadSignals(creator: Task, t: Task): void {
  t.blocked = creator.blocked;
  t.altStack = { sp: 0n, size: 0n, flags: 2 /* SS_DISABLE */ };
  recalcSigpending(t);
}

/**
 * copy_process for a new process (fork, vfork, clone without CLONE_THREAD): the handlers are
 * copied, or shared with CLONE_SIGHAND; the caller's mask and alternate stack are inherited
 * (the stack only if the address space is copied, not shared); nothing pending; no timers.
 */
export function initForkSignals(parentThread: Task, child: LinuxProcess, opts: { shareSighand: boolean; shareVm: boolean; vfork: boolean }): void {
  const ps = parentThread.process.signals;
  const cs = child.signals;
  cs.sighand = opts.shareSighand ? ps.sighand : ps.sighand.copy();
  cs.trampoline = ps.trampoline;
  const t = child.threads[0];
  if (t === undefined) throw new Error(`initForkSignals: process ${child.pid} has no thread`);
  t.blocked = parentThread.blocked;
  t.altStack = opts.shareVm && !opts.vfork ? { sp: 0n, size: 0n, flags: 2 } : { ...parentThread.altStack };
  recalcSigpending(t);
}

/**
 * What exec does to signals (begin_new_exec, v6.9): POSIX timers are deleted (setitimer's
 * survive), caught signals go back to SIG_DFL (a shared handler table is unshared first), the
 * alternate stack is forgotten, and the new address space has no trampoline yet. The mask and
 * pending signals stay.
 */
export function execSignals(t: Task): void {
  const s = t.process.signals;
  s.queued -= s.timers.deleteAllPosix().length;
  s.sighand = s.sighand.copy();
  s.sighand.flushHandlers();
  s.trampoline = null;
  // begin_new_exec clears the stack's address and size only: sigaltstack reports SS_DISABLE.
  t.altStack = { sp: 0n, size: 0n, flags: t.altStack.flags };
  t.savedSigmask = null;
  t.restartBlock = null;
  t.restartContext = null;
}

/**
 * exit_signals for one thread leaving (exit, or the end of its process): its private signals
 * go, and process-wide ones it would have taken are handed to a sibling (retarget_shared_pending);
 * a thread that leaves during a group stop no longer counts towards it. The caller marks the
 * thread a zombie first.
 */
export function exitSignals(t: Task): void {
  const p = t.process;
  const s = p.signals;
  t.pending.clear();
  if (t.jobctlStopPending) {
    t.jobctlStopPending = false;
    if (s.stopCount > 0 && --s.stopCount === 0 && !s.stopped) {
      s.stopped = true;
      notifyParentStop(p, 'stopped', s.stopSig);
      p.signalHost.jobControlChanged(p, { kind: 'stopped', sig: s.stopSig });
    }
  }
  let retarget = s.shared.set & ~t.blocked;
  for (const th of p.threads) {
    if (retarget === 0n) break;
    if (th === t || !isLive(th) || th.sigpending) continue;
    const take = retarget & ~th.blocked;
    if (take === 0n) continue;
    retarget &= ~take;
    signalWakeUp(th, false);
  }
  if (!p.threads.some(isLive)) {
    // The signal struct goes with the last thread: its timers stop.
    s.timers.deleteAllPosix();
    s.timers.setItimer(0, 0n, 0n, 0n);
    s.timers.setItimer(1, 0n, 0n, 0n);
    s.timers.setItimer(2, 0n, 0n, 0n);
  }
}
