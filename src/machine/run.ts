/**
 * `runMachine`: `contpte-lab run` on the calling thread. Runs a static arm64 ELF on a new machine
 * and returns the summary's object with how the run ended. The CLI and the library's worker
 * (src/library) call it; the package exports it for scripts that need the Machine (onMarker).
 */
import type { Summary } from '../report/summary.js';
import { Disassembler } from '../trace/disasm.js';
import type { EventKind } from '../trace/events.js';
import { defaultCostParams, eventCycles } from '../report/cost.js';
import { openTraceSink, type TraceFormat, type TraceLimit, type TraceTime } from '../trace/sinks/index.js';
import { TimelineSink } from '../trace/sinks/timeline.js';
import { eventNs } from './clock-cost.js';
import type { FileTraceSink } from '../trace/sinks/sink.js';
import { Telemetry } from '../trace/telemetry.js';
import { Machine, type MachineOptions, type RunEnd } from './machine.js';

export interface TraceRequest {
  file: string;
  format?: TraceFormat;
  /** Event kinds to record (all when omitted). */
  events?: readonly EventKind[];
  limit?: TraceLimit;
  /**
   * The Perfetto time axis: `virtual` (default) the modeled CPUs' clocks with kernel frames as
   * slices; `cycles` one clock advanced by each event's modeled cycles; `seq` event n at n µs.
   */
  time?: TraceTime;
}

export interface RunOptions extends Omit<MachineOptions, 'telemetry' | 'disassembler'> {
  trace?: TraceRequest;
  /**
   * Asked between time slices: a signal name stops the guest there and ends the run as
   * 'interrupted' (partial counts, the trace closed as interrupted). Without it the run never
   * returns to the event loop until the guest ends.
   */
  interrupted?: () => 'SIGINT' | 'SIGTERM' | null;
  /** Called between time slices (with `interrupted`): faults so far and virtual ns since boot. */
  progress?: (p: { faults: number; virtualNs: number }) => void;
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
      const format = opts.trace.format ?? 'jsonl';
      const time = opts.trace.time ?? 'virtual';
      const common = {
        ...(opts.trace.events !== undefined ? { kinds: opts.trace.events } : {}),
        ...(opts.trace.limit !== undefined ? { limit: opts.trace.limit } : {}),
        processName: opts.elf,
        exitHook: true,
      };
      if (format === 'perfetto' && time === 'virtual') {
        const clock = machine.traceClock();
        const timeline = new TimelineSink(opts.trace.file, { ...common, clock, nsOf: eventNs(clock.cpus) });
        telemetry.calls.observer = timeline;
        sink = timeline;
      } else {
        const p = defaultCostParams();
        sink = openTraceSink({
          file: opts.trace.file,
          format,
          ...common,
          ...(format === 'perfetto' && time === 'cycles' ? { timeBase: { kind: 'cycles' as const, cyclesOf: eventCycles(p), clockGhz: p.clock_ghz } } : {}),
          cpus: machine.traceClock().cpus,
        });
      }
      telemetry.tracer.attach(sink, opts.trace.events);
    }
    const m = machine;
    const progress = opts.progress;
    const interrupted = opts.interrupted;
    const poll = interrupted !== undefined && progress !== undefined ? () => (progress(m.progress()), interrupted()) : interrupted;
    const end = poll !== undefined ? await machine.runInterruptible(poll) : machine.run();
    endReason = end.reason;
    return { summary: machine.summary(end), end };
  } catch (e) {
    endReason = 'crash';
    throw e;
  } finally {
    machine?.close();
    telemetry.calls.observer = null;
    // Whatever happened, the trace file is left complete and says why it ended.
    telemetry.tracer.close(endReason);
  }
}

/** Runs the program and returns the JSON summary's object. */
export async function run(opts: RunOptions): Promise<Summary> {
  return (await runMachine(opts)).summary;
}
