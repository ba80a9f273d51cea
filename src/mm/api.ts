/**
 * The memory manager as the process layer (src/linux) and the machine see it: one
 * `ProcessMemory` per process (its mm_struct and the operations on it), and the kernel-wide
 * objects it shares with other processes. Syscall handlers call these; they return Linux values
 * (an address, 0, or a negative errno) so the handler can hand them straight back to the guest.
 *
 * This file is the contract between src/mm (which implements it) and src/linux and src/machine
 * (which call it). Change it only together with both sides.
 */
import type { Access, FaultKind } from '../trace/events.js';
import type { Inode } from './inode.js';
import type { MmInspect } from './introspect.js';

/** mmap/mprotect protection bits (include/uapi/asm-generic/mman-common.h). */
export const PROT_NONE = 0x0;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;

/** madvise advice values used by the model. */
export const MADV_NORMAL = 0;
export const MADV_RANDOM = 1;
export const MADV_SEQUENTIAL = 2;
export const MADV_WILLNEED = 3;
export const MADV_DONTNEED = 4;
export const MADV_FREE = 8;
export const MADV_REMOVE = 9;
export const MADV_DONTFORK = 10;
export const MADV_DOFORK = 11;
export const MADV_HUGEPAGE = 14;
export const MADV_NOHUGEPAGE = 15;
export const MADV_WIPEONFORK = 18;
export const MADV_KEEPONFORK = 19;
export const MADV_POPULATE_READ = 22;
export const MADV_POPULATE_WRITE = 23;
export const MADV_COLLAPSE = 25;

/** The errnos the memory manager returns (negated): the one Linux errno table. */
export { EACCES, EAGAIN, EBADF, EEXIST, EFAULT, EFBIG, EINVAL, ENODEV, ENOENT, ENOMEM, EOVERFLOW, EPERM } from '../util/errno.js';

export interface MmapRequest {
  /** Hint, or the exact address with MAP_FIXED / MAP_FIXED_NOREPLACE. */
  addr: number;
  len: number;
  /** PROT_* bits. */
  prot: number;
  /** MAP_* bits (MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS, MAP_FIXED_NOREPLACE, MAP_NORESERVE, MAP_POPULATE ...). */
  flags: number;
  /** The file for a file mapping (null for anonymous), already checked for access mode by the caller. */
  file: Inode | null;
  /** Whether the file was opened for writing (a MAP_SHARED|PROT_WRITE mapping needs it). */
  fileWritable?: boolean;
  /** Offset into the file in pages. */
  pgoff: number;
  /**
   * The file's link count now (i_nlink; 1 when omitted). shmem_mmap makes a mapping of a tmpfs
   * file with no name anonymous shared memory (vma_is_anon_shmem).
   */
  fileNlink?: number;
}

/** How a page fault ended. */
export type FaultOutcome =
  /** The fault was handled; `path` names the handler (do_anonymous_page, do_shared_fault, ...). */
  | { kind: 'handled'; path: string }
  /** Linux would deliver a signal: the machine ends the run as Linux ends the process. */
  | { kind: 'signal'; signal: 'SIGSEGV' | 'SIGBUS'; code: 'SEGV_MAPERR' | 'SEGV_ACCERR' | 'BUS_ADRERR' | 'BUS_ADRALN'; reason: string };

/** One process's address space: mm_struct and the syscalls that act on it. */
/** A page referenced by get_user_pages until released. */
export interface UserPageRef {
  readonly page: Uint8Array;
  release(): void;
}

export interface ProcessMemory {
  /** The ASID and pgd the machine loads into TTBR0 (the user half is asid | 1 under KPTI). */
  readonly asid: number;
  readonly pgd: number;

  /** mmap(2): the address, or -errno. */
  mmap(req: MmapRequest): number;
  munmap(addr: number, len: number): number;
  mprotect(addr: number, len: number, prot: number): number;
  madvise(addr: number, len: number, advice: number): number;
  /** brk(2): the new break (the old one when the request cannot be met, as Linux does). */
  brk(addr: number): number;
  /** Sets the initial program break (end of bss, page aligned up by the caller or not). */
  setBrkBase(addr: number): void;
  /** mremap(2): the new address, or -errno (MREMAP_* in mm/mremap.ts). */
  mremap(addr: number, oldLen: number, newLen: number, flags: number, newAddr: number): number;
  /** msync(2): 0 or -errno. */
  msync(start: number, len: number, flags: number): number;
  /** mlock, mlock2, munlock, mlockall, munlockall: 0 or -errno. */
  mlock(start: number, len: number): number;
  mlock2(start: number, len: number, flags: number): number;
  munlock(start: number, len: number): number;
  mlockall(flags: number): number;
  munlockall(): number;
  /**
   * RLIMIT_MEMLOCK and CAP_IPC_LOCK of the calling task, which the process layer sets before
   * mmap, brk, mremap and the mlock calls (mm/mlock.ts); test doubles may leave it out.
   */
  memlock?: { readonly limit: number; readonly capIpcLock: boolean };
  /** mincore(2)'s vector (one byte per page), or -errno before anything is written. */
  mincore(start: number, len: number): Uint8Array | number;

  /**
   * A fault the hardware model reported for an EL0 access (the walk's fault kind, or a
   * permission fault from the TLB): handle_mm_fault and friends, or the signal Linux would send.
   */
  handleFault(va: number, access: Access, fault: FaultKind): FaultOutcome;

  /**
   * copy_to_user / copy_from_user / strncpy_from_user: the kernel touching user memory on a
   * syscall's behalf, through the translation model (with faults handled as Linux's uaccess
   * fix-ups do). Return the bytes copied (fewer than asked on a fault) or null (EFAULT).
   */
  copyToUser(va: number, bytes: Uint8Array): number;
  /** With `into` (at least `len` bytes), the bytes land there and a view of it comes back. */
  copyFromUser(va: number, len: number, into?: Uint8Array): Uint8Array | null;
  /** A NUL-terminated string of at most `max` bytes, or null on a fault or no terminator. */
  strncpyFromUser(va: number, max: number): string | null;

  /**
   * access_remote_vm (mm/memory.c) with FOLL_FORCE, as /proc/<pid>/mem uses it: through
   * get_user_pages, not the MMU, so the process need not be the one running, and a write reaches
   * a read-only private mapping by breaking copy-on-write (mm/gup.ts). A read returns the bytes
   * got (fewer than `len` where a page could not be had); a write returns how many of `data` went in.
   * Test doubles may leave it out.
   */
  accessRemote?(va: number, len: number, data: Uint8Array | null): Uint8Array | number;

  /** do_munmap from inside the kernel (shmdt's do_vma_munmap): not counted as a munmap call. */
  unmapRange?(start: number, len: number): void;

  /**
   * get_user_pages(FOLL_GET) of the page holding va, for reading (vmsplice): faulted in like a
   * user read, its folio held by one more reference until `release`; `page` is a live view of
   * its 4 KiB. Null when the page cannot be read (EFAULT). Test doubles may leave it out.
   */
  getUserPage?(va: number): UserPageRef | null;

  /** exit_mmap: tear the address space down (a fullmm gather), freeing everything. */
  exitMmap(): void;

  /** What /proc reads of the address space (introspect.ts); test doubles may leave it out. */
  inspect?(): MmInspect;
}
