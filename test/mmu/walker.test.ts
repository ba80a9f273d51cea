import { describe, expect, it } from 'vitest';
import {
  blockDescriptor,
  formatPerms,
  HW_UPDATED_AF,
  HW_UPDATED_DIRTY,
  pageDescriptor,
  tableDescriptor,
  walk,
  WalkCache,
  type Access,
  type Level,
  type TranslationRegs,
  type WalkStep,
} from './imports.js';
import { TableBuilder } from './tables.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

function regsFor(tb: TableBuilder, over: Partial<TranslationRegs> = {}): TranslationRegs {
  return { ttbr0: tb.root, asid: 5, t0sz: 16, ha: false, hd: false, paBits: 44, ...over };
}

/** A user read/write page: AP=01, AF, inner shareable, nG. */
const userRw = { AF: true, AP: 1, SH: 3, nG: true } as const;

describe('walker: successful translations at every level', () => {
  it('translates a 4 KiB page through four levels, reporting every step', () => {
    const tb = new TableBuilder();
    const va = 0x0000_7f12_3456_7abc;
    const descPa = tb.set(va, 3, pageDescriptor(0x8_1234_5000, { ...userRw, AttrIndx: 2, DBM: true, UXN: true, PXN: true }));
    const steps: WalkStep[] = [];
    const t = walk(tb.mem, regsFor(tb), va, 'read', 0, { steps });
    expect(t).toEqual({
      ok: true,
      va,
      pa: 0x8_1234_5abc,
      level: 3,
      size: 4096,
      contiguous: false,
      spanVa: va - 0xabc,
      spanSize: 4096,
      spanPa: 0x8_1234_5000,
      global: false,
      perms: expect.any(Number),
      attrIndx: 2,
      sh: 3,
      descPa,
      desc: tb.get(descPa),
      levelsRead: 4,
      dirtyOnWrite: false,
      hwUpdates: 0,
    });
    expect(t.ok && formatPerms(t.perms)).toBe('EL0 rw- EL1 rw-');
    expect(steps.map((s) => [s.level, s.index, s.decoded.type])).toEqual([
      [0, 0xfe, 'table'],
      [1, 0x48, 'table'],
      [2, 0x1a2, 'table'],
      [3, 0x167, 'page'],
    ]);
    expect(steps[0]!.tablePa).toBe(tb.root);
    expect(steps[0]!.descPa).toBe(tb.root + 0xfe * 8);
    expect(steps[3]!.descPa).toBe(descPa);
    for (let i = 1; i < 4; i++) expect(steps[i]!.tablePa).toBe(steps[i - 1]!.decoded.type === 'table' ? (steps[i - 1]!.decoded as { nextTable: number }).nextTable : -1);
  });

  it('translates a 2 MiB block at level 2 and a 1 GiB block at level 1', () => {
    const tb = new TableBuilder();
    tb.set(0x4060_0000, 2, blockDescriptor(2, 0x2_0020_0000, { AF: true, AP: 3 }));
    tb.set(3 * GiB, 1, blockDescriptor(1, 0x7_c000_0000, { AF: true, AP: 0, UXN: true }));
    const b2 = walk(tb.mem, regsFor(tb), 0x4061_2345, 'read', 0);
    expect(b2).toMatchObject({ ok: true, pa: 0x2_0021_2345, level: 2, size: 2 * MiB, global: true, levelsRead: 3, spanVa: 0x4060_0000, spanPa: 0x2_0020_0000 });
    expect(b2.ok && formatPerms(b2.perms)).toBe('EL0 r-x EL1 r-x');
    const b1 = walk(tb.mem, regsFor(tb), 3 * GiB + 0x3abc_def0, 'write', 1);
    expect(b1).toMatchObject({ ok: true, pa: 0x7_fabc_def0, level: 1, size: GiB, levelsRead: 2 });
    expect(b1.ok && formatPerms(b1.perms)).toBe('EL0 --- EL1 rwx');
  });

  it('ignores RES0 bits between a block OA and the attributes (the architecture takes OA[47:n] only)', () => {
    const tb = new TableBuilder();
    const v = blockDescriptor(2, 0x4000_0000, { AF: true });
    tb.set(0x20_0000, 2, { lo: v.lo | 0x1e_f000, hi: v.hi });
    expect(walk(tb.mem, regsFor(tb), 0x20_0123, 'read', 1)).toMatchObject({ ok: true, pa: 0x4000_0123 });
  });
});

