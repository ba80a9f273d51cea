/**
 * The signal system calls (kernel/signal.c, arch/arm64/kernel/signal.c, v6.9): rt_sigaction,
 * rt_sigprocmask, rt_sigpending, sigaltstack, rt_sigreturn, rt_sigsuspend, rt_sigtimedwait,
 * kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo and restart_syscall, with the kernel's
 * checks in its order. The calling thread is `p.current`; other processes and threads are found
 * through `p.signalHost`.
 *
 * A signal a syscall makes deliverable to its own caller is delivered on the way back to user
 * space (sigdeliver.ts deliverSignals). One whose default action ends the process ends it here
 * already ('killed'), which is what that return would do first.
 */
import type { U64 } from '../../util/u64.js';
import { EAGAIN, EFAULT, EINTR, EINVAL, EPERM, ESRCH } from '../../util/errno.js';
import type { LinuxProcess } from '../process.js';
import { SEGV_ACCERR, SEGV_MAPERR, SIGINFO_SIZE, SI_TKILL, encodeSigInfo, siCode, userSigInfo } from '../siginfo.js';
import { badFrameCode, decodeStackT, doSigaltstack, encodeStackT, restoreRtFrame } from '../sigframe.js';
import { dequeueSignal, ERESTARTNOHAND, fatalSignalNow } from '../sigdeliver.js';
import { forceSigFault, killSomething, recalcSigpending, sendSpecific, setBlocked, tgkill, tkill } from '../sigsend.js';
import {
  NSIG, SIGACTION_SIZE, SIGKILL, SIGSEGV, SIGSET_SIZE, SIGSTOP, SIG_BLOCK, SIG_DFL, SIG_IGN, SIG_SETMASK, SIG_UNBLOCK,
  UNBLOCKABLE, kernelIgnores, killedBySignal, sigBit, type SigAction,
} from '../signals.js';
import type { Task } from '../task.js';
import { StructReader, StructWriter, getUser, putUser } from '../uaccess.js';
import { argInt, argPtr, argUlong } from './args.js';
import type { SyscallHandlers, SyscallOutcome } from './outcome.js';

export { SS_AUTODISARM, SS_DISABLE, SS_ONSTACK, MINSIGSTKSZ } from '../sigframe.js';

const NSEC_PER_SEC = 1_000_000_000n;
const SIGSEGV_CODE = { SEGV_MAPERR, SEGV_ACCERR } as const;

/** The syscall's result, or the end of the process if the caller now dies of a pending signal. */
function orFatal(p: LinuxProcess, r: number): number | SyscallOutcome {
  if (r < 0) return r;
  const end = fatalSignalNow(p.current);
  return end !== null ? { kind: 'killed', end } : r;
}

/** The caller's SP as the kernel reads it (current_user_stack_pointer); 0 when no registers are known. */
function userSp(t: Task): bigint {
  if (t.userRegs !== null) return t.userRegs().sp;
  return t.regs?.sp ?? 0n;
}

function encodeSigaction(act: SigAction): Uint8Array {
  return new StructWriter(SIGACTION_SIZE).u64(0, act.handler).u64(8, act.flags).u64(16, act.restorer).u64(24, act.mask).bytes;
}

function readSigset(p: LinuxProcess, va: number): bigint | null {
  const raw = getUser(p.mm, va, SIGSET_SIZE);
  return raw === null ? null : new StructReader(raw).u64(0);
}

function rtSigaction(p: LinuxProcess, a: readonly U64[]): number {
  const sig = argInt(a[0]!);
  const actVa = argPtr(a[1]!);
  const oactVa = argPtr(a[2]!);
  if (argUlong(a[3]!) !== SIGSET_SIZE) return -EINVAL;
  let act: SigAction | null = null;
  if (actVa !== 0) {
    const raw = getUser(p.mm, actVa, SIGACTION_SIZE);
    if (raw === null) return -EFAULT;
    const r = new StructReader(raw);
    act = { handler: r.u64(0), flags: r.u64(8), restorer: r.u64(16), mask: r.u64(24) };
  }
  if (sig < 1 || sig > NSIG || (act !== null && (sig === SIGKILL || sig === SIGSTOP))) return -EINVAL;
  const s = p.signals;
  const old = s.action(sig);
  if (act !== null) {
    s.sighand.setAction(sig, act);
    // POSIX 3.3.1.3: setting a signal to be ignored discards its pending instances.
    if (act.handler === SIG_IGN || (act.handler === SIG_DFL && kernelIgnores(sig))) {
      s.shared.flush(sigBit(sig));
      for (const t of p.threads) t.pending.flush(sigBit(sig));
    }
  }
  if (oactVa !== 0) return putUser(p.mm, oactVa, encodeSigaction(old));
  return 0;
}

