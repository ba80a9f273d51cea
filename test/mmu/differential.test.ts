/**
 * Differential test: our walker against QEMU's own (inside Unicorn 2.0.1), on the same random
 * translation tables in the same physical memory. QEMU answers through `AT S1E0R` / `AT S1E0W`
 * written via UC_ARM64_REG_CP_REG and PAR_EL1 read back (reference unicorn-2.0.1-notes.md, last
 * section), so no guest code runs. Output address and fault kind and level must agree for every
 * EL0 load and store.
 *
 * Left out of the comparison, each tested on its own below against the architecture, because
 * QEMU 5.0 departs from it there:
 * - a level-0 block (bits[1:0] = 01): QEMU maps 512 GiB, the architecture faults;
 * - output addresses at or above 2^44 (the PARange): QEMU raises no address size fault;
 * - RES0 bits between a block's OA and bit 12: QEMU 5.0 ORs them into the output address (later
 *   QEMU clears them); the generator keeps them zero.
 * Table addresses always point at real tables in the mapped memory: QEMU would take a synchronous
 * external abort on a walk outside it, which AT turns into an exception we cannot take here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostRegion, Unicorn, uc, sysregs, UNICORN_PACKAGE } from '../../src/engine/index.js';
import {
  blockDescriptor,
  describeDescriptor,
  levelSize,
  pageDescriptor,
  PhysMem,
  POW2,
  startLevel,
  tableDescriptor,
  walk,
  type Access,
  type Level,
  type TranslationRegs,
  type WalkResult,
  type WalkStep,
} from './imports.js';

const PA_BASE = 2 ** 40; // the project's guest-physical pool base
const MEM_SIZE = 16 << 20;
/** TCR_EL1 of the Unicorn prototype (4K granule, IPS 48, EPD1) with T0SZ in bits [5:0]. */
const TCR_BASE = 0x5_8090_3500n;

let u: Unicorn;
let region: HostRegion;
let mem: PhysMem;

beforeAll(() => {
  try {
    u = Unicorn.open(uc.UC_ARCH_ARM64, uc.UC_MODE_ARM);
  } catch (e) {
    throw new Error(`this test needs Unicorn 2.0.1 (Debian package ${UNICORN_PACKAGE}): ${e instanceof Error ? e.message : String(e)}`);
  }
  region = HostRegion.reserve(MEM_SIZE, 'rw');
  mem = new PhysMem(region.view(), PA_BASE);
  u.memMapPtr(PA_BASE, MEM_SIZE, uc.UC_PROT_ALL, region.ptr);
  u.cpRegWrite(sysregs.SCR_EL3, 0x401n); // NS: the EL1&0 regime is non-secure; RW
  u.cpRegWrite(sysregs.HCR_EL2, 1n << 31n); // RW; no stage 2, no TGE/DC
  u.cpRegWrite(sysregs.SCTLR_EL1, 1n); // M: stage 1 on (WXN = 0)
});

afterAll(() => {
  u?.close();
  region?.release();
});

/** QEMU's answer for an EL0 access, decoded from PAR_EL1. */
type QemuResult = { ok: true; pa: number } | { ok: false; kind: 'translation' | 'access_flag' | 'permission' | 'address_size' | 'other'; level: number; fst: number };

function qemuAt(va: number, access: Access): QemuResult {
  u.cpRegWrite(access === 'write' ? sysregs.AT_S1E0W : sysregs.AT_S1E0R, va);
  const par = u.cpRegRead(sysregs.PAR_EL1);
  if ((par & 1n) === 0n) return { ok: true, pa: Number(par & 0x0000_ffff_ffff_f000n) };
  const fst = Number((par >> 1n) & 0x3fn);
  const level = fst & 3;
  const kinds = { 0: 'address_size', 1: 'translation', 2: 'access_flag', 3: 'permission' } as const;
  const kind = fst >> 2 <= 3 ? kinds[(fst >> 2) as 0 | 1 | 2 | 3] : 'other';
  return { ok: false, kind, level, fst };
}

function setRegisters(t0sz: number, root: number): TranslationRegs {
  u.cpRegWrite(sysregs.TCR_EL1, TCR_BASE | BigInt(t0sz));
  u.cpRegWrite(sysregs.TTBR0_EL1, root);
  return { ttbr0: root, asid: 0, t0sz, ha: false, hd: false, paBits: 44 };
}

