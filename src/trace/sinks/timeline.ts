/**
 * Chrome/Perfetto trace-event JSON on the machine's virtual time: what `run --trace-format
 * perfetto` writes by default (`--trace-time virtual`).
 *
 * - Time stamps are the running CPU's virtual CLOCK_MONOTONIC (the scheduler's per-CPU clocks, in
 *   µs with ns precision, as the format wants µs). Within one charge of that clock, each event
 *   advances its CPU's cursor by its own modeled cost (the prices the clock is charged with), so a
 *   TLBI is an "X" slice as long as it costs, and the next event starts after it.
 * - Kernel-model frames (the attribution call stack: handle_mm_fault, do_shared_fault,
 *   finish_fault, set_ptes, contpte_try_fold, contpte_convert, __flush_tlb_range, sys_mprotect...)
 *   are "B"/"E" slices, so a fault's slice contains its set_ptes, fold, contpte_convert and TLBIs.
 *   The fault or syscall record that follows its outermost frame is put on that frame's end: the
 *   slice carries the fault's address, instruction and outcome (or the syscall's arguments).
 * - One track per guest thread (pid and tid are the guest's); with several CPUs, the "machine"
 *   process also has one track per CPU showing which thread it ran when.
 * - Counters under the machine process: cumulative TLBIs, and each CPU's TLB occupancy and
 *   contiguous coverage ("TLB occupancy cpu2"; without the CPU on a one-CPU machine).
 *
 * Nesting is kept per thread: an "E" always closes the same thread's innermost "B", and time never
 * goes back on a track (a thread that moved to a CPU whose clock is behind continues from its own
 * last time stamp).
 */
import type { CallObserver } from '../calls.js';
import type { TraceRecord } from '../events.js';
import { eventName, jsonString, recordFields } from './format.js';
import { TlbCounterTracks } from './coverage.js';
import { FileTraceSink, type FileSinkOptions, type TraceEnd } from './sink.js';

/** Who runs where, and when, at the moment an event happens. */
export interface TraceNow {
  cpu: number;
  pid: number;
  tid: number;
  /** The CPU's virtual clock, ns. */
  ns: number;
}

export interface TraceClock {
  readonly cpus: number;
  now(): TraceNow;
}

export interface TimelineOptions extends FileSinkOptions {
  clock: TraceClock;
  /** Virtual ns an event costs its CPU (0: an instant). */
  nsOf: (r: TraceRecord) => number;
  processName?: string;
}

/** The process holding the CPU tracks and the counters (no guest pid is this large). */
export const MACHINE_PID = 0x7ffffff0;
/** Bytes kept free per open slice, for its "E" in the footer. */
const E_RESERVE = 96;

interface OpenFrame {
  name: string;
  pid: number;
  tid: number;
  cpu: number;
  root: boolean;
  /** Its "B" was refused by the cap: no "E" either. */
  dead: boolean;
}

interface CpuRun {
  pid: number;
  tid: number;
  start: number;
  end: number;
}

/** ns as µs text with ns precision, no float noise. */
export function usText(ns: number): string {
  const n = Math.round(ns);
  const us = Math.floor(n / 1000);
  const frac = n - us * 1000;
  return frac === 0 ? String(us) : `${us}.${String(frac).padStart(3, '0').replace(/0+$/, '')}`;
}

export class TimelineSink extends FileTraceSink implements CallObserver {
  private readonly clock: TraceClock;
  private readonly nsOf: (r: TraceRecord) => number;
  private readonly processName: string;
  /** Per CPU: where its next event starts (ns). */
  private readonly cursor: number[];
  /** Per thread ("pid:tid"): its last time stamp, and whether its names were written. */
  private readonly threadLast = new Map<string, number>();
  private readonly frames: OpenFrame[] = [];
  /** The outermost frame's end, held until the next event says whether it was a fault or syscall. */
  private pendingRoot: (OpenFrame & { ts: number }) | null = null;
  private readonly runs: (CpuRun | null)[];
  private readonly namedPids = new Set<number>();
  private lastTs = 0;
  private tlbis = 0;
  private readonly tlbTracks: TlbCounterTracks;

  constructor(path: string, opts: TimelineOptions) {
    super(path, opts);
    this.clock = opts.clock;
    this.nsOf = opts.nsOf;
    this.processName = opts.processName ?? 'contpte-lab';
    this.cursor = Array<number>(opts.clock.cpus).fill(0);
    this.runs = Array<CpuRun | null>(opts.clock.cpus).fill(null);
    this.tlbTracks = new TlbCounterTracks(opts.clock.cpus);
  }

