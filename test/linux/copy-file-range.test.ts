/**
 * copy_file_range between files of one file system (by splice, offsets by pointer or the files'
 * positions), and the errors its callers rely on: EXDEV across file systems (cp then copies by
 * read and write), EINVAL for flags or an overlapping copy in one file, EBADF for a write-only
 * source or an O_APPEND destination.
 */
import { describe, expect, it } from 'vitest';
import { realMmRig } from './real-mm-rig.js';
import { EBADF, EINVAL, EXDEV } from '../../src/util/errno.js';

const AT_FDCWD = -100;
const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_APPEND = 0o2000;

describe('copy_file_range', () => {
  it('copies within /tmp, moves positions or the offsets given, stops at end of file, refuses what Linux refuses', () => {
    const { mm, call, scratch } = realMmRig({ sets: ['tmp_fs=tmpfs'] });
    const open = (path: string, flags: number): number => {
      mm.copyToUser(scratch, new TextEncoder().encode(`${path}\0`));
      return call('openat', AT_FDCWD, scratch, flags, 0o600);
    };
    const data = new Uint8Array(10_000).map((_, i) => (i * 7) & 0xff);
    const a = open('/tmp/a', O_RDWR | O_CREAT);
    mm.copyToUser(scratch + 4096, data);
    expect(call('write', a, scratch + 4096, data.length)).toBe(10_000);
    const b = open('/tmp/b', O_RDWR | O_CREAT);
    // From a's offset 1000 (by pointer, updated), to b's position (moved): 20,000 asked, 9,000 there.
    const offIn = scratch + 2048;
    mm.copyToUser(offIn, new Uint8Array(new BigInt64Array([1000n]).buffer));
    expect(call('copy_file_range', a, offIn, b, 0, 20_000, 0)).toBe(9000);
    expect(new BigInt64Array(mm.copyFromUser(offIn, 8)!.slice().buffer)[0]).toBe(10_000n);
    expect(call('lseek', b, 0, 1)).toBe(9000);
    expect(call('pread64', b, scratch + 32768, 9000, 0)).toBe(9000);
    expect([...mm.copyFromUser(scratch + 32768, 9000)!]).toEqual([...data.subarray(1000)]);
    // At the end of the source: nothing more.
    expect(call('copy_file_range', a, offIn, b, 0, 100, 0)).toBe(0);

    expect(call('copy_file_range', a, 0, b, 0, 10, 1)).toBe(-EINVAL);
    // Overlapping ranges of one file.
    const offOut = scratch + 2056;
    mm.copyToUser(offIn, new Uint8Array(new BigInt64Array([0n, 100n]).buffer));
    expect(call('copy_file_range', a, offIn, a, offOut, 200, 0)).toBe(-EINVAL);
    // The executable lives on the root file system, /tmp on its own tmpfs.
    const exe = open('/proc/self/exe', O_RDONLY);
    expect(call('copy_file_range', exe, 0, b, 0, 10, 0)).toBe(-EXDEV);
    expect(call('copy_file_range', open('/tmp/w', O_WRONLY | O_CREAT), 0, b, 0, 10, 0)).toBe(-EBADF);
    expect(call('copy_file_range', a, 0, open('/tmp/ap', O_WRONLY | O_CREAT | O_APPEND), 0, 10, 0)).toBe(-EBADF);
  });
});
