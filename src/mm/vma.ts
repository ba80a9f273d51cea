/**
 * Virtual memory areas of one address space, and where mmap puts new ones.
 *
 * A VMA is a page-aligned range [start, end) with one set of vm_flags, one backing (anonymous,
 * or a file from a page offset) and, once anonymous pages exist in it, an anon_vma. The set keeps
 * them sorted and disjoint; it splits and merges them as mm/vma.c (v6.12) does for mmap, munmap
 * and mprotect, and returns the VMAs it touched so that the callers (the munmap zap, mprotect's
 * change_protection) can walk them. The callers own everything else: page tables, accounting,
 * permission checks.
 *
 * Storage: a sorted array with binary search plus the last VMA found (Linux used a per-thread
 * vmacache until v6.1 and a maple tree since); processes here have tens of VMAs.
 *
 * Placement (`getUnmappedArea`) follows mm/mmap.c generic_get_unmapped_area_topdown and
 * mm/huge_memory.c __thp_get_unmapped_area with the arm64 layout: mmap_base below the stack top
 * by the stack gap (mm/util.c mmap_base), searching down, falling back to a bottom-up search from
 * TASK_UNMAPPED_BASE. Randomisation is off. TASK_SIZE is 2^40 in this model (docs/internals.md).
 */
import { PAGE_SIZE } from '../mmu/physmem.js';
import type { Telemetry } from '../trace/index.js';
import type { FolioOwner } from './folio.js';
import type { Inode } from './inode.js';

/** vm_flags bits (include/linux/mm.h, v6.9). */
export const VM_NONE = 0;
export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_EXEC = 0x4;
export const VM_SHARED = 0x8;
export const VM_MAYREAD = 0x10;
export const VM_MAYWRITE = 0x20;
export const VM_MAYEXEC = 0x40;
export const VM_MAYSHARE = 0x80;
export const VM_GROWSDOWN = 0x100;
export const VM_PFNMAP = 0x400;
/**
 * Not a kernel flag: the model keeps the vm_ops choice shmem_mmap makes at mmap time in this bit
 * (bit 11, unused since VM_DENYWRITE left in v5.15). Set: vm_ops is shmem_anon_vm_ops, so
 * vma_is_anon_shmem() holds (shared anonymous memory, and a tmpfs file whose link count was 0
 * when it was mapped). A flag travels with the VMA through split, merge, mprotect, fork and
 * mremap exactly as vm_ops does.
 */
export const VM_SHMEM_ANON_OPS = 0x800;
export const VM_LOCKED = 0x2000;
export const VM_IO = 0x4000;
/** MADV_DONTFORK: fork leaves this VMA out of the child. */
export const VM_DONTCOPY = 0x20000;
export const VM_DONTEXPAND = 0x40000;
/** mlock2(MLOCK_ONFAULT) / mlockall(MCL_ONFAULT): locked, but populated only by faults. */
export const VM_LOCKONFAULT = 0x80000;
/** VM_LOCKED_MASK: what munlock clears and fork does not pass on. */
export const VM_LOCKED_MASK = VM_LOCKED | VM_LOCKONFAULT;
export const VM_ACCOUNT = 0x100000;
export const VM_NORESERVE = 0x200000;
/** MADV_WIPEONFORK: the child gets this VMA empty (private anonymous only). */
export const VM_WIPEONFORK = 0x2000000;
export const VM_DONTDUMP = 0x4000000;
export const VM_SOFTDIRTY = 0x8000000;
export const VM_MIXEDMAP = 0x10000000;
export const VM_HUGEPAGE = 0x20000000;
export const VM_NOHUGEPAGE = 0x40000000;
export const VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC;
/** Mappings the kernel never merges (VM_SPECIAL). */
export const VM_SPECIAL = VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP;

/** mmap flags used by placement (include/uapi/asm-generic/mman-common.h and linux/mman.h). */
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_FIXED_NOREPLACE = 0x100000;

