/**
 * Shadow translation tables: the VMSAv8-64 stage-1 tables (4K granule, 48-bit VA, walk from level
 * 0) that TTBR0_EL1 points at while the guest runs. They hold exactly the entries of the model TLB,
 * so QEMU's walker can only find what the model decided, and QEMU's own TLB (filled from them and
 * flushed whenever an entry goes) is always a subset of the model's.
 *
 * One model TLB entry becomes:
 *   - 4 KiB: one page descriptor;
 *   - 64 KiB (a contiguous-bit entry): 16 page descriptors (QEMU 5.0 ignores the contiguous bit,
 *     so the shadow does not set it);
 *   - 2 MiB (and larger, 2 MiB aligned): level-2 block descriptors where the slot is free, page
 *     descriptors otherwise.
 * Permissions are the entry's EL0 permissions exactly (AP and UXN; PXN always set), so a write
 * to an entry the model holds read-only traps as a permission fault. AF is always set (QEMU 5.0
 * has no hardware access flag; the model decides AF). Memory type comes from the entry's AttrIndx.
 *
 * Entries may overlap (a model TLB under BBML2 no-abort may hold a 4 KiB entry and a 64 KiB one
 * covering it). Each page then shows the most recently mapped live entry; unmapping an entry
 * restores the newest remaining one covering its pages.
 *
 * Bookkeeping, sized for one map and one unmap per model-TLB miss: while no two entries overlap,
 * a 4 KiB entry is nothing but its page descriptor, marked with a software bit (HI_SW_PAGE), so a
 * miss allocates nothing and touches no Map; larger entries are objects in `live`. The first
 * overlap turns every entry into an object, indexed by 2 MiB region, until none is left.
 *
 * Removing or overwriting a descriptor marks QEMU's TLB stale; `flush()` then performs the TLBIs
 * (see QemuTlbi). The engine calls it before the guest resumes, so many unmaps within one hook
 * cost one invalidation, or a few.
 *
 * Descriptor encodings follow the Arm ARM (DDI 0487) D8.3 "Translation table descriptor formats".
 */
import { PAGE_SIZE } from './layout.js';

export interface ShadowPerms {
  readonly r: boolean;
  readonly w: boolean;
  readonly x: boolean;
}

export interface ShadowAttrs {
  /** MAIR_EL1 index (the engine programs Linux's layout: 0 = Normal WB). Default 0. */
  readonly attrIndx?: number;
  /** Non-global (ASID-tagged). Default true, like every user mapping. */
  readonly nG?: boolean;
}

/** One live shadow entry: what the model TLB holds. */
export interface ShadowEntry {
  readonly vaBase: number;
  readonly size: number;
  readonly paBase: number;
  readonly perms: ShadowPerms;
  readonly attrIndx: number;
  readonly nG: boolean;
}

/** What a model TLB entry looks like to `verify`. */
export interface ExpectedEntry {
  readonly vaBase: number;
  readonly size: number;
  readonly paBase: number;
  readonly perms: ShadowPerms;
}

export type ShadowLookup =
  | { readonly kind: 'none' }
  | { readonly kind: 'mapped'; readonly pa: number; readonly perms: ShadowPerms };

export type AccessCheck = 'ok' | 'translation' | 'permission';

/**
 * The QEMU TLB invalidation a flush needs. 'all' (TLBI VMALLE1) also empties QEMU's cache of
 * recently looked-up translated blocks, which lets a jump skip the TLB; 'va' (TLBI VALE1) does
 * not, and is used only when no executable descriptor went. Because every shadow page is larger
 * than QEMU's 1 KiB target page, QEMU records it as a "large page" and a 'va' flush of any page it
 * holds empties the whole EL1&0 TLB (accel/tcg/cputlb.c, QEMU 5.0, tlb_flush_page_locked).
 */
export type QemuTlbi = { readonly kind: 'all' } | { readonly kind: 'va'; readonly va: number };

/** More non-executable VAs than this in one flush: invalidate everything at once. */
const MAX_VA_FLUSHES = 4;

export interface ShadowStats {
  [k: string]: number;
  maps: number;
  unmaps: number;
  descriptor_writes: number;
  overlaps: number;
  qemu_tlbi: number;
  tables_allocated: number;
  tables_freed: number;
  tables_live: number;
}

/** The memory the shadow lives in: a window of the engine's region. */
export interface ShadowMemory {
  /** 32-bit little-endian words over the region. */
  readonly u32: Uint32Array;
  /** Physical address of u32[0]. */
  readonly base: number;
  /** Index of the first page the shadow may use for tables; pages before it belong to others. */
  readonly firstPage: number;
  /** One past the last page the shadow may use. */
  readonly endPage: number;
}

const TWO32 = 4294967296;
const NO_ATTRS: ShadowAttrs = Object.freeze({});
const SIZE_2M = 2 ** 21;
const SIZE_1G = 2 ** 30;
const ENTRIES = 512;

// Descriptor bits (low word unless noted).
const DESC_VALID = 1;
const DESC_TABLE_OR_PAGE = 2;
const ATTRINDX_SHIFT = 2;
const AP_SHIFT = 6;
const SH_INNER = 3 << 8;
const AF = 1 << 10;
const NG = 1 << 11;
/** PXN (bit 53) and UXN (bit 54) in the high word. */
const HI_PXN = 1 << 21;
const HI_UXN = 1 << 22;
/** Output address bits [47:32] in the high word. */
const HI_OA_MASK = 0xffff;
/**
 * Bit 55, one of the bits the Arm ARM leaves to software (D8.3: IGNORED by the walk, as QEMU's
 * walker does): set in the page descriptor of a 4 KiB entry, which it alone records.
 */
const HI_SW_PAGE = 1 << 23;

