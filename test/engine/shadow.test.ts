/**
 * The shadow tables on their own: plain memory, a counting invalidation callback, descriptor bits
 * checked against the Arm ARM formats. (That QEMU walks them as intended is engine.test.ts's job.)
 */
import { describe, expect, it } from 'vitest';
import { ShadowTables, type QemuTlbi, type ShadowPerms } from '../../src/engine/index.js';

const BASE = 2 ** 40 + 2 ** 30; // where the tables pretend to live
const PAGES = 256;
const RO: ShadowPerms = { r: true, w: false, x: false };
const RW: ShadowPerms = { r: true, w: true, x: false };
const RX: ShadowPerms = { r: true, w: false, x: true };
const XO: ShadowPerms = { r: false, w: false, x: true };

function make(): { s: ShadowTables; u32: Uint32Array; flushes: () => number; ops: QemuTlbi[] } {
  const u32 = new Uint32Array((PAGES * 4096) / 4);
  const ops: QemuTlbi[] = [];
  // Copies: the tables reuse their operation objects.
  const s = new ShadowTables({ u32, base: BASE, firstPage: 8, endPage: PAGES }, (op) => ops.push({ ...op }));
  return { s, u32, flushes: () => ops.length, ops };
}

/** The descriptor (lo, hi) QEMU would read at the given level for `va`, walking like hardware. */
function descriptor(u32: Uint32Array, root: number, va: number, level: number): [number, number] {
  let table = root;
  for (let l = 0; ; l++) {
    const i = (table - BASE) / 4 + 2 * (Math.floor(va / 2 ** (39 - 9 * l)) % 512);
    const lo = u32[i]!;
    const hi = u32[i + 1]!;
    if (l === level) return [lo, hi];
    table = (hi & 0xffff) * 2 ** 32 + ((lo & 0xfffff000) >>> 0);
  }
}

describe('descriptor encoding', () => {
  it('writes a 4K page descriptor with the EL0 permissions, AF, nG, inner shareable and PXN', () => {
    const { s, u32 } = make();
    const pa = 2 ** 40 + 0x123000;
    s.map(0x400000, 4096, pa, RW);
    const [lo, hi] = descriptor(u32, s.rootPa, 0x400000, 3);
    // bits[1:0]=11 page, AttrIndx=0, AP[2:1]=01 (EL0 RW), SH=11, AF, nG; OA[31:12]
    expect(lo >>> 0).toBe((0x123000 | 0b11 | (0b01 << 6) | (0b11 << 8) | (1 << 10) | (1 << 11)) >>> 0);
    // OA[47:32] = 0x100, PXN (53), UXN (54), and bit 55 (software use, ignored by the walk):
    // the shadow's mark of a 4 KiB entry's own page
    expect(hi).toBe(0x100 | (1 << 21) | (1 << 22) | (1 << 23));
  });

  it('encodes read-only, executable and execute-only EL0 permissions', () => {
    const { s, u32 } = make();
    s.map(0x1000, 4096, 2 ** 40, RO, { attrIndx: 4, nG: false });
    s.map(0x2000, 4096, 2 ** 40, RX);
    s.map(0x3000, 4096, 2 ** 40, XO);
    const [lo1, hi1] = descriptor(u32, s.rootPa, 0x1000, 3);
    expect((lo1 >>> 6) & 3).toBe(0b11);
    expect((lo1 >>> 2) & 7).toBe(4);
    expect(lo1 & (1 << 11)).toBe(0);
    expect(hi1 & (1 << 22)).not.toBe(0);
    const [lo2, hi2] = descriptor(u32, s.rootPa, 0x2000, 3);
    expect((lo2 >>> 6) & 3).toBe(0b11);
    expect(hi2 & (1 << 22)).toBe(0);
    const [lo3, hi3] = descriptor(u32, s.rootPa, 0x3000, 3);
    expect((lo3 >>> 6) & 3).toBe(0b00);
    expect(hi3 & (1 << 22)).toBe(0);
    expect(s.lookup(0x3004)).toEqual({ kind: 'mapped', pa: 2 ** 40 + 4, perms: XO });
    expect(s.check(0x3000, 'read')).toBe('permission');
    expect(s.check(0x3000, 'exec')).toBe('ok');
    expect(() => s.map(0x4000, 4096, 2 ** 40, { r: false, w: true, x: false })).toThrow(/EL0 write without read/);
  });

  it('writes a 64 KiB entry as 16 page descriptors without the contiguous bit', () => {
    const { s, u32 } = make();
    const pa = 2 ** 40 + 0x30000;
    s.map(0x7f0000, 0x10000, pa, RO);
    for (let k = 0; k < 16; k++) {
      const [lo, hi] = descriptor(u32, s.rootPa, 0x7f0000 + k * 4096, 3);
      expect(((lo & 0xfffff000) >>> 0)).toBe(0x30000 + k * 4096);
      expect(hi & (1 << 20)).toBe(0); // contiguous (bit 52)
    }
    expect(s.check(0x7effff, 'read')).toBe('translation');
    expect(s.check(0x800000, 'read')).toBe('translation');
    expect(s.stats.descriptor_writes).toBe(16);
  });

  it('writes a 2 MiB entry as one level-2 block descriptor', () => {
    const { s, u32 } = make();
    const pa = 2 ** 40 + 0x400000;
    s.map(0x40000000, 0x200000, pa, RW);
    const [lo, hi] = descriptor(u32, s.rootPa, 0x40000000, 2);
    expect(lo & 3).toBe(0b01);
    expect((lo & 0xffe00000) >>> 0).toBe(0x400000);
    expect(hi & 0xffff).toBe(0x100);
    expect(s.lookup(0x401fffff)).toEqual({ kind: 'mapped', pa: pa + 0x1fffff, perms: RW });
    expect(s.stats.descriptor_writes).toBe(1);
  });
});

