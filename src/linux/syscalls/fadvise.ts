/**
 * fadvise64 (mm/fadvise.c generic_fadvise, v6.12): the checks Linux makes, in its order: a
 * descriptor (not O_PATH) or EBADF, a pipe is ESPIPE, a negative length or an unknown advice
 * EINVAL. Coreutils ask for POSIX_FADV_SEQUENTIAL before reading a file.
 *
 * Not modelled: what the advice changes. Linux keeps a readahead window per open file (SEQUENTIAL
 * doubles its ra_pages, RANDOM turns readahead off for read(2), NOREUSE marks the file);
 * contpte-lab's readahead state belongs to the inode (mm/readahead.ts), so one opener's advice
 * would change every other's. WILLNEED (readahead of the range) and DONTNEED (dropping clean
 * unmapped pages) leave the page cache as it is.
 */
import { EBADF, EINVAL, ESPIPE } from '../../util/errno.js';
import type { U64 } from '../../util/u64.js';
import type { LinuxProcess } from '../process.js';
import { argInt, argLong } from './args.js';
import type { SyscallHandlers } from './outcome.js';

export const POSIX_FADV_NORMAL = 0;
export const POSIX_FADV_RANDOM = 1;
export const POSIX_FADV_SEQUENTIAL = 2;
export const POSIX_FADV_WILLNEED = 3;
export const POSIX_FADV_DONTNEED = 4;
export const POSIX_FADV_NOREUSE = 5;

function fadvise64(p: LinuxProcess, a: readonly U64[]): number {
  const f = p.fds.get(argInt(a[0]!))?.file ?? null;
  if (f === null || f.pathOnly) return -EBADF;
  if (f.node.kind === 'fifo') return -ESPIPE;
  if (argLong(a[2]!) < 0) return -EINVAL;
  const advice = argInt(a[3]!);
  if (advice < POSIX_FADV_NORMAL || advice > POSIX_FADV_NOREUSE) return -EINVAL;
  return 0;
}

export const fadviseSyscalls: SyscallHandlers = { fadvise64 };
