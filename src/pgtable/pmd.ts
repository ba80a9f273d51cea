/**
 * PMD-level leaf entries (block descriptors mapping 2 MiB), as arm64 keeps them for transparent
 * huge pages: asm/pgtable.h treats a pmd_t as a pte_t (pmd_pte/pte_pmd) with the table bit
 * cleared (pmd_mkhuge), so the PTE bit helpers of pte.ts apply to it unchanged. The accessors
 * here are the arm64 ones the core mm calls (v6.12 and 7.2): set_pmd_at, pmdp_huge_get_and_clear,
 * pmdp_invalidate (pmdp_establish + flush_pmd_tlb_range), pmdp_huge_clear_flush,
 * pmdp_set_wrprotect, pmdp_set_access_flags and pmd_populate. None of them knows the contiguous
 * bit: a PMD-mapped THP never folds (CONT_PMD is for hugetlb only).
 *
 * Stores are counted in `pmd_writes` (not `pte_writes`), and reach the checker as level-2 writes.
 */
import type { Mmu } from '../mmu/index.js';
import { DescriptorStore } from './descriptor-store.js';
import type { Telemetry } from '../trace/telemetry.js';
import type { MmContext, PgtablePolicy } from './policy.js';
import type { PgtableStats } from './stats.js';
import type { TlbFlush } from './tlbflush.js';
import {
  PAGE_SIZE,
  PMD_SIZE,
  PTE_AF_LO,
  PTE_DIRTY_HI,
  PTE_NONE,
  PTE_RDONLY_LO,
  PTE_TABLE_BIT_LO,
  PTE_VALID_LO,
  PTE_WRITE_HI,
  pteSame,
  pteWrprotect,
  type Pte,
} from './pte.js';

export type Pmd = Pte;

/** PMD_PRESENT_INVALID: arm64 keeps an invalidated PMD present through the nG bit (6.12, 7.2). */
const PMD_PRESENT_INVALID_LO = 1 << 11;
const TABLE_TYPE_LO = 3;
const ADDR_MASK_LO = 0xfffff000;
const PXN_TABLE_HI = 1 << (59 - 32);

/** pmd_mkhuge: a leaf (block) entry, bits[1:0] = 01. */
export function pmdMkhuge(p: Pte): Pmd {
  return { lo: (p.lo & ~PTE_TABLE_BIT_LO) >>> 0, hi: p.hi };
}

/** pmd_table: a table descriptor (bits[1:0] = 11). */
export const pmdTable = (p: Pmd): boolean => (p.lo & 3) === TABLE_TYPE_LO;

/**
 * pmd_trans_huge: a present leaf. Present includes the PROT_NONE encoding and an invalidated
 * entry (PMD_PRESENT_INVALID), neither of which has the table bit.
 */
export function pmdTransHuge(p: Pmd): boolean {
  if (p.lo === 0 && p.hi === 0) return false;
  if (pmdTable(p)) return false;
  return (p.lo & PTE_VALID_LO) !== 0 || (p.hi & (1 << (58 - 32))) !== 0 || (p.lo & PMD_PRESENT_INVALID_LO) !== 0;
}

/** pmd_mkinvalid: clear the valid bit, keep the entry present (arm64 pte_mkinvalid). */
export function pmdMkinvalid(p: Pmd): Pmd {
  return { lo: ((p.lo & ~PTE_VALID_LO) | PMD_PRESENT_INVALID_LO) >>> 0, hi: p.hi };
}

/** The table descriptor pmd_populate writes for a user PTE table (PXNTable, as pgalloc.h). */
export function pmdTableDesc(tablePa: number): Pmd {
  return { lo: ((tablePa & ADDR_MASK_LO) | TABLE_TYPE_LO) >>> 0, hi: ((Math.floor(tablePa / 2 ** 32) & 0xffff) | PXN_TABLE_HI) >>> 0 };
}

export class PmdOps {
  private readonly descriptors: DescriptorStore;

  constructor(
    private readonly mmu: Mmu,
    private readonly policy: PgtablePolicy,
    private readonly telemetry: Telemetry,
    private readonly stats: PgtableStats,
    private readonly flush: TlbFlush,
    private readonly userAsid: (mm: MmContext) => number,
  ) {
    this.descriptors = new DescriptorStore(mmu, telemetry, 2);
  }

  pmdpGet(pmdp: number): Pmd {
    return this.mmu.mem.read64(pmdp);
  }

  private store(mm: MmContext, addr: number, pmdp: number, value: Pmd, atomic: boolean): Pmd {
    const old = this.descriptors.write(this.userAsid(mm), addr, pmdp, value);
    this.stats.pmd_writes++;
    if (atomic) this.stats.pte_atomics++;
    return old;
  }

