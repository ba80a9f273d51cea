/**
 * The kernel's view of a page-table entry (`pte_t`): arm64 `asm/pgtable-hwdef.h`,
 * `asm/pgtable-prot.h` and the `pte_*` helpers of `asm/pgtable.h` (v6.9), on U64 values.
 *
 * A `Pte` is the raw 64-bit descriptor as two unsigned 32-bit halves (see util/u64.ts); the
 * helpers here are pure. Bits [63:32] live in `hi`, so bit 51 (PTE_DBM) is `hi` bit 19, and so on.
 * Output addresses are 48-bit (no LPA2), so the pfn is bits [47:12].
 */
import type { U64 } from '../util/u64.js';

export type Pte = U64;
/** Protection bits only (a Pte with the output address cleared). */
export type Pgprot = U64;

// Lower attributes (lo word).
export const PTE_VALID_LO = 1 << 0;
export const PTE_TABLE_BIT_LO = 1 << 1;
export const PTE_TYPE_PAGE_LO = 3;
export const PTE_ATTRINDX_SHIFT = 2;
export const PTE_ATTRINDX_MASK_LO = 7 << 2;
export const PTE_USER_LO = 1 << 6; // AP[1]
export const PTE_RDONLY_LO = 1 << 7; // AP[2]
export const PTE_SHARED_LO = 3 << 8; // SH, inner shareable
export const PTE_AF_LO = 1 << 10;
export const PTE_NG_LO = 1 << 11;
const PTE_ADDR_LO = 0xfffff000;

// Upper attributes (hi word, bit n of the descriptor is bit n-32 here).
export const PTE_GP_HI = 1 << (50 - 32);
export const PTE_DBM_HI = 1 << (51 - 32);
/** Linux's PTE_WRITE is the DBM bit. */
export const PTE_WRITE_HI = PTE_DBM_HI;
export const PTE_CONT_HI = 1 << (52 - 32);
export const PTE_PXN_HI = 1 << (53 - 32);
export const PTE_UXN_HI = 1 << (54 - 32);
/** Software bits, ignored by hardware. */
export const PTE_DIRTY_HI = 1 << (55 - 32);
export const PTE_SPECIAL_HI = 1 << (56 - 32);
export const PTE_DEVMAP_HI = 1 << (57 - 32);
/** v6.9's PROT_NONE marker for present-but-invalid entries (later kernels reuse nG instead). */
export const PTE_PROT_NONE_HI = 1 << (58 - 32);
const PTE_ADDR_HI = 0x0000ffff;

/** Memory types (MAIR indices) as arm64 Linux numbers them since v6.x. */
export const MT_NORMAL = 0;
export const MT_NORMAL_TAGGED = 1;
export const MT_NORMAL_NC = 2;
export const MT_DEVICE_nGnRnE = 3;
export const MT_DEVICE_nGnRE = 4;

export const CONT_PTES = 16;
export const CONT_PTE_SHIFT = 16;
export const CONT_PTE_SIZE = 1 << CONT_PTE_SHIFT;
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
export const PTRS_PER_PTE = 512;
export const PMD_SHIFT = 21;
export const PMD_SIZE = 1 << PMD_SHIFT;
export const PUD_SHIFT = 30;
export const PUD_SIZE = 2 ** PUD_SHIFT;
export const PGDIR_SHIFT = 39;
export const PGDIR_SIZE = 2 ** PGDIR_SHIFT;

export const PTE_NONE: Pte = Object.freeze({ lo: 0, hi: 0 });

export function pte(lo: number, hi: number): Pte {
  return { lo: lo >>> 0, hi: hi >>> 0 };
}

