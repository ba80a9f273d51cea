/**
 * Write faults on present read-only PTEs: do_wp_page (mm/memory.c, 6.12.117; kernel-notes §4.3).
 * A shared mapping reuses the page (after ->page_mkwrite for ext4) by making the PTE writable
 * and dirty through ptep_set_access_flags, which unfolds a contiguous block because the write
 * permission changes. A private mapping reuses an exclusive anonymous page the same way, and
 * copies anything else (file pages, the zero page) to a new anonymous page: ptep_clear_flush
 * (one page flush) and set_pte_at.
 *
 * The model has no fork, so every anonymous page is exclusive to its process (PageAnonExclusive):
 * the 6.12 refusal to reuse large non-exclusive folios never comes up.
 */
import { PAGE_SIZE } from '../mmu/physmem.js';
import { pfnPte, pteMkdirty, pteMkyoung, ptePfn, pteSpecial } from '../pgtable/pte.js';
import { outOfMemoryError } from './buddy.js';
import type { Folio } from './folio.js';
import { doPageMkwrite } from './file-fault.js';
import { hasPageMkwrite, vmaIsShared, vmaPageProt } from './prot.js';
import { DONE, maybeMkwrite, type VmFault, type VmFaultResult } from './vmfault.js';

export function doWpPage(vmf: VmFault): VmFaultResult {
  const k = vmf.k;
  const calls = k.telemetry.calls;
  calls.enter('do_wp_page');
  try {
    const orig = vmf.origPte;
    // vm_normal_page: no page behind special entries (the zero page).
    const folio = pteSpecial(orig) ? null : (k.memmap.folioOfPfn(ptePfn(orig)) ?? null);
    if (vmaIsShared(vmf.vma)) {
      calls.within('wp_page_shared', () => {
        if (folio !== null && hasPageMkwrite(vmf.vma.file)) doPageMkwrite(vmf, folio);
        wpPageReuse(vmf);
        // fault_dirty_shared_page
        if (folio !== null) folio.dirty = true;
      });
      return DONE('do_wp_page');
    }
    if (folio !== null && folio.anon) {
      wpPageReuse(vmf);
      return DONE('do_wp_page');
    }
    wpPageCopy(vmf, folio);
    return DONE('do_wp_page');
  } finally {
    calls.leave();
  }
}

/** wp_page_reuse: the same page, now young, dirty and writable. */
function wpPageReuse(vmf: VmFault): void {
  const k = vmf.k;
  k.telemetry.calls.within('wp_page_reuse', () => {
    const entry = maybeMkwrite(pteMkdirty(pteMkyoung(vmf.origPte)), vmf.vma);
    k.pgtable.ptep.ptepSetAccessFlags(vmf.mm, vmf.address, vmf.ptep, entry, true);
    k.mmStats.wp_reuses++;
  });
}

/** wp_page_copy: a new anonymous page with the old contents (zeros for the zero page). */
function wpPageCopy(vmf: VmFault, old: Folio | null): void {
  const k = vmf.k;
  const calls = k.telemetry.calls;
  calls.within('wp_page_copy', () => {
    const anonVma = vmf.mm.vmas.anonVmaPrepare(vmf.vma);
    const r = k.memmap.folioAlloc(0);
    if (r.kind !== 'ok') throw outOfMemoryError(r, `a copy-on-write page at 0x${vmf.address.toString(16)}`);
    const folio = r.folio;
    const mem = k.memmap.mem;
    if (old === null) {
      k.memmap.folioZero(folio);
    } else {
      const src = mem.offset(ptePfn(vmf.origPte) * PAGE_SIZE, PAGE_SIZE);
      mem.u8.copyWithin(mem.offset(folio.pa, PAGE_SIZE), src, src + PAGE_SIZE);
    }
    folio.owner = anonVma.owner;
    folio.index = vmf.vma.pgoffOf(vmf.address);
    folio.uptodate = true;
    k.pgtable.ptep.ptepClearFlush(vmf.mm, vmf.address, vmf.ptep);
    const entry = maybeMkwrite(pteMkdirty(pfnPte(folio.firstPfn, vmaPageProt(vmf.vma))), vmf.vma);
    k.memmap.folioAddRmapPtes(folio, folio.firstPfn, 1);
    k.pgtable.ptep.setPteAt(vmf.mm, vmf.address, vmf.ptep, entry);
    if (old !== null) {
      k.memmap.folioRemoveRmapPtes(old, ptePfn(vmf.origPte), 1);
      k.memmap.folioPut(old);
    }
    k.mmStats.cow_copies++;
  });
}
