/**
 * The JSON summary: built from real stats snapshots (the page_fault3 pattern on the Workbench),
 * with the guest markers' reset/dump/ops semantics, the groups the memory manager and the
 * syscall layer register, reading it back from JSON, and its text rendering.
 */
import { describe, expect, it } from 'vitest';
import { buildSummary, countsFromSnapshot, MarkerCounts, measured, summaryFromJson, type Summary } from '../../src/report/summary.js';
import { renderSummaryText } from '../../src/report/summary-text.js';
import { costParamsWith, summaryCost } from '../../src/report/cost.js';
import type { StatsSnapshot } from '../../src/trace/stats.js';
import { Pf3Workload } from '../trace/workload.js';

const POLICY = { contpte: 'on', tmp_fs: 'ext4', file_large_folios: 'on' };

/** One page_fault3 pass over two order-5 folios, as test/pgtable/fold.test.ts derives it. */
const ONE_PASS = {
  faults: { total: 64, translation: 64 },
  fault_detail: { by_path: { do_shared_fault: 64 } },
  pte_writes: 256,
  pte_atomics: 128,
  folds: 4,
  unfolds: 0,
  contpte_convert: 4,
  fold_attempts: 4,
  contpte_set_ptes: 0,
  tlbi: { total: 5, by_op: { RVALE1IS: 5 }, by_site: { contpte_convert: 4, unmap_region: 1 } },
  bbm_violations: 0,
  contig_violations: 0,
};

describe('buildSummary', () => {
  it('has every key of docs/design.md with the exact counts of a run', () => {
    const w = new Pf3Workload([5, 5]);
    w.pass();
    const s = buildSummary({ exitCode: 0, end: { reason: 'exit' }, profile: 'linux-6.9', policy: POLICY, snapshot: w.telemetry.stats.snapshot() });
    expect(s).toMatchObject({ exit_code: 0, end: { reason: 'exit' }, profile: 'linux-6.9', policy: POLICY, ops: null, dumps: [] });
    expect(s.counts).toMatchObject(ONE_PASS);
    // Three more DSB ISHST than later passes: the first pass also populates the page tables.
    expect(s.counts).toMatchObject({ dsb: 13, dsb_by_domain: { ishst: 8, ish: 5, nshst: 0, nsh: 0, sy: 0 } });
    expect(s.counts.tlb).toMatchObject({ walks: 128, fills: 64, evictions: 0, invalidated_entries: 64, contiguous_fills: 4 });
    expect(Object.keys(s.counts.tlbi.by_chain)).toEqual([
      'do_shared_fault > set_ptes > contpte_try_fold > contpte_convert > __flush_tlb_range > __flush_tlb_range_nosync',
      'unmap_region > tlb_flush_mmu > tlb_flush_mmu_tlbonly > tlb_flush > __flush_tlb_range > __flush_tlb_range_nosync',
    ]);
    expect(s.counts.folios.allocated).toEqual({ '5': 2 });
    // The workbench registers alloc, folio, tlb, tlbi, dsb, checker, cpus and pgtable, the workload fault: all interpreted.
    expect(s.counts.other).toEqual({});
    // One CPU: it issued every TLBI and lost every invalidated entry; nobody received a broadcast.
    expect(s.counts.cpus).toEqual([{ cpu: 0, tlbi_issued: s.counts.tlbi.total, tlbi_received: 0, invalidated_entries: 64 }]);
  });

  it("markers: reset hides what came before, dump records reset-to-dump, ops count the guest's operations", () => {
    const w = new Pf3Workload([5, 5]);
    const m = new MarkerCounts(w.telemetry.stats);
    // "Start-up": two passes the measurement must not see.
    w.pass();
    w.pass();
    m.addOps(999);
    m.reset();
    w.pass();
    m.addOps(32);
    m.addOps(32);
    m.dump('page_fault3');
    // "Exit": one more pass after the dump, seen by counts but not by the dump.
    w.pass();
    const s = buildSummary({ exitCode: 0, end: { reason: 'exit' }, profile: 'linux-6.9', policy: POLICY, snapshot: w.telemetry.stats.snapshot(), ops: m.ops, dumps: m.dumps });
    expect(s.ops).toBe(64);
    expect(s.dumps).toHaveLength(1);
    expect(s.dumps[0]!.label).toBe('page_fault3');
    expect(s.dumps[0]!.ops).toBe(64);
    expect(s.dumps[0]!.counts).toMatchObject({ ...ONE_PASS, dsb: 10, dsb_by_domain: { ishst: 5, ish: 5 } });
    expect(s.counts).toMatchObject({ pte_writes: 512, folds: 8, contpte_convert: 8, tlbi: { total: 10, by_op: { RVALE1IS: 10 } }, dsb: 20 });
    expect(measured(s)).toMatchObject({ ops: 64, source: "dump 'page_fault3'" });
    expect(measured(s).counts.tlbi.total).toBe(5);
    expect(measured({ ...s, dumps: [] })).toMatchObject({ ops: 64, source: 'whole run' });
  });

  it("reads the memory manager's fault group and the syscall layer's group as they register them", () => {
    const snap: StatsSnapshot = {
      fault: { total: 10, by_path: { do_shared_fault: 8, do_anonymous_page: 2 }, by_hw_kind: { translation: 9, permission: 1 }, fault_retries: 3, major: 1, signals: {} },
      syscalls: { calls: 7, by_name: { mmap: 2, munmap: 2, lab_marker: 3 }, errors: 1, unimplemented: { nr999: 1 } },
      mm: { ptes_mapped: 10, set_ptes_by_nr: { '1': 10 } },
      engine: { svc: 7, data_aborts: 10 },
      alloc: { zeroed_pages: 12, allocs_by_order: { '0': 12 } },
      pagecache: { folios_added: { '0': 12 }, write_bytes: 0 },
    };
    const c = countsFromSnapshot(snap);
    expect(c.faults).toEqual({ total: 10, translation: 9, permission: 1, major: 1 });
    expect(c.fault_detail).toEqual({ by_path: { do_shared_fault: 8, do_anonymous_page: 2 }, signals: {} });
    expect(c.fault_retries).toBe(3);
    expect(c.syscalls).toEqual({ total: 7, by_name: { mmap: 2, munmap: 2, lab_marker: 3 }, errors: 1, unimplemented: { nr999: 1 } });
    expect(c.mm).toEqual({ ptes_mapped: 10, set_ptes_by_nr: { '1': 10 } });
    expect(c.zeroed_pages).toBe(12);
    expect(c.pagecache).toEqual({ folios_added: { '0': 12 }, write_bytes: 0 });
    expect(c.other).toEqual({ engine: { svc: 7, data_aborts: 10 } });
    // Missing groups count as zero.
    expect(c.pte_writes).toBe(0);
    expect(c.tlbi).toEqual({ total: 0, by_op: {}, by_site: {}, by_chain: {} });
    expect(c.tlb).toEqual({ walks: 0, fills: 0, evictions: 0, invalidated_entries: 0, contiguous_fills: 0 });
  });

  it('snapshots are copies: counting on does not change a summary already built', () => {
    const w = new Pf3Workload([4]);
    w.pass();
    const s = buildSummary({ exitCode: 0, end: { reason: 'exit' }, profile: 'p', policy: {}, snapshot: w.telemetry.stats.snapshot() });
    const before = JSON.stringify(s);
    w.pass();
    expect(JSON.stringify(s)).toBe(before);
  });
});