export const PMD_SIZE = 2 * 1024 * 1024;
/** The model's TASK_SIZE (and STACK_TOP): guest VAs stay below the physical pool at 2^40. */
export const DEFAULT_TASK_SIZE = 2 ** 40;
/** Default RLIMIT_STACK (_STK_LIM, 8 MiB). */
export const DEFAULT_RLIMIT_STACK = 8 * 1024 * 1024;
/** stack_guard_gap: 256 pages (mm/mmap.c). */
export const STACK_GUARD_GAP = 256 * PAGE_SIZE;
/** The smallest gap mmap_base leaves below the stack top (mm/util.c MIN_GAP, 128 MiB). */
export const MMAP_MIN_GAP = 128 * 1024 * 1024;
/** vm.mmap_min_addr: Kconfig's default DEFAULT_MMAP_MIN_ADDR (distributions may raise it). */
export const DEFAULT_MMAP_MIN_ADDR = 4096;

/**
 * An anon_vma: the identity that anonymous folios of a VMA (and of the VMAs split from it) share.
 * Two VMAs with different anon_vmas cannot merge, which is why it is modelled at all.
 */
export class AnonVma {
  private static nextId = 1;
  readonly id: number;
  /** The owner its anonymous folios carry. */
  readonly owner: FolioOwner;

  constructor() {
    this.id = AnonVma.nextId++;
    this.owner = { kind: 'anon', anonVma: this };
  }
}

export class Vma {
  constructor(
    public start: number,
    public end: number,
    public flags: number,
    /** Offset of `start` in the file, in pages; start / PAGE_SIZE for private anonymous VMAs. */
    public pgoff: number,
    readonly file: Inode | null,
    public anonVma: AnonVma | null,
    /** An anon_vma_name or a label such as '[stack]', '[heap]'; VMAs with different names never merge. */
    readonly name: string | null,
  ) {}

  get pages(): number {
    return (this.end - this.start) / PAGE_SIZE;
  }

  contains(addr: number): boolean {
    return addr >= this.start && addr < this.end;
  }

  /** vma_is_anonymous: no file behind it. */
  get isAnonymous(): boolean {
    return this.file === null;
  }

  /** Page offset in the backing object of `addr` (linear_page_index). */
  pgoffOf(addr: number): number {
    return this.pgoff + Math.floor((addr - this.start) / PAGE_SIZE);
  }
}

/** What a new VMA will be. */
export interface VmaProto {
  start: number;
  end: number;
  flags: number;
  pgoff: number;
  file: Inode | null;
  anonVma?: AnonVma | null;
  name?: string | null;
}

/** Which neighbours a new or changed range merged into. */
export type MergeKind = 'none' | 'prev' | 'next' | 'both';

export type MapRangeResult = { kind: 'ok'; vma: Vma; merged: MergeKind } | { kind: 'overlap'; vma: Vma };

export interface DetachResult {
  /** The VMAs now outside the set, covering exactly the mapped parts of the range, by address. */
  removed: Vma[];
  /** The neighbours left around the hole (free_pgtables' floor and ceiling come from them). */
  prev: Vma | null;
  next: Vma | null;
}

/**
 * THP alignment of private anonymous mappings, as it changed across kernels (mm/mmap.c
 * __get_unmapped_area):
 * - 'none': before v6.7, no alignment;
 * - 'any_size': v6.7 to v6.11 (efa7df3e3bb5), every mapping of at least 2 MiB is 2 MiB-aligned;
 * - 'pmd_multiple': v6.12 (d4148aeab412, also in 6.11.7 and 6.6 stable), only lengths that are
 *   multiples of 2 MiB;
 * - 'pmd_multiple_no_hint': v6.13 on (249608ee4713), and not when the caller gave a hint.
 * v6.7 placed aligned areas at the bottom of the padded gap; from v6.8 (96204e15310c) at the top,
 * as modelled for every variant.
 */
export type AnonThpAlign = 'none' | 'any_size' | 'pmd_multiple' | 'pmd_multiple_no_hint';