function rtSigprocmask(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const how = argInt(a[0]!);
  const setVa = argPtr(a[1]!);
  const osetVa = argPtr(a[2]!);
  if (argUlong(a[3]!) !== SIGSET_SIZE) return -EINVAL;
  const t = p.current;
  const old = t.blocked;
  if (setVa !== 0) {
    const set = readSigset(p, setVa);
    if (set === null) return -EFAULT;
    switch (how) {
      case SIG_BLOCK:
        setBlocked(t, old | set);
        break;
      case SIG_UNBLOCK:
        setBlocked(t, old & ~set);
        break;
      case SIG_SETMASK:
        setBlocked(t, set);
        break;
      default:
        return -EINVAL;
    }
  }
  if (osetVa !== 0) {
    const r = putUser(p.mm, osetVa, new StructWriter(8).u64(0, old).bytes);
    if (r < 0) return r;
  }
  return orFatal(p, 0);
}

function rtSigpending(p: LinuxProcess, a: readonly U64[]): number {
  const size = argUlong(a[1]!);
  if (size > SIGSET_SIZE) return -EINVAL;
  const t = p.current;
  const pending = (t.pending.set | p.signals.shared.set) & t.blocked;
  return putUser(p.mm, argPtr(a[0]!), new StructWriter(8).u64(0, pending).bytes.subarray(0, size));
}

/** stack_t: ss_sp, ss_flags (int), ss_size; 24 bytes. */
function sigaltstack(p: LinuxProcess, a: readonly U64[]): number {
  const ssVa = argPtr(a[0]!);
  const ossVa = argPtr(a[1]!);
  let ss = null;
  if (ssVa !== 0) {
    const raw = getUser(p.mm, ssVa, 24);
    if (raw === null) return -EFAULT;
    ss = decodeStackT(raw);
  }
  const t = p.current;
  const { old, err } = doSigaltstack(t, ss, userSp(t));
  if (err !== 0) return err;
  if (ossVa !== 0) return putUser(p.mm, ossVa, encodeStackT(old));
  return 0;
}

/** rt_sigreturn: the registers saved in the frame at SP; a bad frame is a SIGSEGV at SP. */
function rtSigreturn(p: LinuxProcess): number | SyscallOutcome {
  const t = p.current;
  if (t.userRegs === null && t.regs === null) {
    return { kind: 'fatal', message: 'rt_sigreturn: this machine does not give the kernel model the registers of the calling thread' };
  }
  const regs = t.currentRegs();
  const r = restoreRtFrame(t, regs);
  if (r === 'SIGSEGV') {
    forceSigFault(t, SIGSEGV, SIGSEGV_CODE[badFrameCode(regs.sp)], regs.sp, 0n, killedBySignal(SIGSEGV, `rt_sigreturn found no valid signal frame at sp 0x${regs.sp.toString(16)}`).message);
    t.faultAddress = 0n;
    return orFatal(p, 0);
  }
  return { kind: 'setRegisters', regs: r };
}

interface SuspendState {
  readonly kind: 'sigsuspend';
}

/** rt_sigsuspend: sleep with a temporary mask until a signal is to be handled; always -EINTR to the guest. */
function rtSigsuspend(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const t = p.current;
  if (t.blockState === null) {
    if (argUlong(a[1]!) !== SIGSET_SIZE) return -EINVAL;
    const mask = readSigset(p, argPtr(a[0]!));
    if (mask === null) return -EFAULT;
    t.savedSigmask = t.blocked;
    setBlocked(t, mask);
  }
  recalcSigpending(t);
  if (t.sigpending) {
    const end = fatalSignalNow(t);
    if (end !== null) return { kind: 'killed', end };
    // TIF_RESTORE_SIGMASK: savedSigmask comes back after the handler (or at once if none runs).
    return -ERESTARTNOHAND;
  }
  const st: SuspendState = { kind: 'sigsuspend' };
  t.blockState = st;
  return { kind: 'block', on: [], onSignal: 'retry' };
}

interface TimedwaitState {
  readonly kind: 'sigtimedwait';
  readonly deadlineNs: bigint | null;
}

function readTimespec(p: LinuxProcess, va: number): { sec: bigint; nsec: bigint } | null {
  const raw = getUser(p.mm, va, 16);
  if (raw === null) return null;
  const r = new StructReader(raw);
  return { sec: r.i64(0), nsec: r.i64(8) };
}

