/**
 * What memory an A64 instruction touches: decoding the load/store instruction at the PC of a data
 * abort into the (virtual address, size, read/write) of every access it makes.
 *
 * Why decode: Unicorn 2.0.1 delivers a data abort to UC_HOOK_INTR without writing FAR_EL1/ESR_EL1
 * (the hook replaces exception entry), so the faulting address and direction must come from the
 * instruction and the registers. The instruction has not executed (QEMU restores the state of a
 * faulting instruction before raising), so base and index registers still hold their inputs.
 *
 * Encodings follow the Arm ARM (DDI 0487, section C4.1 "A64 instruction set encoding", classes
 * "Loads and Stores" and "System instructions"); the decode order below mirrors that table.
 * Kinds follow Linux's fault handling (arch/arm64/mm/fault.c, v6.9): an instruction that both
 * reads and writes (LSE atomics, SWP, CAS/CASP) is a write; store-exclusives are writes.
 *
 * Each instruction touches one contiguous range (pairs and SIMD structures are contiguous in
 * memory); `accesses` is a list so that callers need not know that. Prefetches touch nothing.
 *
 * Decoding happens in two steps: the instruction word alone gives a plan (form, size, direction
 * and how the address is formed), kept per word; the plan plus the registers give the accesses.
 * A TLB-miss-heavy guest aborts at the same few instructions, so most aborts only add registers.
 */
import { ADDRESS_UNSET, type U64, TWO32 } from '../util/u64.js';

export type AccessKind = 'read' | 'write';

export interface MemAccess {
  /** First byte. Exact when below 2^53; above that see `vaBig`. */
  readonly va: number;
  readonly size: number;
  readonly kind: AccessKind;
  /** The exact 64-bit address, present only when it is 2^53 or more (never a valid guest VA). */
  readonly vaBig?: bigint;
}

export type DecodeResult =
  | { readonly kind: 'access'; readonly form: string; readonly accesses: readonly MemAccess[] }
  | { readonly kind: 'unknown'; readonly reason: string };

/**
 * The registers a decode needs; values are the 64-bit contents before the instruction runs. A
 * reader may hand back the same object from every call (the engine's does, to allocate nothing
 * per abort): read its halves before asking for the next register.
 */
export interface RegisterReader {
  /** X0..X30 (n = 0..30). */
  x(n: number): U64;
  sp(): U64;
}

export interface DecodeContext {
  readonly regs: RegisterReader;
  /** Address of the instruction (for literal loads). */
  readonly pc: number;
  /** DC ZVA block size in bytes (4 << DCZID_EL0.BS). */
  readonly dczBlockBytes: number;
  /**
   * When given, a decode of one access below 2^53 (every abort a guest can recover from) is
   * written into these objects and returns `into.result`, allocating nothing; it stays valid
   * until the next decode with the same context. Without it every result is a new object.
   */
  readonly into?: DecodeScratch;
}

/** The reusable result of a decode (DecodeContext.into); make one with `newDecodeScratch`. */
export interface DecodeScratch {
  readonly result: { readonly kind: 'access'; form: string; readonly accesses: readonly MemAccess[] };
  readonly access: { va: number; size: number; kind: AccessKind };
}

export function newDecodeScratch(): DecodeScratch {
  // va is read and passed on by the abort path: see ADDRESS_UNSET.
  const access = { va: ADDRESS_UNSET, size: 0, kind: 'read' as AccessKind };
  return { result: { kind: 'access', form: '', accesses: [access] }, access };
}

// ---- plans: what an instruction word accesses, apart from the register values ----

const ZERO: U64 = { lo: 0, hi: 0 };

/** AddressPlan.base values besides a register number. */
const BASE_PC = -1;
const BASE_ZERO = -2;
const NO_INDEX = -1;

