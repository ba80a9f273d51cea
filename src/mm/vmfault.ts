/**
 * struct vm_fault and the helpers every fault path shares: the typed result of a fault attempt,
 * set_pte_range (mm/memory.c) which turns a run of a folio's pages into one set_ptes call, and
 * the small PTE predicates the paths re-check under the (modelled) page-table lock.
 */
import { PAGE_SIZE } from '../mmu/physmem.js';
import { pfnPteInto, pteMkdirty, pteMkold, pteMkwrite, pteNone, pteWrite, type Pgprot, type Pte } from '../pgtable/pte.js';
import { bump } from '../trace/stats.js';
import type { Folio } from './folio.js';
import type { MmKernel } from './kernel.js';
import type { Process } from './process.js';
import { vmaPageProt, vmaWantsWritenotify } from './prot.js';
import { VM_EXEC, VM_READ, VM_SHARED, VM_WRITE, type Vma } from './vma.js';

/** One attempt at handling a fault (handle_mm_fault's view of struct vm_fault). */
export interface VmFault {
  readonly k: MmKernel;
  readonly mm: Process;
  readonly vma: Vma;
  /** The faulting address rounded down to its page, and as the hardware reported it. */
  readonly address: number;
  readonly realAddress: number;
  /** The page's offset in the VMA's file (linear_page_index). */
  readonly pgoff: number;
  readonly write: boolean;
  readonly exec: boolean;
  /** FAULT_FLAG_TRIED: a retry after VM_FAULT_RETRY of a major fault. */
  readonly tried: boolean;
  /** The PTE's physical address (the PTE table exists: handle_mm_fault allocated it). */
  readonly ptep: number;
  /** The PTE when the fault started (ptep_get_lockless). */
  readonly origPte: Pte;
  /**
   * The folio ->fault already returned while the PMD was still none (the PMD attempt of
   * huge-memory.ts found it not PMD-mappable): __do_fault hands it back instead of faulting
   * again, and do_read_fault skips fault-around, which in the kernel came before it.
   */
  readonly prefetched: { readonly kind: 'locked'; readonly folio: Folio; readonly major: boolean } | undefined;
}

/** What one fault attempt came to. */
export type VmFaultResult =
  /** Mapped, or found mapped (VM_FAULT_NOPAGE): `path` names the handler. */
  | { readonly kind: 'done'; readonly path: string }
  /** VM_FAULT_RETRY: the lock was dropped for I/O; `major` if the page cache missed. */
  | { readonly kind: 'retry'; readonly major: boolean }
  /** VM_FAULT_SIGBUS / VM_FAULT_SIGSEGV. */
  | { readonly kind: 'error'; readonly signal: 'SIGBUS' | 'SIGSEGV'; readonly reason: string };

const doneResults = new Map<string, VmFaultResult>();
/** The last path asked for: a fault loop asks for the same one every time (no Map look-up then). */
let lastDonePath = '';
let lastDone: VmFaultResult | null = null;

/** The result of a resolved fault attempt (one shared object per path: results are never changed). */
export function DONE(path: string): VmFaultResult {
  if (path === lastDonePath && lastDone !== null) return lastDone;
  let r = doneResults.get(path);
  if (r === undefined) {
    r = Object.freeze({ kind: 'done', path });
    doneResults.set(path, r);
  }
  lastDonePath = path;
  lastDone = r;
  return r;
}

/** maybe_mkwrite: only a VM_WRITE mapping gets a writable PTE. */
export function maybeMkwrite(pte: Pte, vma: Vma): Pte {
  return vma.flags & VM_WRITE ? pteMkwrite(pte) : pte;
}

/** pte_range_none: every one of `nr` PTEs from ptep is none (raw reads: none entries have no CONT). */
export function pteRangeNone(k: MmKernel, ptep: number, nr: number): boolean {
  const raw = k.pgtable.raw;
  for (let i = 0; i < nr; i++) if (!pteNone(raw.__ptepGet(ptep + i * 8))) return false;
  return true;
}

/**
 * set_pte_range (mm/memory.c): map `nr` pages of `folio` from `pfn` at `addr` with one
 * set_ptes call. Pages the fault did not ask for are installed old when the hardware can set
 * the access flag (arch_wants_old_prefaulted_pte); a write installs them dirty and writable.
 * The caller has checked the PTEs are none; this adds the rmap and `refs` folio references.
 */
export function setPteRange(vmf: VmFault, folio: Folio, pfn: number, nr: number, addr: number, ptep: number, refs: number): void {
  const k = vmf.k;
  const prefault = !(vmf.realAddress >= addr && vmf.realAddress < addr + nr * PAGE_SIZE);
  const entry = faultEntry(pfn, setPteRangeProt(vmf, prefault && k.policy.hw_af, !vmf.write && k.policy.read_fault_mkdirty && folio.dirty));
  // A new anonymous folio (do_cow_fault's copy) gets folio_add_new_anon_rmap: exclusive pages.
  if (folio.anon && folio.mapcount === 0) k.memmap.setPageAnonExclusive(folio.firstPfn, folio.nrPages, true);
  k.memmap.folioAddRmapPtes(folio, pfn, nr, vmf.mm.mmId);
  if (refs > 0) k.memmap.folioRefAdd(folio, refs);
  k.pgtable.ptep.setPtes(vmf.mm, addr, ptep, entry, nr);
  k.mmStats.ptes_mapped += nr;
  bump(k.mmStats.set_ptes_by_nr, nrKey(nr));
}

/** The entry a fault hands to set_ptes, rewritten by each fault (set_ptes keeps nothing of it). */
const entryScratch = { lo: 0, hi: 0 };

/** pfn_pte for the entry a fault is about to pass to set_ptes: valid until the next fault's. */
export function faultEntry(pfn: number, prot: Pgprot): Pte {
  return pfnPteInto(pfn, prot, entryScratch);
}

/** The protections set_pte_range computes, by (vm_flags, write-notify, write, old, dirty read). */
const protMemo: (Pgprot | undefined)[] = new Array<Pgprot | undefined>(256).fill(undefined);

/** The PTE bits set_pte_range installs: vm_page_prot, made old, dirty and writable as the fault asks. */
function setPteRangeProt(vmf: VmFault, old: boolean, dirtyRead: boolean): Pgprot {
  const vma = vmf.vma;
  const wn = vmaWantsWritenotify(vma);
  const key = (vma.flags & (VM_READ | VM_WRITE | VM_EXEC | VM_SHARED)) | (wn ? 16 : 0) | (vmf.write ? 32 : 0) | (old ? 64 : 0) | (dirtyRead ? 128 : 0);
  const hit = protMemo[key];
  if (hit !== undefined) return hit;
  let entry = vmaPageProt(vma);
  if (old) entry = pteMkold(entry);
  if (vmf.write) entry = maybeMkwrite(pteMkdirty(entry), vma);
  else if (dirtyRead && pteWrite(entry)) entry = pteMkdirty(entry);
  protMemo[key] = entry;
  return entry;
}

const NR_KEYS: string[] = Array.from({ length: 513 }, (_, i) => String(i));

export function nrKey(nr: number): string {
  return NR_KEYS[nr] ?? String(nr);
}
