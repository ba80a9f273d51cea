/**
 * Trace sink throughput and tracing overhead without an emulator.
 *
 * 1. Sink throughput: real events (the page_fault3 pattern on the Workbench: faults, walks, TLB
 *    fills and invalidations, PTE writes, folds, converts, TLBIs, DSBs) recorded once, then
 *    replayed into each sink writing a file: events per second and MB per second.
 * 2. Overhead on the model: the same workload run untraced and traced (every kind), wall time
 *    ratio. The workbench is pure model work with no emulation, so this ratio is an upper bound
 *    of what tracing adds to a real run (bench/trace-overhead.ts measures that, with `run`).
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/trace-sinks.js
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCostParams, eventCycles } from '../src/report/cost.js';
import { PAGE_SHARED, PAGE_SIZE, pfnPte, pteMkdirty, pteMkyoung } from '../src/pgtable/index.js';
import { Workbench } from '../src/pgtable/workbench.js';
import type { TraceRecord } from '../src/trace/events.js';
import { JsonlSink, PerfettoSink, type FileTraceSink } from '../src/trace/sinks/index.js';

const VA = 0x4000_0000;
const FOLIOS = 16; // order-5 folios: 512 pages, 2 MiB, one PTE table
const PASSES = 20;
const PTE = pteMkdirty(pteMkyoung(PAGE_SHARED));

/** The page_fault3 pattern over FOLIOS order-5 folios, PASSES times (see test/trace/workload.ts). */
function workload(wb: Workbench, passes: number): void {
  const folios = Array.from({ length: FOLIOS }, () => wb.allocFolio(5));
  const { mmu, pgtable, mm } = wb;
  const t = wb.telemetry;
  for (let p = 0; p < passes; p++) {
    let va = VA;
    for (const f of folios) {
      for (let i = 0; i < 32; i++, va += PAGE_SIZE) {
        const miss = mmu.translate(va, 'write', 0);
        if (!miss.ok && t.tracer.on.fault) t.tracer.emit({ kind: 'fault', va, access: 'write', fault: miss.kind, level: miss.level, pc: 0x401234, insn: 'strb wzr, [x0, x1]', handled: 'do_shared_fault' });
        const ptep = wb.ptep(va);
        t.calls.within('do_shared_fault', () => pgtable.ptep.setPtes(mm, va, ptep, pfnPte(f.firstPfn + i, PTE), 1));
        mmu.translate(va, 'write', 0);
      }
    }
    const gather = pgtable.gather(mm);
    t.calls.within('zap_pte_range', () => {
      let a = VA;
      for (const f of folios) {
        pgtable.ptep.getAndClearFullPtes(mm, a, wb.ptep(a), 32);
        gather.tlbFlushPteRange(a, 32 * PAGE_SIZE);
        a += 32 * PAGE_SIZE;
      }
    });
    gather.tlbFlushMmu();
  }
}

function record(): TraceRecord[] {
  const wb = new Workbench({ memBytes: 64 << 20 });
  const out: TraceRecord[] = [];
  wb.telemetry.tracer.attach({ write: (r) => out.push(r), close: () => {} });
  workload(wb, PASSES);
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'bench-trace-'));
const events = record();
const kinds = new Map<string, number>();
for (const e of events) kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
console.log(`recorded ${events.length} events (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')})`);

function replay(name: string, make: (file: string) => FileTraceSink): void {
  let best = Infinity;
  let bytes = 0;
  for (let rep = 0; rep < 5; rep++) {
    const file = join(dir, `${name}-${rep}`);
    const t0 = performance.now();
    const sink = make(file);
    for (const e of events) sink.write(e);
    sink.close({ reason: 'exit' });
    const ms = performance.now() - t0;
    bytes = statSync(file).size;
    rmSync(file);
    best = Math.min(best, ms);
  }
  const perSec = events.length / (best / 1000);
  console.log(`${name.padEnd(34)} ${(perSec / 1e6).toFixed(2)} M events/s  ${(bytes / 1e6 / (best / 1000)).toFixed(0)} MB/s  ${(bytes / events.length).toFixed(0)} bytes/event`);
}

const p = defaultCostParams();
replay('jsonl', (f) => new JsonlSink(f, { exitHook: false }));
replay('jsonl, PTEs not decoded', (f) => new JsonlSink(f, { exitHook: false, decodePtes: false }));
replay('perfetto (seq)', (f) => new PerfettoSink(f, { exitHook: false }));
replay('perfetto (cycles)', (f) => new PerfettoSink(f, { exitHook: false, timeBase: { kind: 'cycles', cyclesOf: eventCycles(p), clockGhz: p.clock_ghz } }));

function timed(trace: 'none' | 'null' | 'jsonl' | 'perfetto'): number {
  let best = Infinity;
  for (let rep = 0; rep < 5; rep++) {
    const wb = new Workbench({ memBytes: 64 << 20 });
    const file = join(dir, `overhead-${trace}-${rep}`);
    if (trace === 'null') wb.telemetry.tracer.attach({ write: () => {}, close: () => {} });
    else if (trace !== 'none') {
      const sink = trace === 'jsonl' ? new JsonlSink(file, { exitHook: false }) : new PerfettoSink(file, { exitHook: false });
      wb.telemetry.tracer.attach(sink, sink.kinds);
    }
    const t0 = performance.now();
    workload(wb, PASSES);
    wb.telemetry.tracer.close('exit');
    best = Math.min(best, performance.now() - t0);
    if (trace === 'jsonl' || trace === 'perfetto') rmSync(file);
  }
  return best;
}

const base = timed('none');
const nullSink = timed('null');
const jsonl = timed('jsonl');
const perfetto = timed('perfetto');
console.log(`model workload (${PASSES} passes of ${FOLIOS * 32} pages): untraced ${base.toFixed(1)} ms`);
console.log(`  events built, no sink ${nullSink.toFixed(1)} ms  (${(nullSink / base).toFixed(2)}x): the components' share`);
console.log(`  traced jsonl    ${jsonl.toFixed(1)} ms  (${(jsonl / base).toFixed(2)}x)`);
console.log(`  traced perfetto ${perfetto.toFixed(1)} ms  (${(perfetto / base).toFixed(2)}x)`);
rmSync(dir, { recursive: true, force: true });