/** How an access's address is formed: base + offset + extended and shifted index, modulo 2^64. */
interface AddressPlan {
  /** 0..30: Xn; 31: SP; BASE_PC: the instruction's address; BASE_ZERO: nothing. */
  readonly base: number;
  /** A signed constant (|offset| < 2^31); 0 for post-indexed forms, which use the base as it was. */
  readonly offset: number;
  /** A register added as an index (31 is XZR), or NO_INDEX; extended by `option`, shifted by `shift`. */
  readonly index: number;
  /** ExtendReg's option: 010 UXTW, 011 LSL/UXTX, 110 SXTW, 111 SXTX. */
  readonly option: number;
  readonly shift: number;
}

/** AccessPlan.size of DC ZVA: the context's whole block, the address aligned down to it. */
const DCZ_BLOCK = 0;

/** Everything the decode of one instruction word decides before reading a register. */
type AccessPlan =
  | { readonly kind: 'unknown'; readonly reason: string }
  /** A form that touches no memory (prefetch). */
  | { readonly kind: 'none'; readonly form: string }
  | { readonly kind: 'access'; readonly form: string; readonly addr: AddressPlan; readonly size: number; readonly access: AccessKind };

/** [Xn|SP, #offset] (or the PC, or nothing, as `base` says). */
function at(base: number, offset = 0): AddressPlan {
  return { base, offset, index: NO_INDEX, option: 0, shift: 0 };
}

/** [Xn|SP, Rm, extend #shift]. */
function indexed(base: number, index: number, option: number, shift: number): AddressPlan {
  return { base, offset: 0, index, option, shift };
}

function signExtend(value: number, bits: number): number {
  const shift = 32 - bits;
  return (value << shift) >> shift;
}

function bits(insn: number, msb: number, lsb: number): number {
  return (insn >>> lsb) & ((1 << (msb - lsb + 1)) - 1);
}

function bit(insn: number, n: number): number {
  return (insn >>> n) & 1;
}

function plan(form: string, addr: AddressPlan, size: number, access: AccessKind): AccessPlan {
  return { kind: 'access', form, addr, size, access };
}

function none(form: string): AccessPlan {
  return { kind: 'none', form };
}

function unknown(reason: string): AccessPlan {
  return { kind: 'unknown', reason };
}

function unallocated(insn: number, cls: string): AccessPlan {
  return unknown(`unallocated encoding in class '${cls}' (0x${(insn >>> 0).toString(16).padStart(8, '0')})`);
}

// ---- evaluating a plan against the registers: 64-bit arithmetic on 32-bit halves ----

function result(form: string, lo: number, hi: number, size: number, kind: AccessKind, into: DecodeScratch | undefined): DecodeResult {
  const va = hi * TWO32 + lo;
  if (hi < 0x200000 && into !== undefined) {
    const a = into.access;
    a.va = va;
    a.size = size;
    a.kind = kind;
    into.result.form = form;
    return into.result;
  }
  const m: MemAccess = hi < 0x200000 ? { va, size, kind } : { va, size, kind, vaBig: (BigInt(hi) << 32n) | BigInt(lo) };
  return { kind: 'access', form, accesses: [m] };
}

function evaluate(p: AccessPlan, ctx: DecodeContext): DecodeResult {
  if (p.kind === 'unknown') return p;
  if (p.kind === 'none') return { kind: 'access', form: p.form, accesses: [] };
  const a = p.addr;
  let lo = 0;
  let hi = 0;
  if (a.base === BASE_PC) {
    lo = ctx.pc >>> 0;
    hi = Math.floor(ctx.pc / TWO32) >>> 0;
  } else if (a.base !== BASE_ZERO) {
    const b = a.base === 31 ? ctx.regs.sp() : ctx.regs.x(a.base);
    lo = b.lo;
    hi = b.hi;
  }
  if (a.offset !== 0) {
    const sum = lo + (a.offset >>> 0);
    hi = (hi + (a.offset < 0 ? 0xffffffff : 0) + (sum >= TWO32 ? 1 : 0)) >>> 0;
    lo = sum >>> 0;
  }
  if (a.index !== NO_INDEX) {
    const v = a.index === 31 ? ZERO : ctx.regs.x(a.index);
    let xlo = v.lo;
    let xhi: number;
    switch (a.option) {
      case 0b010: xhi = 0; break;
      case 0b110: xhi = xlo & 0x80000000 ? 0xffffffff : 0; break;
      case 0b011:
      case 0b111: xhi = v.hi; break;
      default: throw new Error('unreachable extend option');
    }
    if (a.shift !== 0) {
      xhi = ((xhi << a.shift) | (xlo >>> (32 - a.shift))) >>> 0;
      xlo = (xlo << a.shift) >>> 0;
    }
    const sum = lo + xlo;
    hi = (hi + xhi + (sum >= TWO32 ? 1 : 0)) >>> 0;
    lo = sum >>> 0;
  }
  if (p.size !== DCZ_BLOCK) return result(p.form, lo, hi, p.size, p.access, ctx.into);
  return result(p.form, (lo & ~(ctx.dczBlockBytes - 1)) >>> 0, hi, ctx.dczBlockBytes, p.access, ctx.into);
}

