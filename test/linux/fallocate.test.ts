/**
 * fallocate over the real memory manager: argument checks in vfs_fallocate's order, tmpfs pages
 * allocated into the page cache (order 0, zeroed), ext4 leaving the cache alone, the size grown
 * unless FALLOC_FL_KEEP_SIZE; holes punched under live mappings (pages unmapped and dropped,
 * private copy-on-write copies kept, partial pages zeroed, ext4's partial blocks read in),
 * ext4's ZERO_RANGE, and the modes the model does not follow refused (EOPNOTSUPP).
 * firmware/bin/punch_hole checks what the guest sees against qemu-aarch64.
 */
import { describe, expect, it } from 'vitest';
import { realMmRig } from './real-mm-rig.js';
import { pteNone } from '../../src/pgtable/pte.js';
import { EBADF, EINVAL } from '../../src/util/errno.js';

const PAGE = 4096;
const EOPNOTSUPP = 95;
const KEEP_SIZE = 1;
const PUNCH_HOLE = 2;
const ZERO_RANGE = 0x10;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const MAP_PRIVATE = 2;

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
  /** Six pages of 'a'..'f' written, and the file mapped shared and privately, every page touched. */
  const mapped = () => {
    for (let n = 0; n < 6; n++) {
      mm.copyToUser(scratch + 2048, new Uint8Array(PAGE).fill(0x61 + n));
      expect(call('pwrite64', fd, scratch + 2048, PAGE, n * PAGE)).toBe(PAGE);
    }
    const shared = call('mmap', 0, 6 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
    const priv = call('mmap', 0, 6 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    for (let n = 0; n < 6; n++) {
      mm.copyFromUser(shared + n * PAGE, 1);
      mm.copyFromUser(priv + n * PAGE, 1);
    }
    // The private copy of page 2.
    expect(mm.copyToUser(priv + 2 * PAGE, new Uint8Array([0x78]))).toBe(1);
    return { shared, priv };
  };
  const mappedPte = (va: number): boolean => {
    const ptep = k.pgtable.tables.pteOffsetMap(mm, va);
    return ptep !== undefined && !pteNone(k.pgtable.raw.__ptepGet(ptep));
  };
  const byte = (va: number): number => mm.copyFromUser(va, 1)![0]!;
  return { k, p, call, scratch, fd, size, inode, mapped, mappedPte, byte };
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

  for (const fs of ['tmpfs', 'ext4'] as const) {
    it(`${fs}: a punched hole unmaps and drops the pages wholly inside it, keeps private copies, zeroes the partial ends`, () => {
      const s = setup(fs);
      const { shared, priv } = s.mapped();
      const cached = s.inode().mapping.nrpages;
      expect(cached).toBe(6);
      // Bytes [4096 + 100, 4 * 4096 + 100): the end of page 1, pages 2 and 3, the start of page 4.
      expect(s.call('fallocate', s.fd, PUNCH_HOLE | KEEP_SIZE, PAGE + 100, 3 * PAGE)).toBe(0);
      expect(s.size()).toBe(6 * PAGE);
      // Pages 2 and 3 left the cache and both mappings, except the private copy of page 2.
      expect(s.inode().mapping.nrpages).toBe(4);
      expect([0, 1, 2, 3, 4, 5].map((n) => s.mappedPte(shared + n * PAGE))).toEqual([true, true, false, false, true, true]);
      expect([0, 1, 2, 3, 4, 5].map((n) => s.mappedPte(priv + n * PAGE))).toEqual([true, true, true, false, true, true]);
      expect(s.byte(priv + 2 * PAGE)).toBe(0x78);
      // What is read: zeros in the hole, the partial pages' other bytes kept.
      expect([s.byte(shared + PAGE + 99), s.byte(shared + PAGE + 100), s.byte(shared + 3 * PAGE), s.byte(shared + 4 * PAGE + 99), s.byte(shared + 4 * PAGE + 100)]).toEqual([
        0x62, 0, 0, 0, 0x65,
      ]);
      expect(s.byte(priv + 3 * PAGE)).toBe(0);
    });
  }

  it('madvise(MADV_REMOVE) punches the hole through a shared writable mapping; private ones get EACCES', () => {
    const s = setup('tmpfs');
    const { shared, priv } = s.mapped();
    const rw = s.call('mmap', 0, 6 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, s.fd, 0);
    expect(s.call('madvise', priv + PAGE, 2 * PAGE, 9)).toBe(-13);
    expect(s.inode().mapping.nrpages).toBe(6);
    expect(s.call('madvise', rw + PAGE, 2 * PAGE, 9)).toBe(0);
    expect(s.inode().mapping.nrpages).toBe(4);
    expect([0, 1, 2, 3].map((n) => s.mappedPte(shared + n * PAGE))).toEqual([true, false, false, true]);
    expect([s.byte(shared + PAGE), s.byte(priv + 2 * PAGE), s.byte(shared + 3 * PAGE)]).toEqual([0, 0x78, 0x64]);
    expect(s.size()).toBe(6 * PAGE);
  });

  it('truncation takes the private copies too (even_cows), a punched hole does not', () => {
    const s = setup('tmpfs');
    const { priv } = s.mapped();
    expect(s.call('ftruncate', s.fd, PAGE)).toBe(0);
    expect([1, 2, 3].map((n) => s.mappedPte(priv + n * PAGE))).toEqual([false, false, false]);
  });

  it('ext4: nothing happens past i_size; a partial block not cached is read in and zeroed', () => {
    const s = setup('ext4');
    s.mapped();
    expect(s.call('fallocate', s.fd, PUNCH_HOLE | KEEP_SIZE, 6 * PAGE, PAGE)).toBe(0);
    expect(s.inode().mapping.nrpages).toBe(6);
    // Drop the cache of page 5 (a hole from 5 * 4096 on), then punch from its middle.
    expect(s.call('fallocate', s.fd, PUNCH_HOLE | KEEP_SIZE, 5 * PAGE, PAGE)).toBe(0);
    expect(s.inode().mapping.lookup(5)).toBe(null);
    expect(s.call('fallocate', s.fd, PUNCH_HOLE | KEEP_SIZE, 4 * PAGE + 10, 4 * PAGE)).toBe(0);
    // Page 4 was cached: zeroed from byte 10 on. The hole ends at i_size: page 5 stays out.
    expect(s.inode().mapping.lookup(5)).toBe(null);
    expect(s.inode().mapping.lookup(4)).not.toBe(null);
    expect(s.call('pread64', s.fd, s.scratch + 2048, 12, 4 * PAGE)).toBe(12);
    expect([...s.p.mm.copyFromUser(s.scratch + 2048, 12)!]).toEqual([...new Array<number>(10).fill(0x65), 0, 0]);
    // A partial block that is not cached: page 3 is dropped whole, then a hole inside it
    // brings it back into the cache (ext4_zero_partial_blocks reads it in to zero its part).
    expect(s.call('fallocate', s.fd, PUNCH_HOLE | KEEP_SIZE, 3 * PAGE, PAGE)).toBe(0);
    expect(s.inode().mapping.lookup(3)).toBe(null);
    expect(s.call('fallocate', s.fd, PUNCH_HOLE | KEEP_SIZE, 3 * PAGE + 2048, 100)).toBe(0);
    expect(s.inode().mapping.lookup(3)).not.toBe(null);
  });

  it('ext4: ZERO_RANGE zeroes and grows the file unless KEEP_SIZE; tmpfs refuses it', () => {
    const s = setup('ext4');
    s.mapped();
    expect(s.call('fallocate', s.fd, ZERO_RANGE | KEEP_SIZE, 5 * PAGE + 8, 4 * PAGE)).toBe(0);
    expect(s.size()).toBe(6 * PAGE);
    expect(s.call('fallocate', s.fd, ZERO_RANGE, 5 * PAGE + 8, 4 * PAGE)).toBe(0);
    expect(s.size()).toBe(9 * PAGE + 8);
    expect(s.call('pread64', s.fd, s.scratch + 2048, 16, 5 * PAGE)).toBe(16);
    expect([...s.p.mm.copyFromUser(s.scratch + 2048, 16)!]).toEqual([...new Array<number>(8).fill(0x66), ...new Array<number>(8).fill(0)]);
    const t = setup('tmpfs');
    expect(t.call('fallocate', t.fd, ZERO_RANGE, 0, PAGE)).toBe(-EOPNOTSUPP);
  });

  it('argument checks and the modes not modelled', () => {
    const s = setup('tmpfs');
    expect(s.call('fallocate', s.fd, 0, -1, PAGE)).toBe(-EINVAL);
    expect(s.call('fallocate', s.fd, 0, 0, 0)).toBe(-EINVAL);
    expect(s.call('fallocate', s.fd, 0x80, 0, PAGE)).toBe(-EOPNOTSUPP);
    // PUNCH_HOLE needs KEEP_SIZE; it and ZERO_RANGE exclude each other; COLLAPSE_RANGE and
    // INSERT_RANGE take no other flag (EINVAL) and are not modelled alone (EOPNOTSUPP).
    expect(s.call('fallocate', s.fd, PUNCH_HOLE, 0, PAGE)).toBe(-EOPNOTSUPP);
    expect(s.call('fallocate', s.fd, PUNCH_HOLE | ZERO_RANGE | KEEP_SIZE, 0, PAGE)).toBe(-EOPNOTSUPP);
    expect(s.call('fallocate', s.fd, 0x08 | KEEP_SIZE, 0, PAGE)).toBe(-EINVAL);
    expect(s.call('fallocate', s.fd, 0x20 | KEEP_SIZE, 0, PAGE)).toBe(-EINVAL);
    expect(s.call('fallocate', s.fd, 0x08, 0, PAGE)).toBe(-EOPNOTSUPP);
    expect(s.call('fallocate', s.fd, 0x40, 0, PAGE)).toBe(-EOPNOTSUPP);
    expect(s.call('fallocate', 99, 0, 0, PAGE)).toBe(-EBADF);
    const dir = s.call('openat', -100, s.scratch + 7, 0o200000, 0);
    expect(s.call('fallocate', dir, 0, 0, PAGE)).toBe(-EBADF);
    const ro = s.call('openat', -100, s.scratch, 0, 0);
    expect(s.call('fallocate', ro, 0, 0, PAGE)).toBe(-EBADF);
  });
});
