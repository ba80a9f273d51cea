import { describe, expect, it } from 'vitest';
import { Mmu, pageDescriptor, tlbiRangeOperand, tlbiVaOperand, ttl4k, type MmuOptions, type TlbEntry } from './imports.js';
import { Telemetry } from '../../src/trace/telemetry.js';
import type { TraceRecord } from '../../src/trace/events.js';
import { TableBuilder } from './tables.js';

function setup(opts: MmuOptions = {}, kinds: TraceRecord['kind'][] = []) {
  const tb = new TableBuilder();
  const telemetry = new Telemetry();
  const events: TraceRecord[] = [];
  if (kinds.length) telemetry.tracer.attach({ write: (r) => events.push(r), close: () => {} }, kinds);
  const mmu = new Mmu(tb.mem, telemetry, opts);
  mmu.regs.ttbr0 = tb.root;
  mmu.regs.asid = 3;
  return { tb, telemetry, mmu, events, stats: () => telemetry.stats.snapshot() };
}

const USER_RW = { AF: true, AP: 1, SH: 3, nG: true } as const;

describe('Mmu.translate', () => {
  it('walks and fills on a miss, then hits without walking', () => {
    const { tb, mmu, stats } = setup();
    tb.set(0x40_0000, 3, pageDescriptor(0x9000, USER_RW));
    expect(mmu.translate(0x40_0010, 'read', 0)).toMatchObject({ ok: true, pa: 0x9010, levelsRead: 4 });
    expect(mmu.translate(0x40_0ff0, 'write', 0)).toMatchObject({ ok: true, pa: 0x9ff0, levelsRead: 0, level: 3, size: 4096 });
    expect(stats().tlb).toMatchObject({ lookups: 2, hits: 1, walks: 1, fills: 1, walk_levels_read: 4, walk_faults: 0, evictions: 0 });
  });

  it('uses the walk cache: a neighbouring page costs one descriptor read', () => {
    const { tb, mmu, stats } = setup();
    tb.set(0x40_0000, 3, pageDescriptor(0x9000, USER_RW));
    tb.set(0x40_1000, 3, pageDescriptor(0xa000, USER_RW));
    mmu.translate(0x40_0000, 'read', 0);
    expect(mmu.translate(0x40_1000, 'read', 0)).toMatchObject({ ok: true, levelsRead: 1 });
    expect(stats().tlb).toMatchObject({ walks: 2, walk_levels_read: 5, walk_cache_hits: 1 });
    const noCache = setup({ walkCacheEntries: 0 });
    noCache.tb.set(0x40_0000, 3, pageDescriptor(0x9000, USER_RW));
    noCache.tb.set(0x40_1000, 3, pageDescriptor(0xa000, USER_RW));
    noCache.mmu.regs.ttbr0 = noCache.tb.root;
    noCache.mmu.translate(0x40_0000, 'read', 0);
    expect(noCache.mmu.translate(0x40_1000, 'read', 0)).toMatchObject({ levelsRead: 4 });
  });

  it('a contiguous page fills one entry that serves the 15 other pages', () => {
    const { tb, mmu, stats } = setup();
    for (let i = 0; i < 16; i++) tb.set(0x10_0000 + i * 4096, 3, pageDescriptor(0x20_0000 + i * 4096, { ...USER_RW, contiguous: true }));
    for (let i = 0; i < 16; i++) expect(mmu.translate(0x10_0000 + i * 4096 + 8, 'read', 0)).toMatchObject({ ok: true, pa: 0x20_0000 + i * 4096 + 8, contiguous: true, spanSize: 0x10000 });
    expect(stats().tlb).toMatchObject({ walks: 1, fills: 1, contiguous_fills: 1, hits: 15 });
  });

  it('with tlbContig off the same block takes 16 walks', () => {
    const { tb, mmu, stats } = setup({ tlbContig: false });
    for (let i = 0; i < 16; i++) tb.set(0x10_0000 + i * 4096, 3, pageDescriptor(0x20_0000 + i * 4096, { ...USER_RW, contiguous: true }));
    for (let i = 0; i < 16; i++) mmu.translate(0x10_0000 + i * 4096, 'read', 0);
    expect(stats().tlb).toMatchObject({ walks: 16, fills: 16, contiguous_fills: 0 });
  });

  it('a fault fills nothing; a hit that lacks permission faults without a walk', () => {
    const { tb, mmu, stats } = setup();
    tb.set(0x5000, 3, pageDescriptor(0x5000, { ...USER_RW, AF: false }));
    tb.set(0x6000, 3, pageDescriptor(0x6000, { ...USER_RW, AP: 3 }));
    expect(mmu.translate(0x5000, 'read', 0)).toEqual({ ok: false, kind: 'access_flag', level: 3, va: 0x5000, levelsRead: 4 });
    expect(mmu.tlb.occupancy).toBe(0);
    expect(mmu.translate(0x6000, 'read', 0)).toMatchObject({ ok: true });
    expect(mmu.translate(0x6000, 'write', 0)).toEqual({ ok: false, kind: 'permission', level: 3, va: 0x6000, levelsRead: 0 });
    // Even after software makes the page writable, the stale entry still refuses until a TLBI.
    tb.set(0x6000, 3, pageDescriptor(0x6000, USER_RW));
    expect(mmu.translate(0x6000, 'write', 0)).toMatchObject({ ok: false, kind: 'permission', levelsRead: 0 });
    mmu.tlbi('VALE1IS', tlbiVaOperand({ asid: 3, va: 0x6000 }));
    expect(mmu.translate(0x6000, 'write', 0)).toMatchObject({ ok: true });
    expect(stats().tlb).toMatchObject({ walks: 3, walk_faults: 1, permission_faults_from_tlb: 2 });
  });

  it('ASIDs: a non-global entry does not serve another ASID', () => {
    const { tb, mmu, stats } = setup();
    tb.set(0x7000, 3, pageDescriptor(0x7000, USER_RW));
    mmu.translate(0x7000, 'read', 0);
    mmu.regs.asid = 4;
    expect(mmu.translate(0x7000, 'read', 0)).toMatchObject({ ok: true, levelsRead: 4 });
    expect(stats().tlb).toMatchObject({ walks: 2, hits: 0 });
  });

  it('HA sets AF (counted); HD marks dirty on the first write through a clean entry, by walking again', () => {
    const { tb, mmu, stats } = setup({ ha: true, hd: true });
    const pa = tb.set(0x8000, 3, pageDescriptor(0x8000, { ...USER_RW, AF: false, AP: 3, DBM: true }));
    const observed: string[] = [];
    mmu.tlb.observer = { onFill: (e: TlbEntry) => observed.push(`fill w=${(e.perms & 2) !== 0}`), onRemove: (_e, r) => observed.push(r) };
    expect(mmu.translate(0x8000, 'read', 0)).toMatchObject({ ok: true, dirtyOnWrite: true });
    expect(tb.get(pa).lo & 0x480).toBe(0x480); // AF set, still clean (AP[2] = 1)
    expect(mmu.translate(0x8000, 'write', 0)).toMatchObject({ ok: true, dirtyOnWrite: false, levelsRead: 1 });
    expect(tb.get(pa).lo & 0x80).toBe(0); // dirty now
    expect(mmu.translate(0x8000, 'write', 0)).toMatchObject({ ok: true, levelsRead: 0 });
    expect(observed).toEqual(['fill w=false', 'replace', 'fill w=true']);
    expect(stats().tlb).toMatchObject({ walks: 2, hw_af_updates: 1, hw_dirty_updates: 1, replaced: 1, hits: 2 });
  });
});

