import { EVENT_KINDS, type EventKind, type LabEvent, type TraceRecord } from './events.js';

export interface TraceSink {
  write(record: TraceRecord): void;
  /** Called once at the end of a run, crash or not: the sink must leave a valid file. */
  close(status: { reason: string }): void;
}

/**
 * Hands events to sinks. `on[kind]` is true when some sink wants that kind; components test it
 * before building an event object.
 */
export class Tracer {
  readonly on: Record<EventKind, boolean>;
  private readonly sinks: TraceSink[] = [];
  private seq = 0;

  constructor() {
    this.on = Object.fromEntries(EVENT_KINDS.map((k) => [k, false])) as Record<EventKind, boolean>;
  }

  /** Attaches a sink for the given kinds (all kinds when omitted). */
  attach(sink: TraceSink, kinds: readonly EventKind[] = EVENT_KINDS): void {
    this.sinks.push(sink);
    for (const k of kinds) this.on[k] = true;
  }

  get enabled(): boolean {
    return this.sinks.length > 0;
  }

  emit(event: LabEvent): void {
    const record = event as TraceRecord;
    record.seq = this.seq++;
    for (const s of this.sinks) s.write(record);
  }

  close(reason: string): void {
    for (const s of this.sinks) s.close({ reason });
    this.sinks.length = 0;
    for (const k of EVENT_KINDS) this.on[k] = false;
  }
}
