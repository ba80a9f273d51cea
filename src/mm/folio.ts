/**
 * Folios and the memmap.
 *
 * A folio is a naturally aligned block of 2^order pages that the kernel model manages as one unit:
 * one reference count, one map count, one set of flags, one owner (anonymous memory or a file's
 * page cache at an index). Follows include/linux/mm_types.h and mm.h (v6.9) `struct folio`.
 *
 * The memmap answers "which folio holds this pfn" in O(1): an array indexed by pfn - spanBase
 * with an entry for every page of a large folio, standing in for Linux's struct page array and
 * page_folio(). The page-table layer's contpte fold check calls `folioOfPfn()` for the folio's
 * first pfn and number of pages. Pages that are not user data (page tables, reserved memory) are
 * tagged with their kind and have no folio.
 *
 * Reference counting follows the kernel's rules, so that a folio is freed exactly when the last
 * user lets go: folioAlloc() returns one reference for the caller; the page cache holds one per
 * page (filemap_add_folio adds folio_nr_pages); every page-table entry that maps a page holds one
 * (the fault code adds them when it maps, the zap drops them). A folio that reaches zero while
 * still mapped or still in the page cache is a model bug and throws.
 */
import { PAGE_SIZE, type PhysMem } from '../mmu/physmem.js';
import { bump, type Tally, type Telemetry } from '../trace/index.js';
import { ORDER_KEYS, type Buddy, type BuddyAlloc, type OutOfMemory } from './buddy.js';
import type { AddressSpace } from './pagecache.js';
import type { AnonVma } from './vma.js';

/** Who a folio belongs to: nobody yet, anonymous memory, or a file's page cache. */
export type FolioOwner =
  | { readonly kind: 'none' }
  | { readonly kind: 'anon'; readonly anonVma: AnonVma | null }
  | { readonly kind: 'file'; readonly mapping: AddressSpace };

/** MM_ID_DUMMY: a free mm slot of a large folio. */
export const MM_ID_NONE = -1;

export const NO_OWNER: FolioOwner = Object.freeze({ kind: 'none' });
/** Anonymous memory whose anon_vma is not modelled or not yet known. */
export const ANON_OWNER: FolioOwner = Object.freeze({ kind: 'anon', anonVma: null });

/** The folio's page flags (the PG_* bits it models), one small integer (Folio.flags). */
const PG_DIRTY = 1 << 0;
const PG_REFERENCED = 1 << 1;
const PG_UPTODATE = 1 << 2;
const PG_READAHEAD = 1 << 3;
const PG_LIVE = 1 << 4;
const PG_ANON_MAYBE_MAPPED_SHARED = 1 << 5;

/**
 * Which mms map a large folio (CONFIG_MM_ID, 6.15+: folio->_mm_id[2] and _mm_id_mapcount[2],
 * unbiased here: a free slot has id MM_ID_NONE and count 0). Made at a large folio's first
 * mapping; an order-0 folio never has one.
 */
class LargeMapcount {
  mmId0 = MM_ID_NONE;
  mmId1 = MM_ID_NONE;
  mmIdMapcount0 = 0;
  mmIdMapcount1 = 0;
}

/**
 * A folio. Every page frame in use has one, so a run of gigabytes holds hundreds of thousands:
 * Node's V8 gives each field 8 bytes, so the page flags share one integer and the large folios'
 * mm slots live apart (168 bytes a folio before, 96 now).
 */
export class Folio {
  refcount = 1;
  /**
   * Page-table entries mapping any part of the folio (folio_mapcount): one per PTE, one per PMD.
   * Per-page counts of PTE mappings are in the memmap (`Memmap.pageMapcount`).
   */
  mapcount = 0;
  /** PMD mappings of the whole folio (the "entire" mapcount of a PMD-mapped THP). */
  entireMapcount = 0;
  owner: FolioOwner = NO_OWNER;
  /** Page index of the first page: in the file for file folios, linear page index for anonymous. */
  index = 0;
  /** PG_* bits: see the accessors below. */
  private flags = PG_LIVE;
  /** The mm slots of a large folio (folioAddLargeMapcount); null until its first mapping. */
  large: LargeMapcount | null = null;

