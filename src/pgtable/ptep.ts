/**
 * The public, contpte-aware page-table API: what the core mm calls (asm/pgtable.h v6.9+ wrappers,
 * `ptep_modify_prot_start/commit` from arch/arm64/mm/mmu.c, `ptep_clear_flush` from
 * mm/pgtable-generic.c). The contiguous bit stays a private matter of this layer: setters strip
 * it from what they are given, and fold or unfold behind the caller's back.
 *
 * Each call is a call-stack frame named as in the kernel, counted in `pgtable.api_calls`, and
 * ends with `mmu.settle()` so the checker judges contiguous blocks only between operations.
 * With the `contpte` switch off, every call is the plain (generic) version over the raw tier.
 */
import type { Mmu } from '../mmu/index.js';
import { bump } from '../trace/stats.js';
import type { Telemetry } from '../trace/telemetry.js';
import { Contpte } from './contpte.js';
import { mmTlbFlushPending, type FolioLookup, type MmContext, type PgtablePolicy } from './policy.js';
import {
  CONT_PTES,
  PTE_CONT_HI,
  PTE_NONE,
  PTE_VALID_LO,
  pteCont,
  pteMknoncont,
  pteAccessible,
  pteValidCont,
  type Pte,
} from './pte.js';
import { RawPtes, CYDP_CLEAR_DIRTY, CYDP_CLEAR_YOUNG } from './raw.js';
import type { PgtableStats } from './stats.js';
import type { TlbFlush } from './tlbflush.js';

export { CYDP_CLEAR_DIRTY, CYDP_CLEAR_YOUNG };

export class Ptep {
  readonly contpte: Contpte;
  /** What ptepGetTransient returns for an entry without the contiguous bit. */
  private readonly transient = { lo: 0, hi: 0 };
  /** What getAndClearFullPtesTransient returns, likewise. */
  private readonly cleared = { lo: 0, hi: 0 };

  constructor(
    private readonly mmu: Mmu,
    readonly raw: RawPtes,
    private readonly flush: TlbFlush,
    private readonly policy: PgtablePolicy,
    private readonly telemetry: Telemetry,
    private readonly stats: PgtableStats,
    folios: FolioLookup,
  ) {
    this.contpte = new Contpte(mmu, raw, flush, policy, telemetry, stats, folios);
  }

  private begin(name: string): void {
    this.telemetry.calls.enter(name);
    bump(this.stats.api_calls, name);
  }

  private end(): void {
    this.telemetry.calls.leave();
    this.mmu.settle();
  }

  /** ptep_get: one read, or the whole block's access/dirty state for a contiguous entry. */
  ptepGet(ptep: number): Pte {
    const pte = this.raw.__ptepGet(ptep);
    if (!this.policy.contpte || !pteValidCont(pte)) return pte;
    return this.contpte.contptePtepGet(ptep, pte);
  }

  /**
   * ptep_get for a loop that reads each entry once and keeps none of them (zap_pte_range): an
   * entry without the contiguous bit comes back in one object that the next call rewrites, so
   * the walk over a range builds no Pte per entry.
   */
  ptepGetTransient(ptep: number): Pte {
    const raw = this.raw;
    const lo = raw.__ptepGetLo(ptep);
    const hi = raw.__ptepGetHi(ptep);
    if (lo === 0 && hi === 0) return PTE_NONE;
    if (this.policy.contpte && (lo & PTE_VALID_LO) !== 0 && (hi & PTE_CONT_HI) !== 0) return this.contpte.contptePtepGet(ptep, raw.__ptepGet(ptep));
    const t = this.transient;
    t.lo = lo;
    t.hi = hi;
    return t;
  }

  ptepGetLockless(ptep: number): Pte {
    const pte = this.raw.__ptepGet(ptep);
    if (!this.policy.contpte || !pteValidCont(pte)) return pte;
    return this.contpte.contptePtepGetLockless(ptep);
  }

  /** pte_batch_hint: how many entries from ptep to the end of its block, for a contiguous entry. */
  pteBatchHint(ptep: number, pte: Pte): number {
    if (!this.policy.contpte || !pteValidCont(pte)) return 1;
    return CONT_PTES - ((ptep / 8) & (CONT_PTES - 1));
  }

  /**
   * set_pte: without an mm the kernel cannot unfold (that needs TLB maintenance), and the core mm
   * never calls it on a contiguous block; it warns if it happens and writes a plain entry.
   */
  setPte(mm: MmContext, addr: number, ptep: number, pte: Pte): void {
    this.begin('set_pte');
    try {
      if (this.policy.contpte && pteValidCont(this.raw.__ptepGet(ptep))) this.stats.warnings++;
      this.raw.__setPte(mm, addr, ptep, this.policy.contpte ? pteMknoncont(pte) : pte);
    } finally {
      this.end();
    }
  }

