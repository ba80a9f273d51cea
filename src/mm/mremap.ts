/**
 * mremap (mm/mremap.c, 6.12; 7.2 where noted): shrink in place, grow in place when the space
 * after the VMA is free, or move (MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP) with
 * move_vma → copy_vma → move_page_tables → move_ptes.
 *
 * move_ptes takes each present PTE out of the old table with ptep_get_and_clear and sets it at
 * the new address with set_pte_at, then flushes the old range with one flush_tlb_range per PTE
 * table that held a present entry. With contpte, per-PTE moves (6.9, 6.12) unfold each block at
 * its first PTE (contpte_convert) and fold it again at the new address when its 16th PTE lands
 * (another convert). 7.x (mremap_batch, Dev Jain's batching, 6.17) moves a contiguous block's
 * run of one folio with get_and_clear_ptes and set_ptes: no convert.
 *
 * When an extent is a whole PMD on both sides (old and new 2 MiB-aligned, 2 MiB or more left),
 * the PTE table itself moves (move_normal_pmd, CONFIG_HAVE_MOVE_PMD on arm64): the pmd entry is
 * cleared and set at the new address, then one flush_tlb_range of the old PMD; no PTE is
 * touched, so nothing unfolds. The 6.3+ alignment of extents down to a PMD boundary when the
 * neighbourhood is free (can_align_down) is not modelled.
 */
import { EAGAIN, EFAULT, EINVAL, ENOMEM } from './api.js';
import { mlockFutureOk } from './mlock.js';
import { PAGE_SIZE } from '../mmu/physmem.js';
import { hugePmdAt, moveHugePmd, splitHugePmd } from './huge-memory.js';
import { PMD_SIZE, pteNone, ptePfn, ptePresent, pteSpecial } from '../pgtable/pte.js';
import { GuestOutOfMemory } from '../util/errors.js';
import type { Process } from './process.js';
import { VM_DONTEXPAND, VM_LOCKED, VM_LOCKED_MASK, VM_MAYSHARE, VM_PFNMAP, VM_SHARED, type Vma } from './vma.js';
import { folioPteBatch } from './zap.js';

export const MREMAP_MAYMOVE = 1;
export const MREMAP_FIXED = 2;
export const MREMAP_DONTUNMAP = 4;

const MAP_SHARED = 0x01;

function pageAlign(n: number): number {
  return Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
}

/** vma_to_resize: the VMA at addr if [addr, addr + oldLen) may become newLen long, else -errno. */
function vmaToResize(mm: Process, addr: number, oldLen: number, newLen: number, flags: number): Vma | number {
  const vma = mm.vmas.vmaLookup(addr);
  if (vma === null) return -EFAULT;
  // A zero old length duplicates a shared mapping; private ones cannot be duplicated.
  if (oldLen === 0 && !(vma.flags & (VM_SHARED | VM_MAYSHARE))) return -EINVAL;
  if (flags & MREMAP_DONTUNMAP && vma.flags & (VM_DONTEXPAND | VM_PFNMAP)) return -EINVAL;
  if (oldLen > vma.end - addr) return -EFAULT;
  if (newLen === oldLen) return vma;
  if (vma.flags & (VM_DONTEXPAND | VM_PFNMAP)) return -EFAULT;
  if (newLen > oldLen && !mlockFutureOk(mm, vma.flags, newLen - oldLen)) return -EAGAIN;
  return vma;
}

