/**
 * The arm64 TLB-flush helpers (arch/arm64/include/asm/tlbflush.h): kernel intent (flush this
 * page, this range, this mm) turned into TLBI instructions and DSBs on the mmu model.
 *
 * Every helper enters a call-stack frame with its kernel name; they are declared "helpers" so a
 * TLBI is charged to the kernel function that asked for the flush (contpte_convert,
 * zap_pte_range, ...), with the whole chain kept for traces.
 */
import { POW2, TLBI_RANGE_MAX_PAGES, tlbiRangeOperand, tlbiRangePages, tlbiVaOperand, ttl4k, type Mmu, type TlbiOp } from '../mmu/index.js';
import type { CallStack } from '../trace/calls.js';
import type { U64 } from '../util/u64.js';
import { PAGE_SIZE, PTRS_PER_PTE } from './pte.js';
import type { FlushRangeRules, MmContext, PgtablePolicy } from './policy.js';

/** MAX_TLBI_OPS / MAX_DVM_OPS: beyond this many strides without range ops, flush the whole ASID. */
export const MAX_DVM_OPS = PTRS_PER_PTE;
/** With LPA2, range operands address memory in 64 KiB units. */
const LPA2_RANGE_UNIT = 0x10000;
/** TLBI_TTL_TG_4K: the translation-granule code for 4 KiB pages in TTL and range operands. */
const TG_4K = 1;

/** MAX_TLBI_RANGE_PAGES = __TLBI_RANGE_PAGES(31, 3): 2,097,152 pages, 8 GiB at 4 KiB. */
export const MAX_TLBI_RANGE_PAGES = TLBI_RANGE_MAX_PAGES;

/** __TLBI_RANGE_NUM: the NUM field for `pages` at `scale`, or -1 if this scale cannot be used. */
export function tlbiRangeNum(pages: number, scale: number, rules: FlushRangeRules): number {
  // The unit is 2^(5*SCALE+1) pages (a table lookup: this runs for every scale of every flush).
  const unit = POW2[5 * scale + 1]!;
  if (rules === 'v6.9') {
    // After "arm64: tlb: Fix TLBI RANGE operand" (v6.9): clamp, so NUM may be 31.
    return Math.floor(Math.min(pages, tlbiRangePages(scale, 31)) / unit) - 1;
  }
  // Before it, NUM was masked to five bits, so a count of exactly 32 units yielded -1.
  return (Math.floor(pages / unit) & 31) - 1;
}

/** Whether `__flush_tlb_range` gives up and invalidates the whole ASID instead. */
export function flushRangeGivesUp(start: number, end: number, stride: number, policy: PgtablePolicy): boolean {
  const pages = (end - start) / PAGE_SIZE;
  const tooManyOps = !policy.tlbiRange && end - start >= MAX_DVM_OPS * stride;
  if (policy.flushRangeRules === 'v6.9') return tooManyOps || pages > MAX_TLBI_RANGE_PAGES;
  return tooManyOps || pages >= MAX_TLBI_RANGE_PAGES;
}

/** One planned TLBI: what `__flush_tlb_range_op` would issue (before the KPTI duplicate). */
export interface PlannedTlbi {
  op: TlbiOp;
  operand: U64;
}

/**
 * The operations `__flush_tlb_range_op` issues for [start, start + pages pages), as a pure
 * computation (the tables in the tests are checked against this and against the TLB effects).
 */
