/**
 * The page-table tree itself: finding and allocating the table at each level for an address,
 * and freeing tables no longer needed (mm/memory.c `free_pgd_range` and its helpers, v6.9).
 * Four levels with the 4 KiB granule and 48-bit VAs: pgd (level 0), pud (1), pmd (2), pte (3);
 * p4d is folded into the pgd as on arm64.
 *
 * Table descriptors are written through the mmu like any descriptor, so the checker sees them.
 * User tables carry PXNTable (arm64 pgalloc.h: user page tables are never executable at EL1).
 */
import type { Mmu } from '../mmu/index.js';
import { GuestOutOfMemory } from '../util/errors.js';
import type { U64 } from '../util/u64.js';
import type { MmuGather } from './mmu_gather.js';
import type { MmContext } from './policy.js';
import { PAGE_SIZE, PGDIR_SHIFT, PUD_SHIFT, PMD_SIZE, PUD_SIZE, PGDIR_SIZE } from './pte.js';

/** Where table pages come from and go to (the memory manager's buddy allocator). */
export interface PageTableAllocator {
  /** A zeroed page for a table, as a physical address; undefined when memory is exhausted. */
  allocTablePage(level: 0 | 1 | 2 | 3): number | undefined;
  freeTablePage(pa: number, level: 0 | 1 | 2 | 3): void;
}

const TABLE_TYPE_LO = 3;
const PXN_TABLE_HI = 1 << (59 - 32);
const ADDR_MASK_LO = 0xfffff000;

function tableDesc(pa: number): U64 {
  return { lo: ((pa & ADDR_MASK_LO) | TABLE_TYPE_LO) >>> 0, hi: ((Math.floor(pa / 2 ** 32) & 0xffff) | PXN_TABLE_HI) >>> 0 };
}

function descTableAddr(d: U64): number {
  return (d.hi & 0xffff) * 2 ** 32 + ((d.lo & ADDR_MASK_LO) >>> 0);
}

const isTable = (d: U64): boolean => (d.lo & 3) === 3;
const isNone = (d: U64): boolean => d.lo === 0 && d.hi === 0;

export const pgdIndex = (addr: number): number => Math.floor(addr / PGDIR_SIZE) & 511;
export const pudIndex = (addr: number): number => Math.floor(addr / PUD_SIZE) & 511;
export const pmdIndex = (addr: number): number => Math.floor(addr / PMD_SIZE) & 511;
export const pteIndex = (addr: number): number => Math.floor(addr / PAGE_SIZE) & 511;

/** p?d_addr_end: the end of the entry covering addr, or end if sooner. */
function addrEnd(addr: number, end: number, size: number): number {
  const boundary = Math.floor(addr / size) * size + size;
  return boundary - 1 < end - 1 ? boundary : end;
}

export class PageTables {
  /** Page-table pages in use, by level (0 = pgd). */
  readonly pages = [0, 0, 0, 0];

  constructor(
    private readonly mmu: Mmu,
    private readonly alloc: PageTableAllocator,
    private readonly userAsid: (mm: MmContext) => number,
  ) {}

  private read(pa: number): U64 {
    return this.mmu.mem.read64(pa);
  }

  /** set_pgd/set_pud/set_pmd: a store, and a DSB when the new entry is valid (walkers see it). */
  private setTableEntry(mm: MmContext, entryPa: number, value: U64, va: number, level: number): void {
    this.mmu.writeDescriptor(entryPa, value, { va, level, asid: this.userAsid(mm) });
    if (value.lo & 1) this.mmu.dsb('ishst');
  }

  /** A new pgd for a new mm. */
  pgdAlloc(): number {
    const pa = this.alloc.allocTablePage(0);
    // fork or execve when the guest has used up its memory: the OOM killer's case, as for a fault.
    if (pa === undefined) throw new GuestOutOfMemory('out of guest physical memory allocating a pgd for a new address space; raise --set mem_mb');
    this.pages[0]!++;
    return pa;
  }

  pgdFree(pgd: number): void {
    this.alloc.freeTablePage(pgd, 0);
    this.pages[0]!--;
  }

  /** pgd_offset, pud_offset, pmd_offset: the entry address at `level` for addr, or undefined. */
  entryAt(mm: MmContext, addr: number, level: 0 | 1 | 2 | 3): number | undefined {
    let table = mm.pgd;
    const idx = [pgdIndex, pudIndex, pmdIndex, pteIndex];
    for (let l = 0; l < level; l++) {
      const d = this.read(table + idx[l]!(addr) * 8);
      if (!isTable(d)) return undefined;
      table = descTableAddr(d);
    }
    return table + idx[level]!(addr) * 8;
  }