/** AP[2:1] for EL0 permissions: 01 = RW at EL1 and EL0, 11 = RO at both, 00 = EL1 only. */
function apFor(p: ShadowPerms): number {
  if (p.w) {
    if (!p.r) throw new RangeError('EL0 write without read cannot be expressed in VMSAv8-64 (AP)');
    return 0b01;
  }
  return p.r ? 0b11 : 0b00;
}

/**
 * The eight possible permission sets, shared and frozen: a miss maps and looks up permissions
 * without allocating them.
 */
const PERMS: readonly ShadowPerms[] = Array.from({ length: 8 }, (_, k) => Object.freeze({ r: (k & 4) !== 0, w: (k & 2) !== 0, x: (k & 1) !== 0 }));

/** The shared ShadowPerms object for these permissions. */
export function shadowPerms(r: boolean, w: boolean, x: boolean): ShadowPerms {
  return PERMS[(r ? 4 : 0) | (w ? 2 : 0) | (x ? 1 : 0)]!;
}

function permsFrom(lo: number, hi: number): ShadowPerms {
  const ap = (lo >>> AP_SHIFT) & 3;
  return shadowPerms((ap & 1) === 1, ap === 0b01, (hi & HI_UXN) === 0);
}

function permsEqual(a: ShadowPerms, b: ShadowPerms): boolean {
  return a.r === b.r && a.w === b.w && a.x === b.x;
}

function permsText(p: ShadowPerms): string {
  return `${p.r ? 'r' : '-'}${p.w ? 'w' : '-'}${p.x ? 'x' : '-'}`;
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}

interface Live extends ShadowEntry {
  readonly seq: number;
  /** Low and high descriptor words for the first page/block, without the type bits. */
  readonly attrLo: number;
  readonly attrHi: number;
}

/**
 * The table pages of a shadow region and their bookkeeping, shared by every tree of shadow tables
 * built in it (one per CPU and address space, shadow-forest.ts): each tree takes and returns
 * whole pages, and all of them count into one `stats`.
 */
export class ShadowPagePool {
  readonly stats: ShadowStats = {
    maps: 0, unmaps: 0, descriptor_writes: 0, overlaps: 0, qemu_tlbi: 0,
    tables_allocated: 0, tables_freed: 0, tables_live: 0,
  };
  readonly u32: Uint32Array;
  readonly base: number;
  /** Valid descriptors per table page, to free empty tables. */
  readonly validCount: Uint16Array;
  private readonly endPage: number;
  private readonly freePages: number[] = [];
  private nextPage: number;

  constructor(mem: ShadowMemory) {
    this.u32 = mem.u32;
    this.base = mem.base;
    this.endPage = mem.endPage;
    this.validCount = new Uint16Array(mem.endPage);
    this.nextPage = mem.firstPage;
  }

  /** A zeroed table page (pages come back zeroed: a table is freed only once empty). */
  alloc(): number {
    const page = this.freePages.pop() ?? this.nextPage++;
    if (page >= this.endPage) {
      throw new Error(`shadow tables: region exhausted (${this.endPage} pages); start the engine with a larger shadow region`);
    }
    this.stats.tables_allocated++;
    this.stats.tables_live++;
    return page;
  }

  /** Returns an empty (all-zero) table page. */
  free(page: number): void {
    this.validCount[page] = 0;
    this.freePages.push(page);
    this.stats.tables_freed++;
    this.stats.tables_live--;
  }
}

export class ShadowTables {
  readonly stats: ShadowStats;
  /** Physical address of the level-0 table (TTBR0_EL1's BADDR). */
  readonly rootPa: number;

  private readonly pool: ShadowPagePool;
  private readonly u32: Uint32Array;
  private readonly base: number;
  /** Valid descriptors per table page, to free empty tables (the pool's). */
  private readonly validCount: Uint16Array;
  private released = false;
  /**
   * The live entries held as objects, by entryKey: those larger than 4 KiB, and in overlap mode
   * every entry. Without overlaps a 4 KiB entry is just its descriptor (HI_SW_PAGE marks it as
   * one entry's own page), so a model-TLB miss costs no object and no Map update here.
   */
  private readonly live = new Map<number, Live>();
  /** 4 KiB entries recorded only in the tables (0 in overlap mode). */
  private implicitPages = 0;
  /**
   * Live entries by 2 MiB region index, to find overlapping entries. Kept only while some entry
   * has been mapped over another (overlap mode): without overlaps no page needs restoring.
   */
  private byRegion: Map<number, Set<Live>> | undefined;
  private seq = 0;
  /** Descriptors went since the last flush ... */
  private stale = false;
  /** ... among them an executable one (QEMU may hold translated code reached through it) ... */
  private staleExec = false;
  /** ... and the VAs of the non-executable ones, while few. */
  private readonly staleVas = new Float64Array(MAX_VA_FLUSHES + 1);
  private staleVaCount = 0;
  /** The operations flush() hands over, reused (the callee reads them during the call). */
  // Both operations in one shape (`va` unused by 'all'): the engine's read of `va` then sees one
  // hidden class, and keeps the address a double instead of a new heap number per TLBI.
  private readonly tlbiAll: QemuTlbi = { kind: 'all', va: Number.NaN } as QemuTlbi;
  private readonly tlbiVa: { kind: 'va'; va: number } = { kind: 'va', va: Number.NaN };
  /**
   * The last two level-2 tables walked to, most recent first: their 1 GiB regions and physical
   * addresses (region -1: none). Two, because an abort's PC and data usually lie in different
   * regions (code low, mmap high).
   */
  private memoRegion = -1;
  private memoL2Table = -1;
  private memoRegion2 = -1;
  private memoL2Table2 = -1;

  constructor(
    /** The region's memory, or the page pool of a region other trees use too. */
    mem: ShadowMemory | ShadowPagePool,
    /** Invalidates QEMU's TLB (a TLBI through CP_REG): everything, or what maps one VA. */
    private readonly invalidateQemuTlb: (op: QemuTlbi) => void,
  ) {
    this.pool = mem instanceof ShadowPagePool ? mem : new ShadowPagePool(mem);
    this.stats = this.pool.stats;
    this.u32 = this.pool.u32;
    this.base = this.pool.base;
    this.validCount = this.pool.validCount;
    const root = this.allocTable();
    this.rootPa = this.pageToPa(root);
  }

