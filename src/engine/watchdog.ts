/**
 * The time budget: a worker thread that sleeps until the deadline and then calls uc_emu_stop on
 * the engine's Unicorn instance, as Unicorn's own timer thread would.
 *
 * Why not Unicorn's `timeout` argument: 2.0.1 implements it with a thread that wakes every 2 us
 * (uc.c, _timeout_fn), which on a busy 2-core machine measurably slowed a compute loop (ratio 0.63
 * against no budget in bench/engine-compute.ts). This thread sleeps in one Atomics.wait and costs
 * nothing while the guest runs. uc_emu_stop only sets Unicorn's stop request and asks the CPU to
 * leave its translated block, which is what that timer thread does from its own thread too.
 *
 * Protocol over one Int32Array (state, generation, milliseconds, ready): the engine arms once
 * for a deadline and keeps the watchdog armed across the run's slices (arming and disarming per
 * uc_emu_start woke the worker twice per slice, ~15 us of CPU each time on a busy machine); it
 * asks `fired()` after each slice and disarms (acknowledges) when the budget is spent or the
 * deadline changes. Whoever moves the state first wins, so a stop can never land on a later
 * deadline's run. A stop that reaches Unicorn between two slices, or in uc_emu_start's prologue
 * before it clears its stop request, is lost: so until acknowledged, the worker repeats it every
 * REFIRE_MS, and the engine looks at `fired()` before starting a slice too.
 *
 * A worker must never be terminated while it is still loading koffi: the addon's registration
 * then fails inside N-API and node aborts the whole process (napi_throw, exit 134; about 1 % of
 * short `--timeout` runs did). The worker raises `ready` once koffi is loaded, and `close` waits
 * for it before ending the thread; so does the process's exit for a watchdog never closed (node
 * ends its workers then, and the abort was the same).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { UNICORN_LIBRARY } from './unicorn.js';

const IDLE = 0;
const ARMED = 1;
const FIRING = 2;
const FIRED = 3;
const QUIT = 4;
/** How often an unacknowledged stop is repeated (see the protocol above). */
const REFIRE_MS = 20;
/** How long `close` waits for the worker to finish loading koffi before ending it anyway. */
const READY_WAIT_MS = 10_000;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const koffi = require(workerData.koffiPath);
const stop = koffi.load(workerData.library).func('int uc_emu_stop(void *uc)');
const s = new Int32Array(workerData.shared);
Atomics.store(s, 3, 1);
Atomics.notify(s, 3);
for (;;) {
  Atomics.wait(s, 0, ${IDLE});
  const state = Atomics.load(s, 0);
  if (state === ${QUIT}) break;
  if (state === ${FIRED}) {
    if (Atomics.wait(s, 0, state, ${REFIRE_MS}) === 'timed-out' && Atomics.compareExchange(s, 0, ${FIRED}, ${FIRING}) === ${FIRED}) {
      stop(workerData.uc);
      Atomics.store(s, 0, ${FIRED});
      Atomics.notify(s, 0);
    }
    continue;
  }
  if (state !== ${ARMED}) { Atomics.wait(s, 0, state, 50); continue; }
  const generation = Atomics.load(s, 1);
  const ms = Atomics.load(s, 2);
  if (Atomics.wait(s, 1, generation, ms) === 'timed-out' && Atomics.compareExchange(s, 0, ${ARMED}, ${FIRING}) === ${ARMED}) {
    stop(workerData.uc);
    Atomics.store(s, 0, ${FIRED});
    Atomics.notify(s, 0);
  }
}
`;

/** Watchdogs not closed yet: the process's exit waits until each worker has loaded koffi. */
const live = new Set<Watchdog>();
let exitHook = false;

export class Watchdog {
  private readonly shared = new SharedArrayBuffer(16);
  private readonly s = new Int32Array(this.shared);
  private readonly worker: Worker;
  private closed = false;

  constructor(ucHandle: bigint) {
    const koffiPath = createRequire(import.meta.url).resolve('koffi');
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { koffiPath, library: UNICORN_LIBRARY, shared: this.shared, uc: ucHandle },
    });
    // A worker that cannot start leaves the run without a time budget; it must not crash the tool.
    this.worker.on('error', (e: Error) => {
      this.failure = e;
    });
    this.worker.unref();
    live.add(this);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const w of live) w.waitReady();
      });
    }
  }

  /** Waits (bounded) until the worker has loaded koffi, or could not start. */
  private waitReady(): void {
    // Loading koffi takes milliseconds; a worker that failed to start never becomes ready, so
    // the wait is bounded.
    for (let waited = 0; Atomics.load(this.s, 3) === 0 && this.failure === undefined && waited < READY_WAIT_MS; waited += 10) Atomics.wait(this.s, 3, 0, 10);
  }

  /** Why the worker could not start, if it could not (the budget then never fires). */
  failure: Error | undefined;

  /** Starts counting `ms` milliseconds (at least 1). */
  arm(ms: number): void {
    Atomics.store(this.s, 2, Math.max(1, Math.min(0x7fffffff, Math.ceil(ms))));
    Atomics.store(this.s, 0, ARMED);
    Atomics.notify(this.s, 0);
  }

  /** Whether the deadline has passed and the stop was sent (it is not acknowledged: see disarm). */
  fired(): boolean {
    const state = Atomics.load(this.s, 0);
    return state === FIRED || state === FIRING;
  }

  /** Stops counting; returns whether the deadline had already passed and the stop was sent. */
  disarm(): boolean {
    const prev = Atomics.compareExchange(this.s, 0, ARMED, IDLE);
    let fired = false;
    if (prev !== ARMED && prev !== IDLE) {
      // The worker won: wait until its uc_emu_stop call has returned.
      while (Atomics.load(this.s, 0) === FIRING) Atomics.wait(this.s, 0, FIRING, 10);
      Atomics.store(this.s, 0, IDLE);
      fired = true;
    }
    Atomics.add(this.s, 1, 1);
    Atomics.notify(this.s, 1);
    return fired;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.disarm();
    Atomics.store(this.s, 0, QUIT);
    Atomics.notify(this.s, 0);
    this.waitReady();
    live.delete(this);
    void this.worker.terminate();
  }
}