/** splitmix32: a seeded generator, so the tables and VAs are the same on every run. */
function rng(seed: number) {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  return {
    u32: next,
    below: (n: number): number => (n <= 2 ** 32 ? next() % n : (next() % 2 ** 21) * 2 ** 32 + next()) % n,
    chance: (p: number): boolean => next() / 2 ** 32 < p,
  };
}
type Rng = ReturnType<typeof rng>;

interface Generated {
  root: number;
  ttbr: number;
  vas: number[];
  counts: Record<string, number>;
}

/**
 * Random tables for one VA size: every table gets a random number of random descriptors (tables,
 * blocks, pages, reserved encodings, invalid garbage), all attribute bits random, contiguous bits
 * included; table descriptors point at fresh or already built tables of the next level. One VA is
 * drawn inside every populated entry's range, plus VAs drawn anywhere.
 */
function generate(r: Rng, t0sz: number, budgetPages: number): Generated {
  mem.zero(PA_BASE, MEM_SIZE);
  let nextPage = PA_BASE;
  const alloc = (): number => {
    const pa = nextPage;
    nextPage += 4096;
    return pa;
  };
  const counts: Record<string, number> = { table: 0, block: 0, page: 0, reserved: 0, invalid: 0, contiguous: 0, l0block: 0, highOa: 0 };
  const inputBits = 64 - t0sz;
  const first = startLevel(inputBits);
  const rootEntries = POW2[inputBits - (39 - 9 * first)]!;
  // A start-level table smaller than a page sits anywhere aligned to its own size, and TTBR0 may
  // carry junk below that alignment (RES0 bits and CnP), which both walkers must drop.
  const rootBytes = rootEntries * 8;
  const root = alloc() + r.below(4096 / rootBytes) * rootBytes;
  const ttbr = root + r.below(rootBytes);
  const built: number[][] = [[], [], [], []];
  const vas: number[] = [];

  /**
   * Random attribute bits for a leaf: lower [11:2], upper [63:50], RES0 [49:48]; AF and AP[1]
   * (EL0 access) are set more often than not, so that successful translations are common too.
   */
  const leafBits = (): { lo: number; hi: number } => {
    let lo = r.u32() & 0xffc;
    if (r.chance(0.6)) lo |= 0x400;
    if (r.chance(0.6)) lo |= 0x40;
    return { lo, hi: (r.u32() & 0xfffc_0000) | (r.u32() & 0x3_0000) };
  };
  const oaFor = (level: Level): number => {
    const size = levelSize(level);
    const high = r.chance(0.03);
    if (high) counts.highOa!++;
    const limit = high ? POW2[48]! : POW2[44]!;
    const lowest = high ? POW2[44]! : 0;
    return lowest + Math.floor(r.below((limit - lowest) / size)) * size;
  };
  const withOa = (bits: { lo: number; hi: number }, oa: number): { lo: number; hi: number } => ({
    lo: (bits.lo | (oa >>> 0)) >>> 0,
    hi: (bits.hi | (Math.floor(oa / POW2[32]!) & 0xffff)) >>> 0,
  });

  function fill(table: number, level: Level, vaBase: number, entries: number): void {
    const size = levelSize(level);
    const n = level === 3 ? 12 + r.below(40) : level === 2 ? 8 + r.below(16) : 4 + r.below(8);
    for (let k = 0; k < n; k++) {
      const index = r.below(entries);
      const va = vaBase + index * size;
      const pa = table + index * 8;
      let value: { lo: number; hi: number };
      let descend: { next: number; fresh: boolean } | null = null;
      const roll = r.u32() % 100;
      if (level < 3 && roll < (level === 2 ? 45 : 65) && nextPage + 4096 <= PA_BASE + budgetPages * 4096) {
        const reuse = built[level + 1]!.length > 0 && r.chance(0.1);
        const next = reuse ? built[level + 1]![r.below(built[level + 1]!.length)]! : alloc();
        if (!reuse) built[level + 1]!.push(next);
        const t = tableDescriptor(next);
        // Random IGNORED and RES0 bits; each hierarchical control (PXNTable, UXNTable, APTable[0],
        // APTable[1], NSTable) set with probability 0.15, so that walks through three tables
        // still often end in an accessible page.
        let attrs = 0;
        for (let b = 0; b < 5; b++) if (r.chance(0.15)) attrs |= 1 << (27 + b);
        value = { lo: (t.lo | (r.u32() & 0xffc)) >>> 0, hi: (t.hi | (r.u32() & 0x07ff_0000) | attrs) >>> 0 };
        descend = { next, fresh: !reuse };
        counts.table!++;
      } else if (level === 0 && roll < 80) {
        value = withOa(leafBits(), 0);
        value.lo = ((value.lo & ~3) | 1) >>> 0;
        counts.l0block!++;
      } else if ((level === 1 || level === 2) && roll < 80) {
        const b = blockDescriptor(level, 0);
        const v = withOa(leafBits(), oaFor(level));
        value = { lo: ((v.lo & ~3) | b.lo) >>> 0, hi: v.hi };
        counts.block!++;
        if (value.hi & (1 << 20)) counts.contiguous!++;
      } else if (level === 3 && roll < 80) {
        const p = pageDescriptor(0);
        const v = withOa(leafBits(), oaFor(3));
        value = { lo: ((v.lo & ~3) | p.lo) >>> 0, hi: v.hi };
        counts.page!++;
        if (value.hi & (1 << 20)) counts.contiguous!++;
      } else if (level === 3 && roll < 86) {
        value = withOa(leafBits(), oaFor(3));
        value.lo = ((value.lo & ~3) | 1) >>> 0; // the reserved level-3 encoding
        counts.reserved!++;
      } else {
        value = { lo: (r.u32() & ~1) >>> 0, hi: r.u32() }; // bit 0 clear: anything else goes
        counts.invalid!++;
      }
      mem.write64(pa, value);
      vas.push(va + r.below(size));
      if (descend && descend.fresh) fill(descend.next, (level + 1) as Level, va, 512);
    }
  }
  fill(root, first, 0, rootEntries);
  // VAs anywhere in the range, and some just outside it (translation fault at level 0).
  const extra = Math.floor(vas.length / 10);
  for (let k = 0; k < extra; k++) vas.push(r.below(POW2[inputBits]!));
  if (inputBits < 53) for (let k = 0; k < 20; k++) vas.push(POW2[inputBits]! + r.below(POW2[inputBits]!));
  return { root, ttbr, vas, counts };
}