describe('walker: faults, each kind at each level', () => {
  const va = 0x12_3456_7000;

  it('translation fault for an invalid descriptor at levels 0, 1, 2 and 3', () => {
    for (const level of [0, 1, 2, 3] as Level[]) {
      const tb = new TableBuilder();
      if (level > 0) tb.set(va, level, { lo: 0xfffffffe, hi: 0xffffffff }); // everything but the valid bit
      expect(walk(tb.mem, regsFor(tb), va, 'read', 0)).toEqual({ ok: false, kind: 'translation', level, va, levelsRead: level + 1 });
    }
  });

  it('translation fault for the reserved bits[1:0] = 01 at level 0 (no level-0 blocks) and level 3', () => {
    const tb = new TableBuilder();
    tb.mem.write64(tb.root + 0x24 * 8, blockDescriptor(1, 0, { AF: true, AP: 1 })); // 01 pattern at level 0
    expect(walk(tb.mem, regsFor(tb), va, 'read', 0)).toEqual({ ok: false, kind: 'translation', level: 0, va, levelsRead: 1 });
    const tb3 = new TableBuilder();
    const p = pageDescriptor(0x9000, userRw);
    tb3.set(va, 3, { lo: p.lo & ~2, hi: p.hi });
    expect(walk(tb3.mem, regsFor(tb3), va, 'read', 0)).toEqual({ ok: false, kind: 'translation', level: 3, va, levelsRead: 4 });
  });

  it('translation fault at level 0 for a VA above 2^(64-T0SZ), with nothing read', () => {
    const tb = new TableBuilder();
    expect(walk(tb.mem, regsFor(tb), 2 ** 48, 'read', 0)).toEqual({ ok: false, kind: 'translation', level: 0, va: 2 ** 48, levelsRead: 0 });
    expect(walk(tb.mem, regsFor(tb, { t0sz: 25 }), 2 ** 39, 'read', 0)).toEqual({ ok: false, kind: 'translation', level: 0, va: 2 ** 39, levelsRead: 0 });
  });

  it('access flag fault at levels 1, 2 and 3 when AF = 0 and HA is off', () => {
    const tb = new TableBuilder();
    tb.set(0, 1, blockDescriptor(1, 0, { AP: 1 }));
    tb.set(GiB, 2, blockDescriptor(2, 0, { AP: 1 }));
    tb.set(2 * GiB, 3, pageDescriptor(0, { AP: 1 }));
    expect(walk(tb.mem, regsFor(tb), 0x1000, 'read', 0)).toMatchObject({ ok: false, kind: 'access_flag', level: 1 });
    expect(walk(tb.mem, regsFor(tb), GiB + 0x1000, 'read', 0)).toMatchObject({ ok: false, kind: 'access_flag', level: 2 });
    expect(walk(tb.mem, regsFor(tb), 2 * GiB, 'exec', 0)).toMatchObject({ ok: false, kind: 'access_flag', level: 3 });
  });

  it('access flag fault is reported before a permission fault (the architecture order)', () => {
    const tb = new TableBuilder();
    tb.set(0x5000, 3, pageDescriptor(0x5000, { AP: 0 }));
    expect(walk(tb.mem, regsFor(tb), 0x5000, 'read', 0)).toMatchObject({ kind: 'access_flag', level: 3 });
  });

  it('permission fault at levels 1, 2 and 3', () => {
    const tb = new TableBuilder();
    tb.set(0, 1, blockDescriptor(1, 0, { AF: true, AP: 0 }));
    tb.set(GiB, 2, blockDescriptor(2, 0, { AF: true, AP: 3 }));
    tb.set(2 * GiB, 3, pageDescriptor(0, { AF: true, AP: 1, UXN: true }));
    expect(walk(tb.mem, regsFor(tb), 0x1000, 'read', 0)).toMatchObject({ ok: false, kind: 'permission', level: 1, levelsRead: 2 });
    expect(walk(tb.mem, regsFor(tb), GiB, 'write', 1)).toMatchObject({ ok: false, kind: 'permission', level: 2, levelsRead: 3 });
    expect(walk(tb.mem, regsFor(tb), 2 * GiB, 'exec', 0)).toMatchObject({ ok: false, kind: 'permission', level: 3, levelsRead: 4 });
  });

  it('address size fault for TTBR0, table addresses at levels 0-2 and output addresses at levels 1-3', () => {
    const big = 2 ** 44; // first address beyond a 44-bit physical range
    const tb = new TableBuilder();
    expect(walk(tb.mem, regsFor(tb, { ttbr0: big }), va, 'read', 0)).toEqual({ ok: false, kind: 'address_size', level: 0, va, levelsRead: 0 });
    for (const level of [0, 1, 2] as Level[]) {
      const t = new TableBuilder();
      t.set(va, level, tableDescriptor(big));
      expect(walk(t.mem, regsFor(t), va, 'read', 0)).toEqual({ ok: false, kind: 'address_size', level, va, levelsRead: level + 1 });
      // The same descriptor is fine with a 48-bit output size (IPS 48 on a 48-bit PARange)...
      // ...but then the next table is outside memory, which is a model error, not a fault.
      expect(() => walk(t.mem, regsFor(t, { paBits: 48 }), va, 'read', 0)).toThrow(/outside physical memory/);
    }
    const t1 = new TableBuilder();
    t1.set(0, 1, blockDescriptor(1, big, { AF: true, AP: 1 }));
    t1.set(GiB, 2, blockDescriptor(2, big + 2 * MiB, { AF: true, AP: 1 }));
    t1.set(2 * GiB, 3, pageDescriptor(big - 4096, { AF: true, AP: 1 }));
    t1.set(2 * GiB + 4096, 3, pageDescriptor(big, { AF: true, AP: 1 }));
    expect(walk(t1.mem, regsFor(t1), 0x10, 'read', 0)).toMatchObject({ ok: false, kind: 'address_size', level: 1 });
    expect(walk(t1.mem, regsFor(t1), GiB + 0x10, 'read', 0)).toMatchObject({ ok: false, kind: 'address_size', level: 2 });
    expect(walk(t1.mem, regsFor(t1), 2 * GiB + 0x10, 'read', 0)).toMatchObject({ ok: true, pa: big - 4096 + 0x10 });
    expect(walk(t1.mem, regsFor(t1), 2 * GiB + 4096, 'read', 0)).toMatchObject({ ok: false, kind: 'address_size', level: 3 });
    expect(walk(t1.mem, regsFor(t1, { paBits: 48 }), 2 * GiB + 4096, 'read', 0)).toMatchObject({ ok: true, pa: big });
  });
});

