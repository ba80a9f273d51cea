/**
 * Tearing mappings down: zap_pte_range and its callers (mm/memory.c), free_pgtables, and the
 * mmu_gather's page batches (mm/mmu_gather.c), for munmap, exit, MADV_DONTNEED and truncation.
 * Same in 6.9, 6.12.117 and 7.2.13 as far as the counts go (kernel-notes §6).
 *
 * Why the TLBIs of a munmap come out as they do (kernel-notes §2.3, §6.2):
 * - zap_pte_range works per PMD. Every run of PTEs of one folio is cleared with one
 *   get_and_clear_full_ptes (file) or clear_full_ptes (anon) call, so whole contiguous blocks go
 *   without an unfold; the range goes into the gather.
 * - A dirty file page must stay mapped in the rmap until the TLB no longer holds a writable
 *   entry for it (delayed rmap): so that zap_pte_range ends with a flush of its range, one
 *   `__flush_tlb_range` per PMD, before the page-table lock is dropped.
 * - arm64 flushes at the end of every VMA (tlb_end_vma; no MMU_GATHER_MERGE_VMAS), which is
 *   where anonymous memory, with nothing forced, gets its one last-level flush.
 * - free_pgtables clears the PMD entries of PTE tables nobody else uses, which widens the gather
 *   to a non-last-level, PMD-stride range flushed by tlb_finish_mmu after the pages go.
 * - The gather's page batches are finite: a local batch of 8 slots and at most 19 extra pages of
 *   510, a multi-page run taking 2 slots, and only one extra batch while rmaps are delayed. A
 *   full batch forces a flush in the middle of a PMD (zap_pte_range breaks out and resumes).
 *
 * Folios are released only after the flush that follows their PTE clearing (MmuGather.deferFree).
 */
import { PAGE_SIZE } from '../mmu/physmem.js';
import { MmuGather } from '../pgtable/mmu_gather.js';
import {
  PMD_SIZE,
  PUD_SIZE,
  pfnPte,
  pteDirty,
  pteEqual,
  pteMkclean,
  pteMkold,
  pteNone,
  ptePfn,
  pteSpecial,
  pteWrprotect,
  pteYoung,
  type Pte,
} from '../pgtable/pte.js';
import { pmdTransHuge } from '../pgtable/pmd.js';
import type { Folio } from './folio.js';
import { splitHugePmd, zapHugePmd } from './huge-memory.js';
import type { MmKernel } from './kernel.js';
import type { Process } from './process.js';
import { VM_RAND_READ, VM_SEQ_READ } from './readahead.js';
import type { Vma } from './vma.js';

/** MMU_GATHER_BUNDLE: slots of the gather's on-stack batch. */
const LOCAL_BATCH_SLOTS = 8;
/** MAX_GATHER_BATCH: (PAGE_SIZE - sizeof(struct mmu_gather_batch)) / sizeof(void *). */
const EXTRA_BATCH_SLOTS = (PAGE_SIZE - 16) / 8;
/** MAX_GATHER_BATCH_COUNT: 10000 / MAX_GATHER_BATCH. */
const MAX_EXTRA_BATCHES = Math.floor(10000 / EXTRA_BATCH_SLOTS);

/**
 * struct mmu_gather as the core mm uses it: the page-table layer's MmuGather (range, flush,
 * deferred frees) plus the page batches and the delayed rmaps.
 */