// ---- the decoder ----

/**
 * Plans by instruction word. A TLB-miss-heavy guest faults at the same few instructions again
 * and again, so each word is decoded once and later aborts only add up registers.
 */
const plans = new Map<number, AccessPlan>();
/** More distinct faulting words than this (never seen in practice): start over. */
const MAX_PLANS = 4096;

/** Decodes the memory accesses of `insn` (a 32-bit A64 instruction word). */
export function decodeAccess(insn: number, ctx: DecodeContext): DecodeResult {
  const key = insn | 0; // a small integer key: words at or above 2^31 would be hashed as doubles
  let p = plans.get(key);
  if (p === undefined) {
    p = planFor(insn >>> 0);
    if (plans.size >= MAX_PLANS) plans.clear();
    plans.set(key, p);
  }
  return evaluate(p, ctx);
}

function planFor(insn: number): AccessPlan {
  // DC ZVA and the other data-cache operations by VA live among the system instructions.
  if (((insn & 0xfff80000) >>> 0) === 0xd5080000) return planSys(insn);
  // Loads and Stores: op0 = x1x0 in bits [28:25].
  if ((insn & 0x0a000000) !== 0x08000000) return unknown('not a load/store instruction');

  const b29_24 = bits(insn, 29, 24);
  // SIMD structure loads/stores: bits[31]=0, bits[29:24] = 001100 / 001101.
  if (bit(insn, 31) === 0 && (b29_24 === 0b001100 || b29_24 === 0b001101)) {
    return b29_24 === 0b001100 ? planSimdMultiple(insn) : planSimdSingle(insn);
  }
  if (b29_24 === 0b001000) return planExclusiveOrdered(insn);
  if (b29_24 === 0b011001 && bit(insn, 21) === 0 && bits(insn, 11, 10) === 0) return planRcpcUnscaled(insn);
  if (bits(insn, 29, 27) === 0b011 && bits(insn, 25, 24) === 0) return planLiteral(insn);
  if (bits(insn, 29, 27) === 0b101 && bit(insn, 25) === 0) return planPair(insn);
  if (bits(insn, 29, 27) === 0b111 && bit(insn, 25) === 0) {
    if (bit(insn, 24) === 1) return planRegUnsignedImm(insn);
    if (bit(insn, 21) === 0) return planRegImm9(insn);
    switch (bits(insn, 11, 10)) {
      case 0b00: return planAtomic(insn);
      case 0b10: return planRegOffset(insn);
      default: return planPac(insn);
    }
  }
  return unknown('load/store class not handled (memory tags, SVE, MOPS or unallocated)');
}

/** LDR (literal), LDRSW (literal), PRFM (literal), LDR (literal, SIMD&FP). */
function planLiteral(insn: number): AccessPlan {
  const opc = bits(insn, 31, 30);
  const v = bit(insn, 26);
  const addr = at(BASE_PC, signExtend(bits(insn, 23, 5), 19) * 4);
  if (v === 0) {
    switch (opc) {
      case 0b00: return plan('LDR (literal, W)', addr, 4, 'read');
      case 0b01: return plan('LDR (literal, X)', addr, 8, 'read');
      case 0b10: return plan('LDRSW (literal)', addr, 4, 'read');
      default: return none('PRFM (literal)');
    }
  }
  if (opc === 0b11) return unallocated(insn, 'load register (literal)');
  return plan('LDR (literal, SIMD&FP)', addr, 4 << opc, 'read');
}

