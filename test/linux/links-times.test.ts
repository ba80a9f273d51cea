/**
 * symlinkat and utimensat over the guest's file system: links stored as given (dangling ones
 * too), and access and modification times set, kept (UTIME_OMIT) or taken from the clock
 * (UTIME_NOW), through a path or a descriptor, with fs/utimes.c's permission rule.
 */
import { describe, expect, it } from 'vitest';
import { realMmRig } from './real-mm-rig.js';
import { EACCES, EBADF, EEXIST, EINVAL, ENOENT, EPERM } from '../../src/util/errno.js';

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const UTIME_NOW = (1 << 30) - 1;
const UTIME_OMIT = (1 << 30) - 2;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

function setup(uid?: number) {
  const { mm, call, scratch } = realMmRig({ ...(uid !== undefined ? { uid } : {}) });
  const str = (at: number, s: string): number => {
    mm.copyToUser(at, new TextEncoder().encode(`${s}\0`));
    return at;
  };
  const times = (at: number, t: readonly [bigint, bigint, bigint, bigint]): number => {
    const b = new DataView(new ArrayBuffer(32));
    t.forEach((v, i) => b.setBigInt64(8 * i, v, true));
    mm.copyToUser(at, new Uint8Array(b.buffer));
    return at;
  };
  /** newfstatat: [mode, atime s, atime ns, mtime s, mtime ns, ctime s, ctime ns] (asm-generic struct stat). */
  const stat = (path: string, flags = 0): number | bigint[] => {
    const r = call('newfstatat', AT_FDCWD, str(scratch, path), scratch + 1024, flags);
    if (r !== 0) return r;
    const dv = new DataView(mm.copyFromUser(scratch + 1024, 128)!.buffer);
    return [BigInt(dv.getUint32(16, true)), ...[72, 80, 88, 96, 104, 112].map((o) => dv.getBigInt64(o, true))];
  };
  return { mm, call, scratch, str, times, stat };
}

describe('symlinkat', () => {
  it('stores the target as given, dangling or not; EEXIST over a name; ENOENT for an empty target', () => {
    const { call, scratch, str, stat, mm } = setup();
    expect(call('symlinkat', str(scratch, 'no/such/target'), AT_FDCWD, str(scratch + 256, '/tmp/l'))).toBe(0);
    expect(call('readlinkat', AT_FDCWD, str(scratch, '/tmp/l'), scratch + 512, 64)).toBe(14);
    expect(new TextDecoder().decode(mm.copyFromUser(scratch + 512, 14)!)).toBe('no/such/target');
    expect(Number((stat('/tmp/l', AT_SYMLINK_NOFOLLOW) as bigint[])[0]! & BigInt(S_IFMT))).toBe(S_IFLNK);
    // Followed, it leads nowhere.
    expect(stat('/tmp/l')).toBe(-ENOENT);
    expect(call('symlinkat', str(scratch, 'x'), AT_FDCWD, str(scratch + 256, '/tmp/l'))).toBe(-EEXIST);
    expect(call('symlinkat', str(scratch, ''), AT_FDCWD, str(scratch + 256, '/tmp/m'))).toBe(-ENOENT);
    // A link to a file reads the file.
    const fd = call('openat', AT_FDCWD, str(scratch, '/tmp/f'), 0o102, 0o600);
    mm.copyToUser(scratch + 512, new TextEncoder().encode('data'));
    expect(call('write', fd, scratch + 512, 4)).toBe(4);
    expect(call('symlinkat', str(scratch, 'f'), AT_FDCWD, str(scratch + 256, '/tmp/lf'))).toBe(0);
    const rd = call('openat', AT_FDCWD, str(scratch, '/tmp/lf'), 0, 0);
    expect(call('read', rd, scratch + 600, 16)).toBe(4);
    expect(new TextDecoder().decode(mm.copyFromUser(scratch + 600, 4)!)).toBe('data');
  });
});

describe('utimensat', () => {
  it('sets both times, keeps one with UTIME_OMIT, takes the clock with UTIME_NOW; ctime follows', () => {
    const { call, scratch, str, times, stat } = setup();
    const fd = call('openat', AT_FDCWD, str(scratch, '/tmp/f'), 0o102, 0o600);
    const t = times(scratch + 2048, [1_000_000n, 500n, 2_000_000n, 999_999_999n]);
    expect(call('utimensat', AT_FDCWD, str(scratch, '/tmp/f'), t, 0)).toBe(0);
    const a = stat('/tmp/f') as bigint[];
    expect(a.slice(1, 5)).toEqual([1_000_000n, 500n, 2_000_000n, 999_999_999n]);
    // Only the modification time, through the descriptor (a NULL path is futimens).
    times(scratch + 2048, [0n, BigInt(UTIME_OMIT), 3_000_000n, 0n]);
    expect(call('utimensat', fd, 0, scratch + 2048, 0)).toBe(0);
    expect((stat('/tmp/f') as bigint[]).slice(1, 5)).toEqual([1_000_000n, 500n, 3_000_000n, 0n]);
    // Both omitted: nothing changes, not even ctime.
    const before = stat('/tmp/f') as bigint[];
    times(scratch + 2048, [0n, BigInt(UTIME_OMIT), 0n, BigInt(UTIME_OMIT)]);
    expect(call('utimensat', fd, 0, scratch + 2048, 0)).toBe(0);
    expect(stat('/tmp/f')).toEqual(before);
    // NULL times: both now, which is the change time too.
    expect(call('utimensat', AT_FDCWD, str(scratch, '/tmp/f'), 0, 0)).toBe(0);
    const now = stat('/tmp/f') as bigint[];
    expect(now.slice(1, 3)).toEqual(now.slice(5, 7));
    expect(now.slice(3, 5)).toEqual(now.slice(5, 7));
    times(scratch + 2048, [0n, BigInt(UTIME_NOW), 7n, 0n]);
    expect(call('utimensat', fd, 0, scratch + 2048, 0)).toBe(0);
    expect((stat('/tmp/f') as bigint[])[3]).toBe(7n);
  });

  it('refuses bad nanoseconds, unknown flags, AT_SYMLINK_NOFOLLOW on a descriptor, bad descriptors', () => {
    const { call, scratch, str, times } = setup();
    const fd = call('openat', AT_FDCWD, str(scratch, '/tmp/f'), 0o102, 0o600);
    times(scratch + 2048, [0n, 1_000_000_000n, 0n, 0n]);
    expect(call('utimensat', AT_FDCWD, str(scratch, '/tmp/f'), scratch + 2048, 0)).toBe(-EINVAL);
    expect(call('utimensat', AT_FDCWD, str(scratch, '/tmp/f'), 0, 0x4)).toBe(-EINVAL);
    expect(call('utimensat', fd, 0, 0, AT_SYMLINK_NOFOLLOW)).toBe(-EINVAL);
    expect(call('utimensat', 77, 0, 0, 0)).toBe(-EBADF);
    expect(call('utimensat', AT_FDCWD, str(scratch, '/tmp/none'), 0, 0)).toBe(-ENOENT);
  });

  it("someone else's file: explicit times EPERM, now EACCES without write permission", () => {
    const { call, scratch, str, times } = setup(1000);
    times(scratch + 2048, [5n, 0n, 5n, 0n]);
    // / belongs to root and is not writable by others.
    expect(call('utimensat', AT_FDCWD, str(scratch, '/'), scratch + 2048, 0)).toBe(-EPERM);
    expect(call('utimensat', AT_FDCWD, str(scratch, '/'), 0, 0)).toBe(-EACCES);
  });
});
