/** The messages between `run` (library/run.ts) and the worker that runs the guest (library/worker.ts). */
import type { RunOptions } from '../machine/run.js';
import type { RunSummary } from './summary.js';

/** What crosses to the worker: the run's plain options (no callbacks) and the interrupt cell. */
export interface WorkerRequest {
  readonly options: Omit<RunOptions, 'stdout' | 'stderr' | 'stdin' | 'diagnostics' | 'onMarker' | 'interrupted' | 'telemetry' | 'disassembler'>;
  /** Cost-model settings, `cost.<name>=value`. */
  readonly cost: readonly string[];
  /** Which callbacks the caller gave: output the caller did not ask for is not sent. */
  readonly forward: { readonly stdout: boolean; readonly stderr: boolean; readonly diagnostics: boolean };
  /** Int32 cell: 0 running, 1 SIGINT, 2 SIGTERM (set by the caller's AbortSignal). */
  readonly interrupt: SharedArrayBuffer | null;
}

export type WorkerMessage =
  | { readonly kind: 'stdout' | 'stderr'; readonly bytes: Uint8Array }
  | { readonly kind: 'diagnostic'; readonly line: string }
  | { readonly kind: 'done'; readonly summary: RunSummary }
  | { readonly kind: 'error'; readonly name: string; readonly message: string; readonly exitCode?: number };
