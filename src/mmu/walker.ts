/**
 * The stage-1 table walker for EL1&0 with the 4 KiB granule (reference A.1-A.5): reads
 * descriptors from simulated physical memory and returns a typed translation or a typed fault.
 *
 * Order of checks, as the architecture orders them (ARM ARM D8.2-D8.5; the same order as QEMU's
 * target/arm/ptw.c get_phys_addr_lpae, read as a cross-check, v8.0):
 * 1. VA above 2^(64-T0SZ): translation fault, level 0. TTBR0 above the OA size: address size
 *    fault, level 0.
 * 2. Per level: invalid descriptor, or bits[1:0] = 01 at level 0 or 3, is a translation fault at
 *    that level; a table or output address above the OA size is an address size fault there.
 * 3. At the leaf: AF = 0 is an access flag fault unless TCR.HA (then hardware sets AF); then the
 *    permission check (AP[2:1] and XN after the hierarchical table controls).
 * 4. Hardware updates (AF, and AP[2] cleared for a write to a DBM entry under TCR.HD) are written
 *    back only when the access does not fault, as one atomic update of the descriptor.
 *
 * Deliberate choices where the architecture leaves room (all documented in docs, tested):
 * - RES0 bits of table and page descriptors ([51:48], block bits below the OA) are ignored.
 * - The contiguous bit makes one TLB entry cover the aligned span (16 entries) when tlbContig is
 *   on; that entry takes its output address from the walked descriptor's OA rounded down to the
 *   span (bits below the span come from the VA), which is what the architecture permits for a
 *   misprogrammed set (reference A.3 rule 5).
 * - A descriptor read outside physical memory would be a synchronous external abort on the walk;
 *   the model's tables always live in memory, so it is a model error and throws.
 *
 * The hot path allocates only the result object: descriptor halves are read straight from
 * PhysMem.u32 and fields are tested with the bit constants of descriptor.ts.
 */
import type { Access, FaultKind } from '../trace/events.js';
import { u64, type U64 } from '../util/u64.js';
import { AF_LO, AP2_LO, CONT_HI, DBM_HI, decodeDescriptor, NG_LO, type Descriptor } from './descriptor.js';
import { CONT_ENTRIES, POW2, type Level, type LeafLevel } from './geometry.js';
import { PERM_TABLE, permFor } from './perms.js';
import { DEFAULT_PA_BITS, type TranslationRegs } from './regs.js';
import type { WalkCache } from './walkcache.js';

export type { Access, FaultKind } from '../trace/events.js';

export interface Translation {
  ok: true;
  va: number;
  pa: number;
  level: LeafLevel;
  /** Bytes the walked descriptor maps: 4 KiB, 2 MiB or 1 GiB. */
  size: number;
  /** The descriptor has the contiguous bit. */
  contiguous: boolean;
  /** VA range one TLB entry for this walk covers: 16*size when contiguous and tlb_contig. */
  spanVa: number;
  spanSize: number;
  spanPa: number;
  /** nG = 0: the TLB entry matches every ASID. */
  global: boolean;
  /** PERM_EL0_R|W|X, PERM_EL1_R|W|X after hierarchical controls (and after any HD update). */
  perms: number;
  attrIndx: number;
  sh: number;
  /** Physical address of the leaf descriptor, and its value (after any hardware update). */
  descPa: number;
  desc: U64;
  /** Descriptors read from memory by this walk (walk-cache hits skip levels). */
  levelsRead: number;
  /**
   * TCR.HD is on and the entry is DBM with AP[2] = 1: a write would succeed by hardware clearing
   * AP[2], though `perms` (what a TLB entry may cache) does not include write yet.
   */
  dirtyOnWrite: boolean;
  /** What this walk wrote back to the descriptor: HW_UPDATED_AF and/or HW_UPDATED_DIRTY. */
  hwUpdates: number;
}

/** Translation.hwUpdates: the hardware set AF. */
export const HW_UPDATED_AF = 1;
/** Translation.hwUpdates: the hardware cleared AP[2] (marked the entry dirty). */
export const HW_UPDATED_DIRTY = 2;

export interface WalkFault {
  ok: false;
  kind: FaultKind;
  level: number;
  va: number;
  levelsRead: number;
}

export type WalkResult = Translation | WalkFault;

/** One descriptor read, for `contpte-lab walk` and tests. */
export interface WalkStep {
  level: Level;
  /** Physical address of the table read from and the index in it. */
  tablePa: number;
  index: number;
  descPa: number;
  /** The value read (before any hardware update). */
  desc: U64;
  decoded: Descriptor;
}

