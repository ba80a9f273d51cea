/**
 * arm64 contpte: folding runs of 16 PTEs that map one naturally aligned 64 KiB piece of a folio
 * into one contiguous-bit block, and unfolding them again, behind the public API's back.
 * Follows arch/arm64/mm/contpte.c (v6.9 as merged by f0c2264958e1 and its v6.10+ additions,
 * torvalds/linux 044d659abeec) and the inline wrappers of asm/pgtable.h (v6.9); the v6.16 BBML2
 * change to contpte_convert is a policy switch.
 */
import type { Mmu } from '../mmu/index.js';
import type { Telemetry } from '../trace/telemetry.js';
import type { FolioLookup, MmContext, PgtablePolicy } from './policy.js';
import {
  CONT_PTES,
  CONT_PTE_SIZE,
  PAGE_SIZE,
  pfnPte,
  pteCont,
  pteDirty,
  pteEqual,
  pteMkclean,
  pteMkcont,
  pteMkdirty,
  pteMknoncont,
  pteMkold,
  pteMkyoung,
  pteOldCleanIs,
  ptePfn,
  ptePgprot,
  pteSpecial,
  pteValid,
  pteValidCont,
  pteWrite,
  pteYoung,
  PTE_AF_LO,
  PTE_CONT_HI,
  PTE_VALID_LO,
  PTE_DIRTY_HI,
  PTE_RDONLY_LO,
  PTE_WRITE_HI,
  type Pte,
} from './pte.js';
import type { RawPtes } from './raw.js';
import type { PgtableStats } from './stats.js';
import type { TlbFlush } from './tlbflush.js';

const CONT_MASK = CONT_PTES - 1;

/** contpte_align_down: the first PTE of the 16-entry block holding ptep. */
export function contpteAlignDown(ptep: number): number {
  return Math.floor(ptep / (CONT_PTES * 8)) * (CONT_PTES * 8);
}

export function contAlignDownAddr(addr: number): number {
  return Math.floor(addr / CONT_PTE_SIZE) * CONT_PTE_SIZE;
}

/** pte_cont_addr_end: the next 64 KiB boundary after addr, or end if that comes first. */
export function pteContAddrEnd(addr: number, end: number): number {
  const boundary = contAlignDownAddr(addr) + CONT_PTE_SIZE;
  return boundary < end ? boundary : end;
}

export class Contpte {
  constructor(
    private readonly mmu: Mmu,
    private readonly raw: RawPtes,
    private readonly flush: TlbFlush,
    private readonly policy: PgtablePolicy,
    private readonly telemetry: Telemetry,
    private readonly stats: PgtableStats,
    private readonly folios: FolioLookup,
  ) {}

  /**
   * contpte_try_fold (inline): only the last PTE of a 64 KiB-aligned block, with its pfn also the
   * last of an aligned group, is a good moment to fold: the core mm mostly fills ranges from low
   * to high, so this is likely the block's final change. Special mappings have no folio.
   */
  contpteTryFold(mm: MmContext, addr: number, ptep: number, pte: Pte): void {
    if (!this.policy.contpteFold) return;
    if ((Math.floor(addr / PAGE_SIZE) & CONT_MASK) !== CONT_MASK) return;
    if ((ptePfn(pte) & CONT_MASK) !== CONT_MASK) return;
    if (pteValid(pte) && !pteCont(pte) && !pteSpecial(pte)) this.__contpteTryFold(mm, addr, ptep, pte);
  }

  /**
   * __contpte_try_fold: fold only if one folio covers the whole block and the 16 entries are
   * valid, consecutive and identical apart from access and dirty (which the fold ORs together).
   */
  __contpteTryFold(mm: MmContext, addr: number, ptep: number, pte: Pte): void {
    this.stats.fold_attempts++;
    const calls = this.telemetry.calls;
    calls.enter('contpte_try_fold');
    try {
      const contStart = contAlignDownAddr(addr);
      if (this.telemetry.tracer.on.fold_attempt) {
        this.telemetry.tracer.emit({ kind: 'fold_attempt', va: contStart, chain: calls.chain() });
      }
      if (!mm.isUser) return;
      const pfn = ptePfn(pte);
      const folio = this.folios.folioOfPfn(pfn);
      if (!folio) return;
      const folioStart = addr - (pfn - folio.firstPfn) * PAGE_SIZE;
      const folioEnd = folioStart + folio.nrPages * PAGE_SIZE;
      if (folioStart > contStart || folioEnd < contStart + CONT_PTE_SIZE) return;

      // Each sub-PTE, made old and clean, must be the expected entry, whose pfn advances by one.
      const prot = ptePgprot(pteMkold(pteMkclean(pte)));
      let expectedPfn = pfn - (pfn & CONT_MASK);
      let p = contpteAlignDown(ptep);
      for (let i = 0; i < CONT_PTES; i++, p += 8, expectedPfn++) {
        if (!pteOldCleanIs(this.raw.__ptepGetLo(p), this.raw.__ptepGetHi(p), expectedPfn, prot)) return;
      }
      this.contpteConvert(mm, addr, ptep, pteMkcont(pte));
    } finally {
      calls.leave();
    }
  }

