/**
 * The page-fault entry: arm64 do_page_fault (arch/arm64/mm/fault.c) and handle_mm_fault /
 * handle_pte_fault (mm/memory.c), v6.9 to 7.2 (the shape did not change).
 *
 * - The VMA check decides SIGSEGV: no VMA at the address (SEGV_MAPERR), or an access the VMA
 *   does not allow (SEGV_ACCERR): a write needs VM_WRITE, an instruction fetch VM_EXEC, a read
 *   any of VM_READ, VM_WRITE or VM_EXEC (arm64 without EPAN: write and exec imply read).
 * - One guest abort may take several handle_mm_fault passes: a pass that started readahead
 *   returns VM_FAULT_RETRY, and do_page_fault retries at once, with FAULT_FLAG_TRIED after a
 *   major fault or a second retry. Those extra passes are counted as `fault.fault_retries`, not
 *   as faults (kernel-notes §1.1).
 * - handle_pte_fault: a none PTE goes to do_anonymous_page or do_fault; a present one is a
 *   write-protect fault (do_wp_page), or an access-flag/dirty update through
 *   ptep_set_access_flags, or spurious (flush_tlb_fix_spurious_fault, a no-op in 6.x).
 */
import type { FaultOutcome } from './api.js';
import type { Access, FaultKind } from '../trace/events.js';
import { bump } from '../trace/stats.js';
import { PAGE_SIZE } from '../mmu/physmem.js';
import { pteMkdirty, pteMkyoung, pteNone, pteWrite } from '../pgtable/pte.js';
import { LabError } from '../util/errors.js';
import { ADDRESS_UNSET } from '../util/u64.js';
import { PMD_SIZE, PTE_NONE } from '../pgtable/pte.js';
import { pmdTransHuge } from '../pgtable/pmd.js';
import { doAnonymousPage } from './anon-fault.js';
import { doHugePmdAnonymousPage, filePmdFault, hugePmdSetAccessed, pmdFaultAllowed, wpHugePmd, type FilePmdResult, type HugeFault } from './huge-memory.js';
import { doFault } from './file-fault.js';
import type { MmKernel } from './kernel.js';
import type { Process } from './process.js';
import { DONE, type VmFault, type VmFaultResult } from './vmfault.js';
import { VM_EXEC, VM_READ, VM_WRITE, type Vma } from './vma.js';
import { doWpPage } from './wp.js';

/** handle_mm_fault passes one abort may take before the model calls it a livelock. */
const MAX_PASSES = 4;

function signal(k: MmKernel, sig: 'SIGSEGV' | 'SIGBUS', code: 'SEGV_MAPERR' | 'SEGV_ACCERR' | 'BUS_ADRERR' | 'BUS_ADRALN', reason: string, delivered = true): FaultOutcome {
  // A fault get_user_pages takes ends in -EFAULT for its caller, not in a signal.
  if (delivered) bump(k.faultStats.signals, `${sig}/${code}`);
  bump(k.faultStats.by_path, sig);
  return { kind: 'signal', signal: sig, code, reason };
}

const handledOutcomes = new Map<string, FaultOutcome>();
/** The last path asked for: consecutive faults nearly always take the same one (no Map look-up then). */
let lastHandledPath = '';
let lastHandled: FaultOutcome | null = null;

/** A handled outcome (one shared, frozen object per path). */
function handled(path: string): FaultOutcome {
  if (path === lastHandledPath && lastHandled !== null) return lastHandled;
  let o = handledOutcomes.get(path);
  if (o === undefined) {
    o = Object.freeze({ kind: 'handled', path });
    handledOutcomes.set(path, o);
  }
  lastHandledPath = path;
  lastHandled = o;
  return o;
}

/** The vm_flags an access needs, any one of them (arm64 do_page_fault, no EPAN). */
function requiredFlags(access: Access): number {
  switch (access) {
    case 'exec':
      return VM_EXEC;
    case 'write':
      return VM_WRITE;
    case 'read':
      return VM_READ | VM_WRITE | VM_EXEC;
    default: {
      const never: never = access;
      throw new Error(`unknown access ${String(never)}`);
    }
  }
}

