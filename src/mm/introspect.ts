/**
 * What /proc/<pid>/{maps,smaps,pagemap,status} read of an address space (fs/proc/task_mmu.c,
 * v6.12): its VMAs, the PTE that maps an address as ptep_get() would return it (young and dirty
 * gathered over a contiguous block), and what the memmap says of the page behind it. Reading
 * changes nothing and counts nothing: no TLB fill, no fault, no PTE access is recorded.
 */
import { PAGE_SIZE } from '../mmu/physmem.js';
import {
  CONT_PTES, PTE_AF_LO, PTE_CONT_HI, PTE_DBM_HI, PTE_DIRTY_HI, PTE_PROT_NONE_HI, PTE_RDONLY_LO, PTE_SPECIAL_HI, PTE_VALID_LO,
  ptePfn,
} from '../pgtable/pte.js';
import { pmdTransHuge } from '../pgtable/pmd.js';
import { PMD_SIZE } from '../pgtable/pte.js';
import type { MmKernel } from './kernel.js';
import type { Vma } from './vma.js';
import type { MmContext } from '../pgtable/policy.js';

/** A PTE as the proc readers look at it. */
export interface PteInfo {
  /** Mapped by a huge PMD (the entry's bits are the PMD's; pfn is this page's). */
  readonly pmd?: boolean;
  /** pte_present: valid, or PROT_NONE (valid bit clear but mapped). */
  readonly present: boolean;
  readonly pfn: number;
  /** pte_young / pte_dirty as ptep_get reports them (the whole contiguous block's). */
  readonly young: boolean;
  readonly dirty: boolean;
  /** pte_write (the DBM bit arm64 uses for writable). */
  readonly write: boolean;
  /** pte_special: no struct page (the zero page). */
  readonly special: boolean;
  readonly cont: boolean;
}

export interface PageInfo {
  /** PageAnon. */
  readonly anon: boolean;
  /** Per-page mapcount (page_mapcount). */
  readonly mapcount: number;
  /** Pages in its folio. */
  readonly folioPages: number;
  /** folio_test_dirty. */
  readonly dirty: boolean;
}

/** The view of one mm, as ProcessMemory.inspect() hands it out. */
export interface MmInspect {
  vmas(): readonly Vma[];
  /** The PTE for va, or null where there is no PTE table or the entry is none. */
  pte(va: number): PteInfo | null;
  /** The memmap's facts about a pfn, or null for a page without a folio (zero page, tables). */
  page(pfn: number): PageInfo | null;
  /** mm->start_brk and mm->brk. */
  brk(): { readonly start: number; readonly end: number };
  /** PTE table pages this mm holds (VmPTE / 4 KiB). */
  pteTablePages(): number;
}

/** The inspection functions over a kernel and one of its mms. */
export function inspectMm(k: MmKernel, mm: MmContext, vmas: () => readonly Vma[], brk: () => { start: number; end: number }): MmInspect {
  const tables = k.pgtable.tables;
  const raw = k.pgtable.raw;
  const entry = (va: number): { lo: number; hi: number } | null => {
    const ptep = tables.pteOffsetMap(mm, va);
    if (ptep === undefined) return null;
    const lo = raw.__ptepGetLo(ptep);
    const hi = raw.__ptepGetHi(ptep);
    return lo === 0 && hi === 0 ? null : { lo, hi };
  };
  /** A page under a huge PMD, as pagemap_pmd_range and smaps_pmd_entry see it. */
  const hugeEntry = (va: number): PteInfo | null => {
    const pmdp = tables.pmdOffset(mm, va);
    if (pmdp === undefined) return null;
    const d = k.pgtable.pmd.pmdpGet(pmdp);
    if (!pmdTransHuge(d)) return null;
    const zero = k.hugeZeroFolioIfAny;
    const pfn = ptePfn(d) + Math.floor((va % PMD_SIZE) / PAGE_SIZE);
    return {
      pmd: true,
      present: true,
      pfn,
      young: (d.lo & PTE_AF_LO) !== 0,
      dirty: isDirty(d.lo, d.hi),
      write: (d.hi & PTE_DBM_HI) !== 0,
      // The huge zero folio has no vm_normal_page_pmd (is_huge_zero_pmd), like the zero page.
      special: zero !== null && ptePfn(d) === zero.firstPfn,
      cont: false,
    };
  };
  return {
    vmas,
    brk,
    pte(va: number): PteInfo | null {
      const e = entry(va);
      if (e === null) return hugeEntry(va);
      const present = (e.lo & PTE_VALID_LO) !== 0 || (e.hi & PTE_PROT_NONE_HI) !== 0;
      const cont = (e.hi & PTE_CONT_HI) !== 0;
      let young = (e.lo & PTE_AF_LO) !== 0;
      let dirty = isDirty(e.lo, e.hi);
      if (cont && present) {
        // contpte_ptep_get: access and dirty of any PTE of the block count for all of it.
        const base = va - (va % (CONT_PTES * PAGE_SIZE));
        for (let i = 0; i < CONT_PTES; i++) {
          const o = entry(base + i * PAGE_SIZE);
          if (o === null) continue;
          young ||= (o.lo & PTE_AF_LO) !== 0;
          dirty ||= isDirty(o.lo, o.hi);
        }
      }
      return {
        present,
        pfn: ptePfn({ lo: e.lo, hi: e.hi }),
        young,
        dirty,
        write: (e.hi & PTE_DBM_HI) !== 0,
        special: (e.hi & PTE_SPECIAL_HI) !== 0,
        cont,
      };
    },
    page(pfn: number): PageInfo | null {
      const folio = k.memmap.folioOfPfn(pfn);
      if (folio === undefined) return null;
      // page_mapcount: PTE mappings of the page plus PMD mappings of its folio.
      return { anon: folio.owner.kind === 'anon', mapcount: k.memmap.pageMapcount(pfn) + folio.entireMapcount, folioPages: folio.nrPages, dirty: folio.dirty };
    },
    pteTablePages(): number {
      let n = 0;
      const PMD_SPAN = 512 * PAGE_SIZE;
      let last = -1;
      for (const v of vmas()) {
        for (let a = v.start - (v.start % PMD_SPAN); a < v.end; a += PMD_SPAN) {
          if (a === last) continue;
          last = a;
          const pmdp = tables.pmdOffset(mm, a);
          if (pmdp !== undefined && tables.pmdPageTable(pmdp) !== undefined) n++;
        }
      }
      return n;
    },
  };
}

/** pte_dirty: software dirty, or hardware dirty (DBM set and the entry made writable). */
function isDirty(lo: number, hi: number): boolean {
  return (hi & PTE_DIRTY_HI) !== 0 || ((hi & PTE_DBM_HI) !== 0 && (lo & PTE_RDONLY_LO) === 0);
}