export const pteNone = (p: Pte): boolean => p.lo === 0 && p.hi === 0;
export const pteValid = (p: Pte): boolean => (p.lo & PTE_VALID_LO) !== 0;
export const ptePresent = (p: Pte): boolean => (p.lo & PTE_VALID_LO) !== 0 || (p.hi & PTE_PROT_NONE_HI) !== 0;
export const pteCont = (p: Pte): boolean => (p.hi & PTE_CONT_HI) !== 0;
export const pteValidCont = (p: Pte): boolean => (p.lo & PTE_VALID_LO) !== 0 && (p.hi & PTE_CONT_HI) !== 0;
export const pteYoung = (p: Pte): boolean => (p.lo & PTE_AF_LO) !== 0;
export const pteSpecial = (p: Pte): boolean => (p.hi & PTE_SPECIAL_HI) !== 0;
export const pteWrite = (p: Pte): boolean => (p.hi & PTE_WRITE_HI) !== 0;
export const pteUserExec = (p: Pte): boolean => (p.hi & PTE_UXN_HI) === 0;
export const pteUser = (p: Pte): boolean => (p.lo & PTE_USER_LO) !== 0;
export const pteRdonly = (p: Pte): boolean => (p.lo & PTE_RDONLY_LO) !== 0;
export const pteHwDirty = (p: Pte): boolean => pteWrite(p) && (p.lo & PTE_RDONLY_LO) === 0;
export const pteSwDirty = (p: Pte): boolean => (p.hi & PTE_DIRTY_HI) !== 0;
export const pteDirty = (p: Pte): boolean => pteSwDirty(p) || pteHwDirty(p);
export const pteValidYoung = (p: Pte): boolean => (p.lo & (PTE_VALID_LO | PTE_AF_LO)) === (PTE_VALID_LO | PTE_AF_LO);
export const pteValidNotUser = (p: Pte): boolean => (p.lo & PTE_VALID_LO) !== 0 && (p.lo & PTE_USER_LO) === 0 && (p.hi & PTE_UXN_HI) !== 0;
/**
 * arm64 pte_accessible (asm/pgtable.h, since v5.10 "arm64: pgtable: Fix pte_accessible()"): may a
 * TLB hold this entry? Any valid entry may, young or not, because ptep_clear_flush_young()
 * clears the access flag and invalidates without waiting (no DSB), and hardware may set AF
 * without a fault; while a batched flush is pending on the mm, a present (PROT_NONE) entry may
 * still be cached from before its change too. Before 5.10 it was valid && young, which
 * under-counted TLBIs; every profile here is later.
 */
export function pteAccessible(flushPending: boolean, p: Pte): boolean {
  return flushPending ? ptePresent(p) : pteValid(p);
}
/** PROT_NONE: present to the kernel, invalid to the hardware. */
export const pteProtnone = (p: Pte): boolean => (p.lo & PTE_VALID_LO) === 0 && (p.hi & PTE_PROT_NONE_HI) !== 0;

export function ptePfn(p: Pte): number {
  return (p.hi & PTE_ADDR_HI) * 0x100000 + (p.lo >>> PAGE_SHIFT);
}

export function ptePgprot(p: Pte): Pgprot {
  return { lo: (p.lo & ~PTE_ADDR_LO) >>> 0, hi: (p.hi & ~PTE_ADDR_HI) >>> 0 };
}

export function pfnPte(pfn: number, prot: Pgprot): Pte {
  const lo = ((pfn << PAGE_SHIFT) | (prot.lo & ~PTE_ADDR_LO)) >>> 0;
  const hi = ((Math.floor(pfn / 0x100000) & PTE_ADDR_HI) | (prot.hi & ~PTE_ADDR_HI)) >>> 0;
  return { lo, hi };
}

/**
 * pfn_pte written into `into`, a caller's record, instead of a new Pte: for an entry that is
 * stored at once and kept by no one (set_ptes, like the kernel's, reads its argument and keeps
 * nothing of it).
 */
export function pfnPteInto(pfn: number, prot: Pgprot, into: { lo: number; hi: number }): Pte {
  into.lo = ((pfn << PAGE_SHIFT) | (prot.lo & ~PTE_ADDR_LO)) >>> 0;
  into.hi = ((Math.floor(pfn / 0x100000) & PTE_ADDR_HI) | (prot.hi & ~PTE_ADDR_HI)) >>> 0;
  return into;
}

/**
 * Whether the raw halves (lo, hi) equal `pte_mkold(pte_mkclean(x))` of an entry that maps `pfn`
 * with `prot`: the per-entry test of the fold scan, on the words so that scanning 16 entries
 * builds no Pte. `prot` must itself be old and clean.
 */