  /** The page pool this tree takes its tables from (for building sibling trees). */
  get pagePool(): ShadowPagePool {
    return this.pool;
  }

  /**
   * Gives every table page of this tree, root included, back to the pool, zeroed; the tree is
   * unusable afterwards. Its entries vanish without unmaps: only a tree QEMU is not walking (TTBR0
   * points elsewhere, and QEMU's TLB was emptied when it moved) may be released.
   */
  release(): void {
    if (this.released) return;
    const pages: number[] = [];
    const visit = (tablePa: number, level: number): void => {
      const t = (tablePa - this.base) / 4;
      if (level < 3) {
        for (let k = 0; k < ENTRIES; k++) {
          const lo = this.u32[t + 2 * k]!;
          if ((lo & DESC_VALID) !== 0 && (lo & DESC_TABLE_OR_PAGE) !== 0) visit(this.descOa(t + 2 * k), level + 1);
        }
      }
      pages.push(this.paToPage(tablePa));
    };
    visit(this.rootPa, 0);
    for (const page of pages) {
      this.u32.fill(0, page * 1024, page * 1024 + 1024);
      this.pool.free(page);
    }
    this.released = true;
    this.live.clear();
    this.byRegion = undefined;
    this.implicitPages = 0;
    this.memoRegion = this.memoRegion2 = -1;
    this.discardStale();
  }

  /**
   * Forgets the pending QEMU invalidation: the caller has just emptied QEMU's whole TLB (TTBR0
   * moved to this tree, or away from it).
   */
  discardStale(): void {
    this.stale = false;
    this.staleExec = false;
    this.staleVaCount = 0;
  }

  // ---- the entry-level API the model's TLB notifications drive ----

  /**
   * Installs one model TLB entry: [vaBase, vaBase + size) → [paBase, ...) with EL0 `perms`.
   * `size` is a power of two of at least 4 KiB and both addresses are aligned to it.
   */
  map(vaBase: number, size: number, paBase: number, perms: ShadowPerms, attrs: ShadowAttrs = NO_ATTRS): void {
    checkRange('map', vaBase, size);
    if (!Number.isSafeInteger(paBase) || paBase < 0 || !isAligned(paBase, size)) {
      throw new RangeError(`shadow map: physical address ${hex(paBase)} is not aligned to the entry size ${hex(size)}`);
    }
    const attrIndx = attrs.attrIndx ?? 0;
    if (!Number.isInteger(attrIndx) || attrIndx < 0 || attrIndx > 7) throw new RangeError(`shadow map: AttrIndx ${attrIndx} is not 0..7`);
    const nG = attrs.nG ?? true;
    const attrLo = (attrIndx << ATTRINDX_SHIFT) | (apFor(perms) << AP_SHIFT) | SH_INNER | AF | (nG ? NG : 0);
    const attrHi = HI_PXN | (perms.x ? 0 : HI_UXN) | (size === PAGE_SIZE ? HI_SW_PAGE : 0);
    if (this.byRegion === undefined) {
      if (size === PAGE_SIZE ? this.mapPage(vaBase, paBase, attrLo, attrHi) : this.mapLargeAlone(vaBase, size, paBase, perms, attrIndx, nG, attrLo, attrHi)) return;
      // The entry would cover a page another entry maps: from now on every entry is explicit.
      this.enterOverlapMode();
    }
    const key = entryKey(vaBase, size);
    if (this.live.has(key)) throw alreadyLive(vaBase, size);
    const e: Live = { vaBase, size, paBase, perms, attrIndx, nG, seq: ++this.seq, attrLo, attrHi };
    this.stats.maps++;
    this.live.set(key, e);
    indexEntry(this.byRegion!, e, true);
    if (this.writeEntry(e)) this.stats.overlaps++;
  }

  /** Removes the entry installed for exactly [vaBase, vaBase + size). */
  unmap(vaBase: number, size: number): void {
    if (this.byRegion === undefined && size === PAGE_SIZE) {
      this.unmapPage(vaBase);
      return;
    }
    const key = entryKey(vaBase, size);
    const e = this.live.get(key);
    if (!e) throw notLive(vaBase, size);
    this.stats.unmaps++;
    this.live.delete(key);
    this.clearEntry(e);
    const index = this.byRegion;
    if (!index) return;
    indexEntry(index, e, false);
    // Pages the entry covered may still be covered by older overlapping entries.
    for (const other of overlapping(index, e.vaBase, e.size)) this.writeEntry(other, e.vaBase, e.size, index);
    if (this.live.size === 0) this.byRegion = undefined;
  }

  /** Removes every entry (the model invalidated everything, e.g. TLBI ASIDE1IS / VMALLE1IS). */
  unmapAll(): void {
    for (const e of this.live.values()) {
      this.stats.unmaps++;
      this.clearEntry(e);
    }
    this.live.clear();
    this.byRegion = undefined;
    for (const va of this.implicitPageVas()) this.unmapPage(va);
  }

  // ---- 4 KiB entries without overlaps: the tables are their record ----

  /**
   * Maps a 4 KiB entry while no entries overlap (the common case, one per model-TLB miss): no
   * bookkeeping beyond its descriptor, which carries HI_SW_PAGE. Returns false, having changed
   * nothing, if another entry already maps the page.
   */
  private mapPage(va: number, pa: number, attrLo: number, attrHi: number): boolean {
    const i = this.pageSlot(va, true);
    if (i < 0) return false; // inside a block
    if ((this.u32[i]! & DESC_VALID) !== 0) {
      if ((this.u32[i + 1]! & HI_SW_PAGE) !== 0) throw alreadyLive(va, PAGE_SIZE);
      return false;
    }
    this.stats.maps++;
    this.implicitPages++;
    this.writeSlot(i, (DESC_VALID | DESC_TABLE_OR_PAGE | attrLo | (pa & 0xfffff000)) >>> 0, attrHi | Math.floor(pa / TWO32), va);
    return true;
  }