export interface MmapRequest {
  /** Length in bytes; rounded up to pages. */
  len: number;
  /** The address asked for: a hint, or the address itself with MAP_FIXED; 0 for none. */
  hint?: number;
  /** MAP_* flags. */
  flags: number;
  file?: Inode | null;
  /** Offset in the file, in pages. */
  pgoff?: number;
}

export type MmapErrno = 'ENOMEM' | 'EINVAL' | 'EPERM';
export type UnmappedArea = { kind: 'ok'; addr: number } | { kind: 'error'; errno: MmapErrno };

export interface VmaSetOptions {
  /** TASK_SIZE, also the stack top. */
  taskSize?: number;
  /** RLIMIT_STACK, which sizes the gap below the stack. */
  rlimitStack?: number;
  stackGuardGap?: number;
  mmapMinAddr?: number;
  anonThpAlign?: AnonThpAlign;
  /** Counts splits, merges and lookups in a `vma` stats group when given. */
  telemetry?: Telemetry;
}

export interface VmaStats {
  [key: string]: number;
  find_vma: number;
  find_vma_cached: number;
  inserts: number;
  removes: number;
  splits: number;
  merges: number;
}

/**
 * mmap_base for the top-down layout with randomisation off (mm/util.c mmap_base, v6.9): the stack
 * rlimit plus the guard gap, clamped to [MIN_GAP, 5/6 of the stack top], below the stack top.
 */
export function mmapBase(stackTop: number, rlimitStack = DEFAULT_RLIMIT_STACK, stackGuardGap = STACK_GUARD_GAP): number {
  const maxGap = Math.floor(stackTop / 6) * 5;
  let gap = rlimitStack + stackGuardGap;
  if (gap < MMAP_MIN_GAP && MMAP_MIN_GAP < maxGap) gap = MMAP_MIN_GAP;
  else if (gap > maxGap) gap = maxGap;
  return pageAlignUp(stackTop - gap);
}

function pageAlignUp(n: number): number {
  return Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
}

function isPageAligned(n: number): boolean {
  return n % PAGE_SIZE === 0;
}

/** Non-negative remainder, for (off - addr) & (size - 1) on numbers beyond 32 bits. */
function modPositive(a: number, m: number): number {
  return ((a % m) + m) % m;
}

function anonVmaCompatible(a: AnonVma | null, b: AnonVma | null): boolean {
  return a === null || b === null || a === b;
}

/** is_mergeable_vma: same flags (soft-dirty aside), same file, same name, nothing special. */
function sameKind(v: Vma, flags: number, file: Inode | null, name: string | null): boolean {
  return ((v.flags ^ flags) & ~VM_SOFTDIRTY) === 0 && (flags & VM_SPECIAL) === 0 && v.file === file && v.name === name;
}

/** can_vma_merge_after: `prev` ends where the range starts and continues its offsets. */
function canMergeAfter(prev: Vma, p: Required<VmaProto>): boolean {
  return prev.end === p.start && sameKind(prev, p.flags, p.file, p.name) && anonVmaCompatible(prev.anonVma, p.anonVma) && prev.pgoff + prev.pages === p.pgoff;
}

/** can_vma_merge_before: `next` starts where the range ends and its offsets follow. */
function canMergeBefore(next: Vma, p: Required<VmaProto>): boolean {
  return next.start === p.end && sameKind(next, p.flags, p.file, p.name) && anonVmaCompatible(next.anonVma, p.anonVma) && next.pgoff === p.pgoff + (p.end - p.start) / PAGE_SIZE;
}

export class VmaSet {
  readonly taskSize: number;
  readonly mmapBase: number;
  readonly mmapMinAddr: number;
  readonly stackGuardGap: number;
  readonly anonThpAlign: AnonThpAlign;
  /** Where the bottom-up fallback search starts (arm64 TASK_UNMAPPED_BASE: a quarter of the VA space). */
  readonly unmappedBase: number;
  readonly stats: VmaStats;

