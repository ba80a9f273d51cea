/**
 * Futexes (kernel/futex/): the hash of waiters keyed by the futex's identity, with the wait,
 * wake, requeue and wake-op semantics of futex(2). Ours is a map from key to the waiters queued
 * on it, in arrival order (the kernel's plist orders equal-priority waiters the same way).
 *
 * Keys (get_futex_key): a FUTEX_PRIVATE_FLAG futex, or a shared one in private memory, is the
 * pair (address space, address); a shared futex in a shared mapping is where the memory is (the
 * machine names it by physical address, which the model never migrates), so two processes
 * mapping the same page meet on one key. The machine computes keys (`FutexHost.key`).
 */
import { WaitQueue } from './wait.js';

export const FUTEX_WAIT = 0;
export const FUTEX_WAKE = 1;
export const FUTEX_FD = 2;
export const FUTEX_REQUEUE = 3;
export const FUTEX_CMP_REQUEUE = 4;
export const FUTEX_WAKE_OP = 5;
export const FUTEX_LOCK_PI = 6;
export const FUTEX_UNLOCK_PI = 7;
export const FUTEX_TRYLOCK_PI = 8;
export const FUTEX_WAIT_BITSET = 9;
export const FUTEX_WAKE_BITSET = 10;
export const FUTEX_WAIT_REQUEUE_PI = 11;
export const FUTEX_CMP_REQUEUE_PI = 12;
export const FUTEX_LOCK_PI2 = 13;
export const FUTEX_PRIVATE_FLAG = 128;
export const FUTEX_CLOCK_REALTIME = 256;
export const FUTEX_CMD_MASK = ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
export const FUTEX_BITSET_MATCH_ANY = 0xffffffff;

/** One task waiting on a futex: its own queue, so it can be moved to another key (requeue). */
export interface FutexWaiter {
  readonly queue: WaitQueue;
  readonly bitset: number;
  key: string;
}

export class FutexTable {
  private readonly byKey = new Map<string, FutexWaiter[]>();

  /** futex_queue: a new waiter on `key` (the caller blocks on `waiter.queue`). */
  enqueue(key: string, bitset: number): FutexWaiter {
    const w: FutexWaiter = { queue: new WaitQueue(`futex ${key}`), bitset, key };
    this.list(key).push(w);
    return w;
  }

  /** A waiter that stopped waiting for another reason (timeout, signal) leaves its key. */
  dequeue(w: FutexWaiter): void {
    const l = this.byKey.get(w.key);
    if (l === undefined) return;
    const i = l.indexOf(w);
    if (i >= 0) l.splice(i, 1);
    if (l.length === 0) this.byKey.delete(w.key);
  }

  /** Whether `w` is still queued (not yet woken). */
  queued(w: FutexWaiter): boolean {
    return this.byKey.get(w.key)?.includes(w) ?? false;
  }

  /** futex_wake: wakes up to `n` waiters whose bitset intersects `bitset`; returns how many. */
  wake(key: string, n: number, bitset = FUTEX_BITSET_MATCH_ANY): number {
    const l = this.byKey.get(key);
    if (l === undefined) return 0;
    let woken = 0;
    for (let i = 0; i < l.length && woken < n; ) {
      const w = l[i]!;
      if ((w.bitset & bitset) >>> 0 === 0) {
        i++;
        continue;
      }
      l.splice(i, 1);
      woken++;
      w.queue.wake();
    }
    if (l.length === 0) this.byKey.delete(key);
    return woken;
  }

  /**
   * futex_requeue (non-PI): wakes up to `nWake` waiters of `from` and moves up to `nRequeue` of
   * the rest to `to`; returns woken + moved, as FUTEX_CMP_REQUEUE does.
   */
  requeue(from: string, to: string, nWake: number, nRequeue: number): number {
    const woken = this.wake(from, nWake);
    const l = this.byKey.get(from);
    let moved = 0;
    while (l !== undefined && l.length > 0 && moved < nRequeue) {
      const w = l.shift()!;
      w.key = to;
      this.list(to).push(w);
      moved++;
    }
    if (l !== undefined && l.length === 0) this.byKey.delete(from);
    return woken + moved;
  }

  /** Waiters on `key` (tests, /proc). */
  waiters(key: string): number {
    return this.byKey.get(key)?.length ?? 0;
  }

  private list(key: string): FutexWaiter[] {
    let l = this.byKey.get(key);
    if (l === undefined) {
      l = [];
      this.byKey.set(key, l);
    }
    return l;
  }
}

/**
 * FUTEX_WAKE_OP's operation on the second futex word (futex_atomic_op_inuser): returns the new
 * value and whether the comparison with the old value holds, or null for an invalid encoding.
 */
export function futexWakeOp(encoded: number, oldval: number): { newval: number; cmp: boolean } | null {
  const op = (encoded >>> 28) & 7;
  const cmp = (encoded >>> 24) & 15;
  let oparg = ((encoded << 8) >> 20) | 0; // sign-extended 12 bits
  const cmparg = ((encoded << 20) >> 20) | 0;
  if ((encoded >>> 31) & 1) {
    // FUTEX_OP_OPARG_SHIFT: oparg is a shift count.
    if (oparg < 0 || oparg > 31) return null;
    oparg = 1 << oparg;
  }
  let newval: number;
  switch (op) {
    case 0: // SET
      newval = oparg;
      break;
    case 1: // ADD
      newval = (oldval + oparg) | 0;
      break;
    case 2: // OR
      newval = oldval | oparg;
      break;
    case 3: // ANDN
      newval = oldval & ~oparg;
      break;
    case 4: // XOR
      newval = oldval ^ oparg;
      break;
    default:
      return null;
  }
  let c: boolean;
  switch (cmp) {
    case 0:
      c = oldval === cmparg;
      break;
    case 1:
      c = oldval !== cmparg;
      break;
    case 2:
      c = oldval < cmparg;
      break;
    case 3:
      c = oldval <= cmparg;
      break;
    case 4:
      c = oldval > cmparg;
      break;
    case 5:
      c = oldval >= cmparg;
      break;
    default:
      return null;
  }
  return { newval: newval | 0, cmp: c };
}
