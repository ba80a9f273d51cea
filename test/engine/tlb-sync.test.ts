/**
 * ShadowSync with the real TLB model (src/mmu/tlb.ts): fills, evictions, replacements and TLBIs
 * reach the shadow, and a guest sweeping memory sees exactly the model's misses.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Engine, PHYS_BASE, ShadowSync, type StopReason } from '../../src/engine/index.js';
import { PERM_EL0_R, PERM_EL0_W, PERM_EL0_X } from '../../src/mmu/perms.js';
import { Tlb, type TlbEntry } from '../../src/mmu/tlb.js';
import { tlbiVaOperand } from '../../src/mmu/tlbi.js';
import type { Translation } from '../../src/mmu/walker.js';
import { fixture } from './harness.js';

const PAGE = 4096;
const RW = PERM_EL0_R | PERM_EL0_W;

/** A walk result as the walker would return it for a 4 KiB level-3 page. */
function translation(va: number, pa: number, perms: number, o: { contiguous?: boolean; global?: boolean } = {}): Translation {
  return {
    ok: true, va, pa, level: 3, size: PAGE, contiguous: o.contiguous ?? false,
    spanVa: va, spanSize: PAGE, spanPa: pa, global: o.global ?? false, perms, attrIndx: 0, sh: 3,
    descPa: 0, desc: { lo: 0, hi: 0 }, levelsRead: 4, dirtyOnWrite: false, hwUpdates: 0,
  };
}

/** The TLB's contents, followed through the observer (the Tlb does not list them). */
function mirrored(tlb: Tlb, sync: ShadowSync): Set<TlbEntry> {
  const live = new Set<TlbEntry>();
  tlb.observer = {
    onFill: (e) => {
      live.add(e);
      sync.onFill(e);
    },
    onRemove: (e, r) => {
      live.delete(e);
      sync.onRemove(e, r);
    },
  };
  return live;
}

let engine: Engine | undefined;
afterEach(() => {
  engine?.close();
  engine = undefined;
});

describe('ShadowSync', () => {
  it('mirrors fills, evictions, contiguous entries and TLBIs of the model TLB', () => {
    const e = (engine = new Engine({ memMb: 16, asid: 3 }));
    const sync = new ShadowSync(e);
    const tlb = new Tlb({ entries: 4, ways: 4, contig: true });
    const live = mirrored(tlb, sync);
    for (let i = 0; i < 5; i++) tlb.fill(translation(0x10000000 + i * PAGE, PHYS_BASE + i * PAGE, RW), 3);
    expect(tlb.stats.evictions).toBe(1);
    expect(e.shadow.check(0x10000000, 'read')).toBe('translation'); // the FIFO victim
    expect(e.shadow.verify(sync.expected(live))).toEqual([]);

    // A contiguous descriptor: one 64 KiB entry, 16 shadow pages.
    tlb.fill(translation(0x20003000, PHYS_BASE + 0x13000, PERM_EL0_R | PERM_EL0_X, { contiguous: true }), 3);
    for (let k = 0; k < 16; k++) expect(e.shadow.lookup(0x20000000 + k * PAGE)).toEqual({ kind: 'mapped', pa: PHYS_BASE + 0x10000 + k * PAGE, perms: { r: true, w: false, x: true } });
    expect(e.shadow.verify(sync.expected(live))).toEqual([]);

    // TLBI VALE1IS of one VA of the contiguous span removes the whole entry.
    expect(tlb.invalidate('VALE1IS', tlbiVaOperand({ asid: 3, va: 0x20007000 }))).toBe(1);
    expect(e.shadow.check(0x20000000, 'exec')).toBe('translation');
    expect(e.shadow.verify(sync.expected(live))).toEqual([]);

    // Entries of another ASID stay out of the shadow; global ones go in.
    tlb.fill(translation(0x30000000, PHYS_BASE, RW), 9);
    expect(e.shadow.check(0x30000000, 'read')).toBe('translation');
    tlb.fill(translation(0x31000000, PHYS_BASE, RW, { global: true }), 9);
    expect(e.shadow.check(0x31000000, 'write')).toBe('ok');
    expect(e.shadow.verify(sync.expected(live))).toEqual([]);

    // An ASID switch: the shadow is rebuilt from the TLB for the new ASID.
    e.setAsid(9);
    sync.resync(live);
    expect(e.shadow.check(0x30000000, 'read')).toBe('ok');
    expect(e.shadow.check(0x10001000, 'read')).toBe('translation');
    expect(e.shadow.verify(sync.expected(live))).toEqual([]);
  });

  it('drives a guest: a sweep over N+1 pages misses on every access with an N-way model TLB set', () => {
    const N = 8;
    const rounds = 3;
    // Two sets of N ways: the code page (odd page number) in set 1, the data pages (even page
    // numbers, two pages apart) in set 0, so the data misses are FIFO over N ways alone.
    const CODE = 0x401000;
    const DATA = 0x10000000;
    const STRIDE = 2 * PAGE;
    const tlb = new Tlb({ entries: 2 * N, ways: N, contig: true });
    const pageTable = new Map<number, { pa: number; perms: number }>();
    let e!: Engine;
    e = engine = new Engine({
      memMb: 16,
      hooks: {
        readInsn: (pc) => e.phys.dv.getUint32(pageTable.get(pc - (pc % PAGE))!.pa + (pc % PAGE) - PHYS_BASE, true),
        onSvc: (): StopReason => ({ kind: 'exit', code: 0 }),
        onAbort: (info) => {
          for (const f of info.faults) {
            const page = f.va - (f.va % PAGE);
            const pte = pageTable.get(page);
            if (!pte) return { kind: 'exit', code: 139 };
            tlb.fill(translation(page, pte.pa, pte.perms), e.asid);
          }
          return 'retry';
        },
      },
    });
    const sync = new ShadowSync(e);
    const live = mirrored(tlb, sync);
    pageTable.set(CODE, { pa: PHYS_BASE, perms: PERM_EL0_R | PERM_EL0_X });
    e.phys.write(PHYS_BASE, fixture('sweep.bin'));
    for (let i = 0; i <= N; i++) pageTable.set(DATA + i * STRIDE, { pa: PHYS_BASE + (i + 1) * PAGE, perms: PERM_EL0_R });
    for (const [pages, misses] of [[N, N], [N + 1, rounds * (N + 1)]] as const) {
      tlb.flushAll();
      const before = { fills: tlb.stats.fills, evictions: tlb.stats.evictions, aborts: e.stats.data_aborts };
      e.setX(0, DATA);
      e.setX(1, pages);
      e.setX(2, rounds);
      e.setX(6, STRIDE);
      expect(e.run(CODE)).toEqual({ kind: 'exit', code: 0 });
      expect(e.stats.data_aborts - before.aborts).toBe(misses);
      expect(tlb.stats.fills - before.fills).toBe(misses + 1); // + the code page
      expect(tlb.stats.evictions - before.evictions).toBe(misses - Math.min(misses, N));
      expect(e.shadow.verify(sync.expected(live))).toEqual([]);
    }
  });
});