  /** Unmaps a 4 KiB entry mapped by mapPage (no overlaps). */
  private unmapPage(va: number): void {
    const i = this.pageSlot(va, false);
    if (i < 0 || (this.u32[i]! & DESC_VALID) === 0 || (this.u32[i + 1]! & HI_SW_PAGE) === 0) throw notLive(va, PAGE_SIZE);
    this.stats.unmaps++;
    this.implicitPages--;
    this.clearSlot(i, va);
    this.maybeFreeTable(this.slotPage(i), va, 3);
  }

  /**
   * Maps an entry larger than 4 KiB while no entries overlap, as an explicit live entry. Returns
   * false, having changed nothing, if any page of it is already mapped.
   */
  private mapLargeAlone(vaBase: number, size: number, paBase: number, perms: ShadowPerms, attrIndx: number, nG: boolean, attrLo: number, attrHi: number): boolean {
    const key = entryKey(vaBase, size);
    if (this.live.has(key)) throw alreadyLive(vaBase, size);
    if (this.anyMapped(vaBase, size)) return false;
    const e: Live = { vaBase, size, paBase, perms, attrIndx, nG, seq: ++this.seq, attrLo, attrHi };
    this.stats.maps++;
    this.live.set(key, e);
    this.writeEntry(e);
    return true;
  }

  /**
   * Overlap mode: every entry explicit in `live` and indexed by region, so that unmapping one can
   * restore what it covered. The 4 KiB entries recorded only in the tables become explicit; their
   * relative order does not matter, as none of them overlaps another.
   */
  private enterOverlapMode(): void {
    for (const va of this.implicitPageVas()) {
      const e = this.pageEntryAt(va);
      this.live.set(entryKey(va, PAGE_SIZE), e);
    }
    this.implicitPages = 0;
    this.byRegion = regionIndex(this.live.values());
  }

  /** The live entry a HI_SW_PAGE descriptor records, read back from the tables. */
  private pageEntryAt(va: number): Live {
    const i = this.pageSlot(va, false);
    const lo = this.u32[i]!;
    const hi = this.u32[i + 1]!;
    return {
      vaBase: va, size: PAGE_SIZE, paBase: this.descOa(i), perms: permsFrom(lo, hi),
      attrIndx: (lo >>> ATTRINDX_SHIFT) & 7, nG: (lo & NG) !== 0, seq: ++this.seq,
      attrLo: lo & 0xffc, attrHi: (hi & ~HI_OA_MASK) >>> 0,
    };
  }

  /** The VAs of the 4 KiB entries recorded only in the tables (none in overlap mode). */
  private implicitPageVas(): number[] {
    const out: number[] = [];
    if (this.implicitPages === 0) return out;
    this.forEachLeaf((va, size, i) => {
      if (size === PAGE_SIZE && (this.u32[i + 1]! & HI_SW_PAGE) !== 0) out.push(va);
    });
    return out;
  }

  /** Every live entry, explicit or recorded only in the tables, by entry key. */
  private allLive(): Map<number, Live> {
    if (this.implicitPages === 0) return this.live;
    const all = new Map(this.live);
    for (const va of this.implicitPageVas()) all.set(entryKey(va, PAGE_SIZE), this.pageEntryAt(va));
    return all;
  }

  /** Performs the pending QEMU TLB invalidation, if any descriptor went since the last one. */
  flush(): boolean {
    if (!this.stale) return false;
    if (this.staleExec || this.staleVaCount > MAX_VA_FLUSHES) {
      this.stats.qemu_tlbi++;
      this.invalidateQemuTlb(this.tlbiAll);
    } else {
      for (let k = 0; k < this.staleVaCount; k++) {
        this.stats.qemu_tlbi++;
        this.tlbiVa.va = this.staleVas[k]!;
        this.invalidateQemuTlb(this.tlbiVa);
      }
    }
    this.stale = false;
    this.staleExec = false;
    this.staleVaCount = 0;
    return true;
  }

  get flushPending(): boolean {
    return this.stale;
  }

  get size(): number {
    return this.live.size + this.implicitPages;
  }

  entries(): IterableIterator<ShadowEntry> {
    return this.allLive().values();
  }

  // ---- lookups (what QEMU's walker would find) ----

  /** Walks the shadow tables for `va`. */
  lookup(va: number): ShadowLookup {
    let tablePa = this.rootPa;
    for (let level = 0; level <= 3; level++) {
      const i = this.slotIndex(tablePa, va, level);
      const lo = this.u32[i]!;
      const hi = this.u32[i + 1]!;
      if ((lo & DESC_VALID) === 0) return { kind: 'none' };
      const outAddr = (hi & HI_OA_MASK) * TWO32 + ((lo & 0xfffff000) >>> 0);
      if (level === 3) return { kind: 'mapped', pa: outAddr + (va % PAGE_SIZE), perms: permsFrom(lo, hi) };
      if ((lo & DESC_TABLE_OR_PAGE) === 0) {
        // A block (the shadow writes them at level 2 only).
        const blockSize = level === 2 ? SIZE_2M : SIZE_1G;
        return { kind: 'mapped', pa: outAddr + (va % blockSize), perms: permsFrom(lo, hi) };
      }
      tablePa = outAddr;
    }
    return { kind: 'none' };
  }

  /** The physical address QEMU would translate `va` to, or -1: `lookup` without allocating. */
  paOf(va: number): number {
    const i = this.leafSlot(va);
    if (i < 0) return -1;
    const size = (this.u32[i]! & DESC_TABLE_OR_PAGE) === 0 ? SIZE_2M : PAGE_SIZE;
    return this.descOa(i) + (va - Math.floor(va / size) * size);
  }