  /**
   * Called before a VMA boundary moves to `addr` inside `vma` (a split or a partial merge):
   * vma_adjust_trans_huge, which splits a huge PMD the new boundary would cut.
   */
  adjustTransHuge: ((vma: Vma, addr: number) => void) | null = null;
  /** Sorted by start, disjoint. */
  private readonly vmas: Vma[] = [];
  private cached: Vma | null = null;

  constructor(opts: VmaSetOptions = {}) {
    this.taskSize = opts.taskSize ?? DEFAULT_TASK_SIZE;
    this.stackGuardGap = opts.stackGuardGap ?? STACK_GUARD_GAP;
    this.mmapMinAddr = opts.mmapMinAddr ?? DEFAULT_MMAP_MIN_ADDR;
    this.anonThpAlign = opts.anonThpAlign ?? 'none';
    this.mmapBase = mmapBase(this.taskSize, opts.rlimitStack ?? DEFAULT_RLIMIT_STACK, this.stackGuardGap);
    this.unmappedBase = pageAlignUp(this.taskSize / 4);
    const stats: VmaStats = { find_vma: 0, find_vma_cached: 0, inserts: 0, removes: 0, splits: 0, merges: 0 };
    this.stats = opts.telemetry ? opts.telemetry.stats.register<VmaStats>('vma', stats) : stats;
  }

  get count(): number {
    return this.vmas.length;
  }

  /** Every VMA by address (a read-only view: change the set only through its methods). */
  all(): readonly Vma[] {
    return this.vmas;
  }

  /** Index of the first VMA whose end is above `addr` (vmas.length if none). */
  private indexAbove(addr: number): number {
    let lo = 0;
    let hi = this.vmas.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.vmas[mid]!.end > addr) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The first VMA that ends above `addr`, which may start above it too (find_vma). */
  findVma(addr: number): Vma | null {
    this.stats.find_vma++;
    const c = this.cached;
    if (c !== null && c.start <= addr && addr < c.end) {
      this.stats.find_vma_cached++;
      return c;
    }
    const v = this.vmas[this.indexAbove(addr)] ?? null;
    if (v !== null && v.start <= addr) this.cached = v;
    return v;
  }

  /** The VMA containing `addr`, or null (vma_lookup). */
  vmaLookup(addr: number): Vma | null {
    const v = this.findVma(addr);
    return v !== null && v.start <= addr ? v : null;
  }

  /** The first VMA overlapping [start, end), or null (find_vma_intersection). */
  findVmaIntersection(start: number, end: number): Vma | null {
    const v = this.vmas[this.indexAbove(start)] ?? null;
    return v !== null && v.start < end ? v : null;
  }

  /** Every VMA overlapping [start, end), by address. */
  intersecting(start: number, end: number): Vma[] {
    const out: Vma[] = [];
    for (let i = this.indexAbove(start); i < this.vmas.length && this.vmas[i]!.start < end; i++) out.push(this.vmas[i]!);
    return out;
  }

  prevOf(vma: Vma): Vma | null {
    const i = this.indexOf(vma);
    return i > 0 ? this.vmas[i - 1]! : null;
  }

  nextOf(vma: Vma): Vma | null {
    const i = this.indexOf(vma);
    return this.vmas[i + 1] ?? null;
  }

  private indexOf(vma: Vma): number {
    const i = this.indexAbove(vma.start);
    if (this.vmas[i] !== vma) throw new Error(`vma: [0x${vma.start.toString(16)}, 0x${vma.end.toString(16)}) is not in this address space`);
    return i;
  }

  private checkRange(start: number, end: number, what: string): void {
    if (!(isPageAligned(start) && isPageAligned(end) && start >= 0 && start < end && end <= this.taskSize)) {
      throw new RangeError(`vma: ${what} [0x${start.toString(16)}, 0x${end.toString(16)}) is not a page-aligned range below TASK_SIZE`);
    }
  }