  constructor(
    /** First page frame (folio_pfn); a multiple of 2^order. */
    readonly firstPfn: number,
    readonly order: number,
  ) {}

  private setFlag(bit: number, on: boolean): void {
    this.flags = on ? this.flags | bit : this.flags & ~bit;
  }

  /** Number of pages (folio_nr_pages). */
  get nrPages(): number {
    return 1 << this.order;
  }

  get dirty(): boolean {
    return (this.flags & PG_DIRTY) !== 0;
  }
  set dirty(v: boolean) {
    this.setFlag(PG_DIRTY, v);
  }

  /** Accessed since last aged (PG_referenced / folio_mark_accessed). */
  get young(): boolean {
    return (this.flags & PG_REFERENCED) !== 0;
  }
  set young(v: boolean) {
    this.setFlag(PG_REFERENCED, v);
  }

  /** Contents valid (PG_uptodate): read from the file or zero-filled. */
  get uptodate(): boolean {
    return (this.flags & PG_UPTODATE) !== 0;
  }
  set uptodate(v: boolean) {
    this.setFlag(PG_UPTODATE, v);
  }

  /** The readahead marker (PG_readahead): reaching this folio triggers the next async readahead. */
  get readahead(): boolean {
    return (this.flags & PG_READAHEAD) !== 0;
  }
  set readahead(v: boolean) {
    this.setFlag(PG_READAHEAD, v);
  }

  /** Cleared when the folio goes back to the allocator; helpers refuse a dead folio. */
  get live(): boolean {
    return (this.flags & PG_LIVE) !== 0;
  }
  set live(v: boolean) {
    this.setFlag(PG_LIVE, v);
  }

  /** PG_anon_maybe_mapped_shared (6.15+): only 7.x's copy-on-write reuse reads it. */
  get maybeMappedShared(): boolean {
    return (this.flags & PG_ANON_MAYBE_MAPPED_SHARED) !== 0;
  }
  set maybeMappedShared(v: boolean) {
    this.setFlag(PG_ANON_MAYBE_MAPPED_SHARED, v);
  }

  /** Physical address of the first byte. */
  get pa(): number {
    return this.firstPfn * PAGE_SIZE;
  }

  get size(): number {
    return this.nrPages * PAGE_SIZE;
  }

  containsPfn(pfn: number): boolean {
    return pfn >= this.firstPfn && pfn < this.firstPfn + this.nrPages;
  }

  /** The page cache the folio is in, or null (folio->mapping of a file folio). */
  get mapping(): AddressSpace | null {
    return this.owner.kind === 'file' ? this.owner.mapping : null;
  }

  get anon(): boolean {
    return this.owner.kind === 'anon';
  }
}

/** What a page frame is used for. */
export type PageKind = 'free' | 'folio' | 'pgtable' | 'reserved';

const KIND_CODES: readonly PageKind[] = ['free', 'folio', 'pgtable', 'reserved'];
const K_FREE = 0;
const K_FOLIO = 1;
const K_PGTABLE = 2;
const K_RESERVED = 3;

export type FolioAlloc = { kind: 'ok'; folio: Folio } | OutOfMemory;

/** The `folio` stats group. */
export interface FolioStats {
  [key: string]: number | Tally;
  /** Folios allocated and freed, by order. */
  allocs_by_order: Tally;
  frees_by_order: Tally;
  /** Page-table pages allocated and freed. */
  pgtable_allocs: number;
  pgtable_frees: number;
}

export class Memmap {
  readonly mem: PhysMem;
  readonly spanBase: number;
  readonly stats: FolioStats;
  /**
   * The folio of each page: slotOf[page] is 0 for none, else 1 + the folio's slot in bySlot. A
   * typed array of zeros costs host memory only where written (a flat array of references was
   * 8 bytes a page written at start, 4 MiB for the default 2 GiB); slots are reused, so a fault
   * allocates nothing here.
   */
  private readonly slotOf: Int32Array;
  private readonly bySlot: (Folio | undefined)[] = [];
  private readonly freeSlots: number[] = [];
  private readonly kinds: Uint8Array;
  /** PTE mappings of each page (page_mapcount without the PMD part). */
  private readonly mapcounts: Int32Array;
  /** PageAnonExclusive of each page: set for a new anonymous folio, cleared when fork shares it. */
  private readonly anonExclusive: Uint8Array;