  /** Whether QEMU would let EL0 make this access with the current shadow. */
  check(va: number, kind: 'read' | 'write' | 'exec'): AccessCheck {
    const i = this.leafSlot(va);
    if (i < 0) return 'translation';
    const ap = (this.u32[i]! >>> AP_SHIFT) & 3;
    const ok = kind === 'read' ? (ap & 1) === 1 : kind === 'write' ? ap === 0b01 : (this.u32[i + 1]! & HI_UXN) === 0;
    return ok ? 'ok' : 'permission';
  }

  /**
   * What QEMU's own walk would put in its TLB for the page at `va`: the physical address of
   * that page, or -1 when nothing maps it; its EL0 permissions (UC_PROT_* bits: read 1, write 2,
   * exec 4) are left in `fillProt`. For the TLB-fill hook of the virtual TLB mode (virtual-tlb.ts):
   * one descriptor walk, nothing allocated.
   */
  qemuFill(va: number): number {
    const i = this.leafSlot(va);
    if (i < 0) return -1;
    const lo = this.u32[i]!;
    const ap = (lo >>> AP_SHIFT) & 3;
    this.fillProt = (ap & 1) | (ap === 0b01 ? 2 : 0) | ((this.u32[i + 1]! & HI_UXN) === 0 ? 4 : 0);
    const size = (lo & DESC_TABLE_OR_PAGE) === 0 ? SIZE_2M : PAGE_SIZE;
    return this.descOa(i) + (va - Math.floor(va / size) * size);
  }

  /** The permissions of the last `qemuFill` that found a page. */
  fillProt = 0;

  /**
   * The u32 index of the valid leaf descriptor mapping `va` (a level-2 block or a level-3 page:
   * the shadow writes no others), or -1. Starts from the memo of level-2 tables: each abort
   * looks up its PC and its data address, and each miss maps and unmaps, in one or two regions.
   */
  private leafSlot(va: number): number {
    const l2 = this.walkTo(va, 2, false);
    if (l2 < 0) return -1;
    const lo = this.u32[l2]!;
    if ((lo & DESC_VALID) === 0) return -1;
    if ((lo & DESC_TABLE_OR_PAGE) === 0) return l2;
    const i = this.slotIndex(this.descOa(l2), va, 3);
    return (this.u32[i]! & DESC_VALID) === 0 ? -1 : i;
  }

  // ---- proof that the shadow equals the TLB ----

  /**
   * Differences between the shadow and `expected` (the model TLB's entries), as sentences; empty
   * when they are equal. Checks the live set against `expected` and every descriptor in the
   * tables against the live set (nothing mapped that no live entry explains, every page of every
   * live entry mapped as the newest entry covering it says).
   */
  verify(expected: Iterable<ExpectedEntry>): string[] {
    const live = this.allLive();
    const problems: string[] = [];
    const want = new Map<number, ExpectedEntry>();
    for (const x of expected) want.set(entryKey(x.vaBase, x.size), x);
    for (const [key, x] of want) {
      const e = live.get(key);
      if (!e) problems.push(`TLB entry [${hex(x.vaBase)}, +${hex(x.size)}) is not in the shadow`);
      else if (e.paBase !== x.paBase || !permsEqual(e.perms, x.perms)) {
        problems.push(`entry [${hex(x.vaBase)}, +${hex(x.size)}): TLB has pa ${hex(x.paBase)} ${permsText(x.perms)}, shadow has pa ${hex(e.paBase)} ${permsText(e.perms)}`);
      }
    }
    for (const [key, e] of live) {
      if (!want.has(key)) problems.push(`shadow entry [${hex(e.vaBase)}, +${hex(e.size)}) is not in the TLB`);
    }
    // Every mapped page must be explained by the newest live entry covering it.
    const index = regionIndex(live.values());
    let mappedPages = 0;
    this.forEachMapping((va, size, pa, perms) => {
      for (let off = 0; off < size; off += PAGE_SIZE) {
        mappedPages++;
        const owner = newestCovering(index, va + off);
        if (!owner) {
          problems.push(`shadow maps page ${hex(va + off)} but no live entry covers it`);
          return;
        }
        const wantPa = owner.paBase + (va + off - owner.vaBase);
        if (pa + off !== wantPa || !permsEqual(perms, owner.perms)) {
          problems.push(`page ${hex(va + off)}: shadow has pa ${hex(pa + off)} ${permsText(perms)}, newest entry says pa ${hex(wantPa)} ${permsText(owner.perms)}`);
          return;
        }
      }
    });
    // And every page a live entry covers must be mapped.
    const covered = new Set<number>();
    for (const e of live.values()) for (let off = 0; off < e.size; off += PAGE_SIZE) covered.add(e.vaBase + off);
    if (covered.size !== mappedPages) problems.push(`live entries cover ${covered.size} pages but the tables map ${mappedPages}`);
    return problems;
  }

  // ---- writing entries ----

  /**
   * Writes `e`'s descriptors, limited to [clipVa, clipVa + clipSize). With `restoreFrom` (the
   * overlap index) it only fills pages left empty whose newest covering entry is `e`, after an
   * unmap. Returns whether a valid descriptor was overwritten (the entry overlaps another).
   */
  private writeEntry(e: Live, clipVa = e.vaBase, clipSize = e.size, restoreFrom?: Map<number, Set<Live>>): boolean {
    // The common case, a 4 KiB entry mapped anew: one page descriptor.
    if (e.size === PAGE_SIZE && !restoreFrom) return this.setPage(e.vaBase, e.paBase, e);
    const start = Math.max(e.vaBase, clipVa);
    const end = Math.min(e.vaBase + e.size, clipVa + clipSize);
    let overwrote = false;
    let va = start;
    while (va < end) {
      const pa = e.paBase + (va - e.vaBase);
      if (!restoreFrom && isAligned(va, SIZE_2M) && end - va >= SIZE_2M && this.l2SlotFree(va)) {
        this.setBlock(va, pa, e);
        va += SIZE_2M;
        continue;
      }
      if (restoreFrom) {
        if (newestCovering(restoreFrom, va) === e && this.lookup(va).kind === 'none') this.setPage(va, pa, e);
      } else if (this.setPage(va, pa, e)) {
        overwrote = true;
      }
      va += PAGE_SIZE;
    }
    return overwrote;
  }