  /**
   * set_ptes: a single entry may unfold the block it lands in and may complete a block that can
   * fold; several entries (always over none entries) go through contpte_set_ptes.
   */
  setPtes(mm: MmContext, addr: number, ptep: number, pte: Pte, nr: number): void {
    this.begin('set_ptes');
    try {
      if (!this.policy.contpte) {
        this.raw.__setPtes(mm, addr, ptep, pte, nr);
        return;
      }
      const p = pteMknoncont(pte);
      if (nr === 1) {
        this.contpte.contpteTryUnfoldPtep(mm, addr, ptep);
        this.raw.__setPtes(mm, addr, ptep, p, 1);
        this.contpte.contpteTryFold(mm, addr, ptep, p);
      } else {
        this.contpte.contpteSetPtes(mm, addr, ptep, p, nr);
      }
    } finally {
      this.end();
    }
  }

  /** set_pte_at is set_ptes of one entry. */
  setPteAt(mm: MmContext, addr: number, ptep: number, pte: Pte): void {
    this.setPtes(mm, addr, ptep, pte, 1);
  }

  pteClear(mm: MmContext, addr: number, ptep: number): void {
    this.begin('pte_clear');
    try {
      if (this.policy.contpte) this.contpte.contpteTryUnfoldPtep(mm, addr, ptep);
      this.raw.__pteClear(mm, addr, ptep);
    } finally {
      this.end();
    }
  }

  ptepGetAndClear(mm: MmContext, addr: number, ptep: number): Pte {
    this.begin('ptep_get_and_clear');
    try {
      if (this.policy.contpte) this.contpte.contpteTryUnfoldPtep(mm, addr, ptep);
      return this.raw.__ptepGetAndClear(mm, addr, ptep);
    } finally {
      this.end();
    }
  }

  /** clear_full_ptes: whole blocks are cleared without unfolding (the caller's gather flushes). */
  clearFullPtes(mm: MmContext, addr: number, ptep: number, nr: number): void {
    this.begin('clear_full_ptes');
    try {
      if (!this.policy.contpte) {
        this.raw.__clearFullPtes(mm, addr, ptep, nr);
      } else if (nr === 1) {
        this.contpte.contpteTryUnfoldPtep(mm, addr, ptep);
        this.raw.__clearFullPtes(mm, addr, ptep, 1);
      } else {
        this.contpte.contpteClearFullPtes(mm, addr, ptep, nr);
      }
    } finally {
      this.end();
    }
  }

  getAndClearFullPtes(mm: MmContext, addr: number, ptep: number, nr: number): Pte {
    return this.getAndClearFullPtesInto(mm, addr, ptep, nr, undefined);
  }

  /**
   * get_and_clear_full_ptes for a caller that reads the result at once and keeps nothing of it
   * (zap_pte_range): the answer comes back in one object that the next call rewrites (a new Pte
   * only for a run through contpte_get_and_clear_full_ptes), so a zap builds no Pte per entry.
   */
  getAndClearFullPtesTransient(mm: MmContext, addr: number, ptep: number, nr: number): Pte {
    return this.getAndClearFullPtesInto(mm, addr, ptep, nr, this.cleared);
  }

  private getAndClearFullPtesInto(mm: MmContext, addr: number, ptep: number, nr: number, into: { lo: number; hi: number } | undefined): Pte {
    this.begin('get_and_clear_full_ptes');
    try {
      if (!this.policy.contpte) return this.raw.__getAndClearFullPtes(mm, addr, ptep, nr, into);
      if (nr === 1) {
        this.contpte.contpteTryUnfoldPtep(mm, addr, ptep);
        return this.raw.__getAndClearFullPtes(mm, addr, ptep, 1, into);
      }
      return this.contpte.contpteGetAndClearFullPtes(mm, addr, ptep, nr);
    } finally {
      this.end();
    }
  }

  ptepTestAndClearYoung(mm: MmContext, addr: number, ptep: number): boolean {
    this.begin('ptep_test_and_clear_young');
    try {
      if (!this.policy.contpte || !pteValidCont(this.raw.__ptepGet(ptep))) {
        return this.raw.__ptepTestAndClearYoung(mm, addr, ptep);
      }
      return this.contpte.contptePtepTestAndClearYoung(mm, addr, ptep);
    } finally {
      this.end();
    }
  }

  /**
   * ptep_clear_flush_young: here the flush decision is the access flag the atomic clear found
   * (arm64 __ptep_clear_flush_young and contpte_ptep_clear_flush_young, 6.9 to 7.2), not
   * pte_accessible: an old entry is one no walk has cached since its last clear.
   */
  ptepClearFlushYoung(mm: MmContext, addr: number, ptep: number): boolean {
    this.begin('ptep_clear_flush_young');
    try {
      if (!this.policy.contpte || !pteValidCont(this.raw.__ptepGet(ptep))) {
        return this.raw.__ptepClearFlushYoung(mm, addr, ptep);
      }
      return this.contpte.contptePtepClearFlushYoung(mm, addr, ptep);
    } finally {
      this.end();
    }
  }

