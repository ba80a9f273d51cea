/**
 * The cost model: its arithmetic on given counts, the broadcast domain scaling, `--set
 * cost.<param>=value` parsing, the per-event cycles of the trace's time base, and the ordering it
 * gives real runs of the regression pattern (contpte folding costs more than no folding).
 */
import { describe, expect, it } from 'vitest';
import {
  broadcastTlbiCycles,
  COST_PARAM_NAMES,
  costParamsWith,
  defaultCostParams,
  partitionSets,
  summaryCost,
  describeCostParams,
  eventCycles,
  modelCost,
  parseCostSet,
} from '../../src/report/cost.js';
import { buildSummary, countsFromSnapshot, type Counts } from '../../src/report/summary.js';
import type { LabEvent, TraceRecord } from '../../src/trace/events.js';
import { UsageError } from '../../src/util/errors.js';
import { Pf3Workload } from '../trace/workload.js';

function counts(): Counts {
  return countsFromSnapshot({
    fault: { total: 100, by_path: { do_shared_fault: 90, do_anonymous_page: 10 }, by_hw_kind: { translation: 100 }, fault_retries: 2, major: 0, signals: {} },
    folio: { allocs_by_order: { '0': 10, '4': 2 }, frees_by_order: {} },
    alloc: { zeroed_pages: 42 },
    mm: { ptes_mapped: 120, ptes_zapped: 80 },
    pgtable: { pte_writes: 300, pte_atomics: 100, fold_attempts: 5 },
    tlbi: { total: 8, by_op: { RVALE1IS: 6, VALE1: 2 }, by_site: {}, by_chain: {} },
    dsb: { total: 12 },
    tlb: { walks: 10, walk_levels_read: 40 },
    syscalls: { calls: 7, by_name: {} },
  });
}

describe('modelCost', () => {
  it('multiplies every count by its cycles and adds them up', () => {
    const p = { ...defaultCostParams(), cpus: 4 };
    const r = modelCost(counts(), 100, p);
    expect(broadcastTlbiCycles(p)).toBe(500 + 20 * 3);
    expect(r.inputs).toEqual({
      faults: 100,
      fault_retries: 2,
      page_cache_lookups: 90,
      folio_allocs: 12,
      zeroing: 42,
      page_maps: 200,
      pte_writes: 200,
      pte_atomics: 100,
      fold_attempts: 5,
      tlbi_local: 2,
      tlbi_broadcast: 6,
      tlbi_received: 0,
      dsb: 12,
      walks: 40,
      syscalls: 7,
    });
    expect(r.breakdown).toEqual({
      faults: 450_000,
      fault_retries: 2_000,
      page_cache_lookups: 22_500,
      folio_allocs: 4_800,
      zeroing: 21_000,
      page_maps: 12_000,
      pte_writes: 800,
      pte_atomics: 2_500,
      fold_attempts: 300,
      tlbi_local: 40,
      tlbi_broadcast: 3_360,
      tlbi_received: 0,
      dsb: 360,
      walks: 1_000,
      syscalls: 1_750,
    });
    expect(r.cycles).toBe(522_410);
    expect(r.cycles_per_op).toBe(5224.1);
    expect(r.ops_per_sec).toBeCloseTo(2.6e9 / 5224.1, 6);
    expect(r.seconds).toBeCloseTo(522_410 / 2.6e9, 15);
    expect(r.estimate).toBe(true);
    expect(r.notes).toEqual(['page-cache lookups not counted (pagecache.lookups): one per fault resolved by a file fault path assumed']);
  });

  it('uses the page cache\'s own lookup count when it has one, and 4 reads per walk when reads were not counted', () => {
    const c = counts();
    c.pagecache = { lookups: 7 };
    c.tlb = { ...c.tlb, walk_levels_read: 0 };
    c.mm = {};
    const r = modelCost(c, null);
    expect(r.inputs.page_cache_lookups).toBe(7);
    expect(r.inputs.walks).toBe(40);
    expect(r.inputs.page_maps).toBe(0);
    expect(r.notes).toEqual([
      'PTEs mapped and zapped not counted (mm.ptes_mapped, mm.ptes_zapped): taken as 0',
      'descriptor reads not counted (tlb.walk_levels_read): 4 per walk assumed',
    ]);
    expect(r.cycles_per_op).toBeNull();
    expect(r.ops_per_sec).toBeNull();
  });

  it('a bigger broadcast domain makes only broadcast TLBIs dearer', () => {
    const one = modelCost(counts(), 100, costParamsWith(['cost.cpus=1']));
    const many = modelCost(counts(), 100, costParamsWith(['cost.cpus=128']));
    expect(many.breakdown.tlbi_broadcast - one.breakdown.tlbi_broadcast).toBe(6 * 20 * 127);
    expect(many.cycles - one.cycles).toBe(6 * 20 * 127);
  });

  it('with other busy CPUs, each broadcast TLBI also costs its copies received by them', () => {
    const alone = modelCost(counts(), 100, costParamsWith(['cost.cpus=128']));
    const busy = modelCost(counts(), 100, costParamsWith(['cost.cpus=128', 'cost.busy_cpus=128']));
    expect(busy.inputs.tlbi_received).toBe(6 * 127);
    expect(busy.breakdown.tlbi_received).toBe(6 * 127 * 200);
    expect(busy.cycles - alone.cycles).toBe(6 * 127 * 200);
    expect(() => costParamsWith(['cost.busy_cpus=4'])).toThrow('--set: cost.busy_cpus (4) is more than cost.cpus (1): busy CPUs are CPUs of the broadcast domain');
  });

  it('puts real runs of the regression pattern in the right order: folding costs more than no folding', () => {
    const run = (contpte: boolean): number => {
      const w = new Pf3Workload([5, 5], { contpte });
      w.pass();
      return modelCost(countsFromSnapshot(w.telemetry.stats.snapshot()), 64, costParamsWith(['cost.cpus=128'])).cycles;
    };
    const folded = run(true);
    const plain = run(false);
    // 4 converts more: 4 × (16 atomic clears + 16 stores + a fold scan + one RVALE1IS + 3 DSBs).
    expect(folded).toBeGreaterThan(plain);
  });
});

