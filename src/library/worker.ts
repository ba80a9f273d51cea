/**
 * The worker thread of the library's `run`: the guest runs here, so the caller's event loop keeps
 * turning (emulation is synchronous native code between the machine's hooks). Output and
 * diagnostics are posted as they come; the summary, with its cost, at the end.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runMachine } from '../machine/run.js';
import { checkCostParams, costParamsWith, summaryWithCost } from '../report/cost.js';
import type { WorkerMessage, WorkerRequest } from './protocol.js';

const port = parentPort!;
const req = workerData as WorkerRequest;
const post = (m: WorkerMessage): void => port.postMessage(m);
const SIGNALS = [null, 'SIGINT', 'SIGTERM'] as const;

async function main(): Promise<void> {
  try {
    // Checked before the run, as the CLI does: a bad cost setting costs no emulation.
    const params = checkCostParams(costParamsWith(req.cost));
    const cell = req.interrupt === null ? null : new Int32Array(req.interrupt);
    const { summary } = await runMachine({
      ...req.options,
      // The guest's bytes may be a view of its memory: copied before they leave.
      // Without a callback the machine writes to this thread's stdout/stderr, which Node passes on
      // to the process's.
      ...(req.forward.stdout ? { stdout: (b: Uint8Array) => post({ kind: 'stdout', bytes: b.slice() }) } : {}),
      ...(req.forward.stderr ? { stderr: (b: Uint8Array) => post({ kind: 'stderr', bytes: b.slice() }) } : {}),
      ...(req.forward.diagnostics ? { diagnostics: (line: string) => post({ kind: 'diagnostic', line }) } : {}),
      ...(cell !== null ? { interrupted: () => SIGNALS[Atomics.load(cell, 0)] ?? null } : {}),
    });
    post({ kind: 'done', summary: summaryWithCost(summary, params) });
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const exitCode = (err as { exitCode?: unknown }).exitCode;
    post({ kind: 'error', name: err.name, message: err.message, ...(typeof exitCode === 'number' ? { exitCode } : {}) });
  }
}

void main();
