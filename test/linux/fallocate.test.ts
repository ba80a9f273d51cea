/**
 * fallocate over the real memory manager: argument checks in vfs_fallocate's order, tmpfs pages
 * allocated into the page cache (order 0, zeroed), ext4 leaving the cache alone, the size grown
 * unless FALLOC_FL_KEEP_SIZE, and the modes the model does not follow refused (EOPNOTSUPP).
 */
import { describe, expect, it } from 'vitest';
import { realMmRig } from './real-mm-rig.js';
import { EBADF, EINVAL } from '../../src/util/errno.js';

const PAGE = 4096;
const EOPNOTSUPP = 95;

function setup(tmpFs: 'tmpfs' | 'ext4') {
  const { k, mm, p, call, scratch } = realMmRig({ sets: [`tmp_fs=${tmpFs}`], cpus: 1 });
  mm.copyToUser(scratch, new TextEncoder().encode('/tmp/f\0/tmp\0'));
  const fd = call('openat', -100, scratch, 0o102, 0o600);
  const size = (): number => {
    expect(call('fstat', fd, scratch + 1024)).toBe(0);
    return Number(new DataView(mm.copyFromUser(scratch + 1024, 128)!.buffer).getBigInt64(48, true));
  };
  const inode = () => {
    const f = p.fds.get(fd)!.file;
    if (f.node.kind !== 'reg') throw new Error('not a regular file');
    return f.node.inode;
  };
  return { k, p, call, scratch, fd, size, inode };
}

describe('fallocate', () => {
  it('tmpfs: pages allocated into the page cache, the size grown unless KEEP_SIZE', () => {
    const s = setup('tmpfs');
    const free0 = s.k.buddy.freePages;
    expect(s.call('fallocate', s.fd, 0, PAGE + 1, 2 * PAGE)).toBe(0);
    // Pages 0, 1 and 2 are touched by [4097, 12289).
    expect(s.inode().mapping.nrpages).toBe(3);
    expect(free0 - s.k.buddy.freePages).toBe(3);
    expect(s.size()).toBe(3 * PAGE + 1);
    expect(s.call('fallocate', s.fd, 1, 8 * PAGE, PAGE)).toBe(0);
    expect(s.inode().mapping.nrpages).toBe(4);
    expect(s.size()).toBe(3 * PAGE + 1);
  });

  it('ext4: blocks only, nothing in the page cache', () => {
    const s = setup('ext4');
    expect(s.call('fallocate', s.fd, 0, 0, 4 * PAGE)).toBe(0);
    expect(s.inode().mapping.nrpages).toBe(0);
    expect(s.size()).toBe(4 * PAGE);
  });

  it('argument checks and the modes not modelled', () => {
    const s = setup('tmpfs');
    expect(s.call('fallocate', s.fd, 0, -1, PAGE)).toBe(-EINVAL);
    expect(s.call('fallocate', s.fd, 0, 0, 0)).toBe(-EINVAL);
    expect(s.call('fallocate', s.fd, 0x80, 0, PAGE)).toBe(-EOPNOTSUPP);
    expect(s.call('fallocate', s.fd, 2, 0, PAGE)).toBe(-EOPNOTSUPP);
    expect(s.call('fallocate', s.fd, 3, 0, PAGE)).toBe(-EOPNOTSUPP);
    expect(s.call('fallocate', 99, 0, 0, PAGE)).toBe(-EBADF);
    const dir = s.call('openat', -100, s.scratch + 7, 0o200000, 0);
    expect(s.call('fallocate', dir, 0, 0, PAGE)).toBe(-EBADF);
    const ro = s.call('openat', -100, s.scratch, 0, 0);
    expect(s.call('fallocate', ro, 0, 0, PAGE)).toBe(-EBADF);
  });
});