  /** Clears the descriptors that still show `e` (others belong to newer overlapping entries). */
  private clearEntry(e: Live): void {
    let va = e.vaBase;
    const end = e.vaBase + e.size;
    while (va < end) {
      const l2 = this.walkTo(va, 2, false);
      if (l2 < 0) {
        va = Math.floor(va / SIZE_2M) * SIZE_2M + SIZE_2M;
        continue;
      }
      const lo = this.u32[l2]!;
      if ((lo & DESC_VALID) !== 0 && (lo & DESC_TABLE_OR_PAGE) === 0) {
        // A block: only entries of 2 MiB or more are written as blocks, and a smaller entry
        // mapped later splits the block, so the block is ours if it shows our translation.
        if (e.size >= SIZE_2M && this.descShows(l2, e, va)) {
          this.clearSlot(l2, va);
          this.maybeFreeTable(this.slotPage(l2), va, 2);
        }
        va = Math.floor(va / SIZE_2M) * SIZE_2M + SIZE_2M;
        continue;
      }
      if ((lo & DESC_VALID) === 0) {
        va = Math.floor(va / SIZE_2M) * SIZE_2M + SIZE_2M;
        continue;
      }
      const regionEnd = Math.min(end, Math.floor(va / SIZE_2M) * SIZE_2M + SIZE_2M);
      const l3Pa = this.descOa(l2);
      for (; va < regionEnd; va += PAGE_SIZE) {
        const i = this.slotIndex(l3Pa, va, 3);
        if ((this.u32[i]! & DESC_VALID) !== 0 && this.descShows(i, e, va)) this.clearSlot(i, va);
      }
      this.maybeFreeTable(this.paToPage(l3Pa), va - PAGE_SIZE, 3);
    }
  }

  /** Whether descriptor `i` (for the page or block at `va`) holds `e`'s translation. */
  private descShows(i: number, e: Live, va: number): boolean {
    return this.descOa(i) === e.paBase + (va - e.vaBase)
      && (this.u32[i]! & 0xffc) === e.attrLo && (this.u32[i + 1]! & ~HI_OA_MASK) >>> 0 === e.attrHi;
  }

  /** Writes one page descriptor; returns whether it replaced a valid one (or split a block). */
  private setPage(va: number, pa: number, e: Live): boolean {
    const l2 = this.walkTo(va, 2, true);
    const l2lo = this.u32[l2]!;
    const split = (l2lo & DESC_VALID) !== 0 && (l2lo & DESC_TABLE_OR_PAGE) === 0;
    const l3 = (l2lo & DESC_VALID) !== 0 && !split ? this.descOa(l2) : this.ensureTable(l2);
    const i = this.slotIndex(l3, va, 3);
    // `pa & mask` keeps bits 31:12 of pa exactly (ToInt32 is pa modulo 2^32); no float remainder.
    return this.writeSlot(i, (DESC_VALID | DESC_TABLE_OR_PAGE | e.attrLo | (pa & 0xfffff000)) >>> 0, e.attrHi | Math.floor(pa / TWO32), va) || split;
  }

  private setBlock(va: number, pa: number, e: Live): void {
    const l2 = this.walkTo(va, 2, true);
    this.writeSlot(l2, (DESC_VALID | e.attrLo | (pa & 0xffe00000)) >>> 0, e.attrHi | Math.floor(pa / TWO32), va);
  }

  /** Writes a descriptor; overwriting a valid one makes QEMU's TLB stale (and returns true). */
  private writeSlot(i: number, lo: number, hi: number, va: number): boolean {
    const was = (this.u32[i]! & DESC_VALID) !== 0;
    if (was) this.markStale(i, va);
    else this.validCount[this.slotPage(i)]!++;
    this.u32[i + 1] = hi >>> 0;
    this.u32[i] = lo >>> 0;
    this.stats.descriptor_writes++;
    return was;
  }

  private clearSlot(i: number, va: number): void {
    if ((this.u32[i]! & DESC_VALID) === 0) return;
    this.markStale(i, va);
    this.u32[i] = 0;
    this.u32[i + 1] = 0;
    this.validCount[this.slotPage(i)]!--;
    this.stats.descriptor_writes++;
  }

  /** Records that the valid descriptor `i` (mapping `va`) is going. */
  private markStale(i: number, va: number): void {
    this.stale = true;
    if ((this.u32[i + 1]! & HI_UXN) === 0) this.staleExec = true;
    else if (this.staleVaCount <= MAX_VA_FLUSHES) this.staleVas[this.staleVaCount++] = va;
  }

