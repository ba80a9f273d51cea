/**
 * `runMachine`: `contpte-lab run` on the calling thread. Runs a static arm64 ELF on a new machine
 * and returns the summary's object with how the run ended. The CLI and the library's worker
 * (src/library) call it; the package exports it for scripts that need the Machine (onMarker).
 */
import type { Summary } from '../report/summary.js';
import { Disassembler } from '../trace/disasm.js';
import type { EventKind } from '../trace/events.js';
import { openTraceSink, type TraceFormat, type TraceLimit } from '../trace/sinks/index.js';
import type { FileTraceSink } from '../trace/sinks/sink.js';
import { Telemetry } from '../trace/telemetry.js';
import { Machine, type MachineOptions, type RunEnd } from './machine.js';

export interface TraceRequest {
  file: string;
  format?: TraceFormat;
  /** Event kinds to record (all when omitted). */
  events?: readonly EventKind[];
  limit?: TraceLimit;
}

export interface RunOptions extends Omit<MachineOptions, 'telemetry' | 'disassembler'> {
  trace?: TraceRequest;
  /**
   * Asked between time slices: a signal name stops the guest there and ends the run as
   * 'interrupted' (partial counts, the trace closed as interrupted). Without it the run never
   * returns to the event loop until the guest ends.
   */
  interrupted?: () => 'SIGINT' | 'SIGTERM' | null;
}

export interface RunOutcome {
  summary: Summary;
  end: RunEnd;
}

let disassembler: Promise<Disassembler> | undefined;
let lazyDisassembler: Disassembler | undefined;

/**
 * Capstone is WebAssembly: compiled once per process, shared by every machine. A traced run
 * disassembles every fault's instruction, so it loads capstone before starting; any other run
 * needs it only for a crash message and gets the lazy one (same texts, loaded on first use).
 */
function sharedDisassembler(traced: boolean): Promise<Disassembler> {
  if (!traced) return Promise.resolve((lazyDisassembler ??= Disassembler.lazy()));
  disassembler ??= Disassembler.create();
  return disassembler;
}

/** Runs the program and returns the summary with how the run ended. */
export async function runMachine(opts: RunOptions): Promise<RunOutcome> {
  const telemetry = new Telemetry();
  const dis = await sharedDisassembler(opts.trace !== undefined);
  let sink: FileTraceSink | null = null;
  let machine: Machine | undefined;
  let endReason = 'abort';
  try {
    machine = new Machine({ ...opts, ...(opts.interrupted !== undefined ? { sliceMs: opts.sliceMs ?? 100 } : {}), telemetry, disassembler: dis });
    if (opts.trace) {
      sink = openTraceSink({
        file: opts.trace.file,
        format: opts.trace.format ?? 'jsonl',
        ...(opts.trace.events !== undefined ? { kinds: opts.trace.events } : {}),
        ...(opts.trace.limit !== undefined ? { limit: opts.trace.limit } : {}),
        processName: opts.elf,
        exitHook: true,
      });
      telemetry.tracer.attach(sink, opts.trace.events);
    }
    const end = opts.interrupted !== undefined ? await machine.runInterruptible(opts.interrupted) : machine.run();
    endReason = end.reason;
    return { summary: machine.summary(end), end };
  } catch (e) {
    endReason = 'crash';
    throw e;
  } finally {
    machine?.close();
    // Whatever happened, the trace file is left complete and says why it ended.
    telemetry.tracer.close(endReason);
  }
}

/** Runs the program and returns the JSON summary's object. */
export async function run(opts: RunOptions): Promise<Summary> {
  return (await runMachine(opts)).summary;
}
