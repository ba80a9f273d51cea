/**
 * A self-contained page-table rig: physical memory with the buddy allocator, the mmu (TLB,
 * walker, checker), the page-table layer and one user mm. It is what `contpte-lab ptep` drives,
 * and what the page-table tests use, without a process or an emulator.
 */
import { Buddy } from '../mm/buddy.js';
import { Memmap, type Folio } from '../mm/folio.js';
import { Mmu, PhysMem, type MmuOptions } from '../mmu/index.js';
import { Telemetry } from '../trace/telemetry.js';
import { UsageError } from '../util/errors.js';
import { Pgtable } from './index.js';
import { DEFAULT_PGTABLE_POLICY, type MmContext, type PgtablePolicy } from './policy.js';

/** Where the rig's RAM starts: 1 GiB, as on QEMU's arm64 `virt` board (small, readable pfns). */
export const WORKBENCH_PHYS_BASE = 0x4000_0000;

export interface WorkbenchOptions {
  policy?: Partial<PgtablePolicy>;
  /** Bytes of RAM (page tables and folios). Default 32 MiB. */
  memBytes?: number;
  mmu?: MmuOptions;
  /** The mm's ASID (even, so KPTI's user half is asid | 1). Default 2. */
  asid?: number;
  telemetry?: Telemetry;
}

export class Workbench {
  readonly telemetry: Telemetry;
  readonly policy: PgtablePolicy;
  readonly mem: PhysMem;
  readonly buddy: Buddy;
  readonly memmap: Memmap;
  readonly mmu: Mmu;
  readonly pgtable: Pgtable;
  readonly mm: MmContext;

  constructor(opts: WorkbenchOptions = {}) {
    this.telemetry = opts.telemetry ?? new Telemetry();
    this.policy = { ...DEFAULT_PGTABLE_POLICY, ...opts.policy };
    this.mem = PhysMem.allocate(WORKBENCH_PHYS_BASE, opts.memBytes ?? 32 * 1024 * 1024);
    this.buddy = new Buddy(this.mem, this.telemetry);
    this.memmap = new Memmap(this.buddy, this.telemetry);
    this.mmu = new Mmu(this.mem, this.telemetry, { bbml2: this.policy.bbml2Noabort, ds: this.policy.lpa2, ...opts.mmu });
    this.pgtable = new Pgtable(this.mmu, this.policy, this.telemetry, this.memmap, this.memmap);
    const asid = opts.asid ?? 2;
    if (asid % 2 !== 0) throw new UsageError(`asid ${asid}: must be even (KPTI uses asid | 1 for the user half)`);
    const pgd = this.pgtable.tables.pgdAlloc();
    this.mm = { asid, isUser: true, pgd };
    this.mmu.regs = { ...this.mmu.regs, ttbr0: pgd, asid: this.pgtable.raw.userAsid(this.mm) };
  }

  /** A new folio of 2^order pages from the buddy allocator (naturally aligned, as in Linux). */
  allocFolio(order: number): Folio {
    const r = this.memmap.folioAlloc(order);
    if (r.kind !== 'ok') throw new UsageError(`out of memory allocating an order-${order} folio: use a larger 'mem'`);
    return r.folio;
  }

  /** The PTE's physical address for va, allocating page tables on the way. */
  ptep(va: number): number {
    const p = this.pgtable.tables.pteAllocMap(this.mm, va);
    if (p === undefined) throw new UsageError(`out of memory allocating page tables for 0x${va.toString(16)}`);
    return p;
  }
}
