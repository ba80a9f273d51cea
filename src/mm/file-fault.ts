/**
 * Faults on file (and shmem) mappings whose PTE is none: do_fault and its three paths
 * (mm/memory.c): do_read_fault (fault-around first), do_cow_fault (a private copy of one page),
 * do_shared_fault (->page_mkwrite, then finish_fault). finish_fault decides how many PTEs the
 * faulting folio gets by the `finish_fault` rule of the profile (kernel-notes §3.7); that single
 * decision is what makes page_fault3 fold on every 16th write (one PTE per fault) or map whole
 * folios contiguous at once.
 */
import { PAGE_SIZE } from '../mmu/physmem.js';
import { PTRS_PER_PTE } from '../pgtable/pte.js';
import { outOfMemoryError } from './buddy.js';
import type { Folio } from './folio.js';
import { faultAroundWindow, filemapFault, filemapMapPages, type FileFaultResult } from './filemap.js';
import { faultAroundPages } from './profiles.js';
import { hasPageMkwrite, vmaIsAnonShmem, vmaIsShared, vmaIsShmem } from './prot.js';
import { shmemFault } from './shmem.js';
import { DONE, pteRangeNone, setPteRange, type VmFault, type VmFaultResult } from './vmfault.js';

/** __do_fault with the PMD still none: the VMA's ->fault, for huge-memory.ts's do_set_pmd attempt. */
export function doFaultNoPte(vmf: VmFault): FileFaultResult {
  return __doFault(vmf);
}

/** do_fault: a none PTE in a file mapping. */
export function doFault(vmf: VmFault): VmFaultResult {
  if (!vmf.write) return doReadFault(vmf);
  if (!vmaIsShared(vmf.vma)) return doCowFault(vmf);
  return doSharedFault(vmf);
}

/** __do_fault: the VMA's ->fault (shmem_fault for tmpfs and anonymous shared memory, else filemap_fault). */
function __doFault(vmf: VmFault): FileFaultResult {
  if (vmf.prefetched !== undefined) return vmf.prefetched;
  return vmaIsShmem(vmf.vma) ? shmemFault(vmf) : filemapFault(vmf);
}

function notLocked(r: Exclude<FileFaultResult, { kind: 'locked' }>): VmFaultResult {
  switch (r.kind) {
    case 'retry':
      return { kind: 'retry', major: r.major };
    case 'sigbus':
      return { kind: 'error', signal: 'SIGBUS', reason: r.reason };
    default: {
      const never: never = r;
      throw new Error(`unexpected ${String(never)}`);
    }
  }
}

function doReadFault(vmf: VmFault): VmFaultResult {
  const k = vmf.k;
  const calls = k.telemetry.calls;
  calls.enter('do_read_fault');
  try {
    const nr = faultAroundPages(k.policy);
    // should_fault_around: every file VMA here has ->map_pages (filemap_map_pages).
    if (nr > 1 && vmf.prefetched === undefined && doFaultAround(vmf, nr)) return DONE('do_read_fault');
    const r = __doFault(vmf);
    if (r.kind !== 'locked') return notLocked(r);
    finishFault(vmf, r.folio, null);
    return DONE('do_read_fault');
  } finally {
    calls.leave();
  }
}

/** do_fault_around: map what is cached in the aligned window; true if the faulting page got mapped. */
function doFaultAround(vmf: VmFault, nr: number): boolean {
  const calls = vmf.k.telemetry.calls;
  calls.enter('do_fault_around');
  try {
    const w = faultAroundWindow(vmf, nr);
    return filemapMapPages(vmf, w.start, w.end);
  } finally {
    calls.leave();
  }
}

function doCowFault(vmf: VmFault): VmFaultResult {
  const k = vmf.k;
  const calls = k.telemetry.calls;
  calls.enter('do_cow_fault');
  try {
    const anonVma = vmf.mm.vmas.anonVmaPrepare(vmf.vma);
    // folio_prealloc: the copy is allocated before ->fault, and dropped if the fault is retried.
    const r = k.memmap.folioAlloc(0);
    if (r.kind !== 'ok') throw outOfMemoryError(r, `a copy-on-write page at 0x${vmf.address.toString(16)}`);
    const cow = r.folio;
    const f = __doFault(vmf);
    if (f.kind !== 'locked') {
      k.memmap.folioPut(cow);
      return notLocked(f);
    }
    const src = f.folio.pa + (vmf.pgoff - f.folio.index) * PAGE_SIZE;
    k.memmap.mem.copyPage(cow.pa, src);
    cow.owner = anonVma.owner;
    cow.index = vmf.vma.pgoffOf(vmf.address);
    cow.uptodate = true;
    k.mmStats.cow_copies++;
    finishFault(vmf, f.folio, cow);
    return DONE('do_cow_fault');
  } finally {
    calls.leave();
  }
}

function doSharedFault(vmf: VmFault): VmFaultResult {
  const k = vmf.k;
  const calls = k.telemetry.calls;
  calls.enter('do_shared_fault');
  try {
    const r = __doFault(vmf);
    if (r.kind !== 'locked') return notLocked(r);
    // ext4_page_mkwrite (block_page_mkwrite) makes the whole folio's blocks dirty.
    if (hasPageMkwrite(vmf.vma.file)) doPageMkwrite(vmf, r.folio);
    finishFault(vmf, r.folio, null);
    // fault_dirty_shared_page
    r.folio.dirty = true;
    return DONE('do_shared_fault');
  } finally {
    calls.leave();
  }
}

