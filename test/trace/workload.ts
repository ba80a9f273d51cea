/**
 * Real events without an emulator: the page_fault3 pattern driven through the Workbench (the
 * real page-table layer, mmu, TLB and checker). Each page of large folios is written the way a
 * shared write fault maps it (a miss and a faulting walk, set_ptes of one PTE, the retried access
 * walking and filling the TLB), then the region is unmapped as zap_pte_range does (one
 * get_and_clear_full_ptes per folio and one mmu_gather flush).
 */
import type { Folio } from '../../src/mm/folio.js';
import { PAGE_SHARED, PAGE_SIZE, pfnPte, pteMkdirty, pteMkyoung, type PgtablePolicy } from '../../src/pgtable/index.js';
import { Workbench } from '../../src/pgtable/workbench.js';
import { bump, type Tally } from '../../src/trace/stats.js';
import type { Telemetry } from '../../src/trace/telemetry.js';

export const VA = 0x4000_0000;
/** The instruction page_fault3's loop stores with, and a PC for it. */
export const STORE_PC = 0x401234;
export const STORE_WORD = 0x3821681f; // strb wzr, [x0, x1]

const SHARED_DIRTY = pteMkdirty(pteMkyoung(PAGE_SHARED));

export class Pf3Workload {
  readonly wb: Workbench;
  readonly folios: Folio[] = [];
  /** Counted as the memory manager's `fault` group counts them (src/mm/stats.ts). */
  readonly faults: { [k: string]: number | Tally; total: number; by_path: Tally; by_hw_kind: Tally };

  /** `orders`: the folios backing the region, in VA order (each naturally aligned in VA). */
  constructor(orders: number[], policy: Partial<PgtablePolicy> = {}, telemetry?: Telemetry) {
    this.wb = new Workbench({ policy, ...(telemetry !== undefined ? { telemetry } : {}) });
    for (const o of orders) this.folios.push(this.wb.allocFolio(o));
    this.faults = this.wb.telemetry.stats.register('fault', { total: 0, by_path: {}, by_hw_kind: {} });
  }

  get telemetry(): Telemetry {
    return this.wb.telemetry;
  }

  get pages(): number {
    return this.folios.reduce((n, f) => n + f.nrPages, 0);
  }

  /** One mmap-touch-munmap iteration; `insn` is what the machine would put in fault events. */
  pass(insn = 'strb wzr, [x0, x1]'): void {
    const { mmu, pgtable, mm } = this.wb;
    const t = this.wb.telemetry;
    let va = VA;
    for (const f of this.folios) {
      for (let i = 0; i < f.nrPages; i++, va += PAGE_SIZE) {
        const miss = mmu.translate(va, 'write', 0);
        if (miss.ok) throw new Error(`page ${va.toString(16)} is mapped before its fault`);
        this.faults.total++;
        bump(this.faults.by_hw_kind, miss.kind);
        bump(this.faults.by_path, 'do_shared_fault');
        if (t.tracer.on.fault) {
          t.tracer.emit({ kind: 'fault', va, access: 'write', fault: miss.kind, level: miss.level, pc: STORE_PC, insn, handled: 'do_shared_fault' });
        }
        const ptep = this.wb.ptep(va);
        t.calls.within('do_shared_fault', () => pgtable.ptep.setPtes(mm, va, ptep, pfnPte(f.firstPfn + i, SHARED_DIRTY), 1));
        const hit = mmu.translate(va, 'write', 0);
        if (!hit.ok) throw new Error(`page ${va.toString(16)} still faults (${hit.kind})`);
      }
    }
    const gather = pgtable.gather(mm);
    t.calls.within('zap_pte_range', () => {
      let a = VA;
      for (const f of this.folios) {
        const size = f.nrPages * PAGE_SIZE;
        pgtable.ptep.getAndClearFullPtes(mm, a, this.wb.ptep(a), f.nrPages);
        gather.tlbFlushPteRange(a, size);
        a += size;
      }
    });
    t.calls.within('unmap_region', () => gather.tlbFlushMmu());
  }
}