/** do_page_fault for an EL0 access (or a uaccess on its behalf) that the hardware model refused. */
export function doPageFault(k: MmKernel, mm: Process, va: number, access: Access, kind: FaultKind): FaultOutcome {
  const stats = k.faultStats;
  stats.total++;
  bump(stats.by_hw_kind, kind);
  if (kind === 'alignment') return signal(k, 'SIGBUS', 'BUS_ADRALN', `unaligned ${access} at 0x${va.toString(16)}`);
  if (kind === 'address_size') {
    // Only a descriptor with an output address beyond the PA size can cause it: a model bug.
    throw new Error(`address size fault at 0x${va.toString(16)}: the page tables hold an output address beyond the physical address size`);
  }
  const calls = k.telemetry.calls;
  calls.enter('do_page_fault');
  try {
    const vma = mm.findVmaForFault(va);
    if (vma === null) return signal(k, 'SIGSEGV', 'SEGV_MAPERR', `no mapping at 0x${va.toString(16)}`);
    if ((vma.flags & requiredFlags(access)) === 0) {
      return signal(k, 'SIGSEGV', 'SEGV_ACCERR', `${access} at 0x${va.toString(16)} is not allowed by the mapping [0x${vma.start.toString(16)}, 0x${vma.end.toString(16)})`);
    }
    return faultLoop(k, mm, vma, va, access, false);
  } finally {
    calls.leave();
  }
}

/**
 * A fault get_user_pages takes for a kernel access to user memory (faultin_page, mm/gup.c
 * v6.12): handle_mm_fault without the architecture's VMA permission check, which GUP has made
 * (check_vma_flags, where FOLL_FORCE lets a write into a read-only private mapping). It counts as
 * a fault (PGFAULT and the task's min_flt do; perf's page-fault event does not) and in `gup`.
 */
export function faultinPage(k: MmKernel, mm: Process, vma: Vma, va: number, write: boolean): FaultOutcome {
  const stats = k.faultStats;
  stats.total++;
  stats.gup++;
  const calls = k.telemetry.calls;
  calls.enter('faultin_page');
  try {
    return faultLoop(k, mm, vma, va, write ? 'write' : 'read', true);
  } finally {
    calls.leave();
  }
}

/** handle_mm_fault until it stops asking for a retry. */
function faultLoop(k: MmKernel, mm: Process, vma: Vma, va: number, access: Access, gup: boolean): FaultOutcome {
  const stats = k.faultStats;
  let tried = false;
  for (let pass = 1; pass <= MAX_PASSES; pass++) {
    const r = handleMmFault(k, mm, vma, va, access, tried);
    switch (r.kind) {
      case 'done':
        bump(stats.by_path, r.path);
        return handled(r.path);
      case 'retry':
        stats.fault_retries++;
        // The first pass runs under the per-VMA lock: only a major fault retries with TRIED;
        // later passes (under mmap_lock) always do.
        tried = pass === 1 ? tried || r.major : true;
        break;
      case 'error':
        return r.signal === 'SIGBUS'
          ? signal(k, 'SIGBUS', 'BUS_ADRERR', r.reason, !gup)
          : signal(k, 'SIGSEGV', 'SEGV_ACCERR', r.reason, !gup);
      default: {
        const never: never = r;
        throw new Error(`unexpected ${String(never)}`);
      }
    }
  }
  throw new LabError(`model bug: the fault at 0x${va.toString(16)} (${access}) was retried ${MAX_PASSES} times without being resolved`);
}

/**
 * handle_mm_fault: page tables down to the PMD; a none PMD may become a huge one
 * (create_huge_pmd), a huge PMD is handled at its level (huge-memory.ts); otherwise the PTE
 * table, then handle_pte_fault.
 */