interface Tally {
  compared: number;
  excluded: Record<string, number>;
  outcomes: Record<string, number>;
  mismatches: string[];
}

function compareAll(regs: TranslationRegs, vas: number[], tally: Tally): void {
  for (const va of vas) {
    for (const access of ['read', 'write'] as const) {
      const steps: WalkStep[] = [];
      const ours: WalkResult = walk(mem, regs, va, access, 0, { steps });
      const l0Block = steps.some((s) => s.level === 0 && s.decoded.type === 'reserved');
      if (l0Block || (!ours.ok && ours.kind === 'address_size')) {
        const why = l0Block ? 'level-0 block' : 'address size';
        tally.excluded[why] = (tally.excluded[why] ?? 0) + 1;
        continue;
      }
      const q = qemuAt(va, access);
      tally.compared++;
      const key = ours.ok ? `ok L${ours.level}${ours.contiguous ? ' cont' : ''}` : `${ours.kind} L${ours.level}`;
      tally.outcomes[key] = (tally.outcomes[key] ?? 0) + 1;
      const same = ours.ok ? q.ok && q.pa === ours.pa - (ours.pa % 4096) : !q.ok && q.kind === ours.kind && q.level === ours.level;
      if (!same && tally.mismatches.length < 20) {
        const path = steps.map((s) => `L${s.level}[${s.index}] ${describeDescriptor(s.decoded)}`).join(' | ');
        tally.mismatches.push(`VA 0x${va.toString(16)} ${access}: ours ${JSON.stringify(ours.ok ? { pa: ours.pa } : { kind: ours.kind, level: ours.level })}, QEMU ${JSON.stringify(q)}; walk: ${path}`);
      } else if (!same) {
        tally.mismatches.push('...');
      }
    }
  }
}

