/**
 * Trace sinks: JSON lines and Chrome/Perfetto trace-event JSON, written to a file. A machine
 * opens one with `openTraceSink` from the user's options, attaches it for the kinds it writes
 * (`tracer.attach(sink, sink.kinds)`) and closes the tracer with the end reason whatever happens
 * (`tracer.close('exit' | 'signal' | 'crash' | 'budget' | 'interrupted')`).
 */
import type { EventKind } from '../events.js';
import { JsonlSink } from './jsonl.js';
import type { TimeBase, TraceFormat, TraceLimit } from './options.js';
import { PerfettoSink } from './perfetto.js';
import type { FileTraceSink } from './sink.js';

export * from './options.js';
export * from './sink.js';
export * from './jsonl.js';
export * from './perfetto.js';
export * from './timeline.js';
export { TraceFile, TRACE_BUFFER_BYTES } from './file.js';
export { eventName, trackOf, TRACKS, type Track } from './format.js';

export interface TraceSinkRequest {
  file: string;
  format: TraceFormat;
  kinds?: readonly EventKind[];
  limit?: TraceLimit;
  /** Perfetto only (default seq). */
  timeBase?: TimeBase;
  processName?: string;
  decodePtes?: boolean;
  exitHook?: boolean;
  /** CPUs of the machine (the Perfetto sink's per-CPU TLB tracks). */
  cpus?: number;
}

export function openTraceSink(req: TraceSinkRequest): FileTraceSink {
  const common = {
    ...(req.kinds !== undefined ? { kinds: req.kinds } : {}),
    ...(req.limit !== undefined ? { limit: req.limit } : {}),
    ...(req.decodePtes !== undefined ? { decodePtes: req.decodePtes } : {}),
    ...(req.exitHook !== undefined ? { exitHook: req.exitHook } : {}),
  };
  switch (req.format) {
    case 'jsonl':
      return new JsonlSink(req.file, common);
    case 'perfetto':
      return new PerfettoSink(req.file, {
        ...common,
        ...(req.timeBase !== undefined ? { timeBase: req.timeBase } : {}),
        ...(req.processName !== undefined ? { processName: req.processName } : {}),
        ...(req.cpus !== undefined ? { cpus: req.cpus } : {}),
      });
    default: {
      const never: never = req.format;
      throw new Error(`unknown trace format ${String(never)}`);
    }
  }
}
