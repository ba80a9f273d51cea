/**
 * Time system calls over the virtual clock (clock.ts): clock_gettime, clock_getres,
 * gettimeofday, nanosleep, clock_nanosleep (kernel/time/posix-timers.c, hrtimer.c, time.c, v6.9).
 * Sleeping blocks the task until virtual time reaches its deadline (other tasks run meanwhile;
 * alone, time jumps there at once); a signal that interrupts it leaves the remaining time.
 */
import type { U64 } from '../../util/u64.js';
import {
  CLOCK_BOOTTIME, CLOCK_BOOTTIME_ALARM, CLOCK_MONOTONIC, CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME,
  CLOCK_REALTIME_ALARM, CLOCK_REALTIME_COARSE, CLOCK_TAI, COARSE_RESOLUTION_NS, NSEC_PER_SEC, clockKind, splitNs,
} from '../clock.js';
import { EFAULT, EINTR, EINVAL, EOPNOTSUPP } from '../../util/errno.js';
import type { LinuxProcess } from '../process.js';
import { StructReader, StructWriter, getTimespecNs, getUser, putUser } from '../uaccess.js';
import { argInt, argPtr } from './args.js';
import type { SyscallHandlers, SyscallOutcome } from './outcome.js';

export const TIMER_ABSTIME = 1;

function encodeTimespec(ns: bigint): Uint8Array {
  const t = splitNs(ns);
  return new StructWriter(16).u64(0, t.sec).u64(8, t.nsec).bytes;
}

/** get_timespec64 + timespec64_valid: the nanoseconds, or -errno. */
function readTimespec(p: LinuxProcess, va: number): bigint | number {
  return getTimespecNs(p.mm, va);
}

function clockGettime(p: LinuxProcess, a: readonly U64[]): number {
  const kind = clockKind(argInt(a[0]!));
  if (kind === null) return -EINVAL;
  return putUser(p.mm, argPtr(a[1]!), encodeTimespec(p.clock.read(kind)));
}

function clockGetres(p: LinuxProcess, a: readonly U64[]): number {
  const id = argInt(a[0]!);
  if (clockKind(id) === null) return -EINVAL;
  const va = argPtr(a[1]!);
  if (va === 0) return 0;
  const coarse = id === CLOCK_REALTIME_COARSE || id === CLOCK_MONOTONIC_COARSE;
  return putUser(p.mm, va, encodeTimespec(coarse ? COARSE_RESOLUTION_NS : 1n));
}

function gettimeofday(p: LinuxProcess, a: readonly U64[]): number {
  const tv = argPtr(a[0]!);
  const tz = argPtr(a[1]!);
  if (tv !== 0) {
    const t = splitNs(p.clock.read('realtime'));
    const r = putUser(p.mm, tv, new StructWriter(16).u64(0, t.sec).u64(8, t.nsec / 1000n).bytes);
    if (r < 0) return r;
  }
  // struct timezone: minutes west of Greenwich and DST type, both 0 (UTC).
  if (tz !== 0) return putUser(p.mm, tz, new Uint8Array(8));
  return 0;
}

interface SleepState {
  readonly deadline: bigint;
  readonly start: bigint;
}

/**
 * hrtimer_nanosleep: the task sleeps until virtual CLOCK_MONOTONIC reaches `deadline`, letting
 * other tasks run meanwhile (wait.ts); alone, the scheduler moves time straight to the deadline.
 * Interrupted by a signal, it returns -EINTR with the time left in `remVa` (relative sleeps).
 */
function sleepUntil(p: LinuxProcess, deadline: bigint, remVa: number): number | SyscallOutcome {
  const t = p.current;
  const now = p.clock.peekMonotonicNs();
  const st = t.blockState as SleepState | null;
  if (st === null) {
    if (deadline <= now) return 0;
    t.blockState = { deadline, start: now } satisfies SleepState;
    return { kind: 'block', on: [], deadlineNs: deadline, restartable: false };
  }
  if (t.wakeReason === 'timeout' || now >= st.deadline) {
    p.clock.sleptNs += st.deadline - st.start;
    return 0;
  }
  p.clock.sleptNs += now - st.start;
  if (remVa !== 0) {
    const left = splitNs(st.deadline - now);
    const r = putUser(p.mm, remVa, new StructWriter(16).u64(0, left.sec).u64(8, left.nsec).bytes);
    if (r < 0) return r;
  }
  return -EINTR;
}

function nanosleep(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const st = p.current.blockState as SleepState | null;
  if (st !== null) return sleepUntil(p, st.deadline, argPtr(a[1]!));
  const ns = readTimespec(p, argPtr(a[0]!));
  if (typeof ns === 'number') return ns;
  return sleepUntil(p, p.clock.peekMonotonicNs() + ns, argPtr(a[1]!));
}

function clockNanosleep(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const st = p.current.blockState as SleepState | null;
  const flags0 = argInt(a[1]!);
  if (st !== null) return sleepUntil(p, st.deadline, (flags0 & TIMER_ABSTIME) !== 0 ? 0 : argPtr(a[3]!));
  const id = argInt(a[0]!);
  const flags = argInt(a[1]!);
  switch (id) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_BOOTTIME:
    case CLOCK_TAI:
      break;
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_REALTIME_ALARM:
    case CLOCK_BOOTTIME_ALARM:
      // No nsleep for these clocks (and no RTC for the alarm clocks).
      return -EOPNOTSUPP;
    default:
      // CPU-time clocks: a thread cannot sleep on its own CPU time, and a single-threaded
      // process's CPU time does not advance while it sleeps.
      return -EINVAL;
  }
  const ns = readTimespec(p, argPtr(a[2]!));
  if (typeof ns === 'number') return ns;
  const kind = clockKind(id)!;
  const now = p.clock.peekMonotonicNs();
  if ((flags & TIMER_ABSTIME) === 0) return sleepUntil(p, now + ns, argPtr(a[3]!));
  // An absolute time on CLOCK_REALTIME/TAI: the same instant on CLOCK_MONOTONIC.
  const offset = kind === 'realtime' ? p.clock.peekRealtimeNs() - now : 0n;
  return sleepUntil(p, ns - offset, 0);
}

export const timeSyscalls: SyscallHandlers = {
  clock_gettime: clockGettime,
  clock_getres: clockGetres,
  gettimeofday,
  nanosleep,
  clock_nanosleep: clockNanosleep,
};