export interface WalkOptions {
  /** Cover the whole contiguous span with one TLB entry when the descriptor has the bit. Default true. */
  tlbContig?: boolean;
  /** When given, every descriptor read is appended. */
  steps?: WalkStep[];
  /** Consulted first and filled with the table descriptors read. */
  walkCache?: WalkCache | null;
  /**
   * A successful walk writes its result into this object (its `desc` object included, which must
   * be the caller's own) and returns it, allocating none (for a caller that does not keep the
   * result: Mmu.resolve).
   */
  into?: Translation;
  /** The same for a walk that faults. */
  faultInto?: WalkFault;
}

const TWO32 = POW2[32]!;
/** Low-half mask of the OA of a leaf, by level. */
const OA_LO = [0, 0xc0000000, 0xffe00000, 0xfffff000];

function fault(kind: FaultKind, level: number, va: number, levelsRead: number, into: WalkFault | undefined): WalkFault {
  if (into === undefined) return { ok: false, kind, level, va, levelsRead };
  into.kind = kind;
  into.level = level;
  into.va = va;
  into.levelsRead = levelsRead;
  return into;
}

/** Index bits of `va` at bit `shift`, `mask` wide, from its two 32-bit halves. */
function indexOf(vaLo: number, vaHi: number, shift: number, mask: number): number {
  if (shift >= 32) return (vaHi >>> (shift - 32)) & mask;
  return ((vaLo >>> shift) | (vaHi << (32 - shift))) & mask;
}

/**
 * Translates `va` for an access at EL`el`. Reads (and, with HA/HD, updates) descriptors in
 * `mem`. Throws only for a model error: a descriptor outside physical memory, or bad registers.
 */
