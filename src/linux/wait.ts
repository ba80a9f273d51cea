/**
 * Wait queues: how a task sleeps in the kernel model until something happens (a pipe gets data,
 * a child exits, a futex is woken), as the kernel's wait_queue_head does.
 *
 * A syscall that must wait returns `{ kind: 'block', on: [queues], deadlineNs? }` (outcome.ts)
 * instead of a value. The scheduler parks the task on those queues; when one is woken, or the
 * deadline (virtual CLOCK_MONOTONIC nanoseconds) passes, or a signal arrives for the task, the
 * scheduler runs the same syscall again with the same arguments, as the kernel's wait loops
 * re-test their condition after every wake-up. A handler therefore checks its condition first
 * and blocks only when it is not yet true, with no side effect before it blocks. What a handler
 * must remember between its tries (an absolute deadline computed on the first try) lives in
 * `task.blockState` (task.ts), which the scheduler clears when the syscall finally returns.
 */

/** Anything that can be parked on a wait queue (a task; tests use plain objects). */
export interface Waiter {
  /** Called once when a queue the waiter sleeps on is woken; the waiter leaves all its queues. */
  wake(reason: WakeReason): void;
}

export type WakeReason = 'event' | 'timeout' | 'signal';

export class WaitQueue {
  private readonly waiters: Waiter[] = [];

  /** For messages and traces. */
  constructor(readonly name: string = 'wait') {}

  add(w: Waiter): void {
    if (!this.waiters.includes(w)) this.waiters.push(w);
  }

  remove(w: Waiter): void {
    const i = this.waiters.indexOf(w);
    if (i >= 0) this.waiters.splice(i, 1);
  }

  get size(): number {
    return this.waiters.length;
  }

  /**
   * Wakes up to `n` waiters in the order they arrived (all by default), as wake_up does; returns
   * how many it woke. Each woken waiter removes itself from every queue it was on.
   */
  wake(n = Infinity): number {
    let woken = 0;
    while (woken < n && this.waiters.length > 0) {
      const w = this.waiters.shift()!;
      w.wake('event');
      woken++;
    }
    return woken;
  }
}
