/**
 * Simulated physical memory: one little-endian window over [base, base + size). Page tables, page
 * cache and anonymous pages all live in it; the engine hands the same bytes to Unicorn, so what
 * the model writes the guest sees. Descriptors are read as two aligned 32-bit words (see U64).
 * A U64 is immutable, so reading a zero word hands back the shared U64_ZERO: most descriptor
 * reads and stores on the fault paths meet empty entries, and this keeps them allocation-free.
 */
import { U64_ZERO, type U64 } from '../util/u64.js';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

/** Where a machine's guest-physical memory starts: 1 TiB (docs/internals.md, "Address space"). */
export const PHYS_BASE = 2 ** 40;

export class PhysMem {
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  readonly dv: DataView;
  readonly size: number;
  /** First and one-past-last page frame numbers of the window. */
  readonly basePfn: number;
  readonly endPfn: number;

  /**
   * @param buffer the bytes (an ArrayBuffer, or a view of host memory shared with Unicorn)
   * @param base physical address of buffer[0]; page aligned
   */
  constructor(
    readonly buffer: ArrayBuffer,
    readonly base: number,
  ) {
    if (base % PAGE_SIZE !== 0) throw new RangeError(`physical base 0x${base.toString(16)} is not page aligned`);
    this.size = buffer.byteLength;
    this.u8 = new Uint8Array(buffer);
    this.u32 = new Uint32Array(buffer, 0, Math.floor(buffer.byteLength / 4));
    this.dv = new DataView(buffer);
    this.basePfn = base / PAGE_SIZE;
    this.endPfn = this.basePfn + Math.floor(this.size / PAGE_SIZE);
  }

  /** A zero-filled window of `size` bytes; the OS backs it lazily. */
  static allocate(base: number, size: number): PhysMem {
    return new PhysMem(new ArrayBuffer(size), base);
  }

  contains(pa: number, len = 1): boolean {
    return pa >= this.base && pa + len <= this.base + this.size;
  }

  /** Byte offset of `pa` in the window; throws outside it (a model bug, not a guest error). */
  offset(pa: number, len = 1): number {
    const off = pa - this.base;
    if (off < 0 || off + len > this.size) {
      throw new RangeError(`physical address 0x${pa.toString(16)} (+${len}) is outside memory [0x${this.base.toString(16)}, 0x${(this.base + this.size).toString(16)})`);
    }
    return off;
  }

  /** Reads the 64-bit little-endian word at `pa` (8-byte aligned). */
  read64(pa: number): U64 {
    const i = this.offset(pa, 8) >>> 2;
    return u64At(this.u32, i);
  }

  /** Low and high halves without allocating, for the walker's hot path. */
  read64Lo(pa: number): number {
    return this.u32[(pa - this.base) >>> 2]!;
  }

  read64Hi(pa: number): number {
    return this.u32[((pa - this.base) >>> 2) + 1]!;
  }

  /** Stores `v` at `pa` and returns what was there: one bounds check for a descriptor store. */
  exchange64(pa: number, v: U64): U64 {
    const i = this.offset(pa, 8) >>> 2;
    const u32 = this.u32;
    const old = u64At(u32, i);
    u32[i] = v.lo;
    u32[i + 1] = v.hi;
    return old;
  }

  write64(pa: number, v: U64): void {
    const i = this.offset(pa, 8) >>> 2;
    this.u32[i] = v.lo;
    this.u32[i + 1] = v.hi;
  }

  zero(pa: number, len: number): void {
    const off = this.offset(pa, len);
    if (this.backer !== null) this.back(off, len);
    if (this.codeFrames !== null) this.beforeWrite(off, len);
    this.u8.fill(0, off, off + len);
  }

  /** Copies the page at `srcPa` over the page at `dstPa` (a copy-on-write copy). */
  copyPage(dstPa: number, srcPa: number): void {
    const dst = this.offset(dstPa, PAGE_SIZE);
    const src = this.offset(srcPa, PAGE_SIZE);
    if (this.codeFrames !== null) this.beforeWrite(dst, PAGE_SIZE);
    this.u8.copyWithin(dst, src, src + PAGE_SIZE);
  }