  /** pte_offset_map: the PTE's physical address, if a PTE table exists for addr. */
  pteOffsetMap(mm: MmContext, addr: number): number | undefined {
    return this.entryAt(mm, addr, 3);
  }

  /** The pmd entry for addr (for zap/free walks), if a pmd table exists. */
  pmdOffset(mm: MmContext, addr: number): number | undefined {
    return this.entryAt(mm, addr, 2);
  }

  /** The PTE table a pmd entry points to, if it is a table. */
  pmdPageTable(pmdp: number): number | undefined {
    const d = this.read(pmdp);
    return isTable(d) ? descTableAddr(d) : undefined;
  }

  /**
   * pud_alloc + pmd_alloc: the PMD entry's address for addr, allocating the PUD and PMD tables on
   * the way (not the PTE table: the entry may become a huge PMD); undefined when out of memory.
   */
  pmdAlloc(mm: MmContext, addr: number): number | undefined {
    let table = mm.pgd;
    const idx = [pgdIndex, pudIndex];
    const alignSize = [PGDIR_SIZE, PUD_SIZE];
    for (let l = 0; l < 2; l++) {
      const entryPa = table + idx[l]!(addr) * 8;
      const d = this.read(entryPa);
      if (isTable(d)) {
        table = descTableAddr(d);
        continue;
      }
      const next = this.alloc.allocTablePage((l + 1) as 1 | 2);
      if (next === undefined) return undefined;
      this.pages[l + 1]!++;
      this.setTableEntry(mm, entryPa, tableDesc(next), Math.floor(addr / alignSize[l]!) * alignSize[l]!, l);
      table = next;
    }
    return table + pmdIndex(addr) * 8;
  }

  /**
   * pte_alloc_one: a PTE table page not yet linked, for a huge PMD's deposit
   * (pgtable_trans_huge_deposit) or a split; counted as a PTE table from now on.
   */
  pteAllocOne(): number | undefined {
    const pa = this.alloc.allocTablePage(3);
    if (pa !== undefined) this.pages[3]!++;
    return pa;
  }

  /** pte_free: a PTE table page that was never linked, or whose PMD went (zap_deposited_table). */
  pteFree(pa: number): void {
    this.freePage(pa, 3);
  }

  /**
   * pud_alloc + pmd_alloc + pte_alloc + pte_offset_map: the PTE's address for addr, allocating
   * missing tables; undefined when out of memory.
   */
  pteAllocMap(mm: MmContext, addr: number): number | undefined {
    let table = mm.pgd;
    const idx = [pgdIndex, pudIndex, pmdIndex];
    const alignSize = [PGDIR_SIZE, PUD_SIZE, PMD_SIZE];
    for (let l = 0; l < 3; l++) {
      const entryPa = table + idx[l]!(addr) * 8;
      const d = this.read(entryPa);
      if (isTable(d)) {
        table = descTableAddr(d);
        continue;
      }
      if (!isNone(d)) throw new Error(`pte_alloc: level-${l} entry for 0x${addr.toString(16)} is a block or bad (0x${d.hi.toString(16)}${d.lo.toString(16).padStart(8, '0')})`);
      const next = this.alloc.allocTablePage((l + 1) as 1 | 2 | 3);
      if (next === undefined) return undefined;
      this.pages[l + 1]!++;
      const va = Math.floor(addr / alignSize[l]!) * alignSize[l]!;
      this.setTableEntry(mm, entryPa, tableDesc(next), va, l);
      table = next;
    }
    return table + pteIndex(addr) * 8;
  }

  /**
   * move_normal_pmd's table half (mm/mremap.c): the PTE table under oldAddr's pmd entry moves to
   * newAddr's, whose upper tables are allocated if missing (alloc_new_pmd). False, changing
   * nothing, when there is no table to move or the new pmd entry is not none. The caller flushes.
   */
  movePmdTable(mm: MmContext, oldAddr: number, newAddr: number): boolean | undefined {
    const oldPmdp = this.entryAt(mm, oldAddr, 2);
    if (oldPmdp === undefined) return false;
    const d = this.read(oldPmdp);
    if (!isTable(d)) return false;
    let table = mm.pgd;
    const idx = [pgdIndex, pudIndex];
    const alignSize = [PGDIR_SIZE, PUD_SIZE];
    for (let l = 0; l < 2; l++) {
      const entryPa = table + idx[l]!(newAddr) * 8;
      const e = this.read(entryPa);
      if (isTable(e)) {
        table = descTableAddr(e);
        continue;
      }
      if (!isNone(e)) return false;
      const next = this.alloc.allocTablePage((l + 1) as 1 | 2);
      if (next === undefined) return undefined;
      this.pages[l + 1]!++;
      this.setTableEntry(mm, entryPa, tableDesc(next), Math.floor(newAddr / alignSize[l]!) * alignSize[l]!, l);
      table = next;
    }
    const newPmdp = table + pmdIndex(newAddr) * 8;
    if (!isNone(this.read(newPmdp))) return false;
    this.setTableEntry(mm, oldPmdp, { lo: 0, hi: 0 }, oldAddr - (oldAddr % PMD_SIZE), 2);
    this.setTableEntry(mm, newPmdp, d, newAddr - (newAddr % PMD_SIZE), 2);
    return true;
  }

