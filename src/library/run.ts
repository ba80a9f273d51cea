/**
 * The library's `run`: a static arm64 ELF on a new machine, in a worker thread, resolving to the
 * JSON summary with its modeled cost (what `contpte-lab run --json` prints). The caller's event
 * loop keeps running meanwhile (timers, servers, other runs). Knob and profile names are typed.
 *
 *   import { run, firmwarePath } from 'contpte-lab';
 *   const s = await run({ elf: firmwarePath('page_fault3'), args: ['16M', '2'], profile: 'linux-6.9',
 *                         set: { file_large_folios: true, cpus: 4 } });
 *   console.log(s.counts.tlbi.by_op, s.cost.cycles_per_op);
 *
 * `runMachine` (machine/run.ts) is the same run on the calling thread, for scripts that need the
 * Machine itself (onMarker) and accept that it blocks.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { RunOptions, TraceRequest } from '../machine/run.js';
import { partitionSets } from '../report/cost.js';
import { LabError, UsageError, EnvironmentError } from '../util/errors.js';
import { type CostSettings, type KnobSettings, type ProfileName, costSets, knobSets } from './knobs.js';
import { resolveElf } from './package.js';
import type { WorkerMessage, WorkerRequest } from './protocol.js';
import type { RunSummary } from './summary.js';

export interface RunRequest {
  /** The program: a host path, or a path inside the package (`firmware/bin/page_fault3`); see firmwarePath. */
  elf: string;
  args?: readonly string[];
  /** The guest's argv[0] (default: `elf` as given). */
  argv0?: string;
  /** "NAME=value" strings (default: none). */
  env?: readonly string[];
  profile?: ProfileName;
  /** Knob values by name (typed); applied after `sets`. */
  set?: KnobSettings;
  /** Knob overrides as `--set` takes them ("knob=value", and "cost.<param>=value"). */
  sets?: readonly string[];
  /** Cost-model parameters by name. */
  cost?: CostSettings;
  maxInsns?: number;
  maxSeconds?: number;
  strict?: boolean;
  seed?: number;
  uid?: number;
  sysroot?: string;
  trace?: TraceRequest;
  /** Where the guest's stdout and stderr go (default: this process's). */
  stdout?: (bytes: Uint8Array) => void;
  stderr?: (bytes: Uint8Array) => void;
  /** The tool's one-line diagnostics (default: this process's stderr). */
  diagnostics?: (line: string) => void;
  /**
   * Aborting stops the guest at its next system call or fault (at most every 100 ms of guest
   * time): the run resolves with the summary so far, `end.reason` 'interrupted'.
   */
  signal?: AbortSignal;
}

/** The worker's module: next to this one in dist/, or dist's when this module runs from src/ (tests). */
function workerUrl(): URL {
  const here = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const built = new URL('../../dist/src/library/worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new EnvironmentError(`contpte-lab: the run worker ${fileURLToPath(here)} is missing (build with 'npm run build')`);
}

function rebuildError(m: Extract<WorkerMessage, { kind: 'error' }>): Error {
  switch (m.name) {
    case 'UsageError':
      return new UsageError(m.message, m.exitCode);
    case 'EnvironmentError':
      return new EnvironmentError(m.message, m.exitCode);
    case 'LabError':
      return new LabError(m.message, m.exitCode);
    default: {
      const e = new Error(m.message);
      e.name = m.name;
      return e;
    }
  }
}

/** Runs the program in a worker thread; resolves to the summary with its cost. */
export function run(req: RunRequest): Promise<RunSummary> {
  const { knobs, cost } = partitionSets([...(req.sets ?? []), ...knobSets(req.set)]);
  const options: WorkerRequest['options'] = {
    elf: resolveElf(req.elf),
    argv0: req.argv0 ?? req.elf,
    ...(req.args !== undefined ? { args: [...req.args] } : {}),
    ...(req.env !== undefined ? { env: [...req.env] } : {}),
    ...(req.profile !== undefined ? { profile: req.profile } : {}),
    sets: knobs,
    ...(req.maxInsns !== undefined ? { maxInsns: req.maxInsns } : {}),
    ...(req.maxSeconds !== undefined ? { maxSeconds: req.maxSeconds } : {}),
    ...(req.strict !== undefined ? { strict: req.strict } : {}),
    ...(req.seed !== undefined ? { seed: req.seed } : {}),
    ...(req.uid !== undefined ? { uid: req.uid } : {}),
    ...(req.sysroot !== undefined ? { sysroot: req.sysroot } : {}),
    ...(req.trace !== undefined ? { trace: req.trace } : {}),
  } satisfies Omit<RunOptions, 'stdout'>;
  const interrupt = req.signal !== undefined ? new SharedArrayBuffer(4) : null;
  const workerData: WorkerRequest = {
    options,
    cost: [...cost, ...costSets(req.cost)],
    forward: { stdout: req.stdout !== undefined, stderr: req.stderr !== undefined, diagnostics: req.diagnostics !== undefined },
    interrupt,
  };
  return new Promise<RunSummary>((resolvePromise, reject) => {
    let settled = false;
    const worker = new Worker(workerUrl(), { workerData });
    const onAbort = (): void => {
      if (interrupt !== null) Atomics.store(new Int32Array(interrupt), 0, 1);
    };
    if (req.signal?.aborted === true) onAbort();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (f: () => void): void => {
      if (settled) return;
      settled = true;
      req.signal?.removeEventListener('abort', onAbort);
      f();
    };
    worker.on('message', (m: WorkerMessage) => {
      switch (m.kind) {
        case 'stdout':
          req.stdout?.(m.bytes);
          break;
        case 'stderr':
          req.stderr?.(m.bytes);
          break;
        case 'diagnostic':
          req.diagnostics?.(m.line);
          break;
        case 'done':
          finish(() => resolvePromise(m.summary));
          break;
        case 'error':
          finish(() => reject(rebuildError(m)));
          break;
      }
    });
    worker.on('error', (e) => finish(() => reject(e)));
    worker.on('exit', (code) => finish(() => reject(new Error(`contpte-lab: the run's worker thread ended (exit code ${code}) without a result`))));
  });
}
