/**
 * Interval timers (setitimer, kernel/time/itimer.c) and POSIX timers (timer_create,
 * kernel/time/posix-timers.c), v6.9, as a table of virtual deadlines. Deadlines are virtual
 * CLOCK_MONOTONIC nanoseconds; the scheduler asks for `nextDeadline()` and calls
 * `expire(now)` when virtual time reaches it, then sends the signals it returns (sigsend.ts
 * `expireTimers` does both).
 *
 * Approximation: ITIMER_VIRTUAL and ITIMER_PROF count the process's CPU time in Linux; here they
 * run on the same virtual clock as ITIMER_REAL (a process that never sleeps uses CPU time at the
 * rate the clock advances), and the CPU-time clocks of timer_create likewise.
 *
 * ITIMER_REAL, as in Linux, does not re-arm when it fires: a periodic one re-arms when its
 * SIGALRM is dequeued (dequeue_signal), so it stops while SIGALRM is blocked. A POSIX timer
 * whose signal is still pending counts overruns instead of queueing another (its sigqueue entry
 * is preallocated); the count reaches the handler in si_overrun and timer_getoverrun.
 */

export const ITIMER_REAL = 0;
export const ITIMER_VIRTUAL = 1;
export const ITIMER_PROF = 2;
export type ItimerWhich = typeof ITIMER_REAL | typeof ITIMER_VIRTUAL | typeof ITIMER_PROF;

export const SIGEV_SIGNAL = 0;
export const SIGEV_NONE = 1;
export const SIGEV_THREAD = 2;
export const SIGEV_THREAD_ID = 4;
export const TIMER_ABSTIME = 1;

/** TICK_NSEC at HZ=250: what getitimer reports for a CPU timer that is due. */
const TICK_NSEC = 4_000_000n;
const NSEC_PER_USEC = 1000n;
/** timer_overrun_to_int's clamp. */
const INT_MAX = 0x7fffffff;

export interface TimerSetting {
  /** Time to the next expiry, 0 when disarmed. */
  readonly valueNs: bigint;
  readonly intervalNs: bigint;
}

interface Itimer {
  deadlineNs: bigint | null;
  intervalNs: bigint;
}

export interface PosixTimer {
  readonly id: number;
  readonly clockId: number;
  /** SIGEV_SIGNAL, SIGEV_NONE or SIGEV_THREAD_ID (SIGEV_THREAD is SIGEV_SIGNAL to the kernel). */
  readonly notify: number;
  readonly signo: number;
  /** sigev_value, given back in si_value. */
  readonly value: bigint;
  /** The thread of SIGEV_THREAD_ID. */
  readonly tid: number;
  deadlineNs: bigint | null;
  intervalNs: bigint;
  /** it_overrun: expiries since the queued signal was sent. */
  overrun: number;
  /** it_overrun_last: what timer_getoverrun reports (the count of the last delivered signal). */
  overrunLast: number;
  /** Its signal is pending (the preallocated entry is on a queue). */
  queued: boolean;
  deleted: boolean;
}

export type TimerFiring =
  /** SIGALRM, SIGVTALRM or SIGPROF to the process, with the kernel's own siginfo. */
  | { readonly kind: 'itimer'; readonly which: ItimerWhich; readonly sig: number }
  /** A POSIX timer's signal: queue its preallocated entry (SI_TIMER). */
  | { readonly kind: 'posix'; readonly timer: PosixTimer };

const ITIMER_SIGNALS: Readonly<Record<ItimerWhich, number>> = { 0: 14, 1: 26, 2: 27 };

function clampOverrun(n: number): number {
  return Math.min(n, INT_MAX);
}

export class ProcessTimers {
  private readonly itimers: Itimer[] = [0, 1, 2].map(() => ({ deadlineNs: null, intervalNs: 0n }));
  private readonly posix = new Map<number, PosixTimer>();
  /** next_posix_timer_id: ids are handed out cyclically from 0. */
  private nextId = 0;
  /** ITIMER_REAL's last expiry: a periodic one re-arms from there (hrtimer_forward). */
  private realLastExpiry: bigint | null = null;

  /** The earliest deadline that needs the scheduler (SIGEV_NONE timers never do), or null. */
  nextDeadline(): bigint | null {
    // Asked at every return to user space: no closure, no Map iterator when there are no POSIX timers.
    let best: bigint | null = null;
    for (const t of this.itimers) {
      const d = t.deadlineNs;
      if (d !== null && (best === null || d < best)) best = d;
    }
    if (this.posix.size === 0) return best;
    for (const t of this.posix.values()) {
      const d = t.deadlineNs;
      if (t.notify !== SIGEV_NONE && d !== null && (best === null || d < best)) best = d;
    }
    return best;
  }

