/**
 * The ASID allocator (src/mm/asid.ts, arch/arm64/mm/context.c v6.12) driven through MmKernel:
 * which ASID each mm gets, when a generation rolls over, and which CPU flushes its TLB when.
 */
import { describe, expect, it } from 'vitest';
import { ASID_FIRST_VERSION, MmKernel, PROT_READ, PROT_WRITE, MAP_ANONYMOUS, MAP_PRIVATE, accessUser, type Process } from '../../src/mm/index.js';
import { buildSummary } from '../../src/report/summary.js';
import { renderSummaryText } from '../../src/report/summary-text.js';

function kernel(sets: string[]): MmKernel {
  return new MmKernel({ profile: 'linux-6.12', sets: ['mem_mb=32', ...sets] });
}

/** switch_mm of CPU `cpu` to `p`. */
function run(k: MmKernel, cpu: number, p: Process): void {
  k.mmu.selectCpu(cpu);
  k.switchTo(p);
}

const gen = (p: Process): number => Math.floor(p.contextId / ASID_FIRST_VERSION);

describe('the ASID allocator', () => {
  it('8-bit ASIDs on two CPUs: 127 even ASIDs, a rollover that keeps the live ones, 251 more, a second rollover', () => {
    const k = kernel(['asid_bits=8', 'cpus=2']);
    const s = k.telemetry.stats;
    const ps: Process[] = [];
    const fork = (): Process => {
      const p = k.newProcess();
      ps.push(p);
      return p;
    };
    run(k, 0, fork());
    run(k, 1, fork());
    // CONFIG_UNMAP_KERNEL_AT_EL0 holds the odd ASIDs back until the first rollover.
    while (ps.length < 127) fork();
    expect(ps.map((p) => p.asid)).toEqual(Array.from({ length: 127 }, (_, i) => 2 * i + 2));
    expect(ps.every((p) => gen(p) === 1)).toBe(true);
    expect(k.asids.stats.rollovers).toBe(0);
    expect(s.snapshot()['tlbi']!['total']).toBe(0);

    // The 128th: a new generation; the ASIDs CPUs 0 and 1 run (2 and 4) stay reserved, the rest
    // is free again, odd ones included; CPU 1 (where the mm was made) flushes at once.
    const p127 = fork();
    expect([gen(p127), p127.asid]).toEqual([2, 1]);
    expect(k.asids.stats.rollovers).toBe(1);
    expect(k.asids.stats.local_flushes).toEqual({ '1': 1 });
    expect(k.asids.owesFlush(0)).toBe(true);
    expect(k.asids.owesFlush(1)).toBe(false);

    // CPU 0 switches to an mm of the old generation whose ASID is free: it keeps it, and CPU 0
    // pays its flush now.
    run(k, 0, ps[2]!);
    expect([gen(ps[2]!), ps[2]!.asid]).toEqual([2, 6]);
    expect(k.asids.stats.local_flushes).toEqual({ '0': 1, '1': 1 });
    // Back to the mm CPU 0 ran at the rollover: its ASID was reserved for it.
    run(k, 0, ps[0]!);
    expect([gen(ps[0]!), ps[0]!.asid]).toEqual([2, 2]);
    expect(k.asids.stats.kept).toBe(2);
    // CPU 1 switches to the new mm: current generation, nothing owed, no flush.
    run(k, 1, p127);
    expect(k.asids.stats.local_flushes).toEqual({ '0': 1, '1': 1 });

    // Generation 2 has 1, 2, 4 and 6 taken: 251 more ASIDs (3, 5, 7, 8, ... 255), then the next rollover.
    const before = ps.length;
    while (k.asids.stats.rollovers < 2) fork();
    expect(ps.length - before).toBe(252);
    expect(ps.slice(before, before + 4).map((p) => p.asid)).toEqual([3, 5, 7, 8]);
    expect(ps[ps.length - 2]!.asid).toBe(255);
    // Reserved in generation 3: CPU 0's ps[0] (2) and CPU 1's p127 (1); the next free is 3.
    expect([gen(ps[ps.length - 1]!), ps[ps.length - 1]!.asid]).toEqual([3, 3]);
    expect(k.asids.stats).toMatchObject({ rollovers: 2, allocated: 127 + 1 + 252, local_flushes: { '0': 1, '1': 2 } });

    const c = buildSummary({ exitCode: 0, end: { reason: 'exit' }, profile: 'linux-6.12', policy: {}, snapshot: s.snapshot(), cpus: 2 }).counts;
    // Every flush is DSB NSHST, TLBI VMALLE1, DSB NSH on the CPU that owed it.
    expect(c.tlbi.by_op).toEqual({ VMALLE1: 3 });
    expect(c.tlbi.by_site).toEqual({ new_context: 2, check_and_switch_context: 1 });
    expect(c.tlbi.by_chain).toEqual({ 'new_context > local_flush_tlb_all': 2, 'check_and_switch_context > local_flush_tlb_all': 1 });
    expect(c.dsb_by_domain).toMatchObject({ nshst: 3, nsh: 3, ish: 0, ishst: 0 });
    expect(c.cpus.map((x) => x.tlbi_issued)).toEqual([1, 2]);
    expect(c.cpus.map((x) => x.tlbi_received)).toEqual([0, 0]);
    expect(c.asid).toEqual({ rollovers: 2, allocated: 380, kept: 2, slow_paths: 5, local_flushes: 3, local_flushes_by_cpu: { '0': 1, '1': 2 } });
    const text = renderSummaryText(buildSummary({ exitCode: 0, end: { reason: 'exit' }, profile: 'linux-6.12', policy: {}, snapshot: s.snapshot(), cpus: 2 }), 100);
    const lines = text.split('\n');
    const at = lines.findIndex((l) => l.startsWith('ASID rollovers'));
    expect(lines.slice(at, at + 4).map((l) => l.trimEnd().replace(/(\S) +/g, '$1 '))).toEqual(['ASID rollovers 2', '  local flushes (VMALLE1), by CPU 3', '    cpu0 1', '    cpu1 2']);
  });

  it('under KPTI ASIDs stay even in every generation, the user half is asid | 1', () => {
    const k = kernel(['asid_bits=8', 'cpus=1', 'kpti=on']);
    const ps: Process[] = [];
    run(k, 0, k.newProcess());
    for (let i = 0; i < 200; i++) ps.push(k.newProcess());
    expect(k.asids.stats.rollovers).toBe(1);
    // Generation 2: ASID 2 is reserved for CPU 0's mm, so the search from 1 finds 4 first.
    const gen2 = ps.filter((p) => gen(p) === 2);
    expect(gen2.length).toBe(200 - 126);
    expect(gen2.slice(0, 3).map((p) => [p.asid, p.userAsid])).toEqual([[4, 5], [6, 7], [8, 9]]);
    expect(ps.every((p) => p.asid % 2 === 0 && p.userAsid === (p.asid | 1))).toBe(true);
  });

  it('16-bit ASIDs (the default): no rollover in 1,000 address spaces, no TLBI, the same ASIDs as before', () => {
    const k = kernel([]);
    const ps = Array.from({ length: 1000 }, () => k.newProcess());
    for (let i = 0; i < 4; i++) run(k, i, ps[i]!);
    expect(ps[999]!.asid).toBe(2000);
    expect(k.asids.stats).toMatchObject({ rollovers: 0, local_flushes: {} });
    expect(k.telemetry.stats.snapshot()['tlbi']!['total']).toBe(0);
    // A run that never rolls over says nothing about ASIDs in its text summary.
    const text = renderSummaryText(buildSummary({ exitCode: 0, end: { reason: 'exit' }, profile: 'linux-6.12', policy: {}, snapshot: k.telemetry.stats.snapshot(), cpus: 4 }), 100);
    expect(text).not.toContain('ASID');
  });

  it('refuses an ASID space no bigger than the CPU count, with a usage error', () => {
    expect(() => kernel(['asid_bits=8', 'cpus=200', 'kpti=on'])).toThrow(/^asid_bits=8: 127 usable ASIDs \(kpti=on uses pairs\) are not more than the 200 CPUs/);
    expect(() => kernel(['asid_bits=12'])).toThrow(/--set asid_bits=12: expected 8\|16/);
  });
});