/**
 * Load/store exclusive register and pair, load-acquire/store-release (ordered), and the
 * compare-and-swap family: size 001000 o2 L o1 Rs o0 Rt2 Rn Rt.
 */
function planExclusiveOrdered(insn: number): AccessPlan {
  const size = bits(insn, 31, 30);
  const o2 = bit(insn, 23);
  const l = bit(insn, 22);
  const o1 = bit(insn, 21);
  const addr = at(bits(insn, 9, 5));
  if (o2 === 0 && o1 === 0) {
    return plan(l ? 'LDXR/LDAXR' : 'STXR/STLXR', addr, 1 << size, l ? 'read' : 'write');
  }
  if (o2 === 0 && o1 === 1) {
    if (size >= 0b10) {
      // LDXP/LDAXP/STXP/STLXP: two registers of 32 (size 10) or 64 (size 11) bits.
      return plan(l ? 'LDXP/LDAXP' : 'STXP/STLXP', addr, 2 * (4 << (size & 1)), l ? 'read' : 'write');
    }
    // CASP/CASPA/CASPL/CASPAL: size<0> selects 32- or 64-bit pairs; Rt2 must be 11111.
    if (bits(insn, 14, 10) !== 0b11111) return unallocated(insn, 'compare and swap pair');
    return plan('CASP', addr, 2 * (4 << size), 'write');
  }
  if (o2 === 1 && o1 === 0) {
    return plan(l ? 'LDAR/LDLAR' : 'STLR/STLLR', addr, 1 << size, l ? 'read' : 'write');
  }
  if (bits(insn, 14, 10) !== 0b11111) return unallocated(insn, 'compare and swap');
  return plan('CAS', addr, 1 << size, 'write');
}

/** LDAPUR*, STLUR* (RCPC2, unscaled immediate): size 011001 opc 0 imm9 00 Rn Rt. */
function planRcpcUnscaled(insn: number): AccessPlan {
  const size = bits(insn, 31, 30);
  const opc = bits(insn, 23, 22);
  const addr = at(bits(insn, 9, 5), signExtend(bits(insn, 20, 12), 9));
  if (opc === 0b00) return plan('STLUR', addr, 1 << size, 'write');
  if (opc === 0b01) return plan('LDAPUR', addr, 1 << size, 'read');
  // LDAPURS*: to 64 bits (opc 10) for B/H/W, to 32 bits (opc 11) for B/H.
  if ((opc === 0b10 && size === 0b11) || (opc === 0b11 && size >= 0b10)) return unallocated(insn, 'LDAPR/STLR (unscaled immediate)');
  return plan('LDAPURS', addr, 1 << size, 'read');
}

/**
 * Load/store register pair (post-indexed, offset, pre-indexed) and no-allocate pair (offset):
 * opc 101 V 0 idx(2) L imm7 Rt2 Rn Rt, idx: 00 no-allocate, 01 post, 10 offset, 11 pre.
 */
function planPair(insn: number): AccessPlan {
  const opc = bits(insn, 31, 30);
  const v = bit(insn, 26);
  const idx = bits(insn, 24, 23);
  const l = bit(insn, 22);
  let scale: number;
  let form: string;
  if (v === 1) {
    if (opc === 0b11) return unallocated(insn, 'load/store pair (SIMD&FP)');
    scale = 2 + opc;
    form = l ? 'LDP (SIMD&FP)' : 'STP (SIMD&FP)';
  } else if (opc === 0b01) {
    // LDPSW; the L=0 encodings are STGP (memory tagging), which this CPU does not implement.
    if (l === 0 || idx === 0b00) return unallocated(insn, 'load/store pair');
    scale = 2;
    form = 'LDPSW';
  } else if (opc === 0b11) {
    return unallocated(insn, 'load/store pair');
  } else {
    scale = 2 + (opc >> 1);
    form = l ? 'LDP' : 'STP';
  }
  if (idx === 0b00) form = l ? form.replace('LDP', 'LDNP') : form.replace('STP', 'STNP');
  const offset = signExtend(bits(insn, 21, 15), 7) * (1 << scale);
  return plan(form, at(bits(insn, 9, 5), idx === 0b01 ? 0 : offset), 2 << scale, l ? 'read' : 'write');
}

