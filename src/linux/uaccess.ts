/**
 * The kernel touching user memory on a syscall's behalf: fixed-size copies that succeed whole or
 * fail with EFAULT (copy_to_user/copy_from_user as syscalls use them), path names with
 * getname()'s errors, and little-endian struct encoding for the uapi structs syscalls fill.
 *
 * Every access goes through `ProcessMemory`, so it faults pages in through the model like the
 * kernel's uaccess does. access_ok comes first: a range reaching past TASK_SIZE fails at once.
 */
import type { ProcessMemory } from '../mm/api.js';
import { DEFAULT_TASK_SIZE } from '../mm/vma.js';
import { EFAULT, EINVAL, ENAMETOOLONG, ENOENT } from '../util/errno.js';

/** PATH_MAX, including the terminating NUL (include/uapi/linux/limits.h). */
export const PATH_MAX = 4096;
const PAGE_SIZE = 4096;
/** How much a string read asks for at once: short paths stay one small copy. */
const STRING_CHUNK = 256;

/** access_ok: the whole range lies below TASK_SIZE. */
export function accessOk(va: number, len: number): boolean {
  return va >= 0 && len >= 0 && va <= DEFAULT_TASK_SIZE && len <= DEFAULT_TASK_SIZE - va;
}

/** Writes all of `bytes` at `va`: 0, or -EFAULT if any byte could not be written. */
export function putUser(mm: ProcessMemory, va: number, bytes: Uint8Array): number {
  if (bytes.length === 0) return 0;
  if (!accessOk(va, bytes.length)) return -EFAULT;
  return mm.copyToUser(va, bytes) === bytes.length ? 0 : -EFAULT;
}

/** Reads exactly `len` bytes at `va`, or null (EFAULT). */
export function getUser(mm: ProcessMemory, va: number, len: number): Uint8Array | null {
  if (len === 0) return new Uint8Array(0);
  if (!accessOk(va, len)) return null;
  const got = mm.copyFromUser(va, len);
  return got !== null && got.length === len ? got : null;
}

/**
 * Reads up to `len` bytes at `va`, stopping at the first byte that cannot be read (the partial
 * copies of read/write paths). Returns what was read (possibly empty). With `scratch`, a copy
 * that does not fault lands there (a view of it comes back), for a caller that uses the bytes
 * at once.
 */
export function getUserPartial(mm: ProcessMemory, va: number, len: number, scratch?: Uint8Array): Uint8Array {
  if (len === 0 || !accessOk(va, 1)) return new Uint8Array(0);
  const n = Math.min(len, DEFAULT_TASK_SIZE - va);
  const whole = mm.copyFromUser(va, n, scratch);
  if (whole !== null) return whole;
  // A copy that faults may come back as nothing at all; find where it stops a page at a time,
  // so the caller gets the bytes before the fault, as the kernel's copy loops do.
  const parts: Uint8Array[] = [];
  let done = 0;
  while (done < n) {
    const take = Math.min(n - done, PAGE_SIZE - ((va + done) % PAGE_SIZE));
    const got = mm.copyFromUser(va + done, take);
    if (got === null) break;
    parts.push(got);
    done += got.length;
    if (got.length < take) break;
  }
  return concat(parts, done);
}

/** Writes up to all of `bytes`; returns how many were written. */
export function putUserPartial(mm: ProcessMemory, va: number, bytes: Uint8Array): number {
  if (bytes.length === 0 || !accessOk(va, 1)) return 0;
  const n = Math.min(bytes.length, DEFAULT_TASK_SIZE - va);
  return mm.copyToUser(va, n === bytes.length ? bytes : bytes.subarray(0, n));
}

export type UserString = { kind: 'ok'; value: string; bytes: Uint8Array } | { kind: 'error'; errno: number };

/**
 * A NUL-terminated string of at most `max` bytes including the NUL (strncpy_from_user with the
 * length check of its caller): -EFAULT if a byte before the NUL cannot be read, -ENAMETOOLONG
 * (or `tooLong`) if there is no NUL within `max` bytes.
 */
