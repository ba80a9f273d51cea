/**
 * `run --trace-format perfetto` on the machine's virtual time (the default `--trace-time virtual`):
 * the file passes the trace-event format's rules as Perfetto's JSON importer applies them
 * (trace-event-format.ts), time stamps are the CPUs' virtual clocks in µs, a fault is a slice that
 * contains its set_ptes, contpte_try_fold, contpte_convert and TLBI slices, each guest thread has
 * its track and each CPU one, a capped trace still nests; and traces/perfetto's sample is what its
 * documented command writes today.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runMachine } from '../../src/machine/run.js';
import { DEFAULT_BOOT_NS } from '../../src/linux/clock.js';
import { defaultCostParams } from '../../src/report/cost.js';
import { MACHINE_PID } from '../../src/trace/sinks/timeline.js';
import { exec } from '../cli/exec.js';
import { allSlices, sliceTree, traceEventProblems, type TraceEventDoc } from './trace-event-format.js';

const dir = mkdtempSync(join(tmpdir(), 'trace-timeline-'));
const FOLD_SETS = ['tmp_fs=ext4', 'file_large_folios=on', 'contpte=on', 'finish_fault=page'];

async function traced(name: string, elf: string, args: string[], sets: string[], extra: { limit?: { kind: 'bytes'; bytes: number } } = {}) {
  const file = join(dir, name);
  const { summary } = await runMachine({
    elf,
    args,
    profile: 'linux-6.9',
    sets,
    stdout: () => {},
    trace: { file, format: 'perfetto', ...(extra.limit !== undefined ? { limit: extra.limit } : {}) },
  });
  return { summary, doc: JSON.parse(readFileSync(file, 'latin1')) as TraceEventDoc };
}

describe('Perfetto trace on virtual time', () => {
  it('page_fault3 with large folios: valid, stamped in µs of the virtual clock, faults containing their fold and TLBI', async () => {
    const { summary, doc } = await traced('pf3.json', 'firmware/bin/page_fault3', ['256K', '1'], FOLD_SETS);
    expect(traceEventProblems(doc)).toEqual([]);
    expect(doc.displayTimeUnit).toBe('ns');
    const ev = doc.traceEvents.filter((e) => e.ph !== 'M');
    // The first event is at boot: CLOCK_MONOTONIC's start, in µs.
    expect(ev[0]!.ts).toBe(Number(DEFAULT_BOOT_NS) / 1000);
    const pid = doc.traceEvents.find((e) => e.ph === 'M' && e.name === 'process_name' && e.pid !== MACHINE_PID)!.pid!;
    const roots = sliceTree(doc, pid, pid);
    // Every fault record ends its do_page_fault slice (none stands alone).
    expect(ev.filter((e) => e.cat === 'fault' && e.ph !== 'E')).toEqual([]);
    // The summary counts from the guest's last reset: so do these.
    const reset = ev.filter((e) => e.cat === 'marker' && e.args!['action'] === 'reset').pop()!;
    const faults = roots.filter((s) => s.args['end_cat'] === 'fault' && s.ts >= reset.ts!);
    const whole = summary.counts;
    expect(faults.length).toBe(whole.faults.total);
    for (const f of faults) {
      expect(f.name).toBe('do_page_fault');
      expect(typeof f.args['va']).toBe('number');
      expect(f.end).toBeGreaterThan(f.ts);
    }
    // Every fold: a fault slice > ... > set_ptes > contpte_try_fold > contpte_convert holding one TLBI RVALE1IS.
    const folding = faults.filter((f) => allSlices([f]).some((s) => s.name === 'contpte_convert' && s.cat === 'kernel'));
    expect(folding.length).toBe(whole.contpte_convert);
    expect(whole.contpte_convert).toBeGreaterThan(0);
    const f = folding[0]!;
    const names = allSlices([f]).filter((s) => s.cat === 'kernel').map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['handle_mm_fault', 'do_shared_fault', 'finish_fault', 'set_ptes', 'contpte_try_fold', 'contpte_convert']));
    const convert = allSlices([f]).find((s) => s.name === 'contpte_convert' && s.cat === 'kernel')!;
    const tlbis = allSlices([convert]).filter((s) => s.cat === 'tlbi');
    expect(tlbis.map((s) => s.name)).toEqual(['TLBI RVALE1IS']);
    // A TLBI lasts what it costs the clock (one CPU in the broadcast domain of 4: 3 others).
    const p = defaultCostParams();
    const tlbiUs = (p.tlbi_broadcast + p.tlbi_broadcast_per_cpu * 3) / p.clock_ghz / 1000;
    expect(tlbis[0]!.end - tlbis[0]!.ts).toBeCloseTo(tlbiUs, 3);
    expect(tlbis[0]!.ts).toBeGreaterThanOrEqual(convert.ts);
    expect(tlbis[0]!.end).toBeLessThanOrEqual(convert.end);
    expect(allSlices([f]).some((s) => s.cat === 'fold')).toBe(true);
    // A syscall's slice is its sys_ frame, ended by the syscall's record (name, arguments, return).
    const syscalls = roots.filter((s) => s.args['end_cat'] === 'syscall');
    expect(syscalls.map((s) => s.name)).toEqual(expect.arrayContaining(['sys_mmap', 'sys_munmap']));
    for (const s of syscalls) expect(s.name).toBe(`sys_${String(s.args['name'])}`);
    // The measured munmap of the file mapping flushes its range: its TLBIs are inside its slice.
    const munmaps = syscalls.filter((s) => s.name === 'sys_munmap' && s.ts >= reset.ts!);
    expect(munmaps.length).toBeGreaterThan(0);
    expect(munmaps.some((m) => allSlices([m]).some((s) => s.cat === 'tlbi'))).toBe(true);
    // The counter of TLBIs ends at the run's total.
    const counts = doc.traceEvents.filter((e) => e.ph === 'C' && e.name === 'TLBIs');
    expect(counts[counts.length - 1]!.args!['cumulative']).toBe(doc.traceEvents.filter((e) => e.cat === 'tlbi').length);
  });

  it('threads on two CPUs: a track per guest thread, one per CPU, time never going back on either', async () => {
    const { doc } = await traced('threads.json', 'firmware/bin/threads', [], ['cpus=2']);
    expect(traceEventProblems(doc)).toEqual([]);
    const threads = doc.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.pid !== MACHINE_PID);
    expect(threads.length).toBeGreaterThan(1);
    const cpus = doc.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.pid === MACHINE_PID).map((e) => e.args!['name']);
    expect(cpus).toEqual(['cpu0', 'cpu1']);
    const runs = doc.traceEvents.filter((e) => e.cat === 'cpu' && e.ph === 'X');
    expect(new Set(runs.map((e) => e.tid))).toEqual(new Set([1, 2]));
    expect(new Set(runs.map((e) => e.args!['tid'])).size).toBe(threads.length);
  });

  it('threads on two CPUs: each CPU has its TLB occupancy and contiguous coverage tracks, fed by its own TLB', async () => {
    const { doc } = await traced('threads-tlb.json', 'firmware/bin/threads', [], ['cpus=2', 'anon_mthp=64K']);
    expect(traceEventProblems(doc)).toEqual([]);
    const counters = new Set(doc.traceEvents.filter((e) => e.ph === 'C').map((e) => e.name));
    expect([...counters].sort()).toEqual(['TLB occupancy cpu0', 'TLB occupancy cpu1', 'TLBIs', 'contiguous coverage cpu0', 'contiguous coverage cpu1']);
    const tlb = doc.traceEvents.filter((e) => typeof e.cat === 'string' && e.cat.startsWith('tlb_'));
    // Both TLBs filled, and a broadcast TLBI removed entries from the TLB of a CPU that did not issue it.
    expect(new Set(tlb.filter((e) => e.cat === 'tlb_fill').map((e) => e.args!['cpu']))).toEqual(new Set([0, 1]));
    const cpuOfThread = new Map<number, Set<number>>();
    for (const e of doc.traceEvents.filter((x) => x.cat === 'cpu' && x.ph === 'X')) {
      const t = e.args!['tid'] as number;
      (cpuOfThread.get(t) ?? cpuOfThread.set(t, new Set()).get(t)!).add(e.tid! - 1);
    }
    expect(tlb.some((e) => e.cat === 'tlb_invalidate' && !(cpuOfThread.get(e.tid!)?.has(e.args!['cpu'] as number) ?? true))).toBe(true);
    // Each occupancy track ends where that CPU's last TLB event left it.
    for (const c of [0, 1]) {
      const last = tlb.filter((e) => e.args!['cpu'] === c).at(-1)!;
      const track = doc.traceEvents.filter((e) => e.ph === 'C' && e.name === `TLB occupancy cpu${c}`).at(-1)!;
      expect(track.args!['entries']).toBe(last.args!['occupancy']);
    }
  });

  it.each([
    ['fork_cow', 2],
    ['spawn', 2],
    ['signals', 1],
    ['pipe_pingpong', 2],
  ])('%s on two CPUs: valid, one process track per guest process (%i)', async (elf, processes) => {
    const { doc } = await traced(`${elf}.json`, `firmware/bin/${elf}`, [], ['cpus=2']);
    expect(traceEventProblems(doc)).toEqual([]);
    const pids = doc.traceEvents.filter((e) => e.ph === 'M' && e.name === 'process_name' && e.pid !== MACHINE_PID).map((e) => e.pid);
    expect(new Set(pids).size).toBeGreaterThanOrEqual(processes);
  });

  it('a trace capped in the middle of the kernel model still closes every slice', async () => {
    const { doc } = await traced('capped.json', 'firmware/bin/page_fault3', ['256K', '1'], FOLD_SETS, { limit: { kind: 'bytes', bytes: 48 * 1024 } });
    expect(traceEventProblems(doc)).toEqual([]);
    expect(doc.otherData!['truncated']).toBe(true);
  });

  it('the validator catches what Perfetto would mis-draw', () => {
    const e = (ph: string, ts: number, more: object = {}) => ({ name: 'x', ph, ts, pid: 1, tid: 1, ...more });
    expect(traceEventProblems({ traceEvents: [e('B', 1), e('X', 2, { dur: 5 }), e('E', 3)] })[0]).toMatch(/partial overlap/);
    expect(traceEventProblems({ traceEvents: [e('B', 5), e('E', 4)] })[0]).toMatch(/goes back in time/);
    expect(traceEventProblems({ traceEvents: [e('B', 1)] })[0]).toMatch(/B without E/);
    expect(traceEventProblems({ traceEvents: [e('X', 1)] })[0]).toMatch(/X without a non-negative dur/);
    expect(traceEventProblems({ traceEvents: [e('X', 1, { dur: 2 }), e('X', 2, { dur: 2 })] })[0]).toMatch(/overlaps its parent/);
    expect(traceEventProblems({ traceEvents: [e('B', 1), e('X', 1, { dur: 1 }), e('E', 2)] })).toEqual([]);
  });
});

describe('--trace-time', () => {
  it('picks the axis: virtual by default, cycles or seq when asked', async () => {
    const base = async (extra: string[]): Promise<string> => {
      const file = join(dir, `axis-${extra.join('') || 'default'}.json`);
      const r = await exec('node', ['dist/src/cli/main.js', 'run', 'firmware/bin/hello', '--trace', file, '--trace-format', 'perfetto', ...extra]);
      expect(r.code, r.err).toBe(0);
      const doc = JSON.parse(readFileSync(file, 'utf8')) as TraceEventDoc;
      expect(traceEventProblems(doc)).toEqual([]);
      return String(doc.otherData!['time_base']);
    };
    expect(await base([])).toBe('virtual (CLOCK_MONOTONIC of the modeled CPUs, us)');
    expect(await base(['--trace-time', 'cycles'])).toBe('cycles (modeled, at 2.6 GHz)');
    expect(await base(['--trace-time', 'seq'])).toBe('seq (event n at n us)');
  });

  it('is refused, in one line, where there is no time axis', async () => {
    const r = await exec('node', ['dist/src/cli/main.js', 'run', 'firmware/bin/hello', '--trace', join(dir, 'x.jsonl'), '--trace-time', 'cycles']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('contpte-lab: --trace-time cycles: only the perfetto format has a time axis (add --trace-format perfetto)\n');
    const r2 = await exec('node', ['dist/src/cli/main.js', 'run', 'firmware/bin/hello', '--trace-time', 'seq']);
    expect(r2.err).toBe('contpte-lab: --trace-time needs --trace FILE (there is no trace to time)\n');
  });
});

describe('traces/perfetto sample', () => {
  it('is what the command in traces/README.md writes', async () => {
    const readme = readFileSync('traces/README.md', 'utf8');
    const line = readme.split('\n').find((l) => l.includes('--trace traces/perfetto/page_fault3-fold.json'));
    expect(line, 'traces/README.md documents the command').toBeDefined();
    const args = line!.replace(/^\s*(npx )?contpte-lab /, '').trim().split(/\s+/).map((a) => a.replace(/^'|'$/g, ''));
    const out = join(dir, 'sample.json');
    const r = await exec('node', ['dist/src/cli/main.js', ...args.map((a) => (a === 'traces/perfetto/page_fault3-fold.json' ? out : a))], { timeoutMs: 120_000 });
    expect(r.code, r.err).toBe(0);
    const fresh = readFileSync(out, 'utf8');
    expect(traceEventProblems(JSON.parse(fresh))).toEqual([]);
    expect(fresh).toBe(readFileSync('traces/perfetto/page_fault3-fold.json', 'utf8'));
  });
});
