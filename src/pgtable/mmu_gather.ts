/**
 * The mmu_gather: batching the TLB invalidation (and the freeing of pages and page tables) of an
 * unmap or protection change until one flush covers it all. The gather's bookkeeping follows
 * include/asm-generic/tlb.h and mm/mmu_gather.c (v6.9); the flush itself is arm64's `tlb_flush`
 * (arch/arm64/include/asm/tlb.h): last-level unless page tables were freed, the stride of the
 * smallest level cleared, and a level hint only when exactly one level was cleared.
 */
import type { CallStack } from '../trace/calls.js';
import type { MmContext } from './policy.js';
import { PAGE_SIZE, PMD_SIZE, PUD_SIZE, PGDIR_SIZE } from './pte.js';
import type { TlbFlush } from './tlbflush.js';

/** TASK_SIZE of the model (docs/internals.md): the reset value of `start`. */
const TASK_SIZE = 2 ** 40;

export class MmuGather {
  start = TASK_SIZE;
  end = 0;
  freedTables = false;
  clearedPtes = false;
  clearedPmds = false;
  clearedPuds = false;
  clearedP4ds = false;
  /** Frees waiting for the flush: pages and page tables may not be reused before it. */
  private readonly pending: Array<() => void> = [];

  constructor(
    readonly mm: MmContext,
    /** exit/execve teardown: the ASID is retired, so only walk caches matter. */
    readonly fullmm: boolean,
    private readonly flush: TlbFlush,
    private readonly calls: CallStack,
  ) {
    if (fullmm) {
      this.start = 0;
      this.end = Number.MAX_SAFE_INTEGER;
    }
    // __tlb_gather_mmu: inc_tlb_flush_pending, so pte_accessible sees the flush still to come.
    mm.tlbFlushPending = (mm.tlbFlushPending ?? 0) + 1;
  }

  private adjustRange(address: number, size: number): void {
    this.start = Math.min(this.start, address);
    this.end = Math.max(this.end, address + size);
  }

  /** tlb_flush_pte_range / tlb_remove_tlb_entries: PTEs in [address, address + size) were cleared. */
  tlbFlushPteRange(address: number, size: number): void {
    this.adjustRange(address, size);
    this.clearedPtes = true;
  }

  tlbFlushPmdRange(address: number, size: number): void {
    this.adjustRange(address, size);
    this.clearedPmds = true;
  }

  tlbFlushPudRange(address: number, size: number): void {
    this.adjustRange(address, size);
    this.clearedPuds = true;
  }

  tlbFlushP4dRange(address: number, size: number): void {
    this.adjustRange(address, size);
    this.clearedP4ds = true;
  }

  /** A page (or folio) to free once the TLB no longer maps it. */
  deferFree(free: () => void): void {
    this.pending.push(free);
  }

  /** pte_free_tlb: a PTE table went; the pmd entry that pointed to it was cleared. */
  pteFreeTlb(address: number, free: () => void): void {
    this.tlbFlushPmdRange(address, PAGE_SIZE);
    this.freedTables = true;
    this.pending.push(free);
  }

  pmdFreeTlb(address: number, free: () => void): void {
    this.tlbFlushPudRange(address, PAGE_SIZE);
    this.freedTables = true;
    this.pending.push(free);
  }

  pudFreeTlb(address: number, free: () => void): void {
    this.tlbFlushP4dRange(address, PAGE_SIZE);
    this.freedTables = true;
    this.pending.push(free);
  }

  private resetRange(): void {
    if (this.fullmm) {
      this.start = 0;
      this.end = Number.MAX_SAFE_INTEGER;
    } else {
      this.start = TASK_SIZE;
      this.end = 0;
    }
    this.freedTables = false;
    this.clearedPtes = this.clearedPmds = this.clearedPuds = this.clearedP4ds = false;
  }

  /** tlb_get_unmap_size: the stride is the size mapped by the smallest level cleared. */
  unmapSize(): number {
    if (this.clearedPtes) return PAGE_SIZE;
    if (this.clearedPmds) return PMD_SIZE;
    if (this.clearedPuds) return PUD_SIZE;
    if (this.clearedP4ds) return PGDIR_SIZE;
    return PAGE_SIZE;
  }

  /** tlb_get_level: a TTL hint is only meaningful for leaves, and only if one level was cleared. */
  level(): number {
    if (this.freedTables) return 0;
    const { clearedPtes: pte, clearedPmds: pmd, clearedPuds: pud, clearedP4ds: p4d } = this;
    if (pte && !(pmd || pud || p4d)) return 3;
    if (pmd && !(pte || pud || p4d)) return 2;
    if (pud && !(pte || pmd || p4d)) return 1;
    return 0;
  }

  /** arm64 tlb_flush. */
  private tlbFlush(): void {
    this.calls.enter('tlb_flush');
    try {
      const lastLevel = !this.freedTables;
      if (this.fullmm) {
        // The ASID allocator will not reuse this ASID without a full invalidation, so only the
        // walk caches (freed tables) need flushing.
        if (!lastLevel) this.flush.flushTlbMm(this.mm);
        return;
      }
      this.flush.__flushTlbRange(this.mm, this.start, this.end, this.unmapSize(), lastLevel, this.level());
    } finally {
      this.calls.leave();
    }
  }

  /** tlb_flush_mmu_tlbonly: flush what was gathered, if anything. */
  tlbFlushMmuTlbonly(): void {
    if (!(this.freedTables || this.clearedPtes || this.clearedPmds || this.clearedPuds || this.clearedP4ds)) return;
    this.calls.enter('tlb_flush_mmu_tlbonly');
    try {
      this.tlbFlush();
      this.resetRange();
    } finally {
      this.calls.leave();
    }
  }

  /** tlb_flush_mmu: the TLB flush, then the frees it made safe. */
  tlbFlushMmu(): void {
    this.calls.enter('tlb_flush_mmu');
    try {
      this.tlbFlushMmuTlbonly();
      const frees = this.pending.splice(0);
      for (const f of frees) f();
    } finally {
      this.calls.leave();
    }
  }

  /**
   * tlb_end_vma: arm64 does not merge gathers across VMAs (no CONFIG_MMU_GATHER_MERGE_VMAS), so
   * each VMA's range is flushed at its end, keeping the range from growing over the gaps.
   */
  tlbEndVma(): void {
    if (this.fullmm) return;
    this.calls.enter('tlb_end_vma');
    try {
      this.tlbFlushMmuTlbonly();
    } finally {
      this.calls.leave();
    }
  }

  /** tlb_finish_mmu: the final flush and frees, then dec_tlb_flush_pending. */
  tlbFinishMmu(): void {
    this.calls.enter('tlb_finish_mmu');
    try {
      this.tlbFlushMmu();
    } finally {
      this.calls.leave();
      this.mm.tlbFlushPending = Math.max(0, (this.mm.tlbFlushPending ?? 0) - 1);
    }
  }
}
