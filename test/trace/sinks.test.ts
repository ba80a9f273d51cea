/**
 * The JSON-lines sink on real events (the page_fault3 pattern through the real page-table layer
 * and mmu): every line parses, the kinds and their numbers agree with the stats, U64 values are
 * hex, the filter, both caps with their truncation record, and a trace closed from an error path
 * (or not closed at all) is still valid.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsonlSink, openTraceSink, parseTraceCli, parseTraceEvents, parseTraceLimit } from '../../src/trace/sinks/index.js';
import { decodeDescriptor, describeDescriptor } from '../../src/mmu/descriptor.js';
import { EVENT_KINDS, type LabEvent } from '../../src/trace/index.js';
import { UsageError } from '../../src/util/errors.js';
import { Pf3Workload, STORE_PC } from './workload.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'trace-sinks-'));
});
afterAll(() => {
  // Files are small; the folder is left for inspection when a test fails.
});

type Line = Record<string, unknown>;

function lines(path: string): Line[] {
  const text = readFileSync(path, 'latin1');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((l) => JSON.parse(l) as Line);
}

function byKind(ls: Line[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of ls) out[l['kind'] as string] = (out[l['kind'] as string] ?? 0) + 1;
  return out;
}

/** One page_fault3 pass over two order-5 folios: 4 folds, 5 RVALE1IS (see test/pgtable/fold.test.ts). */
function tracedPass(file: string, opts: ConstructorParameters<typeof JsonlSink>[1] = {}): { w: Pf3Workload; sink: JsonlSink } {
  const w = new Pf3Workload([5, 5]);
  const sink = new JsonlSink(file, opts);
  w.telemetry.tracer.attach(sink, sink.kinds);
  w.pass();
  return { w, sink };
}