/** Access size and kind of the single-register forms (size, V, opc), or null if unallocated. */
interface RegForm {
  size: number;
  kind: AccessKind | 'prefetch';
}

function regForm(size: number, v: number, opc: number, prefetchAllowed: boolean): RegForm | null {
  if (v === 1) {
    if (opc <= 0b01) return { size: 1 << size, kind: opc === 0 ? 'write' : 'read' };
    if (size === 0b00) return { size: 16, kind: opc === 0b10 ? 'write' : 'read' };
    return null;
  }
  switch (opc) {
    case 0b00: return { size: 1 << size, kind: 'write' };
    case 0b01: return { size: 1 << size, kind: 'read' };
    case 0b10:
      if (size === 0b11) return prefetchAllowed ? { size: 8, kind: 'prefetch' } : null;
      return { size: 1 << size, kind: 'read' }; // LDRSB/LDRSH/LDRSW to 64 bits
    default:
      if (size >= 0b10) return null;
      return { size: 1 << size, kind: 'read' }; // LDRSB/LDRSH to 32 bits
  }
}

function regPlan(form: string, addr: AddressPlan, f: RegForm): AccessPlan {
  if (f.kind === 'prefetch') return none(`PRFM/PRFUM (${form})`);
  return plan(`${f.kind === 'write' ? 'STR' : 'LDR'} (${form})`, addr, f.size, f.kind);
}

/** Load/store register (unsigned immediate): size 111 V 01 opc imm12 Rn Rt. */
function planRegUnsignedImm(insn: number): AccessPlan {
  const size = bits(insn, 31, 30);
  const v = bit(insn, 26);
  const opc = bits(insn, 23, 22);
  const f = regForm(size, v, opc, true);
  if (!f) return unallocated(insn, 'load/store register (unsigned immediate)');
  const scale = v === 1 && opc >= 0b10 ? 4 : size;
  const offset = bits(insn, 21, 10) * (1 << scale);
  return regPlan('unsigned immediate', at(bits(insn, 9, 5), offset), f);
}

const IMM9_NAMES = ['unscaled immediate', 'immediate post-indexed', 'unprivileged', 'immediate pre-indexed'] as const;

/**
 * The imm9 forms: size 111 V 00 opc 0 imm9 op(2) Rn Rt, op: 00 unscaled (LDUR/STUR/PRFUM),
 * 01 post-indexed, 10 unprivileged (LDTR/STTR), 11 pre-indexed.
 */
function planRegImm9(insn: number): AccessPlan {
  const size = bits(insn, 31, 30);
  const v = bit(insn, 26);
  const opc = bits(insn, 23, 22);
  const op = bits(insn, 11, 10);
  if (op === 0b10 && v === 1) return unallocated(insn, 'load/store register (unprivileged)');
  const f = regForm(size, v, opc, op === 0b00);
  if (!f) return unallocated(insn, `load/store register (${IMM9_NAMES[op]})`);
  const offset = op === 0b01 ? 0 : signExtend(bits(insn, 20, 12), 9);
  return regPlan(IMM9_NAMES[op]!, at(bits(insn, 9, 5), offset), f);
}

/** Load/store register (register offset): size 111 V 00 opc 1 Rm option S 10 Rn Rt. */
function planRegOffset(insn: number): AccessPlan {
  const size = bits(insn, 31, 30);
  const v = bit(insn, 26);
  const opc = bits(insn, 23, 22);
  const option = bits(insn, 15, 13);
  const s = bit(insn, 12);
  const f = regForm(size, v, opc, true);
  if (!f || (option & 0b010) === 0) return unallocated(insn, 'load/store register (register offset)');
  const scale = v === 1 && opc >= 0b10 ? 4 : size;
  return regPlan('register offset', indexed(bits(insn, 9, 5), bits(insn, 20, 16), option, s ? scale : 0), f);
}

