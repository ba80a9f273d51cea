/**
 * compare's cases in worker threads of this process instead of one child process each: a pool of
 * at most `size` workers (case-worker.ts), each loading the emulator once and then running cases
 * in turn, so start-up (Node, the modules, koffi and libunicorn) is paid once per worker, not
 * once per case. A case gives the same result as in a child (case-run.ts prints what the child
 * would, runner.ts reads both alike).
 *
 * A case's failure stays the case's: a guest that crashes, a bad ELF, a budget end as a failed
 * result, and a worker that dies (an internal error, V8 out of memory) fails its case only; the
 * next case gets a new worker. A timeout is the run's time budget (the engine's watchdog stops
 * even a guest loop that never calls back into JavaScript) and reads as a killed child; a case
 * that still has not ended GRACE_MS later loses its worker. What threads cannot contain is a
 * native crash of Unicorn itself, which takes the process down (compare therefore holds this
 * pool in a process of its own, pool-process.ts), nor a worker stuck in native code, which Node
 * cannot end: `stuck` counts those, and the pool's process then ends with hardExit
 * (util/hard-exit.ts).
 */
import { Worker } from 'node:worker_threads';
import type { CaseOutput } from './case-run.js';
import { builtModulePath, resultOfOutput, type RunResult, type RunSpec } from './runner.js';

/** What a worker starts with: its interrupt cell (Int32: 0 run, 1 SIGINT, 2 SIGTERM). */
export interface CaseWorkerData {
  readonly interrupt: SharedArrayBuffer;
}

export interface ToCaseWorker {
  readonly id: number;
  readonly spec: RunSpec;
  /** The pool's timeout, as the run's time budget. */
  readonly maxSeconds?: number;
}

export type FromCaseWorker = { readonly kind: 'ready' } | { readonly kind: 'done'; readonly id: number; readonly output: CaseOutput };

/** How long a case may go on after its timeout asked it to stop before its worker is ended. */
const GRACE_MS = 10_000;

/** The worker's module: the compiled one (tests run the pool from src/, against dist/). */
export function caseWorkerPath(): string {
  return builtModulePath('dist/src/report/case-worker.js');
}

interface Pending {
  readonly id: number;
  readonly t0: number;
  readonly resolve: (r: RunResult) => void;
  timedOut: boolean;
  timers: NodeJS.Timeout[];
}

/** One worker thread and the case it is running, if any. */
class Slot {
  readonly worker: Worker;
  readonly cell: Int32Array;
  /** Resolves once the worker has loaded its modules (ending it earlier can abort the process). */
  readonly ready: Promise<void>;
  pending: Pending | null = null;
  dead = false;

  constructor(
    file: string,
    private readonly timeoutSeconds: number | undefined,
    onEnd: (slot: Slot, why: string) => void,
  ) {
    const interrupt = new SharedArrayBuffer(4);
    this.cell = new Int32Array(interrupt);
    this.worker = new Worker(file, { workerData: { interrupt } satisfies CaseWorkerData, stdout: false, stderr: false });
    let markReady!: () => void;
    this.ready = new Promise((r) => (markReady = r));
    this.worker.on('message', (m: FromCaseWorker) => {
      if (m.kind === 'ready') markReady();
      else this.finish(m.id, (p) => (p.timedOut || m.output.outOfTime ? timedOutResult(p, this.timeoutSeconds) : resultOfOutput(m.output.stdout, m.output.stderr, m.output.exitCode, seconds(p))));
    });
    this.worker.on('error', (e) => onEnd(this, e.message));
    this.worker.on('exit', (code) => {
      markReady();
      onEnd(this, `exit code ${code}`);
    });
  }

  /** Ends the case in progress with `result`, once. */
  finish(id: number, result: (p: Pending) => RunResult): void {
    const p = this.pending;
    if (p === null || p.id !== id) return;
    this.pending = null;
    for (const t of p.timers) clearTimeout(t);
    p.resolve(result(p));
  }
}

function seconds(p: Pending): number {
  return (performance.now() - p.t0) / 1000;
}

/** A timed-out case reads as a timed-out child did (runner.ts). */
function timedOutResult(p: Pending, timeoutSeconds: number | undefined): RunResult {
  return { ok: false, error: `killed after ${timeoutSeconds} s`, exitCode: null, seconds: seconds(p), stderr: '' };
}

export interface ThreadPoolOptions {
  /** Stop a case after this many seconds (a failed result, as a killed child). */
  timeoutSeconds?: number;
  /** The worker module (default: the package's compiled one). */
  workerFile?: string;
}

export class CaseThreadPool {
  private readonly slots: Slot[] = [];
  private readonly waiters: ((s: Slot) => void)[] = [];
  private readonly file: string;
  private nextId = 0;
  /** The interrupt value every case gets once compare is stopping (0: not stopping). */
  private stopping = 0;
  private readonly inFlight = new Set<Promise<RunResult>>();
  /** Slots handed to a caller and not yet given back (a slot is busy before its case is posted). */
  private readonly claimed = new Set<Slot>();
  private readonly abandoned = new Set<Slot>();