describe('walker: permission matrix (AP x UXN x PXN x EL x access)', () => {
  // Written out by hand from the ARM ARM stage-1 EL1&0 rules, not computed by the code under test.
  const expected: Record<string, string> = {
    'AP=00 UXN=0 PXN=0': 'EL0 --x EL1 rwx',
    'AP=00 UXN=0 PXN=1': 'EL0 --x EL1 rw-',
    'AP=00 UXN=1 PXN=0': 'EL0 --- EL1 rwx',
    'AP=00 UXN=1 PXN=1': 'EL0 --- EL1 rw-',
    'AP=01 UXN=0 PXN=0': 'EL0 rwx EL1 rw-', // EL0-writable is never EL1-executable
    'AP=01 UXN=0 PXN=1': 'EL0 rwx EL1 rw-',
    'AP=01 UXN=1 PXN=0': 'EL0 rw- EL1 rw-',
    'AP=01 UXN=1 PXN=1': 'EL0 rw- EL1 rw-',
    'AP=10 UXN=0 PXN=0': 'EL0 --x EL1 r-x',
    'AP=10 UXN=0 PXN=1': 'EL0 --x EL1 r--',
    'AP=10 UXN=1 PXN=0': 'EL0 --- EL1 r-x',
    'AP=10 UXN=1 PXN=1': 'EL0 --- EL1 r--',
    'AP=11 UXN=0 PXN=0': 'EL0 r-x EL1 r-x',
    'AP=11 UXN=0 PXN=1': 'EL0 r-x EL1 r--',
    'AP=11 UXN=1 PXN=0': 'EL0 r-- EL1 r-x',
    'AP=11 UXN=1 PXN=1': 'EL0 r-- EL1 r--',
  };

  it('allows exactly the accesses of the table, for all 96 combinations', () => {
    const tb = new TableBuilder();
    let n = 0;
    for (const [name, perms] of Object.entries(expected)) {
      const m = /AP=(\d\d) UXN=(\d) PXN=(\d)/.exec(name)!;
      const ap = parseInt(m[1]!, 2);
      const va = 0x10_0000 + n * 4096;
      n++;
      tb.set(va, 3, pageDescriptor(0x20_0000 + n * 4096, { AF: true, AP: ap, UXN: m[2] === '1', PXN: m[3] === '1' }));
      for (const el of [0, 1] as const) {
        const rwx = perms.split(' ')[el === 0 ? 1 : 3]!;
        for (const [i, access] of (['read', 'write', 'exec'] as Access[]).entries()) {
          const r = walk(tb.mem, regsFor(tb), va, access, el);
          const allowed = rwx[i] !== '-';
          expect({ name, el, access, ok: r.ok, kind: r.ok ? null : r.kind }).toEqual({ name, el, access, ok: allowed, kind: allowed ? null : 'permission' });
          if (r.ok) expect(formatPerms(r.perms)).toBe(perms);
        }
      }
    }
  });
});

