/**
 * The guest's clocks: virtual time that moves only when the guest looks at it or sleeps, so a
 * run reads the same times every time and a sleep costs no host time.
 *
 * - CLOCK_MONOTONIC starts at `bootNs` (a machine that has been up a little while) and advances
 *   by `tickNs` after every read, so consecutive reads differ and a guest polling the clock makes
 *   progress; nanosleep advances it by the time asked for.
 * - CLOCK_REALTIME is `epochSec` (2024-05-12 00:00:00 UTC, the day Linux 6.9 was released) plus
 *   the time since boot. TAI equals it (Linux's TAI offset is 0 until NTP sets it).
 * - The CPU-time clocks count virtual time since the process started.
 * Nanoseconds are bigints: virtual time may pass 2^53 ns (104 days) after a long sleep.
 */

export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;
export const CLOCK_PROCESS_CPUTIME_ID = 2;
export const CLOCK_THREAD_CPUTIME_ID = 3;
export const CLOCK_MONOTONIC_RAW = 4;
export const CLOCK_REALTIME_COARSE = 5;
export const CLOCK_MONOTONIC_COARSE = 6;
export const CLOCK_BOOTTIME = 7;
export const CLOCK_REALTIME_ALARM = 8;
export const CLOCK_BOOTTIME_ALARM = 9;
export const CLOCK_TAI = 11;

export const NSEC_PER_SEC = 1_000_000_000n;
/** 2024-05-12T00:00:00Z. */
export const DEFAULT_EPOCH_SEC = 1715472000;
/** 100 s of uptime when the program starts. */
export const DEFAULT_BOOT_NS = 100n * NSEC_PER_SEC;
export const DEFAULT_TICK_NS = 1000n;
/** The coarse clocks' resolution: one jiffy at CONFIG_HZ=250, arm64 defconfig's value. */
export const COARSE_RESOLUTION_NS = 4_000_000n;

export type ClockKind = 'realtime' | 'monotonic' | 'cputime';

/** Which time base a clock id reads, or null for ids Linux rejects with EINVAL. */
export function clockKind(id: number): ClockKind | null {
  switch (id) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_REALTIME_ALARM:
    case CLOCK_TAI:
      return 'realtime';
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    case CLOCK_BOOTTIME_ALARM:
      return 'monotonic';
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID:
      return 'cputime';
    default:
      // Negative ids name other processes' CPU clocks and fds: not modelled.
      return null;
  }
}

export interface ClockOptions {
  epochSec?: number;
  bootNs?: bigint;
  tickNs?: bigint;
}

export interface Timespec {
  readonly sec: bigint;
  readonly nsec: bigint;
}

export class VirtualClock {
  readonly epochSec: number;
  readonly tickNs: bigint;
  private readonly startNs: bigint;
  /** The clock is committedNs + pendingNs; see chargeNs. */
  private committedNs: bigint;
  /** Whole nanoseconds charged by chargeNs and not yet added to committedNs (below 2^52). */
  private pendingNs = 0;
  /** Time the guest slept, for the summary. */
  sleptNs = 0n;

  constructor(opts: ClockOptions = {}) {
    this.epochSec = opts.epochSec ?? DEFAULT_EPOCH_SEC;
    this.tickNs = opts.tickNs ?? DEFAULT_TICK_NS;
    this.startNs = opts.bootNs ?? DEFAULT_BOOT_NS;
    this.committedNs = this.startNs;
  }

  /** The clock's value: pending charges join it at the first read. */
  private get nowNs(): bigint {
    if (this.pendingNs !== 0) {
      this.committedNs += BigInt(this.pendingNs);
      this.pendingNs = 0;
    }
    return this.committedNs;
  }

  private set nowNs(ns: bigint) {
    this.committedNs = ns;
    this.pendingNs = 0;
  }

  /** Nanoseconds since boot, without advancing (file timestamps, messages). */
  peekMonotonicNs(): bigint {
    return this.nowNs;
  }

  /** Nanoseconds since the epoch, without advancing. */
  peekRealtimeNs(): bigint {
    return BigInt(this.epochSec) * NSEC_PER_SEC + this.nowNs;
  }

  /** The CPU-time clocks' value, without advancing (absolute CPU-time timers). */
  peekCputimeNs(): bigint {
    return this.nowNs - this.startNs;
  }

  /** A guest read of clock `kind`: the current value, then time moves on by one tick. */
  read(kind: ClockKind): bigint {
    let v: bigint;
    switch (kind) {
      case 'realtime':
        v = this.peekRealtimeNs();
        break;
      case 'monotonic':
        v = this.nowNs;
        break;
      case 'cputime':
        v = this.nowNs - this.startNs;
        break;
      default: {
        const never: never = kind;
        throw new Error(`unknown clock ${String(never)}`);
      }
    }
    this.nowNs += this.tickNs;
    return v;
  }

  /**
   * The running CPU's time (the scheduler loads each CPU's clock here when it switches to it,
   * and reads it back when it switches away): every CPU keeps its own virtual time.
   */
  setNow(ns: bigint): void {
    this.nowNs = ns;
  }

  /** Time the running CPU spent working (modeled costs): the clock moves, nothing slept. */
  charge(ns: bigint): void {
    if (ns > 0n) this.nowNs += ns;
  }

  /**
   * `charge` for whole nanoseconds as a number, the form of the charge at every fault and
   * syscall: they add up as a number, and become a bigint only when the clock is read (a bigint
   * per charge was two allocations per fault). Integers below 2^53 add exactly, so the clock
   * reads the same as with `charge`.
   */
  chargeNs(ns: number): void {
    if (!(ns > 0)) return;
    if (!Number.isSafeInteger(ns)) throw new RangeError(`VirtualClock: ${ns} ns is not a whole number of nanoseconds`);
    this.pendingNs += ns;
    if (this.pendingNs >= 2 ** 52) void this.nowNs;
  }

  /** Lets `ns` pass (a sleep). */
  advance(ns: bigint): void {
    if (ns < 0n) throw new RangeError(`VirtualClock: cannot go back ${ns} ns`);
    this.nowNs += ns;
    this.sleptNs += ns;
  }

  /** Sleeps until clock `kind` reads `targetNs` (TIMER_ABSTIME); no time passes if it already has. */
  advanceTo(kind: ClockKind, targetNs: bigint): void {
    const now = kind === 'realtime' ? this.peekRealtimeNs() : kind === 'monotonic' ? this.nowNs : this.nowNs - this.startNs;
    if (targetNs > now) this.advance(targetNs - now);
  }
}

export function splitNs(ns: bigint): Timespec {
  return { sec: ns / NSEC_PER_SEC, nsec: ns % NSEC_PER_SEC };
}