describe('summaryFromJson', () => {
  it('reads back exactly what was written', () => {
    const w = new Pf3Workload([5]);
    const m = new MarkerCounts(w.telemetry.stats);
    w.pass();
    m.addOps(32);
    m.dump('one');
    const s = buildSummary({ exitCode: 3, end: { reason: 'signal', detail: 'SIGSEGV' }, profile: 'linux-6.12', policy: POLICY, snapshot: w.telemetry.stats.snapshot(), ops: m.ops, dumps: m.dumps });
    expect(summaryFromJson(JSON.parse(JSON.stringify(s)))).toEqual(s);
  });

  it('fills what a producer left out with zeros, and rejects what is not a summary', () => {
    const s = summaryFromJson({ exit_code: 0, counts: { faults: { total: 4 }, tlbi: { total: 2, by_op: { VALE1IS: 2 } } } });
    expect(s.counts.faults).toEqual({ total: 4 });
    expect(s.counts.tlbi).toEqual({ total: 2, by_op: { VALE1IS: 2 }, by_site: {}, by_chain: {} });
    expect(s.counts.tlb.walks).toBe(0);
    expect(s.end).toEqual({ reason: 'exit' });
    expect(s.dumps).toEqual([]);
    expect(() => summaryFromJson([])).toThrow('not a JSON object');
    expect(() => summaryFromJson({ exit_code: 0 })).toThrow("no 'counts' object");
    expect(() => summaryFromJson({ exit_code: 'x', counts: {} })).toThrow("'exit_code' is neither a number nor null");
  });
});