  /** contpte_all_subptes_match_access_flags: RDONLY, AF, WRITE and DIRTY equal in all 16 raw entries. */
  private allSubptesMatchAccessFlags(ptep: number, entry: Pte): boolean {
    const lo = PTE_RDONLY_LO | PTE_AF_LO;
    const hi = PTE_WRITE_HI | PTE_DIRTY_HI;
    let p = contpteAlignDown(ptep);
    for (let i = 0; i < CONT_PTES; i++, p += 8) {
      const sub = this.raw.__ptepGet(p);
      if ((sub.lo & lo) !== (entry.lo & lo) || (sub.hi & hi) !== (entry.hi & hi)) return false;
    }
    return true;
  }

  /** contpte_try_unfold (inline): only a valid contiguous entry needs unfolding. */
  contpteTryUnfold(mm: MmContext, addr: number, ptep: number, pte: Pte): void {
    if (pteValidCont(pte)) this.__contpteTryUnfold(mm, addr, ptep, pte);
  }

  /**
   * contpte_try_unfold of the entry at ptep as it is now (__ptep_get), reading its halves first so
   * that the common case, an entry without the contiguous bit, builds no Pte.
   */
  contpteTryUnfoldPtep(mm: MmContext, addr: number, ptep: number): void {
    const raw = this.raw;
    if ((raw.__ptepGetLo(ptep) & PTE_VALID_LO) !== 0 && (raw.__ptepGetHi(ptep) & PTE_CONT_HI) !== 0) this.__contpteTryUnfold(mm, addr, ptep, raw.__ptepGet(ptep));
  }

  __contpteTryUnfold(mm: MmContext, addr: number, ptep: number, pte: Pte): void {
    const calls = this.telemetry.calls;
    calls.enter('contpte_try_unfold');
    try {
      if (!mm.isUser) return;
      this.contpteConvert(mm, addr, ptep, pteMknoncont(pte));
    } finally {
      calls.leave();
    }
  }

  /**
   * contpte_convert: repaint a whole block with or without the contiguous bit by
   * break-before-make: clear all 16 (gathering access and dirty), invalidate the range, write the
   * 16 new entries. With BBML2_NOABORT (v6.16+) the hardware copes with the change of size, so the
   * TLBI is skipped.
   */
  contpteConvert(mm: MmContext, addr: number, ptep: number, pte: Pte): void {
    const calls = this.telemetry.calls;
    const tracer = this.telemetry.tracer;
    const fold = pteCont(pte);
    calls.enter('contpte_convert');
    try {
      this.stats.contpte_convert++;
      if (fold) this.stats.folds++;
      else this.stats.unfolds++;
      const startPtep = contpteAlignDown(ptep);
      const startAddr = contAlignDownAddr(addr);
      if (tracer.on.contpte_convert) tracer.emit({ kind: 'contpte_convert', va: startAddr, chain: calls.chain() });
      if (fold ? tracer.on.fold : tracer.on.unfold) {
        tracer.emit({ kind: fold ? 'fold' : 'unfold', va: startAddr, chain: calls.chain() });
      }
      const pfn = ptePfn(pte);
      let newPte = pfnPte(pfn - (pfn & CONT_MASK), ptePgprot(pte));
      // The kernel ORs each cleared entry's dirty and young state into the new value; both
      // helpers are idempotent, so noting them in the loop and applying them once is the same.
      let dirty = false;
      let young = false;
      for (let i = 0; i < CONT_PTES; i++) {
        const old = this.raw.__ptepGetAndClear(mm, startAddr + i * PAGE_SIZE, startPtep + i * 8);
        if (pteDirty(old)) dirty = true;
        if (pteYoung(old)) young = true;
      }
      if (dirty) newPte = pteMkdirty(newPte);
      if (young) newPte = pteMkyoung(newPte);
      if (!this.policy.bbml2Noabort) {
        this.flush.__flushTlbRange(mm, startAddr, startAddr + CONT_PTE_SIZE, PAGE_SIZE, true, 3);
      }
      this.raw.__setPtes(mm, startAddr, startPtep, newPte, CONT_PTES);
    } finally {
      calls.leave();
    }
  }

