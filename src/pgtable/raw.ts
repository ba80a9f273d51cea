/**
 * The raw tier: arm64's `__set_ptes`, `__ptep_get_and_clear` and friends (asm/pgtable.h, v6.9,
 * and `__ptep_set_access_flags` from arch/arm64/mm/fault.c). It reads and writes real
 * descriptors in simulated physical memory and knows nothing of the contiguous bit: the
 * contpte-aware public tier (ptep.ts, contpte.ts) is built on it, as in the kernel.
 *
 * The model is single-threaded, so every cmpxchg loop of the kernel succeeds on its first try;
 * each is still counted as an atomic store.
 */
import type { Mmu } from '../mmu/index.js';
import { DescriptorStore } from './descriptor-store.js';
import type { Telemetry } from '../trace/telemetry.js';
import type { PgtablePolicy, MmContext } from './policy.js';
import type { PgtableStats } from './stats.js';
import type { TlbFlush } from './tlbflush.js';
import {
  PAGE_SIZE,
  PTE_NONE,
  pteAdvancePfn,
  pteDirty,
  pteEqual,
  pteMkclean,
  pteMkdirty,
  pteMkold,
  pteMkyoung,
  pteSame,
  pteValidNotUser,
  pteWrprotect,
  pteYoung,
  PTE_AF_LO,
  PTE_DIRTY_HI,
  PTE_RDONLY_LO,
  PTE_WRITE_HI,
  type Pte,
} from './pte.js';

/** clear_young_dirty_ptes flags (include/linux/pgtable.h, v6.10+). */
export const CYDP_CLEAR_YOUNG = 1;
export const CYDP_CLEAR_DIRTY = 2;

export class RawPtes {
  private readonly descriptors: DescriptorStore;

  constructor(
    private readonly mmu: Mmu,
    private readonly policy: PgtablePolicy,
    telemetry: Telemetry,
    private readonly stats: PgtableStats,
    private readonly flush: TlbFlush,
  ) {
    this.descriptors = new DescriptorStore(mmu, telemetry, 3);
  }

  /** The ASID hardware tags this mm's user entries with: the user half under KPTI. */
  userAsid(mm: MmContext): number {
    return this.policy.kpti ? mm.asid | 1 : mm.asid;
  }

  __ptepGet(ptep: number): Pte {
    return this.mmu.mem.read64(ptep);
  }

  /** The raw entry's low and high halves, for scans that compare without building a Pte. */
  __ptepGetLo(ptep: number): number {
    return this.mmu.mem.read64Lo(ptep);
  }

  __ptepGetHi(ptep: number): number {
    return this.mmu.mem.read64Hi(ptep);
  }

  /** One store of a descriptor: through the mmu (so the checker sees it), counted and traced. */
  private store(mm: MmContext, addr: number, ptep: number, value: Pte, atomic: boolean): Pte {
    const old = this.descriptors.write(this.userAsid(mm), addr, ptep, value);
    this.stats.pte_writes++;
    if (atomic) this.stats.pte_atomics++;
    return old;
  }

  /** `store` for a caller that discards the old value (DescriptorStore.writeOnly). */
  private storeOnly(mm: MmContext, addr: number, ptep: number, value: Pte, atomic: boolean): void {
    this.descriptors.writeOnly(this.userAsid(mm), addr, ptep, value);
    this.stats.pte_writes++;
    if (atomic) this.stats.pte_atomics++;
  }

  /** __set_pte: kernel (not user) mappings get a DSB so the walker sees them at once. */
  __setPte(mm: MmContext, addr: number, ptep: number, pte: Pte): void {
    this.storeOnly(mm, addr, ptep, pte, false);
    if (pteValidNotUser(pte)) this.mmu.dsb('ishst');
  }

  /** __set_ptes: nr consecutive entries, the pfn advancing by one each. */
  __setPtes(mm: MmContext, addr: number, ptep: number, pte: Pte, nr: number): void {
    // One entry (most calls): the addresses passed on as they came, not recomputed as new numbers.
    if (nr === 1) {
      this.__setPte(mm, addr, ptep, pte);
      return;
    }
    let p = pte;
    for (let i = 0; ; i++) {
      this.__setPte(mm, addr + i * PAGE_SIZE, ptep + i * 8, p);
      if (i === nr - 1) break;
      p = pteAdvancePfn(p, 1);
    }
  }

  __pteClear(mm: MmContext, addr: number, ptep: number): void {
    this.__setPte(mm, addr, ptep, PTE_NONE);
  }

  /** An atomic exchange with zero; returns what was there. */
  __ptepGetAndClear(mm: MmContext, addr: number, ptep: number): Pte {
    return this.store(mm, addr, ptep, PTE_NONE, true);
  }

  __clearFullPtes(mm: MmContext, addr: number, ptep: number, nr: number): void {
    // __ptep_get_and_clear for each, whose results nobody reads. The first entry's addresses are
    // passed on as they came (most calls clear one entry), not recomputed as new numbers.
    if (nr > 0) this.storeOnly(mm, addr, ptep, PTE_NONE, true);
    for (let i = 1; i < nr; i++) this.storeOnly(mm, addr + i * PAGE_SIZE, ptep + i * 8, PTE_NONE, true);
  }