  constructor(
    readonly buddy: Buddy,
    telemetry: Telemetry,
  ) {
    this.mem = buddy.mem;
    this.spanBase = buddy.spanBase;
    const span = buddy.endPfn - buddy.spanBase;
    this.slotOf = new Int32Array(span);
    this.kinds = new Uint8Array(span);
    this.mapcounts = new Int32Array(span);
    this.anonExclusive = new Uint8Array(span);
    this.stats = telemetry.stats.register<FolioStats>('folio', {
      allocs_by_order: {},
      frees_by_order: {},
      pgtable_allocs: 0,
      pgtable_frees: 0,
    });
  }

  /** Takes pages out of the allocator for good and tags them reserved (see Buddy.reserve). */
  reserve(pfn: number, nr: number): void {
    this.buddy.reserve(pfn, nr);
    this.kinds.fill(K_RESERVED, pfn - this.spanBase, pfn - this.spanBase + nr);
  }

  /**
   * A new folio of 2^order pages with one reference for the caller, no owner and no flags
   * (folio_alloc). Its contents are whatever the pages held: zero it with `folioZero` if needed.
   */
  folioAlloc(order: number): FolioAlloc {
    const folio = this.tryFolioAlloc(order);
    return folio !== null ? { kind: 'ok', folio } : this.buddy.oom(order);
  }