  protected header(): string {
    const meta = [
      `{"name":"process_name","ph":"M","pid":${MACHINE_PID},"tid":0,"args":{"name":${jsonString(`machine (${this.clock.cpus} CPU${this.clock.cpus === 1 ? '' : 's'})`)}}}`,
      `{"name":"process_sort_index","ph":"M","pid":${MACHINE_PID},"tid":0,"args":{"sort_index":-1}}`,
    ];
    if (this.clock.cpus > 1) {
      for (let c = 0; c < this.clock.cpus; c++) {
        meta.push(`{"name":"thread_name","ph":"M","pid":${MACHINE_PID},"tid":${c + 1},"args":{"name":"cpu${c}"}}`);
        meta.push(`{"name":"thread_sort_index","ph":"M","pid":${MACHINE_PID},"tid":${c + 1},"args":{"sort_index":${c}}}`);
      }
    }
    return '{"displayTimeUnit":"ns","traceEvents":[\n' + meta.join(',\n');
  }

  protected override closingReserve(): number {
    return E_RESERVE * (this.frames.length + 1) + E_RESERVE * this.clock.cpus;
  }

  /** The time stamp of an event now on `n`'s CPU and thread: never before either's last one. */
  private stamp(n: TraceNow): { ts: number; names: string } {
    const key = `${n.pid}:${n.tid}`;
    const last = this.threadLast.get(key);
    let names = '';
    if (last === undefined) names = this.threadNames(n.pid, n.tid);
    const ts = Math.max(this.cursor[n.cpu] ?? 0, n.ns, last ?? 0);
    this.cursor[n.cpu] = ts;
    this.threadLast.set(key, ts);
    return { ts, names };
  }

  /** Metadata naming a thread (and its process, the first time) when it first appears. */
  private threadNames(pid: number, tid: number): string {
    let out = '';
    if (!this.namedPids.has(pid)) {
      this.namedPids.add(pid);
      out += `,\n{"name":"process_name","ph":"M","pid":${pid},"tid":0,"args":{"name":${jsonString(`${this.processName} [${pid}]`)}}}`;
    }
    out += `,\n{"name":"thread_name","ph":"M","pid":${pid},"tid":${tid},"args":{"name":"tid ${tid}"}}`;
    return out;
  }

  /** Ends `at` on thread (pid, tid): the thread, and its CPU's cursor, move there. */
  private advance(n: { cpu: number; pid: number; tid: number }, at: number): void {
    if (at > (this.cursor[n.cpu] ?? 0)) this.cursor[n.cpu] = at;
    const key = `${n.pid}:${n.tid}`;
    if (at > (this.threadLast.get(key) ?? 0)) this.threadLast.set(key, at);
    if (at > this.lastTs) this.lastTs = at;
  }

  /** The CPU track: consecutive events of one thread on a CPU make one slice. */
  private cpuRun(n: TraceNow, start: number, end: number): string {
    if (this.clock.cpus < 2) return '';
    const run = this.runs[n.cpu];
    if (run !== null && run !== undefined && run.pid === n.pid && run.tid === n.tid) {
      if (end > run.end) run.end = end;
      return '';
    }
    this.runs[n.cpu] = { pid: n.pid, tid: n.tid, start, end };
    return run === null || run === undefined ? '' : this.runSlice(n.cpu, run);
  }

  private runSlice(cpu: number, run: CpuRun): string {
    return `,\n{"name":"tid ${run.tid}","cat":"cpu","ph":"X","ts":${usText(run.start)},"dur":${usText(run.end - run.start)},"pid":${MACHINE_PID},"tid":${cpu + 1},"args":{"pid":${run.pid},"tid":${run.tid}}}`;
  }

  private endText(f: { pid: number; tid: number }, ts: number, args = ''): string {
    return `,\n{"ph":"E","ts":${usText(ts)},"pid":${f.pid},"tid":${f.tid}${args}}`;
  }

  /** Writes the held end of the last outermost frame (it was neither a fault nor a syscall). */
  private flushPending(): void {
    const p = this.pendingRoot;
    if (p !== null && this.writeRaw(this.endText(p, p.ts))) this.pendingRoot = null;
  }

  enterFrame(name: string): void {
    this.flushPending();
    const n = this.clock.now();
    const { ts, names } = this.stamp(n);
    const root = this.frames.length === 0;
    const f: OpenFrame = { name, pid: n.pid, tid: n.tid, cpu: n.cpu, root, dead: false };
    const args = root ? `,"args":{"cpu":${n.cpu}}` : '';
    const text = `${names},\n{"name":${jsonString(name)},"cat":"kernel","ph":"B","ts":${usText(ts)},"pid":${n.pid},"tid":${n.tid}${args}}`;
    // A frame whose begin was refused (the cap) is still tracked, so leaves stay paired.
    this.frames.push(f);
    if (this.writeRaw(text + this.cpuRun(n, ts, ts))) this.advance(n, ts);
    else f.dead = true;
  }