export function doMremap(mm: Process, addr: number, oldLenIn: number, newLenIn: number, flags: number, newAddrIn: number): number {
  if (flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP)) return -EINVAL;
  if (flags & MREMAP_FIXED && !(flags & MREMAP_MAYMOVE)) return -EINVAL;
  // MREMAP_DONTUNMAP always moves and never resizes.
  if (flags & MREMAP_DONTUNMAP && (!(flags & MREMAP_MAYMOVE) || oldLenIn !== newLenIn)) return -EINVAL;
  if (addr % PAGE_SIZE !== 0) return -EINVAL;
  const oldLen = pageAlign(oldLenIn);
  const newLen = pageAlign(newLenIn);
  if (newLen === 0) return -EINVAL;
  if (mm.vmas.vmaLookup(addr) === null) return -EFAULT;
  let locked = false;
  let newAddr = newAddrIn;
  let ret: number;
  if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
    const r = mremapTo(mm, addr, oldLen, newAddr, newLen, flags);
    ret = r.ret;
    locked = r.locked;
    newAddr = ret;
  } else if (oldLen >= newLen) {
    // Shrinking is unmapping the tail.
    if (oldLen !== newLen) mm.unmapRange(addr + newLen, oldLen - newLen);
    return addr;
  } else {
    const vma = vmaToResize(mm, addr, oldLen, newLen, flags);
    if (typeof vma === 'number') return vma;
    const delta = newLen - oldLen;
    if (oldLen === vma.end - addr && vmaExpandable(mm, vma, delta)) {
      // vma_merge_extend: the VMA grows over the free space after it.
      const r = mm.vmas.mapRange({ start: vma.end, end: vma.end + delta, flags: vma.flags, pgoff: vma.pgoffOf(vma.end), file: vma.file, anonVma: vma.anonVma, name: vma.name });
      if (r.kind !== 'ok') return -ENOMEM;
      locked = (vma.flags & VM_LOCKED) !== 0;
      newAddr = addr;
      ret = addr;
    } else if (flags & MREMAP_MAYMOVE) {
      const area = mm.vmas.getUnmappedArea({ len: newLen, hint: 0, flags: vma.flags & VM_MAYSHARE ? MAP_SHARED : 0, file: vma.file, pgoff: vma.pgoffOf(addr) });
      if (area.kind !== 'ok') return -ENOMEM;
      newAddr = area.addr;
      const m = moveVma(mm, vma, addr, oldLen, newLen, newAddr, flags);
      ret = m.ret;
      locked = m.locked;
    } else {
      return -ENOMEM;
    }
  }
  if (ret >= 0 && locked && newLen > oldLen) mm.populateLocked(newAddr + oldLen, newAddr + newLen);
  return ret;
}

/** vma_expandable: nothing mapped in the delta after the VMA (and it stays below TASK_SIZE). */
function vmaExpandable(mm: Process, vma: Vma, delta: number): boolean {
  const end = vma.end + delta;
  if (end > mm.vmas.taskSize || end < vma.end) return false;
  return mm.vmas.findVmaIntersection(vma.end, end) === null;
}

function mremapTo(mm: Process, addr: number, oldLenIn: number, newAddr: number, newLen: number, flags: number): { ret: number; locked: boolean } {
  let oldLen = oldLenIn;
  if (newAddr % PAGE_SIZE !== 0) return { ret: -EINVAL, locked: false };
  if (newLen > mm.vmas.taskSize || newAddr > mm.vmas.taskSize - newLen) return { ret: -EINVAL, locked: false };
  // The old and new ranges may not overlap.
  if (addr + oldLen > newAddr && newAddr + newLen > addr) return { ret: -EINVAL, locked: false };
  if (flags & MREMAP_FIXED) mm.unmapRange(newAddr, newLen);
  if (oldLen > newLen) {
    mm.unmapRange(addr + newLen, oldLen - newLen);
    oldLen = newLen;
  }
  const vma = vmaToResize(mm, addr, oldLen, newLen, flags);
  if (typeof vma === 'number') return { ret: vma, locked: false };
  let target = newAddr;
  if (!(flags & MREMAP_FIXED)) {
    const area = mm.vmas.getUnmappedArea({ len: newLen, hint: newAddr, flags: vma.flags & VM_MAYSHARE ? MAP_SHARED : 0, file: vma.file, pgoff: vma.pgoffOf(addr) });
    if (area.kind !== 'ok') return { ret: -ENOMEM, locked: false };
    target = area.addr;
  }
  return moveVma(mm, vma, addr, oldLen, newLen, target, flags);
}

/**
 * move_vma: a VMA for the new range (copy_vma, merging with neighbours where it can), the page
 * tables moved under it, then the old range unmapped (or, with MREMAP_DONTUNMAP, kept empty and
 * unlocked).
 */
function moveVma(mm: Process, vmaIn: Vma, oldAddr: number, oldLen: number, newLen: number, newAddr: number, flags: number): { ret: number; locked: boolean } {
  const k = mm.kernel;
  return k.telemetry.calls.within('move_vma', () => {
    let vma = vmaIn;
    const vmFlags = vma.flags;
    const r = mm.vmas.mapRange({ start: newAddr, end: newAddr + newLen, flags: vma.flags, pgoff: vma.pgoffOf(oldAddr), file: vma.file, anonVma: vma.anonVma, name: vma.name });
    if (r.kind !== 'ok') return { ret: -ENOMEM, locked: false };
    movePageTables(mm, oldAddr, newAddr, oldLen);
    k.mmStats.mremap_moves++;
    if (flags & MREMAP_DONTUNMAP) {
      vma = mm.vmas.vmaLookup(oldAddr)!;
      vma.flags &= ~VM_LOCKED_MASK;
      // The old range's anon_vma is no longer needed once its page tables moved.
      if (vma.start === oldAddr && vma.end === oldAddr + oldLen) vma.anonVma = null;
      return { ret: newAddr, locked: false };
    }
    mm.unmapRange(oldAddr, oldLen);
    return { ret: newAddr, locked: (vmFlags & VM_LOCKED) !== 0 };
  });
}