  /**
   * Clears nr entries and returns the first, with young and dirty ORed over all of them. With
   * `into` (a caller's record that it reads at once), the first entry's old value is written
   * there instead of into a new Pte: the same stores and counts, one object less per call.
   */
  __getAndClearFullPtes(mm: MmContext, addr: number, ptep: number, nr: number, into?: { lo: number; hi: number }): Pte {
    let pte: Pte;
    if (into === undefined) {
      pte = this.__ptepGetAndClear(mm, addr, ptep);
    } else {
      into.lo = this.__ptepGetLo(ptep);
      into.hi = this.__ptepGetHi(ptep);
      this.storeOnly(mm, addr, ptep, PTE_NONE, true);
      pte = into;
    }
    for (let i = 1; i < nr; i++) {
      const t = this.__ptepGetAndClear(mm, addr + i * PAGE_SIZE, ptep + i * 8);
      if (pteDirty(t)) pte = pteMkdirty(pte);
      if (pteYoung(t)) pte = pteMkyoung(pte);
    }
    return pte;
  }

  /** A cmpxchg that clears the access flag; returns whether it was set. */
  __ptepTestAndClearYoung(mm: MmContext, addr: number, ptep: number): boolean {
    const old = this.__ptepGet(ptep);
    this.store(mm, addr, ptep, pteMkold(old), true);
    return pteYoung(old);
  }

  /**
   * The trailing DSB is left out on purpose (as the kernel does): the worst a stale young entry
   * can cause is a page reclaimed a little early.
   */
  __ptepClearFlushYoung(mm: MmContext, addr: number, ptep: number): boolean {
    const young = this.__ptepTestAndClearYoung(mm, addr, ptep);
    if (young) this.flush.flushTlbPageNosync(mm, addr);
    return young;
  }

  /** ___ptep_set_wrprotect: a cmpxchg from the value the caller read. */
  ___ptepSetWrprotect(mm: MmContext, addr: number, ptep: number, pte: Pte): void {
    this.store(mm, addr, ptep, pteWrprotect(pte), true);
  }

  __ptepSetWrprotect(mm: MmContext, addr: number, ptep: number): void {
    this.___ptepSetWrprotect(mm, addr, ptep, this.__ptepGet(ptep));
  }

  __wrprotectPtes(mm: MmContext, addr: number, ptep: number, nr: number): void {
    for (let i = 0; i < nr; i++) this.__ptepSetWrprotect(mm, addr + i * PAGE_SIZE, ptep + i * 8);
  }

  /**
   * __ptep_set_access_flags (arch/arm64/mm/fault.c): take only the access flag, the write
   * permission and the dirty state from `entry`, making PTE_RDONLY the more permissive of the
   * two; flush the page when asked because a stale read-only entry may be cached. Returns
   * whether anything changed.
   */
  __ptepSetAccessFlags(mm: MmContext, addr: number, ptep: number, entry: Pte, dirty: boolean): boolean {
    const pte = this.__ptepGet(ptep);
    if (pteSame(pte, entry)) return false;
    const keepLo = PTE_RDONLY_LO | PTE_AF_LO;
    const keepHi = PTE_WRITE_HI | PTE_DIRTY_HI;
    // RDONLY is combined with AND (the lowest value wins); the other bits with OR.
    const eLo = (entry.lo & keepLo) ^ PTE_RDONLY_LO;
    const lo = ((((pte.lo ^ PTE_RDONLY_LO) | eLo) ^ PTE_RDONLY_LO) >>> 0);
    const hi = ((pte.hi | (entry.hi & keepHi)) >>> 0);
    this.store(mm, addr, ptep, { lo, hi }, true);
    if (dirty) this.flush.accessFlagsFlushPage(mm, addr);
    return true;
  }

  /** __clear_young_dirty_ptes (v6.10+): a plain store when clearing both, else a cmpxchg. */
  __clearYoungDirtyPtes(mm: MmContext, addr: number, ptep: number, nr: number, flags: number): void {
    for (let i = 0; i < nr; i++) {
      const a = addr + i * PAGE_SIZE;
      const p = ptep + i * 8;
      const pte = this.__ptepGet(p);
      if (flags === (CYDP_CLEAR_YOUNG | CYDP_CLEAR_DIRTY)) {
        this.__setPte(mm, a, p, pteMkclean(pteMkold(pte)));
      } else {
        let n = pte;
        if (flags & CYDP_CLEAR_YOUNG) n = pteMkold(n);
        if (flags & CYDP_CLEAR_DIRTY) n = pteMkclean(n);
        this.store(mm, a, p, n, true);
      }
    }
  }

  /** True when the raw entry at ptep equals `pte` exactly (for tests and assertions). */
  holds(ptep: number, pte: Pte): boolean {
    return pteEqual(this.__ptepGet(ptep), pte);
  }
}
