/**
 * rt_sigaction, rt_sigprocmask, rt_sigpending and sigaltstack (kernel/signal.c, v6.9): the state
 * is kept exactly, with the kernel's checks in its order, but no handler ever runs (signals.ts).
 * Unblocking a pending signal delivers it as the return to user space would.
 */
import type { U64 } from '../../util/u64.js';
import { EFAULT, EINVAL, ENOMEM } from '../../util/errno.js';
import type { LinuxProcess } from '../process.js';
import {
  NSIG, SIGACTION_SIZE, SIGKILL, SIGSET_SIZE, SIGSTOP, SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK, type SigAction,
} from '../signals.js';
import { StructReader, StructWriter, getUser, putUser } from '../uaccess.js';
import { argInt, argPtr, argUlong } from './args.js';
import { deliveryOutcome, type SyscallHandlers, type SyscallOutcome } from './outcome.js';

export const SS_ONSTACK = 1;
export const SS_DISABLE = 2;
export const SS_AUTODISARM = 1 << 31;
/** arm64's MINSIGSTKSZ: the smallest alternate stack sigaltstack accepts. */
export const MINSIGSTKSZ = 5120;

function encodeSigaction(act: SigAction): Uint8Array {
  return new StructWriter(SIGACTION_SIZE).u64(0, act.handler).u64(8, act.flags).u64(16, act.restorer).u64(24, act.mask).bytes;
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
  const old = act !== null ? p.signals.setAction(sig, act) : p.signals.action(sig);
  if (oactVa !== 0) return putUser(p.mm, oactVa, encodeSigaction(old));
  return 0;
}

function rtSigprocmask(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const how = argInt(a[0]!);
  const setVa = argPtr(a[1]!);
  const osetVa = argPtr(a[2]!);
  if (argUlong(a[3]!) !== SIGSET_SIZE) return -EINVAL;
  const signals = p.signals;
  const old = signals.blocked;
  if (setVa !== 0) {
    const raw = getUser(p.mm, setVa, SIGSET_SIZE);
    if (raw === null) return -EFAULT;
    const set = new StructReader(raw).u64(0);
    switch (how) {
      case SIG_BLOCK:
        signals.setBlocked(old | set);
        break;
      case SIG_UNBLOCK:
        signals.setBlocked(old & ~set);
        break;
      case SIG_SETMASK:
        signals.setBlocked(set);
        break;
      default:
        return -EINVAL;
    }
  }
  if (osetVa !== 0) {
    const r = putUser(p.mm, osetVa, new StructWriter(8).u64(0, old).bytes);
    if (r < 0) return r;
  }
  return deliveryOutcome(signals.deliverPending());
}

function rtSigpending(p: LinuxProcess, a: readonly U64[]): number {
  if (argUlong(a[1]!) > SIGSET_SIZE) return -EINVAL;
  const pending = p.signals.pending & p.signals.blocked;
  const bytes = new StructWriter(8).u64(0, pending).bytes.subarray(0, argUlong(a[1]!));
  return putUser(p.mm, argPtr(a[0]!), bytes);
}

/** stack_t: ss_sp, ss_flags (int), ss_size; 24 bytes. */
function sigaltstack(p: LinuxProcess, a: readonly U64[]): number {
  const ssVa = argPtr(a[0]!);
  const ossVa = argPtr(a[1]!);
  const cur = p.current.altStack;
  const old = { sp: cur.sp, flags: cur.size === 0n ? SS_DISABLE : cur.flags & SS_AUTODISARM, size: cur.size };
  if (ssVa !== 0) {
    const raw = getUser(p.mm, ssVa, 24);
    if (raw === null) return -EFAULT;
    const r = new StructReader(raw);
    const sp = r.u64(0);
    const flags = r.i32(8);
    const size = r.u64(16);
    const mode = flags & ~SS_AUTODISARM;
    if (mode !== SS_DISABLE && mode !== SS_ONSTACK && mode !== 0) return -EINVAL;
    // The guest never runs on its alternate stack, so the EPERM of changing it while on it cannot occur.
    if (mode === SS_DISABLE) p.current.altStack = { sp: 0n, flags: SS_DISABLE, size: 0n };
    else if (size < BigInt(MINSIGSTKSZ)) return -ENOMEM;
    else p.current.altStack = { sp, flags, size };
  }
  if (ossVa !== 0) return putUser(p.mm, ossVa, new StructWriter(24).u64(0, old.sp).i32(8, old.flags).u64(16, old.size).bytes);
  return 0;
}

export const signalSyscalls: SyscallHandlers = {
  rt_sigaction: rtSigaction,
  rt_sigprocmask: rtSigprocmask,
  rt_sigpending: rtSigpending,
  sigaltstack,
};
