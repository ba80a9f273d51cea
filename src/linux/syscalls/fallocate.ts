/**
 * fallocate (fs/open.c vfs_fallocate, mm/shmem.c shmem_fallocate, fs/ext4 ext4_fallocate, v6.12)
 * for the modes the model follows:
 * - 0 and FALLOC_FL_KEEP_SIZE: on tmpfs the range's missing pages are allocated into the page
 *   cache (order 0 here; shmem would pick its large-folio orders), zeroed and uptodate, ENOSPC
 *   when memory runs out; on ext4 blocks are reserved, which puts nothing in the page cache.
 *   Without KEEP_SIZE the file grows to cover the range.
 * - FALLOC_FL_PUNCH_HOLE (tmpfs and ext4) and FALLOC_FL_ZERO_RANGE (ext4; tmpfs refuses it):
 *   the pages are unmapped and dropped as src/mm/falloc.ts describes.
 * COLLAPSE_RANGE, INSERT_RANGE and UNSHARE_RANGE are EOPNOTSUPP in the model.
 */
import type { U64 } from '../../util/u64.js';
import { EBADF, EFBIG, EINVAL, EISDIR, ENODEV, ENOSPC, EOPNOTSUPP, ESPIPE } from '../../util/errno.js';
import type { LinuxProcess } from '../process.js';
import { argInt, argLong } from './args.js';
import type { SyscallHandlers } from './outcome.js';

const FALLOC_FL_KEEP_SIZE = 0x01;
const FALLOC_FL_PUNCH_HOLE = 0x02;
const FALLOC_FL_NO_HIDE_STALE = 0x04;
const FALLOC_FL_COLLAPSE_RANGE = 0x08;
const FALLOC_FL_ZERO_RANGE = 0x10;
const FALLOC_FL_INSERT_RANGE = 0x20;
const FALLOC_FL_UNSHARE_RANGE = 0x40;
const FALLOC_FL_SUPPORTED_MASK = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_INSERT_RANGE | FALLOC_FL_UNSHARE_RANGE;
/** MAX_LFS_FILESIZE on 64-bit. */
const MAX_FILE_SIZE = 2 ** 63 - 1;
const PAGE_SIZE = 4096;

function fallocate(p: LinuxProcess, a: readonly U64[]): number {
  const mode = argInt(a[1]!);
  const offset = argLong(a[2]!);
  const len = argLong(a[3]!);
  if (offset < 0 || len <= 0) return -EINVAL;
  if (mode & ~FALLOC_FL_SUPPORTED_MASK || mode & FALLOC_FL_NO_HIDE_STALE) return -EOPNOTSUPP;
  if ((mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) === (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) return -EOPNOTSUPP;
  if (mode & FALLOC_FL_PUNCH_HOLE && !(mode & FALLOC_FL_KEEP_SIZE)) return -EOPNOTSUPP;
  // Collapse and insert take no other flag.
  if (mode & FALLOC_FL_COLLAPSE_RANGE && mode & ~FALLOC_FL_COLLAPSE_RANGE) return -EINVAL;
  if (mode & FALLOC_FL_INSERT_RANGE && mode & ~FALLOC_FL_INSERT_RANGE) return -EINVAL;
  const f = p.fds.get(argInt(a[0]!))?.file ?? null;
  if (f === null || f.pathOnly || !f.writable) return -EBADF;
  const node = f.node;
  if (node.kind === 'fifo') return -ESPIPE;
  if (node.kind === 'dir') return -EISDIR;
  if (node.kind !== 'reg') return -ENODEV;
  if (offset + len > MAX_FILE_SIZE) return -EFBIG;
  const keepSize = (mode & FALLOC_FL_KEEP_SIZE) !== 0;
  if (mode & FALLOC_FL_PUNCH_HOLE) return p.fs.clearRange(node, 'punch_hole', offset, len, keepSize);
  if (mode & FALLOC_FL_ZERO_RANGE) return p.fs.clearRange(node, 'zero_range', offset, len, keepSize);
  if (mode & ~FALLOC_FL_KEEP_SIZE) return -EOPNOTSUPP;
  const inode = node.inode;
  if (inode.fsType === 'tmpfs') {
    const mapping = inode.mapping;
    const last = Math.ceil((offset + len) / PAGE_SIZE);
    for (let index = Math.floor(offset / PAGE_SIZE); index < last; index++) {
      if (mapping.lookup(index) !== null) continue;
      const r = mapping.addFolioAt(index, 0);
      if (r.kind === 'oom') return -ENOSPC;
    }
  }
  if (!(mode & FALLOC_FL_KEEP_SIZE) && offset + len > inode.size) return p.fs.truncate(node, offset + len);
  return 0;
}

export const fallocateSyscalls: SyscallHandlers = { fallocate };