  /** The level-3 table under level-2 slot `l2`, created (and a live block split) as needed. */
  private ensureTable(l2: number): number {
    const lo = this.u32[l2]!;
    if ((lo & DESC_VALID) !== 0 && (lo & DESC_TABLE_OR_PAGE) !== 0) return this.descOa(l2);
    const table = this.pageToPa(this.allocTable());
    if ((lo & DESC_VALID) !== 0) {
      // Split a block into the 512 equivalent pages first; the translation does not change.
      const hi = this.u32[l2 + 1]!;
      const blockPa = this.descOa(l2);
      const t = (table - this.base) / 4;
      for (let k = 0; k < ENTRIES; k++) {
        const pa = blockPa + k * PAGE_SIZE;
        this.u32[t + 2 * k] = ((lo & 0xffc) | DESC_VALID | DESC_TABLE_OR_PAGE | ((pa % TWO32) & 0xfffff000)) >>> 0;
        this.u32[t + 2 * k + 1] = (hi & ~HI_OA_MASK) | Math.floor(pa / TWO32);
      }
      this.validCount[this.paToPage(table)] = ENTRIES;
      this.stats.descriptor_writes += ENTRIES;
      this.u32[l2 + 1] = Math.floor(table / TWO32);
      this.u32[l2] = (DESC_VALID | DESC_TABLE_OR_PAGE | (table % TWO32)) >>> 0;
      return table;
    }
    this.u32[l2 + 1] = Math.floor(table / TWO32);
    this.u32[l2] = (DESC_VALID | DESC_TABLE_OR_PAGE | (table % TWO32)) >>> 0;
    this.validCount[this.slotPage(l2)]!++;
    return table;
  }

  /**
   * The u32 index of `va`'s descriptor slot in the level-`level` table, walking (and, with
   * `create`, building) the table levels above; -1 if a level is missing and not created.
   */
  private walkTo(va: number, level: number, create: boolean): number {
    // Walks cluster: most end in one of the last two level-2 tables.
    const region = Math.floor(va / SIZE_1G);
    if (level === 2) {
      if (region === this.memoRegion) return this.slotIndex(this.memoL2Table, va, 2);
      if (region === this.memoRegion2) {
        this.remember(region, this.memoL2Table2);
        return this.slotIndex(this.memoL2Table, va, 2);
      }
    }
    let tablePa = this.rootPa;
    for (let l = 0; l < level; l++) {
      const i = this.slotIndex(tablePa, va, l);
      const lo = this.u32[i]!;
      if ((lo & DESC_VALID) === 0) {
        if (!create) return -1;
        const t = this.pageToPa(this.allocTable());
        this.u32[i + 1] = Math.floor(t / TWO32);
        this.u32[i] = (DESC_VALID | DESC_TABLE_OR_PAGE | (t % TWO32)) >>> 0;
        this.validCount[this.slotPage(i)]!++;
        tablePa = t;
      } else {
        tablePa = this.descOa(i);
      }
    }
    if (level === 2) this.remember(region, tablePa);
    return this.slotIndex(tablePa, va, level);
  }

  /** Makes (region, level-2 table) the most recent memo entry. */
  private remember(region: number, l2Table: number): void {
    if (region !== this.memoRegion) {
      this.memoRegion2 = this.memoRegion;
      this.memoL2Table2 = this.memoL2Table;
    }
    this.memoRegion = region;
    this.memoL2Table = l2Table;
  }

  private l2SlotFree(va: number): boolean {
    const i = this.walkTo(va, 2, false);
    return i < 0 || (this.u32[i]! & DESC_VALID) === 0;
  }

  /**
   * Frees the level-`level` table in pool page `tablePage` if empty, and its parents in turn. (A
   * page number, not the table's address: a small integer to pass, at every 4 KiB unmap.)
   */
  private maybeFreeTable(tablePage: number, va: number, level: number): void {
    let page = tablePage;
    for (let l = level; l >= 2; l--) {
      if (this.validCount[page] !== 0) return;
      const parent = this.walkTo(va, l - 1, false);
      if (l === 2) this.memoRegion = this.memoRegion2 = -1; // that level-2 table is going
      this.u32[parent] = 0;
      this.u32[parent + 1] = 0;
      this.validCount[this.slotPage(parent)]!--;
      this.pool.free(page);
      page = this.slotPage(parent);
    }
  }

  private allocTable(): number {
    if (this.released) throw new Error('shadow tables: used after release()');
    return this.pool.alloc();
  }

  /** Calls `fn` for every valid leaf descriptor (page or block): its VA, size and u32 index. */
  private forEachLeaf(fn: (va: number, size: number, i: number) => void): void {
    const visit = (tablePa: number, level: number, vaPrefix: number): void => {
      const span = 2 ** (39 - 9 * level);
      const t = (tablePa - this.base) / 4;
      for (let k = 0; k < ENTRIES; k++) {
        const i = t + 2 * k;
        const lo = this.u32[i]!;
        if ((lo & DESC_VALID) === 0) continue;
        const va = vaPrefix + k * span;
        if (level < 3 && (lo & DESC_TABLE_OR_PAGE) !== 0) visit(this.descOa(i), level + 1, va);
        else fn(va, span, i);
      }
    };
    visit(this.rootPa, 0, 0);
  }

  /** Calls `fn` for every valid leaf descriptor (page or block) in the tables. */
  private forEachMapping(fn: (va: number, size: number, pa: number, perms: ShadowPerms) => void): void {
    this.forEachLeaf((va, size, i) => fn(va, size, this.descOa(i), permsFrom(this.u32[i]!, this.u32[i + 1]!)));
  }

  /**
   * The u32 index of `va`'s level-3 descriptor, with `create` building missing tables; -1 if a
   * table is missing (and not created), -2 if a level-2 block maps `va`.
   */
  private pageSlot(va: number, create: boolean): number {
    const l2 = this.walkTo(va, 2, create);
    if (l2 < 0) return -1;
    const lo = this.u32[l2]!;
    if ((lo & DESC_VALID) === 0) return create ? this.slotIndex(this.ensureTable(l2), va, 3) : -1;
    if ((lo & DESC_TABLE_OR_PAGE) === 0) return -2;
    return this.tableSlot(l2, va, 3);
  }