describe('Mmu.tlbi and Mmu.dsb: counting, attribution, trace', () => {
  it('counts by op, by site (looking through flush helpers) and by chain, and traces the decoding', () => {
    const { tb, mmu, telemetry, events, stats } = setup({}, ['tlbi', 'dsb']);
    tb.set(0x10_0000, 3, pageDescriptor(0x1000, USER_RW));
    mmu.translate(0x10_0000, 'read', 0);
    const calls = telemetry.calls;
    calls.markHelpers('__flush_tlb_range');
    calls.within('set_ptes', () =>
      calls.within('contpte_convert', () =>
        calls.within('__flush_tlb_range', () => {
          mmu.dsb('ishst');
          mmu.tlbi('RVALE1IS', tlbiRangeOperand({ asid: 3, tg: 1, scale: 0, num: 7, ttl: 3, baseAddr: 0x100 }));
          mmu.dsb('ish');
        }),
      ),
    );
    calls.within('zap_pte_range', () => mmu.tlbi('VALE1IS', tlbiVaOperand({ asid: 3, va: 0x20_0000, ttl: ttl4k(3) })));
    mmu.tlbi('VMALLE1IS', { lo: 0, hi: 0 });
    expect(stats().tlbi).toEqual({
      total: 3,
      by_op: { RVALE1IS: 1, VALE1IS: 1, VMALLE1IS: 1 },
      by_site: { contpte_convert: 1, zap_pte_range: 1, '(none)': 1 },
      by_chain: { 'set_ptes > contpte_convert > __flush_tlb_range': 1, zap_pte_range: 1, '(none)': 1 },
      walk_cache_invalidated: 3,
    });
    expect(stats().dsb).toEqual({ total: 2, ishst: 1, ish: 1, nshst: 0, nsh: 0, sy: 0 });
    expect(stats().tlb).toMatchObject({ invalidated_entries: 1 });
    expect(events.map((e) => e.kind)).toEqual(['dsb', 'tlbi', 'dsb', 'tlbi', 'tlbi']);
    expect(events[1]).toMatchObject({
      kind: 'tlbi',
      op: 'RVALE1IS',
      decoded: 'RVALE1IS asid=3 [0x100000, 0x110000) 16 pages (TG=1 SCALE=0 NUM=7) ttl=level 3',
      site: 'contpte_convert',
      chain: 'set_ptes > contpte_convert > __flush_tlb_range',
      removed: 1,
    });
    expect(events[0]).toMatchObject({ kind: 'dsb', domain: 'ishst', chain: 'set_ptes > contpte_convert > __flush_tlb_range' });
  });

  it('traces walks with their result', () => {
    const { tb, mmu, events } = setup({}, ['walk']);
    tb.set(0x3000, 3, pageDescriptor(0x4000, USER_RW));
    mmu.translate(0x3000, 'read', 0);
    mmu.translate(0x9000, 'read', 0);
    expect(events).toEqual([
      { kind: 'walk', va: 0x3000, asid: 3, levels: 4, result: 'ok', pa: 0x4000, level: 3, seq: 0 },
      { kind: 'walk', va: 0x9000, asid: 3, levels: 1, result: 'translation', level: 3, seq: 1 }, // walk cache: same table
    ]);
  });

  it('registers the tlb, tlbi, dsb, checker and cpus stats groups once per telemetry', () => {
    const { tb, telemetry } = setup();
    expect(Object.keys(telemetry.stats.snapshot())).toEqual(['tlb', 'tlbi', 'dsb', 'checker', 'cpus']);
    expect(() => new Mmu(tb.mem, telemetry)).toThrow(/registered twice/);
  });

  it('writeDescriptor stores, returns the old value, and skips the checker when it is off', () => {
    const { tb, mmu } = setup({ checker: false });
    const pa = tb.entryPa(0x1000, 3);
    const v = pageDescriptor(0x1000, USER_RW);
    expect(mmu.writeDescriptor(pa, v, { va: 0x1000, level: 3, asid: 3 })).toEqual({ lo: 0, hi: 0 });
    expect(mmu.writeDescriptor(pa, pageDescriptor(0x2000, USER_RW), { va: 0x1000, level: 3, asid: 3 })).toEqual(v);
    expect(mmu.checker.stats.bbm_violations).toBe(0);
  });
});