export function planFlushRangeOps(
  start: number,
  pages: number,
  stride: number,
  asid: number,
  lastLevel: boolean,
  tlbLevel: number,
  policy: PgtablePolicy,
  broadcast = true,
): PlannedTlbi[] {
  const single: TlbiOp = lastLevel ? (broadcast ? 'VALE1IS' : 'VALE1') : broadcast ? 'VAE1IS' : 'VAE1';
  const range: TlbiOp = lastLevel ? (broadcast ? 'RVALE1IS' : 'RVALE1') : broadcast ? 'RVAE1IS' : 'RVAE1';
  const out: PlannedTlbi[] = [];
  let addr = start;
  let left = pages;
  const strideShiftPages = stride / PAGE_SIZE;
  if (policy.flushRangeRules === 'v6.1') {
    // Pre-LPA2: SCALE counts up; an odd count first takes a single op.
    let scale = 0;
    while (left > 0) {
      if (!policy.tlbiRange || left % 2 === 1) {
        out.push({ op: single, operand: vaOperand(addr, asid, tlbLevel, policy) });
        addr += stride;
        left -= strideShiftPages;
        continue;
      }
      const num = tlbiRangeNum(left, scale, policy.flushRangeRules);
      if (num >= 0) {
        out.push({ op: range, operand: rangeOperand(addr, num, scale, asid, tlbLevel, policy) });
        const covered = tlbiRangePages(scale, num);
        addr += covered * PAGE_SIZE;
        left -= covered;
      }
      scale++;
      if (scale > 3 && left > 0 && left % 2 === 0) {
        throw new Error(`__flush_tlb_range_op (v6.1 rules) cannot cover ${left} pages: caller must give up first`);
      }
    }
    return out;
  }
  // v6.7+: SCALE counts down from 3; one page left (or no range support, or an LPA2 start off
  // a 64 KiB boundary) takes a single op.
  let scale = 3;
  while (left > 0) {
    // (A mask tests the low bits of any address below 2^53, without a floating-point remainder.)
    if (!policy.tlbiRange || left === 1 || (policy.lpa2 && (addr & (LPA2_RANGE_UNIT - 1)) !== 0)) {
      out.push({ op: single, operand: vaOperand(addr, asid, tlbLevel, policy) });
      addr += stride;
      left -= strideShiftPages;
      continue;
    }
    if (scale < 0) {
      // Only reachable with the v6.7 masking bug and a count the caller should have refused.
      throw new Error(`__flush_tlb_range_op (${policy.flushRangeRules} rules) left ${left} pages uncovered`);
    }
    const num = tlbiRangeNum(left, scale, policy.flushRangeRules);
    if (num >= 0) {
      out.push({ op: range, operand: rangeOperand(addr, num, scale, asid, tlbLevel, policy) });
      const covered = tlbiRangePages(scale, num);
      addr += covered * PAGE_SIZE;
      left -= covered;
    }
    scale--;
  }
  return out;
}

/** __TLBI_VADDR_RANGE for the 4 KiB granule. */
function rangeOperand(va: number, num: number, scale: number, asid: number, tlbLevel: number, policy: PgtablePolicy): U64 {
  return tlbiRangeOperand({
    asid,
    tg: TG_4K,
    scale,
    num,
    // The range operand's TTL field holds only a level (1..3); 0 means no hint.
    ttl: tlbLevel >= 1 && tlbLevel <= 3 ? tlbLevel : 0,
    baseAddr: Math.floor(va / (policy.lpa2 && policy.flushRangeRules !== 'v6.1' ? LPA2_RANGE_UNIT : PAGE_SIZE)),
  });
}

/**
 * __TLBI_VADDR plus __tlbi_level: the level hint goes into TTL only with FEAT_TTL and a known
 * (non-zero) level.
 */
function vaOperand(va: number, asid: number, level: number, policy: PgtablePolicy): U64 {
  const ttl = policy.tlbiTtl ? ttl4k(level & 3) : 0;
  return tlbiVaOperand({ asid, va, ttl });
}

/** USER_ASID_FLAG: bit 48 of the operand, i.e. ASID bit 0 selects the user half under KPTI. */
function userOperand(operand: U64): U64 {
  return { lo: operand.lo, hi: (operand.hi | 0x10000) >>> 0 };
}

export const FLUSH_HELPER_FRAMES = [
  'flush_tlb_mm',
  'flush_tlb_fix_spurious_fault',
  'flush_tlb_page',
  'flush_tlb_page_nosync',
  'flush_tlb_range',
  '__flush_tlb_range',
  '__flush_tlb_range_nosync',
  'tlb_flush',
  'tlb_flush_mmu',
  'tlb_flush_mmu_tlbonly',
] as const;

export class TlbFlush {
  constructor(
    private readonly mmu: Mmu,
    private readonly policy: PgtablePolicy,
    private readonly calls: CallStack,
  ) {
    calls.markHelpers(...FLUSH_HELPER_FRAMES);
  }

  /** __tlbi then __tlbi_user: the second copy for the user ASID only under KPTI. */
  private tlbiWithUser(op: TlbiOp, operand: U64): void {
    this.mmu.tlbi(op, operand);
    if (this.policy.kpti) this.mmu.tlbi(op, userOperand(operand));
  }

  flushTlbMm(mm: MmContext, broadcast = true): void {
    this.calls.enter('flush_tlb_mm');
    try {
      this.mmu.dsb(broadcast ? 'ishst' : 'nshst');
      this.tlbiWithUser(broadcast ? 'ASIDE1IS' : 'ASIDE1', tlbiVaOperand({ asid: mm.asid, va: 0, ttl: 0 }));
      this.mmu.dsb(broadcast ? 'ish' : 'nsh');
    } finally {
      this.calls.leave();
    }
  }

