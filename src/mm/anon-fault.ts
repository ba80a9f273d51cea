/**
 * Anonymous private faults: do_anonymous_page and alloc_anon_folio (mm/memory.c, 6.12.117; 7.2
 * differs only in flag spelling and when zeroing is skipped, kernel-notes §5.1). A read maps the
 * shared zero page; a write allocates a zeroed folio of the largest enabled mTHP order that
 * fits, aligned, inside the VMA and whose PTEs are all none, and maps it with one set_ptes, so a
 * 64 KiB folio is contiguous from the start, with no fold and no TLBI.
 */
import { PAGE_SIZE } from '../mmu/physmem.js';
import { pfnPte, pteMkspecial, pteMkwriteDirty, type Pgprot } from '../pgtable/pte.js';
import { bump } from '../trace/stats.js';
import { ORDER_KEYS, outOfMemoryError } from './buddy.js';
import type { Folio } from './folio.js';
import { vmaPageProt } from './prot.js';
import { DONE, faultEntry, nrKey, pteRangeNone, type VmFault, type VmFaultResult } from './vmfault.js';
import { VM_NOHUGEPAGE, VM_WRITE, type Vma } from './vma.js';

/** Order 0 alone, shared: the answer for every fault without mTHP, allocated once. */
const ORDER_0_ONLY: readonly number[] = Object.freeze([0]);

/**
 * The orders alloc_anon_folio may try, highest first: enabled mTHP sizes whose naturally aligned
 * range lies inside the VMA, cut down to the highest whose PTEs are all none and every lower
 * one; order 0 always last.
 */
function anonOrders(vmf: VmFault): readonly number[] {
  const k = vmf.k;
  const vma = vmf.vma;
  if (k.policy.anon_mthp.length === 0 || vma.flags & VM_NOHUGEPAGE) return ORDER_0_ONLY;
  const pteIndex = Math.floor(vmf.address / PAGE_SIZE) % 512;
  const fits: number[] = [];
  for (const order of k.policy.anon_mthp) {
    const size = PAGE_SIZE * 2 ** order;
    const haddr = vmf.address - (vmf.address % size);
    if (haddr >= vma.start && haddr + size <= vma.end) fits.push(order);
  }
  fits.sort((a, b) => b - a);
  for (let i = 0; i < fits.length; i++) {
    const nr = 2 ** fits[i]!;
    const firstPtep = vmf.ptep - (pteIndex % nr) * 8;
    if (pteRangeNone(k, firstPtep, nr)) return [...fits.slice(i), 0];
  }
  return ORDER_0_ONLY;
}

/** pte_mkwrite(pte_mkdirty()) of vm_page_prot, by vm_page_prot (one of protection_map's few objects). */
const writeProts = new Map<Pgprot, Pgprot>();

/**
 * The protection bits of a new anonymous folio's entries: vm_page_prot, made writable and dirty
 * when the mapping allows writes. The pfn does not take part, so one value per protection serves
 * every fault.
 */
function anonWriteProt(vma: Vma): Pgprot {
  const prot = vmaPageProt(vma);
  if ((vma.flags & VM_WRITE) === 0) return prot;
  let w = writeProts.get(prot);
  if (w === undefined) {
    w = pteMkwriteDirty(prot);
    writeProts.set(prot, w);
  }
  return w;
}

export function doAnonymousPage(vmf: VmFault): VmFaultResult {
  const k = vmf.k;
  const vma = vmf.vma;
  const calls = k.telemetry.calls;
  calls.enter('do_anonymous_page');
  try {
    if (!vmf.write) {
      // The shared zero page: special (no folio, never folds), read-only whatever the VMA allows.
      const entry = pteMkspecial(pfnPte(k.zeroPfn, vmaPageProt(vma)));
      if (!pteRangeNone(k, vmf.ptep, 1)) return DONE('do_anonymous_page');
      k.pgtable.ptep.setPtes(vmf.mm, vmf.address, vmf.ptep, entry, 1);
      k.mmStats.zero_page_maps++;
      k.mmStats.ptes_mapped++;
      bump(k.mmStats.set_ptes_by_nr, nrKey(1));
      return DONE('do_anonymous_page');
    }
    const anonVma = vmf.mm.vmas.anonVmaPrepare(vma);
    let folio: Folio | null = null;
    const orders = anonOrders(vmf);
    for (let i = 0; i < orders.length && folio === null; i++) folio = k.memmap.tryFolioAlloc(orders[i]!);
    // Order 0, the last tried, failed too: nothing changed the pool since.
    if (folio === null) throw outOfMemoryError(k.memmap.buddy.oom(orders[orders.length - 1]!), `an anonymous folio at 0x${vmf.address.toString(16)}`);
    k.memmap.folioZero(folio);
    bump(k.mmStats.anon_folios_by_order, ORDER_KEYS[folio.order]!);
    const nr = folio.nrPages;
    const size = nr * PAGE_SIZE;
    // One page: its address and PTE passed on as the fault holds them (not made anew as numbers).
    const addr = nr === 1 ? vmf.address : vmf.address - (vmf.address % size);
    const ptep = nr === 1 ? vmf.ptep : vmf.ptep - ((vmf.address - addr) / PAGE_SIZE) * 8;
    const entry = faultEntry(folio.firstPfn, anonWriteProt(vma));
    if (!pteRangeNone(k, ptep, nr)) {
      k.memmap.folioPut(folio);
      return DONE('do_anonymous_page');
    }
    folio.owner = anonVma.owner;
    folio.index = vma.pgoffOf(addr);
    // One reference per PTE: the allocation's plus nr - 1.
    if (nr > 1) k.memmap.folioRefAdd(folio, nr - 1);
    // folio_add_new_anon_rmap: every page of a new anonymous folio is exclusive to this mm.
    k.memmap.folioAddRmapPtes(folio, folio.firstPfn, nr, vmf.mm.mmId);
    k.memmap.setPageAnonExclusive(folio.firstPfn, nr, true);
    k.pgtable.ptep.setPtes(vmf.mm, addr, ptep, entry, nr);
    k.mmStats.ptes_mapped += nr;
    bump(k.mmStats.set_ptes_by_nr, nrKey(nr));
    return DONE('do_anonymous_page');
  } finally {
    calls.leave();
  }
}