export function pteOldCleanIs(lo: number, hi: number, pfn: number, prot: Pgprot): boolean {
  const oldCleanLo = ((lo & ~PTE_AF_LO) | PTE_RDONLY_LO) >>> 0;
  const oldCleanHi = (hi & ~PTE_DIRTY_HI) >>> 0;
  return (
    oldCleanLo === (((pfn << PAGE_SHIFT) | (prot.lo & ~PTE_ADDR_LO)) >>> 0) &&
    oldCleanHi === (((Math.floor(pfn / 0x100000) & PTE_ADDR_HI) | (prot.hi & ~PTE_ADDR_HI)) >>> 0)
  );
}

export function pteAdvancePfn(p: Pte, n: number): Pte {
  return pfnPte(ptePfn(p) + n, p);
}

// A Pte is immutable, so a helper that changes nothing hands back the same value: the fault and
// contpte paths apply pte_mkyoung, pte_mkdirty and pte_mknoncont to entries that mostly already
// are, and not allocating then keeps them cheap.
function withLo(p: Pte, lo: number): Pte {
  return lo === p.lo ? p : { lo, hi: p.hi };
}
function withHi(p: Pte, hi: number): Pte {
  return hi === p.hi ? p : { lo: p.lo, hi };
}
function setLo(p: Pte, m: number): Pte {
  return withLo(p, (p.lo | m) >>> 0);
}
function clearLo(p: Pte, m: number): Pte {
  return withLo(p, (p.lo & ~m) >>> 0);
}
function setHi(p: Pte, m: number): Pte {
  return withHi(p, (p.hi | m) >>> 0);
}
function clearHi(p: Pte, m: number): Pte {
  return withHi(p, (p.hi & ~m) >>> 0);
}

export const pteMkold = (p: Pte): Pte => clearLo(p, PTE_AF_LO);
export const pteMkyoung = (p: Pte): Pte => setLo(p, PTE_AF_LO);
export const pteMkspecial = (p: Pte): Pte => setHi(p, PTE_SPECIAL_HI);
export const pteMknoncont = (p: Pte): Pte => clearHi(p, PTE_CONT_HI);
/** Setting the contiguous bit also makes the entry a page descriptor. */
export const pteMkcont = (p: Pte): Pte => setLo(setHi(p, PTE_CONT_HI), PTE_TYPE_PAGE_LO);
export const pteMkpresent = (p: Pte): Pte => setLo(p, PTE_VALID_LO);

/** Clean: no software dirty bit, and read-only to hardware so the next write is seen. */
export function pteMkclean(p: Pte): Pte {
  return setLo(clearHi(p, PTE_DIRTY_HI), PTE_RDONLY_LO);
}

export function pteMkdirty(p: Pte): Pte {
  const d = setHi(p, PTE_DIRTY_HI);
  return pteWrite(d) ? clearLo(d, PTE_RDONLY_LO) : d;
}

/** v6.9 pte_mkwrite_novma: writable to software and to hardware. */
export function pteMkwrite(p: Pte): Pte {
  return clearLo(setHi(p, PTE_WRITE_HI), PTE_RDONLY_LO);
}

/**
 * pte_mkwrite(pte_mkdirty(p)) in one step, as do_anonymous_page builds a writable entry: the
 * dirty and write bits set and RDONLY cleared, with one allocation instead of up to three.
 */
export function pteMkwriteDirty(p: Pte): Pte {
  const lo = (p.lo & ~PTE_RDONLY_LO) >>> 0;
  const hi = (p.hi | PTE_DIRTY_HI | PTE_WRITE_HI) >>> 0;
  return lo === p.lo && hi === p.hi ? p : { lo, hi };
}

/** Write-protect, first moving hardware dirtiness into the software dirty bit. */
export function pteWrprotect(p: Pte): Pte {
  let r = p;
  if (pteHwDirty(r)) r = setHi(r, PTE_DIRTY_HI);
  return setLo(clearHi(r, PTE_WRITE_HI), PTE_RDONLY_LO);
}