describe('cost parameters', () => {
  it('--set cost.<param>=value overrides a default, in order; the prefix may be left out', () => {
    const p = costParamsWith(['cost.tlbi_broadcast=800', 'cpus=64', 'cost.clock_ghz=3.2', 'cost.tlbi_broadcast=900']);
    expect(p).toEqual({ ...defaultCostParams(), tlbi_broadcast: 900, cpus: 64, clock_ghz: 3.2 });
    expect(parseCostSet('cost.zero_page=1e3')).toEqual(['zero_page', 1000]);
  });

  it('an unknown parameter is a usage error listing them all', () => {
    expect(() => parseCostSet('cost.tlbi=5')).toThrow(UsageError);
    expect(() => parseCostSet('cost.tlbi=5')).toThrow(`--set: unknown cost parameter 'tlbi' (expected one of: ${COST_PARAM_NAMES.join(', ')})`);
  });

  it('values must be numbers of the right kind', () => {
    expect(() => parseCostSet('cost.dsb=fast')).toThrow("--set: cost.dsb: 'fast' is not a non-negative number (cycles/DSB)");
    expect(() => parseCostSet('cost.dsb=-1')).toThrow("--set: cost.dsb: '-1' is not a non-negative number");
    expect(() => parseCostSet('cost.cpus=1.5')).toThrow("--set: cost.cpus: '1.5' is not a whole number (CPUs)");
    expect(() => parseCostSet('cost.cpus=0')).toThrow('--set: cost.cpus: must be more than 0 (CPUs)');
    expect(() => parseCostSet('cost.clock_ghz')).toThrow("--set: 'cost.clock_ghz' is not cost.<param>=<value>");
  });

  it('describes the parameters as name=value words, in a fixed order', () => {
    expect(describeCostParams(defaultCostParams())).toBe(
      'clock_ghz=2.6 cpus=1 busy_cpus=1 fault_entry_exit=4500 fault_retry=1000 page_cache_lookup=250 folio_alloc=400 zero_page=500 page_map=60 pte_write=4 pte_atomic=25 fold_attempt=60 tlbi_local=20 tlbi_broadcast=500 tlbi_broadcast_per_cpu=20 tlbi_received=200 dsb=30 walk_level=25 syscall=250',
    );
  });
});

describe('partitionSets and summaryCost', () => {
  it("splits a run's --set list into kernel knobs and cost parameters", () => {
    expect(partitionSets(['contpte=off', 'cost.cpus=8', 'anon_mthp=64K,2M', 'cost.dsb=1'])).toEqual({ knobs: ['contpte=off', 'anon_mthp=64K,2M'], cost: ['cost.cpus=8', 'cost.dsb=1'] });
    expect(() => partitionSets(['cost.nope=1'])).toThrow("--set: unknown cost parameter 'nope'");
    expect(() => partitionSets(['contpte'])).toThrow("--set: 'contpte' is not knob=value (e.g. contpte=off, or cost.cpus=64 for the cost model)");
  });

  it("models a summary's measured region: its last dump when there is one", () => {
    const c = counts();
    const s = buildSummary({ exitCode: 0, end: { reason: 'exit' }, profile: 'p', policy: {}, snapshot: {}, ops: 5, dumps: [] });
    expect(summaryCost(s).cycles).toBe(0);
    const withDump = { ...s, dumps: [{ label: 'd', ops: 100, counts: c }] };
    expect(summaryCost(withDump)).toEqual(modelCost(c, 100));
  });
});

describe('eventCycles', () => {
  it('gives each traced event its modeled cycles', () => {
    const p = { ...defaultCostParams(), cpus: 8, busy_cpus: 3 };
    const c = eventCycles(p);
    const U = { lo: 0, hi: 0 };
    const at = (r: LabEvent): number => c({ ...r, seq: 0 } as TraceRecord);
    expect(at({ kind: 'fault', va: 0, access: 'write', fault: 'translation', level: 3, handled: 'x' })).toBe(4500);
    expect(at({ kind: 'walk', va: 0, asid: 2, levels: 3, result: 'ok', level: 3 })).toBe(75);
    expect(at({ kind: 'pte_write', va: 0, ptep: 0, level: 3, old: U, new: U, chain: '' })).toBe(4);
    expect(at({ kind: 'fold_attempt', va: 0, chain: '' })).toBe(60);
    expect(at({ kind: 'tlbi', op: 'RVALE1IS', operand: U, decoded: '', chain: '', site: '', removed: 0 })).toBe(500 + 20 * 7 + 200 * 2);
    expect(at({ kind: 'tlbi', op: 'VALE1', operand: U, decoded: '', chain: '', site: '', removed: 0 })).toBe(20);
    expect(at({ kind: 'dsb', domain: 'ish', chain: '' })).toBe(30);
    expect(at({ kind: 'syscall', nr: 64, name: 'write', args: [], ret: 0, pc: 0 })).toBe(250);
    expect(at({ kind: 'fold', va: 0, chain: '' })).toBe(0);
    expect(at({ kind: 'marker', action: 'mark', name: 'x' })).toBe(0);
  });
});