describe('entries come and go', () => {
  it('unmap clears the descriptors, frees empty tables and asks for one invalidation per batch', () => {
    const { s, flushes } = make();
    const before = s.stats.tables_live;
    for (let i = 0; i < 100; i++) s.map(0x10000000 + i * 4096, 4096, 2 ** 40 + i * 4096, RW);
    expect(s.stats.tables_live).toBe(before + 3); // a level-1, a level-2 and a level-3 table
    expect(s.flush()).toBe(false); // filling never needs an invalidation
    for (let i = 0; i < 100; i++) s.unmap(0x10000000 + i * 4096, 4096);
    expect(s.flushPending).toBe(true);
    expect(s.flush()).toBe(true);
    expect(s.flush()).toBe(false);
    expect(flushes()).toBe(1);
    expect(s.stats.tables_live).toBe(before + 1); // level-1 tables stay (two at most below 2^40)
    expect(s.size).toBe(0);
    expect(s.verify([])).toEqual([]);
  });

  it('invalidates by VA when only a few non-executable entries went, everything otherwise', () => {
    const { s, ops } = make();
    for (let i = 0; i < 7; i++) s.map(0x10000 * (i + 1), 4096, 2 ** 40, RW);
    s.map(0x400000, 4096, 2 ** 40, RX);
    s.unmap(0x10000, 4096);
    s.unmap(0x20000, 4096);
    s.flush();
    expect(ops).toEqual([{ kind: 'va', va: 0x10000 }, { kind: 'va', va: 0x20000 }]);
    s.unmap(0x400000, 4096); // code: translated blocks may be cached for it
    s.flush();
    expect(ops.at(-1)?.kind).toBe('all'); // (its `va` field means nothing)
    for (const va of [0x30000, 0x40000, 0x50000, 0x60000, 0x70000]) s.unmap(va, 4096);
    s.flush();
    expect(ops.slice(3).map((o) => o.kind)).toEqual(['all']); // more than four: one for all
    expect(s.stats.qemu_tlbi).toBe(4);
  });

  it('unmapAll drops everything', () => {
    const { s } = make();
    s.map(0x1000, 4096, 2 ** 40, RW);
    s.map(0x200000, 0x200000, 2 ** 40 + 0x200000, RW);
    s.unmapAll();
    expect(s.size).toBe(0);
    expect(s.check(0x1000, 'read')).toBe('translation');
    expect(s.check(0x200000, 'read')).toBe('translation');
    expect(s.verify([])).toEqual([]);
  });

  it('rejects what the TLB model could not have meant', () => {
    const { s } = make();
    expect(() => s.map(0x1800, 4096, 2 ** 40, RW)).toThrow(/not aligned to the entry size 0x1000/);
    expect(() => s.map(0x10000, 0x10000, 2 ** 40 + 0x1000, RW)).toThrow(/physical address 0x10000001000 is not aligned/);
    expect(() => s.map(0x1000, 0x3000, 2 ** 40, RW)).toThrow(/not a power of two/);
    s.map(0x1000, 4096, 2 ** 40, RW);
    expect(() => s.map(0x1000, 4096, 2 ** 40, RW)).toThrow(/already live/);
    expect(() => s.unmap(0x2000, 4096)).toThrow(/no live entry for \[0x2000, \+0x1000\)/);
  });
});