const ATOMIC_NAMES = ['LDADD', 'LDCLR', 'LDEOR', 'LDSET', 'LDSMAX', 'LDSMIN', 'LDUMAX', 'LDUMIN'] as const;

/**
 * Atomic memory operations (LSE): size 111 V 00 A R 1 Rs o3 opc 00 Rn Rt. LDADD, LDCLR, LDEOR,
 * LDSET, LDSMAX, LDSMIN, LDUMAX, LDUMIN (o3 = 0), SWP (o3 = 1, opc = 000) and, in the same
 * class, LDAPR (o3 = 1, opc = 100).
 */
function planAtomic(insn: number): AccessPlan {
  const size = bits(insn, 31, 30);
  const v = bit(insn, 26);
  const o3 = bit(insn, 15);
  const opc = bits(insn, 14, 12);
  if (v === 1) return unallocated(insn, 'atomic memory operations');
  const addr = at(bits(insn, 9, 5));
  if (o3 === 0) return plan(ATOMIC_NAMES[opc]!, addr, 1 << size, 'write');
  if (opc === 0b000) return plan('SWP', addr, 1 << size, 'write');
  if (opc === 0b100 && bit(insn, 23) === 1 && bit(insn, 22) === 0 && bits(insn, 20, 16) === 0b11111) {
    return plan('LDAPR', addr, 1 << size, 'read');
  }
  return unallocated(insn, 'atomic memory operations');
}

/** LDRAA/LDRAB: 11 111 0 00 M S 1 imm9 W 1 Rn Rt (with the data keys off, no authentication). */
function planPac(insn: number): AccessPlan {
  if (bits(insn, 31, 30) !== 0b11 || bit(insn, 26) !== 0 || bit(insn, 10) !== 1) {
    return unallocated(insn, 'load/store register (pac)');
  }
  const simm10 = signExtend((bit(insn, 22) << 9) | bits(insn, 20, 12), 10) * 8;
  return plan(bit(insn, 23) ? 'LDRAB' : 'LDRAA', at(bits(insn, 9, 5), simm10), 8, 'read');
}

/**
 * Advanced SIMD load/store multiple structures, with and without post-index:
 * 0 Q 001100 p L 0 Rm opcode(4) size Rn Rt.
 */
function planSimdMultiple(insn: number): AccessPlan {
  const q = bit(insn, 30);
  const postIndex = bit(insn, 23);
  const l = bit(insn, 22);
  const opcode = bits(insn, 15, 12);
  const size = bits(insn, 11, 10);
  if (bit(insn, 21) !== 0 || (postIndex === 0 && bits(insn, 20, 16) !== 0)) return unallocated(insn, 'SIMD load/store multiple structures');
  let regs: number;
  let name: string;
  switch (opcode) {
    case 0b0000: regs = 4; name = 'LD4/ST4'; break;
    case 0b0010: regs = 4; name = 'LD1/ST1 (4 registers)'; break;
    case 0b0100: regs = 3; name = 'LD3/ST3'; break;
    case 0b0110: regs = 3; name = 'LD1/ST1 (3 registers)'; break;
    case 0b0111: regs = 1; name = 'LD1/ST1 (1 register)'; break;
    case 0b1000: regs = 2; name = 'LD2/ST2'; break;
    case 0b1010: regs = 2; name = 'LD1/ST1 (2 registers)'; break;
    default: return unallocated(insn, 'SIMD load/store multiple structures');
  }
  // LD2/LD3/LD4 have no 64-bit elements in a 64-bit vector (size:Q = 110).
  const interleaved = opcode === 0b0000 || opcode === 0b0100 || opcode === 0b1000;
  if (interleaved && size === 0b11 && q === 0) return unallocated(insn, 'SIMD load/store multiple structures');
  return plan(`${name}${postIndex ? ' post-index' : ''}`, at(bits(insn, 9, 5)), regs * (q ? 16 : 8), l ? 'read' : 'write');
}

