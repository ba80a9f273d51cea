/**
 * Delivery on the way back to user space (arch/arm64/kernel/signal.c do_signal and
 * kernel/signal.c get_signal, v6.9), for one thread:
 *
 * 1. If the thread comes back from a syscall that returned an ERESTART* code, rewind it so the
 *    `svc` runs again with its original x0 (the machine must record x0 at syscall entry).
 * 2. Take signals one at a time, private ones before the process's, a fault first: ignored ones
 *    vanish; a handler wins (SA_RESETHAND resets it); a stop signal stops the whole process (the
 *    parent hears of it); a fatal one ends it (core signals with WCOREDUMP when RLIMIT_CORE
 *    allows).
 * 3. For a handler: a syscall that must not restart returns -EINTR instead (ERESTARTNOHAND,
 *    ERESTART_RESTARTBLOCK, or ERESTARTSYS without SA_RESTART); the frame is written
 *    (sigframe.ts) and the mask grows by sa_mask and the signal itself unless SA_NODEFER.
 * 4. Without one: a restart-block syscall comes back as restart_syscall; the mask sigsuspend
 *    saved is restored.
 */
import { EINTR } from '../util/errno.js';
import type { LinuxProcess } from './process.js';
import type { SigInfo } from './siginfo.js';
import { sasSsReset, setupRtFrame, SS_AUTODISARM } from './sigframe.js';
import {
  SA_NODEFER, SA_RESETHAND, SA_RESTART, SIGALRM, SIGSEGV, SIGSTOP, SIG_DFL, SIG_IGN,
  defaultAction, killedBySignal, sigBit, type ProcessEnd, type SigAction,
} from './signals.js';
import {
  describeInfo, forceSignal, isLive, notifyParentStop, recalcSigpending, setBlocked, signalWakeUp, startGroupExit,
} from './sigsend.js';
import { cloneRegisterFile, type RegisterFile, type Task } from './task.js';

/** The kernel's internal restart codes (include/linux/errno.h): never seen by user space. */
export const ERESTARTSYS = 512;
export const ERESTARTNOINTR = 513;
export const ERESTARTNOHAND = 514;
export const ERESTART_RESTARTBLOCK = 516;
export const NR_RESTART_SYSCALL = 128;

const RESTART_CODES = new Set([-ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK]);

/** What get_signal decided for the thread. */
export type SignalDecision =
  | { readonly kind: 'none' }
  | { readonly kind: 'handler'; readonly sig: number; readonly info: SigInfo; readonly action: SigAction }
  /** The thread stopped (group stop); it runs nothing until a SIGCONT or SIGKILL resumes it. */
  | { readonly kind: 'stop' }
  /** The process is dying of a signal: every thread exits; the machine reports `end`. */
  | { readonly kind: 'exit'; readonly end: ProcessEnd }
  /** Another thread called exit_group(code): this thread exits too. */
  | { readonly kind: 'exited'; readonly code: number };

/** dequeue_signal: private first, then shared; SIGALRM re-arms a periodic ITIMER_REAL. */
export function dequeueSignal(t: Task, blocked: bigint): { sig: number; info: SigInfo } | null {
  const s = t.process.signals;
  let sig = t.pending.next(blocked);
  let from = t.pending;
  if (sig === 0) {
    sig = s.shared.next(blocked);
    from = s.shared;
    if (sig === 0) return null;
  }
  const { info } = from.collect(sig);
  if (from === s.shared && sig === SIGALRM) s.timers.sigalrmDequeued(t.process.clock.peekMonotonicNs());
  recalcSigpending(t);
  return { sig, info };
}

/** The thread joins (or starts) its process's group stop; true when it stopped. */
function doSignalStop(t: Task, signr: number): boolean {
  const p = t.process;
  const s = p.signals;
  if (!t.jobctlStopPending) {
    if (signr === 0) return false;
    if (!s.stopped) s.stopSig = signr;
    s.stopCount = 0;
    for (const th of p.threads) {
      if (th === t || !isLive(th) || th.state === 'stopped' || th.jobctlStopPending) continue;
      th.jobctlStopPending = true;
      s.stopCount++;
      signalWakeUp(th, false);
    }
    t.jobctlStopPending = true;
    s.stopCount++;
  }
  // task_participate_group_stop: the last thread to stop completes it and tells the parent.
  t.jobctlStopPending = false;
  if (s.stopCount > 0) s.stopCount--;
  if (s.stopCount === 0 && !s.stopped) {
    s.stopped = true;
    notifyParentStop(p, 'stopped', s.stopSig);
    p.signalHost.jobControlChanged(p, { kind: 'stopped', sig: s.stopSig });
  }
  t.state = 'stopped';
  recalcSigpending(t);
  return true;
}

