/**
 * Chrome/Perfetto trace-event JSON (the "JSON Array/Object Format" that ui.perfetto.dev and
 * chrome://tracing open): `{"displayTimeUnit":"ns","traceEvents":[...],"otherData":{...}}`.
 *
 * - One process (pid 1) with one thread per component (tid = track): engine/fault, mmu/tlb,
 *   walker, pgtable, tlbi (DSBs too), syscalls, markers, checker; named by metadata events.
 * - Events are instants ("i") on their track; with the cycles time base an event that costs
 *   modeled cycles is a complete event ("X") whose duration is that cost.
 * - Counter tracks ("C"): TLB occupancy (entries resident, from the TLB events), contiguous
 *   coverage (bytes of VA covered by resident contiguous entries, from the same events), one
 *   of each per CPU on a machine of several, and the cumulative number of TLBIs.
 * - The last event is `trace_end` (reason, truncated, events, dropped), repeated in otherData.
 *
 * Timestamps are in microseconds as the format requires: with the `seq` base event n is at n µs;
 * with `cycles` the clock advances by each event's modeled cycles at the model's nominal clock.
 */
import type { TraceRecord } from '../events.js';
import { eventName, jsonString, recordFields, trackOf, TRACKS, type Track } from './format.js';
import type { TimeBase } from './options.js';
import { TlbCounterTracks } from './coverage.js';
import { FileTraceSink, type FileSinkOptions, type TraceEnd } from './sink.js';

export interface PerfettoOptions extends FileSinkOptions {
  timeBase?: TimeBase;
  /** The process name shown in the UI (default 'contpte-lab'). */
  processName?: string;
  /** CPUs of the machine: with more than one, each CPU's TLB has its own counter tracks. Default 1. */
  cpus?: number;
}

const PID = 1;

const TID: Readonly<Record<Track, number>> = Object.freeze(Object.fromEntries(TRACKS.map((t, i) => [t, i + 1])) as Record<Track, number>);

export class PerfettoSink extends FileTraceSink {
  private readonly timeBase: TimeBase;
  private readonly processName: string;
  private readonly fieldOpts: { decodePtes: boolean };
  /** Virtual clock in cycles (cycles time base). */
  private cycles = 0;
  private lastTs = 0;
  private tlbis = 0;
  private readonly tlbTracks: TlbCounterTracks;

  constructor(path: string, opts: PerfettoOptions = {}) {
    super(path, opts);
    this.timeBase = opts.timeBase ?? { kind: 'seq' };
    this.processName = opts.processName ?? 'contpte-lab';
    this.tlbTracks = new TlbCounterTracks(opts.cpus ?? 1);
    this.fieldOpts = { decodePtes: this.decodePtes };
    if (this.timeBase.kind === 'cycles' && !(this.timeBase.clockGhz > 0)) {
      throw new RangeError(`PerfettoSink: clockGhz must be positive (got ${this.timeBase.clockGhz})`);
    }
  }

  protected header(): string {
    const meta: string[] = [
      `{"name":"process_name","ph":"M","pid":${PID},"tid":0,"args":{"name":${jsonString(this.processName)}}}`,
      `{"name":"process_sort_index","ph":"M","pid":${PID},"tid":0,"args":{"sort_index":0}}`,
    ];
    for (const t of TRACKS) {
      meta.push(`{"name":"thread_name","ph":"M","pid":${PID},"tid":${TID[t]},"args":{"name":${jsonString(t)}}}`);
      meta.push(`{"name":"thread_sort_index","ph":"M","pid":${PID},"tid":${TID[t]},"args":{"sort_index":${TID[t]}}}`);
    }
    return '{"displayTimeUnit":"ns","traceEvents":[\n' + meta.join(',\n');
  }

  private timeUs(cycles: number): number {
    return this.timeBase.kind === 'cycles' ? cycles / (this.timeBase.clockGhz * 1000) : 0;
  }

  protected format(r: TraceRecord): string {
    let ts: number;
    let dur = 0;
    if (this.timeBase.kind === 'seq') {
      ts = r.seq;
    } else {
      ts = this.timeUs(this.cycles);
      const c = this.timeBase.cyclesOf(r);
      if (c > 0) {
        dur = this.timeUs(c);
        this.cycles += c;
      }
    }
    this.lastTs = ts;
    const tid = TID[trackOf(r.kind)];
    const head = `,\n{"name":${jsonString(eventName(r))},"cat":"${r.kind}",`;
    const when = dur > 0 ? `"ph":"X","ts":${ts},"dur":${dur},` : `"ph":"i","s":"t","ts":${ts},`;
    let out = head + when + `"pid":${PID},"tid":${tid},"args":{"seq":${r.seq},` + recordFields(r, this.fieldOpts, false) + '}}';
    switch (r.kind) {
      case 'tlb_fill':
      case 'tlb_evict':
      case 'tlb_invalidate':
        out += this.tlbTracks.events(r, String(ts), PID);
        break;
      case 'tlbi':
        this.tlbis++;
        out += `,\n{"name":"TLBIs","ph":"C","ts":${ts},"pid":${PID},"args":{"cumulative":${this.tlbis}}}`;
        break;
      default:
        break;
    }
    return out;
  }

  protected footer(end: TraceEnd): string {
    const info =
      `"reason":${jsonString(end.reason)},"truncated":${end.truncated},"events":${end.events},` +
      `"dropped":${end.dropped},"limit":${jsonString(end.limit)}`;
    const timeBase = this.timeBase.kind === 'seq' ? 'seq (event n at n us)' : `cycles (modeled, at ${this.timeBase.clockGhz} GHz)`;
    return (
      `,\n{"name":"trace_end","cat":"trace_end","ph":"i","s":"g","ts":${this.lastTs},"pid":${PID},"tid":${TID.markers},"args":{${info}}}` +
      `\n],"otherData":{"tool":"contpte-lab","time_base":${jsonString(timeBase)},${info}}}\n`
    );
  }
}
