/**
 * The kernel's page-table layer. `Pgtable` wires the raw tier, the contpte-aware public API, the
 * TLB-flush helpers and the table tree to one mmu, for one machine.
 */
import type { Mmu } from '../mmu/index.js';
import type { Telemetry } from '../trace/telemetry.js';
import { MmuGather } from './mmu_gather.js';
import type { FolioLookup, MmContext, PgtablePolicy } from './policy.js';
import { PmdOps } from './pmd.js';
import { Ptep } from './ptep.js';
import { RawPtes } from './raw.js';
import { registerPgtableStats, type PgtableStats } from './stats.js';
import { PageTables, type PageTableAllocator } from './tables.js';
import { TlbFlush } from './tlbflush.js';

export * from './pte.js';
export * from './policy.js';
export * from './tlbflush.js';
export * from './contpte.js';
export * from './raw.js';
export * from './ptep.js';
export * from './pmd.js';
export * from './tables.js';
export * from './mmu_gather.js';
export * from './stats.js';

export class Pgtable {
  readonly stats: PgtableStats;
  readonly flush: TlbFlush;
  readonly raw: RawPtes;
  readonly ptep: Ptep;
  readonly tables: PageTables;
  readonly pmd: PmdOps;

  constructor(
    readonly mmu: Mmu,
    readonly policy: PgtablePolicy,
    readonly telemetry: Telemetry,
    folios: FolioLookup,
    alloc: PageTableAllocator,
  ) {
    this.stats = registerPgtableStats(telemetry.stats);
    this.flush = new TlbFlush(mmu, policy, telemetry.calls);
    this.raw = new RawPtes(mmu, policy, telemetry, this.stats, this.flush);
    this.ptep = new Ptep(mmu, this.raw, this.flush, policy, telemetry, this.stats, folios);
    this.tables = new PageTables(mmu, alloc, (mm) => this.raw.userAsid(mm));
    this.pmd = new PmdOps(mmu, policy, telemetry, this.stats, this.flush, (mm) => this.raw.userAsid(mm));
  }

  /** tlb_gather_mmu / tlb_gather_mmu_fullmm. */
  gather(mm: MmContext, fullmm = false): MmuGather {
    return new MmuGather(mm, fullmm, this.flush, this.telemetry.calls);
  }
}