/** zap_other_threads and the exit code of a signal death. */
function fatal(p: LinuxProcess, sig: number, info: SigInfo): ProcessEnd {
  const core = defaultAction(sig) === 'core' && p.signals.dumpsCore();
  const base = info.kind === 'fault' && info.message !== undefined ? { signal: sig, exitStatus: 128 + sig, message: info.message } : killedBySignal(sig, describeInfo(info));
  const end: ProcessEnd = core ? { ...base, coreDumped: true, message: base.message.replace(' [exit status', ' (core dumped) [exit status') } : base;
  startGroupExit(p, end);
  return end;
}

/** get_signal: the next thing the thread must do about its signals. */
export function getSignal(t: Task): SignalDecision {
  const p = t.process;
  const s = p.signals;
  for (;;) {
    if (s.cldNotify !== null) {
      const n = s.cldNotify;
      s.cldNotify = null;
      notifyParentStop(p, n.why, n.sig);
    }
    if (s.groupExit !== null) return { kind: 'exit', end: s.groupExit };
    if (s.groupExitCode !== null) return { kind: 'exited', code: s.groupExitCode };
    if (t.jobctlStopPending && doSignalStop(t, 0)) return { kind: 'stop' };
    const got = dequeueSignal(t, t.blocked);
    if (got === null) return { kind: 'none' };
    const { sig, info } = got;
    const ka = s.action(sig);
    if (ka.handler === SIG_IGN) continue;
    if (ka.handler !== SIG_DFL) {
      if ((ka.flags & SA_RESETHAND) !== 0n) s.sighand.resetHandler(sig);
      return { kind: 'handler', sig, info, action: ka };
    }
    const dfl = defaultAction(sig);
    if (dfl === 'ignore' || dfl === 'continue') continue;
    if (dfl === 'stop') {
      if (sig !== SIGSTOP && p.signalHost.isOrphanedProcessGroup(p.signalHost.pgidOf(p))) continue;
      if (doSignalStop(t, sig)) return { kind: 'stop' };
      continue;
    }
    return { kind: 'exit', end: fatal(p, sig, info) };
  }
}

/** Whether the machine must call deliverSignals before the thread runs user code again. */
export function signalPending(t: Task): boolean {
  return t.sigpending || t.restartContext !== null;
}

/** signal_delivered: the handler's mask applies, sigsuspend's saved mask is dropped, SS_AUTODISARM disarms. */
function signalDelivered(t: Task, sig: number, action: SigAction): void {
  t.savedSigmask = null;
  let blocked = t.blocked | action.mask;
  if ((action.flags & SA_NODEFER) === 0n) blocked |= sigBit(sig);
  setBlocked(t, blocked);
  if ((t.altStack.flags & SS_AUTODISARM) !== 0) sasSsReset(t);
}

export type DeliverResult =
  /** Run user code with these registers (the same ones if nothing happened). */
  | { readonly kind: 'run'; readonly regs: RegisterFile }
  /** The thread stopped; keep `regs` and call deliverSignals(task, regs, null) when it resumes. */
  | { readonly kind: 'stop'; readonly regs: RegisterFile }
  /** The process dies of a signal: end every thread, report `end` (waitStatusOf) to the parent. */
  | { readonly kind: 'exit'; readonly end: ProcessEnd }
  /** The thread exits because another one called exit_group(code). */
  | { readonly kind: 'exited'; readonly code: number };

/** What the machine knows of the syscall the thread is returning from. */
export interface SyscallReturn {
  /** x0 at syscall entry (orig_x0). */
  readonly origX0: bigint;
}

