/**
 * The deterministic scheduler: N modeled CPUs, each with its own virtual clock and run queue,
 * and the rule that decides which task the one Unicorn engine runs next.
 *
 * - Every CPU's clock is virtual nanoseconds of CLOCK_MONOTONIC. It advances by the modeled
 *   cost of what ran on it (clock-cost.ts): kernel events, broadcast TLBIs received from other
 *   CPUs, and whole quanta of guest instructions. Nothing depends on host time, so a run is
 *   reproducible bit for bit.
 * - The CPU that is furthest behind runs next (lowest clock, then lowest index): CPUs advance
 *   together, as parallel hardware does, within `SLACK_NS` of each other.
 * - On one CPU, tasks take turns every `TIMESLICE_NS` of its clock (round robin).
 * - A task that sleeps with a deadline (nanosleep, a futex or poll timeout) is woken when the
 *   clock of the CPU that reaches the deadline first passes it, or, when every CPU is idle, by
 *   moving its CPU's clock forward to the deadline (idle time passes instantly).
 * - A task woken by another CPU's action continues no earlier than that action: an idle CPU's
 *   clock catches up to the waker's.
 * - New tasks go to the allowed CPU with the fewest tasks (lowest index first).
 */
import type { Task } from '../linux/task.js';

/** How far ahead of the furthest-behind runnable CPU the running one may get. */
export const SLACK_NS = 50_000n;
/** A task's turn on a CPU shared with other runnable tasks. */
export const TIMESLICE_NS = 3_000_000n;
/** Guest instructions per preemption check when other work exists (Unicorn's count). */
export const QUANTUM_INSNS = 200_000;

export class SchedCpu {
  clockNs: bigint;
  readonly queue: Task[] = [];
  /** Tasks assigned to this CPU that have not exited (placement balances on this). */
  load = 0;
  /** When the running task's turn began (for TIMESLICE_NS). */
  turnStartNs = 0n;

  constructor(
    readonly index: number,
    bootNs: bigint,
  ) {
    this.clockNs = bootNs;
  }
}

export class Scheduler {
  readonly cpus: SchedCpu[];
  /** Blocked tasks with a deadline. */
  private readonly sleepers = new Set<Task>();
  /** Deadline of each sleeper (a task's blockedIn.deadlineNs). */
  private readonly deadlines = new Map<Task, bigint>();

  constructor(ncpus: number, bootNs: bigint) {
    this.cpus = Array.from({ length: ncpus }, (_, i) => new SchedCpu(i, bootNs));
  }

  /** The least loaded CPU `t`'s affinity allows (lowest index first), or null if none. */
  private leastLoaded(t: Task): SchedCpu | null {
    let best: SchedCpu | null = null;
    for (const c of this.cpus) {
      if (((t.affinity >> BigInt(c.index)) & 1n) === 0n) continue;
      if (best === null || c.load < best.load) best = c;
    }
    return best;
  }

  /** A new task: placed on the least loaded CPU its affinity allows, and made runnable. */
  add(t: Task, nowNs: bigint): void {
    const cpu = this.leastLoaded(t) ?? this.cpus[0]!;
    t.cpu = cpu.index;
    cpu.load++;
    this.makeRunnable(t, nowNs);
  }

  /**
   * Moves a task to an allowed CPU (sched_setaffinity took its CPU away). The running task that
   * moves itself stays 'running' to the end of its slice (the machine saves its registers then)
   * and is already queued on its new CPU; before, it left every queue and was never run again.
   */
  migrate(t: Task, nowNs: bigint): void {
    const old = this.cpus[t.cpu]!;
    const i = old.queue.indexOf(t);
    if (i >= 0) old.queue.splice(i, 1);
    old.load--;
    const queued = i >= 0 && (t.state === 'runnable' || t.state === 'running');
    const cpu = this.leastLoaded(t) ?? old;
    t.cpu = cpu.index;
    cpu.load++;
    if (!queued) return;
    if (t.state === 'running') {
      if (cpu.queue.length === 0 && cpu.clockNs < nowNs) cpu.clockNs = nowNs;
      cpu.queue.push(t);
    } else {
      this.makeRunnable(t, nowNs);
    }
  }

  /**
   * A task became runnable at virtual time `nowNs` (created, woken, preempted): it joins its
   * CPU's queue, and an idle CPU's clock catches up to the moment.
   */
  makeRunnable(t: Task, nowNs: bigint): void {
    this.sleepers.delete(t);
    this.deadlines.delete(t);
    t.state = 'runnable';
    const cpu = this.cpus[t.cpu]!;
    if (cpu.queue.length === 0 && cpu.clockNs < nowNs) cpu.clockNs = nowNs;
    if (!cpu.queue.includes(t)) cpu.queue.push(t);
  }

  /** A task went to sleep; with a deadline it is also a timer. */
  sleep(t: Task, deadlineNs: bigint | undefined): void {
    t.state = 'blocked';
    const cpu = this.cpus[t.cpu]!;
    const i = cpu.queue.indexOf(t);
    if (i >= 0) cpu.queue.splice(i, 1);
    if (deadlineNs !== undefined) {
      this.sleepers.add(t);
      this.deadlines.set(t, deadlineNs);
    }
  }

  /** A task ended: it leaves its queue and its CPU's load. */
  remove(t: Task): void {
    const cpu = this.cpus[t.cpu]!;
    const i = cpu.queue.indexOf(t);
    if (i >= 0) cpu.queue.splice(i, 1);
    if (this.sleepers.delete(t)) this.deadlines.delete(t);
    cpu.load = Math.max(0, cpu.load - 1);
  }

  /** The earliest sleeper's deadline, or null. */
  nextDeadline(): bigint | null {
    let best: bigint | null = null;
    for (const d of this.deadlines.values()) if (best === null || d < best) best = d;
    return best;
  }

  /** Sleepers whose deadline is at or before `nowNs`, earliest first (ties by tid). */
  expired(nowNs: bigint): Task[] {
    const out: Task[] = [];
    for (const [t, d] of this.deadlines) if (d <= nowNs) out.push(t);
    out.sort((a, b) => {
      const da = this.deadlines.get(a)!;
      const db = this.deadlines.get(b)!;
      return da < db ? -1 : da > db ? 1 : a.tid - b.tid;
    });
    return out;
  }

  deadlineOf(t: Task): bigint | undefined {
    return this.deadlines.get(t);
  }

  /** The CPU that should run next: runnable work and the lowest clock; null if all are idle. */
  nextCpu(): SchedCpu | null {
    let best: SchedCpu | null = null;
    for (const c of this.cpus) {
      if (c.queue.length === 0) continue;
      if (best === null || c.clockNs < best.clockNs) best = c;
    }
    return best;
  }

  /** The lowest clock among CPUs with runnable work other than `cpu`, or null. */
  otherRunnableMin(cpu: SchedCpu): bigint | null {
    let m: bigint | null = null;
    for (const c of this.cpus) {
      if (c === cpu || c.queue.length === 0) continue;
      if (m === null || c.clockNs < m) m = c.clockNs;
    }
    return m;
  }
}