describe('walker: hierarchical table attributes', () => {
  const va = 0x7000_0000_0000;
  function walkWith(level: Level, attrs: Parameters<typeof tableDescriptor>[1], leaf = pageDescriptor(0x3000, { AF: true, AP: 1 })) {
    const tb = new TableBuilder();
    tb.set(va, 3, leaf);
    // Rewrite the table descriptor at `level` with the attributes.
    const pa = tb.entryPa(va, level);
    const d = tb.get(pa);
    const next = (d.hi & 0xffff) * 2 ** 32 + ((d.lo & 0xfffff000) >>> 0);
    tb.mem.write64(pa, tableDescriptor(next, attrs));
    const r = walk(tb.mem, regsFor(tb), va, 'read', 1);
    return r.ok ? formatPerms(r.perms) : r.kind;
  }

  it('APTable[0] removes EL0 access (and so lifts the implied PXN of EL0-writable pages)', () => {
    for (const level of [0, 1, 2] as Level[]) expect(walkWith(level, { APTable: 1 })).toBe('EL0 --x EL1 rwx');
  });
  it('APTable[1] makes everything below read-only', () => {
    for (const level of [0, 1, 2] as Level[]) expect(walkWith(level, { APTable: 2 })).toBe('EL0 r-x EL1 r-x');
  });
  it('APTable = 11 leaves EL1 read-only and EL0 execute-only', () => {
    expect(walkWith(1, { APTable: 3 })).toBe('EL0 --x EL1 r-x');
  });
  it('UXNTable and PXNTable force execute-never below', () => {
    expect(walkWith(0, { UXNTable: true })).toBe('EL0 rw- EL1 rw-');
    expect(walkWith(2, { PXNTable: true }, pageDescriptor(0x3000, { AF: true, AP: 0 }))).toBe('EL0 --x EL1 rw-');
    expect(walkWith(2, { PXNTable: true, UXNTable: true }, pageDescriptor(0x3000, { AF: true, AP: 0 }))).toBe('EL0 --- EL1 rw-');
  });
  it('attributes of different levels accumulate', () => {
    const tb = new TableBuilder();
    tb.set(va, 3, pageDescriptor(0x3000, { AF: true, AP: 1 }));
    const p0 = tb.entryPa(va, 0);
    const p2 = tb.entryPa(va, 2);
    const next = (pa: number) => ((tb.get(pa).hi & 0xffff) * 2 ** 32 + ((tb.get(pa).lo & 0xfffff000) >>> 0));
    tb.mem.write64(p0, tableDescriptor(next(p0), { APTable: 1 }));
    tb.mem.write64(p2, tableDescriptor(next(p2), { APTable: 2, UXNTable: true }));
    const r = walk(tb.mem, regsFor(tb), va, 'read', 1);
    expect(r.ok && formatPerms(r.perms)).toBe('EL0 --- EL1 r-x');
  });
});