/**
 * do_signal for a thread about to run user code with `regs` (x0 already holds a syscall's
 * return value when `syscall` is given). Call it when signalPending(task) after a syscall, a
 * fault or an interruption, and whenever a syscall returned an ERESTART* code.
 */
export function deliverSignals(t: Task, regs: RegisterFile, syscall: SyscallReturn | null): DeliverResult {
  let cur = regs;
  let ctx = t.restartContext;
  t.restartContext = null;
  if (syscall !== null) {
    const retval = Number(BigInt.asIntN(64, regs.x[0]!));
    ctx = { retval, continueAddr: regs.pc, restartAddr: regs.pc - 4n };
    if (RESTART_CODES.has(retval)) {
      cur = cloneRegisterFile(regs);
      cur.x[0] = syscall.origX0;
      cur.pc = ctx.restartAddr;
    }
  }
  for (;;) {
    const d = getSignal(t);
    switch (d.kind) {
      case 'stop':
        t.restartContext = ctx;
        return { kind: 'stop', regs: cur };
      case 'exit':
        return { kind: 'exit', end: d.end };
      case 'exited':
        return { kind: 'exited', code: d.code };
      case 'handler': {
        if (ctx !== null && cur.pc === ctx.restartAddr) {
          const r = ctx.retval;
          if (r === -ERESTARTNOHAND || r === -ERESTART_RESTARTBLOCK || (r === -ERESTARTSYS && (d.action.flags & SA_RESTART) === 0n)) {
            cur = cloneRegisterFile(cur);
            cur.x[0] = BigInt.asUintN(64, BigInt(-EINTR));
            cur.pc = ctx.continueAddr;
          }
        }
        ctx = null;
        const saved = t.savedSigmask ?? t.blocked;
        const next = setupRtFrame(t, cur, d.sig, d.info, d.action, saved);
        if (next === 'SIGSEGV') {
          // force_sigsegv: a SIGSEGV that could not be handled kills; another signal's failure may be.
          forceSignal(t, SIGSEGV, { kind: 'kernel', signo: SIGSEGV }, d.sig === SIGSEGV);
          continue;
        }
        signalDelivered(t, d.sig, d.action);
        return { kind: 'run', regs: next };
      }
      case 'none': {
        if (ctx !== null && cur.pc === ctx.restartAddr && ctx.retval === -ERESTART_RESTARTBLOCK) {
          cur = cloneRegisterFile(cur);
          cur.x[8] = BigInt(NR_RESTART_SYSCALL);
        }
        if (t.savedSigmask !== null) {
          const m = t.savedSigmask;
          t.savedSigmask = null;
          setBlocked(t, m);
        }
        return { kind: 'run', regs: cur };
      }
    }
  }
}

/**
 * What a syscall that slept returns when a signal woke it (wait.ts): -ERESTARTSYS for one that
 * restarts under SA_RESTART, -ERESTARTNOHAND otherwise (restarted when no handler runs, -EINTR
 * when one does).
 */
export function interruptedReturn(restartable: boolean): number {
  return restartable ? -ERESTARTSYS : -ERESTARTNOHAND;
}

/**
 * For a syscall the calling thread makes on a one-CPU machine that delivers nothing itself: if
 * the next signal it would take ends the process, end it now (what the return to user space
 * would do at once). Returns the end, or null (the signal waits for deliverSignals).
 */
export function fatalSignalNow(t: Task): ProcessEnd | null {
  const s = t.process.signals;
  if (s.groupExit !== null) return s.groupExit;
  if (s.groupExitCode !== null) return null;
  if (!t.sigpending || t.jobctlStopPending || s.cldNotify !== null) return null;
  for (;;) {
    const sig = t.pending.next(t.blocked) || s.shared.next(t.blocked);
    if (sig === 0) return null;
    const a = s.action(sig);
    const dfl = defaultAction(sig);
    if (a.handler === SIG_IGN || (a.handler === SIG_DFL && (dfl === 'ignore' || dfl === 'continue'))) {
      dequeueSignal(t, t.blocked);
      continue;
    }
    if (a.handler !== SIG_DFL || dfl === 'stop') return null;
    const d = getSignal(t);
    return d.kind === 'exit' ? d.end : null;
  }
}
