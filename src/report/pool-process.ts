/**
 * compare's thread pool (threads.ts) in a process of its own (pool-host.ts), so that what threads
 * cannot contain stays out of compare: a native crash inside Unicorn ends every thread of its
 * process, and with the pool inside compare it ended compare and every case's result with it.
 * Here it ends the pool's process; the cases that were in progress there come back as `lost`, and
 * compare runs each of them again in a child of its own (the --isolate way), where the one that
 * crashed fails alone and the others give the results they would have given. Start-up is paid
 * once more per comparison (one process), not per case.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { builtModulePath, type RunResult, type RunSpec } from './runner.js';
import type { ThreadPoolOptions } from './threads.js';

/** A case the pool's process took with it when it ended (a native crash): to be run again alone. */
export interface LostCase {
  readonly lost: string;
}

export type ToPoolHost =
  | { readonly kind: 'init'; readonly size: number; readonly options: ThreadPoolOptions }
  | { readonly kind: 'run'; readonly id: number; readonly spec: RunSpec }
  | { readonly kind: 'stop'; readonly signal: 'SIGINT' | 'SIGTERM'; readonly waitMs: number }
  | { readonly kind: 'close' };

export type FromPoolHost =
  | { readonly kind: 'done'; readonly id: number; readonly result: RunResult }
  | { readonly kind: 'stopped'; readonly stopped: number; readonly settled: boolean };

/** The host's module: the compiled one (tests run the pool from src/, against dist/). */
export function poolHostPath(): string {
  return builtModulePath('dist/src/report/pool-host.js');
}

/** One pool process and the cases sent to it that have not come back. */
interface Host {
  readonly child: ChildProcess;
  readonly pending: Map<number, (r: RunResult | LostCase) => void>;
  ended: boolean;
  onStopped: ((m: { stopped: number; settled: boolean }) => void) | null;
}

export interface ProcessPoolOptions extends ThreadPoolOptions {
  /** The host module (default: the package's compiled pool-host.js). */
  hostFile?: string;
}

export class CaseProcessPool {
  private host: Host | null = null;
  private nextId = 0;
  private stopping = false;

  constructor(
    private readonly size: number,
    private readonly opts: ProcessPoolOptions = {},
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`CaseProcessPool: size ${size}`);
  }

  /** Runs one case in the pool's process (started, or started again after a crash, on demand). */
  run(spec: RunSpec): Promise<RunResult | LostCase> {
    if (this.stopping) return Promise.resolve({ ok: false, error: 'not run: compare was interrupted', exitCode: null, seconds: 0, stderr: '' });
    const host = this.liveHost();
    const id = this.nextId++;
    return new Promise((resolve) => {
      host.pending.set(id, resolve);
      host.child.send({ kind: 'run', id, spec } satisfies ToPoolHost);
    });
  }

  /**
   * compare's SIGINT/SIGTERM, passed on as threads.ts's `stop`: the host stops its cases and says
   * whether they all ended within `waitMs`. A host that does not answer in time, or answers that
   * a thread is stuck in native code, is killed (compare then leaves without a table).
   */
  async stop(signal: 'SIGINT' | 'SIGTERM', waitMs = 2000): Promise<{ stopped: number; settled: boolean }> {
    this.stopping = true;
    const host = this.host;
    if (host === null || host.ended) return { stopped: 0, settled: true };
    const answer = new Promise<{ stopped: number; settled: boolean }>((resolve) => (host.onStopped = resolve));
    host.child.send({ kind: 'stop', signal, waitMs } satisfies ToPoolHost);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), waitMs + 1000)));
    const r = await Promise.race([answer, late]);
    clearTimeout(timer);
    if (r === null || !r.settled) host.child.kill('SIGKILL');
    return r ?? { stopped: host.pending.size, settled: false };
  }

  /** Threads stuck in native code are the host's to end (it leaves with _exit): none here. */
  get stuck(): number {
    return 0;
  }

  /** Ends the pool's process (it closes its threads first). */
  async close(): Promise<void> {
    const host = this.host;
    this.host = null;
    if (host === null || host.ended) return;
    const exited = new Promise<void>((resolve) => host.child.once('exit', () => resolve()));
    host.child.send({ kind: 'close' } satisfies ToPoolHost);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 10_000)))]);
    clearTimeout(timer);
    if (!host.ended) host.child.kill('SIGKILL');
  }

  private liveHost(): Host {
    if (this.host !== null && !this.host.ended) return this.host;
    // Not bound to compare's terminal signals: a Ctrl-C reaches the whole process group, and
    // compare passes it on itself (stop).
    // Its command line names the process it works for (ps, pgrep).
    const child = fork(this.opts.hostFile ?? poolHostPath(), ['--for-pid', String(process.pid)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    const host: Host = { child, pending: new Map(), ended: false, onStopped: null };
    child.on('message', (m: FromPoolHost) => {
      if (m.kind === 'done') {
        const resolve = host.pending.get(m.id);
        host.pending.delete(m.id);
        resolve?.(m.result);
      } else {
        host.onStopped?.({ stopped: m.stopped, settled: m.settled });
      }
    });
    // A send to a process that has just died fails here; its cases come back through 'exit'.
    child.on('error', () => undefined);
    child.on('exit', (code, signal) => {
      host.ended = true;
      if (this.host === host) this.host = null;
      const why = signal !== null ? `signal ${signal}` : `exit code ${code}`;
      for (const resolve of host.pending.values()) resolve({ lost: `the pool's process ended (${why})` });
      host.pending.clear();
      host.onStopped?.({ stopped: 0, settled: false });
    });
    const { hostFile: _hostFile, ...options } = this.opts;
    child.send({ kind: 'init', size: this.size, options } satisfies ToPoolHost);
    this.host = host;
    return host;
  }
}

/** Whether a pool's answer is a case lost with its process. */
export function isLost(r: RunResult | LostCase): r is LostCase {
  return 'lost' in r;
}