  /**
   * contpte_try_unfold_partial: a range that starts inside a block, or is shorter than one,
   * unfolds the first block; one that ends inside a block unfolds the last. (Note the first
   * test: a short range unfolds even when it starts aligned.)
   */
  contpteTryUnfoldPartial(mm: MmContext, addr: number, ptep: number, nr: number): void {
    if (ptep !== contpteAlignDown(ptep) || nr < CONT_PTES) {
      this.contpteTryUnfoldPtep(mm, addr, ptep);
    }
    const endPtep = ptep + nr * 8;
    if (endPtep !== contpteAlignDown(endPtep)) {
      const lastAddr = addr + PAGE_SIZE * (nr - 1);
      const lastPtep = ptep + (nr - 1) * 8;
      this.contpteTryUnfoldPtep(mm, lastAddr, lastPtep);
    }
  }

  /** contpte_ptep_get: the block's access and dirty state is the OR over its 16 entries. */
  contptePtepGet(ptep: number, origPte: Pte): Pte {
    let r = origPte;
    let p = contpteAlignDown(ptep);
    for (let i = 0; i < CONT_PTES; i++, p += 8) {
      const pte = this.raw.__ptepGet(p);
      if (pteDirty(pte)) r = pteMkdirty(r);
      if (pteYoung(pte)) r = pteMkyoung(r);
    }
    return r;
  }

  /**
   * contpte_ptep_get_lockless: without the PTL the block could change under us, so the kernel
   * retries until it reads a consistent block. The model has no concurrent writers, so an
   * inconsistent block can only be a model bug: say so rather than loop.
   */
  contptePtepGetLockless(origPtep: number): Pte {
    let orig = this.raw.__ptepGet(origPtep);
    if (!pteValidCont(orig)) return orig;
    const origProt = ptePgprot(pteMkold(pteMkclean(orig)));
    let p = contpteAlignDown(origPtep);
    let pfn = ptePfn(orig) - (origPtep - p) / 8;
    for (let i = 0; i < CONT_PTES; i++, p += 8, pfn++) {
      const pte = this.raw.__ptepGet(p);
      const prot = ptePgprot(pteMkold(pteMkclean(pte)));
      if (!pteValidCont(pte) || ptePfn(pte) !== pfn || !pteEqual(prot, origProt)) {
        throw new Error(`contpte_ptep_get_lockless: inconsistent contiguous block at ptep 0x${p.toString(16)}`);
      }
      if (pteDirty(pte)) orig = pteMkdirty(orig);
      if (pteYoung(pte)) orig = pteMkyoung(orig);
    }
    return orig;
  }

  /**
   * contpte_set_ptes: set_ptes with nr > 1 only ever targets none entries, so nothing needs
   * unfolding; each 64 KiB piece whose VA range and physical address are both aligned is written
   * contiguous straight away, the rest plain.
   */
  contpteSetPtes(mm: MmContext, addr: number, ptep: number, pte: Pte, nr: number): void {
    if (!mm.isUser) {
      this.raw.__setPtes(mm, addr, ptep, pte, nr);
      return;
    }
    this.stats.contpte_set_ptes++;
    const end = addr + nr * PAGE_SIZE;
    let pfn = ptePfn(pte);
    const prot = ptePgprot(pte);
    let a = addr;
    let p = ptep;
    do {
      const next = pteContAddrEnd(a, end);
      const n = (next - a) / PAGE_SIZE;
      let chunk = pfnPte(pfn, prot);
      const aligned = contAlignDownAddr(a) === a && contAlignDownAddr(next) === next && (pfn & (CONT_PTES - 1)) === 0;
      chunk = aligned ? pteMkcont(chunk) : pteMknoncont(chunk);
      this.raw.__setPtes(mm, a, p, chunk, n);
      a = next;
      p += n * 8;
      pfn += n;
    } while (a !== end);
  }

  contpteClearFullPtes(mm: MmContext, addr: number, ptep: number, nr: number): void {
    this.contpteTryUnfoldPartial(mm, addr, ptep, nr);
    this.raw.__clearFullPtes(mm, addr, ptep, nr);
  }

