/**
 * The page-table layer's switches. The memory manager's kernel profiles set them (knob names in
 * docs/design.md are in brackets).
 */

/**
 * Which kernel's `__flush_tlb_range` rules apply (arch/arm64/include/asm/tlbflush.h):
 * - `v6.1`: pre-LPA2 loop (SCALE counts up, odd page counts peel a single op first); give up to
 *   flush_tlb_mm when (no range ops and the range is >= MAX_TLBI_OPS strides) or pages >=
 *   MAX_TLBI_RANGE_PAGES.
 * - `v6.7`: the LPA2 rework (SCALE counts down from 3), NUM still masked to 5 bits.
 * - `v6.9`: Gavin Shan's operand fix (NUM = min(pages, RANGE_PAGES(31, scale)) >> ... - 1) and
 *   MAX_DVM_OPS; give up when pages > MAX_TLBI_RANGE_PAGES.
 */
export type FlushRangeRules = 'v6.1' | 'v6.7' | 'v6.9';

export const FLUSH_RANGE_RULES: readonly FlushRangeRules[] = ['v6.1', 'v6.7', 'v6.9'];

export interface PgtablePolicy {
  /** [contpte] CONFIG_ARM64_CONTPTE: the public API manages the contiguous bit. */
  contpte: boolean;
  /** [contpte_fold] automatic folding in set_ptes(nr == 1) (patch 18/18 of the v6.9 series). */
  contpteFold: boolean;
  /** [tlbi_range] FEAT_TLBIRANGE: range TLBIs. */
  tlbiRange: boolean;
  /** [tlbi_ttl] FEAT_TTL: level hints in by-VA TLBI operands. */
  tlbiTtl: boolean;
  /** [kpti] the kernel is unmapped at EL0: every user TLBI is issued again for the user ASID. */
  kpti: boolean;
  /** [bbml2_noabort] contpte_convert skips its TLBI (v6.16+ on allow-listed CPUs). */
  bbml2Noabort: boolean;
  /** The version of the `__flush_tlb_range` rules. */
  flushRangeRules: FlushRangeRules;
  /**
   * [lpa2] 52-bit addressing with LPA2 (TCR_EL1.DS = 1): range operands count BaseADDR in 64 KiB
   * units, so a range that starts off a 64 KiB boundary is flushed by single ops until it is
   * aligned (tlbflush.h, v6.7+).
   */
  lpa2: boolean;
  /**
   * [access_flags_rawcmp] contpte_ptep_set_access_flags decides "nothing to do" by comparing the
   * access bits of every raw sub-PTE with the entry, and the write change on the raw target PTE
   * (contpte_all_subptes_match_access_flags: Debian 6.12.117 and 7.x; kernel-notes §8.5).
   */
  accessFlagsRawCompare: boolean;
  /**
   * [set_access_flags_local_flush] the dirty flush of ptep_set_access_flags is local to this CPU
   * (TLBF_NOBROADCAST: DSB NSHST, VALE1/RVALE1, DSB NSH), as in 7.x (kernel-notes §8.5).
   */
  accessFlagsLocalFlush: boolean;
  /** [flush_tlb_page_ttl] flush_tlb_page goes through the range code with a level-3 hint (7.x). */
  flushTlbPageTtl: boolean;
  /** [spurious_fault_flush] flush_tlb_fix_spurious_fault flushes the page locally (7.x; 6.x: no-op). */
  spuriousFaultFlush: boolean;
}

export const DEFAULT_PGTABLE_POLICY: Readonly<PgtablePolicy> = Object.freeze({
  contpte: true,
  contpteFold: true,
  tlbiRange: true,
  tlbiTtl: true,
  kpti: false,
  bbml2Noabort: false,
  flushRangeRules: 'v6.9',
  lpa2: false,
  accessFlagsRawCompare: false,
  accessFlagsLocalFlush: false,
  flushTlbPageTtl: false,
  spuriousFaultFlush: false,
});

/** The process an operation is for: `struct mm_struct` as far as this layer needs it. */
export interface MmContext {
  /** The ASID the kernel allocated (even under KPTI; the user half is asid | 1). */
  readonly asid: number;
  /** False for init_mm and the EFI mm: no contpte for kernel mappings. */
  readonly isUser: boolean;
  /** Physical address of the level-0 table. */
  readonly pgd: number;
  /**
   * mm->tlb_flush_pending: mmu_gathers in progress on this mm (tlb_gather_mmu raises it,
   * tlb_finish_mmu lowers it). While it is non-zero a PTE cleared elsewhere may still sit in a
   * TLB, so pte_accessible counts every present entry. Absent means zero.
   */
  tlbFlushPending?: number;
}

/** mm_tlb_flush_pending (include/linux/mm_types.h). */
export function mmTlbFlushPending(mm: MmContext): boolean {
  return (mm.tlbFlushPending ?? 0) > 0;
}

/** Which folio a page belongs to: the one question the contpte fold asks of the memory manager. */
export interface FolioLookup {
  folioOfPfn(pfn: number): { readonly firstPfn: number; readonly nrPages: number } | undefined;
}