  private static complete(p: VmaProto): Required<VmaProto> {
    // Spelled out: an object spread here was a sixth of a brk-bound run's host time.
    return { start: p.start, end: p.end, flags: p.flags, pgoff: p.pgoff, file: p.file, anonVma: p.anonVma ?? null, name: p.name ?? null };
  }

  private add(vma: Vma): void {
    this.vmas.splice(this.indexAbove(vma.start), 0, vma);
    this.stats.inserts++;
  }

  private drop(vma: Vma): void {
    this.vmas.splice(this.indexOf(vma), 1);
    if (this.cached === vma) this.cached = null;
    this.stats.removes++;
  }

  /** Links a new VMA without merging (insert_vm_struct, as exec does for the stack). */
  insert(proto: VmaProto): MapRangeResult {
    this.checkRange(proto.start, proto.end, 'insert');
    const clash = this.findVmaIntersection(proto.start, proto.end);
    if (clash !== null) return { kind: 'overlap', vma: clash };
    const p = VmaSet.complete(proto);
    const vma = new Vma(p.start, p.end, p.flags, p.pgoff, p.file, p.anonVma, p.name);
    this.add(vma);
    return { kind: 'ok', vma, merged: 'none' };
  }

  /**
   * Maps a free range: extends a compatible neighbour, joins two, or links a new VMA
   * (vma_merge_new_range then vma_link, as mmap_region and brk do). The range must be free: the
   * caller unmaps first for MAP_FIXED.
   */
  mapRange(proto: VmaProto): MapRangeResult {
    this.checkRange(proto.start, proto.end, 'map');
    const clash = this.findVmaIntersection(proto.start, proto.end);
    if (clash !== null) return { kind: 'overlap', vma: clash };
    const p = VmaSet.complete(proto);
    const i = this.indexAbove(p.start);
    const prev = i > 0 && this.vmas[i - 1]!.end === p.start ? this.vmas[i - 1]! : null;
    const next = this.vmas[i] !== undefined && this.vmas[i]!.start === p.end ? this.vmas[i]! : null;
    const left = prev !== null && canMergeAfter(prev, p);
    // Joining both also needs the neighbours' anon_vmas to agree; otherwise only prev grows.
    const right = next !== null && canMergeBefore(next, p) && (!left || anonVmaCompatible(prev!.anonVma, next.anonVma));
    // Neighbours are dropped before the survivor grows over them, so the array stays sorted.
    if (left && right) {
      this.drop(next!);
      prev!.end = next!.end;
      prev!.anonVma ??= p.anonVma ?? next!.anonVma;
      this.stats.merges++;
      return { kind: 'ok', vma: prev!, merged: 'both' };
    }
    if (left) {
      prev!.end = p.end;
      prev!.anonVma ??= p.anonVma;
      this.stats.merges++;
      return { kind: 'ok', vma: prev!, merged: 'prev' };
    }
    if (right) {
      next!.start = p.start;
      next!.pgoff = p.pgoff;
      next!.anonVma ??= p.anonVma;
      this.stats.merges++;
      return { kind: 'ok', vma: next!, merged: 'next' };
    }
    const vma = new Vma(p.start, p.end, p.flags, p.pgoff, p.file, p.anonVma, p.name);
    this.add(vma);
    return { kind: 'ok', vma, merged: 'none' };
  }

  /**
   * Splits `vma` at `addr` (__split_vma): `vma` keeps [start, addr), a new VMA takes
   * [addr, end) with the file offset advanced and the same anon_vma. Returns [lower, upper].
   */
  split(vma: Vma, addr: number): [Vma, Vma] {
    if (!(isPageAligned(addr) && addr > vma.start && addr < vma.end)) {
      throw new RangeError(`vma: cannot split [0x${vma.start.toString(16)}, 0x${vma.end.toString(16)}) at 0x${addr.toString(16)}`);
    }
    this.indexOf(vma);
    this.adjustTransHuge?.(vma, addr);
    const upper = new Vma(addr, vma.end, vma.flags, vma.pgoffOf(addr), vma.file, vma.anonVma, vma.name);
    vma.end = addr;
    this.add(upper);
    this.stats.splits++;
    return [vma, upper];
  }