  /** `folioAlloc` without a result object: null when the allocator has no block of that order. */
  tryFolioAlloc(order: number): Folio | null {
    const pfn = this.buddy.allocPfn(order);
    if (pfn < 0) return null;
    const folio = new Folio(pfn, order);
    const off = pfn - this.spanBase;
    const end = off + folio.nrPages;
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.bySlot.length;
      this.bySlot.push(folio);
    } else this.bySlot[slot] = folio;
    this.slotOf.fill(slot + 1, off, end);
    this.kinds.fill(K_FOLIO, off, end);
    bump(this.stats.allocs_by_order, ORDER_KEYS[order]!);
    return folio;
  }

  /**
   * The folio holding `pfn` (page_folio), or undefined for page tables, reserved or free pages.
   * This is the FolioLookup the page-table layer's contpte fold check asks.
   */
  folioOfPfn(pfn: number): Folio | undefined {
    const off = pfn - this.spanBase;
    if (off < 0 || off >= this.slotOf.length) return undefined;
    const slot = this.slotOf[off]!;
    return slot === 0 ? undefined : this.bySlot[slot - 1];
  }

  kindOf(pfn: number): PageKind {
    const off = pfn - this.spanBase;
    if (off < 0 || off >= this.kinds.length) throw new RangeError(`memmap: pfn 0x${pfn.toString(16)} is outside physical memory`);
    return KIND_CODES[this.kinds[off]!]!;
  }

  folioGet(folio: Folio): void {
    this.checkLive(folio, 'folio_get');
    folio.refcount++;
  }

  folioRefAdd(folio: Folio, n: number): void {
    this.checkLive(folio, 'folio_ref_add');
    folio.refcount += n;
  }

  folioPut(folio: Folio): void {
    this.folioPutRefs(folio, 1);
  }

  /** Drops `n` references; the last one frees the folio (folio_put_refs). */
  folioPutRefs(folio: Folio, n: number): void {
    this.checkLive(folio, 'folio_put');
    folio.refcount -= n;
    if (folio.refcount > 0) return;
    if (folio.refcount < 0) throw new Error(`memmap: folio at pfn 0x${folio.firstPfn.toString(16)} dropped more references than it had (${folio.refcount})`);
    if (folio.mapcount !== 0) throw new Error(`memmap: folio at pfn 0x${folio.firstPfn.toString(16)} freed while still mapped ${folio.mapcount} times`);
    if (folio.owner.kind === 'file') throw new Error(`memmap: folio at pfn 0x${folio.firstPfn.toString(16)} freed while still in a page cache`);
    this.freeFolio(folio);
  }

  private freeFolio(folio: Folio): void {
    const off = folio.firstPfn - this.spanBase;
    const end = off + folio.nrPages;
    const slot = this.slotOf[off]! - 1;
    this.bySlot[slot] = undefined;
    this.freeSlots.push(slot);
    this.slotOf.fill(0, off, end);
    this.kinds.fill(K_FREE, off, end);
    this.anonExclusive.fill(0, off, end);
    folio.live = false;
    folio.owner = NO_OWNER;
    this.buddy.free(folio.firstPfn, folio.order);
    bump(this.stats.frees_by_order, ORDER_KEYS[folio.order]!);
  }

  private checkLive(folio: Folio, op: string): void {
    if (!folio.live) throw new Error(`memmap: ${op} on a freed folio (pfn 0x${folio.firstPfn.toString(16)}, order ${folio.order})`);
  }

  /** Zeroes the whole folio (counted by the allocator as zeroed pages). */
  folioZero(folio: Folio): void {
    this.buddy.zero(folio.firstPfn, folio.nrPages);
  }

  /** The folio's bytes in physical memory, as a view (no copy). */
  folioBytes(folio: Folio): Uint8Array {
    return this.mem.read(folio.pa, folio.size);
  }

  /**
   * Records `nr` PTEs of the mm `mmId` mapping consecutive pages of `folio` from `pfn`
   * (folio_add_file_rmap_ptes / folio_add_anon_rmap_ptes / folio_dup_*_rmap_ptes without the
   * rmap tree).
   */
  folioAddRmapPtes(folio: Folio, pfn: number, nr: number, mmId = 0): void {
    this.checkRange(folio, pfn, nr, 'folio_add_rmap_ptes');
    const off = pfn - this.spanBase;
    for (let i = off; i < off + nr; i++) this.mapcounts[i]!++;
    folio.mapcount += nr;
    if (folio.nrPages > 1) folioAddLargeMapcount(folio, nr, mmId);
  }

  /** Undoes folioAddRmapPtes for `nr` PTEs (folio_remove_rmap_ptes). */
  folioRemoveRmapPtes(folio: Folio, pfn: number, nr: number, mmId = 0): void {
    this.checkRange(folio, pfn, nr, 'folio_remove_rmap_ptes');
    const off = pfn - this.spanBase;
    for (let i = off; i < off + nr; i++) {
      if (--this.mapcounts[i]! < 0) throw new Error(`memmap: page 0x${(this.spanBase + i).toString(16)} unmapped more often than mapped`);
    }
    folio.mapcount -= nr;
    if (folio.nrPages > 1) folioSubLargeMapcount(folio, nr, mmId);
  }

  /** PageAnonExclusive of one page. */
  pageAnonExclusive(pfn: number): boolean {
    const off = pfn - this.spanBase;
    return off >= 0 && off < this.anonExclusive.length && this.anonExclusive[off] === 1;
  }

  /** SetPageAnonExclusive / ClearPageAnonExclusive on `nr` pages from `pfn`. */
  setPageAnonExclusive(pfn: number, nr: number, exclusive: boolean): void {
    const off = pfn - this.spanBase;
    this.anonExclusive.fill(exclusive ? 1 : 0, off, off + nr);
  }

  /** A PMD mapping the whole folio (folio_add_*_rmap_pmd). */
  folioAddRmapPmd(folio: Folio, mmId = 0): void {
    this.checkLive(folio, 'folio_add_rmap_pmd');
    folio.entireMapcount++;
    folio.mapcount++;
    if (folio.nrPages > 1) folioAddLargeMapcount(folio, 1, mmId);
  }

  folioRemoveRmapPmd(folio: Folio, mmId = 0): void {
    this.checkLive(folio, 'folio_remove_rmap_pmd');
    if (folio.entireMapcount === 0) throw new Error(`memmap: folio at pfn 0x${folio.firstPfn.toString(16)} has no PMD mapping to remove`);
    folio.entireMapcount--;
    folio.mapcount--;
    if (folio.nrPages > 1) folioSubLargeMapcount(folio, 1, mmId);
  }

  /** PTE mappings of one page. */
  pageMapcount(pfn: number): number {
    const off = pfn - this.spanBase;
    if (off < 0 || off >= this.mapcounts.length) return 0;
    return this.mapcounts[off]!;
  }

  private checkRange(folio: Folio, pfn: number, nr: number, op: string): void {
    this.checkLive(folio, op);
    if (!(nr > 0 && pfn >= folio.firstPfn && pfn + nr <= folio.firstPfn + folio.nrPages)) {
      throw new Error(`memmap: ${op} of ${nr} pages at pfn 0x${pfn.toString(16)} is outside the folio [0x${folio.firstPfn.toString(16)}, +${folio.nrPages})`);
    }
  }

  /**
   * A zeroed page for a page table (pte_alloc_one / __pte_alloc with __GFP_ZERO). Not a folio:
   * folioOfPfn() has nothing for it and kindOf() says 'pgtable'.
   */
  pgtableAlloc(): BuddyAlloc {
    const r = this.buddy.alloc(0);
    if (r.kind !== 'ok') return r;
    this.kinds[r.pfn - this.spanBase] = K_PGTABLE;
    this.buddy.zero(r.pfn, 1);
    this.stats.pgtable_allocs++;
    return r;
  }

  /**
   * The page-table layer's allocator interface (src/pgtable/tables.ts PageTableAllocator): a zeroed
   * table page as a physical address, undefined when memory is exhausted. Every level uses one page.
   */
  allocTablePage(_level: 0 | 1 | 2 | 3): number | undefined {
    const r = this.pgtableAlloc();
    return r.kind === 'ok' ? r.pfn * PAGE_SIZE : undefined;
  }

  freeTablePage(pa: number, _level: 0 | 1 | 2 | 3): void {
    this.pgtableFree(pa / PAGE_SIZE);
  }

  pgtableFree(pfn: number): void {
    const off = pfn - this.spanBase;
    if (this.kinds[off] !== K_PGTABLE) throw new Error(`memmap: pfn 0x${pfn.toString(16)} is not a page-table page`);
    this.kinds[off] = K_FREE;
    this.buddy.free(pfn, 0);
    this.stats.pgtable_frees++;
  }
}