/** rt_sigtimedwait: take a signal of the set, waiting up to the timeout with those signals unblocked. */
function rtSigtimedwait(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const t = p.current;
  if (argUlong(a[3]!) !== SIGSET_SIZE) return -EINVAL;
  const these = readSigset(p, argPtr(a[0]!));
  if (these === null) return -EFAULT;
  const infoVa = argPtr(a[1]!);
  const utsVa = argPtr(a[2]!);
  let timeoutNs: bigint | null = null;
  if (utsVa !== 0) {
    const ts = readTimespec(p, utsVa);
    if (ts === null) return -EFAULT;
    if (ts.sec < 0n || ts.nsec < 0n || ts.nsec >= NSEC_PER_SEC) return -EINVAL;
    timeoutNs = ts.sec * NSEC_PER_SEC + ts.nsec;
  }
  const wanted = these & ~UNBLOCKABLE;
  const notWanted = ~wanted & ((1n << 64n) - 1n);
  const deliver = (sig: number, info: Parameters<typeof encodeSigInfo>[0]): number => {
    if (infoVa !== 0 && putUser(p.mm, infoVa, encodeSigInfo(info)) < 0) return -EFAULT;
    return sig;
  };
  const prev = t.blockState as TimedwaitState | null;
  if (prev !== null) {
    // Woken: the mask the sleep replaced comes back before the second look.
    t.blocked = t.realBlocked;
    t.realBlocked = 0n;
    recalcSigpending(t);
  }
  const got = dequeueSignal(t, notWanted);
  if (got !== null) return deliver(got.sig, got.info);
  const now = p.clock.peekMonotonicNs();
  let deadline: bigint | null;
  if (prev === null) {
    if (timeoutNs === 0n) return -EAGAIN;
    deadline = timeoutNs === null ? null : now + timeoutNs;
  } else {
    deadline = prev.deadlineNs;
    if (t.wakeReason === 'timeout' || (deadline !== null && now >= deadline)) return -EAGAIN;
    if (t.wakeReason === 'signal') return -EINTR;
  }
  t.realBlocked = t.blocked;
  t.blocked &= notWanted;
  recalcSigpending(t);
  const st: TimedwaitState = { kind: 'sigtimedwait', deadlineNs: deadline };
  t.blockState = st;
  return deadline === null ? { kind: 'block', on: [], onSignal: 'retry' } : { kind: 'block', on: [], deadlineNs: deadline, onSignal: 'retry' };
}

function kill(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  return orFatal(p, killSomething(p.current, argInt(a[0]!), argInt(a[1]!)));
}

function tgkillCall(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  return orFatal(p, tgkill(p.current, argInt(a[0]!), argInt(a[1]!), argInt(a[2]!)));
}

function tkillCall(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  return orFatal(p, tkill(p.current, argInt(a[0]!), argInt(a[1]!)));
}

/** A siginfo from user space may not pretend to come from the kernel or from kill/tkill of another process. */
function impersonates(code: number): boolean {
  return code >= 0 || code === SI_TKILL;
}

function rtSigqueueinfo(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const pid = argInt(a[0]!);
  const sig = argInt(a[1]!);
  const raw = getUser(p.mm, argPtr(a[2]!), SIGINFO_SIZE);
  if (raw === null) return -EFAULT;
  const info = userSigInfo(sig, raw);
  if (impersonates(siCode(info)) && p.pid !== pid) return -EPERM;
  // kill_proc_info: one process, never a group.
  if (pid <= 0) return -ESRCH;
  return orFatal(p, killSomething(p.current, pid, sig, info));
}

function rtTgsigqueueinfo(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const tgid = argInt(a[0]!);
  const tid = argInt(a[1]!);
  const sig = argInt(a[2]!);
  const raw = getUser(p.mm, argPtr(a[3]!), SIGINFO_SIZE);
  if (raw === null) return -EFAULT;
  if (tid <= 0 || tgid <= 0) return -EINVAL;
  const info = userSigInfo(sig, raw);
  if (impersonates(siCode(info)) && p.current.tid !== tid) return -EPERM;
  return orFatal(p, sendSpecific(p.current, tgid, tid, sig, info));
}

/** restart_syscall: the interrupted call's own continuation, or -EINTR after a handler cancelled it. */
function restartSyscall(p: LinuxProcess): number | SyscallOutcome {
  const rb = p.current.restartBlock;
  p.current.restartBlock = null;
  return rb === null ? -EINTR : rb.run(p);
}

export const signalSyscalls: SyscallHandlers = {
  rt_sigaction: rtSigaction,
  rt_sigprocmask: rtSigprocmask,
  rt_sigpending: rtSigpending,
  sigaltstack,
  rt_sigreturn: rtSigreturn,
  rt_sigsuspend: rtSigsuspend,
  rt_sigtimedwait: rtSigtimedwait,
  kill,
  tkill: tkillCall,
  tgkill: tgkillCall,
  rt_sigqueueinfo: rtSigqueueinfo,
  rt_tgsigqueueinfo: rtTgsigqueueinfo,
  restart_syscall: restartSyscall,
};