describe('walker: contiguous spans', () => {
  it('a page with the contiguous bit spans 64 KiB; a level-2 block 32 MiB; a level-1 block 16 GiB', () => {
    const tb = new TableBuilder();
    const vaPage = 0x1234_5000 + 0x3000; // entry 3 of its set
    tb.set(vaPage, 3, pageDescriptor(0x9_8765_0000 + 0x3000, { AF: true, AP: 1, contiguous: true }));
    expect(walk(tb.mem, regsFor(tb), vaPage + 0x12, 'read', 0)).toMatchObject({
      ok: true, contiguous: true, size: 4096, spanVa: 0x1234_0000, spanSize: 0x10000, spanPa: 0x9_8765_0000, pa: 0x9_8765_3012,
    });
    const vaBlock = 32 * MiB * 3 + 5 * 2 * MiB;
    tb.set(vaBlock, 2, blockDescriptor(2, 64 * MiB + 5 * 2 * MiB, { AF: true, contiguous: true }));
    expect(walk(tb.mem, regsFor(tb), vaBlock + 7, 'read', 1)).toMatchObject({
      ok: true, contiguous: true, size: 2 * MiB, spanVa: 96 * MiB, spanSize: 32 * MiB, spanPa: 64 * MiB, pa: 74 * MiB + 7,
    });
    const vaGiant = 16 * GiB * 2 + 9 * GiB;
    tb.set(vaGiant, 1, blockDescriptor(1, 9 * GiB, { AF: true, contiguous: true }));
    expect(walk(tb.mem, regsFor(tb), vaGiant, 'read', 1)).toMatchObject({
      ok: true, contiguous: true, size: GiB, spanVa: 32 * GiB, spanSize: 16 * GiB, spanPa: 0, pa: 9 * GiB,
    });
  });

  it('with tlbContig off the span is the descriptor itself, and the bit is still reported', () => {
    const tb = new TableBuilder();
    tb.set(0x1_0000 + 0x5000, 3, pageDescriptor(0x5_0000 + 0x5000, { AF: true, contiguous: true }));
    expect(walk(tb.mem, regsFor(tb), 0x1_5000, 'read', 1, { tlbContig: false })).toMatchObject({
      contiguous: true, spanVa: 0x1_5000, spanSize: 4096, spanPa: 0x5_5000,
    });
  });

  it('a misprogrammed (misaligned) OA: the walked VA gets its own OA, the span takes OA rounded down', () => {
    const tb = new TableBuilder();
    tb.set(0x2_3000, 3, pageDescriptor(0x7_1000, { AF: true, contiguous: true }));
    expect(walk(tb.mem, regsFor(tb), 0x2_3000, 'read', 1)).toMatchObject({ pa: 0x7_1000, spanVa: 0x2_0000, spanPa: 0x7_0000, spanSize: 0x10000 });
  });
});

