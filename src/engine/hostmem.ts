/**
 * Host memory for the guest: anonymous `mmap` regions from libc through koffi, reserved with
 * MAP_NORESERVE so that gigabytes of guest-physical memory cost nothing until touched, and handed
 * both to Unicorn (`uc_mem_map_ptr`, by address) and to JavaScript (`koffi.view`, an ArrayBuffer
 * over the same bytes, no copy). Linux only: the flag values are those of the Linux UAPI headers,
 * identical on x86_64 and arm64 hosts.
 */
import { constants as bufferConstants } from 'node:buffer';
import koffi from 'koffi';
import { EnvironmentError } from '../util/errors.js';

const PROT_NONE = 0;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;
const MAP_NORESERVE = 0x4000;
const MADV_DONTNEED = 4;
const MADV_POPULATE_WRITE = 23;
/** mmap's MAP_FAILED, (void *)-1, as koffi 3 returns pointers (BigInt). */
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

interface Libc {
  mmap(addr: bigint | null, length: number, prot: number, flags: number, fd: number, offset: number): bigint;
  munmap(addr: bigint, length: number): number;
  madvise(addr: bigint, length: number, advice: number): number;
  strerror(errnum: number): string;
}

let libc: Libc | undefined;

function loadLibc(): Libc {
  if (libc) return libc;
  if (process.platform !== 'linux') {
    throw new EnvironmentError(`contpte-lab runs guests only on Linux hosts (this is ${process.platform})`);
  }
  const lib = koffi.load('libc.so.6');
  libc = {
    mmap: lib.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)') as Libc['mmap'],
    munmap: lib.func('int munmap(void *addr, size_t length)') as Libc['munmap'],
    madvise: lib.func('int madvise(void *addr, size_t length, int advice)') as Libc['madvise'],
    strerror: lib.func('const char *strerror(int errnum)') as Libc['strerror'],
  };
  return libc;
}

export type HostProt = 'none' | 'rw';

/** One anonymous private mapping of the host process. */
export class HostRegion {
  private released = false;

  private constructor(
    /** Host address of the first byte. */
    readonly ptr: bigint,
    readonly size: number,
    readonly prot: HostProt,
  ) {}

  /**
   * Reserves `size` bytes (a multiple of the host page size). 'rw' memory is zero-filled and backed
   * lazily; 'none' memory must never be touched (it only occupies address space).
   */
  static reserve(size: number, prot: HostProt): HostRegion {
    const c = loadLibc();
    const p = prot === 'rw' ? PROT_READ | PROT_WRITE : PROT_NONE;
    const ptr = c.mmap(null, size, p, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ptr === null || BigInt(ptr) === MAP_FAILED) {
      const errno = koffi.errno();
      throw new EnvironmentError(`cannot reserve ${size} bytes of host memory (mmap: ${c.strerror(errno)}); try a smaller mem_mb`);
    }
    return new HostRegion(BigInt(ptr), size, prot);
  }

  /** An ArrayBuffer over the region's bytes, shared with whoever else maps them (Unicorn). */
  view(): ArrayBuffer {
    this.assertLive();
    if (this.prot !== 'rw') throw new Error('a PROT_NONE reservation has no readable bytes');
    // Beyond this koffi's N-API call fails and node aborts natively (exit 134): refuse first.
    if (this.size > bufferConstants.MAX_LENGTH) {
      throw new EnvironmentError(`cannot view ${this.size} bytes of host memory as one buffer: this Node.js allows ${bufferConstants.MAX_LENGTH} (use a smaller mem_mb)`);
    }
    return koffi.view(this.ptr, this.size);
  }

  /**
   * Backs [offset, offset + len) with zeroed host pages now, in one call (madvise
   * MADV_POPULATE_WRITE, Linux 5.14), instead of one host page fault per page at first touch.
   * Returns false, having done nothing, where the host does not support it.
   */
  populate(offset: number, len: number): boolean {
    this.assertLive();
    if (offset < 0 || len < 0 || offset + len > this.size) throw new RangeError(`populate [${offset}, +${len}) outside a region of ${this.size} bytes`);
    return loadLibc().madvise(this.ptr + BigInt(offset), len, MADV_POPULATE_WRITE) === 0;
  }

  /** Gives [offset, offset + len) back to the OS; it reads as zeros afterwards. */
  discard(offset: number, len: number): void {
    this.assertLive();
    if (offset < 0 || len < 0 || offset + len > this.size) throw new RangeError(`discard [${offset}, +${len}) outside a region of ${this.size} bytes`);
    const c = loadLibc();
    if (c.madvise(this.ptr + BigInt(offset), len, MADV_DONTNEED) !== 0) {
      throw new EnvironmentError(`madvise(MADV_DONTNEED) failed: ${c.strerror(koffi.errno())}`);
    }
  }

  /** Unmaps the region. Views over it must not be used afterwards. */
  release(): void {
    if (this.released) return;
    this.released = true;
    loadLibc().munmap(this.ptr, this.size);
  }

  get isReleased(): boolean {
    return this.released;
  }

  private assertLive(): void {
    if (this.released) throw new Error('host region used after release');
  }
}
