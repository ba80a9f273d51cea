/**
 * What a user chooses about a trace: the file format, the kinds written (`--trace-events`), the
 * size cap (`--trace-limit`) and the time base of the Perfetto timeline (`--trace-time`), with
 * their parsers. Bad values are UsageErrors naming the option and listing what is accepted.
 */
import { UsageError } from '../../util/errors.js';
import { EVENT_KINDS, type EventKind, type TraceRecord } from '../events.js';

export type TraceFormat = 'jsonl' | 'perfetto';
export const TRACE_FORMATS: readonly TraceFormat[] = ['jsonl', 'perfetto'];

export type TraceLimit = { kind: 'none' } | { kind: 'bytes'; bytes: number } | { kind: 'events'; events: number };

/** Room kept for the closing record and bracket, so a capped file never exceeds its cap. */
export const TRACE_END_RESERVE = 1024;
/** The smallest byte cap accepted: the header, the reserve and a few records. */
export const MIN_TRACE_BYTES = 4096;

/**
 * Why a trace ended, written in its last record: the guest exited, was killed by a signal, the
 * tool failed (crash), the instruction budget ran out, or the process ended without closing the
 * trace (abort: an uncaught error or an interrupt).
 */
export type TraceEndReason = 'exit' | 'signal' | 'crash' | 'budget' | 'interrupted' | 'abort';

/**
 * The Perfetto time axis: `seq` puts event n at n µs (one event per microsecond of trace time);
 * `cycles` advances a virtual clock by the cost model's cycles for each event, shown in µs at the
 * model's nominal clock.
 */
/** `--trace-time`: the machine's virtual clocks (default), cost-model cycles, or the event sequence. */
export type TraceTime = 'virtual' | 'cycles' | 'seq';
export const TRACE_TIMES: readonly TraceTime[] = ['virtual', 'cycles', 'seq'];

export type TimeBase = { kind: 'seq' } | { kind: 'cycles'; cyclesOf: (r: TraceRecord) => number; clockGhz: number };

const BYTE_UNITS: Record<string, number> = { b: 1, kb: 2 ** 10, kib: 2 ** 10, mb: 2 ** 20, mib: 2 ** 20, gb: 2 ** 30, gib: 2 ** 30 };
const COUNT_UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9 };

/**
 * `--trace-limit`: a size with a byte unit (`100MB`, `64KiB`, `4096B`; powers of 1024) caps the
 * file's bytes; a count (`500000`, `2M`, `1000000events`; powers of 1000) caps the number of
 * events; `none` or `0` means no cap.
 */
export function parseTraceLimit(text: string, what = '--trace-limit'): TraceLimit {
  const t = text.trim().toLowerCase().replace(/_/g, '');
  if (t === 'none' || t === '0') return { kind: 'none' };
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(t);
  const expected = "expected a size such as 100MB or 64KiB (bytes), a number of events such as 500000, 2M or 1000000events, or 'none'";
  if (!m) throw new UsageError(`${what}: '${text}' is not a size or an event count (${expected})`);
  const value = Number(m[1]);
  const unit = m[2]!;
  if (unit in BYTE_UNITS) {
    const bytes = Math.floor(value * BYTE_UNITS[unit]!);
    if (bytes < MIN_TRACE_BYTES) throw new UsageError(`${what}: '${text}' is ${bytes} bytes; a capped trace needs at least ${MIN_TRACE_BYTES} bytes`);
    return { kind: 'bytes', bytes };
  }
  const countUnit = unit.replace(/events?$/, '');
  if (countUnit in COUNT_UNITS) {
    const events = Math.floor(value * COUNT_UNITS[countUnit]!);
    if (!Number.isSafeInteger(events) || events < 1) throw new UsageError(`${what}: '${text}' is not a positive number of events`);
    return { kind: 'events', events };
  }
  throw new UsageError(`${what}: '${text}' has an unknown unit '${unit}' (${expected})`);
}

/** `--trace-events fault,tlbi`: the kinds to write; `all` (or nothing) is every kind. */
export function parseTraceEvents(text: string | readonly string[] | undefined, what = '--trace-events'): EventKind[] {
  if (text === undefined) return [...EVENT_KINDS];
  const items = (typeof text === 'string' ? [text] : text).flatMap((s) => s.split(',')).map((s) => s.trim());
  if (items.length === 0 || (items.length === 1 && items[0] === '')) throw new UsageError(`${what}: empty list (expected kinds such as fault,tlbi, or 'all')`);
  const out = new Set<EventKind>();
  for (const item of items) {
    if (item === 'all') {
      for (const k of EVENT_KINDS) out.add(k);
      continue;
    }
    if (!(EVENT_KINDS as readonly string[]).includes(item)) {
      throw new UsageError(`${what}: unknown event kind '${item}' (expected some of: ${EVENT_KINDS.join(', ')}, or 'all')`);
    }
    out.add(item as EventKind);
  }
  return EVENT_KINDS.filter((k) => out.has(k));
}

export function parseTraceFormat(text: string, what = '--trace-format'): TraceFormat {
  if ((TRACE_FORMATS as readonly string[]).includes(text)) return text as TraceFormat;
  throw new UsageError(`${what}: unknown format '${text}' (expected ${TRACE_FORMATS.join(' or ')})`);
}

/** The trace options as `run` takes them (a compare case carries the same). */
export interface TraceCliArgs {
  trace?: string;
  'trace-format'?: string;
  'trace-events'?: string | string[];
  'trace-limit'?: string;
  'trace-time'?: string;
}

/** What the trace options ask for (machine/run.ts's TraceRequest with every field given). */
export interface TraceChoice {
  file: string;
  format: TraceFormat;
  events: EventKind[];
  limit: TraceLimit;
  time: TraceTime;
}

/**
 * The trace `run --trace FILE [--trace-format F] [--trace-events K] [--trace-limit L]
 * [--trace-time T]` asks for: jsonl unless told, every kind, no cap, the virtual time axis. The
 * other options without --trace, and a time axis for jsonl, are usage errors.
 */
export function parseTraceCli(a: TraceCliArgs): TraceChoice | null {
  if (a.trace === undefined) {
    for (const [o, verb] of [['trace-events', 'filter'], ['trace-limit', 'cap'], ['trace-time', 'time']] as const) {
      if (a[o] !== undefined) throw new UsageError(`--${o} needs --trace FILE (there is no trace to ${verb})`);
    }
    if (a['trace-format'] !== undefined) throw new UsageError('--trace-format needs --trace FILE (there is no trace to format)');
    return null;
  }
  if (a.trace === '') throw new UsageError('--trace: empty file name');
  const format = a['trace-format'] !== undefined ? parseTraceFormat(a['trace-format']) : 'jsonl';
  const given = a['trace-time'];
  if (given !== undefined && !(TRACE_TIMES as readonly string[]).includes(given)) throw new UsageError(`--trace-time: '${given}' (expected ${TRACE_TIMES.join(', ')})`);
  if (given !== undefined && format !== 'perfetto') throw new UsageError(`--trace-time ${given}: only the perfetto format has a time axis (add --trace-format perfetto)`);
  return {
    file: a.trace,
    format,
    events: parseTraceEvents(a['trace-events']),
    limit: a['trace-limit'] !== undefined ? parseTraceLimit(a['trace-limit']) : { kind: 'none' },
    time: (given ?? 'virtual') as TraceTime,
  };
}