describe('walker: VA sizes other than 48 bits', () => {
  it('T0SZ=25 (39-bit VA) starts at level 1', () => {
    const tb = new TableBuilder(0x4000_0000, 1 << 20, 1);
    tb.set(0x40_1234_5000, 3, pageDescriptor(0x6000, { AF: true, AP: 1 }));
    expect(walk(tb.mem, regsFor(tb, { t0sz: 25 }), 0x40_1234_5008, 'read', 0)).toMatchObject({ ok: true, pa: 0x6008, levelsRead: 3 });
  });

  it('T0SZ=20 (44-bit VA) starts at level 0 with a 32-entry table aligned to 256 bytes', () => {
    const tb = new TableBuilder(0x4000_0000, 1 << 20, 0);
    const va = 0x0f80_0000_1000; // level-0 index 31, the last entry of the small table
    tb.set(va, 3, pageDescriptor(0x7000, { AF: true, AP: 1 }));
    const steps: WalkStep[] = [];
    expect(walk(tb.mem, regsFor(tb, { t0sz: 20 }), va, 'read', 0, { steps })).toMatchObject({ ok: true, pa: 0x7000 });
    expect(steps[0]!.index).toBe(31);
    // BADDR bits below the 256-byte table size are RES0 and ignored.
    expect(walk(tb.mem, regsFor(tb, { t0sz: 20, ttbr0: tb.root + 0x40 }), va, 'read', 0)).toMatchObject({ ok: true, pa: 0x7000 });
    // The table need not be page aligned: a copy of it 0x300 bytes into the page is used as is.
    tb.mem.write64(tb.root + 0x300 + 31 * 8, tb.get(tb.root + 31 * 8));
    tb.mem.write64(tb.root + 31 * 8, { lo: 0, hi: 0 });
    expect(walk(tb.mem, regsFor(tb, { t0sz: 20, ttbr0: tb.root + 0x300 + 0xff }), va, 'read', 0)).toMatchObject({ ok: true, pa: 0x7000 });
    expect(walk(tb.mem, regsFor(tb, { t0sz: 20, ttbr0: tb.root }), va, 'read', 0)).toMatchObject({ ok: false, kind: 'translation', level: 0 });
  });

  it('T0SZ=39 (25-bit VA) starts at level 2 with 16 entries', () => {
    const tb = new TableBuilder(0x4000_0000, 1 << 20, 2);
    tb.set(0x1e0_3000, 3, pageDescriptor(0x8000, { AF: true, AP: 1 }));
    const steps: WalkStep[] = [];
    expect(walk(tb.mem, regsFor(tb, { t0sz: 39 }), 0x1e0_3000, 'read', 0, { steps })).toMatchObject({ ok: true, pa: 0x8000, levelsRead: 2 });
    expect(steps.map((s) => [s.level, s.index])).toEqual([[2, 15], [3, 3]]);
    expect(walk(tb.mem, regsFor(tb, { t0sz: 39 }), 2 ** 25, 'read', 0)).toMatchObject({ ok: false, kind: 'translation', level: 0 });
  });
});

