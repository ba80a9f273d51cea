/**
 * ShadowForest: one shadow tree per (CPU, ASID), each equal to its part of that CPU's model TLB
 * through fills, removals, global entries, selection and eviction.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Engine, PHYS_BASE, ShadowForest } from '../../src/engine/index.js';
import { TTBR0_EL1 } from '../../src/engine/sysregs.js';
import { shadowPermsOf } from '../../src/engine/tlb-sync.js';
import { PERM_EL0_R, PERM_EL0_W } from '../../src/mmu/perms.js';
import { Tlb, type TlbEntry } from '../../src/mmu/tlb.js';
import { tlbiVaOperand } from '../../src/mmu/tlbi.js';
import type { Translation } from '../../src/mmu/walker.js';

const PAGE = 4096;
const RW = PERM_EL0_R | PERM_EL0_W;

function translation(va: number, pa: number, o: { global?: boolean } = {}): Translation {
  return {
    ok: true, va, pa, level: 3, size: PAGE, contiguous: false,
    spanVa: va, spanSize: PAGE, spanPa: pa, global: o.global ?? false, perms: RW, attrIndx: 0, sh: 3,
    descPa: 0, desc: { lo: 0, hi: 0 }, levelsRead: 4, dirtyOnWrite: false, hwUpdates: 0,
  };
}

/** A TLB reporting to the forest, with its contents followed (the Tlb does not list them). */
function cpuTlb(forest: ShadowForest, cpu: number): { tlb: Tlb; live: Set<TlbEntry> } {
  const tlb = new Tlb({ entries: 64, ways: 4, contig: true });
  const live = new Set<TlbEntry>();
  const o = forest.observer(cpu);
  tlb.observer = {
    onFill: (e) => {
      live.add(e);
      o.onFill(e);
    },
    onRemove: (e, r, vaBase, span, asid) => {
      live.delete(e);
      o.onRemove(e, r, vaBase, span, asid);
    },
  };
  return { tlb, live };
}

/** What the shadow of (this TLB, asid) must hold. */
function expected(live: Set<TlbEntry>, asid: number): { vaBase: number; size: number; paBase: number; perms: ReturnType<typeof shadowPermsOf> }[] {
  return [...live].filter((e) => e.asid === -1 || e.asid === asid).map((e) => ({ vaBase: e.vaBase, size: e.span, paBase: e.pa, perms: shadowPermsOf(e.perms) }));
}

let engine: Engine | undefined;
afterEach(() => {
  engine?.close();
  engine = undefined;
});

