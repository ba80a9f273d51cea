/**
 * A set of pending signals with their queued siginfo (struct sigpending: a bit per signal and a
 * list of sigqueue entries), kernel/signal.c v6.9. A standard signal (1..31) is pending at most
 * once: a second one while the first waits is dropped (legacy_queue). A real-time signal queues
 * one entry per send, delivered in order. A signal can be pending without an entry (SIGKILL, or
 * when the RLIMIT_SIGPENDING budget is spent): it is delivered with an empty SI_USER siginfo.
 */
import { anonymousInfo, type SigInfo } from './siginfo.js';
import { SIGRTMIN, sigBit } from './signals.js';

/** What a queue entry belongs to besides its siginfo: the POSIX timer that preallocated it. */
export interface QueueOwner {
  /** Called when the entry is taken for delivery; returns the siginfo to deliver. */
  dequeued(info: SigInfo): SigInfo;
  /** Called when the entry is dropped unread (flush). */
  dropped(): void;
}

export interface QueuedSignal {
  readonly sig: number;
  readonly info: SigInfo;
  readonly owner?: QueueOwner;
}

/** SYNCHRONOUS_MASK: faults are taken before any other signal. */
const SYNCHRONOUS_MASK = sigBit(4) | sigBit(5) | sigBit(7) | sigBit(8) | sigBit(11) | sigBit(31);

export class SigPending {
  set = 0n;
  readonly queue: QueuedSignal[] = [];

  has(sig: number): boolean {
    return (this.set & sigBit(sig)) !== 0n;
  }

  /** Whether the signal would be dropped because one is already pending (legacy_queue). */
  coalesces(sig: number): boolean {
    return sig < SIGRTMIN && this.has(sig);
  }

  add(sig: number, entry: QueuedSignal | null): void {
    if (entry !== null) this.queue.push(entry);
    this.set |= sigBit(sig);
  }

  /** next_signal: the lowest pending signal outside `blocked`, a synchronous one first; 0 if none. */
  next(blocked: bigint): number {
    let x = this.set & ~blocked;
    if (x === 0n) return 0;
    if ((x & SYNCHRONOUS_MASK) !== 0n) x &= SYNCHRONOUS_MASK;
    let sig = 1;
    while ((x & 1n) === 0n) {
      x >>= 1n;
      sig++;
    }
    return sig;
  }

  /**
   * collect_signal: takes the first entry of `sig`; the bit stays while another entry of the
   * same signal waits. The entry's owner may rewrite the siginfo (a timer's overrun count).
   */
  collect(sig: number): { info: SigInfo; owner?: QueueOwner } {
    const i = this.queue.findIndex((q) => q.sig === sig);
    if (i < 0) {
      this.set &= ~sigBit(sig);
      return { info: anonymousInfo(sig) };
    }
    const entry = this.queue[i]!;
    this.queue.splice(i, 1);
    if (!this.queue.some((q) => q.sig === sig)) this.set &= ~sigBit(sig);
    const info = entry.owner !== undefined ? entry.owner.dequeued(entry.info) : entry.info;
    return entry.owner !== undefined ? { info, owner: entry.owner } : { info };
  }

  /** Removes every signal of `mask` and its entries (flush_sigqueue_mask); returns how many entries went. */
  flush(mask: bigint): number {
    if ((this.set & mask) === 0n) return 0;
    this.set &= ~mask;
    let removed = 0;
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const q = this.queue[i]!;
      if ((sigBit(q.sig) & mask) !== 0n) {
        this.queue.splice(i, 1);
        q.owner?.dropped();
        removed++;
      }
    }
    return removed;
  }

  clear(): number {
    return this.flush(-1n & ((1n << 64n) - 1n));
  }
}
