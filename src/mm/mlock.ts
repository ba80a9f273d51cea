/**
 * mlock, mlock2, munlock, mlockall, munlockall (mm/mlock.c, 6.9 to 7.2): VM_LOCKED (and
 * VM_LOCKONFAULT) on the VMAs of a range, splitting and merging them as mprotect does, then the
 * range populated (__mm_populate), except for lock-on-fault VMAs. Locking changes no PTE:
 * mlock_vma_pages_range only marks folios mlocked, which the model does not track. mlockall's
 * MCL_FUTURE goes into mm->def_flags, so later mmaps (and brk) come locked and populated.
 *
 * RLIMIT_MEMLOCK (mm/mlock.c can_do_mlock, do_mlock, do_mlockall and mlock_future_ok for mmap,
 * brk and mremap): a process without CAP_IPC_LOCK may have at most the limit locked, and none
 * at all with a zero limit (EPERM). The limit and the capability are the caller's (`Process.memlock`,
 * set by the process layer before each call); left alone, the mm behaves as root's.
 *
 * mm->locked_vm is the number of pages in VM_LOCKED VMAs: every place the kernel changes the
 * counter (mlock_fixup, mmap_region, do_brk_flags, munmap, mremap) does so exactly when a
 * VM_LOCKED range appears or goes, and special mappings are never locked, so the model sums the
 * VMAs instead of keeping a counter that could drift.
 */
import { EINVAL, ENOMEM, EPERM } from '../util/errno.js';
import { PAGE_SIZE } from '../mmu/physmem.js';
import type { Process } from './process.js';
import { VM_LOCKED, VM_LOCKED_MASK, VM_LOCKONFAULT, VM_SPECIAL, type Vma } from './vma.js';

export const MLOCK_ONFAULT = 0x01;
export const MCL_CURRENT = 1;
export const MCL_FUTURE = 2;
export const MCL_ONFAULT = 4;

/** What RLIMIT_MEMLOCK checks need from the calling task. */
export interface MemlockLimits {
  /** rlimit(RLIMIT_MEMLOCK) in bytes (Number.MAX_SAFE_INTEGER: unlimited). */
  readonly limit: number;
  /** capable(CAP_IPC_LOCK). */
  readonly capIpcLock: boolean;
}

/** Root's view: no limit applies. */
export const MEMLOCK_UNLIMITED: MemlockLimits = Object.freeze({ limit: Number.MAX_SAFE_INTEGER, capIpcLock: true });

/** can_do_mlock. */
export function canDoMlock(l: MemlockLimits): boolean {
  return l.limit !== 0 || l.capIpcLock;
}

/** mm->locked_vm in pages (see the header). */
export function lockedVm(mm: Process): number {
  let pages = 0;
  for (const v of mm.vmas.all()) if (v.flags & VM_LOCKED) pages += (v.end - v.start) / PAGE_SIZE;
  return pages;
}

/** Pages of [start, end) already in VM_LOCKED VMAs (count_mm_mlocked_page_nr). */
function countMlockedPages(mm: Process, start: number, end: number): number {
  let pages = 0;
  for (const v of mm.vmas.intersecting(start, end)) {
    if (v.flags & VM_LOCKED) pages += (Math.min(end, v.end) - Math.max(start, v.start)) / PAGE_SIZE;
  }
  return pages;
}

/** mlock_future_ok: may `bytes` more of a mapping with `flags` be locked? */
export function mlockFutureOk(mm: Process, flags: number, bytes: number): boolean {
  const l = mm.memlock;
  if (!(flags & VM_LOCKED) || l.capIpcLock) return true;
  return bytes / PAGE_SIZE + lockedVm(mm) <= Math.floor(l.limit / PAGE_SIZE);
}

/** mlock_fixup: special mappings are never locked (and not counted). */
function mlockFixup(mm: Process, vma: Vma, start: number, end: number, newFlags: number): void {
  if (newFlags === vma.flags || vma.flags & VM_SPECIAL) return;
  mm.vmas.modifyFlags(vma, start, end, newFlags);
}