  /**
   * No trailing DSB. Up to 6.x the kernel uses a plain __tlbi (no level hint); 7.x goes through
   * the range code with level 3, so the hint appears with FEAT_TTL.
   */
  flushTlbPageNosync(mm: MmContext, uaddr: number): void {
    this.calls.enter('flush_tlb_page_nosync');
    try {
      this.mmu.dsb('ishst');
      const ttl = this.policy.flushTlbPageTtl && this.policy.tlbiTtl ? ttl4k(3) : 0;
      this.tlbiWithUser('VALE1IS', tlbiVaOperand({ asid: mm.asid, va: uaddr, ttl }));
    } finally {
      this.calls.leave();
    }
  }

  flushTlbPage(mm: MmContext, uaddr: number): void {
    this.calls.enter('flush_tlb_page');
    try {
      this.flushTlbPageNosync(mm, uaddr);
      this.mmu.dsb('ish');
    } finally {
      this.calls.leave();
    }
  }

  /**
   * `broadcast` false is 7.x's TLBF_NOBROADCAST: the same loop with the local (non-shareable)
   * operations and DSB NSHST/NSH.
   */
  __flushTlbRangeNosync(mm: MmContext, start: number, end: number, stride: number, lastLevel: boolean, tlbLevel: number, broadcast = true): void {
    this.calls.enter('__flush_tlb_range_nosync');
    try {
      const s = Math.floor(start / stride) * stride;
      const e = Math.ceil(end / stride) * stride;
      if (flushRangeGivesUp(s, e, stride, this.policy)) {
        this.flushTlbMm(mm, broadcast);
        return;
      }
      this.mmu.dsb(broadcast ? 'ishst' : 'nshst');
      const pages = (e - s) / PAGE_SIZE;
      for (const t of planFlushRangeOps(s, pages, stride, mm.asid, lastLevel, tlbLevel, this.policy, broadcast)) {
        this.tlbiWithUser(t.op, t.operand);
      }
    } finally {
      this.calls.leave();
    }
  }

  __flushTlbRange(mm: MmContext, start: number, end: number, stride: number, lastLevel: boolean, tlbLevel: number, broadcast = true): void {
    this.calls.enter('__flush_tlb_range');
    try {
      this.__flushTlbRangeNosync(mm, start, end, stride, lastLevel, tlbLevel, broadcast);
      this.mmu.dsb(broadcast ? 'ish' : 'nsh');
    } finally {
      this.calls.leave();
    }
  }

  /**
   * The flush after ptep_set_access_flags made a stale read-only entry writable: flush_tlb_page
   * (6.x), or in 7.x a local one through the range code (TLBF_NOWALKCACHE | TLBF_NOBROADCAST,
   * level 3): only this CPU can hold the stale entry that faulted (kernel-notes §8.5).
   */
  accessFlagsFlushPage(mm: MmContext, uaddr: number): void {
    if (this.policy.accessFlagsLocalFlush) this.__flushTlbRange(mm, uaddr, uaddr + PAGE_SIZE, PAGE_SIZE, true, 3, false);
    else this.flushTlbPage(mm, uaddr);
  }

  /** The same for a whole contiguous block (contpte_ptep_set_access_flags). */
  accessFlagsFlushRange(mm: MmContext, start: number, end: number): void {
    this.__flushTlbRange(mm, start, end, PAGE_SIZE, true, 3, !this.policy.accessFlagsLocalFlush);
  }

  /** flush_tlb_fix_spurious_fault: nothing up to 6.x; a local page flush in 7.x. */
  flushTlbFixSpuriousFault(mm: MmContext, uaddr: number): void {
    if (!this.policy.spuriousFaultFlush) return;
    this.calls.enter('flush_tlb_fix_spurious_fault');
    try {
      this.__flushTlbRange(mm, uaddr, uaddr + PAGE_SIZE, PAGE_SIZE, true, 3, false);
    } finally {
      this.calls.leave();
    }
  }

  /** flush_tlb_range: every level, no hint. */
  flushTlbRange(mm: MmContext, start: number, end: number): void {
    this.calls.enter('flush_tlb_range');
    try {
      this.__flushTlbRange(mm, start, end, PAGE_SIZE, false, 0);
    } finally {
      this.calls.leave();
    }
  }
}