  /**
   * free_pgd_range: free the tables that map only [addr, end), given that nothing below `floor`
   * or from `ceiling` up may lose its tables (0 ceiling = the top of the address space). The
   * freed tables go to the gather, which frees the pages after its TLB flush.
   */
  freePgdRange(tlb: MmuGather, mm: MmContext, addrIn: number, endIn: number, floor: number, ceilingIn: number): void {
    let addr = Math.floor(addrIn / PMD_SIZE) * PMD_SIZE;
    let end = endIn;
    let ceiling = ceilingIn;
    if (addr < floor) addr += PMD_SIZE;
    if (ceiling) {
      ceiling = Math.floor(ceiling / PMD_SIZE) * PMD_SIZE;
      if (!ceiling) return;
    }
    // Unsigned "end - 1 > ceiling - 1": a zero ceiling means the top.
    if (ceiling && end - 1 > ceiling - 1) end -= PMD_SIZE;
    if (addr > end - 1) return;
    for (let a = addr; a !== end; ) {
      const next = addrEnd(a, end, PGDIR_SIZE);
      const pgdp = mm.pgd + pgdIndex(a) * 8;
      if (isTable(this.read(pgdp))) this.freePudRange(tlb, mm, pgdp, a, next, floor, ceiling);
      a = next;
    }
  }

  private freePudRange(tlb: MmuGather, mm: MmContext, pgdp: number, addr: number, end: number, floor: number, ceiling: number): void {
    const pudTable = descTableAddr(this.read(pgdp));
    for (let a = addr; a !== end; ) {
      const next = addrEnd(a, end, PUD_SIZE);
      const pudp = pudTable + pudIndex(a) * 8;
      if (isTable(this.read(pudp))) this.freePmdRange(tlb, mm, pudp, a, next, floor, ceiling);
      a = next;
    }
    if (!this.wholeRangeFree(addr, end, floor, ceiling, PGDIR_SHIFT)) return;
    const start = Math.floor(addr / PGDIR_SIZE) * PGDIR_SIZE;
    this.setTableEntry(mm, pgdp, { lo: 0, hi: 0 }, start, 0);
    tlb.pudFreeTlb(start, () => this.freePage(pudTable, 1));
  }

  private freePmdRange(tlb: MmuGather, mm: MmContext, pudp: number, addr: number, end: number, floor: number, ceiling: number): void {
    const pmdTable = descTableAddr(this.read(pudp));
    for (let a = addr; a !== end; ) {
      const next = addrEnd(a, end, PMD_SIZE);
      const pmdp = pmdTable + pmdIndex(a) * 8;
      const d = this.read(pmdp);
      if (isTable(d)) {
        // free_pte_range
        const pteTable = descTableAddr(d);
        this.setTableEntry(mm, pmdp, { lo: 0, hi: 0 }, a - (a % PMD_SIZE), 2);
        tlb.pteFreeTlb(a, () => this.freePage(pteTable, 3));
      }
      a = next;
    }
    if (!this.wholeRangeFree(addr, end, floor, ceiling, PUD_SHIFT)) return;
    const start = Math.floor(addr / PUD_SIZE) * PUD_SIZE;
    this.setTableEntry(mm, pudp, { lo: 0, hi: 0 }, start, 1);
    tlb.pmdFreeTlb(start, () => this.freePage(pmdTable, 2));
  }

  /** The tail test of free_pmd_range/free_pud_range: may the table covering `addr` go? */
  private wholeRangeFree(addr: number, end: number, floor: number, ceilingIn: number, shift: number): boolean {
    const size = 2 ** shift;
    const start = Math.floor(addr / size) * size;
    if (start < floor) return false;
    let ceiling = ceilingIn;
    if (ceiling) {
      ceiling = Math.floor(ceiling / size) * size;
      if (!ceiling) return false;
    }
    if (ceiling && end - 1 > ceiling - 1) return false;
    return true;
  }

  private freePage(pa: number, level: 1 | 2 | 3): void {
    this.alloc.freeTablePage(pa, level);
    this.pages[level]!--;
  }
}