/** apply_vma_lock_flags: [start, end) must be mapped without holes (ENOMEM otherwise). */
function applyVmaLockFlags(mm: Process, start: number, end: number, flags: number): number {
  const first = mm.vmas.vmaLookup(start);
  if (first === null) return -ENOMEM;
  let tmp = start;
  for (const vma of mm.vmas.intersecting(start, end)) {
    if (vma.start > tmp) return -ENOMEM;
    const e = Math.min(end, vma.end);
    mlockFixup(mm, vma, tmp, e, (vma.flags & ~VM_LOCKED_MASK) | flags);
    tmp = e;
  }
  return tmp < end ? -ENOMEM : 0;
}

/** do_mlock / munlock: the range is widened to whole pages (no alignment error). */
export function doMlock(mm: Process, startIn: number, lenIn: number, flags: number): number {
  const start = startIn - (startIn % PAGE_SIZE);
  const len = Math.ceil((lenIn + (startIn % PAGE_SIZE)) / PAGE_SIZE) * PAGE_SIZE;
  const end = start + len;
  if (!Number.isSafeInteger(end)) return -EINVAL;
  const l = mm.memlock;
  if (flags && !canDoMlock(l)) return -EPERM;
  if (end === start) return 0;
  return mm.kernel.telemetry.calls.within(flags ? 'do_mlock' : 'munlock', () => {
    if (flags && !l.capIpcLock) {
      const limit = Math.floor(l.limit / PAGE_SIZE);
      let locked = len / PAGE_SIZE + lockedVm(mm);
      // Pages locked already are not locked twice.
      if (locked > limit) locked -= countMlockedPages(mm, start, end);
      if (locked > limit) return -ENOMEM;
    }
    const r = applyVmaLockFlags(mm, start, end, flags);
    if (r < 0) return r;
    if (flags & VM_LOCKED) mm.populateLocked(start, end);
    return 0;
  });
}

export function doMlock2(mm: Process, start: number, len: number, flags: number): number {
  if (flags & ~MLOCK_ONFAULT) return -EINVAL;
  return doMlock(mm, start, len, VM_LOCKED | (flags & MLOCK_ONFAULT ? VM_LOCKONFAULT : 0));
}

/** mlockall, or munlockall (`unlock`, flags 0): def_flags for the future, every VMA for the present. */
export function doMlockall(mm: Process, flags: number, unlock = false): number {
  if (!unlock && (flags === 0 || flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) || flags === MCL_ONFAULT)) return -EINVAL;
  if (!unlock) {
    const l = mm.memlock;
    if (!canDoMlock(l)) return -EPERM;
    // Locking what is mapped now must fit the limit whole (mm->total_vm, locked or not).
    if (flags & MCL_CURRENT && !l.capIpcLock && totalVm(mm) > Math.floor(l.limit / PAGE_SIZE)) return -ENOMEM;
  }
  return mm.kernel.telemetry.calls.within(flags ? 'mlockall' : 'munlockall', () => {
    let def = mm.defFlags & ~VM_LOCKED_MASK;
    if (flags & MCL_FUTURE) def |= VM_LOCKED | (flags & MCL_ONFAULT ? VM_LOCKONFAULT : 0);
    mm.defFlags = def;
    if (flags === 0 || flags & MCL_CURRENT) {
      const toAdd = flags & MCL_CURRENT ? VM_LOCKED | (flags & MCL_ONFAULT ? VM_LOCKONFAULT : 0) : 0;
      for (const vma of [...mm.vmas.all()]) {
        // The VMA may have merged away under an earlier fixup.
        if (mm.vmas.vmaLookup(vma.start) !== vma) continue;
        mlockFixup(mm, vma, vma.start, vma.end, (vma.flags & ~VM_LOCKED_MASK) | toAdd);
      }
    }
    if (flags & MCL_CURRENT) mm.populateLocked(0, mm.vmas.taskSize);
    return 0;
  });
}

/** mm->total_vm in pages. */
function totalVm(mm: Process): number {
  let pages = 0;
  for (const v of mm.vmas.all()) pages += (v.end - v.start) / PAGE_SIZE;
  return pages;
}