describe('JSON lines', () => {
  it('writes one parseable line per event, then trace_end; counts per kind equal the stats', () => {
    const file = join(dir, 'all.jsonl');
    const { w } = tracedPass(file);
    w.telemetry.tracer.close('exit');
    const ls = lines(file);
    const end = ls.pop()!;
    expect(end).toEqual({ kind: 'trace_end', reason: 'exit', truncated: false, events: ls.length, dropped: 0, limit: 'none' });
    const s = w.telemetry.stats.snapshot();
    const k = byKind(ls);
    expect(k).toEqual({
      fault: 64,
      walk: s['tlb']!['walks'],
      tlb_fill: s['tlb']!['fills'],
      tlb_invalidate: s['tlb']!['invalidated_entries'],
      pte_write: s['pgtable']!['pte_writes'],
      fold_attempt: s['pgtable']!['fold_attempts'],
      fold: s['pgtable']!['folds'],
      contpte_convert: s['pgtable']!['contpte_convert'],
      tlbi: s['tlbi']!['total'],
      dsb: s['dsb']!['total'],
    });
    // The exact figures of one pass (test/pgtable/fold.test.ts derives them).
    expect(k).toMatchObject({ walk: 128, tlb_fill: 64, tlb_invalidate: 64, pte_write: 256, fold: 4, contpte_convert: 4, tlbi: 5, dsb: 13 });
    // seq is the tracer's sequence: 0, 1, 2, ... in file order.
    expect(ls.map((l) => l['seq'])).toEqual(ls.map((_, i) => i));
  });

  it('keeps numbers as numbers, writes U64 values as 16-digit hex and decodes both PTE values', () => {
    const file = join(dir, 'fields.jsonl');
    const { w } = tracedPass(file);
    w.telemetry.tracer.close('exit');
    const ls = lines(file);
    const firstWrite = ls.find((l) => l['kind'] === 'pte_write')!;
    expect(firstWrite).toMatchObject({ va: 0x4000_0000, level: 3, old: '0x0000000000000000', old_decoded: 'none', chain: 'do_shared_fault > set_ptes' });
    expect(firstWrite['new']).toMatch(/^0x[0-9a-f]{16}$/);
    expect(firstWrite['new_decoded']).toMatch(/^page oa=0x[0-9a-f]+ AttrIndx=0 AP=01 SH=11 AF nG DBM PXN UXN swDirty$/);
    expect(typeof firstWrite['ptep']).toBe('number');
    const tlbi = ls.find((l) => l['kind'] === 'tlbi')!;
    expect(tlbi).toMatchObject({ op: 'RVALE1IS', site: 'contpte_convert', removed: 15 });
    expect(tlbi['operand']).toMatch(/^0x[0-9a-f]{16}$/);
    expect(tlbi['decoded']).toBe('RVALE1IS asid=2 [0x40000000, 0x40010000) 16 pages (TG=1 SCALE=0 NUM=7) ttl=level 3');
    const fault = ls.find((l) => l['kind'] === 'fault')!;
    expect(fault).toEqual({ seq: fault['seq'], kind: 'fault', va: 0x4000_0000, access: 'write', fault: 'translation', level: 0, pc: STORE_PC, insn: 'strb wzr, [x0, x1]', handled: 'do_shared_fault' });
    const fill = ls.find((l) => l['kind'] === 'tlb_fill' && l['contiguous'] === true)!;
    expect(fill).toMatchObject({ va: 0x4000_0000, span: 0x10000, asid: 2, contiguous: true, occupancy: 1 });
  });

  it('writes only the kinds asked for, and the tracer builds no others', () => {
    const file = join(dir, 'filtered.jsonl');
    const kinds = parseTraceEvents('tlbi,fold');
    const { w } = tracedPass(file, { kinds });
    expect(w.telemetry.tracer.on.pte_write).toBe(false);
    expect(w.telemetry.tracer.on.tlbi).toBe(true);
    w.telemetry.tracer.close('exit');
    const ls = lines(file);
    ls.pop();
    expect(byKind(ls)).toEqual({ fold: 4, tlbi: 5 });
  });

  it('filters even when another sink made the tracer build every kind', () => {
    const file = join(dir, 'shared.jsonl');
    const w = new Pf3Workload([5, 5]);
    const seen: string[] = [];
    w.telemetry.tracer.attach({ write: (r) => seen.push(r.kind), close: () => {} });
    const sink = new JsonlSink(file, { kinds: ['tlbi'] });
    w.telemetry.tracer.attach(sink, sink.kinds);
    w.pass();
    w.telemetry.tracer.close('exit');
    const ls = lines(file);
    expect(ls.pop()).toMatchObject({ kind: 'trace_end', events: 5 });
    expect(byKind(ls)).toEqual({ tlbi: 5 });
    expect(seen.length).toBeGreaterThan(500);
  });

  it('an event cap keeps the first N events and says how many were dropped', () => {
    const file = join(dir, 'cap-events.jsonl');
    const { w, sink } = tracedPass(file, { limit: parseTraceLimit('100') });
    w.telemetry.tracer.close('exit');
    const ls = lines(file);
    const end = ls.pop()!;
    expect(ls).toHaveLength(100);
    expect(ls[99]!['seq']).toBe(99);
    expect(end).toEqual({ kind: 'trace_end', reason: 'exit', truncated: true, events: 100, dropped: sink.dropped, limit: '100 events' });
    // 64 faults + 128 walks + 64 fills + 64 invalidations + 256 PTE writes + 4 attempts + 4 folds + 4 converts + 5 TLBIs + 13 DSBs
    expect(100 + sink.dropped).toBe(64 + 128 + 64 + 64 + 256 + 4 + 4 + 4 + 5 + 13);
  });

  it('a byte cap keeps the file within the cap, ending with the truncation record', () => {
    const file = join(dir, 'cap-bytes.jsonl');
    const { w, sink } = tracedPass(file, { limit: parseTraceLimit('8KiB') });
    w.telemetry.tracer.close('budget');
    expect(statSync(file).size).toBeLessThanOrEqual(8192);
    expect(statSync(file).size).toBeGreaterThan(8192 - 1024 - 400);
    const ls = lines(file);
    const end = ls.pop()!;
    expect(end).toMatchObject({ kind: 'trace_end', reason: 'budget', truncated: true, events: ls.length, limit: '8192 bytes' });
    expect(end['dropped']).toBe(sink.dropped);
    expect(sink.dropped).toBeGreaterThan(0);
  });

  it('closing from an error path leaves a valid file with the reason; later writes and closes change nothing', () => {
    const file = join(dir, 'crash.jsonl');
    const w = new Pf3Workload([4]);
    const sink = new JsonlSink(file);
    w.telemetry.tracer.attach(sink);
    let n = 0;
    w.telemetry.tracer.attach({
      write: () => {
        if (++n === 50) throw new Error('the model broke');
      },
      close: () => {},
    });
    expect(() => w.pass()).toThrow('the model broke');
    w.telemetry.tracer.close('crash');
    const before = readFileSync(file, 'latin1');
    sink.write({ kind: 'marker', action: 'mark', name: 'late', seq: 999 });
    sink.close({ reason: 'exit' });
    expect(readFileSync(file, 'latin1')).toBe(before);
    const ls = lines(file);
    expect(ls.pop()).toEqual({ kind: 'trace_end', reason: 'crash', truncated: false, events: 50, dropped: 0, limit: 'none' });
    expect(ls).toHaveLength(50);
  });

  it('a trace nobody closed is closed by the exit hook (reason abort), even after an uncaught error', () => {
    const dist = join(process.cwd(), 'dist/src/trace/sinks/index.js');
    if (!existsSync(dist)) throw new Error(`${dist} is missing: build first with 'npx tsc -p tsconfig.json' (npm test does this)`);
    const file = join(dir, 'abort.jsonl');
    const script = [
      `import { JsonlSink } from ${JSON.stringify(dist)};`,
      `const s = new JsonlSink(${JSON.stringify(file)});`,
      `for (let i = 0; i < 3; i++) s.write({ kind: 'marker', action: 'mark', name: 'm' + i, seq: i });`,
      `throw new Error('uncaught');`,
    ].join('\n');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('uncaught');
    const ls = lines(file);
    expect(ls).toEqual([
      { seq: 0, kind: 'marker', action: 'mark', name: 'm0' },
      { seq: 1, kind: 'marker', action: 'mark', name: 'm1' },
      { seq: 2, kind: 'marker', action: 'mark', name: 'm2' },
      { kind: 'trace_end', reason: 'abort', truncated: false, events: 3, dropped: 0, limit: 'none' },
    ]);
  });

  it('escapes text outside ASCII, so characters are bytes, and it reads back unchanged', () => {
    const file = join(dir, 'utf.jsonl');
    const sink = openTraceSink({ file, format: 'jsonl' });
    sink.write({ kind: 'marker', action: 'mark', name: 'café ☕', seq: 0 });
    sink.write({ kind: 'syscall', nr: 64, name: 'write', args: [1, 0x4000, 12], ret: 12, pc: 0x400100, seq: 1 });
    sink.close({ reason: 'exit' });
    const text = readFileSync(file, 'latin1');
    expect(text).toContain('"name":"caf\\u00e9 \\u2615"');
    expect(/^[\x00-\x7e]*$/.test(text)).toBe(true);
    const ls = lines(file);
    expect(ls[0]).toEqual({ seq: 0, kind: 'marker', action: 'mark', name: 'café ☕' });
    expect(ls[1]).toEqual({ seq: 1, kind: 'syscall', nr: 64, name: 'write', args: [1, 0x4000, 12], ret: 12, pc: 0x400100 });
  });

  it('writes every field of every kind of event, and nothing else (U64 values as hex)', () => {
    const file = join(dir, 'kinds.jsonl');
    const u = (lo: number, hi: number) => ({ lo, hi });
    const all: LabEvent[] = [
      { kind: 'fault', va: 0x1000, access: 'exec', fault: 'permission', level: 3, pc: 0x400000, insn: 'ret', handled: 'SIGSEGV' },
      { kind: 'fault', va: 0x2000, access: 'read', fault: 'access_flag', level: 2, handled: 'uaccess' },
      { kind: 'walk', va: 0x3000, asid: 4, levels: 4, result: 'ok', pa: 0x9000, level: 3 },
      { kind: 'walk', va: 0x3000, asid: 4, levels: 2, result: 'translation', level: 1 },
      { kind: 'tlb_fill', cpu: 0, va: 0x10000, span: 0x10000, pa: 0x80000, asid: -1, contiguous: true, occupancy: 3 },
      { kind: 'tlb_evict', cpu: 1, va: 0x10000, span: 4096, pa: 0x80000, asid: 2, contiguous: false, occupancy: 2 },
      { kind: 'tlb_invalidate', cpu: 3, va: 0x10000, span: 4096, pa: 0x80000, asid: 2, contiguous: false, occupancy: 1 },
      { kind: 'pte_write', va: 0x5000, ptep: 0x4000_1028, level: 3, old: u(0x40001f43, 0x00e80000), new: u(0, 0), chain: 'zap_pte_range > get_and_clear_full_ptes' },
      { kind: 'fold', va: 0x10000, chain: 'a' },
      { kind: 'unfold', va: 0x10000, chain: 'b' },
      { kind: 'contpte_convert', va: 0x10000, chain: 'c' },
      { kind: 'fold_attempt', va: 0x10000, chain: 'd' },
      { kind: 'tlbi', op: 'VALE1', operand: u(0xffffffff, 0x0002ffff), decoded: 'VALE1 asid=2 va=0x5000', chain: 'e', site: 'f', removed: 0 },
      { kind: 'dsb', domain: 'nshst', chain: 'g' },
      { kind: 'syscall', nr: 93, name: 'exit', args: [0, 1, 2, 3, 4, 5], ret: -38, pc: 0x400010 },
      { kind: 'marker', action: 'ops', name: '', value: 4096 },
      { kind: 'marker', action: 'reset', name: '' },
      { kind: 'bbm_violation', va: 0x7000, rule: 'R1', detail: 'valid to valid "with" \\ quotes', chain: 'h' },
      { kind: 'contig_violation', va: 0x7000, rule: 'R2', detail: 'x', chain: 'i' },
    ];
    expect(new Set(all.map((e) => e.kind))).toEqual(new Set(EVENT_KINDS));
    const sink = new JsonlSink(file, { decodePtes: false });
    all.forEach((e, seq) => sink.write({ ...e, seq }));
    sink.close({ reason: 'exit' });
    const ls = lines(file);
    ls.pop();
    const hex = (v: { lo: number; hi: number }) => '0x' + v.hi.toString(16).padStart(8, '0') + v.lo.toString(16).padStart(8, '0');
    all.forEach((e, seq) => {
      const expected: Record<string, unknown> = { seq, ...e };
      for (const [k, v] of Object.entries(expected)) if (typeof v === 'object' && v !== null && 'lo' in v) expected[k] = hex(v as { lo: number; hi: number });
      expect(ls[seq]).toEqual(expected);
    });
    expect(ls[7]!['old']).toBe('0x00e8000040001f43');
  });

  it('decodes page descriptors the way the mmu describes them, whatever the output address', () => {
    const file = join(dir, 'decode.jsonl');
    const sink = new JsonlSink(file);
    const values = [
      { lo: 0x40001f43, hi: 0x00e80000 },
      { lo: 0x7ffff743, hi: 0x0068ffff },
      { lo: 0x40001f43, hi: 0x00f80000 },
      { lo: 0x00000002, hi: 0 },
      { lo: 0x40001f41, hi: 0x00e80000 },
    ];
    values.forEach((v, seq) => sink.write({ kind: 'pte_write', va: 0, ptep: 0, level: 3, old: { lo: 0, hi: 0 }, new: v, chain: '', seq }));
    sink.write({ kind: 'pte_write', va: 0, ptep: 0, level: 2, old: { lo: 0, hi: 0 }, new: { lo: 0x40200f41, hi: 0x00600000 }, chain: '', seq: 9 });
    sink.close({ reason: 'exit' });
    const ls = lines(file);
    ls.pop();
    values.forEach((v, i) => expect(ls[i]!['new_decoded']).toBe(describeDescriptor(decodeDescriptor(v, 3))));
    expect(ls[5]!['new_decoded']).toBe(describeDescriptor(decodeDescriptor({ lo: 0x40200f41, hi: 0x00600000 }, 2)));
    expect(ls[0]!['old_decoded']).toBe('none');
  });

  it('an empty trace is still a valid file', () => {
    const file = join(dir, 'empty.jsonl');
    openTraceSink({ file, format: 'jsonl' }).close({ reason: 'exit' });
    expect(lines(file)).toEqual([{ kind: 'trace_end', reason: 'exit', truncated: false, events: 0, dropped: 0, limit: 'none' }]);
  });

  it('an unwritable path is a usage error naming it', () => {
    expect(() => new JsonlSink(join(dir, 'no/such/dir/t.jsonl'))).toThrow(UsageError);
    expect(() => new JsonlSink(join(dir, 'no/such/dir/t.jsonl'))).toThrow(/--trace: cannot create '.*no\/such\/dir\/t.jsonl' \(ENOENT\)/);
  });
});