export class ZapGather {
  readonly tlb: MmuGather;
  /** Slots used in each batch (index 0 is the local one) and which one is active. */
  private readonly used: number[] = [0];
  private active = 0;
  /** Set when a dirty file page's rmap removal waits for the flush (tlb_delay_rmap). */
  private delayedRmap = false;
  /** Delayed rmap removals, as parallel arrays (folio, first pfn, pages). */
  private readonly rmapFolios: Folio[] = [];
  private readonly rmapPfns: number[] = [];
  private readonly rmapNrs: number[] = [];
  /** Entries of the rmap arrays in use (kept at their length, like the free batch's below). */
  private nrRmaps = 0;
  /** Pages waiting for the flush before their references go (the batches' contents). */
  private readonly freeFolios: Folio[] = [];
  private readonly freeNrs: number[] = [];
  /**
   * Entries of freeFolios/freeNrs in use. The arrays keep their length between flushes (emptying
   * them would give back their storage, to be grown again for every batch of a long zap).
   */
  private nrFree = 0;
  private readonly freeBatched = (): void => this.freePages();

  constructor(
    private readonly k: MmKernel,
    readonly mm: Process,
    readonly fullmm: boolean,
  ) {
    this.tlb = k.pgtable.gather(mm, fullmm);
  }

  /**
   * __tlb_remove_folio_pages: queue `nr` pages of `folio` for freeing after the flush. True when
   * the batches are full and the caller must flush now (force_flush and force_break).
   */
  removeFolioPages(folio: Folio, pfn: number, nr: number, delayRmap: boolean): boolean {
    // One deferred free releases everything batched up to the flush.
    if (this.nrFree === 0) this.tlb.deferFree(this.freeBatched);
    this.freeFolios[this.nrFree] = folio;
    this.freeNrs[this.nrFree] = nr;
    this.nrFree++;
    if (delayRmap) {
      this.delayedRmap = true;
      this.rmapFolios[this.nrRmaps] = folio;
      this.rmapPfns[this.nrRmaps] = pfn;
      this.rmapNrs[this.nrRmaps] = nr;
      this.nrRmaps++;
    }
    this.used[this.active]! += nr === 1 ? 1 : 2;
    const max = this.active === 0 ? LOCAL_BATCH_SLOTS : EXTRA_BATCH_SLOTS;
    // Room must remain for one more two-slot entry.
    if (this.used[this.active]! >= max - 1) return !this.nextBatch();
    return false;
  }

  /** tlb_next_batch. */
  private nextBatch(): boolean {
    if (this.delayedRmap && this.active !== 0) return false;
    if (this.active + 1 < this.used.length) {
      this.active++;
      return true;
    }
    if (this.used.length - 1 === MAX_EXTRA_BATCHES) return false;
    this.used.push(0);
    this.active++;
    return true;
  }

  /** tlb_flush_rmaps: the delayed rmap removals, now that no TLB holds the pages writable. */
  flushRmaps(): void {
    const memmap = this.k.memmap;
    for (let i = 0; i < this.nrRmaps; i++) memmap.folioRemoveRmapPtes(this.rmapFolios[i]!, this.rmapPfns[i]!, this.rmapNrs[i]!, this.mm.mmId);
    this.nrRmaps = 0;
    this.delayedRmap = false;
  }

  /** tlb_batch_pages_flush: drop the references of the batched pages (freeing the last ones). */
  private freePages(): void {
    const memmap = this.k.memmap;
    for (let i = 0; i < this.nrFree; i++) memmap.folioPutRefs(this.freeFolios[i]!, this.freeNrs[i]!);
    this.nrFree = 0;
  }

  private resetBatches(): void {
    this.used.fill(0);
    this.active = 0;
  }

  /** tlb_flush_mmu: flush, then free what the batches hold. */
  flushMmu(): void {
    this.tlb.tlbFlushMmu();
    this.resetBatches();
  }

  /** tlb_finish_mmu; counts the page tables it freed. */
  finish(): void {
    if (this.nrRmaps > 0) throw new Error('mmu_gather: delayed rmaps left at tlb_finish_mmu');
    const pages = this.k.pgtable.tables.pages;
    const before = pages[1]! + pages[2]! + pages[3]!;
    this.tlb.tlbFinishMmu();
    this.resetBatches();
    this.k.mmStats.pgtables_freed += before - (pages[1]! + pages[2]! + pages[3]!);
  }
}

