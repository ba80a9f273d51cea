/**
 * Interval and POSIX timer system calls (kernel/time/itimer.c, kernel/time/posix-timers.c,
 * v6.9): setitimer, getitimer (glibc's alarm() is setitimer(ITIMER_REAL) on arm64, which has no
 * alarm syscall), timer_create, timer_settime, timer_gettime, timer_getoverrun, timer_delete.
 * The timers themselves are itimer.ts; they fire when the scheduler calls expireTimers.
 * Every clock is the process's virtual clock (clock.ts): deadlines are kept in CLOCK_MONOTONIC
 * nanoseconds, an absolute CLOCK_REALTIME or CPU-time value is converted when it is set.
 */
import type { U64 } from '../../util/u64.js';
import { EAGAIN, EFAULT, EINVAL, EOPNOTSUPP, EPERM } from '../../util/errno.js';
import {
  CLOCK_BOOTTIME, CLOCK_BOOTTIME_ALARM, CLOCK_MONOTONIC, CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC_RAW, CLOCK_PROCESS_CPUTIME_ID,
  CLOCK_REALTIME, CLOCK_REALTIME_ALARM, CLOCK_REALTIME_COARSE, CLOCK_TAI, CLOCK_THREAD_CPUTIME_ID, NSEC_PER_SEC,
} from '../clock.js';
import {
  ITIMER_PROF, ITIMER_REAL, ITIMER_VIRTUAL, SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD, SIGEV_THREAD_ID, TIMER_ABSTIME,
  type ItimerWhich, type TimerSetting,
} from '../itimer.js';
import type { LinuxProcess } from '../process.js';
import { isLive } from '../sigsend.js';
import { NSIG, SIGALRM } from '../signals.js';
import { StructReader, StructWriter, getUser, putUser } from '../uaccess.js';
import { argInt, argPtr } from './args.js';
import type { SyscallHandlers } from './outcome.js';

const NSEC_PER_USEC = 1000n;
/** sizeof(struct sigevent) on arm64. */
const SIGEVENT_SIZE = 64;

interface Pair {
  readonly a: bigint;
  readonly b: bigint;
}

function readPair(p: LinuxProcess, va: number): Pair | null {
  const raw = getUser(p.mm, va, 16);
  if (raw === null) return null;
  const r = new StructReader(raw);
  return { a: r.i64(0), b: r.i64(8) };
}

/** A timeval as nanoseconds, or null if invalid (usec outside [0, 10^6) or negative seconds). */
function timevalNs(t: Pair): bigint | null {
  if (t.a < 0n || t.b < 0n || t.b >= 1_000_000n) return null;
  return t.a * NSEC_PER_SEC + t.b * NSEC_PER_USEC;
}

function timespecNs(t: Pair): bigint | null {
  if (t.a < 0n || t.b < 0n || t.b >= NSEC_PER_SEC) return null;
  return t.a * NSEC_PER_SEC + t.b;
}

/** struct itimerval: it_interval then it_value, as timevals (microseconds truncated). */
function encodeItimerval(s: TimerSetting): Uint8Array {
  const w = new StructWriter(32);
  w.u64(0, s.intervalNs / NSEC_PER_SEC).u64(8, (s.intervalNs % NSEC_PER_SEC) / NSEC_PER_USEC);
  w.u64(16, s.valueNs / NSEC_PER_SEC).u64(24, (s.valueNs % NSEC_PER_SEC) / NSEC_PER_USEC);
  return w.bytes;
}

/** struct itimerspec: it_interval then it_value, as timespecs. */
function encodeItimerspec(s: TimerSetting): Uint8Array {
  const w = new StructWriter(32);
  w.u64(0, s.intervalNs / NSEC_PER_SEC).u64(8, s.intervalNs % NSEC_PER_SEC);
  w.u64(16, s.valueNs / NSEC_PER_SEC).u64(24, s.valueNs % NSEC_PER_SEC);
  return w.bytes;
}

function itimerWhich(w: number): ItimerWhich | null {
  return w === ITIMER_REAL || w === ITIMER_VIRTUAL || w === ITIMER_PROF ? w : null;
}

const nowNs = (p: LinuxProcess): bigint => p.clock.peekMonotonicNs();

function getitimer(p: LinuxProcess, a: readonly U64[]): number {
  const which = itimerWhich(argInt(a[0]!));
  if (which === null) return -EINVAL;
  return putUser(p.mm, argPtr(a[1]!), encodeItimerval(p.signals.timers.getItimer(which, nowNs(p))));
}

/** setitimer: a NULL new value disarms (Linux has accepted that since 2.6, with a warning). */
function setitimer(p: LinuxProcess, a: readonly U64[]): number {
  const which = itimerWhich(argInt(a[0]!));
  const newVa = argPtr(a[1]!);
  const oldVa = argPtr(a[2]!);
  let valueNs = 0n;
  let intervalNs = 0n;
  if (newVa !== 0) {
    const raw = getUser(p.mm, newVa, 32);
    if (raw === null) return -EFAULT;
    const r = new StructReader(raw);
    const iv = timevalNs({ a: r.i64(0), b: r.i64(8) });
    const v = timevalNs({ a: r.i64(16), b: r.i64(24) });
    if (iv === null || v === null) return -EINVAL;
    intervalNs = iv;
    valueNs = v;
  }
  if (which === null) return -EINVAL;
  const old = p.signals.timers.setItimer(which, valueNs, intervalNs, nowNs(p));
  if (oldVa !== 0) return putUser(p.mm, oldVa, encodeItimerval(old));
  return 0;
}

