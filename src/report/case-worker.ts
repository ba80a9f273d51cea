/**
 * A worker thread of compare's pool (threads.ts): loads the emulator once, then runs the cases it
 * is sent one after another, each on a machine of its own that is closed (its guest memory
 * unmapped, its Unicorn instance freed) before the next begins. The interrupt cell is the pool's
 * way to stop the case in progress (a timeout, compare's own SIGINT/SIGTERM).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runCaseHere } from './case-run.js';
import type { CaseWorkerData, FromCaseWorker, ToCaseWorker } from './threads.js';

const port = parentPort!;
const cell = new Int32Array((workerData as CaseWorkerData).interrupt);
const SIGNALS = [null, 'SIGINT', 'SIGTERM'] as const;
const post = (m: FromCaseWorker): void => port.postMessage(m);

port.on('message', (m: ToCaseWorker) => {
  const limits = m.maxSeconds !== undefined ? { maxSeconds: m.maxSeconds } : {};
  void runCaseHere(m.spec, () => SIGNALS[Atomics.load(cell, 0)] ?? null, limits).then((output) => post({ kind: 'done', id: m.id, output }));
});
// Every module, koffi's addon included, is loaded by now: the pool may end this thread safely.
post({ kind: 'ready' });