describe('overlapping entries (a TLB that may hold both, as under BBML2)', () => {
  it('shows the newest entry and restores the older one when the newer goes', () => {
    const { s } = make();
    const pa = 2 ** 40 + 0x50000;
    s.map(0x50000 + 0x3000, 4096, pa + 0x3000, RO); // the 4K entry from before a fold
    s.map(0x50000, 0x10000, pa, RW); // the folded 64K entry
    expect(s.stats.overlaps).toBe(1);
    expect(s.check(0x53000, 'write')).toBe('ok');
    s.unmap(0x50000, 0x10000);
    expect(s.check(0x53000, 'write')).toBe('permission');
    expect(s.check(0x52000, 'read')).toBe('translation');
    expect(s.verify([{ vaBase: 0x53000, size: 4096, paBase: pa + 0x3000, perms: RO }])).toEqual([]);
  });

  it('keeps the newer entry when the older goes', () => {
    const { s } = make();
    const pa = 2 ** 40 + 0x50000;
    s.map(0x53000, 4096, pa + 0x3000, RO);
    s.map(0x50000, 0x10000, pa, RW);
    s.unmap(0x53000, 4096);
    expect(s.check(0x53000, 'write')).toBe('ok');
    expect(s.verify([{ vaBase: 0x50000, size: 0x10000, paBase: pa, perms: RW }])).toEqual([]);
  });

  it('splits a 2 MiB block for a smaller entry inside it, and joins back', () => {
    const { s, u32 } = make();
    const pa = 2 ** 40 + 0x200000;
    s.map(0x200000, 0x200000, pa, RO);
    s.map(0x201000, 4096, 2 ** 40 + 0x999000, RW);
    const [lo] = descriptor(u32, s.rootPa, 0x200000, 2);
    expect(lo & 3).toBe(0b11); // now a table
    expect(s.lookup(0x200000)).toEqual({ kind: 'mapped', pa, perms: RO });
    expect(s.lookup(0x201008)).toEqual({ kind: 'mapped', pa: 2 ** 40 + 0x999008, perms: RW });
    s.unmap(0x201000, 4096);
    expect(s.lookup(0x201008)).toEqual({ kind: 'mapped', pa: pa + 0x1008, perms: RO });
    s.unmap(0x200000, 0x200000);
    expect(s.lookup(0x201008)).toEqual({ kind: 'none' });
    expect(s.verify([])).toEqual([]);
  });
});