describe('differential: our walker vs QEMU 5.0 (Unicorn 2.0.1) on random tables', () => {
  it('agrees on every EL0 load and store (output address, or fault kind and level)', () => {
    const r = rng(0x5eed_2024);
    const tally: Tally = { compared: 0, excluded: {}, outcomes: {}, mismatches: [] };
    const totals: Record<string, number> = {};
    let vaCount = 0;
    // 48-bit VAs in depth, then the other start levels and start-table sizes.
    const configs: [number, number][] = [
      [16, 2600],
      [20, 300],
      [25, 300],
      [30, 200],
      [34, 100],
      [39, 60],
    ];
    for (const [t0sz, budget] of configs) {
      const g = generate(r, t0sz, budget);
      for (const [k, v] of Object.entries(g.counts)) totals[k] = (totals[k] ?? 0) + v;
      vaCount += g.vas.length;
      compareAll(setRegisters(t0sz, g.ttbr), g.vas, tally);
    }
    const descriptors = totals.table! + totals.block! + totals.page! + totals.reserved! + totals.invalid! + totals.l0block!;
    console.log(`differential: ${descriptors} descriptors (${JSON.stringify(totals)}), ${vaCount} VAs, ${tally.compared} comparisons, excluded ${JSON.stringify(tally.excluded)}`);
    console.log(`differential: outcomes ${JSON.stringify(tally.outcomes)}`);
    expect(tally.mismatches).toEqual([]);
    // Enough of everything to mean something.
    expect(descriptors).toBeGreaterThanOrEqual(10_000);
    expect(vaCount).toBeGreaterThanOrEqual(10_000);
    expect(tally.compared).toBeGreaterThanOrEqual(20_000);
    expect(totals.contiguous).toBeGreaterThanOrEqual(1_000);
    for (const outcome of [
      'ok L1', 'ok L2', 'ok L3', 'ok L2 cont', 'ok L3 cont',
      'translation L0', 'translation L1', 'translation L2', 'translation L3',
      'access_flag L1', 'access_flag L2', 'access_flag L3',
      'permission L1', 'permission L2', 'permission L3',
    ]) {
      expect({ outcome, seen: (tally.outcomes[outcome] ?? 0) > 0 }).toEqual({ outcome, seen: true });
    }
    expect(tally.excluded['level-0 block']).toBeGreaterThan(0);
    expect(tally.excluded['address size']).toBeGreaterThan(0);
  });
});

describe('differential: the excluded QEMU 5.0 deviations, checked against the architecture', () => {
  function tiny(): { regs: TranslationRegs; l1: number; l2: number; l3: number } {
    mem.zero(PA_BASE, 4 * 4096);
    const [l0, l1, l2, l3] = [PA_BASE, PA_BASE + 0x1000, PA_BASE + 0x2000, PA_BASE + 0x3000];
    mem.write64(l0, tableDescriptor(l1));
    mem.write64(l1, tableDescriptor(l2));
    mem.write64(l2, tableDescriptor(l3));
    return { regs: setRegisters(16, l0), l1, l2, l3 };
  }

  it('a level-0 block: QEMU maps 512 GiB; the architecture (and our walker) gives a level-0 translation fault', () => {
    const { regs } = tiny();
    const v = blockDescriptor(1, 0x4000_0000, { AF: true, AP: 1 });
    mem.write64(PA_BASE + 8, v); // level-0 entry 1, bits[1:0] = 01
    const va = 2 ** 39 + 0x123_4567;
    expect(qemuAt(va, 'read')).toEqual({ ok: true, pa: 0x4123_4000 });
    expect(walk(mem, regs, va, 'read', 0)).toEqual({ ok: false, kind: 'translation', level: 0, va, levelsRead: 1 });
  });

  it('an output address beyond the 44-bit PARange: QEMU translates; the architecture gives an address size fault', () => {
    const { regs, l3 } = tiny();
    mem.write64(l3 + 8, pageDescriptor(2 ** 45, { AF: true, AP: 1 }));
    expect(qemuAt(0x1000, 'read')).toEqual({ ok: true, pa: 2 ** 45 });
    expect(walk(mem, regs, 0x1000, 'read', 0)).toEqual({ ok: false, kind: 'address_size', level: 3, va: 0x1000, levelsRead: 4 });
  });

  it('RES0 bits below a block OA: QEMU 5.0 ORs them into the address; the architecture takes OA[47:21] only', () => {
    const { regs, l2 } = tiny();
    const b = blockDescriptor(2, 0x8000_0000, { AF: true, AP: 1 });
    mem.write64(l2 + 8, { lo: (b.lo | 0x4000) >>> 0, hi: b.hi }); // bit 14 is RES0 in a level-2 block
    expect(qemuAt(0x20_0000, 'read')).toEqual({ ok: true, pa: 0x8000_4000 });
    expect(walk(mem, regs, 0x20_0000, 'read', 0)).toMatchObject({ ok: true, pa: 0x8000_0000 });
  });
});
