/**
 * What both file sinks share: the kind filter, the size cap with its truncation record, and a
 * close that always leaves a valid file (it writes the closing record, whatever the reason; it is
 * idempotent; it tolerates an earlier write error; and an exit hook closes a trace the program
 * forgot to close, so even an uncaught error leaves valid JSON behind).
 */
import { EVENT_KINDS, type EventKind, type TraceRecord } from '../events.js';
import type { TraceSink } from '../tracer.js';
import { TraceFile } from './file.js';
import { TRACE_END_RESERVE, type TraceLimit } from './options.js';

export interface FileSinkOptions {
  /** Kinds written (default all). Attach the sink with the same list: `tracer.attach(sink, sink.kinds)`. */
  kinds?: readonly EventKind[];
  limit?: TraceLimit;
  /** Decode the old and new descriptor of PTE writes (default true). */
  decodePtes?: boolean;
  /** Close the trace from process 'exit' if nobody did (default true). */
  exitHook?: boolean;
}

/** What the last record of every trace says. */
export interface TraceEnd {
  reason: string;
  truncated: boolean;
  /** Events written, and events dropped after the cap was reached. */
  events: number;
  dropped: number;
  /** The cap, as the user gave it: '100MB' style text, or 'none'. */
  limit: string;
}

export function describeLimit(l: TraceLimit): string {
  switch (l.kind) {
    case 'none':
      return 'none';
    case 'bytes':
      return `${l.bytes} bytes`;
    case 'events':
      return `${l.events} events`;
    default: {
      const never: never = l;
      throw new Error(`unknown limit ${JSON.stringify(never)}`);
    }
  }
}

export abstract class FileTraceSink implements TraceSink {
  readonly kinds: readonly EventKind[];
  readonly limit: TraceLimit;
  protected readonly decodePtes: boolean;
  protected readonly file: TraceFile;
  private readonly want: Record<EventKind, boolean>;
  private started = false;
  private closedWith: TraceEnd | null = null;
  private failed = false;
  private eventsWritten = 0;
  private eventsDropped = 0;
  private readonly onExit: (() => void) | null;

  constructor(path: string, opts: FileSinkOptions = {}) {
    this.kinds = opts.kinds ?? EVENT_KINDS;
    this.limit = opts.limit ?? { kind: 'none' };
    this.decodePtes = opts.decodePtes ?? true;
    this.want = Object.fromEntries(EVENT_KINDS.map((k) => [k, false])) as Record<EventKind, boolean>;
    for (const k of this.kinds) this.want[k] = true;
    this.file = new TraceFile(path);
    if (opts.exitHook ?? true) {
      this.onExit = () => this.close({ reason: 'abort' });
      process.once('exit', this.onExit);
    } else {
      this.onExit = null;
    }
  }

  get path(): string {
    return this.file.path;
  }

  get events(): number {
    return this.eventsWritten;
  }

  get dropped(): number {
    return this.eventsDropped;
  }

  get truncated(): boolean {
    return this.eventsDropped > 0;
  }

  /** The end record written at close, or null while the trace is open. */
  get end(): TraceEnd | null {
    return this.closedWith;
  }

  /** The text before the first record. */
  protected abstract header(): string;
  /** One record's text (with any separator and derived records, such as counters). */
  protected abstract format(r: TraceRecord, first: boolean): string;
  /** The closing text: the end record and whatever makes the file complete. */
  protected abstract footer(end: TraceEnd, first: boolean): string;

  write(r: TraceRecord): void {
    if (this.closedWith !== null || this.failed || !this.want[r.kind]) return;
    if (this.eventsDropped > 0) {
      this.eventsDropped++;
      return;
    }
    if (!this.started) this.start();
    if (this.limit.kind === 'events' && this.eventsWritten >= this.limit.events) {
      this.eventsDropped++;
      return;
    }
    const text = this.format(r, this.eventsWritten === 0);
    if (this.limit.kind === 'bytes' && this.file.bytes + text.length > this.limit.bytes - TRACE_END_RESERVE - this.closingReserve()) {
      this.eventsDropped++;
      this.refused();
      return;
    }
    try {
      this.file.append(text);
    } catch (e) {
      this.failed = true;
      throw e;
    }
    this.eventsWritten++;
  }

  /**
   * Bytes the footer needs beyond TRACE_END_RESERVE (a timeline's open slices, closed there), kept
   * free under a byte cap.
   */
  protected closingReserve(): number {
    return 0;
  }

  /** The text `format` just returned was not written (the cap): a sink keeping state may undo. */
  protected refused(): void {}

  /**
   * Text that is no record of its own (a slice's begin or end), under the same cap as records: once
   * the cap refuses it, the trace is truncated from there on. Returns whether it was written.
   */
  protected writeRaw(text: string): boolean {
    if (this.closedWith !== null || this.failed || this.eventsDropped > 0) return false;
    if (!this.started) this.start();
    if (this.limit.kind === 'bytes' && this.file.bytes + text.length > this.limit.bytes - TRACE_END_RESERVE - this.closingReserve()) {
      this.eventsDropped++;
      return false;
    }
    try {
      this.file.append(text);
    } catch (e) {
      this.failed = true;
      throw e;
    }
    return true;
  }

  /** Writes the end record and closes the file. Later calls do nothing. */
  close(status: { reason: string }): void {
    if (this.closedWith !== null) return;
    const end: TraceEnd = {
      reason: status.reason,
      truncated: this.eventsDropped > 0,
      events: this.eventsWritten,
      dropped: this.eventsDropped,
      limit: describeLimit(this.limit),
    };
    this.closedWith = end;
    if (this.onExit !== null) process.removeListener('exit', this.onExit);
    try {
      if (!this.started) this.start();
      this.file.append(this.footer(end, this.eventsWritten === 0));
      this.file.close();
    } catch (e) {
      // A write already failed and was reported: closing is best effort from here.
      if (!this.failed) {
        this.failed = true;
        throw e;
      }
    } finally {
      if (this.file.open) {
        try {
          this.file.close();
        } catch {
          // The first error is the one reported.
        }
      }
    }
  }

  private start(): void {
    this.started = true;
    this.file.append(this.header());
  }
}
