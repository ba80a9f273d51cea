/**
 * What stat(2) and statx(2) report for a node, and the arm64 struct layouts they fill:
 * struct stat from include/uapi/asm-generic/stat.h (128 bytes) and struct statx from
 * include/uapi/linux/stat.h (256 bytes).
 */
import { encodeDev, type DevNumber, type FileSystem, type Node } from './fs.js';
import { StructWriter } from './uaccess.js';
import { NSEC_PER_SEC } from './clock.js';

export const STAT_SIZE = 128;
export const STATX_SIZE = 256;
/** st_blksize of every file: the page size, as tmpfs and ext4 with 4 KiB blocks report. */
export const ST_BLKSIZE = 4096;

export const STATX_TYPE = 0x1;
export const STATX_MODE = 0x2;
export const STATX_NLINK = 0x4;
export const STATX_UID = 0x8;
export const STATX_GID = 0x10;
export const STATX_ATIME = 0x20;
export const STATX_MTIME = 0x40;
export const STATX_CTIME = 0x80;
export const STATX_INO = 0x100;
export const STATX_SIZE_ = 0x200;
export const STATX_BLOCKS = 0x400;
export const STATX_BASIC_STATS = 0x7ff;
export const STATX_BTIME = 0x800;
export const STATX_MNT_ID = 0x1000;
export const STATX__RESERVED = 0x80000000;

export const STATX_ATTR_COMPRESSED = 0x4;
export const STATX_ATTR_IMMUTABLE = 0x10;
export const STATX_ATTR_APPEND = 0x20;
export const STATX_ATTR_NODUMP = 0x40;
export const STATX_ATTR_ENCRYPTED = 0x800;
export const STATX_ATTR_AUTOMOUNT = 0x1000;
export const STATX_ATTR_MOUNT_ROOT = 0x2000;
export const STATX_ATTR_VERITY = 0x100000;
export const STATX_ATTR_DAX = 0x200000;

/** The kernel's struct kstat: everything both encodings need. */
export interface Kstat {
  readonly dev: DevNumber;
  readonly ino: number;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly rdev: DevNumber;
  readonly size: number;
  readonly blksize: number;
  readonly blocks: number;
  readonly atime: bigint;
  readonly mtime: bigint;
  readonly ctime: bigint;
  /** Birth time, or null where the file system keeps none. */
  readonly btime: bigint | null;
  readonly mntId: number;
  readonly attributes: number;
  readonly attributesMask: number;
}

const NO_DEV: DevNumber = { major: 0, minor: 0 };

/** vfs_getattr for a node (generic_fillattr plus what shmem_getattr / ext4_getattr add). */
export function kstatOf(fs: FileSystem, node: Node): Kstat {
  const sb = node.sb;
  const isMountRoot = node === fs.root || node === fs.tmp || node === fs.dev || node === fs.proc;
  let attributesMask = STATX_ATTR_AUTOMOUNT | STATX_ATTR_DAX | STATX_ATTR_MOUNT_ROOT;
  if (sb.fsType === 'tmpfs') attributesMask |= STATX_ATTR_APPEND | STATX_ATTR_IMMUTABLE | STATX_ATTR_NODUMP;
  if (sb.fsType === 'ext4') {
    attributesMask |= STATX_ATTR_COMPRESSED | STATX_ATTR_IMMUTABLE | STATX_ATTR_APPEND | STATX_ATTR_NODUMP | STATX_ATTR_ENCRYPTED | STATX_ATTR_VERITY;
  }
  const hasBtime = (sb.fsType === 'tmpfs' || sb.fsType === 'ext4') && sb.name !== 'pipefs';
  return {
    dev: sb.dev,
    ino: node.ino,
    mode: node.mode,
    nlink: node.nlink,
    uid: node.uid,
    gid: node.gid,
    rdev: node.kind === 'chr' ? node.rdev : NO_DEV,
    size: fs.sizeOf(node),
    blksize: ST_BLKSIZE,
    blocks: fs.blocksOf(node),
    atime: node.times.atime,
    mtime: node.times.mtime,
    ctime: node.times.ctime,
    btime: hasBtime ? node.times.btime : null,
    mntId: sb.mntId,
    attributes: isMountRoot ? STATX_ATTR_MOUNT_ROOT : 0,
    attributesMask,
  };
}

/** cp_new_stat: struct stat for fstat and newfstatat. */
export function encodeStat(k: Kstat): Uint8Array {
  const w = new StructWriter(STAT_SIZE);
  const time = (off: number, ns: bigint): void => {
    w.u64(off, ns / NSEC_PER_SEC).u64(off + 8, ns % NSEC_PER_SEC);
  };
  w.u64(0, encodeDev(k.dev))
    .u64(8, k.ino)
    .u32(16, k.mode)
    .u32(20, k.nlink)
    .u32(24, k.uid)
    .u32(28, k.gid)
    .u64(32, encodeDev(k.rdev))
    .u64(48, k.size)
    .i32(56, k.blksize)
    .u64(64, k.blocks);
  time(72, k.atime);
  time(88, k.mtime);
  time(104, k.ctime);
  return w.bytes;
}

/** cp_statx: struct statx; `stx_mask` says which fields are valid. */
export function encodeStatx(k: Kstat): Uint8Array {
  const w = new StructWriter(STATX_SIZE);
  const time = (off: number, ns: bigint): void => {
    w.u64(off, ns / NSEC_PER_SEC).u32(off + 8, Number(ns % NSEC_PER_SEC));
  };
  let mask = STATX_BASIC_STATS | STATX_MNT_ID;
  if (k.btime !== null) mask |= STATX_BTIME;
  w.u32(0, mask)
    .u32(4, k.blksize)
    .u64(8, k.attributes)
    .u32(16, k.nlink)
    .u32(20, k.uid)
    .u32(24, k.gid)
    .u16(28, k.mode)
    .u64(32, k.ino)
    .u64(40, k.size)
    .u64(48, k.blocks)
    .u64(56, k.attributesMask);
  time(64, k.atime);
  if (k.btime !== null) time(80, k.btime);
  time(96, k.ctime);
  time(112, k.mtime);
  w.u32(128, k.rdev.major).u32(132, k.rdev.minor).u32(136, k.dev.major).u32(140, k.dev.minor).u64(144, k.mntId);
  return w.bytes;
}
