/**
 * struct statfs for statfs(2) and fstatfs(2) (fs/statfs.c v6.12; the arm64 layout is
 * asm-generic's for 64-bit words: 120 bytes). The file system is the node's superblock, with the
 * mount flags /proc/mounts shows for it (procfs.ts mountRows):
 * - ext4 (the root, and /tmp under `tmp_fs=ext4`): a 1 GiB volume of 4 KiB blocks, the size of
 *   the disk `validate` gives the real kernel, 5 % of it reserved for root (ext4's default
 *   r_blocks_count) and 65,536 inodes; free blocks and inodes are what the guest's files on it
 *   leave (ext4_statfs);
 * - tmpfs and devtmpfs: shmem's default limits, half of RAM in pages and as many inodes
 *   (shmem_default_max_blocks/inodes), less what their files use (shmem_statfs);
 * - proc, sysfs, pipefs and sockfs: simple_statfs, a block size and the name length only.
 */
import type { MmKernel } from '../mm/kernel.js';
import type { FileSystem, Node, SuperBlock } from './fs.js';
import { mountRows } from './procfs.js';
import { StructWriter } from './uaccess.js';

/** Magic numbers of include/uapi/linux/magic.h. */
const MAGIC: Readonly<Record<string, number>> = {
  ext4: 0xef53,
  tmpfs: 0x01021994,
  devtmpfs: 0x01021994,
  proc: 0x9fa0,
  sysfs: 0x62656572,
  pipefs: 0x50495045,
  sockfs: 0x534f434b,
};

/** ST_* of include/linux/statfs.h, by mount option. */
const ST_VALID = 0x0020;
const ST_FLAG: Readonly<Record<string, number>> = { ro: 0x0001, nosuid: 0x0002, nodev: 0x0004, noexec: 0x0008, noatime: 0x0400, nodiratime: 0x0800, relatime: 0x1000 };

const BLOCK = 4096;
const NAME_MAX = 255;
const EXT4_BLOCKS = (1 << 30) / BLOCK;
const EXT4_RESERVED = Math.floor(EXT4_BLOCKS / 20);
const EXT4_INODES = 65_536;

/** Blocks and inodes the files of one superblock use (a walk of the tree; it is small). */
function usage(fs: FileSystem, sb: SuperBlock): { blocks: number; inodes: number } {
  let blocks = 0;
  let inodes = 0;
  const seen = new Set<Node>();
  const visit = (n: Node): void => {
    if (seen.has(n)) return;
    seen.add(n);
    if (n.sb === sb) {
      inodes++;
      if (n.kind === 'reg') blocks += Math.ceil(n.inode.size / BLOCK);
    }
    if (n.kind === 'dir') for (const child of n.entries.values()) visit(child);
  };
  visit(fs.root);
  return { blocks, inodes };
}

export function encodeStatfs(fs: FileSystem, node: Node, kernel: MmKernel | null): Uint8Array {
  const sb = node.sb;
  const w = new StructWriter(120);
  const type = MAGIC[sb.name] ?? MAGIC.tmpfs!;
  const row = mountRows(fs).find((m) => m.dev.major === sb.dev.major && m.dev.minor === sb.dev.minor);
  let flags = ST_VALID;
  for (const o of row?.opts.split(',') ?? []) flags |= ST_FLAG[o] ?? 0;
  w.u64(0, type).u64(8, BLOCK).u64(72, BLOCK).u64(64, NAME_MAX).u64(80, flags);
  if (sb.name === 'ext4' || sb.name === 'tmpfs' || sb.name === 'devtmpfs') {
    const used = usage(fs, sb);
    const ramPages = kernel !== null ? Math.floor(kernel.mem.size / BLOCK) : 0;
    const ext4 = sb.name === 'ext4';
    const blocks = ext4 ? EXT4_BLOCKS : Math.floor(ramPages / 2);
    const files = ext4 ? EXT4_INODES : Math.floor(ramPages / 2);
    const bfree = Math.max(0, blocks - used.blocks);
    w.u64(16, blocks).u64(24, bfree).u64(32, ext4 ? Math.max(0, bfree - EXT4_RESERVED) : bfree);
    w.u64(40, files).u64(48, Math.max(0, files - used.inodes));
    // f_fsid: from the volume's identity (ext4's UUID, shmem's); the device number stands for it.
    w.u32(56, (sb.dev.major << 20) | sb.dev.minor).u32(60, 0);
  }
  return w.bytes;
}
