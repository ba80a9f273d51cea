/**
 * The Perfetto (Chrome trace-event JSON) sink on real events: the file is one JSON document with
 * the trace-event fields (ph, ts, pid, tid, name, args), one named thread per component, the
 * counter tracks (TLB occupancy, contiguous coverage, cumulative TLBIs) agreeing with the TLB
 * and TLBI events, both time bases, and the trace_end record, capped or not.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { broadcastTlbiCycles, defaultCostParams, eventCycles } from '../../src/report/cost.js';
import { PerfettoSink, TRACKS, type PerfettoOptions } from '../../src/trace/sinks/index.js';
import { Pf3Workload } from './workload.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'trace-perfetto-'));
});

interface TraceEvent {
  name: string;
  cat?: string;
  ph: string;
  ts: number;
  dur?: number;
  pid: number;
  tid?: number;
  s?: string;
  args: Record<string, unknown>;
}

interface TraceDoc {
  displayTimeUnit: string;
  traceEvents: TraceEvent[];
  otherData: Record<string, unknown>;
}

function traced(name: string, opts: PerfettoOptions = {}): { w: Pf3Workload; doc: TraceDoc } {
  const file = join(dir, name);
  const w = new Pf3Workload([5, 5]);
  const sink = new PerfettoSink(file, { processName: 'page_fault3 (workbench)', ...opts });
  w.telemetry.tracer.attach(sink, sink.kinds);
  w.pass();
  w.telemetry.tracer.close('exit');
  return { w, doc: JSON.parse(readFileSync(file, 'latin1')) as TraceDoc };
}

const TID = Object.fromEntries(TRACKS.map((t, i) => [t, i + 1]));

describe('Perfetto trace-event JSON', () => {
  it('is one JSON document whose events carry the trace-event fields, on one thread per component', () => {
    const { w, doc } = traced('seq.json');
    expect(doc.displayTimeUnit).toBe('ns');
    const meta = doc.traceEvents.filter((e) => e.ph === 'M');
    expect(meta.find((e) => e.name === 'process_name')).toEqual({ name: 'process_name', ph: 'M', pid: 1, tid: 0, args: { name: 'page_fault3 (workbench)' } });
    expect(meta.filter((e) => e.name === 'thread_name').map((e) => [e.tid, e.args['name']])).toEqual(TRACKS.map((t, i) => [i + 1, t]));

    const events = doc.traceEvents.filter((e) => e.ph === 'i' && e.cat !== 'trace_end');
    for (const e of events) {
      expect(e.pid).toBe(1);
      expect(e.s).toBe('t');
      expect(typeof e.ts).toBe('number');
      expect(e.ts).toBe(e.args['seq']);
      expect(typeof e.name).toBe('string');
    }
    const tidOf: Record<string, number> = {
      fault: TID['engine/fault']!,
      walk: TID['walker']!,
      tlb_fill: TID['mmu/tlb']!,
      tlb_invalidate: TID['mmu/tlb']!,
      pte_write: TID['pgtable']!,
      fold_attempt: TID['pgtable']!,
      fold: TID['pgtable']!,
      contpte_convert: TID['pgtable']!,
      tlbi: TID['tlbi']!,
      dsb: TID['tlbi']!,
    };
    const count: Record<string, number> = {};
    for (const e of events) {
      expect(e.tid).toBe(tidOf[e.cat!]);
      count[e.cat!] = (count[e.cat!] ?? 0) + 1;
    }
    const s = w.telemetry.stats.snapshot();
    expect(count).toEqual({
      fault: 64,
      walk: 128,
      tlb_fill: 64,
      tlb_invalidate: 64,
      pte_write: s['pgtable']!['pte_writes'],
      fold_attempt: 4,
      fold: 4,
      contpte_convert: 4,
      tlbi: s['tlbi']!['total'],
      dsb: s['dsb']!['total'],
    });
    expect(events.filter((e) => e.cat === 'tlbi').map((e) => e.name)).toEqual(Array(5).fill('TLBI RVALE1IS'));
    expect(events.find((e) => e.cat === 'dsb')!.name).toBe('DSB ishst');
    expect(events.find((e) => e.cat === 'fault')!.name).toBe('fault write translation');
    expect(events.find((e) => e.cat === 'pte_write')!.args).toMatchObject({ old: '0x0000000000000000', old_decoded: 'none', chain: 'do_shared_fault > set_ptes' });
  });

  it('has counter tracks: TLB occupancy and contiguous coverage from the TLB events, cumulative TLBIs', () => {
    const { doc } = traced('counters.json');
    const ev = doc.traceEvents;
    const tlb = ev.filter((e) => e.cat === 'tlb_fill' || e.cat === 'tlb_invalidate');
    const occupancy = ev.filter((e) => e.ph === 'C' && e.name === 'TLB occupancy');
    expect(occupancy.map((e) => e.args['entries'])).toEqual(tlb.map((e) => e.args['occupancy']));
    expect(occupancy.map((e) => e.ts)).toEqual(tlb.map((e) => e.ts));
    for (const c of occupancy) expect(c).toMatchObject({ ph: 'C', pid: 1 });
    // Each fold leaves one 64 KiB entry (its 15 single entries were invalidated); the unmap takes all four.
    const coverage = ev.filter((e) => e.ph === 'C' && e.name === 'contiguous coverage').map((e) => e.args['bytes'] as number);
    const steps = coverage.filter((v, i) => i === 0 || v !== coverage[i - 1]);
    expect(steps).toEqual([0, 0x10000, 0x20000, 0x30000, 0x40000, 0x30000, 0x20000, 0x10000, 0]);
    const tlbis = ev.filter((e) => e.ph === 'C' && e.name === 'TLBIs').map((e) => e.args['cumulative']);
    expect(tlbis).toEqual([1, 2, 3, 4, 5]);
  });

  it('ends with trace_end, repeated in otherData', () => {
    const { doc } = traced('end.json');
    const last = doc.traceEvents[doc.traceEvents.length - 1]!;
    expect(last).toMatchObject({ name: 'trace_end', ph: 'i', s: 'g', pid: 1, args: { reason: 'exit', truncated: false, dropped: 0, limit: 'none' } });
    expect(doc.otherData).toMatchObject({ tool: 'contpte-lab', time_base: 'seq (event n at n us)', reason: 'exit', truncated: false, events: last.args['events'] });
  });

  it('with the cycles time base, costed events are complete events laid end to end on a modeled clock', () => {
    const p = defaultCostParams();
    const cyclesOf = eventCycles(p);
    const { doc } = traced('cycles.json', { timeBase: { kind: 'cycles', cyclesOf, clockGhz: p.clock_ghz } });
    const ev = doc.traceEvents.filter((e) => (e.ph === 'i' || e.ph === 'X') && e.cat !== 'trace_end');
    const us = (cycles: number): number => cycles / (p.clock_ghz * 1000);
    const fault = ev.find((e) => e.cat === 'fault')!;
    expect(fault.ph).toBe('X');
    expect(fault.dur).toBeCloseTo(us(p.fault_entry_exit), 9);
    const tlbi = ev.find((e) => e.cat === 'tlbi')!;
    expect(tlbi.dur).toBeCloseTo(us(broadcastTlbiCycles(p)), 9);
    const fold = ev.find((e) => e.cat === 'fold')!;
    expect(fold.ph).toBe('i');
    let clock = 0;
    for (const e of ev) {
      expect(e.ts).toBeCloseTo(clock, 6);
      if (e.ph === 'X') clock += e.dur!;
    }
    const total = ev.reduce((n, e) => n + (e.ph === 'X' ? e.dur! : 0), 0);
    expect(total).toBeGreaterThan(0);
    expect(doc.otherData['time_base']).toBe('cycles (modeled, at 2.6 GHz)');
  });

  it('a capped Perfetto trace is still one valid document that says it was truncated', () => {
    const { doc } = traced('capped.json', { limit: { kind: 'bytes', bytes: 16384 } });
    const last = doc.traceEvents[doc.traceEvents.length - 1]!;
    expect(last.name).toBe('trace_end');
    expect(last.args['truncated']).toBe(true);
    expect(last.args['dropped'] as number).toBeGreaterThan(0);
    expect(doc.otherData['truncated']).toBe(true);
  });
});