export function walk(
  mem: { readonly u32: Uint32Array; readonly base: number; readonly size: number },
  regs: TranslationRegs,
  va: number,
  access: Access,
  el: 0 | 1,
  opts?: WalkOptions,
): WalkResult {
  const inputBits = 64 - regs.t0sz;
  const fi = opts?.faultInto;
  if (!(regs.t0sz >= 16 && regs.t0sz <= 39)) throw new RangeError(`T0SZ ${regs.t0sz} is outside 16..39`);
  if (!(va >= 0 && va < POW2[inputBits]!)) return fault('translation', 0, va, 0, fi);
  const paLimit = POW2[regs.paBits ?? DEFAULT_PA_BITS]!;
  const steps = opts?.steps;
  const wc = opts?.walkCache ?? null;
  const vaLo = va >>> 0;
  const vaHi = Math.floor(va / TWO32) >>> 0;
  const first = (4 - Math.floor((inputBits - 4) / 9)) as Level;

  let level: Level = first;
  let tablePa: number;
  // Table attributes ORed down the walk: bit 0 PXNTable, 1 UXNTable, 2 APTable[0], 3 APTable[1], 4 NSTable.
  let tableAttrs = 0;
  let levelsRead = 0;

  const slot = wc !== null ? wc.lookup(regs.ttbr0, regs.asid, va, first) : -1;
  if (slot >= 0) {
    level = (wc!.slotLevel(slot) + 1) as Level;
    tablePa = wc!.slotNext(slot);
    tableAttrs = wc!.slotAttrs(slot);
  } else {
    if (regs.ttbr0 >= paLimit) return fault('address_size', 0, va, 0, fi);
    // The start-level table is aligned to its own size (BADDR bits below it are RES0).
    const startBytes = POW2[inputBits - (39 - 9 * first) + 3]!;
    tablePa = regs.ttbr0 - (regs.ttbr0 % startBytes);
  }

  const u32 = mem.u32;
  const memBase = mem.base;
  const memSize = mem.size;
  for (;;) {
    const shift = 39 - 9 * level;
    const bits = level === first ? inputBits - shift : 9;
    const index = indexOf(vaLo, vaHi, shift, (1 << bits) - 1);
    const descPa = tablePa + index * 8;
    const off = descPa - memBase;
    if (off < 0 || off + 8 > memSize) {
      throw new RangeError(
        `walk of VA 0x${va.toString(16)}: level ${level} descriptor at PA 0x${descPa.toString(16)} is outside physical memory [0x${memBase.toString(16)}, 0x${(memBase + memSize).toString(16)})`,
      );
    }
    const w = off / 4;
    const lo = u32[w]!;
    const hi = u32[w + 1]!;
    levelsRead++;
    if (steps !== undefined) {
      const desc = u64(lo, hi);
      steps.push({ level, tablePa, index, descPa, desc, decoded: decodeDescriptor(desc, level) });
    }

    if ((lo & 1) === 0) return fault('translation', level, va, levelsRead, fi);
    if ((lo & 2) !== 0 && level < 3) {
      const next = (hi & 0xffff) * TWO32 + ((lo & 0xfffff000) >>> 0);
      if (next >= paLimit) return fault('address_size', level, va, levelsRead, fi);
      tableAttrs |= hi >>> 27;
      if (wc !== null) wc.insert(regs.ttbr0, regs.asid, level, va, next, tableAttrs);
      tablePa = next;
      level = (level + 1) as Level;
      continue;
    }
    // A leaf: a block at level 1 or 2, a page at level 3. Bits[1:0] = 01 at level 0 or 3 is reserved.
    if (level === 0 || ((lo & 2) === 0 && level === 3)) return fault('translation', level, va, levelsRead, fi);

    const oa = (hi & 0xffff) * TWO32 + ((lo & OA_LO[level]!) >>> 0);
    if (oa >= paLimit) return fault('address_size', level, va, levelsRead, fi);

    let newLo = lo;
    if ((lo & AF_LO) === 0) {
      if (!regs.ha) return fault('access_flag', level, va, levelsRead, fi);
      newLo |= AF_LO;
    }
    const hd = regs.ha && regs.hd && (hi & DBM_HI) !== 0;
    if (hd && access === 'write') newLo &= ~AP2_LO;

    let ap = (newLo >>> 6) & 3;
    if (tableAttrs & 4) ap &= ~1;
    if (tableAttrs & 8) ap |= 2;
    const uxn = ((hi >>> 22) | (tableAttrs >>> 1)) & 1;
    const pxn = ((hi >>> 21) | tableAttrs) & 1;
    const perms = PERM_TABLE[ap | (uxn << 2) | (pxn << 3)]!;
    if ((perms & permFor(access, el)) === 0) return fault('permission', level, va, levelsRead, fi);

    if (newLo !== lo) u32[w] = newLo >>> 0;

    const size = POW2[shift]!;
    const contiguous = (hi & CONT_HI) !== 0;
    const spanSize = contiguous && opts?.tlbContig !== false ? size * CONT_ENTRIES : size;
    // Floor, not `%`: a remainder of an address above 2^31 is a slow floating-point operation.
    const spanVa = Math.floor(va / spanSize) * spanSize;
    const into = opts?.into;
    if (into !== undefined) {
      into.va = va;
      into.pa = oa + (va - Math.floor(va / size) * size);
      into.level = level as LeafLevel;
      into.size = size;
      into.contiguous = contiguous;
      into.spanVa = spanVa;
      into.spanSize = spanSize;
      into.spanPa = Math.floor(oa / spanSize) * spanSize;
      into.global = (newLo & NG_LO) === 0;
      into.perms = perms;
      into.attrIndx = (newLo >>> 2) & 7;
      into.sh = (newLo >>> 8) & 3;
      into.descPa = descPa;
      const desc = into.desc as { lo: number; hi: number };
      desc.lo = newLo >>> 0;
      desc.hi = hi;
      into.levelsRead = levelsRead;
      into.dirtyOnWrite = hd && (newLo & AP2_LO) !== 0;
      into.hwUpdates = (newLo & ~lo & AF_LO ? HW_UPDATED_AF : 0) | (lo & ~newLo & AP2_LO ? HW_UPDATED_DIRTY : 0);
      return into;
    }
    return {
      ok: true,
      va,
      pa: oa + (va - Math.floor(va / size) * size),
      level: level as LeafLevel,
      size,
      contiguous,
      spanVa,
      spanSize,
      spanPa: Math.floor(oa / spanSize) * spanSize,
      global: (newLo & NG_LO) === 0,
      perms,
      attrIndx: (newLo >>> 2) & 7,
      sh: (newLo >>> 8) & 3,
      descPa,
      desc: u64(newLo, hi),
      levelsRead,
      dirtyOnWrite: hd && (newLo & AP2_LO) !== 0,
      hwUpdates: (newLo & ~lo & AF_LO ? HW_UPDATED_AF : 0) | (lo & ~newLo & AP2_LO ? HW_UPDATED_DIRTY : 0),
    };
  }
}
