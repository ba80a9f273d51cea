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
 */
import { type U64, TWO32 } from '../util/u64.js';

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

/** The registers a decode needs; values are the 64-bit contents before the instruction runs. */
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
}

// ---- 64-bit address arithmetic on {lo, hi} halves, wrapping modulo 2^64 ----

const ZERO: U64 = { lo: 0, hi: 0 };

function add64(a: U64, b: U64): U64 {
  const lo = a.lo + b.lo;
  const carry = lo >= TWO32 ? 1 : 0;
  return { lo: lo >>> 0, hi: (a.hi + b.hi + carry) >>> 0 };
}

/** A signed integer (|n| < 2^31) as a 64-bit two's complement value. */
function fromInt(n: number): U64 {
  return { lo: n >>> 0, hi: n < 0 ? 0xffffffff : 0 };
}

function shl64(a: U64, s: number): U64 {
  if (s === 0) return a;
  return { lo: (a.lo << s) >>> 0, hi: ((a.hi << s) | (a.lo >>> (32 - s))) >>> 0 };
}

function alignDown64(a: U64, bytes: number): U64 {
  return { lo: (a.lo & ~(bytes - 1)) >>> 0, hi: a.hi };
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

// ---- results ----

function access(form: string, va: U64, size: number, kind: AccessKind): DecodeResult {
  let m: MemAccess;
  if (va.hi < 0x200000) {
    m = { va: va.hi * TWO32 + va.lo, size, kind };
  } else {
    m = { va: va.hi * TWO32 + va.lo, size, kind, vaBig: (BigInt(va.hi) << 32n) | BigInt(va.lo) };
  }
  return { kind: 'access', form, accesses: [m] };
}

function none(form: string): DecodeResult {
  return { kind: 'access', form, accesses: [] };
}

function unknown(reason: string): DecodeResult {
  return { kind: 'unknown', reason };
}

function unallocated(insn: number, cls: string): DecodeResult {
  return unknown(`unallocated encoding in class '${cls}' (0x${(insn >>> 0).toString(16).padStart(8, '0')})`);
}

// ---- register operands ----

/** Rn as a base register: 31 is SP. */
function base(ctx: DecodeContext, rn: number): U64 {
  return rn === 31 ? ctx.regs.sp() : ctx.regs.x(rn);
}

/** Rm as an index register: 31 is XZR. */
function index(ctx: DecodeContext, rm: number): U64 {
  return rm === 31 ? ZERO : ctx.regs.x(rm);
}

/**
 * ExtendReg for the register-offset addressing mode: option 010 UXTW, 011 LSL/UXTX, 110 SXTW,
 * 111 SXTX, then shifted left by `shift`.
 */
function extendedIndex(ctx: DecodeContext, rm: number, option: number, shift: number): U64 {
  const v = index(ctx, rm);
  let e: U64;
  switch (option) {
    case 0b010: e = { lo: v.lo, hi: 0 }; break;
    case 0b110: e = { lo: v.lo, hi: v.lo & 0x80000000 ? 0xffffffff : 0 }; break;
    case 0b011:
    case 0b111: e = v; break;
    default: throw new Error('unreachable extend option');
  }
  return shl64(e, shift);
}

// ---- the decoder ----

/** Decodes the memory accesses of `insn` (a 32-bit A64 instruction word). */
export function decodeAccess(insn: number, ctx: DecodeContext): DecodeResult {
  insn >>>= 0;
  // DC ZVA and the other data-cache operations by VA live among the system instructions.
  if (((insn & 0xfff80000) >>> 0) === 0xd5080000) return decodeSys(insn, ctx);
  // Loads and Stores: op0 = x1x0 in bits [28:25].
  if ((insn & 0x0a000000) !== 0x08000000) return unknown('not a load/store instruction');

  const b29_24 = bits(insn, 29, 24);
  // SIMD structure loads/stores: bits[31]=0, bits[29:24] = 001100 / 001101.
  if (bit(insn, 31) === 0 && (b29_24 === 0b001100 || b29_24 === 0b001101)) {
    return b29_24 === 0b001100 ? decodeSimdMultiple(insn, ctx) : decodeSimdSingle(insn, ctx);
  }
  if (b29_24 === 0b001000) return decodeExclusiveOrdered(insn, ctx);
  if (b29_24 === 0b011001 && bit(insn, 21) === 0 && bits(insn, 11, 10) === 0) return decodeRcpcUnscaled(insn, ctx);
  if (bits(insn, 29, 27) === 0b011 && bits(insn, 25, 24) === 0) return decodeLiteral(insn, ctx);
  if (bits(insn, 29, 27) === 0b101 && bit(insn, 25) === 0) return decodePair(insn, ctx);
  if (bits(insn, 29, 27) === 0b111 && bit(insn, 25) === 0) {
    if (bit(insn, 24) === 1) return decodeRegUnsignedImm(insn, ctx);
    if (bit(insn, 21) === 0) return decodeRegImm9(insn, ctx);
    switch (bits(insn, 11, 10)) {
      case 0b00: return decodeAtomic(insn, ctx);
      case 0b10: return decodeRegOffset(insn, ctx);
      default: return decodePac(insn, ctx);
    }
  }
  return unknown('load/store class not handled (memory tags, SVE, MOPS or unallocated)');
}

/** LDR (literal), LDRSW (literal), PRFM (literal), LDR (literal, SIMD&FP). */
function decodeLiteral(insn: number, ctx: DecodeContext): DecodeResult {
  const opc = bits(insn, 31, 30);
  const v = bit(insn, 26);
  const offset = signExtend(bits(insn, 23, 5), 19) * 4;
  const pc = { lo: ctx.pc >>> 0, hi: Math.floor(ctx.pc / TWO32) >>> 0 };
  const va = add64(pc, fromInt(offset));
  if (v === 0) {
    switch (opc) {
      case 0b00: return access('LDR (literal, W)', va, 4, 'read');
      case 0b01: return access('LDR (literal, X)', va, 8, 'read');
      case 0b10: return access('LDRSW (literal)', va, 4, 'read');
      default: return none('PRFM (literal)');
    }
  }
  if (opc === 0b11) return unallocated(insn, 'load register (literal)');
  return access('LDR (literal, SIMD&FP)', va, 4 << opc, 'read');
}

/**
 * Load/store exclusive register and pair, load-acquire/store-release (ordered), and the
 * compare-and-swap family: size 001000 o2 L o1 Rs o0 Rt2 Rn Rt.
 */
function decodeExclusiveOrdered(insn: number, ctx: DecodeContext): DecodeResult {
  const size = bits(insn, 31, 30);
  const o2 = bit(insn, 23);
  const l = bit(insn, 22);
  const o1 = bit(insn, 21);
  const rn = bits(insn, 9, 5);
  const va = base(ctx, rn);
  if (o2 === 0 && o1 === 0) {
    return access(l ? 'LDXR/LDAXR' : 'STXR/STLXR', va, 1 << size, l ? 'read' : 'write');
  }
  if (o2 === 0 && o1 === 1) {
    if (size >= 0b10) {
      // LDXP/LDAXP/STXP/STLXP: two registers of 32 (size 10) or 64 (size 11) bits.
      return access(l ? 'LDXP/LDAXP' : 'STXP/STLXP', va, 2 * (4 << (size & 1)), l ? 'read' : 'write');
    }
    // CASP/CASPA/CASPL/CASPAL: size<0> selects 32- or 64-bit pairs; Rt2 must be 11111.
    if (bits(insn, 14, 10) !== 0b11111) return unallocated(insn, 'compare and swap pair');
    return access('CASP', va, 2 * (4 << size), 'write');
  }
  if (o2 === 1 && o1 === 0) {
    return access(l ? 'LDAR/LDLAR' : 'STLR/STLLR', va, 1 << size, l ? 'read' : 'write');
  }
  if (bits(insn, 14, 10) !== 0b11111) return unallocated(insn, 'compare and swap');
  return access('CAS', va, 1 << size, 'write');
}

/** LDAPUR*, STLUR* (RCPC2, unscaled immediate): size 011001 opc 0 imm9 00 Rn Rt. */
function decodeRcpcUnscaled(insn: number, ctx: DecodeContext): DecodeResult {
  const size = bits(insn, 31, 30);
  const opc = bits(insn, 23, 22);
  const va = add64(base(ctx, bits(insn, 9, 5)), fromInt(signExtend(bits(insn, 20, 12), 9)));
  if (opc === 0b00) return access('STLUR', va, 1 << size, 'write');
  if (opc === 0b01) return access('LDAPUR', va, 1 << size, 'read');
  // LDAPURS*: to 64 bits (opc 10) for B/H/W, to 32 bits (opc 11) for B/H.
  if ((opc === 0b10 && size === 0b11) || (opc === 0b11 && size >= 0b10)) return unallocated(insn, 'LDAPR/STLR (unscaled immediate)');
  return access('LDAPURS', va, 1 << size, 'read');
}

/**
 * Load/store register pair (post-indexed, offset, pre-indexed) and no-allocate pair (offset):
 * opc 101 V 0 idx(2) L imm7 Rt2 Rn Rt, idx: 00 no-allocate, 01 post, 10 offset, 11 pre.
 */
function decodePair(insn: number, ctx: DecodeContext): DecodeResult {
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
  const rn = bits(insn, 9, 5);
  const offset = signExtend(bits(insn, 21, 15), 7) * (1 << scale);
  const b = base(ctx, rn);
  const va = idx === 0b01 ? b : add64(b, fromInt(offset));
  return access(form, va, 2 << scale, l ? 'read' : 'write');
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

function regAccess(form: string, va: U64, f: RegForm): DecodeResult {
  if (f.kind === 'prefetch') return none(`PRFM/PRFUM (${form})`);
  return access(`${f.kind === 'write' ? 'STR' : 'LDR'} (${form})`, va, f.size, f.kind);
}

/** Load/store register (unsigned immediate): size 111 V 01 opc imm12 Rn Rt. */
function decodeRegUnsignedImm(insn: number, ctx: DecodeContext): DecodeResult {
  const size = bits(insn, 31, 30);
  const v = bit(insn, 26);
  const opc = bits(insn, 23, 22);
  const f = regForm(size, v, opc, true);
  if (!f) return unallocated(insn, 'load/store register (unsigned immediate)');
  const scale = v === 1 && opc >= 0b10 ? 4 : size;
  const offset = bits(insn, 21, 10) * (1 << scale);
  const va = add64(base(ctx, bits(insn, 9, 5)), { lo: offset >>> 0, hi: 0 });
  return regAccess('unsigned immediate', va, f);
}

/**
 * The imm9 forms: size 111 V 00 opc 0 imm9 op(2) Rn Rt, op: 00 unscaled (LDUR/STUR/PRFUM),
 * 01 post-indexed, 10 unprivileged (LDTR/STTR), 11 pre-indexed.
 */
function decodeRegImm9(insn: number, ctx: DecodeContext): DecodeResult {
  const size = bits(insn, 31, 30);
  const v = bit(insn, 26);
  const opc = bits(insn, 23, 22);
  const op = bits(insn, 11, 10);
  if (op === 0b10 && v === 1) return unallocated(insn, 'load/store register (unprivileged)');
  const f = regForm(size, v, opc, op === 0b00);
  const names = ['unscaled immediate', 'immediate post-indexed', 'unprivileged', 'immediate pre-indexed'];
  if (!f) return unallocated(insn, `load/store register (${names[op]})`);
  const b = base(ctx, bits(insn, 9, 5));
  const va = op === 0b01 ? b : add64(b, fromInt(signExtend(bits(insn, 20, 12), 9)));
  return regAccess(names[op]!, va, f);
}

/** Load/store register (register offset): size 111 V 00 opc 1 Rm option S 10 Rn Rt. */
function decodeRegOffset(insn: number, ctx: DecodeContext): DecodeResult {
  const size = bits(insn, 31, 30);
  const v = bit(insn, 26);
  const opc = bits(insn, 23, 22);
  const option = bits(insn, 15, 13);
  const s = bit(insn, 12);
  const f = regForm(size, v, opc, true);
  if (!f || (option & 0b010) === 0) return unallocated(insn, 'load/store register (register offset)');
  const scale = v === 1 && opc >= 0b10 ? 4 : size;
  const off = extendedIndex(ctx, bits(insn, 20, 16), option, s ? scale : 0);
  const va = add64(base(ctx, bits(insn, 9, 5)), off);
  return regAccess('register offset', va, f);
}

/**
 * Atomic memory operations (LSE): size 111 V 00 A R 1 Rs o3 opc 00 Rn Rt. LDADD, LDCLR, LDEOR,
 * LDSET, LDSMAX, LDSMIN, LDUMAX, LDUMIN (o3 = 0), SWP (o3 = 1, opc = 000) and, in the same
 * class, LDAPR (o3 = 1, opc = 100).
 */
function decodeAtomic(insn: number, ctx: DecodeContext): DecodeResult {
  const size = bits(insn, 31, 30);
  const v = bit(insn, 26);
  const o3 = bit(insn, 15);
  const opc = bits(insn, 14, 12);
  if (v === 1) return unallocated(insn, 'atomic memory operations');
  const va = base(ctx, bits(insn, 9, 5));
  if (o3 === 0) {
    const names = ['LDADD', 'LDCLR', 'LDEOR', 'LDSET', 'LDSMAX', 'LDSMIN', 'LDUMAX', 'LDUMIN'];
    return access(names[opc]!, va, 1 << size, 'write');
  }
  if (opc === 0b000) return access('SWP', va, 1 << size, 'write');
  if (opc === 0b100 && bit(insn, 23) === 1 && bit(insn, 22) === 0 && bits(insn, 20, 16) === 0b11111) {
    return access('LDAPR', va, 1 << size, 'read');
  }
  return unallocated(insn, 'atomic memory operations');
}

/** LDRAA/LDRAB: 11 111 0 00 M S 1 imm9 W 1 Rn Rt (with the data keys off, no authentication). */
function decodePac(insn: number, ctx: DecodeContext): DecodeResult {
  if (bits(insn, 31, 30) !== 0b11 || bit(insn, 26) !== 0 || bit(insn, 10) !== 1) {
    return unallocated(insn, 'load/store register (pac)');
  }
  const simm10 = signExtend((bit(insn, 22) << 9) | bits(insn, 20, 12), 10) * 8;
  const va = add64(base(ctx, bits(insn, 9, 5)), fromInt(simm10));
  return access(bit(insn, 23) ? 'LDRAB' : 'LDRAA', va, 8, 'read');
}

/**
 * Advanced SIMD load/store multiple structures, with and without post-index:
 * 0 Q 001100 p L 0 Rm opcode(4) size Rn Rt.
 */
function decodeSimdMultiple(insn: number, ctx: DecodeContext): DecodeResult {
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
  const va = base(ctx, bits(insn, 9, 5));
  return access(`${name}${postIndex ? ' post-index' : ''}`, va, regs * (q ? 16 : 8), l ? 'read' : 'write');
}

/**
 * Advanced SIMD load/store single structure (one lane, or replicate for LD1R..LD4R), with and
 * without post-index: 0 Q 001101 p L R Rm opcode(3) S size Rn Rt.
 */
function decodeSimdSingle(insn: number, ctx: DecodeContext): DecodeResult {
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
  const va = base(ctx, bits(insn, 9, 5));
  const form = `${replicate ? `LD${selem}R` : `${l ? 'LD' : 'ST'}${selem} (single structure)`}${postIndex ? ' post-index' : ''}`;
  return access(form, va, selem * (1 << scale), l ? 'read' : 'write');
}

/**
 * System instructions with an address operand: DC ZVA (a write of one whole block, the address
 * aligned down to the block) and the data/instruction cache maintenance operations to the point
 * of coherency/unification (reported as reads of one byte: they can take translation faults but
 * move no data).
 */
function decodeSys(insn: number, ctx: DecodeContext): DecodeResult {
  // 1101 0101 0000 1 op1(3) CRn(4) CRm(4) op2(3) Rt, with L (bit 21) = 0 and op0 = 01.
  const op1 = bits(insn, 18, 16);
  const crn = bits(insn, 15, 12);
  const crm = bits(insn, 11, 8);
  const op2 = bits(insn, 7, 5);
  const rt = bits(insn, 4, 0);
  if (bits(insn, 21, 19) !== 0b001 || crn !== 7 || op1 !== 3) return unknown('system instruction without a memory operand');
  const addr = index(ctx, rt);
  if (crm === 4 && op2 === 1) return access('DC ZVA', alignDown64(addr, ctx.dczBlockBytes), ctx.dczBlockBytes, 'write');
  const maintenance: Record<string, string> = { '11.1': 'DC CVAU', '10.1': 'DC CVAC', '12.1': 'DC CVAP', '13.1': 'DC CVADP', '14.1': 'DC CIVAC', '5.1': 'IC IVAU' };
  const name = maintenance[`${crm}.${op2}`];
  if (name) return access(name, addr, 1, 'read');
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