  /**
   * Takes [start, end) out of the address space (the VMA half of do_vmi_align_munmap): splits
   * the VMAs that straddle either end and removes every VMA inside. The removed VMAs keep their
   * fields so the caller can zap and free what they mapped.
   */
  detachRange(start: number, end: number): DetachResult {
    this.checkRange(start, end, 'unmap');
    let i = this.indexAbove(start);
    let first = this.vmas[i];
    if (first === undefined || first.start >= end) {
      return { removed: [], prev: i > 0 ? this.vmas[i - 1]! : null, next: first ?? null };
    }
    if (first.start < start) {
      first = this.split(first, start)[1];
      i++;
    }
    let j = i;
    while (j < this.vmas.length && this.vmas[j]!.start < end) {
      const v = this.vmas[j]!;
      if (v.end > end) this.split(v, end);
      j++;
    }
    const removed = this.vmas.splice(i, j - i);
    this.stats.removes += removed.length;
    if (this.cached !== null && removed.includes(this.cached)) this.cached = null;
    return { removed, prev: i > 0 ? this.vmas[i - 1]! : null, next: this.vmas[i] ?? null };
  }

  /**
   * Gives [start, end) of `vma` new vm_flags (vma_modify_flags + the flag update of
   * mprotect_fixup, v6.12): the range merges into a compatible neighbour when it touches one,
   * otherwise `vma` is split so that exactly the range changes. Returns the VMA that now covers
   * [start, end) with `newFlags`.
   */
  modifyFlags(vma: Vma, start: number, end: number, newFlags: number): { vma: Vma; merged: MergeKind } {
    this.checkRange(start, end, 'mprotect');
    if (!(start >= vma.start && end <= vma.end)) {
      throw new RangeError(`vma: [0x${start.toString(16)}, 0x${end.toString(16)}) is not inside [0x${vma.start.toString(16)}, 0x${vma.end.toString(16)})`);
    }
    const i = this.indexOf(vma);
    if (newFlags === vma.flags) return { vma, merged: 'none' };
    const leftSide = start === vma.start;
    const rightSide = end === vma.end;
    const p: Required<VmaProto> = { start, end, flags: newFlags, pgoff: vma.pgoffOf(start), file: vma.file, anonVma: vma.anonVma, name: vma.name };
    const prev = leftSide && i > 0 ? this.vmas[i - 1]! : null;
    const next = rightSide ? (this.vmas[i + 1] ?? null) : null;
    const mergeLeft = prev !== null && canMergeAfter(prev, p);
    const mergeRight = next !== null && canMergeBefore(next, p) && (!mergeLeft || anonVmaCompatible(prev!.anonVma, next.anonVma));
    // Merged-away VMAs leave the array before the survivor grows over them, so it stays sorted.
    if (mergeLeft && mergeRight) {
      this.drop(vma);
      this.drop(next!);
      prev!.end = next!.end;
      prev!.anonVma ??= vma.anonVma ?? next!.anonVma;
      this.stats.merges++;
      return { vma: prev!, merged: 'both' };
    }
    if (mergeLeft) {
      prev!.anonVma ??= vma.anonVma;
      if (rightSide) {
        this.drop(vma);
        prev!.end = vma.end;
      } else {
        this.adjustTransHuge?.(vma, end);
        prev!.end = end;
        vma.pgoff = vma.pgoffOf(end);
        vma.start = end;
      }
      this.stats.merges++;
      return { vma: prev!, merged: 'prev' };
    }
    if (mergeRight) {
      next!.anonVma ??= vma.anonVma;
      if (leftSide) {
        this.drop(vma);
        next!.start = vma.start;
        next!.pgoff = vma.pgoff;
      } else {
        this.adjustTransHuge?.(vma, start);
        vma.end = start;
        next!.start = start;
        next!.pgoff = p.pgoff;
      }
      this.stats.merges++;
      return { vma: next!, merged: 'next' };
    }
    let target = vma;
    if (!leftSide) target = this.split(target, start)[1];
    if (!rightSide) this.split(target, end);
    target.flags = newFlags;
    return { vma: target, merged: 'none' };
  }