  /**
   * Frames QEMU may have translated into host code: one byte per frame, set when the engine lets
   * the guest execute from the frame (markCode). QEMU drops its translations when the guest's own
   * stores reach such a frame, but it does not see the model's writes (copy_to_user, page-cache
   * writes, /proc/<pid>/mem), so those call `codeWritten` with the frame first. The mark stays
   * while the frame is in use, as an executable mapping of it may still be live (the guest can
   * translate the new bytes without a new TLB fill); the allocator clears it when the frame is
   * freed (forgetCode).
   */
  watchCode(codeWritten: (framePa: number) => void): void {
    this.codeFrames = new Uint8Array(this.endPfn - this.basePfn);
    this.codeWritten = codeWritten;
  }

  /** Marks the frames of [pa, pa + len) as executable by the guest (see watchCode). */
  markCode(pa: number, len: number): void {
    const frames = this.codeFrames;
    if (frames === null) return;
    const first = (pa - this.base) / PAGE_SIZE;
    const end = first + len / PAGE_SIZE;
    for (let i = first; i < end; i++) frames[i] = 1;
  }

  /**
   * The frames of [pa, pa + len) were freed: no mapping of them is left, so QEMU's translations
   * of them are dropped now and their marks cleared (their next owner's writes cost nothing).
   */
  forgetCode(pa: number, len: number): void {
    if (this.codeFrames === null) return;
    const off = this.offset(pa, len);
    this.beforeWrite(off, len);
    this.codeFrames.fill(0, off / PAGE_SIZE, (off + len) / PAGE_SIZE);
  }

  private codeFrames: Uint8Array | null = null;
  private codeWritten: ((framePa: number) => void) | null = null;

  /** Drops QEMU's translations of the marked frames that [off, off + len) of the window covers. */
  private beforeWrite(off: number, len: number): void {
    const frames = this.codeFrames!;
    const last = Math.floor((off + len - 1) / PAGE_SIZE);
    for (let i = Math.floor(off / PAGE_SIZE); i <= last; i++) {
      if (frames[i] !== 0) this.codeWritten!(this.base + i * PAGE_SIZE);
    }
  }

  /**
   * Backs host memory a chunk of BACKING_CHUNK bytes at a time, before the first zeroing of
   * any page in the chunk (the model zeroes every page it allocates): one host call per chunk
   * instead of one host page fault per page (bench/run-first-touch.ts). `backer` returns false
   * when the host cannot, and is then not asked again. Only an optimisation: memory not backed
   * this way is backed by the host's faults as before.
   */
  setBacker(backer: (offset: number, len: number) => boolean): void {
    this.backer = backer;
    this.backed = new Uint8Array(Math.ceil(this.size / BACKING_CHUNK));
  }

  private backer: ((offset: number, len: number) => boolean) | null = null;
  private backed: Uint8Array | null = null;

  private back(off: number, len: number): void {
    const backed = this.backed!;
    const last = Math.floor((off + len - 1) / BACKING_CHUNK);
    for (let c = Math.floor(off / BACKING_CHUNK); c <= last; c++) {
      if (backed[c] !== 0) continue;
      backed[c] = 1;
      const at = c * BACKING_CHUNK;
      if (!this.backer!(at, Math.min(BACKING_CHUNK, this.size - at))) {
        this.backer = null;
        return;
      }
    }
  }

  read(pa: number, len: number): Uint8Array {
    const off = this.offset(pa, len);
    return this.u8.subarray(off, off + len);
  }

  write(pa: number, bytes: Uint8Array): void {
    const off = this.offset(pa, bytes.length);
    if (this.codeFrames !== null && bytes.length > 0) this.beforeWrite(off, bytes.length);
    this.u8.set(bytes, off);
  }

  pfnToPa(pfn: number): number {
    return pfn * PAGE_SIZE;
  }
}

/**
 * Host memory backed at once by PhysMem.setBacker: 64 pages, so a process touching a few pages
 * here and there grows by little more than it would page by page.
 */
const BACKING_CHUNK = 64 * PAGE_SIZE;

/** The 64-bit word at u32[i], u32[i + 1]. */
function u64At(u32: Uint32Array, i: number): U64 {
  const lo = u32[i]!;
  const hi = u32[i + 1]!;
  return lo === 0 && hi === 0 ? U64_ZERO : { lo, hi };
}