describe('4 KiB entries recorded only in their descriptors until entries overlap', () => {
  const pa = (k: number) => 2 ** 40 + k * 4096;
  const sorted = (es: Iterable<{ vaBase: number; size: number; paBase: number; perms: ShadowPerms }>) =>
    [...es].map((e) => ({ vaBase: e.vaBase, size: e.size, paBase: e.paBase, perms: e.perms })).sort((a, b) => a.vaBase - b.vaBase || a.size - b.size);

  it('lists, counts, verifies and removes them with the larger entries, without overlaps', () => {
    const { s, flushes } = make();
    const tables = s.stats.tables_live;
    const want = [
      { vaBase: 0x1000, size: 4096, paBase: pa(1), perms: RW },
      { vaBase: 0x2000, size: 4096, paBase: pa(2), perms: RX },
      { vaBase: 0x10000, size: 0x10000, paBase: pa(16), perms: RO }, // next to them, no overlap
      { vaBase: 0x400000, size: 0x200000, paBase: pa(512), perms: RW },
      { vaBase: 0xff_ffff_f000, size: 4096, paBase: pa(3), perms: RO }, // under the second level-0 slot
    ];
    for (const e of want) s.map(e.vaBase, e.size, e.paBase, e.perms);
    expect(s.stats.overlaps).toBe(0);
    expect(s.size).toBe(5);
    expect(sorted(s.entries())).toEqual(want);
    expect(s.verify(want)).toEqual([]);
    expect(s.verify(want.slice(1))).toEqual(['shadow entry [0x1000, +0x1000) is not in the TLB']);
    expect(() => s.map(0x2000, 4096, pa(9), RO)).toThrow(/already live/);
    expect(() => s.unmap(0x13000, 4096)).toThrow(/no live entry for \[0x13000, \+0x1000\)/); // inside the 64K entry
    expect(() => s.unmap(0x3000, 4096)).toThrow(/no live entry/);
    s.unmapAll();
    expect(s.stats).toMatchObject({ maps: 5, unmaps: 5, descriptor_writes: 2 * (3 + 16 + 1) });
    expect(s.size).toBe(0);
    expect(s.verify([])).toEqual([]);
    expect(s.stats.tables_live).toBe(tables + 2); // the level-1 tables stay
    expect(s.flush()).toBe(true);
    expect(flushes()).toBe(1); // an executable entry went: one invalidation of everything
  });

  it('become explicit entries when one overlaps another, and the shadow still shows the newest', () => {
    const { s } = make();
    for (let k = 0; k < 4; k++) s.map(0x50000 + k * 0x4000, 4096, pa(k), RO); // 0x50000, 0x54000, 0x58000, 0x5c000
    s.map(0x90000, 4096, pa(9), RW);
    s.map(0x50000, 0x10000, pa(32), RW); // covers four of them
    expect(s.stats.overlaps).toBe(1);
    expect(s.size).toBe(6);
    const all = [
      ...[0, 1, 2, 3].map((k) => ({ vaBase: 0x50000 + k * 0x4000, size: 4096, paBase: pa(k), perms: RO })),
      { vaBase: 0x90000, size: 4096, paBase: pa(9), perms: RW },
      { vaBase: 0x50000, size: 0x10000, paBase: pa(32), perms: RW },
    ];
    expect(s.verify(all)).toEqual([]);
    expect(s.lookup(0x54008)).toEqual({ kind: 'mapped', pa: pa(32) + 0x4008, perms: RW });
    s.unmap(0x50000, 0x10000);
    expect(s.lookup(0x54008)).toEqual({ kind: 'mapped', pa: pa(1) + 8, perms: RO });
    expect(s.lookup(0x55000)).toEqual({ kind: 'none' });
    expect(s.verify(all.slice(0, 5))).toEqual([]);
    for (let k = 0; k < 4; k++) s.unmap(0x50000 + k * 0x4000, 4096);
    s.unmap(0x90000, 4096);
    expect(s.size).toBe(0);
    // Without overlaps again: a 4 KiB entry is only its descriptor once more.
    s.map(0x90000, 4096, pa(9), RW);
    s.map(0x91000, 4096, pa(10), RW);
    expect(s.stats.overlaps).toBe(1);
    expect(s.verify(all.slice(4, 5).concat([{ vaBase: 0x91000, size: 4096, paBase: pa(10), perms: RW }]))).toEqual([]);
  });

  it('paOf and check agree with a full walk while tables come and go in several 1 GiB regions', () => {
    const { s } = make();
    const regions = [0, 5, 9, 0xfff]; // 1 GiB regions: code low, data high, and two more
    // four pages in each region, in two 2 MiB blocks: regions empty out now and then
    const vaOf = (k: number) => regions[k % 4]! * 2 ** 30 + (Math.floor(k / 4) % 2) * 0x1000 + (Math.floor(k / 8) % 2) * 0x200000;
    const live = new Set<number>();
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    let compared = 0;
    let level2TablesFreed = 0;
    for (let step = 0; step < 3000; step++) {
      const before = s.stats.tables_live;
      const va = vaOf(next() % 16);
      if (live.has(va)) {
        s.unmap(va, 4096);
        live.delete(va);
      } else {
        s.map(va, 4096, pa(next() % 1000), next() % 2 ? RO : RX);
        live.add(va);
      }
      if (s.stats.tables_live <= before - 2) level2TablesFreed++; // a level-3 table and its level-2 table
      for (const probe of [va + 0x10, vaOf(next() % 16) + 0xff8, vaOf(step % 16)]) {
        const l = s.lookup(probe);
        expect(s.paOf(probe)).toBe(l.kind === 'mapped' ? l.pa : -1);
        expect(s.check(probe, 'exec')).toBe(l.kind === 'none' ? 'translation' : l.perms.x ? 'ok' : 'permission');
        compared++;
      }
    }
    expect(compared).toBe(9000);
    expect(level2TablesFreed).toBeGreaterThan(20);
    for (const va of live) s.unmap(va, 4096);
    expect(s.verify([])).toEqual([]);
  });

  it('paOf answers as lookup does, without allocating a result', () => {
    const { s } = make();
    s.map(0x3000, 4096, pa(7), RX);
    s.map(0x200000, 0x200000, pa(1024), RW);
    for (const va of [0x3000, 0x3fff, 0x4000, 0x2fff, 0x200000, 0x3fffff, 0x123456, 2 ** 47]) {
      const l = s.lookup(va);
      expect(s.paOf(va), `0x${va.toString(16)}`).toBe(l.kind === 'mapped' ? l.pa : -1);
    }
  });
});