  /** Every timer due at `nowNs`, in deadline order (then ITIMER_* before POSIX ids), re-armed as Linux re-arms them. */
  expire(nowNs: bigint): TimerFiring[] {
    const due: { at: bigint; order: number; fire: () => TimerFiring | null }[] = [];
    this.itimers.forEach((t, which) => {
      const at = t.deadlineNs;
      if (at === null || at > nowNs) return;
      due.push({ at, order: which, fire: () => this.fireItimer(which as ItimerWhich, nowNs) });
    });
    for (const t of this.posix.values()) {
      const at = t.deadlineNs;
      if (t.notify === SIGEV_NONE || at === null || at > nowNs) continue;
      due.push({ at, order: 3 + t.id, fire: () => this.firePosix(t, nowNs) });
    }
    due.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.order - b.order));
    const out: TimerFiring[] = [];
    for (const d of due) {
      const f = d.fire();
      if (f !== null) out.push(f);
    }
    return out;
  }

  private fireItimer(which: ItimerWhich, nowNs: bigint): TimerFiring {
    const t = this.itimers[which]!;
    if (which === ITIMER_REAL) this.realLastExpiry = t.deadlineNs;
    if (which === ITIMER_REAL || t.intervalNs === 0n) {
      t.deadlineNs = null;
    } else {
      // check_cpu_itimer: the next expiry one interval on, past now.
      let d = t.deadlineNs!;
      while (d <= nowNs) d += t.intervalNs;
      t.deadlineNs = d;
    }
    return { kind: 'itimer', which, sig: ITIMER_SIGNALS[which] };
  }

  private firePosix(t: PosixTimer, nowNs: bigint): TimerFiring | null {
    const d = t.deadlineNs!;
    let periods = 1n;
    if (t.intervalNs > 0n) {
      periods = (nowNs - d) / t.intervalNs + 1n;
      t.deadlineNs = d + periods * t.intervalNs;
    } else {
      t.deadlineNs = null;
    }
    const n = Number(periods > BigInt(INT_MAX) ? BigInt(INT_MAX) : periods);
    if (t.queued) {
      t.overrun = clampOverrun(t.overrun + n);
      return null;
    }
    t.overrun = clampOverrun(t.overrun + n - 1);
    t.queued = true;
    return { kind: 'posix', timer: t };
  }

  // ---- setitimer / getitimer ----

  getItimer(which: ItimerWhich, nowNs: bigint): TimerSetting {
    const t = this.itimers[which]!;
    if (t.deadlineNs === null) return { valueNs: 0n, intervalNs: t.intervalNs };
    const rem = t.deadlineNs - nowNs;
    // itimer_get_remtime and get_cpu_itimer never say 0 for an armed timer.
    const floor = which === ITIMER_REAL ? NSEC_PER_USEC : TICK_NSEC;
    return { valueNs: rem > 0n ? rem : floor, intervalNs: t.intervalNs };
  }

  /** do_setitimer: returns the old setting; a zero value disarms (the interval is kept). */
  setItimer(which: ItimerWhich, valueNs: bigint, intervalNs: bigint, nowNs: bigint): TimerSetting {
    const old = this.getItimer(which, nowNs);
    const t = this.itimers[which]!;
    t.deadlineNs = valueNs > 0n ? nowNs + valueNs : null;
    t.intervalNs = intervalNs;
    if (which === ITIMER_REAL) this.realLastExpiry = null;
    return old;
  }

  /** dequeue_signal's SIGALRM hook: a periodic ITIMER_REAL starts again, aligned on its period. */
  sigalrmDequeued(nowNs: bigint): void {
    const t = this.itimers[ITIMER_REAL]!;
    if (t.deadlineNs !== null || t.intervalNs === 0n) return;
    const base = this.realLastExpiry ?? nowNs;
    // hrtimer_forward: whole periods after the last expiry, to the first one past now.
    const periods = base > nowNs ? 1n : (nowNs - base) / t.intervalNs + 1n;
    t.deadlineNs = base + periods * t.intervalNs;
  }

  // ---- POSIX timers ----

  createTimer(spec: Omit<PosixTimer, 'id' | 'deadlineNs' | 'intervalNs' | 'overrun' | 'overrunLast' | 'queued' | 'deleted' | 'value'> & { value: bigint | null }): PosixTimer {
    let id = this.nextId;
    while (this.posix.has(id)) id = (id + 1) & INT_MAX;
    this.nextId = (id + 1) & INT_MAX;
    // Without a sigevent, si_value carries the timer's id.
    const t: PosixTimer = { ...spec, value: spec.value ?? BigInt(id), id, deadlineNs: null, intervalNs: 0n, overrun: 0, overrunLast: 0, queued: false, deleted: false };
    this.posix.set(id, t);
    return t;
  }

  timer(id: number): PosixTimer | null {
    return this.posix.get(id) ?? null;
  }

  /** common_timer_get. */
  getTimer(t: PosixTimer, nowNs: bigint): TimerSetting {
    const sigNone = t.notify === SIGEV_NONE;
    if (t.deadlineNs === null) return { valueNs: 0n, intervalNs: t.intervalNs };
    if (sigNone && t.intervalNs > 0n && t.deadlineNs <= nowNs) {
      const periods = (nowNs - t.deadlineNs) / t.intervalNs + 1n;
      t.deadlineNs += periods * t.intervalNs;
    }
    const rem = t.deadlineNs - nowNs;
    if (rem <= 0n) return { valueNs: sigNone ? 0n : 1n, intervalNs: t.intervalNs };
    return { valueNs: rem, intervalNs: t.intervalNs };
  }

  /** common_timer_set: `deadlineNs` is absolute monotonic (null disarms); returns the old setting. */
  setTimer(t: PosixTimer, deadlineNs: bigint | null, intervalNs: bigint, nowNs: bigint): TimerSetting {
    const old = this.getTimer(t, nowNs);
    t.overrunLast = 0;
    t.overrun = 0;
    t.deadlineNs = deadlineNs;
    t.intervalNs = deadlineNs === null ? 0n : intervalNs;
    return old;
  }

  deleteTimer(t: PosixTimer): void {
    t.deleted = true;
    t.deadlineNs = null;
    this.posix.delete(t.id);
  }

  /** exit_itimers at exec and exit: every POSIX timer goes; setitimer's survive exec. */
  deleteAllPosix(): PosixTimer[] {
    const all = [...this.posix.values()];
    for (const t of all) this.deleteTimer(t);
    return all;
  }

  get posixCount(): number {
    return this.posix.size;
  }
}