/** move_page_tables: per PTE table of the old range (extents end at either side's PMD boundary). */
function movePageTables(mm: Process, oldAddr: number, newAddr: number, len: number): void {
  const k = mm.kernel;
  const calls = k.telemetry.calls;
  calls.enter('move_page_tables');
  try {
    let done = 0;
    while (done < len) {
      const o = oldAddr + done;
      const n = newAddr + done;
      const extent = Math.min(PMD_SIZE - (o % PMD_SIZE), PMD_SIZE - (n % PMD_SIZE), len - done);
      const huge = hugePmdAt(k, mm, o);
      if (huge !== null) {
        // A huge PMD moves whole when the extent is all of it; otherwise it is split first.
        if (extent === PMD_SIZE && moveHugePmd(mm, o, n, huge.pmdp)) {
          done += extent;
          continue;
        }
        const vma = mm.vmas.vmaLookup(o);
        if (vma !== null) splitHugePmd(mm, vma, huge.pmdp, o);
      }
      if (k.pgtable.tables.pteOffsetMap(mm, o) !== undefined) {
        if (extent === PMD_SIZE && moveNormalPmd(mm, o, n)) {
          done += extent;
          continue;
        }
        movePtes(mm, o, o + extent, n);
      }
      done += extent;
    }
  } finally {
    calls.leave();
  }
}

/** move_normal_pmd: the whole PTE table changes place; one flush of the old PMD's range. */
function moveNormalPmd(mm: Process, oldAddr: number, newAddr: number): boolean {
  const k = mm.kernel;
  return k.telemetry.calls.within('move_normal_pmd', () => {
    const moved = k.pgtable.tables.movePmdTable(mm, oldAddr, newAddr);
    // The guest used up its memory, as a fault's table allocation can: the OOM killer's case, not
    // bad input. Both VMAs exist while tables move, so the half-moved range is torn down whole.
    if (moved === undefined) throw new GuestOutOfMemory(`out of guest physical memory allocating page tables for mremap to 0x${newAddr.toString(16)}; raise --set mem_mb (now ${k.policy.mem_mb})`);
    if (!moved) return false;
    // The cached PTE table of the last fault may be the one that moved.
    mm.invalidatePteCache();
    k.mmStats.mremap_pmds_moved++;
    k.pgtable.flush.flushTlbRange(mm, oldAddr, oldAddr + PMD_SIZE);
    return true;
  });
}

function movePtes(mm: Process, oldStart: number, oldEnd: number, newStart: number): void {
  const k = mm.kernel;
  const calls = k.telemetry.calls;
  calls.enter('move_ptes');
  try {
    const api = k.pgtable.ptep;
    const oldPtep0 = k.pgtable.tables.pteOffsetMap(mm, oldStart)!;
    const newPtep0 = mm.pteAlloc(newStart);
    const batch = k.policy.mremap_batch;
    let forceFlush = false;
    let i = 0;
    for (let old = oldStart; old < oldEnd; ) {
      const ptep = oldPtep0 + i * 8;
      const pte = api.ptepGet(ptep);
      let nr = 1;
      if (!pteNone(pte)) {
        if (ptePresent(pte)) {
          forceFlush = true;
          // mremap_folio_pte_batch (7.x): only a contiguous entry's run of one large folio.
          if (batch && api.pteBatchHint(ptep, pte) > 1 && !pteSpecial(pte)) {
            const folio = k.memmap.folioOfPfn(ptePfn(pte));
            if (folio !== undefined && folio.nrPages > 1) nr = folioPteBatch(k, folio, ptep, pte, (oldEnd - old) / PAGE_SIZE);
          }
        }
        const newAddr = newStart + i * PAGE_SIZE;
        if (nr > 1) {
          const got = api.getAndClearFullPtes(mm, old, ptep, nr);
          api.setPtes(mm, newAddr, newPtep0 + i * 8, got, nr);
        } else {
          const got = api.ptepGetAndClear(mm, old, ptep);
          api.setPteAt(mm, newAddr, newPtep0 + i * 8, got);
        }
        k.mmStats.mremap_ptes_moved += nr;
      }
      old += nr * PAGE_SIZE;
      i += nr;
    }
    if (forceFlush) k.pgtable.flush.flushTlbRange(mm, oldStart, oldEnd);
  } finally {
    calls.leave();
  }
}