describe('walker: hardware access flag and dirty state (FEAT_HAFDBS)', () => {
  it('HA sets AF in memory on an access that does not fault', () => {
    const tb = new TableBuilder();
    const pa = tb.set(0x9000, 3, pageDescriptor(0x9000, { AP: 1 }));
    const t = walk(tb.mem, regsFor(tb, { ha: true }), 0x9000, 'read', 0);
    expect(t).toMatchObject({ ok: true, hwUpdates: HW_UPDATED_AF });
    expect(tb.get(pa).lo & 0x400).toBe(0x400);
    expect(t.ok && t.desc).toEqual(tb.get(pa));
  });

  it('HA does not set AF when the access faults on permissions', () => {
    const tb = new TableBuilder();
    const pa = tb.set(0x9000, 3, pageDescriptor(0x9000, { AP: 3 }));
    expect(walk(tb.mem, regsFor(tb, { ha: true }), 0x9000, 'write', 0)).toMatchObject({ ok: false, kind: 'permission', level: 3 });
    expect(tb.get(pa).lo & 0x400).toBe(0);
  });

  it('HD clears AP[2] on a write to a clean DBM entry; a read leaves it and reports dirtyOnWrite', () => {
    const tb = new TableBuilder();
    const clean = pageDescriptor(0xa000, { AF: true, AP: 3, DBM: true });
    const pa = tb.set(0xa000, 3, clean);
    const r = walk(tb.mem, regsFor(tb, { ha: true, hd: true }), 0xa000, 'read', 0);
    expect(r).toMatchObject({ ok: true, dirtyOnWrite: true, hwUpdates: 0 });
    expect(r.ok && formatPerms(r.perms)).toBe('EL0 r-x EL1 r-x');
    expect(tb.get(pa)).toEqual(clean);
    const w = walk(tb.mem, regsFor(tb, { ha: true, hd: true }), 0xa000, 'write', 0);
    expect(w).toMatchObject({ ok: true, dirtyOnWrite: false, hwUpdates: HW_UPDATED_DIRTY });
    expect(w.ok && formatPerms(w.perms)).toBe('EL0 rwx EL1 rw-');
    expect(tb.get(pa)).toEqual({ lo: clean.lo & ~0x80, hi: clean.hi });
  });

  it('HD needs HA, DBM, and a table that does not write-protect', () => {
    const tb = new TableBuilder();
    const clean = pageDescriptor(0xa000, { AF: true, AP: 3, DBM: true });
    tb.set(0xa000, 3, clean);
    tb.set(0xb000, 3, pageDescriptor(0xb000, { AF: true, AP: 3 }));
    expect(walk(tb.mem, regsFor(tb, { hd: true }), 0xa000, 'write', 0)).toMatchObject({ ok: false, kind: 'permission' });
    expect(walk(tb.mem, regsFor(tb, { ha: true, hd: true }), 0xb000, 'write', 0)).toMatchObject({ ok: false, kind: 'permission' });
    const p2 = tb.entryPa(0xa000, 2);
    const d = tb.get(p2);
    tb.mem.write64(p2, tableDescriptor((d.hi & 0xffff) * 2 ** 32 + ((d.lo & 0xfffff000) >>> 0), { APTable: 2 }));
    expect(walk(tb.mem, regsFor(tb, { ha: true, hd: true }), 0xa000, 'write', 0)).toMatchObject({ ok: false, kind: 'permission', level: 3 });
    expect(tb.get(tb.entryPa(0xa000, 3))).toEqual(clean);
  });
});

describe('walker: walk cache', () => {
  it('a second walk in the same 2 MiB starts at level 3 and reads one descriptor', () => {
    const tb = new TableBuilder();
    tb.set(0x20_0000, 3, pageDescriptor(0x1000, { AF: true }));
    tb.set(0x20_1000, 3, pageDescriptor(0x2000, { AF: true }));
    tb.set(0x40_0000, 3, pageDescriptor(0x3000, { AF: true }));
    const wc = new WalkCache(8, 2);
    expect(walk(tb.mem, regsFor(tb), 0x20_0000, 'read', 1, { walkCache: wc })).toMatchObject({ levelsRead: 4, pa: 0x1000 });
    expect(walk(tb.mem, regsFor(tb), 0x20_1000, 'read', 1, { walkCache: wc })).toMatchObject({ levelsRead: 1, pa: 0x2000 });
    // Another 2 MiB in the same 1 GiB: the level-1 entry is cached, the level-2 one is not.
    expect(walk(tb.mem, regsFor(tb), 0x40_0000, 'read', 1, { walkCache: wc })).toMatchObject({ levelsRead: 2, pa: 0x3000 });
    expect(wc.stats).toEqual({ hits: 2, misses: 1, fills: 4, invalidated: 0 });
    // Entries are tagged with the ASID: another ASID walks from the top.
    expect(walk(tb.mem, regsFor(tb, { asid: 6 }), 0x20_0000, 'read', 1, { walkCache: wc })).toMatchObject({ levelsRead: 4 });
  });
});