/** do_page_mkwrite: the file system's ->page_mkwrite (ext4: the folio's blocks become dirty). */
export function doPageMkwrite(vmf: VmFault, folio: Folio): void {
  const calls = vmf.k.telemetry.calls;
  calls.enter('do_page_mkwrite');
  folio.dirty = true;
  calls.leave();
}

/** Whether the profile's finish_fault rule lets this VMA map more than the faulting page. */
function ruleMapsFolio(vmf: VmFault): boolean {
  const k = vmf.k;
  const vma = vmf.vma;
  switch (k.policy.finish_fault) {
    case 'page':
      return false;
    case 'anon_shmem_folio':
      return vmaIsAnonShmem(vma);
    case 'shmem_folio':
      return vmaIsShmem(vma);
    case 'folio':
    case 'folio_capped':
      return true;
    default: {
      const never: never = k.policy.finish_fault;
      throw new Error(`unknown finish_fault rule ${String(never)}`);
    }
  }
}

/**
 * finish_fault (mm/memory.c): map the faulting page, or more of its folio when the rule allows
 * it and the whole range fits the VMA and the PTE table (kernel-notes §3.2-3.7). A copy-on-write
 * page is always one PTE. Returns the number of PTEs mapped (0: someone mapped it already).
 */
export function finishFault(vmf: VmFault, folio: Folio, cow: Folio | null): number {
  const k = vmf.k;
  const vma = vmf.vma;
  const calls = k.telemetry.calls;
  calls.enter('finish_fault');
  try {
    if (cow !== null) {
      if (!pteRangeNone(k, vmf.ptep, 1)) {
        k.memmap.folioPut(cow);
        return 0;
      }
      setPteRange(vmf, cow, cow.firstPfn, 1, vmf.address, vmf.ptep, 0);
      return 1;
    }
    const idx = vmf.pgoff - folio.index;
    const pageIsFile = !vmaIsShmem(vma);
    let needsFallback = false;
    // Kiryl Shutsemau's i_size rule: a file folio reaching past EOF maps only the faulting page.
    if (k.policy.finish_fault_isize_fallback && pageIsFile && folio.index + folio.nrPages > Math.ceil(vma.file!.size / PAGE_SIZE)) {
      needsFallback = true;
    }
    for (;;) {
      let nr = 1;
      let first = vmf.pgoff;
      if (!needsFallback && folio.nrPages > 1 && ruleMapsFolio(vmf)) {
        const range = folioRange(vmf, folio, idx);
        if (range !== null) {
          first = range.first;
          nr = range.nr;
        }
      }
      if (nr === 1) {
        // The faulting page: its address and PTE passed as the fault holds them (computing them
        // again would make two new heap numbers per fault).
        if (!pteRangeNone(k, vmf.ptep, 1)) return 0;
        setPteRange(vmf, folio, folio.firstPfn + idx, 1, vmf.address, vmf.ptep, 1);
        return 1;
      }
      const addr = vmf.address - (vmf.pgoff - first) * PAGE_SIZE;
      const ptep = vmf.ptep - (vmf.pgoff - first) * 8;
      if (!pteRangeNone(k, ptep, nr)) {
        // 6.11.0 returned VM_FAULT_NOPAGE here (the fault repeats); the Geffon fix retries with one PTE.
        if (!k.policy.finish_fault_range_fallback) return 0;
        needsFallback = true;
        continue;
      }
      setPteRange(vmf, folio, folio.firstPfn + (first - folio.index), nr, addr, ptep, nr);
      return nr;
    }
  } finally {
    calls.leave();
  }
}

/**
 * The folio's pages finish_fault maps: the whole folio if it lies inside the VMA and this PTE
 * table; for `folio_capped` (Ryan Roberts' proposal) the part inside the naturally aligned
 * fault-around window. Null: just the faulting page.
 */
function folioRange(vmf: VmFault, folio: Folio, idx: number): { first: number; nr: number } | null {
  const vma = vmf.vma;
  const vmaOff = vmf.pgoff - vma.pgoff;
  const pteOff = Math.floor(vmf.address / PAGE_SIZE) % PTRS_PER_PTE;
  let firstIdx = 0;
  let lastIdx = folio.nrPages - 1;
  if (vmf.k.policy.finish_fault === 'folio_capped') {
    const window = faultAroundPages(vmf.k.policy);
    const wStart = pteOff - (pteOff % window);
    firstIdx = Math.max(0, idx - (pteOff - wStart));
    lastIdx = Math.min(lastIdx, idx + (wStart + window - 1 - pteOff));
  }
  const nr = lastIdx - firstIdx + 1;
  const before = idx - firstIdx;
  if (vmaOff < before || vmaOff + (nr - before) > vma.pages) return null;
  if (pteOff < before || pteOff + (nr - before) > PTRS_PER_PTE) return null;
  return { first: vmf.pgoff - before, nr };
}