describe('renderSummaryText', () => {
  function small(): Summary {
    const snap: StatsSnapshot = {
      fault: { total: 4096, by_path: { do_shared_fault: 4096 }, by_hw_kind: { translation: 4096 }, fault_retries: 129, major: 1, signals: {} },
      pgtable: { pte_writes: 16320, pte_atomics: 12224, folds: 254, unfolds: 0, contpte_convert: 254, fold_attempts: 254, contpte_set_ptes: 0, warnings: 0, api_calls: {} },
      tlbi: { total: 263, by_op: { RVALE1IS: 262, RVAE1IS: 1 }, by_site: { contpte_convert: 254, zap_pte_range: 8, unmap_region: 1 }, by_chain: {}, walk_cache_invalidated: 0 },
      dsb: { total: 526, ishst: 263, ish: 263, nshst: 0, nsh: 0, sy: 0 },
      tlb: { walks: 4350, fills: 4350, evictions: 0, invalidated_entries: 4350, contiguous_fills: 254 },
      checker: { bbm_violations: 0, contig_violations: 0, by_rule: {} },
      syscalls: { calls: 5, by_name: { mmap: 1, munmap: 1, lab_marker: 3 }, errors: 0, unimplemented: {} },
    };
    return buildSummary({
      exitCode: 0,
      end: { reason: 'exit' },
      profile: 'linux-6.9',
      policy: { contpte: 'on', file_large_folios: 'on', finish_fault: 'page', tmp_fs: 'ext4' },
      snapshot: snap,
      ops: 4096,
      dumps: [{ label: 'page_fault3', ops: 4096, snapshot: snap }],
    });
  }

  it('prints the groups aligned, TLBIs by op and site, and a per-op column', () => {
    expect(renderSummaryText(small())).toBe(
      [
        'contpte-lab: exit code 0 (exit)',
        'profile   linux-6.9',
        'policy    contpte=on file_large_folios=on finish_fault=page tmp_fs=ext4',
        'ops       4,096 (lab_ops since the last reset)',
        '',
        '                        total    per op',
        'faults                  4,096     1.000',
        '  translation           4,096     1.000',
        '  major                     1  0.000244',
        '  retries                 129    0.0315',
        '  by path',
        '    do_shared_fault     4,096     1.000',
        'page tables',
        '  pte writes           16,320     3.984',
        '  pte atomics          12,224     2.984',
        '  folds                   254    0.0620',
        '  unfolds                   0         0',
        '  contpte_convert         254    0.0620',
        '  fold attempts           254    0.0620',
        '  contpte_set_ptes          0         0',
        'TLBI                      263    0.0642',
        '  by op',
        '    RVALE1IS              262    0.0640',
        '    RVAE1IS                 1  0.000244',
        '  by site',
        '    contpte_convert       254    0.0620',
        '    zap_pte_range           8   0.00195',
        '    unmap_region            1  0.000244',
        'DSB                       526     0.128',
        '  ish                     263    0.0642',
        '  ishst                   263    0.0642',
        'TLB',
        '  walks                 4,350     1.062',
        '  fills                 4,350     1.062',
        '  contiguous fills        254    0.0620',
        '  evictions                 0         0',
        '  invalidated entries   4,350     1.062',
        'checker',
        '  bbm violations            0         0',
        '  contig violations         0         0',
        'syscalls                    5   0.00122',
        '  lab_marker                3  0.000732',
        '  mmap                      1  0.000244',
        '  munmap                    1  0.000244',
        '',
        'dumps (each from the last reset to the dump)',
        '  page_fault3  ops 4,096, faults 4,096, pte writes 16,320, folds 254, unfolds 0, converts 254, TLBI 263, DSB 526',
        '',
      ].join('\n'),
    );
  });

  it('leaves the per-op column out when the guest counted no ops, and says how the run ended', () => {
    const s = { ...small(), ops: null, exit_code: null, end: { reason: 'budget' as const, detail: '--max-insns 1000 reached' }, dumps: [] };
    const text = renderSummaryText(s);
    expect(text.split('\n').slice(0, 7)).toEqual([
      'contpte-lab: no exit code (budget: --max-insns 1000 reached)',
      'profile   linux-6.9',
      'policy    contpte=on file_large_folios=on finish_fault=page tmp_fs=ext4',
      'ops       not counted (the guest made no lab_ops call)',
      '',
      '                        total',
      'faults                  4,096',
    ]);
    expect(text).not.toContain('dumps');
  });

  it('ends with the modeled figures when given the cost of the measured region', () => {
    const s = small();
    const cost = summaryCost(s, costParamsWith(['cost.cpus=128', 'cost.busy_cpus=128']));
    const text = renderSummaryText(s, 100, { result: cost, source: "dump 'page_fault3'" });
    const last = text.trimEnd().split('\n').slice(-5);
    expect(last[0]).toBe('');
    expect(last[1]).toBe(
      `modeled (an ESTIMATE, docs/cost-model.md): ${Math.round(cost.cycles_per_op!).toLocaleString('en-US')} cycles/op, ${Math.round(cost.ops_per_sec!).toLocaleString('en-US')} ops/s (dump 'page_fault3'; cpus=128 busy_cpus=128, 2.6 GHz)`,
    );
    expect(last.slice(2)).toEqual([
      '  note: PTEs mapped and zapped not counted (mm.ptes_mapped, mm.ptes_zapped): taken as 0',
      '  note: page-cache lookups not counted (pagecache.lookups): one per fault resolved by a file fault path assumed',
      '  note: descriptor reads not counted (tlb.walk_levels_read): 4 per walk assumed',
    ]);
  });
});