  /**
   * wrprotect_ptes: for one entry, reading the value once and unfolding only if it is contiguous
   * is the kernel's fork() fast path; several entries unfold partial blocks only.
   */
  wrprotectPtes(mm: MmContext, addr: number, ptep: number, nr: number): void {
    this.begin(nr === 1 ? 'ptep_set_wrprotect' : 'wrprotect_ptes');
    try {
      if (!this.policy.contpte) {
        this.raw.__wrprotectPtes(mm, addr, ptep, nr);
      } else if (nr === 1) {
        let orig = this.raw.__ptepGet(ptep);
        if (pteCont(orig)) {
          this.contpte.__contpteTryUnfold(mm, addr, ptep, orig);
          orig = pteMknoncont(orig);
        }
        this.raw.___ptepSetWrprotect(mm, addr, ptep, orig);
      } else {
        this.contpte.contpteWrprotectPtes(mm, addr, ptep, nr);
      }
    } finally {
      this.end();
    }
  }

  ptepSetWrprotect(mm: MmContext, addr: number, ptep: number): void {
    this.wrprotectPtes(mm, addr, ptep, 1);
  }

  /** ptep_set_access_flags: returns whether the entry changed. */
  ptepSetAccessFlags(mm: MmContext, addr: number, ptep: number, entry: Pte, dirty: boolean): boolean {
    this.begin('ptep_set_access_flags');
    try {
      if (!this.policy.contpte) return this.raw.__ptepSetAccessFlags(mm, addr, ptep, entry, dirty);
      const e = pteMknoncont(entry);
      if (!pteValidCont(this.raw.__ptepGet(ptep))) return this.raw.__ptepSetAccessFlags(mm, addr, ptep, e, dirty);
      return this.contpte.contptePtepSetAccessFlags(mm, addr, ptep, e, dirty);
    } finally {
      this.end();
    }
  }

  /** clear_young_dirty_ptes (v6.10+, MADV_FREE and friends). */
  clearYoungDirtyPtes(mm: MmContext, addr: number, ptep: number, nr: number, flags: number): void {
    this.begin('clear_young_dirty_ptes');
    try {
      if (!this.policy.contpte || (nr === 1 && !pteCont(this.raw.__ptepGet(ptep)))) {
        this.raw.__clearYoungDirtyPtes(mm, addr, ptep, nr, flags);
      } else {
        this.contpte.contpteClearYoungDirtyPtes(mm, addr, ptep, nr, flags);
      }
    } finally {
      this.end();
    }
  }

  /**
   * ptep_modify_prot_start (arch/arm64/mm/mmu.c): take the entry out for mprotect. The erratum
   * 2645198 path (flush when the old entry was user-executable) is not modelled.
   */
  ptepModifyProtStart(mm: MmContext, addr: number, ptep: number): Pte {
    this.begin('ptep_modify_prot_start');
    try {
      return this.ptepGetAndClear(mm, addr, ptep);
    } finally {
      this.end();
    }
  }

  /** ptep_modify_prot_commit: set_pte_at, so the last entry of a block may fold here. */
  ptepModifyProtCommit(mm: MmContext, addr: number, ptep: number, _oldPte: Pte, pte: Pte): void {
    this.begin('ptep_modify_prot_commit');
    try {
      this.setPtes(mm, addr, ptep, pte, 1);
    } finally {
      this.end();
    }
  }

  /**
   * modify_prot_start_ptes / modify_prot_commit_ptes: the batched mprotect of newer kernels
   * (a folio's run of entries at once): clearing and setting whole blocks keeps them contiguous.
   */
  modifyProtStartPtes(mm: MmContext, addr: number, ptep: number, nr: number): Pte {
    this.begin('modify_prot_start_ptes');
    try {
      return this.getAndClearFullPtes(mm, addr, ptep, nr);
    } finally {
      this.end();
    }
  }

  modifyProtCommitPtes(mm: MmContext, addr: number, ptep: number, _oldPte: Pte, pte: Pte, nr: number): void {
    this.begin('modify_prot_commit_ptes');
    try {
      this.setPtes(mm, addr, ptep, pte, nr);
    } finally {
      this.end();
    }
  }

  /**
   * ptep_clear_flush (mm/pgtable-generic.c, same in 6.9, 6.12 and 7.2): clear, then flush the
   * page if a TLB may hold it: arm64 pte_accessible(mm, pte), i.e. valid, or present while the mm
   * has a batched flush pending (mm_tlb_flush_pending). The access flag plays no part.
   */
  ptepClearFlush(mm: MmContext, addr: number, ptep: number): Pte {
    this.begin('ptep_clear_flush');
    try {
      const pte = this.ptepGetAndClear(mm, addr, ptep);
      if (pteAccessible(mmTlbFlushPending(mm), pte)) this.flush.flushTlbPage(mm, addr);
      return pte;
    } finally {
      this.end();
    }
  }

  /** Entries the caller passes to clear_young_dirty_ptes. */
  static readonly CYDP = { CLEAR_YOUNG: CYDP_CLEAR_YOUNG, CLEAR_DIRTY: CYDP_CLEAR_DIRTY } as const;
}
