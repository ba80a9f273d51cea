/**
 * A checker of the rules Perfetto's JSON importer (and chrome://tracing) applies to the Chrome
 * trace-event format, for the tests: the document shape, `ts` in microseconds as finite numbers,
 * "X" events with a duration, "B"/"E" pairs nesting per thread (pid, tid), slices that nest
 * (no partial overlap of an "X" with its parent), time that never goes back on a thread or a
 * counter, known instant scopes and metadata. Returns every problem found (empty: valid).
 */
export interface TraceEventDoc {
  displayTimeUnit?: string;
  traceEvents: TraceEvent[];
  otherData?: Record<string, unknown>;
}

export interface TraceEvent {
  name?: string;
  cat?: string;
  ph: string;
  ts?: number;
  dur?: number;
  pid?: number;
  tid?: number;
  s?: string;
  args?: Record<string, unknown>;
}

interface Open {
  kind: 'B' | 'X';
  ts: number;
  end: number;
  at: number;
}

const METADATA = new Set(['process_name', 'thread_name', 'process_sort_index', 'thread_sort_index', 'process_labels']);

export function traceEventProblems(doc: unknown, max = 20): string[] {
  const problems: string[] = [];
  const bad = (i: number, what: string): void => {
    if (problems.length < max) problems.push(`event ${i}: ${what}`);
  };
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as TraceEventDoc).traceEvents)) return ['not an object with a traceEvents array'];
  const d = doc as TraceEventDoc;
  if (d.displayTimeUnit !== undefined && d.displayTimeUnit !== 'ms' && d.displayTimeUnit !== 'ns') problems.push(`displayTimeUnit '${d.displayTimeUnit}' (expected ms or ns)`);
  const tracks = new Map<string, { last: number; open: Open[] }>();
  const counters = new Map<string, number>();
  d.traceEvents.forEach((e, i) => {
    if (typeof e.ph !== 'string') return bad(i, 'no ph');
    if (e.ph === 'M') {
      if (!METADATA.has(e.name ?? '')) bad(i, `unknown metadata '${e.name}'`);
      if (!Number.isInteger(e.pid)) bad(i, 'metadata without an integer pid');
      if (typeof e.args !== 'object') bad(i, 'metadata without args');
      return;
    }
    if (typeof e.ts !== 'number' || !Number.isFinite(e.ts) || e.ts < 0) return bad(i, `ts ${String(e.ts)} is not a finite non-negative number of microseconds`);
    if (!Number.isInteger(e.pid)) return bad(i, 'no integer pid');
    const ts = e.ts;
    if (e.ph === 'C') {
      const key = `${e.pid}/${e.name}`;
      if ((counters.get(key) ?? -Infinity) > ts) bad(i, `counter ${key} goes back in time`);
      counters.set(key, ts);
      for (const [k, v] of Object.entries(e.args ?? {})) if (typeof v !== 'number') bad(i, `counter value ${k} is not a number`);
      return;
    }
    if (e.ph === 'i' || e.ph === 'I') {
      if (e.s !== undefined && e.s !== 't' && e.s !== 'p' && e.s !== 'g') bad(i, `instant scope '${e.s}'`);
      if (e.s === 'g' || e.s === 'p') return;
    } else if (e.ph !== 'B' && e.ph !== 'E' && e.ph !== 'X') {
      return bad(i, `phase '${e.ph}' not expected`);
    }
    if (e.ph !== 'E' && typeof e.name !== 'string') bad(i, 'no name');
    if (!Number.isInteger(e.tid)) return bad(i, 'no integer tid');
    const key = `${e.pid}/${e.tid}`;
    let t = tracks.get(key);
    if (t === undefined) {
      t = { last: -Infinity, open: [] };
      tracks.set(key, t);
    }
    if (ts < t.last) bad(i, `thread ${key} goes back in time (${ts} after ${t.last})`);
    t.last = ts;
    // Slices that ended at or before this moment are closed.
    const closeEnded = (at: number): void => {
      for (;;) {
        const top = t!.open[t!.open.length - 1];
        if (top === undefined || top.kind !== 'X' || top.end > at + 1e-6) return;
        t!.open.pop();
      }
    };
    if (e.ph === 'X') {
      if (typeof e.dur !== 'number' || !Number.isFinite(e.dur) || e.dur < 0) return bad(i, `X without a non-negative dur`);
      closeEnded(ts);
      const end = ts + e.dur;
      const parent = t.open[t.open.length - 1];
      if (parent !== undefined && parent.kind === 'X' && end > parent.end + 1e-6) bad(i, `X [${ts}, ${end}] overlaps its parent X ending at ${parent.end} on ${key}`);
      if (e.dur > 0) t.open.push({ kind: 'X', ts, end, at: i });
    } else if (e.ph === 'B') {
      closeEnded(ts);
      t.open.push({ kind: 'B', ts, end: Infinity, at: i });
    } else if (e.ph === 'E') {
      closeEnded(ts);
      const top = t.open.pop();
      if (top === undefined) return bad(i, `E with no open B on ${key}`);
      if (top.kind !== 'B') return bad(i, `E while the X of event ${top.at} is open on ${key} (partial overlap)`);
      const outer = t.open[t.open.length - 1];
      if (outer !== undefined && outer.kind === 'X' && ts > outer.end + 1e-6) bad(i, `slice of event ${top.at} ends after its parent X on ${key}`);
    } else {
      closeEnded(ts);
    }
  });
  for (const [key, t] of tracks) {
    const b = t.open.filter((o) => o.kind === 'B');
    if (b.length > 0) problems.push(`thread ${key}: ${b.length} B without E (first: event ${b[0]!.at})`);
  }
  return problems;
}

/** The slices of one thread as a tree: each B/E pair and X, with the events inside it. */
export interface Slice {
  name: string;
  cat?: string;
  ts: number;
  end: number;
  args: Record<string, unknown>;
  children: Slice[];
}

export function sliceTree(doc: TraceEventDoc, pid: number, tid: number): Slice[] {
  const roots: Slice[] = [];
  const stack: Slice[] = [];
  // Only B/E slices hold others here (the sinks' X slices have no children).
  const add = (s: Slice): void => {
    (stack.length > 0 ? stack[stack.length - 1]!.children : roots).push(s);
  };
  for (const e of doc.traceEvents) {
    if (e.pid !== pid || e.tid !== tid) continue;
    if (e.ph === 'B') {
      const s: Slice = { name: e.name!, ...(e.cat !== undefined ? { cat: e.cat } : {}), ts: e.ts!, end: Infinity, args: { ...(e.args ?? {}) }, children: [] };
      add(s);
      stack.push(s);
    } else if (e.ph === 'E') {
      const s = stack.pop()!;
      s.end = e.ts!;
      Object.assign(s.args, e.args ?? {});
      if (e.cat !== undefined) s.args['end_cat'] = e.cat;
    } else if (e.ph === 'X' || e.ph === 'i') {
      add({ name: e.name!, ...(e.cat !== undefined ? { cat: e.cat } : {}), ts: e.ts!, end: e.ts! + (e.dur ?? 0), args: e.args ?? {}, children: [] });
    }
  }
  return roots;
}

/** Every slice of a tree, depth first. */
export function allSlices(roots: readonly Slice[]): Slice[] {
  const out: Slice[] = [];
  const walk = (s: Slice): void => {
    out.push(s);
    s.children.forEach(walk);
  };
  roots.forEach(walk);
  return out;
}
