/** The 6.12/7.2 differences of kernel-notes §8 as page-table switches. */
import { describe, expect, it } from 'vitest';
import { CYDP_CLEAR_YOUNG, PAGE_SIZE, pfnPte, pteMkyoung, pteWrite, type PgtablePolicy } from '../../src/pgtable/index.js';
import { Workbench } from '../../src/pgtable/workbench.js';
import { Rig, RO, RW, VA } from './rig.js';

describe('LPA2: range operands in 64 KiB units, single ops until the start is 64 KiB aligned', () => {
  it('a 20-page flush starting 4 pages into a block: 12 single ops up to the 64 KiB boundary, then one range op', () => {
    const r = new Rig({ lpa2: true }).prepare();
    expect(r.wb.mmu.ds).toBe(true);
    r.wb.pgtable.flush.__flushTlbRange(r.mm, VA + 4 * PAGE_SIZE, VA + 24 * PAGE_SIZE, PAGE_SIZE, true, 3);
    const t = r.tlbis();
    expect(t.slice(0, 12).every((s) => s.startsWith('VALE1IS'))).toBe(true);
    expect(t.slice(12)).toEqual(['RVALE1IS asid=2 [0x40010000, 0x40018000) 8 pages (TG=1 SCALE=0 NUM=3) ttl=level 3']);
  });

  it('the contpte_convert flush (64 KiB aligned) is unchanged: one RVALE1IS, decoded with DS', () => {
    const wb = new Workbench({ policy: { lpa2: true } });
    const log: string[] = [];
    wb.telemetry.tracer.attach({ write: (e) => e.kind === 'tlbi' && log.push(e.decoded), close: () => {} }, ['tlbi']);
    const f = wb.allocFolio(4);
    for (let i = 0; i < 16; i++) wb.pgtable.ptep.setPtes(wb.mm, VA + i * PAGE_SIZE, wb.ptep(VA + i * PAGE_SIZE), pfnPte(f.firstPfn + i, RW), 1);
    expect(log).toEqual(['RVALE1IS asid=2 [0x40000000, 0x40010000) 16 pages (TG=1 SCALE=0 NUM=7) ttl=level 3']);
  });
});

describe('ptep_set_access_flags across versions', () => {
  function contBlockOldOneYoung(policy: Partial<PgtablePolicy>) {
    const r = new Rig(policy).prepare();
    const f = r.folio(4);
    r.mapWhole(VA, f.firstPfn, 16);
    r.api.clearYoungDirtyPtes(r.mm, VA, r.ptep(VA), 16, CYDP_CLEAR_YOUNG);
    // One sub-PTE young again (as a hardware AF update of the walked entry would do).
    r.wb.pgtable.raw.__ptepSetAccessFlags(r.mm, VA + 3 * PAGE_SIZE, r.ptep(VA + 3 * PAGE_SIZE), pteMkyoung(r.raw(VA + 3 * PAGE_SIZE)), false);
    r.resetCounts();
    return { r, f };
  }

  it('v6.9 (gathered compare): the block looks young already, so making page 7 young is a no-op', () => {
    const { r } = contBlockOldOneYoung({});
    const e = pteMkyoung(r.api.ptepGet(r.ptep(VA + 7 * PAGE_SIZE)));
    expect(r.api.ptepSetAccessFlags(r.mm, VA + 7 * PAGE_SIZE, r.ptep(VA + 7 * PAGE_SIZE), { lo: e.lo, hi: e.hi & ~(1 << 20) }, false)).toBe(false);
    expect(r.counts().pte_writes).toBe(0);
  });

  it('6.12.117 (raw compare): the old sub-PTEs are updated, all 16 written', () => {
    const { r } = contBlockOldOneYoung({ accessFlagsRawCompare: true });
    const e = pteMkyoung(r.api.ptepGet(r.ptep(VA + 7 * PAGE_SIZE)));
    expect(r.api.ptepSetAccessFlags(r.mm, VA + 7 * PAGE_SIZE, r.ptep(VA + 7 * PAGE_SIZE), { lo: e.lo, hi: e.hi & ~(1 << 20) }, true)).toBe(true);
    expect(r.counts()).toMatchObject({ pte_writes: 16, by_op: { RVALE1IS: 1 } });
  });

  it('7.2 (local flush): the dirty flush is RVALE1 with DSB NSHST/NSH', () => {
    const { r } = contBlockOldOneYoung({ accessFlagsRawCompare: true, accessFlagsLocalFlush: true });
    const e = pteMkyoung(r.api.ptepGet(r.ptep(VA + 7 * PAGE_SIZE)));
    r.api.ptepSetAccessFlags(r.mm, VA + 7 * PAGE_SIZE, r.ptep(VA + 7 * PAGE_SIZE), { lo: e.lo, hi: e.hi & ~(1 << 20) }, true);
    expect(r.sequence()).toEqual(['W×16', 'dsb nshst', 'RVALE1', 'dsb nsh']);
  });

  it('7.2 (local flush): a plain PTE made writable is flushed with one local VALE1 carrying the level hint', () => {
    const r = new Rig({ accessFlagsLocalFlush: true }).prepare();
    const f = r.folio(0);
    r.mapWhole(VA, f.firstPfn, 1, RO);
    r.resetCounts();
    r.api.ptepSetAccessFlags(r.mm, VA, r.ptep(VA), pfnPte(f.firstPfn, RW), true);
    expect(pteWrite(r.raw(VA))).toBe(true);
    expect(r.tlbis()).toEqual([`VALE1 asid=2 va=0x${VA.toString(16)} ttl=level 3`]);
  });
});

describe('flush_tlb_page and flush_tlb_fix_spurious_fault across versions', () => {
  it('6.x flush_tlb_page has no level hint; 7.x has level 3', () => {
    for (const [ttl, want] of [[false, `VALE1IS asid=2 va=0x${VA.toString(16)}`], [true, `VALE1IS asid=2 va=0x${VA.toString(16)} ttl=level 3`]] as const) {
      const r = new Rig({ flushTlbPageTtl: ttl }).prepare();
      r.wb.pgtable.flush.flushTlbPage(r.mm, VA);
      expect(r.tlbis()).toEqual([want]);
    }
  });
  it('flush_tlb_fix_spurious_fault: nothing in 6.x, a local page flush in 7.x', () => {
    const r6 = new Rig().prepare();
    r6.wb.pgtable.flush.flushTlbFixSpuriousFault(r6.mm, VA);
    expect(r6.sequence()).toEqual([]);
    const r7 = new Rig({ spuriousFaultFlush: true }).prepare();
    r7.wb.pgtable.flush.flushTlbFixSpuriousFault(r7.mm, VA);
    expect(r7.sequence()).toEqual(['dsb nshst', 'VALE1', 'dsb nsh']);
    expect(r7.counts().tlbi).toBe(1);
  });
});