/** Which pages a zap may take (struct zap_details): truncation keeps private copies unless even_cows. */
export interface ZapDetails {
  readonly evenCows: boolean;
}

/** __pte_batch_clear_ignored: the bits folio_pte_batch does not compare. */
function batchKey(p: Pte, respectWrite: boolean): Pte {
  const q = pteMkold(pteMkclean(p));
  return respectWrite ? q : pteWrprotect(q);
}

/**
 * folio_pte_batch: how many PTEs from ptep map consecutive pages of `folio` with the same
 * attributes (ignoring access, dirty and, unless `respectWrite`, write), at most maxNr.
 */
export function folioPteBatch(k: MmKernel, folio: Folio, ptep: number, pte: Pte, maxNr: number, respectWrite = false): number {
  const pfn = ptePfn(pte);
  const max = Math.min(maxNr, folio.firstPfn + folio.nrPages - pfn);
  const raw = k.pgtable.raw;
  const first = batchKey(pte, respectWrite);
  let nr = 1;
  while (nr < max) {
    const cur = raw.__ptepGet(ptep + nr * 8);
    if (pteNone(cur)) break;
    if (!pteEqual(batchKey(cur, respectWrite), pfnPte(pfn + nr, first))) break;
    nr++;
  }
  return nr;
}

/** zap_pte_range over [addr, end) inside one PMD; returns where it stopped (end, or earlier after a forced flush). */
function zapPteRange(g: ZapGather, vma: Vma, addrIn: number, end: number, details: ZapDetails | null): number {
  const k = g.mm.kernel;
  const calls = k.telemetry.calls;
  calls.enter('zap_pte_range');
  try {
    k.mmStats.zap_pte_range_calls++;
    const ptep0 = k.pgtable.tables.pteOffsetMap(g.mm, addrIn);
    if (ptep0 === undefined) return end;
    const api = k.pgtable.ptep;
    let forceFlush = false;
    let forceBreak = false;
    let dirtyFlush = false;
    let addr = addrIn;
    let ptep = ptep0;
    while (addr !== end) {
      const ptent = api.ptepGetTransient(ptep);
      if (pteNone(ptent)) {
        addr += PAGE_SIZE;
        ptep += 8;
        continue;
      }
      const maxNr = (end - addr) / PAGE_SIZE;
      const folio = pteSpecial(ptent) ? undefined : k.memmap.folioOfPfn(ptePfn(ptent));
      let nr = 1;
      if (folio === undefined) {
        // vm_normal_page() has no page (the zero page): clear and record the range only.
        api.getAndClearFullPtes(g.mm, addr, ptep, 1);
        g.tlb.tlbFlushPteRange(addr, PAGE_SIZE);
      } else if (details !== null && !details.evenCows && folio.anon) {
        // should_zap_folio: truncation leaves private copies alone.
      } else {
        if (folio.nrPages > 1 && maxNr !== 1) nr = folioPteBatch(k, folio, ptep, ptent, maxNr);
        const pfn = ptePfn(ptent);
        let delayRmap = false;
        if (!folio.anon) {
          const got = api.getAndClearFullPtesTransient(g.mm, addr, ptep, nr);
          if (pteDirty(got)) {
            folio.dirty = true;
            delayRmap = true;
            forceFlush = true;
            dirtyFlush = true;
          }
          // vma_has_recency: a mapping advised sequential or random does not age its folios.
          if (pteYoung(got) && !(vma.flags & (VM_SEQ_READ | VM_RAND_READ))) folio.young = true;
        } else {
          api.clearFullPtes(g.mm, addr, ptep, nr);
        }
        // tlb_remove_tlb_entries records every cleared present entry, old or young: the zap's
        // flush decision takes no PTE state (unlike ptep_clear_flush's pte_accessible).
        g.tlb.tlbFlushPteRange(addr, nr * PAGE_SIZE);
        k.mmStats.ptes_zapped += nr;
        if (!delayRmap) k.memmap.folioRemoveRmapPtes(folio, pfn, nr, g.mm.mmId);
        if (g.removeFolioPages(folio, pfn, nr, delayRmap)) {
          forceFlush = true;
          forceBreak = true;
          k.mmStats.zap_batch_force_flushes++;
        }
      }
      addr += nr * PAGE_SIZE;
      ptep += nr * 8;
      if (forceBreak) break;
    }
    if (forceFlush) {
      if (dirtyFlush) k.mmStats.zap_dirty_force_flushes++;
      // Flush before the page-table lock goes, then let the delayed rmaps go, then free.
      g.tlb.tlbFlushMmuTlbonly();
      g.flushRmaps();
      g.flushMmu();
    }
    return addr;
  } finally {
    calls.leave();
  }
}