describe('trace options', () => {
  it('--trace-limit takes sizes with a byte unit and bare event counts', () => {
    expect(parseTraceLimit('100MB')).toEqual({ kind: 'bytes', bytes: 100 * 2 ** 20 });
    expect(parseTraceLimit('64KiB')).toEqual({ kind: 'bytes', bytes: 65536 });
    expect(parseTraceLimit('1.5GB')).toEqual({ kind: 'bytes', bytes: 1.5 * 2 ** 30 });
    expect(parseTraceLimit('500000')).toEqual({ kind: 'events', events: 500000 });
    expect(parseTraceLimit('2M')).toEqual({ kind: 'events', events: 2_000_000 });
    expect(parseTraceLimit('1000000events')).toEqual({ kind: 'events', events: 1_000_000 });
    expect(parseTraceLimit('2Mevents')).toEqual({ kind: 'events', events: 2_000_000 });
    expect(parseTraceLimit('none')).toEqual({ kind: 'none' });
    expect(() => parseTraceLimit('100XB')).toThrow("--trace-limit: '100XB' has an unknown unit 'xb'");
    expect(() => parseTraceLimit('0events')).toThrow("--trace-limit: '0events' is not a positive number of events");
    expect(() => parseTraceLimit('lots')).toThrow(UsageError);
    expect(() => parseTraceLimit('100B')).toThrow('--trace-limit: \'100B\' is 100 bytes; a capped trace needs at least 4096 bytes');
  });

  it('--trace-events lists kinds; unknown ones are named with the list of kinds', () => {
    expect(parseTraceEvents('tlbi,fault')).toEqual(['fault', 'tlbi']);
    expect(parseTraceEvents(['tlbi', 'dsb,fold'])).toEqual(['fold', 'tlbi', 'dsb']);
    expect(parseTraceEvents('all')).toEqual([...EVENT_KINDS]);
    expect(parseTraceEvents(undefined)).toEqual([...EVENT_KINDS]);
    expect(() => parseTraceEvents('tlbi,pagefault')).toThrow(`--trace-events: unknown event kind 'pagefault' (expected some of: ${EVENT_KINDS.join(', ')}, or 'all')`);
  });

  it('parseTraceCli: jsonl unless told, every kind, no cap; the other options without --trace are usage errors', () => {
    expect(parseTraceCli({})).toBeNull();
    expect(parseTraceCli({ trace: 't.json' })).toEqual({ file: 't.json', format: 'jsonl', events: [...EVENT_KINDS], limit: { kind: 'none' }, time: 'virtual' });
    expect(parseTraceCli({ trace: 't.jsonl', 'trace-events': 'tlbi', 'trace-limit': '10' })).toEqual({ file: 't.jsonl', format: 'jsonl', events: ['tlbi'], limit: { kind: 'events', events: 10 }, time: 'virtual' });
    expect(parseTraceCli({ trace: 'x', 'trace-format': 'perfetto', 'trace-time': 'cycles' })?.time).toBe('cycles');
    expect(() => parseTraceCli({ 'trace-limit': '10' })).toThrow('--trace-limit needs --trace FILE (there is no trace to cap)');
    expect(() => parseTraceCli({ 'trace-format': 'perfetto' })).toThrow('--trace-format needs --trace FILE');
    expect(() => parseTraceCli({ trace: 'x.jsonl', 'trace-time': 'cycles' })).toThrow('--trace-time cycles: only the perfetto format has a time axis');
    expect(() => parseTraceCli({ trace: 'x', 'trace-format': 'xml' })).toThrow("--trace-format: unknown format 'xml' (expected jsonl or perfetto)");
  });
});