  leaveFrame(): void {
    const f = this.frames.pop();
    if (f === undefined || f.dead) return;
    const n = this.clock.now();
    const ts = Math.max(this.cursor[f.cpu] ?? 0, this.threadLast.get(`${f.pid}:${f.tid}`) ?? 0, n.cpu === f.cpu ? n.ns : 0);
    this.advance(f, ts);
    if (f.root) {
      this.pendingRoot = { ...f, ts };
      return;
    }
    if (!this.writeRaw(this.endText(f, ts))) this.unclosed.push({ ...f, ts });
  }

  /** Slices whose "E" the cap refused, innermost first: the footer ends them. */
  private readonly unclosed: (OpenFrame & { ts: number })[] = [];

  /** Whether `r` is what the pending outermost frame did (the record the machine emits after it). */
  private completes(r: TraceRecord): boolean {
    const p = this.pendingRoot;
    if (p === null) return false;
    if (r.kind === 'fault') return p.name === 'do_page_fault' || p.name === 'handle_mm_fault';
    if (r.kind === 'syscall') return p.name === `sys_${r.name}`;
    return false;
  }

  protected format(r: TraceRecord): string {
    const n = this.clock.now();
    const cost = Math.max(0, Math.round(this.nsOf(r)));
    const fields = `"args":{"seq":${r.seq},` + recordFields(r, { decodePtes: this.decodePtes }, false) + '}';
    let out: string;
    if (this.completes(r)) {
      const p = this.pendingRoot!;
      this.pendingRoot = null;
      this.merged = p;
      const end = p.ts + cost;
      this.advance(p, end);
      // The slice's name stays the frame's; its end adds what happened (Perfetto merges E args).
      out = `,\n{"ph":"E","ts":${usText(end)},"pid":${p.pid},"tid":${p.tid},"cat":"${r.kind}",${fields}}` + this.cpuRun(n, p.ts, end);
    } else {
      this.merged = null;
      this.flushPending();
      const { ts, names } = this.stamp(n);
      const head = `${names},\n{"name":${jsonString(eventName(r))},"cat":"${r.kind}",`;
      const when = cost > 0 ? `"ph":"X","ts":${usText(ts)},"dur":${usText(cost)},` : `"ph":"i","s":"t","ts":${usText(ts)},`;
      out = head + when + `"pid":${n.pid},"tid":${n.tid},` + fields + '}';
      this.advance(n, ts + cost);
      out += this.cpuRun(n, ts, ts + cost);
    }
    return out + this.counters(r);
  }

  private counters(r: TraceRecord): string {
    const ts = usText(this.lastTs);
    switch (r.kind) {
      case 'tlb_fill':
      case 'tlb_evict':
      case 'tlb_invalidate':
        return this.tlbTracks.events(r, ts, MACHINE_PID);
      case 'tlbi':
        this.tlbis++;
        return `,\n{"name":"TLBIs","ph":"C","ts":${ts},"pid":${MACHINE_PID},"args":{"cumulative":${this.tlbis}}}`;
      default:
        return '';
    }
  }

  /** The outermost frame whose end the last record was to write: held again if it was refused. */
  private merged: (OpenFrame & { ts: number }) | null = null;

  protected override refused(): void {
    if (this.merged !== null) this.pendingRoot = this.merged;
    this.merged = null;
  }

  protected footer(end: TraceEnd): string {
    // Slices still open (a run that ended inside the kernel model, or a capped trace) end here.
    const endTs = Math.max(this.lastTs, ...this.cursor);
    let out = '';
    for (const f of this.unclosed) out += this.endText(f, f.ts);
    this.unclosed.length = 0;
    const p = this.pendingRoot;
    if (p !== null) out += this.endText(p, p.ts);
    this.pendingRoot = null;
    while (this.frames.length > 0) {
      const f = this.frames.pop()!;
      if (!f.dead) out += this.endText(f, endTs);
    }
    for (let c = 0; c < this.runs.length; c++) {
      const run = this.runs[c];
      if (run !== null && run !== undefined) out += this.runSlice(c, run);
      this.runs[c] = null;
    }
    const info =
      `"reason":${jsonString(end.reason)},"truncated":${end.truncated},"events":${end.events},` +
      `"dropped":${end.dropped},"limit":${jsonString(end.limit)}`;
    return (
      out +
      `,\n{"name":"trace_end","cat":"trace_end","ph":"i","s":"g","ts":${usText(endTs)},"pid":${MACHINE_PID},"tid":0,"args":{${info}}}` +
      `\n],"otherData":{"tool":"contpte-lab","time_base":"virtual (CLOCK_MONOTONIC of the modeled CPUs, us)",${info}}}\n`
    );
  }
}