export function handleMmFault(k: MmKernel, mm: Process, vma: Vma, va: number, access: Access, tried: boolean): VmFaultResult {
  const calls = k.telemetry.calls;
  calls.enter('handle_mm_fault');
  try {
    const address = va - (va % PAGE_SIZE);
    // A PTE table found under this PMD before is still there (tables go only in free_pgtables).
    let prefetched: VmFault['prefetched'];
    const cached = mm.cachedPtep(address);
    if (cached < 0) {
      const r = handlePmdLevel(k, mm, vma, va, address, access, tried);
      if (r !== null && r.kind === 'prefetched') prefetched = { kind: 'locked', folio: r.folio, major: r.major };
      else if (r !== null) return r;
    }
    const ptep = cached >= 0 ? cached : mm.pteAlloc(address);
    const nested = vmfInUse;
    const vmf = nested ? newVmFault() : vmfScratch;
    vmf.prefetched = prefetched;
    vmf.k = k;
    vmf.mm = mm;
    vmf.vma = vma;
    vmf.address = address;
    vmf.realAddress = va;
    vmf.pgoff = vma.pgoffOf(address);
    vmf.write = access === 'write';
    vmf.exec = access === 'exec';
    vmf.tried = tried;
    vmf.ptep = ptep;
    vmf.origPte = k.pgtable.ptep.ptepGetLockless(ptep);
    vmfInUse = true;
    try {
      return handlePteFault(vmf);
    } finally {
      vmfInUse = nested;
      // The record outlives the fault: it must not keep a finished machine reachable.
      if (!nested) clearVmFault(vmf);
    }
  } finally {
    calls.leave();
  }
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** A vm_fault with every field present (one shape), to be filled in. */
function newVmFault(): Writable<VmFault> {
  // The addresses are read and passed on by every fault path: see ADDRESS_UNSET.
  return {
    prefetched: undefined, k: null as unknown as MmKernel, mm: null as unknown as Process, vma: null as unknown as Vma,
    address: ADDRESS_UNSET, realAddress: ADDRESS_UNSET, pgoff: Number.NaN, write: false, exec: false, tried: false, ptep: ADDRESS_UNSET, origPte: PTE_NONE,
  };
}

/** Drops the record's references to the kernel's objects (the numbers may stay). */
function clearVmFault(vmf: Writable<VmFault>): void {
  vmf.prefetched = undefined;
  vmf.k = null as unknown as MmKernel;
  vmf.mm = null as unknown as Process;
  vmf.vma = null as unknown as Vma;
  vmf.origPte = PTE_NONE;
}

/**
 * The vm_fault of the PTE-level pass in progress, rewritten by each pass: the fault paths read
 * it and keep nothing of it, as the kernel's lives on the stack of handle_mm_fault. A pass that
 * started inside another (none does today) gets its own.
 */
const vmfScratch = newVmFault();
let vmfInUse = false;

/**
 * The PMD half of __handle_mm_fault: a result, or null to carry on at the PTE level
 * (VM_FAULT_FALLBACK), possibly with the folio a file's ->fault already returned.
 */
function handlePmdLevel(k: MmKernel, mm: Process, vma: Vma, va: number, address: number, access: Access, tried: boolean): FilePmdResult {
  const pmdp = mm.pmdAlloc(address);
  const origPmd = k.pgtable.pmd.pmdpGet(pmdp);
  const write = access === 'write';
  const f: HugeFault = { k, mm, vma, address, haddr: address - (address % PMD_SIZE), write, pmdp, origPmd };
  if (pteNone(origPmd)) return noneLevel(f, va, access, tried);
  if (!pmdTransHuge(origPmd)) return null;
  if (!(write && !pteWrite(origPmd))) return hugePmdSetAccessed(f);
  const r = wpHugePmd(f);
  if (r !== null || vma.isAnonymous) return r;
  // A file PMD was split by clearing it: the fault goes on with a none PMD.
  return noneLevel({ ...f, origPmd: PTE_NONE }, va, access, tried);
}

/** create_huge_pmd for anonymous memory, or the file's do_set_pmd attempts. */
function noneLevel(f: HugeFault, va: number, access: Access, tried: boolean): FilePmdResult {
  if (f.vma.isAnonymous) return pmdFaultAllowed(f.k, f.mm, f.vma) ? doHugePmdAnonymousPage(f) : null;
  if (f.vma.file === null) return null;
  // A VmFault for the file paths, without a PTE: nothing on this path reads ptep.
  const vmf: VmFault = { prefetched: undefined, k: f.k, mm: f.mm, vma: f.vma, address: f.address, realAddress: va, pgoff: f.vma.pgoffOf(f.address), write: f.write, exec: access === 'exec', tried, ptep: Number.NaN, origPte: PTE_NONE };
  return filePmdFault(f, vmf);
}

function handlePteFault(vmf: VmFault): VmFaultResult {
  const k = vmf.k;
  if (pteNone(vmf.origPte)) return vmf.vma.isAnonymous ? doAnonymousPage(vmf) : doFault(vmf);
  if (vmf.write && !pteWrite(vmf.origPte)) return doWpPage(vmf);
  const calls = k.telemetry.calls;
  calls.enter('handle_pte_fault');
  try {
    let entry = vmf.origPte;
    if (vmf.write) entry = pteMkdirty(entry);
    entry = pteMkyoung(entry);
    if (k.pgtable.ptep.ptepSetAccessFlags(vmf.mm, vmf.address, vmf.ptep, entry, vmf.write)) return DONE('handle_pte_fault');
    // Nothing to change: the TLB held a stale entry. The flush decision is the fault's, not the
    // PTE's: a write fault that is not a retry (handle_pte_fault, 6.9 to 7.2).
    if (!vmf.tried && vmf.write) k.pgtable.flush.flushTlbFixSpuriousFault(vmf.mm, vmf.address);
    return DONE('spurious');
  } finally {
    calls.leave();
  }
}
