/**
 * statfs and fstatfs: struct statfs (120 bytes, asm-generic 64-bit layout) of each mount the
 * guest has, with the magic numbers, the mount flags /proc/mounts shows, ext4's 1 GiB volume and
 * its 5 % reserve, tmpfs at half of RAM, and the blocks and inodes the guest's files use.
 */
import { describe, expect, it } from 'vitest';
import { realMmRig } from './real-mm-rig.js';
import { EBADF, ENODATA, ENOENT, EOPNOTSUPP } from '../../src/util/errno.js';

function setup(tmpFs: 'tmpfs' | 'ext4') {
  const { mm, call, scratch } = realMmRig({ sets: [`tmp_fs=${tmpFs}`], cpus: 1 });
  const out = scratch + 4096;
  const statfs = (path: string): number | bigint[] => {
    mm.copyToUser(scratch, new TextEncoder().encode(`${path}\0`));
    const r = call('statfs', scratch, out);
    if (r !== 0) return r;
    const dv = new DataView(mm.copyFromUser(out, 120)!.buffer);
    return Array.from({ length: 11 }, (_, i) => dv.getBigUint64(8 * i, true));
  };
  return { call, statfs, scratch, out, mm };
}

// [f_type, f_bsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree, f_fsid, f_namelen, f_frsize, f_flags]
describe('statfs', () => {
  it('reports each mount with its magic, flags and sizes, and the space a file takes', () => {
    const env = setup('tmpfs');
    const { call, statfs, scratch, out } = env;
    const tmp = statfs('/tmp') as bigint[];
    // tmpfs: 64 MiB of RAM is 16,384 pages, half of them; nosuid,nodev; the directory itself is an inode.
    expect(tmp.slice(0, 7)).toEqual([0x01021994n, 4096n, 8192n, 8192n, 8192n, 8192n, 8191n]);
    expect(tmp.slice(8)).toEqual([255n, 4096n, 0x20n | 0x2n | 0x4n]);
    const root = statfs('/') as bigint[];
    // ext4: 262,144 blocks of 4 KiB, 13,107 reserved; rw,relatime. The executable's file is on it.
    expect(root[0]).toBe(0xef53n);
    expect(root[2]).toBe(262_144n);
    expect(root[3]! - root[4]!).toBe(13_107n);
    expect(root[3]!).toBeLessThan(262_144n);
    expect(root[10]).toBe(0x20n | 0x1000n);
    expect((statfs('/proc/self') as bigint[]).slice(0, 4)).toEqual([0x9fa0n, 4096n, 0n, 0n]);
    expect((statfs('/proc/self') as bigint[])[10]).toBe(0x20n | 0x2n | 0x4n | 0x8n | 0x1000n);
    expect((statfs('/sys') as bigint[])[0]).toBe(0x62656572n);
    expect((statfs('/dev/null') as bigint[])[0]).toBe(0x01021994n);
    expect(statfs('/nonexistent')).toBe(-ENOENT);

    // A file of 10,000 bytes takes 3 blocks and an inode of /tmp; fstatfs on it says the same.
    const { mm } = env;
    mm.copyToUser(scratch, new TextEncoder().encode('/tmp/f\0'));
    const fd = call('openat', -100, scratch, 0o102, 0o600);
    expect(call('write', fd, scratch + 8192, 10_000)).toBe(10_000);
    const after = statfs('/tmp') as bigint[];
    expect(after.slice(2, 7)).toEqual([8192n, 8189n, 8189n, 8192n, 8190n]);
    expect(call('fstatfs', fd, out)).toBe(0);
    const dv = new DataView(mm.copyFromUser(out, 120)!.buffer);
    expect(Array.from({ length: 11 }, (_, i) => dv.getBigUint64(8 * i, true))).toEqual(after);
    expect(call('fstatfs', 99, out)).toBe(-EBADF);
  });

  it('an ext4 /tmp is a volume of its own, rw,relatime', () => {
    const { statfs } = setup('ext4');
    const tmp = statfs('/tmp') as bigint[];
    expect(tmp.slice(0, 3)).toEqual([0xef53n, 4096n, 262_144n]);
    expect(tmp[10]).toBe(0x20n | 0x1000n);
    expect(tmp[7]).not.toBe((statfs('/') as bigint[])[7]);
  });

  it('xattrs: none kept; lists are empty, lookups ENODATA, changes EOPNOTSUPP, after the path or fd is checked', () => {
    const { call, scratch, mm } = setup('tmpfs');
    mm.copyToUser(scratch, new TextEncoder().encode('/tmp\0user.x\0/nope\0'));
    const name = scratch + 5;
    const buf = scratch + 1024;
    for (const [list, get, set, remove] of [['listxattr', 'getxattr', 'setxattr', 'removexattr'], ['llistxattr', 'lgetxattr', 'lsetxattr', 'lremovexattr']] as const) {
      expect(call(list, scratch, buf, 256)).toBe(0);
      expect(call(get, scratch, name, buf, 256)).toBe(-ENODATA);
      expect(call(set, scratch, name, buf, 1, 0)).toBe(-EOPNOTSUPP);
      expect(call(remove, scratch, name)).toBe(-EOPNOTSUPP);
      expect(call(list, scratch + 12, buf, 256)).toBe(-ENOENT);
      expect(call(get, scratch + 12, name, buf, 256)).toBe(-ENOENT);
    }
    const fd = call('openat', -100, scratch, 0o200000, 0);
    expect(call('flistxattr', fd, buf, 256)).toBe(0);
    expect(call('fgetxattr', fd, name, buf, 256)).toBe(-ENODATA);
    expect(call('fsetxattr', fd, name, buf, 1, 0)).toBe(-EOPNOTSUPP);
    expect(call('fremovexattr', 77, name)).toBe(-EBADF);
  });
});