/** Which clocks timer_create accepts: 0 or the error the kernel's clock table gives. */
function timerClockError(clock: number, root: boolean): number {
  switch (clock) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID:
    case CLOCK_BOOTTIME:
    case CLOCK_TAI:
      return 0;
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
      return -EOPNOTSUPP;
    case CLOCK_REALTIME_ALARM:
    case CLOCK_BOOTTIME_ALARM:
      // CAP_WAKE_ALARM.
      return root ? 0 : -EPERM;
    default:
      return -EINVAL;
  }
}

function timerCreate(p: LinuxProcess, a: readonly U64[]): number {
  const clock = argInt(a[0]!);
  const evVa = argPtr(a[1]!);
  const idVa = argPtr(a[2]!);
  const clockErr = timerClockError(clock, p.ids.uid === 0);
  if (clockErr !== 0) return clockErr;
  let notify = SIGEV_SIGNAL;
  let signo = SIGALRM;
  let value: bigint | null = null;
  let tid = 0;
  if (evVa !== 0) {
    const raw = getUser(p.mm, evVa, SIGEVENT_SIZE);
    if (raw === null) return -EFAULT;
    const r = new StructReader(raw);
    value = r.u64(0);
    signo = r.i32(8);
    notify = r.i32(12);
    tid = r.i32(16);
    // good_sigevent.
    switch (notify) {
      case SIGEV_SIGNAL | SIGEV_THREAD_ID: {
        const t = p.threads.find((x) => x.tid === tid && isLive(x));
        if (t === undefined) return -EINVAL;
        notify = SIGEV_THREAD_ID;
        if (signo <= 0 || signo > NSIG) return -EINVAL;
        break;
      }
      case SIGEV_SIGNAL:
      case SIGEV_THREAD:
        notify = SIGEV_SIGNAL;
        if (signo <= 0 || signo > NSIG) return -EINVAL;
        break;
      case SIGEV_NONE:
        break;
      default:
        return -EINVAL;
    }
  }
  const s = p.signals;
  // The timer's preallocated siginfo counts against RLIMIT_SIGPENDING.
  if (!s.mayQueue()) return -EAGAIN;
  s.queued++;
  const t = s.timers.createTimer({ clockId: clock, notify, signo, value, tid });
  const r = putUser(p.mm, idVa, new StructWriter(4).i32(0, t.id).bytes);
  if (r < 0) {
    s.timers.deleteTimer(t);
    s.queued--;
    return r;
  }
  return 0;
}

function lookupTimer(p: LinuxProcess, id: number) {
  return id < 0 ? null : p.signals.timers.timer(id);
}

/** An absolute time on the timer's clock as a monotonic deadline. */
function absoluteToMonotonic(p: LinuxProcess, clock: number, abs: bigint): bigint {
  const mono = p.clock.peekMonotonicNs();
  switch (clock) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_ALARM:
    case CLOCK_TAI:
      return abs - (p.clock.peekRealtimeNs() - mono);
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID:
      return abs + (mono - p.clock.peekCputimeNs());
    default:
      return abs;
  }
}

function timerSettime(p: LinuxProcess, a: readonly U64[]): number {
  const id = argInt(a[0]!);
  const flags = argInt(a[1]!);
  const newVa = argPtr(a[2]!);
  const oldVa = argPtr(a[3]!);
  if (newVa === 0) return -EINVAL;
  const raw = getUser(p.mm, newVa, 32);
  if (raw === null) return -EFAULT;
  const r = new StructReader(raw);
  const iv = timespecNs({ a: r.i64(0), b: r.i64(8) });
  const v = timespecNs({ a: r.i64(16), b: r.i64(24) });
  if (iv === null || v === null) return -EINVAL;
  const t = lookupTimer(p, id);
  if (t === null) return -EINVAL;
  const now = nowNs(p);
  let deadline: bigint | null = null;
  if (v !== 0n) deadline = (flags & TIMER_ABSTIME) !== 0 ? absoluteToMonotonic(p, t.clockId, v) : now + v;
  const old = p.signals.timers.setTimer(t, deadline, iv, now);
  if (oldVa !== 0) return putUser(p.mm, oldVa, encodeItimerspec(old));
  return 0;
}

function timerGettime(p: LinuxProcess, a: readonly U64[]): number {
  const t = lookupTimer(p, argInt(a[0]!));
  if (t === null) return -EINVAL;
  return putUser(p.mm, argPtr(a[1]!), encodeItimerspec(p.signals.timers.getTimer(t, nowNs(p))));
}

function timerGetoverrun(p: LinuxProcess, a: readonly U64[]): number {
  const t = lookupTimer(p, argInt(a[0]!));
  return t === null ? -EINVAL : t.overrunLast;
}

function timerDelete(p: LinuxProcess, a: readonly U64[]): number {
  const t = lookupTimer(p, argInt(a[0]!));
  if (t === null) return -EINVAL;
  p.signals.timers.deleteTimer(t);
  p.signals.queued--;
  return 0;
}

export const timerSyscalls: SyscallHandlers = {
  getitimer,
  setitimer,
  timer_create: timerCreate,
  timer_settime: timerSettime,
  timer_gettime: timerGettime,
  timer_getoverrun: timerGetoverrun,
  timer_delete: timerDelete,
};