describe('what the rollover flush prevents', () => {
  const VA = 0x10_0000_0000;
  const anon = { addr: VA, len: 4096, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS, file: null, pgoff: 0 };

  /** A live process with VA written (its TLB entry on CPU 0), then CPU 0 switched to another mm. */
  function ownerSwitchedAway(k: MmKernel): { a: Process; pa: number } {
    const a = k.newProcess();
    run(k, 0, a);
    expect(a.mmap(anon)).toBe(VA);
    const t = accessUser(a, VA, 'write');
    if (!t.ok) throw new Error('no translation');
    run(k, 0, k.newProcess());
    return { a, pa: t.pa };
  }

  it("with the allocator: the ASID goes to another mm only in a new generation, after the CPU's flush", () => {
    const k = kernel(['asid_bits=8', 'cpus=1']);
    const { a, pa } = ownerSwitchedAway(k);
    const asidA = a.asid;
    expect(k.mmu.tlb.lookup(VA, asidA)?.pa).toBe(pa);
    let b: Process;
    do b = k.newProcess();
    while (b.asid !== asidA);
    // A was not running at the rollover, so its ASID was free for the taking; the rollover's
    // flush emptied CPU 0's TLB before B could use it.
    expect(k.asids.stats.rollovers).toBe(1);
    expect(gen(b)).toBe(2);
    expect(k.mmu.tlb.lookup(VA, asidA)).toBeNull();
    run(k, 0, b);
    expect(b.mmap(anon)).toBe(VA);
    const tb = accessUser(b, VA, 'write');
    expect(tb.ok && tb.pa !== pa).toBe(true);
    // A comes back with another ASID of the new generation, and still sees its own page.
    run(k, 0, a);
    expect([gen(a), a.asid === asidA]).toEqual([2, false]);
    const ta = accessUser(a, VA, 'read');
    expect(ta.ok && ta.pa).toBe(pa);
    expect(k.mmu.checker.findings).toEqual([]);
  });

  it('an ASID reused without the flush: the stale entry answers for the new mm, and the checker reports it', () => {
    const k = kernel(['asid_bits=8', 'cpus=1']);
    const { a, pa } = ownerSwitchedAway(k);
    // A broken allocator: a new mm gets the live mm's context id, without a rollover or a flush.
    const b = k.newProcess();
    b.contextId = a.contextId;
    run(k, 0, b);
    expect(k.mmu.checker.findings.map((f) => [f.rule, f.asid])).toEqual([['bbm_asid_reuse', a.asid]]);
    // B has mapped nothing at VA, yet the access succeeds: into A's page.
    const t = accessUser(b, VA, 'read');
    expect(t.ok && t.pa).toBe(pa);
  });
});
