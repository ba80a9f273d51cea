/**
 * Write faults on present read-only PTEs: do_wp_page (mm/memory.c, 6.9, 6.12.117 and 7.2.13;
 * kernel-notes §4.3). A shared mapping reuses the page (after ->page_mkwrite for ext4) by making
 * the PTE writable and dirty through ptep_set_access_flags, which unfolds a contiguous block
 * because the write permission changes. A private mapping reuses an anonymous page this mm owns
 * (PageAnonExclusive, or wp_can_reuse_anon_folio) the same way, and copies anything else (file
 * pages, the zero page, anonymous pages fork shared) to a new order-0 anonymous page:
 * ptep_clear_flush (unfolding a contiguous block, then one page flush) and set_pte_at.
 *
 * wp_can_reuse_anon_folio by version (knob wp_reuse_large_anon):
 * - 6.9, 6.12: a large folio is never reused; a small one only when the mapping's reference is
 *   the only one (folio_ref_count == 1). After fork, every page of a large folio is copied on
 *   write, in the parent too, even once the child is gone.
 * - 7.x (__wp_can_reuse_large_anon_folio, CONFIG_MM_ID): a large folio is reused when more
 *   than one of its pages is mapped, it is not "maybe mapped shared" (its mappings are all in one
 *   mm's slot), and every reference is a mapping (large mapcount == refcount).
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
      const pfn = ptePfn(orig);
      if (k.memmap.pageAnonExclusive(pfn) || wpCanReuseAnonFolio(vmf, folio)) {
        k.memmap.setPageAnonExclusive(pfn, 1, true);
        wpPageReuse(vmf);
        return DONE('do_wp_page');
      }
    }
    wpPageCopy(vmf, folio);
    return DONE('do_wp_page');
  } finally {
    calls.leave();
  }
}

/** wp_can_reuse_anon_folio: may this mm take a page it does not own exclusively? */
function wpCanReuseAnonFolio(vmf: VmFault, folio: Folio): boolean {
  if (folio.nrPages > 1) {
    if (!vmf.k.policy.wp_reuse_large_anon) return false;
    // __wp_can_reuse_large_anon_folio: a folio with one page left mapped is let go instead.
    if (folio.mapcount <= 1) return false;
    if (folio.maybeMappedShared) return false;
    return folio.mapcount === folio.refcount;
  }
  return folio.refcount === 1;
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
      mem.copyPage(folio.pa, ptePfn(vmf.origPte) * PAGE_SIZE);
    }
    folio.owner = anonVma.owner;
    folio.index = vmf.vma.pgoffOf(vmf.address);
    folio.uptodate = true;
    k.pgtable.ptep.ptepClearFlush(vmf.mm, vmf.address, vmf.ptep);
    const entry = maybeMkwrite(pteMkdirty(pfnPte(folio.firstPfn, vmaPageProt(vmf.vma))), vmf.vma);
    // folio_add_new_anon_rmap(RMAP_EXCLUSIVE)
    k.memmap.folioAddRmapPtes(folio, folio.firstPfn, 1, vmf.mm.mmId);
    k.memmap.setPageAnonExclusive(folio.firstPfn, 1, true);
    k.pgtable.ptep.setPteAt(vmf.mm, vmf.address, vmf.ptep, entry);
    if (old !== null) {
      k.memmap.folioRemoveRmapPtes(old, ptePfn(vmf.origPte), 1, vmf.mm.mmId);
      k.memmap.folioPut(old);
    }
    k.mmStats.cow_copies++;
  });
}