  /** Whether any page of [vaBase, vaBase + size) is mapped, by a page or a block descriptor. */
  private anyMapped(vaBase: number, size: number): boolean {
    const end = vaBase + size;
    let va = vaBase;
    while (va < end) {
      const next = (Math.floor(va / SIZE_2M) + 1) * SIZE_2M;
      const l2 = this.walkTo(va, 2, false);
      const lo = l2 < 0 ? 0 : this.u32[l2]!;
      if ((lo & DESC_VALID) !== 0) {
        if ((lo & DESC_TABLE_OR_PAGE) === 0) return true;
        const l3 = this.descOa(l2);
        for (const stop = Math.min(end, next); va < stop; va += PAGE_SIZE) {
          if ((this.u32[this.slotIndex(l3, va, 3)]! & DESC_VALID) !== 0) return true;
        }
      }
      va = next;
    }
    return false;
  }

  // ---- addressing ----

  private slotIndex(tablePa: number, va: number, level: number): number {
    return (tablePa - this.base) / 4 + tableIndex(va, level) * 2;
  }

  /**
   * slotIndex in the table the descriptor at slot `i` points to: its address stays inside this
   * function (as a return value it would be a new heap number at every 4 KiB map).
   */
  private tableSlot(i: number, va: number, level: number): number {
    const tablePa = (this.u32[i + 1]! & HI_OA_MASK) * TWO32 + ((this.u32[i]! & 0xfffff000) >>> 0);
    return (tablePa - this.base) / 4 + tableIndex(va, level) * 2;
  }

  private descOa(i: number): number {
    return (this.u32[i + 1]! & HI_OA_MASK) * TWO32 + ((this.u32[i]! & 0xfffff000) >>> 0);
  }

  private slotPage(i: number): number {
    return Math.floor(i / 1024);
  }

  private pageToPa(page: number): number {
    return this.base + page * PAGE_SIZE;
  }

  private paToPage(pa: number): number {
    return (pa - this.base) / PAGE_SIZE;
  }
}

// ---- overlap bookkeeping: live entries by 2 MiB region ----

function regionIndex(entries: Iterable<Live>): Map<number, Set<Live>> {
  const index = new Map<number, Set<Live>>();
  for (const e of entries) indexEntry(index, e, true);
  return index;
}

function indexEntry(index: Map<number, Set<Live>>, e: Live, add: boolean): void {
  const first = Math.floor(e.vaBase / SIZE_2M);
  const last = Math.floor((e.vaBase + e.size - 1) / SIZE_2M);
  for (let r = first; r <= last; r++) {
    let set = index.get(r);
    if (add) {
      if (!set) index.set(r, (set = new Set()));
      set.add(e);
    } else if (set) {
      set.delete(e);
      if (set.size === 0) index.delete(r);
    }
  }
}

/** Live entries intersecting [vaBase, vaBase + size), oldest first. */
function overlapping(index: Map<number, Set<Live>>, vaBase: number, size: number): Live[] {
  const out = new Set<Live>();
  const first = Math.floor(vaBase / SIZE_2M);
  const last = Math.floor((vaBase + size - 1) / SIZE_2M);
  for (let r = first; r <= last; r++) {
    const set = index.get(r);
    if (!set) continue;
    for (const e of set) if (e.vaBase < vaBase + size && vaBase < e.vaBase + e.size) out.add(e);
  }
  return [...out].sort((a, b) => a.seq - b.seq);
}

function newestCovering(index: Map<number, Set<Live>>, va: number): Live | undefined {
  const set = index.get(Math.floor(va / SIZE_2M));
  let best: Live | undefined;
  if (!set) return undefined;
  for (const e of set) if (va >= e.vaBase && va < e.vaBase + e.size && (!best || e.seq > best.seq)) best = e;
  return best;
}

/** The index (0..511) of `va` in a level-`level` table: VA bits [47-9l : 39-9l]. */
function tableIndex(va: number, level: number): number {
  const lo = va >>> 0; // bits 31:0 (exact: va < 2^53)
  switch (level) {
    case 3: return (lo >>> 12) & 511;
    case 2: return (lo >>> 21) & 511;
    case 1: return ((lo >>> 30) | ((((va - lo) / TWO32) & 0x7f) << 2)) & 511;
    default: return (((va - lo) / TWO32) >>> 7) & 511;
  }
}

/**
 * The key of the live entry for [vaBase, vaBase + size). A 4 KiB entry's is its page number, a
 * small integer for every guest VA (below 2^40), which a Map hashes much faster than a double;
 * larger entries (rare) take negative keys: -1 - (page number * 64 + log2(size)).
 */
function entryKey(vaBase: number, size: number): number {
  const page = vaBase / PAGE_SIZE;
  return size === PAGE_SIZE ? page : -1 - (page * 64 + Math.log2(size));
}

/** `x` is a whole multiple of `pow2`, a power of two (exact below 2^53; no float remainder). */
function isAligned(x: number, pow2: number): boolean {
  return Math.floor(x / pow2) * pow2 === x;
}

function alreadyLive(vaBase: number, size: number): Error {
  return new Error(`shadow map: an entry for [${hex(vaBase)}, +${hex(size)}) is already live; the TLB model filled a range it already holds`);
}

function notLive(vaBase: number, size: number): Error {
  return new Error(`shadow unmap: no live entry for [${hex(vaBase)}, +${hex(size)}); the shadow and the TLB model disagree`);
}

function checkRange(what: string, vaBase: number, size: number): void {
  if (size === PAGE_SIZE && vaBase >= 0 && vaBase < 2 ** 48 && isAligned(vaBase, PAGE_SIZE)) return;
  if (!Number.isSafeInteger(size) || size < PAGE_SIZE || !Number.isInteger(Math.log2(size))) {
    throw new RangeError(`shadow ${what}: size ${hex(size)} is not a power of two of at least 4 KiB`);
  }
  if (!Number.isSafeInteger(vaBase) || vaBase < 0 || !isAligned(vaBase, size)) {
    throw new RangeError(`shadow ${what}: virtual address ${hex(vaBase)} is not aligned to the entry size ${hex(size)}`);
  }
  if (vaBase + size > 2 ** 48) throw new RangeError(`shadow ${what}: [${hex(vaBase)}, +${hex(size)}) is beyond the 48-bit VA range`);
}