describe('ShadowForest', () => {
  it('keeps one tree per CPU and ASID equal to that part of the TLB; selecting switches TTBR0 only', () => {
    const e = (engine = new Engine({ memMb: 16 }));
    const forest = new ShadowForest(e, 2);
    const c0 = cpuTlb(forest, 0);
    const c1 = cpuTlb(forest, 1);
    forest.select(0, 5, () => c0.live);
    const initial = e.shadow;
    c0.tlb.fill(translation(0x10000000, PHYS_BASE), 5);
    c0.tlb.fill(translation(0x10001000, PHYS_BASE + PAGE), 7); // another ASID: no tree yet
    c1.tlb.fill(translation(0x20000000, PHYS_BASE + 2 * PAGE), 5); // another CPU: no tree yet
    expect(e.shadow.verify(expected(c0.live, 5))).toEqual([]);
    expect(e.shadow.check(0x10001000, 'read')).toBe('translation');

    // CPU 1, ASID 5: a new tree built from CPU 1's TLB; CPU 0's tree is kept as it was.
    forest.select(1, 5, () => c1.live);
    expect(e.shadow).not.toBe(initial);
    expect(e.shadow.verify(expected(c1.live, 5))).toEqual([]);
    expect(e.shadow.check(0x10000000, 'read')).toBe('translation');
    const ttbr0 = e.uc.cpRegRead(TTBR0_EL1);
    expect(Number(ttbr0 & 0xffffffffffffn)).toBe(e.shadow.rootPa);
    expect(Number(ttbr0 >> 48n)).toBe(5);

    // While CPU 1 runs, a broadcast TLBI removes CPU 0's entry from its (inactive) tree.
    c0.tlb.invalidate('VALE1IS', tlbiVaOperand({ asid: 5, va: 0x10000000 }));
    c0.tlb.fill(translation(0x10002000, PHYS_BASE + 3 * PAGE, { global: true }), 5);
    forest.select(0, 5, () => c0.live);
    expect(e.shadow).toBe(initial);
    expect(e.shadow.verify(expected(c0.live, 5))).toEqual([]);
    expect(e.shadow.check(0x10000000, 'read')).toBe('translation');
    expect(e.shadow.check(0x10002000, 'read')).toBe('ok');

    // CPU 0, ASID 7: built from the TLB (its own entry and the global one).
    forest.select(0, 7, () => c0.live);
    expect(e.shadow.verify(expected(c0.live, 7))).toEqual([]);
    expect(e.shadow.check(0x10001000, 'read')).toBe('ok');
    expect(e.shadow.check(0x10002000, 'read')).toBe('ok');
    // A global entry removed goes from every tree of its CPU.
    c0.tlb.invalidate('VAAE1IS', tlbiVaOperand({ asid: 0, va: 0x10002000 }));
    expect(e.shadow.check(0x10002000, 'read')).toBe('translation');
    forest.select(0, 5, () => c0.live);
    expect(e.shadow.verify(expected(c0.live, 5))).toEqual([]);
    expect(forest.size).toBe(3);
  });

  it('releases the least recently selected tree beyond its limit, and rebuilds it when selected again', () => {
    const e = (engine = new Engine({ memMb: 16 }));
    const forest = new ShadowForest(e, 1, 2);
    const c0 = cpuTlb(forest, 0);
    for (const asid of [1, 2]) {
      forest.select(0, asid, () => c0.live);
      c0.tlb.fill(translation(0x30000000 + asid * PAGE, PHYS_BASE + asid * PAGE), asid);
    }
    const liveBefore = e.shadow.stats.tables_live;
    expect(e.shadow.stats.tables_freed).toBe(0);
    forest.select(0, 3, () => c0.live);
    expect(forest.size).toBe(2);
    // ASID 1's tree went: its root and levels 1 to 3 (and tables the start-up probe left in the
    // engine's initial tree, which it was), all back in the pool, zeroed.
    const freed = e.shadow.stats.tables_freed;
    expect(freed).toBeGreaterThanOrEqual(4);
    expect(e.shadow.stats.tables_live).toBe(liveBefore + 1 - freed);
    c0.tlb.fill(translation(0x30003000, PHYS_BASE + 3 * PAGE), 3);
    c0.tlb.fill(translation(0x30010000, PHYS_BASE + 9 * PAGE), 1); // no tree: nothing to do
    forest.select(0, 1, () => c0.live);
    expect(forest.size).toBe(2); // ASID 2's went now
    expect(e.shadow.verify(expected(c0.live, 1))).toEqual([]);
    expect(e.shadow.check(0x30001000, 'read')).toBe('ok');
    expect(e.shadow.check(0x30010000, 'read')).toBe('ok');
    expect(e.shadow.check(0x30002000, 'read')).toBe('translation');
    forest.select(0, 3, () => c0.live);
    expect(e.shadow.verify(expected(c0.live, 3))).toEqual([]);
  });

  it('forgets a released tree even when it was the last one an observer served', () => {
    const e = (engine = new Engine({ memMb: 16 }));
    const forest = new ShadowForest(e, 1, 2);
    const c0 = cpuTlb(forest, 0);
    forest.select(0, 1, () => c0.live);
    c0.tlb.fill(translation(0x30001000, PHYS_BASE + PAGE), 1);
    forest.select(0, 2, () => c0.live);
    forest.select(0, 3, () => c0.live); // releases ASID 1's tree, the one the observer served last
    const freed = e.shadow.stats.tables_freed;
    c0.tlb.fill(translation(0x30004000, PHYS_BASE + 4 * PAGE), 1); // no tree now: nothing to do
    c0.tlb.fill(translation(0x30005000, PHYS_BASE + 5 * PAGE), 3);
    expect(e.shadow.stats.tables_freed).toBe(freed);
    expect(e.shadow.verify(expected(c0.live, 3))).toEqual([]);
    forest.select(0, 1, () => c0.live);
    expect(e.shadow.verify(expected(c0.live, 1))).toEqual([]);
    expect(e.shadow.check(0x30004000, 'read')).toBe('ok');
    expect(e.shadow.check(0x30005000, 'read')).toBe('translation');
  });
});
