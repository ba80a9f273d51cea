/**
 * The modeled machine beyond the simulated CPUs (src/report/extrapolate.ts): exact figures from
 * known counts, the symmetry they rest on checked against a real run, and where they are shown.
 */
import { describe, expect, it } from 'vitest';
import { costParamsWith, modelCost, summaryCost } from '../../src/report/cost.js';
import { extrapolateCpus } from '../../src/report/extrapolate.js';
import { countsFromSnapshot, measured } from '../../src/report/summary.js';
import { renderSummaryText } from '../../src/report/summary-text.js';
import { firmwareBinary } from '../firmware/cases.js';
import { runCaptured } from '../machine/helpers.js';

/** Four busy CPUs of eight simulated: each issued 10 broadcasts, CPU 0 also 2 local TLBIs. */
function fourBusy() {
  return countsFromSnapshot(
    {
      tlbi: { total: 42, by_op: { VALE1IS: 40, VALE1: 2 }, by_site: {}, by_chain: {} },
      cpus: {
        tlbi_issued: { '0': 12, '1': 10, '2': 10, '3': 10 },
        tlbi_received: { '0': 30, '1': 30, '2': 30, '3': 30, '4': 40, '5': 40, '6': 40, '7': 40 },
        invalidated_entries: {},
      },
    },
    8,
  );
}

describe('extrapolating from simulated busy CPUs', () => {
  it('each simulated broadcast stands for M/N: exact figures for N = 4, M = 16, C = 64', () => {
    const x = extrapolateCpus(fourBusy(), { cpus: 64, busy_cpus: 16 });
    expect(x).toEqual({
      extrapolated: true,
      modeled_cpus: 64,
      modeled_busy_cpus: 16,
      simulated_busy_cpus: 4,
      simulated: [0, 1, 2, 3],
      factor: 4,
      tlbi_issued: 168,
      broadcasts: 160,
      // 16 busy CPUs receive 40 x 15 / 4 each, 48 idle ones all 160: 2,400 + 7,680.
      tlbi_received: 160 * 63,
      per_busy_cpu: { tlbi_issued: 10.5, tlbi_received: 150 },
      per_idle_cpu: { tlbi_received: 160 },
    });
    // The symmetry it rests on: a simulated busy CPU received 30 from its 3 busy peers; 15 peers send 150.
    expect((30 * 15) / 3).toBe(x!.per_busy_cpu.tlbi_received);
  });

  it("a CPU whose only TLBI was a rollover's local flush is not a busy one", () => {
    const c = countsFromSnapshot(
      {
        tlbi: { total: 43, by_op: { VALE1IS: 40, VALE1: 2, VMALLE1: 1 }, by_site: {}, by_chain: {} },
        cpus: { tlbi_issued: { '0': 12, '1': 10, '2': 10, '3': 10, '5': 1 }, tlbi_received: {}, invalidated_entries: {} },
        asid: { rollovers: 1, allocated: 0, kept: 0, slow_paths: 1, local_flushes: { '5': 1 } },
      },
      8,
    );
    const x = extrapolateCpus(c, { cpus: 64, busy_cpus: 16 })!;
    expect([x.simulated, x.factor, x.broadcasts]).toEqual([[0, 1, 2, 3], 4, 160]);
  });

  it('nothing to extrapolate: no more modeled busy CPUs than simulated ones, or no TLBI at all', () => {
    expect(extrapolateCpus(fourBusy(), { cpus: 8, busy_cpus: 4 })).toBeNull();
    expect(extrapolateCpus(fourBusy(), { cpus: 8, busy_cpus: 1 })).toBeNull();
    expect(extrapolateCpus(countsFromSnapshot({}, 4), { cpus: 128, busy_cpus: 128 })).toBeNull();
    // The cost model's default parameters never extrapolate: its results are unchanged.
    expect(modelCost(fourBusy(), 10).cpus_extrapolated).toBeUndefined();
    expect(modelCost(fourBusy(), 10, costParamsWith(['cost.cpus=64', 'cost.busy_cpus=16'])).cpus_extrapolated?.factor).toBe(4);
  });

  it('a real run: wis_harness -t 4 on 16 modeled CPUs, extrapolated to 16 busy ones', async () => {
    const r = await runCaptured({ elf: firmwareBinary('wis_harness'), args: ['-c', 'page_fault3', '-m', 'processes', '-t', '4', '-z', '1M', '-i', '4', '-q'], sets: ['cpus=16'], maxSeconds: 120 });
    expect(r.end.exitCode, r.end.message).toBe(0);
    const c = measured(r.summary).counts;
    expect(c.cpus.length).toBe(16);
    const busy = c.cpus.filter((x) => x.tlbi_issued > 0);
    expect(busy.length).toBe(4);
    const b = Object.entries(c.tlbi.by_op).filter(([op]) => op.endsWith('IS')).reduce((n, [, v]) => n + v, 0);
    expect(b).toBe(c.tlbi.total);
    // Symmetric workers: each simulated busy CPU issued a quarter and received the other three's.
    for (const x of busy) expect([x.tlbi_issued, x.tlbi_received]).toEqual([b / 4, (3 * b) / 4]);
    const cost = summaryCost(r.summary, costParamsWith(['cost.cpus=16', 'cost.busy_cpus=16']));
    const x = cost.cpus_extrapolated!;
    expect([x.simulated_busy_cpus, x.factor, x.broadcasts]).toEqual([4, 4, 4 * b]);
    // Extrapolated, a busy CPU receives the broadcasts of 15 peers: five times what 3 peers sent.
    expect(x.per_busy_cpu.tlbi_received).toBe(5 * busy[0]!.tlbi_received);
    // What the cost model charges per op for receipts is the same assumption.
    expect(cost.inputs.tlbi_received).toBe(x.per_busy_cpu.tlbi_received * 4);
    const text = renderSummaryText(r.summary, 100, { result: cost, source: measured(r.summary).source });
    expect(text).toContain(`EXTRAPOLATED, not simulated: 4 simulated busy CPUs (${busy.map((y) => `cpu${y.cpu}`).join(',')}) stand for 16 of 16, each broadcast for 4:`);
  }, 180_000);
});