  /**
   * Gives `vma` an anon_vma before its first anonymous folio (anon_vma_prepare): a compatible
   * adjacent VMA's one when it has one (find_mergeable_anon_vma), so that they can still merge
   * later, else a new one.
   */
  anonVmaPrepare(vma: Vma): AnonVma {
    if (vma.anonVma !== null) return vma.anonVma;
    const i = this.indexOf(vma);
    const near = (a: Vma, b: Vma): boolean =>
      a.end === b.start && a.file === b.file && ((a.flags ^ b.flags) & ~(VM_ACCESS_FLAGS | VM_SOFTDIRTY)) === 0 && b.pgoff === a.pgoff + a.pages;
    const next = this.vmas[i + 1];
    const prev = i > 0 ? this.vmas[i - 1] : undefined;
    const found =
      (next !== undefined && near(vma, next) ? next.anonVma : null) ?? (prev !== undefined && near(prev, vma) ? prev.anonVma : null);
    vma.anonVma = found ?? new AnonVma();
    return vma.anonVma;
  }

  /** vm_start_gap: a downward-growing stack keeps a guard gap free below it. */
  private startGap(v: Vma): number {
    if ((v.flags & VM_GROWSDOWN) === 0) return v.start;
    return Math.max(0, v.start - this.stackGuardGap);
  }

  /**
   * The address a new mapping gets (__get_unmapped_area): MAP_FIXED takes the address given;
   * otherwise a free hint is honoured, else the highest free gap below mmap_base, with the THP
   * alignment the file system (for files) or the kernel version (for anonymous memory) asks for.
   */
  getUnmappedArea(req: MmapRequest): UnmappedArea {
    const hint = req.hint ?? 0;
    if (!(req.len > 0)) return { kind: 'error', errno: 'EINVAL' };
    const len = pageAlignUp(req.len);
    if (len > this.taskSize) return { kind: 'error', errno: 'ENOMEM' };
    const file = req.file ?? null;
    // Anonymous memory has no offset to align to.
    const off = file !== null ? (req.pgoff ?? 0) * PAGE_SIZE : 0;
    let r: UnmappedArea;
    if (file !== null) {
      r = file.getUnmappedArea === 'thp' ? this.thpGetUnmappedArea(hint, len, off, req.flags) : this.genericGetUnmappedArea(hint, len, req.flags);
    } else if ((req.flags & MAP_SHARED) !== 0) {
      // Shared anonymous memory is shmem: shmem_get_unmapped_area aligns only with huge pages
      // enabled for it, which the model does not map with PMDs.
      r = this.genericGetUnmappedArea(hint, len, req.flags);
    } else {
      r = this.anonThpAligned(hint, len) ? this.thpGetUnmappedArea(hint, len, 0, req.flags) : this.genericGetUnmappedArea(hint, len, req.flags);
    }
    if (r.kind !== 'ok') return r;
    if (r.addr > this.taskSize - len) return { kind: 'error', errno: 'ENOMEM' };
    if (!isPageAligned(r.addr)) return { kind: 'error', errno: 'EINVAL' };
    // security_mmap_addr: below vm.mmap_min_addr needs CAP_SYS_RAWIO, which the guest lacks.
    if (r.addr < this.mmapMinAddr) return { kind: 'error', errno: 'EPERM' };
    return r;
  }

  private anonThpAligned(hint: number, len: number): boolean {
    switch (this.anonThpAlign) {
      case 'none':
        return false;
      case 'any_size':
        return true;
      case 'pmd_multiple':
        return len % PMD_SIZE === 0;
      case 'pmd_multiple_no_hint':
        return hint === 0 && len % PMD_SIZE === 0;
      default: {
        const never: never = this.anonThpAlign;
        throw new Error(`unknown anonThpAlign ${String(never)}`);
      }
    }
  }

