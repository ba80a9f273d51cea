/**
 * Syscall arguments as the kernel's C types see them. The machine hands over x0..x5 as raw 64-bit
 * values (U64); each handler converts every argument by its declared type in the kernel's
 * SYSCALL_DEFINE, because that is what Linux does (the __se_sys_* wrappers truncate and extend):
 *
 * - `int` (fds of *at calls, flags, clock ids): the low 32 bits, sign-extended, so AT_FDCWD
 *   arrives as -100 however the caller filled the upper half;
 * - `unsigned int` (fds of read/write/close, sizes declared u32): the low 32 bits;
 * - `unsigned long`, `size_t` and pointers: all 64 bits;
 * - `long`, `off_t`, `loff_t`: all 64 bits, signed.
 *
 * 64-bit values become numbers. One above 2^53 cannot be exact, and no such value is a valid
 * address, size or offset in this model (TASK_SIZE is 2^40, files stop at 2^52), so it is clamped
 * to 2^53 (or -2^53): every range check still fails as it would with the true value.
 */
import { TWO32, type U64 } from '../../util/u64.js';

export const CLAMP = 2 ** 53;

/** `int`: low 32 bits, signed. */
export function argInt(v: U64): number {
  return v.lo | 0;
}

/** `unsigned int` / u32: low 32 bits. */
export function argUint(v: U64): number {
  return v.lo >>> 0;
}

/** `unsigned long`, `size_t`, pointers: 64 bits unsigned, clamped to 2^53. */
export function argUlong(v: U64): number {
  if (v.hi >= 0x200000) return CLAMP;
  return v.hi * TWO32 + v.lo;
}

/** `long`, `off_t`, `loff_t`: 64 bits signed, clamped to ±2^53. */
export function argLong(v: U64): number {
  if (v.hi < 0x80000000) return v.hi >= 0x200000 ? CLAMP : v.hi * TWO32 + v.lo;
  // Negative: -(2^64 - v).
  const negHi = (~v.hi >>> 0) + (v.lo === 0 ? 1 : 0);
  const negLo = v.lo === 0 ? 0 : TWO32 - v.lo;
  if (negHi >= 0x200000) return -CLAMP;
  return -(negHi * TWO32 + negLo);
}

/**
 * A user address whose top byte is a pointer tag: the kernel's untagged_addr (arm64
 * asm/uaccess.h), bits 63:56 cleared when bit 55 is clear (a user address; a kernel one keeps
 * them), then as argUlong. The address-space calls (munmap, mprotect, madvise, mremap's old
 * address, msync, mlock, munlock, mincore) untag their start this way whether or not the task
 * enabled the tagged address ABI; mmap, brk and mremap's new address do not
 * (Documentation/arch/arm64/tagged-address-abi.rst, v6.12).
 */
export function argUntagged(v: U64): number {
  return argUlong((v.hi & 0x00800000) === 0 ? { lo: v.lo, hi: v.hi & 0x00ffffff } : v);
}

/** A pointer argument: the address, and whether it is NULL. */
export function argPtr(v: U64): number {
  return argUlong(v);
}

/** The raw 64 bits as a bigint (masks, handler addresses, values stored and given back as is). */
export function argBig(v: U64): bigint {
  return (BigInt(v.hi) << 32n) | BigInt(v.lo);
}

/** x8 as the syscall number: arm64 takes the register's low 32 bits as an int. */
export function syscallNumberFromX8(x8: U64): number {
  return x8.lo | 0;
}

/** A syscall's return value as the 64-bit register value the guest sees in x0. */
export function returnRegister(value: number): U64 {
  if (!Number.isSafeInteger(value)) throw new RangeError(`syscall return value ${value} is not a safe integer`);
  if (value >= 0) return { lo: value >>> 0, hi: Math.floor(value / TWO32) >>> 0 };
  const mag = -value;
  const lo = mag % TWO32;
  const hi = Math.floor(mag / TWO32);
  // Two's complement of (hi, lo).
  const nlo = (TWO32 - lo) % TWO32;
  const nhi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  return { lo: nlo >>> 0, hi: nhi };
}

/** Arguments from bigints or numbers (tests, tools), as the registers would hold them. */
export function argsFrom(values: readonly (bigint | number)[]): U64[] {
  return values.map((x) => {
    const b = BigInt.asUintN(64, BigInt(x));
    return { lo: Number(b & 0xffffffffn), hi: Number(b >> 32n) };
  });
}