/**
 * folio_add_return_large_mapcount (include/linux/rmap.h, CONFIG_MM_ID, 6.15+): the mm takes its
 * slot, or a free one; a second mm (or mappings already there from an mm without a slot) makes
 * the folio "maybe mapped shared". Called after folio.mapcount grew by `diff`.
 */
function folioAddLargeMapcount(folio: Folio, diff: number, mmId: number): void {
  const l = (folio.large ??= new LargeMapcount());
  if (l.mmId0 === mmId) {
    l.mmIdMapcount0 += diff;
  } else if (l.mmId1 === mmId) {
    l.mmIdMapcount1 += diff;
  } else if (l.mmId0 === MM_ID_NONE) {
    l.mmId0 = mmId;
    l.mmIdMapcount0 = diff;
    if (folio.mapcount !== diff) folio.maybeMappedShared = true;
  } else if (l.mmId1 === MM_ID_NONE) {
    l.mmId1 = mmId;
    l.mmIdMapcount1 = diff;
    folio.maybeMappedShared = true;
  }
}

/**
 * folio_sub_return_large_mapcount: a slot whose mappings are all gone is freed; then, if one slot
 * holds every remaining mapping (or none is left), the folio is exclusive again. Called after
 * folio.mapcount shrank by `diff`.
 */
function folioSubLargeMapcount(folio: Folio, diff: number, mmId: number): void {
  const l = folio.large;
  if (l === null) {
    // Both slots free (never taken): exclusive again once no mapping is left.
    if (folio.mapcount === 0) folio.maybeMappedShared = false;
    return;
  }
  if (l.mmId0 === mmId) {
    l.mmIdMapcount0 -= diff;
    if (l.mmIdMapcount0 > 0) return;
    l.mmId0 = MM_ID_NONE;
    l.mmIdMapcount0 = 0;
  } else if (l.mmId1 === mmId) {
    l.mmIdMapcount1 -= diff;
    if (l.mmIdMapcount1 > 0) return;
    l.mmId1 = MM_ID_NONE;
    l.mmIdMapcount1 = 0;
  }
  if (l.mmIdMapcount0 === folio.mapcount || l.mmIdMapcount1 === folio.mapcount) folio.maybeMappedShared = false;
}