  /**
   * __thp_get_unmapped_area with PMD_SIZE: ask for len + 2 MiB, then place the mapping inside
   * so that address and file offset agree modulo 2 MiB, as high as possible. Falls back to the
   * plain search when the mapping has no whole aligned 2 MiB or the padded request fails.
   */
  private thpGetUnmappedArea(hint: number, len: number, off: number, flags: number): UnmappedArea {
    const size = PMD_SIZE;
    const offEnd = off + len;
    const offAlign = Math.ceil(off / size) * size;
    if (offEnd <= offAlign || offEnd - offAlign < size) return this.genericGetUnmappedArea(hint, len, flags);
    const padded = this.genericGetUnmappedArea(hint, len + size, flags);
    if (padded.kind !== 'ok') return this.genericGetUnmappedArea(hint, len, flags);
    const ret = padded.addr;
    // A hint that was free for the padded length is taken as is.
    if (ret === hint) return padded;
    const offSub = modPositive(off - ret, size);
    // Top-down: when the padded area is already aligned, use its top part.
    return { kind: 'ok', addr: offSub === 0 ? ret + size : ret + offSub };
  }

  /** generic_get_unmapped_area_topdown (arm64 uses the generic one). */
  private genericGetUnmappedArea(hint: number, len: number, flags: number): UnmappedArea {
    const mmapEnd = this.taskSize;
    if (len > mmapEnd - this.mmapMinAddr) return { kind: 'error', errno: 'ENOMEM' };
    if ((flags & MAP_FIXED) !== 0) return { kind: 'ok', addr: hint };
    if (hint !== 0) {
      const addr = pageAlignUp(hint);
      const i = this.indexAbove(addr);
      const vma = this.vmas[i];
      const prev = i > 0 ? this.vmas[i - 1]! : undefined;
      if (mmapEnd - len >= addr && addr >= this.mmapMinAddr && (vma === undefined || addr + len <= this.startGap(vma)) && (prev === undefined || addr >= prev.end)) {
        return { kind: 'ok', addr };
      }
    }
    const low = Math.max(PAGE_SIZE, this.mmapMinAddr);
    const down = this.unmappedAreaTopdown(len, low, this.mmapBase);
    if (down >= 0) return { kind: 'ok', addr: down };
    // A failed mmap very likely kills the program, so Linux retries bottom-up over everything.
    const up = this.unmappedAreaBottomUp(len, this.unmappedBase, mmapEnd);
    if (up >= 0) return { kind: 'ok', addr: up };
    return { kind: 'error', errno: 'ENOMEM' };
  }

  /** The highest `len` bytes free below `high` and at or above `low`, or -1 (unmapped_area_topdown). */
  private unmappedAreaTopdown(len: number, low: number, high: number): number {
    for (let i = this.vmas.length; i >= 0; i--) {
      const gapStart = i > 0 ? this.vmas[i - 1]!.end : 0;
      const gapEnd = i < this.vmas.length ? this.startGap(this.vmas[i]!) : Infinity;
      const top = Math.min(gapEnd, high);
      if (top - Math.max(gapStart, low) >= len) return top - len;
      if (gapStart <= low) break;
    }
    return -1;
  }

  /** The lowest `len` bytes free at or above `low` and below `high`, or -1 (unmapped_area). */
  private unmappedAreaBottomUp(len: number, low: number, high: number): number {
    for (let i = 0; i <= this.vmas.length; i++) {
      const gapStart = i > 0 ? this.vmas[i - 1]!.end : 0;
      const gapEnd = i < this.vmas.length ? this.startGap(this.vmas[i]!) : Infinity;
      const bottom = Math.max(gapStart, low);
      if (Math.min(gapEnd, high) - bottom >= len) return bottom;
      if (gapEnd >= high) break;
    }
    return -1;
  }
}