/**
 * Advanced SIMD load/store single structure (one lane, or replicate for LD1R..LD4R), with and
 * without post-index: 0 Q 001101 p L R Rm opcode(3) S size Rn Rt.
 */
function planSimdSingle(insn: number): AccessPlan {
  const postIndex = bit(insn, 23);
  const l = bit(insn, 22);
  const r = bit(insn, 21);
  const opcode = bits(insn, 15, 13);
  const s = bit(insn, 12);
  const size = bits(insn, 11, 10);
  if (postIndex === 0 && bits(insn, 20, 16) !== 0) return unallocated(insn, 'SIMD load/store single structure');
  const selem = (((opcode & 1) << 1) | r) + 1;
  let scale = opcode >> 1;
  let replicate = false;
  switch (scale) {
    case 3:
      if (l === 0 || s === 1) return unallocated(insn, 'SIMD load/store single structure');
      scale = size;
      replicate = true;
      break;
    case 0:
      break;
    case 1:
      if (size & 1) return unallocated(insn, 'SIMD load/store single structure');
      break;
    case 2:
      if (size & 2) return unallocated(insn, 'SIMD load/store single structure');
      if (size & 1) {
        if (s === 1) return unallocated(insn, 'SIMD load/store single structure');
        scale = 3;
      }
      break;
  }
  const form = `${replicate ? `LD${selem}R` : `${l ? 'LD' : 'ST'}${selem} (single structure)`}${postIndex ? ' post-index' : ''}`;
  return plan(form, at(bits(insn, 9, 5)), selem * (1 << scale), l ? 'read' : 'write');
}

/** DC/IC maintenance by VA other than DC ZVA, by CRm.op2, reported as one-byte reads. */
const MAINTENANCE: Readonly<Record<string, string>> = { '11.1': 'DC CVAU', '10.1': 'DC CVAC', '12.1': 'DC CVAP', '13.1': 'DC CVADP', '14.1': 'DC CIVAC', '5.1': 'IC IVAU' };

/**
 * System instructions with an address operand: DC ZVA (a write of one whole block, the address
 * aligned down to the block) and the data/instruction cache maintenance operations to the point
 * of coherency/unification (reported as reads of one byte: they can take translation faults but
 * move no data).
 */
function planSys(insn: number): AccessPlan {
  // 1101 0101 0000 1 op1(3) CRn(4) CRm(4) op2(3) Rt, with L (bit 21) = 0 and op0 = 01.
  const op1 = bits(insn, 18, 16);
  const crn = bits(insn, 15, 12);
  const crm = bits(insn, 11, 8);
  const op2 = bits(insn, 7, 5);
  const rt = bits(insn, 4, 0);
  if (bits(insn, 21, 19) !== 0b001 || crn !== 7 || op1 !== 3) return unknown('system instruction without a memory operand');
  // The address is Xt itself (31 is XZR here, not SP).
  const xt = indexed(BASE_ZERO, rt, 0b011, 0);
  if (crm === 4 && op2 === 1) return plan('DC ZVA', xt, DCZ_BLOCK, 'write');
  const name = MAINTENANCE[`${crm}.${op2}`];
  if (name) return plan(name, xt, 1, 'read');
  return unknown('system instruction without a memory operand');
}

/** Splits an access into the pieces that fall in each `pageSize` page, in address order. */
export function splitByPage(a: MemAccess, pageSize: number): MemAccess[] {
  const first = Math.floor(a.va / pageSize);
  const last = Math.floor((a.va + a.size - 1) / pageSize);
  if (first === last) return [a];
  const out: MemAccess[] = [];
  let va = a.va;
  const end = a.va + a.size;
  while (va < end) {
    const next = Math.min(end, (Math.floor(va / pageSize) + 1) * pageSize);
    out.push({ va, size: next - va, kind: a.kind });
    va = next;
  }
  return out;
}

/** The instruction word as 8 hex digits, for messages. */
export function insnHex(insn: number): string {
  return '0x' + (insn >>> 0).toString(16).padStart(8, '0');
}