export function getUserString(mm: ProcessMemory, va: number, max: number, tooLong = ENAMETOOLONG): UserString {
  const parts: Uint8Array[] = [];
  let total = 0;
  let p = va;
  while (total < max) {
    const pageLeft = PAGE_SIZE - (p % PAGE_SIZE);
    const want = Math.min(STRING_CHUNK, pageLeft, max - total);
    if (!accessOk(p, 1)) return { kind: 'error', errno: EFAULT };
    const got = mm.copyFromUser(p, Math.min(want, DEFAULT_TASK_SIZE - p)) ?? new Uint8Array(0);
    const nul = got.indexOf(0);
    if (nul >= 0) {
      parts.push(got.subarray(0, nul));
      const bytes = concat(parts, total + nul);
      return { kind: 'ok', value: new TextDecoder().decode(bytes), bytes };
    }
    if (got.length < want) return { kind: 'error', errno: EFAULT };
    parts.push(got);
    total += got.length;
    p += got.length;
  }
  return { kind: 'error', errno: tooLong };
}

/** getname(): a path name; the empty name is ENOENT unless the caller allows it (AT_EMPTY_PATH). */
export function getPathname(mm: ProcessMemory, va: number, allowEmpty = false): UserString {
  const r = getUserString(mm, va, PATH_MAX);
  if (r.kind === 'ok' && r.value === '' && !allowEmpty) return { kind: 'error', errno: ENOENT };
  return r;
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Little-endian encoder for the uapi structs a syscall fills (struct stat, statx, timespec,
 * rlimit, utsname ...). Fields are written at explicit offsets so a struct reads like its header.
 */
export class StructWriter {
  readonly bytes: Uint8Array;
  private readonly dv: DataView;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.dv = new DataView(this.bytes.buffer);
  }

  u8(off: number, v: number): this {
    this.dv.setUint8(off, v);
    return this;
  }

  u16(off: number, v: number): this {
    this.dv.setUint16(off, v, true);
    return this;
  }

  u32(off: number, v: number): this {
    this.dv.setUint32(off, v >>> 0, true);
    return this;
  }

  i32(off: number, v: number): this {
    this.dv.setInt32(off, v, true);
    return this;
  }

  /** A 64-bit field from a non-negative safe integer, a negative one, or a bigint. */
  u64(off: number, v: number | bigint): this {
    this.dv.setBigUint64(off, BigInt.asUintN(64, BigInt(v)), true);
    return this;
  }

  /** A NUL-padded string field of `size` bytes (truncated to leave the NUL). */
  str(off: number, size: number, s: string): this {
    const b = new TextEncoder().encode(s).subarray(0, size - 1);
    this.bytes.set(b, off);
    return this;
  }
}

/** Little-endian reader for structs copied in from the guest. */
export class StructReader {
  private readonly dv: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  u32(off: number): number {
    return this.dv.getUint32(off, true);
  }

  i32(off: number): number {
    return this.dv.getInt32(off, true);
  }

  u64(off: number): bigint {
    return this.dv.getBigUint64(off, true);
  }

  i64(off: number): bigint {
    return this.dv.getBigInt64(off, true);
  }

  /** An unsigned 64-bit field as a number, clamped to 2^53 (see syscalls/args.ts). */
  ulong(off: number): number {
    const v = this.dv.getBigUint64(off, true);
    return v >= 2n ** 53n ? 2 ** 53 : Number(v);
  }
}

/**
 * get_timespec64 with timespec64_valid: a struct timespec (tv_sec, tv_nsec) at `va` as
 * nanoseconds, or -EFAULT / -EINVAL.
 */
export function getTimespecNs(mm: ProcessMemory, va: number): bigint | number {
  const raw = getUser(mm, va, 16);
  if (raw === null) return -EFAULT;
  const r = new StructReader(raw);
  const sec = r.i64(0);
  const nsec = r.i64(8);
  if (sec < 0n || nsec < 0n || nsec >= 1_000_000_000n) return -EINVAL;
  return sec * 1_000_000_000n + nsec;
}