/**
 * arm64 pte_same: two present entries that differ only in PTE_RDONLY are the same, because
 * RDONLY flips with hardware dirty-state updates.
 */
export function pteSame(a: Pte, b: Pte): boolean {
  const la = ptePresent(a) ? a.lo & ~PTE_RDONLY_LO : a.lo;
  const lb = ptePresent(b) ? b.lo & ~PTE_RDONLY_LO : b.lo;
  return la >>> 0 === lb >>> 0 && a.hi === b.hi;
}

export function pteEqual(a: Pte, b: Pte): boolean {
  return a.lo === b.lo && a.hi === b.hi;
}

/** v6.9 pte_modify: take the new protection, keeping the output address and the dirty state. */
export function pteModify(p: Pte, newprot: Pgprot): Pte {
  const maskLo = PTE_USER_LO | PTE_RDONLY_LO | PTE_VALID_LO | PTE_ATTRINDX_MASK_LO;
  const maskHi = PTE_PXN_HI | PTE_UXN_HI | PTE_PROT_NONE_HI | PTE_WRITE_HI | PTE_GP_HI;
  let r = pteHwDirty(p) ? setHi(p, PTE_DIRTY_HI) : p;
  r = {
    lo: ((r.lo & ~maskLo) | (newprot.lo & maskLo)) >>> 0,
    hi: ((r.hi & ~maskHi) | (newprot.hi & maskHi)) >>> 0,
  };
  if (pteSwDirty(r)) r = pteMkdirty(r);
  return r;
}

// Protections (pgtable-prot.h, v6.9). User mappings are always non-global.
const PROT_DEFAULT_LO = PTE_TYPE_PAGE_LO | PTE_AF_LO | PTE_SHARED_LO | (MT_NORMAL << PTE_ATTRINDX_SHIFT);
const prot = (lo: number, hi: number): Pgprot => Object.freeze({ lo: lo >>> 0, hi: hi >>> 0 });

export const PAGE_NONE = prot(((PROT_DEFAULT_LO & ~PTE_VALID_LO) | PTE_RDONLY_LO | PTE_NG_LO), PTE_PROT_NONE_HI | PTE_PXN_HI | PTE_UXN_HI);
export const PAGE_SHARED = prot(PROT_DEFAULT_LO | PTE_USER_LO | PTE_RDONLY_LO | PTE_NG_LO, PTE_PXN_HI | PTE_UXN_HI | PTE_WRITE_HI);
export const PAGE_SHARED_EXEC = prot(PROT_DEFAULT_LO | PTE_USER_LO | PTE_RDONLY_LO | PTE_NG_LO, PTE_PXN_HI | PTE_WRITE_HI);
export const PAGE_READONLY = prot(PROT_DEFAULT_LO | PTE_USER_LO | PTE_RDONLY_LO | PTE_NG_LO, PTE_PXN_HI | PTE_UXN_HI);
export const PAGE_READONLY_EXEC = prot(PROT_DEFAULT_LO | PTE_USER_LO | PTE_RDONLY_LO | PTE_NG_LO, PTE_PXN_HI);
export const PAGE_EXECONLY = prot(PROT_DEFAULT_LO | PTE_RDONLY_LO | PTE_NG_LO, PTE_PXN_HI);

/** A short human description of a PTE, e.g. `pfn=0x10000 rw user nx young dirty cont`. */
export function describePte(p: Pte): string {
  if (pteNone(p)) return 'none';
  const parts: string[] = [];
  if (!pteValid(p)) parts.push(pteProtnone(p) ? 'protnone' : 'invalid');
  parts.push(`pfn=0x${ptePfn(p).toString(16)}`);
  parts.push(pteWrite(p) ? (pteRdonly(p) ? 'rw-clean' : 'rw') : 'ro');
  if (pteUser(p)) parts.push('user');
  if (!pteUserExec(p)) parts.push('uxn');
  if (pteYoung(p)) parts.push('young');
  if (pteDirty(p)) parts.push('dirty');
  if (pteSpecial(p)) parts.push('special');
  if (pteCont(p)) parts.push('cont');
  return parts.join(' ');
}