  constructor(
    private readonly size: number,
    private readonly opts: ThreadPoolOptions = {},
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`CaseThreadPool: size ${size}`);
    this.file = opts.workerFile ?? caseWorkerPath();
  }

  /** How many workers exist now (each started on demand). */
  get threads(): number {
    return this.slots.length;
  }

  /** Runs one case on an idle worker (started if fewer than `size` exist; else waits for one). */
  run(spec: RunSpec): Promise<RunResult> {
    // Once stopping, nothing new starts: a worker busy in a slice would hold up the exit.
    if (this.stopping !== 0) return Promise.resolve({ ok: false, error: 'not run: compare was interrupted', exitCode: null, seconds: 0, stderr: '' });
    const r = this.runOnSlot(spec);
    this.inFlight.add(r);
    void r.finally(() => this.inFlight.delete(r));
    return r;
  }

  private async runOnSlot(spec: RunSpec): Promise<RunResult> {
    const slot = await this.idleSlot();
    const id = this.nextId++;
    // Stopping may have begun while this run waited for a worker: it then stops at once.
    Atomics.store(slot.cell, 0, this.stopping);
    return new Promise<RunResult>((resolve) => {
      const p: Pending = { id, t0: performance.now(), resolve, timedOut: false, timers: [] };
      slot.pending = p;
      if (this.opts.timeoutSeconds !== undefined) {
        const ms = this.opts.timeoutSeconds * 1000;
        p.timers.push(
          setTimeout(() => {
            p.timedOut = true;
            Atomics.store(slot.cell, 0, 2);
            // Not ended GRACE_MS after its time budget: the case fails and its worker is given up.
            p.timers.push(setTimeout(() => this.retire(slot, (q) => timedOutResult(q, this.opts.timeoutSeconds)), GRACE_MS));
          }, ms),
        );
      }
      const limit = this.opts.timeoutSeconds !== undefined ? { maxSeconds: this.opts.timeoutSeconds } : {};
      slot.worker.postMessage({ id, spec, ...limit } satisfies ToCaseWorker);
    }).finally(() => this.release(slot));
  }

  /**
   * compare's SIGINT/SIGTERM: every case in progress is asked to stop at its next time slice, and
   * no other starts. Resolves once they have ended, or after `waitMs`: `settled` says which.
   * A guest loop that never calls back into JavaScript does not see the request (Unicorn 2.0.1
   * ends slices only at system calls and aborts), and Node cannot end its thread: the caller then
   * leaves with hardExit instead of process.exit, which would wait for that thread.
   */
  async stop(signal: 'SIGINT' | 'SIGTERM', waitMs = 2000): Promise<{ stopped: number; settled: boolean }> {
    this.stopping = signal === 'SIGINT' ? 1 : 2;
    const stopped = this.slots.filter((s) => s.pending !== null).length;
    for (const s of this.slots) Atomics.store(s.cell, 0, this.stopping);
    const all = Promise.all([...[...this.inFlight].map((r) => r.then(() => undefined)), ...this.slots.map((s) => s.ready)]).then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([all, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), waitMs)))]);
    clearTimeout(timer);
    return { stopped, settled: settled && this.stuck === 0 };
  }

  /** Workers given up on while still running native code (see the module's comment). */
  get stuck(): number {
    return this.abandoned.size;
  }

  /** Ends every worker (after it has loaded; an idle worker is waiting in its event loop). */
  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    await Promise.all(
      slots.map(async (s) => {
        await s.ready;
        await s.worker.terminate();
      }),
    );
  }

  private async idleSlot(): Promise<Slot> {
    const idle = this.slots.find((s) => s.pending === null && !s.dead && !this.claimed.has(s));
    if (idle !== undefined) {
      this.claimed.add(idle);
      return idle;
    }
    if (this.slots.length < this.size) {
      const s = new Slot(this.file, this.opts.timeoutSeconds, (slot, why) => this.onEnd(slot, why));
      this.slots.push(s);
      this.claimed.add(s);
      return s;
    }
    return new Promise((r) => this.waiters.push(r));
  }

  private release(slot: Slot): void {
    this.claimed.delete(slot);
    if (slot.dead) {
      const next = this.waiters.shift();
      if (next !== undefined) void this.idleSlot().then(next);
      return;
    }
    const next = this.waiters.shift();
    if (next !== undefined) {
      this.claimed.add(slot);
      next(slot);
    }
  }

  /** A worker ended or failed: its case fails, and it is replaced on demand. */
  private onEnd(slot: Slot, why: string): void {
    if (slot.dead) return;
    slot.dead = true;
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    const p = slot.pending;
    if (p !== null) slot.finish(p.id, (q) => ({ ok: false, error: `exit code none: the case's worker thread ended (${why})`, exitCode: null, seconds: seconds(q), stderr: '' }));
  }

  /** Ends a worker whose case will not stop, failing the case with `result`. */
  private retire(slot: Slot, result: (p: Pending) => RunResult): void {
    const p = slot.pending;
    if (p === null) return;
    slot.dead = true;
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    slot.finish(p.id, result);
    this.abandoned.add(slot);
    void slot.ready.then(() => slot.worker.terminate()).then(() => this.abandoned.delete(slot));
  }
}