describe('Mmu.resolve', () => {
  it('does what translate does (lookups, walks, fills, faults, counts) and answers null for a translation', () => {
    const ops: [number, 'read' | 'write' | 'exec'][] = [
      [0x40_0010, 'read'], [0x40_0ff0, 'write'], [0x10_0000, 'read'], [0x10_3008, 'read'], [0x5000, 'read'], [0x40_0010, 'exec'], [0x7000, 'read'],
    ];
    const build = () => {
      const s = setup();
      s.tb.set(0x40_0000, 3, pageDescriptor(0x9000, USER_RW));
      for (let i = 0; i < 16; i++) s.tb.set(0x10_0000 + i * 4096, 3, pageDescriptor(0x20_0000 + i * 4096, { ...USER_RW, contiguous: true }));
      s.tb.set(0x5000, 3, pageDescriptor(0x5000, { ...USER_RW, AF: false }));
      return s;
    };
    const a = build();
    const b = build();
    for (const [va, access] of ops) {
      const t = a.mmu.translate(va, access, 0);
      const r = b.mmu.resolve(va, access, 0);
      if (t.ok) expect(r).toBeNull();
      else expect(r).toEqual(t);
    }
    expect(b.stats()).toEqual(a.stats());
    const entries = (m: typeof a.mmu): TlbEntry[] => [...m.tlb.residentEntries()];
    expect(entries(b.mmu)).toEqual(entries(a.mmu));
  });
});
