/**
 * The ASID allocator in a whole run: fork_churn makes 301 address spaces (the parent and 300
 * children, at most 4 alive), more than 8-bit ASIDs give one generation (127 even ASIDs before
 * the first rollover), so the allocator rolls over once and each of the four CPUs pays one local
 * flush (DSB NSHST, TLBI VMALLE1, DSB NSH) at its next address-space switch; with the default
 * 16-bit ASIDs nothing of the kind happens. Runs are deterministic.
 */
import { describe, expect, it } from 'vitest';
import { firmwareBinary } from '../firmware/cases.js';
import { runCaptured } from './helpers.js';

describe('fork_churn with 8-bit ASIDs', () => {
  it('one rollover, one VMALLE1 on each CPU, no checker finding, the same counts on two runs', async () => {
    const run = () => runCaptured({ elf: firmwareBinary('fork_churn'), sets: ['asid_bits=8'], maxSeconds: 120 });
    const a = await run();
    expect(a.end.exitCode, a.end.message).toBe(0);
    expect(a.stdout).toBe('fork_churn: children=300 alive=4 ok\n');
    const c = a.summary.counts;
    expect(c.asid).toMatchObject({ rollovers: 1, local_flushes: 4, local_flushes_by_cpu: { '0': 1, '1': 1, '2': 1, '3': 1 } });
    // From the guest's reset on: the 300 children's mms (the parent's came before), 126 of them
    // in the first generation after the parent's, the other 174 in the second.
    expect(c.asid.allocated).toBe(300);
    expect(c.tlbi.by_op['VMALLE1']).toBe(4);
    // The CPU that forked the 128th child flushed at once; the other three at their next switch.
    expect(c.tlbi.by_chain['sys_clone > new_context > local_flush_tlb_all']).toBe(1);
    expect(c.tlbi.by_chain['check_and_switch_context > local_flush_tlb_all']).toBe(3);
    expect(c.dsb_by_domain).toMatchObject({ nshst: 4, nsh: 4 });
    expect([c.bbm_violations, c.contig_violations]).toEqual([0, 0]);
    const b = await run();
    expect(JSON.stringify(b.summary)).toBe(JSON.stringify(a.summary));
  }, 240_000);

  it('16-bit ASIDs (the profiles): no rollover, no local flush', async () => {
    const r = await runCaptured({ elf: firmwareBinary('fork_churn'), args: ['130'], maxSeconds: 120 });
    expect(r.end.exitCode, r.end.message).toBe(0);
    expect(r.summary.counts.asid).toMatchObject({ rollovers: 0, allocated: 130, local_flushes: 0 });
    expect(r.summary.counts.tlbi.by_op['VMALLE1']).toBeUndefined();
  }, 240_000);
});