  contpteGetAndClearFullPtes(mm: MmContext, addr: number, ptep: number, nr: number): Pte {
    this.contpteTryUnfoldPartial(mm, addr, ptep, nr);
    return this.raw.__getAndClearFullPtes(mm, addr, ptep, nr);
  }

  /**
   * The core mm tracks young per folio, and a block always lies in one folio, so clearing the
   * whole block avoids an unfold.
   */
  contptePtepTestAndClearYoung(mm: MmContext, addr: number, ptep: number): boolean {
    let young = false;
    const p0 = contpteAlignDown(ptep);
    const a0 = contAlignDownAddr(addr);
    for (let i = 0; i < CONT_PTES; i++) {
      if (this.raw.__ptepTestAndClearYoung(mm, a0 + i * PAGE_SIZE, p0 + i * 8)) young = true;
    }
    return young;
  }

  contptePtepClearFlushYoung(mm: MmContext, addr: number, ptep: number): boolean {
    const young = this.contptePtepTestAndClearYoung(mm, addr, ptep);
    if (young) {
      const a0 = contAlignDownAddr(addr);
      // No trailing DSB, for the same reason as __ptep_clear_flush_young.
      this.flush.__flushTlbRangeNosync(mm, a0, a0 + CONT_PTE_SIZE, PAGE_SIZE, true, 3);
    }
    return young;
  }

  /**
   * A whole block can be write-protected in place, the caller's later flush making it take
   * effect; a partial one must be unfolded first, or the block would stay mixed after the flush.
   */
  contpteWrprotectPtes(mm: MmContext, addr: number, ptep: number, nr: number): void {
    this.contpteTryUnfoldPartial(mm, addr, ptep, nr);
    this.raw.__wrprotectPtes(mm, addr, ptep, nr);
  }

  /**
   * Clearing access/dirty never needs an unfold: a range that starts or ends inside a block is
   * widened to the whole block (the core mm tracks these per folio).
   */
  contpteClearYoungDirtyPtes(mm: MmContext, addr: number, ptep: number, nr: number, flags: number): void {
    let start = addr;
    let end = start + nr * PAGE_SIZE;
    let p = ptep;
    if (pteCont(this.raw.__ptepGet(ptep + (nr - 1) * 8))) end = Math.ceil(end / CONT_PTE_SIZE) * CONT_PTE_SIZE;
    if (pteCont(this.raw.__ptepGet(ptep))) {
      start = contAlignDownAddr(start);
      p = contpteAlignDown(ptep);
    }
    this.raw.__clearYoungDirtyPtes(mm, start, p, (end - start) / PAGE_SIZE, flags);
  }

  /**
   * contpte_ptep_set_access_flags: a no-op if nothing would change; access/dirty changes go to all
   * 16 entries with one range flush when dirty; a change of the write permission must unfold.
   * v6.9 judges "nothing would change" on the gathered entry; Debian 6.12.117 and 7.x compare the
   * access bits of every raw sub-PTE (a walker that reads sub-PTEs one by one could otherwise keep
   * faulting on one of them), and take the write decision from the raw target (kernel-notes §8.5).
   */
  contptePtepSetAccessFlags(mm: MmContext, addr: number, ptep: number, entry: Pte, dirty: boolean): boolean {
    const orig = pteMknoncont(this.contptePtepGet(ptep, this.raw.__ptepGet(ptep)));
    if (this.policy.accessFlagsRawCompare) {
      if (this.allSubptesMatchAccessFlags(ptep, entry)) return false;
    } else if (pteEqual(orig, entry)) {
      return false;
    }
    const writeNow = this.policy.accessFlagsRawCompare ? pteWrite(this.raw.__ptepGet(ptep)) : pteWrite(orig);
    if (writeNow === pteWrite(entry)) {
      const p0 = contpteAlignDown(ptep);
      const a0 = contAlignDownAddr(addr);
      for (let i = 0; i < CONT_PTES; i++) {
        this.raw.__ptepSetAccessFlags(mm, a0 + i * PAGE_SIZE, p0 + i * 8, entry, false);
      }
      if (dirty) this.flush.accessFlagsFlushRange(mm, a0, a0 + CONT_PTE_SIZE);
    } else {
      this.__contpteTryUnfold(mm, addr, ptep, orig);
      this.raw.__ptepSetAccessFlags(mm, addr, ptep, entry, dirty);
    }
    return true;
  }
}

