/**
 * The kernel reaching into a process's memory by page, as get_user_pages does for
 * access_remote_vm (mm/gup.c and mm/memory.c, v6.12): /proc/<pid>/mem reads and writes, which
 * pass FOLL_FORCE. Nothing goes through the guest's MMU or TLB: the page tables are walked in
 * software (follow_page_pte) and the data copied through the kernel's linear map, so the target
 * need not be the process the CPU runs.
 *
 * - check_vma_flags decides what is allowed: FOLL_FORCE lets a write into a private mapping
 *   without VM_WRITE (if it may become writable, VM_MAYWRITE) and a read of one without VM_READ
 *   (if VM_MAYREAD); a forced write into a shared mapping is refused (EFAULT).
 * - follow_page_pte gives the page if the PTE allows the access; a write through a read-only
 *   PTE is allowed under FOLL_FORCE only once copy-on-write is broken (an exclusive anonymous
 *   page: can_follow_write_pte). Otherwise faultin_page runs handle_mm_fault with
 *   FAULT_FLAG_WRITE, whose do_wp_page copies (or reuses) the page and installs a PTE that is
 *   dirty but, through maybe_mkwrite, writable only if the VMA is; then the lookup is retried.
 * - FOLL_TOUCH marks the folio dirty on a write (set_page_dirty); the PTE is not touched.
 */
import { EFAULT } from './api.js';
import { PAGE_SIZE } from '../mmu/physmem.js';
import { ptePfn, ptePresent, pteSpecial, pteWrite } from '../pgtable/pte.js';
import { faultinPage } from './fault.js';
import { isCowMapping } from './fork.js';
import type { Process } from './process.js';
import { VM_IO, VM_MAYREAD, VM_MAYSHARE, VM_MAYWRITE, VM_PFNMAP, VM_READ, VM_SHARED, VM_WRITE, type Vma } from './vma.js';

/** gup_flags bits the model uses (include/linux/mm_types.h, v6.12). */
export const FOLL_WRITE = 0x01;
export const FOLL_FORCE = 0x10;

/** The page behind an address, or why there is none (-errno). */
export type GupPage = { ok: true; pa: number } | { ok: false; errno: number };

/** Lookups of one page before giving up: a fault that does not make the page followable is a model bug. */
const MAX_FAULTS = 3;

/** check_vma_flags: 0, or -EFAULT when this access may not reach the VMA at all. */
function checkVmaFlags(vma: Vma, gupFlags: number): number {
  const f = vma.flags;
  if (f & (VM_IO | VM_PFNMAP)) return -EFAULT;
  if (gupFlags & FOLL_WRITE) {
    if (!(f & VM_WRITE)) {
      if (!(gupFlags & FOLL_FORCE)) return -EFAULT;
      // A forced write must not reach a file through a shared mapping: it would break COW there.
      if (!isCowMapping(f)) return -EFAULT;
    }
  } else if (!(f & VM_READ)) {
    if (!(gupFlags & FOLL_FORCE)) return -EFAULT;
    if (!(f & VM_MAYREAD)) return -EFAULT;
  }
  return 0;
}

/**
 * can_follow_write_pte: may a write go to this PTE's page? A forced write into a read-only
 * private VMA goes only to an anonymous page this mm owns (COW broken). arm64 has no soft-dirty
 * tracking, and uffd-wp is not modelled.
 */
function canFollowWritePte(mm: Process, vma: Vma, writable: boolean, pfn: number, normalPage: boolean, gupFlags: number): boolean {
  if (writable) return true;
  if (!(gupFlags & FOLL_FORCE)) return false;
  if (vma.flags & (VM_MAYSHARE | VM_SHARED)) return false;
  if (!(vma.flags & VM_MAYWRITE)) return false;
  // A writable VMA takes an ordinary write fault instead.
  if (vma.flags & VM_WRITE) return false;
  if (!normalPage) return false;
  const folio = mm.kernel.memmap.folioOfPfn(pfn);
  return folio !== undefined && folio.anon && mm.kernel.memmap.pageAnonExclusive(pfn);
}

/** follow_page_pte: the page's PA if the PTE allows the access now, else null (fault it in). */
function followPagePte(mm: Process, vma: Vma, addr: number, gupFlags: number): number | null {
  const k = mm.kernel;
  const ptep = k.pgtable.tables.pteOffsetMap(mm, addr);
  if (ptep === undefined) return null;
  const pte = k.pgtable.ptep.ptepGet(ptep);
  // A PROT_NONE PTE is present: FOLL_FORCE may read it (gup_can_follow_protnone without NUMA hinting).
  if (!ptePresent(pte)) return null;
  const pfn = ptePfn(pte);
  const normal = !pteSpecial(pte);
  if (gupFlags & FOLL_WRITE && !canFollowWritePte(mm, vma, pteWrite(pte), pfn, normal, gupFlags)) return null;
  // FOLL_TOUCH: the page will be written, so its folio is dirty whatever the PTE says.
  if (gupFlags & FOLL_WRITE && normal) {
    const folio = k.memmap.folioOfPfn(pfn);
    if (folio !== undefined) folio.dirty = true;
  }
  return pfn * PAGE_SIZE;
}

/** get_user_pages_remote for one page (FOLL_REMOTE | FOLL_TOUCH implied). */
export function getUserPageRemote(mm: Process, addr: number, gupFlags: number): GupPage {
  // gup_vma_lookup: GUP never grows a stack.
  const vma = mm.vmas.vmaLookup(addr);
  if (vma === null) return { ok: false, errno: EFAULT };
  const bad = checkVmaFlags(vma, gupFlags);
  if (bad < 0) return { ok: false, errno: -bad };
  const page = addr - (addr % PAGE_SIZE);
  for (let n = 0; n <= MAX_FAULTS; n++) {
    const pa = followPagePte(mm, vma, page, gupFlags);
    if (pa !== null) return { ok: true, pa };
    if (n === MAX_FAULTS) break;
    const r = faultinPage(mm.kernel, mm, vma, addr, (gupFlags & FOLL_WRITE) !== 0);
    // vm_fault_to_errno: SIGSEGV and SIGBUS are EFAULT.
    if (r.kind === 'signal') return { ok: false, errno: EFAULT };
  }
  throw new Error(`model bug: get_user_pages at 0x${addr.toString(16)} (flags 0x${gupFlags.toString(16)}) still finds no page after ${MAX_FAULTS} faults`);
}

/**
 * __access_remote_vm: copy to or from `mm` a page at a time with `gupFlags`; stops at the first
 * page it cannot get. Returns the bytes read (`len` long at most), or for a write how many of
 * `data` were written.
 */
export function accessRemoteVm(mm: Process, addr: number, len: number, data: Uint8Array | null, gupFlags: number): { done: number; bytes: Uint8Array } {
  const mem = mm.kernel.mem;
  const write = (gupFlags & FOLL_WRITE) !== 0;
  const out = write ? new Uint8Array(0) : new Uint8Array(len);
  let done = 0;
  mm.kernel.telemetry.calls.within('access_remote_vm', () => {
    while (done < len) {
      const at = addr + done;
      const g = getUserPageRemote(mm, at, gupFlags);
      if (!g.ok) break;
      const off = at % PAGE_SIZE;
      const n = Math.min(len - done, PAGE_SIZE - off);
      if (write) mem.write(g.pa + off, data!.subarray(done, done + n));
      else out.set(mem.read(g.pa + off, n), done);
      done += n;
    }
  });
  return { done, bytes: write ? out : out.subarray(0, done) };
}