/** unmap_page_range for [start, end) of one VMA: zap per PMD (huge PMDs at their level), then tlb_end_vma. */
export function unmapPageRange(g: ZapGather, vma: Vma, start: number, end: number, details: ZapDetails | null = null): void {
  const calls = g.mm.kernel.telemetry.calls;
  calls.enter('unmap_page_range');
  try {
    const k = g.mm.kernel;
    const tables = k.pgtable.tables;
    // The PMD table of the PUD being walked, looked up once per PUD: a PMD without a PTE table
    // (an untouched 128 MiB mapping has 64) is passed over without the walk down from the pgd.
    let pud = -1;
    let pmdTable: number | undefined;
    let addr = start;
    while (addr < end) {
      const next = Math.min(addr - (addr % PMD_SIZE) + PMD_SIZE, end);
      if (addr - (addr % PUD_SIZE) !== pud) {
        pud = addr - (addr % PUD_SIZE);
        pmdTable = tables.pmdOffset(g.mm, pud);
      }
      const pmdp = pmdTable === undefined ? undefined : pmdTable + (Math.floor(addr / PMD_SIZE) % 512) * 8;
      // zap_pmd_range: a huge PMD goes whole, or is split when the range covers part of it.
      if (pmdp !== undefined && pmdTransHuge(k.pgtable.pmd.pmdpGet(pmdp))) {
        if (next - addr === PMD_SIZE) {
          zapHugePmd(g, vma, pmdp, addr);
          addr = next;
          continue;
        }
        splitHugePmd(g.mm, vma, pmdp, addr);
      }
      if (pmdp === undefined || tables.pmdPageTable(pmdp) === undefined) {
        // What zapPteRange does when pte_offset_map finds no table: it counts the call, nothing else.
        k.mmStats.zap_pte_range_calls++;
        addr = next;
        continue;
      }
      let a = addr;
      while (a !== next) a = zapPteRange(g, vma, a, next, details);
      addr = next;
    }
    g.tlb.tlbEndVma();
  } finally {
    calls.leave();
  }
}

/**
 * free_pgtables (mm/memory.c): free the page tables under the unmapped VMAs, VMAs close together
 * handled in one free_pgd_range, never below `floor` or from `ceiling` up (the neighbours').
 */
export function freePgtables(g: ZapGather, vmas: readonly Vma[], floor: number, ceiling: number): void {
  const k = g.mm.kernel;
  const calls = k.telemetry.calls;
  calls.enter('free_pgtables');
  try {
    g.mm.invalidatePteCache();
    const tables = k.pgtable.tables;
    let i = 0;
    while (i < vmas.length) {
      const addr = vmas[i]!.start;
      let last = vmas[i]!;
      i++;
      // Gather nearby VMAs into one call down.
      while (i < vmas.length && vmas[i]!.start <= last.end + PMD_SIZE) last = vmas[i++]!;
      const next = vmas[i];
      tables.freePgdRange(g.tlb, g.mm, addr, last.end, floor, next !== undefined ? next.start : ceiling);
    }
  } finally {
    calls.leave();
  }
}