describe('verify', () => {
  it('finds descriptors no entry explains', () => {
    const { s, u32 } = make();
    s.map(0x1000, 4096, 2 ** 40, RW);
    expect(s.verify([{ vaBase: 0x1000, size: 4096, paBase: 2 ** 40, perms: RW }])).toEqual([]);
    // Corrupt the neighbouring descriptor behind the shadow's back.
    const [lo, hi] = descriptor(u32, s.rootPa, 0x1000, 3);
    const l3 = (() => {
      let table = s.rootPa;
      for (let l = 0; l < 3; l++) {
        const k = (table - BASE) / 4 + 2 * (Math.floor(0x1000 / 2 ** (39 - 9 * l)) % 512);
        table = (u32[k + 1]! & 0xffff) * 2 ** 32 + ((u32[k]! & 0xfffff000) >>> 0);
      }
      return table;
    })();
    const slot = (l3 - BASE) / 4 + 2 * 2; // VA 0x2000
    // Without the software bit, a page descriptor no entry explains ...
    u32[slot] = lo;
    u32[slot + 1] = hi & ~(1 << 23);
    expect(s.verify([{ vaBase: 0x1000, size: 4096, paBase: 2 ** 40, perms: RW }])).toEqual([
      'shadow maps page 0x2000 but no live entry covers it',
      'live entries cover 1 pages but the tables map 2',
    ]);
    // ... with it, a 4 KiB entry the shadow holds and the TLB does not.
    u32[slot + 1] = hi;
    expect(s.verify([{ vaBase: 0x1000, size: 4096, paBase: 2 ** 40, perms: RW }])).toEqual([
      'shadow entry [0x2000, +0x1000) is not in the TLB',
    ]);
  });

  it('reports when the region for tables runs out', () => {
    const { s } = make();
    expect(() => {
      for (let i = 0; i < PAGES; i++) s.map(i * 2 ** 21, 4096, 2 ** 40, RW);
    }).toThrow(/shadow tables: region exhausted \(256 pages\)/);
  });
});
