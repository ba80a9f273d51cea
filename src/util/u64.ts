/**
 * 64-bit guest values.
 *
 * Convention for the whole project:
 * - Virtual and physical addresses, sizes and page frame numbers are plain `number`s. Guest VAs
 *   are below 2^48 and PAs below 2^44, so they are exact in a double; use `Math.floor(x / 2**n)`
 *   or the helpers below for shifts above bit 31 (the bitwise operators work on 32 bits).
 * - A raw 64-bit value whose high bits matter (a descriptor, a TLBI operand, a register) is a
 *   `U64`: two unsigned 32-bit halves. It is cheap (no BigInt allocation on hot paths) and exact.
 * - `bigint` appears only at the edges: parsing user input, printing, and the FFI.
 */

export interface U64 {
  /** Bits [31:0], unsigned. */
  readonly lo: number;
  /** Bits [63:32], unsigned. */
  readonly hi: number;
}

export const TWO32 = 4294967296;

export function u64(lo: number, hi: number): U64 {
  return { lo: lo >>> 0, hi: hi >>> 0 };
}

/**
 * Every `{lo, hi}` object shares one V8 hidden class, and with it one storage choice per field.
 * Once some half above 2^31 has been stored (a register, a TLBI operand), V8 would store the field
 * as a double in a box of its own, so that each U64 made costs two 16-byte boxes besides its 40
 * bytes, whatever its halves. A field that has held a value other than a number stores a half
 * below 2^31 (every descriptor half, with up to 2 GiB of guest memory) inline instead, and a
 * higher one as one box: the first `{lo, hi}` made, the zero below, makes both fields so.
 */
function withTaggedFields(): U64 {
  const v: { lo: unknown; hi: unknown } = { lo: null, hi: null };
  v.lo = 0;
  v.hi = 0;
  return v as U64;
}

export const U64_ZERO: U64 = Object.freeze(withTaggedFields());

/**
 * The first value of an address field in a record reused on a hot path whose field is written
 * once per use and then read and passed to calls (the address of the fault in progress). An
 * address above 2^31 is a heap number when passed: a field that has only held numbers keeps a
 * double, and V8 boxes it anew at every read that is passed on; a field that first held this
 * keeps the box it was given, so the reads allocate nothing. Writers store a number before any
 * read.
 */
export const ADDRESS_UNSET = null as unknown as number;

/**
 * A U64 that its owner rewrites in place with any 64-bit value (a register read into a reused
 * record). A class, so a hidden class of its own: its halves are stored as doubles in place, and
 * a rewrite with a half above 2^31 allocates nothing (it would in a `{lo, hi}` object, above).
 */
export class U64Slot implements U64 {
  lo = 0;
  hi = 0;
}

export function u64Equal(a: U64, b: U64): boolean {
  return a.lo === b.lo && a.hi === b.hi;
}

export function u64IsZero(a: U64): boolean {
  return a.lo === 0 && a.hi === 0;
}

/** A U64 from a non-negative integer below 2^53. */
export function u64FromNumber(n: number): U64 {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a non-negative safe integer: ${n}`);
  return { lo: n >>> 0, hi: Math.floor(n / TWO32) >>> 0 };
}

/** The value as a number; throws if it is 2^53 or more. */
export function u64ToNumber(v: U64): number {
  if (v.hi >= 0x200000) throw new RangeError(`value ${u64Hex(v)} does not fit in a double exactly`);
  return v.hi * TWO32 + v.lo;
}

export function u64FromBigInt(b: bigint): U64 {
  const v = BigInt.asUintN(64, b);
  return { lo: Number(v & 0xffffffffn), hi: Number(v >> 32n) };
}

export function u64ToBigInt(v: U64): bigint {
  return (BigInt(v.hi) << 32n) | BigInt(v.lo);
}

export function u64Hex(v: U64): string {
  return '0x' + v.hi.toString(16).padStart(8, '0') + v.lo.toString(16).padStart(8, '0');
}

export function u64Or(a: U64, b: U64): U64 {
  return { lo: (a.lo | b.lo) >>> 0, hi: (a.hi | b.hi) >>> 0 };
}

export function u64And(a: U64, b: U64): U64 {
  return { lo: (a.lo & b.lo) >>> 0, hi: (a.hi & b.hi) >>> 0 };
}

export function u64AndNot(a: U64, b: U64): U64 {
  return { lo: (a.lo & ~b.lo) >>> 0, hi: (a.hi & ~b.hi) >>> 0 };
}

/** Bit `n` (0..63) of `v`. */
export function u64Bit(v: U64, n: number): number {
  return n < 32 ? (v.lo >>> n) & 1 : (v.hi >>> (n - 32)) & 1;
}

/** Bits [msb:lsb] of `v` as a number (the field must be at most 32 bits wide). */
export function u64Bits(v: U64, msb: number, lsb: number): number {
  const width = msb - lsb + 1;
  if (width > 32) throw new RangeError('u64Bits: field wider than 32 bits');
  const mask = width === 32 ? 0xffffffff : (1 << width) - 1;
  if (lsb >= 32) return ((v.hi >>> (lsb - 32)) & mask) >>> 0;
  if (msb < 32) return ((v.lo >>> lsb) & mask) >>> 0;
  // The field straddles bit 32.
  const low = v.lo >>> lsb;
  const high = v.hi << (32 - lsb);
  return ((low | high) & mask) >>> 0;
}

/** `v` with bits [msb:lsb] replaced by `field` (at most 32 bits wide). */
export function u64WithBits(v: U64, msb: number, lsb: number, field: number): U64 {
  let result = v;
  for (let bit = lsb; bit <= msb; bit++) {
    result = u64WithBit(result, bit, (field >>> (bit - lsb)) & 1);
  }
  return result;
}

export function u64WithBit(v: U64, n: number, value: number): U64 {
  if (n < 32) {
    const m = 1 << n;
    return { lo: (value ? v.lo | m : v.lo & ~m) >>> 0, hi: v.hi };
  }
  const m = 1 << (n - 32);
  return { lo: v.lo, hi: (value ? v.hi | m : v.hi & ~m) >>> 0 };
}