  /**
   * set_pmd_at: __set_pte_at on the PMD slot. A user entry gets no barrier (the next fault or
   * the return to user space orders it), as for PTEs.
   */
  setPmdAt(mm: MmContext, addr: number, pmdp: number, pmd: Pmd): void {
    this.store(mm, addr, pmdp, pmd, false);
  }

  /** pmdp_huge_get_and_clear: an atomic exchange with zero. */
  pmdpHugeGetAndClear(mm: MmContext, addr: number, pmdp: number): Pmd {
    return this.store(mm, addr, pmdp, PTE_NONE, true);
  }

  /** flush_pmd_tlb_range: __flush_tlb_range with a PMD stride and a level-2 hint, not last-level. */
  flushPmdTlbRange(mm: MmContext, start: number, end: number): void {
    this.telemetry.calls.enter('flush_pmd_tlb_range');
    try {
      this.flush.__flushTlbRange(mm, start, end, PMD_SIZE, false, 2);
    } finally {
      this.telemetry.calls.leave();
    }
  }

  /** pmdp_huge_clear_flush (mm/pgtable-generic.c). */
  pmdpHugeClearFlush(mm: MmContext, haddr: number, pmdp: number): Pmd {
    const calls = this.telemetry.calls;
    calls.enter('pmdp_huge_clear_flush');
    try {
      const old = this.pmdpHugeGetAndClear(mm, haddr, pmdp);
      this.flushPmdTlbRange(mm, haddr, haddr + PMD_SIZE);
      return old;
    } finally {
      calls.leave();
    }
  }

  /**
   * pmdp_invalidate (mm/pgtable-generic.c): pmdp_establish swaps in the invalid-but-present
   * entry (an xchg), then the whole 2 MiB is flushed, so no CPU can write through the old entry
   * while the caller builds the PTE table that replaces it.
   */
  pmdpInvalidate(mm: MmContext, haddr: number, pmdp: number): Pmd {
    const calls = this.telemetry.calls;
    calls.enter('pmdp_invalidate');
    try {
      const old = this.store(mm, haddr, pmdp, pmdMkinvalid(this.pmdpGet(pmdp)), true);
      this.flushPmdTlbRange(mm, haddr, haddr + PMD_SIZE);
      return old;
    } finally {
      calls.leave();
    }
  }

  /** pmdp_set_wrprotect: __ptep_set_wrprotect on the PMD (a cmpxchg, no flush: the caller's). */
  pmdpSetWrprotect(mm: MmContext, addr: number, pmdp: number): void {
    this.store(mm, addr, pmdp, pteWrprotect(this.pmdpGet(pmdp)), true);
  }

  /**
   * pmdp_set_access_flags: __ptep_set_access_flags on the PMD (young, dirty and write taken from
   * `entry`, RDONLY the more permissive). The stale read-only entry is flushed when `dirty`:
   * flush_tlb_page of the address in 6.12; in 7.2 a local flush of the 2 MiB with a level-2 hint.
   */
  pmdpSetAccessFlags(mm: MmContext, haddr: number, pmdp: number, entry: Pmd, dirty: boolean): boolean {
    const pmd = this.pmdpGet(pmdp);
    if (pteSame(pmd, entry)) return false;
    const eLo = (entry.lo & (PTE_RDONLY_LO | PTE_AF_LO)) ^ PTE_RDONLY_LO;
    const lo = (((pmd.lo ^ PTE_RDONLY_LO) | eLo) ^ PTE_RDONLY_LO) >>> 0;
    const hi = (pmd.hi | (entry.hi & (PTE_WRITE_HI | PTE_DIRTY_HI))) >>> 0;
    this.store(mm, haddr, pmdp, { lo, hi }, true);
    if (dirty) {
      if (this.policy.accessFlagsLocalFlush) this.flush.__flushTlbRange(mm, haddr, haddr + PMD_SIZE, PMD_SIZE, true, 2, false);
      else this.flush.flushTlbPage(mm, haddr);
    }
    return true;
  }

  /** pmd_populate: point the PMD at a PTE table; a valid table entry gets its DSB (set_pmd). */
  pmdPopulate(mm: MmContext, haddr: number, pmdp: number, tablePa: number): void {
    this.store(mm, haddr, pmdp, pmdTableDesc(tablePa), false);
    this.mmu.dsb('ishst');
  }
}

/** The first page's address of the 2 MiB block holding addr. */
export function pmdAlignDown(addr: number): number {
  return addr - (addr % PMD_SIZE);
}

/** HPAGE_PMD_NR. */
export const HPAGE_PMD_NR = PMD_SIZE / PAGE_SIZE;
export const HPAGE_PMD_ORDER = 9;
