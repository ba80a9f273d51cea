/**
 * The file system through its system calls: open/read/write/lseek/unlink/ftruncate/dup3 and the
 * rest, with the errors in the order Linux reports them, file data in the page cache, and the
 * struct stat/statx bytes.
 */
import { describe, expect, it } from 'vitest';
import {
  EACCES, EBADF, EEXIST, EFAULT, EINVAL, EISDIR, ENAMETOOLONG, ENODEV, ENOENT, ENOTDIR, ENOTEMPTY, ENOTTY, ERANGE, ESPIPE,
} from '../../src/util/errno.js';
import { GuestRandom } from '../../src/linux/random.js';
import type { Inode } from '../../src/mm/inode.js';
import { makeRig, OUT, type Rig } from './harness.js';

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const O_DIRECTORY = 0o40000;
const O_LARGEFILE = 0o400000;
const O_CLOEXEC = 0o2000000;
const AT_FDCWD = -100;
const AT_REMOVEDIR = 0x200;
const AT_EMPTY_PATH = 0x1000;

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

function open(rig: Rig, path: string, flags: number, mode = 0o600): number {
  return rig.call('openat', AT_FDCWD, rig.str(path, 0), flags, mode);
}

function write(rig: Rig, fd: number, text: string): number {
  return rig.call('write', fd, rig.bytes(enc(text), 8192), enc(text).length);
}

function read(rig: Rig, fd: number, n: number): string | number {
  const got = rig.call('read', fd, rig.scratch + OUT, n);
  return got < 0 ? got : dec(rig.read(rig.scratch + OUT, got));
}

interface Stat {
  dev: bigint;
  ino: bigint;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: bigint;
  size: bigint;
  blksize: number;
  blocks: bigint;
  mtime: [bigint, bigint];
}

function stat(rig: Rig, va: number): Stat {
  const dv = new DataView(rig.read(va, 128).buffer);
  const u64 = (o: number): bigint => dv.getBigUint64(o, true);
  return {
    dev: u64(0), ino: u64(8), mode: dv.getUint32(16, true), nlink: dv.getUint32(20, true), uid: dv.getUint32(24, true),
    gid: dv.getUint32(28, true), rdev: u64(32), size: u64(48), blksize: dv.getInt32(56, true), blocks: u64(64), mtime: [u64(88), u64(96)],
  };
}

describe('files in /tmp, as the syscalls exerciser uses them', () => {
  it('create, write, seek, read, truncate, stat, dup3, unlink, close', () => {
    const rig = makeRig();
    const path = '/tmp/contpte-lab-syscalls.1000';
    const fd = open(rig, path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC);
    expect(fd).toBe(3);
    expect(open(rig, path, O_RDWR | O_CREAT | O_EXCL)).toBe(-EEXIST);
    expect(open(rig, '/nonexistent/contpte-lab', O_RDONLY)).toBe(-ENOENT);
    expect(write(rig, fd, '0123456789abcdef')).toBe(16);
    expect(rig.call('lseek', fd, 0, 1)).toBe(16);
    expect(rig.call('lseek', fd, 0, 2)).toBe(16);
    expect(rig.call('lseek', fd, 4, 0)).toBe(4);
    expect(rig.call('lseek', fd, -1, 0)).toBe(-EINVAL);
    expect(read(rig, fd, 6)).toBe('456789');
    expect(rig.call('ftruncate', fd, 8192)).toBe(0);
    expect(rig.call('fstat', fd, rig.scratch + OUT)).toBe(0);
    const st = stat(rig, rig.scratch + OUT);
    expect(st.mode).toBe(0o100600);
    expect(st.size).toBe(8192n);
    expect(st.nlink).toBe(1);
    expect([st.uid, st.gid]).toEqual([1000, 1000]);
    expect(st.blksize).toBe(4096);
    // One page of data in the page cache (the 16 bytes written); the rest is a hole.
    expect(st.blocks).toBe(8n);
    expect(st.dev).toBe(0x21n); // tmpfs: major 0, minor 33
    // Created and modified before any clock read: the virtual clock's first instant.
    expect(st.mtime).toEqual([1715472000n + 100n, 0n]);
    expect(rig.call('lseek', fd, 100, 0)).toBe(100);
    expect(read(rig, fd, 4)).toBe('\0\0\0\0');

    expect(rig.call('newfstatat', AT_FDCWD, rig.str(path), rig.scratch + OUT, 0)).toBe(0);
    expect(stat(rig, rig.scratch + OUT).size).toBe(8192n);
    expect(rig.call('statx', AT_FDCWD, rig.str(path), 0, 0x3, rig.scratch + OUT)).toBe(0);
    const sx = new DataView(rig.read(rig.scratch + OUT, 256).buffer);
    expect(sx.getUint32(0, true)).toBe(0x1fff); // BASIC_STATS | BTIME | MNT_ID
    expect(sx.getUint16(28, true)).toBe(0o100600);
    expect(sx.getBigUint64(40, true)).toBe(8192n);
    expect([sx.getUint32(136, true), sx.getUint32(140, true)]).toEqual([0, 33]);

    expect(rig.call('fcntl', fd, 1)).toBe(1);
    expect(rig.call('fcntl', fd, 2, 0)).toBe(0);
    expect(rig.call('fcntl', fd, 1)).toBe(0);
    expect(rig.call('fcntl', fd, 3)).toBe(O_RDWR | O_LARGEFILE);
    expect(rig.call('dup3', fd, 100, O_CLOEXEC)).toBe(100);
    expect(rig.call('fcntl', 100, 1)).toBe(1);
    expect(rig.call('lseek', 100, 0, 2)).toBe(8192);
    // One open file description: the position is shared.
    expect(rig.call('lseek', fd, 0, 1)).toBe(8192);
    expect(rig.call('dup3', fd, fd, 0)).toBe(-EINVAL);
    expect(rig.call('dup3', fd, 101, 1)).toBe(-EINVAL);
    expect(rig.call('dup3', fd, 5000, 0)).toBe(-EBADF);
    expect(rig.call('close', 100)).toBe(0);

    expect(rig.call('unlinkat', AT_FDCWD, rig.str(path), 0)).toBe(0);
    expect(rig.call('newfstatat', AT_FDCWD, rig.str(path), rig.scratch + OUT, 0)).toBe(-ENOENT);
    expect(rig.call('unlinkat', AT_FDCWD, rig.str(path), 0)).toBe(-ENOENT);
    // The unlinked file lives on while it is open.
    expect(rig.call('fstat', fd, rig.scratch + OUT)).toBe(0);
    expect(stat(rig, rig.scratch + OUT).nlink).toBe(0);
    expect(rig.call('lseek', fd, 4, 0)).toBe(4);
    expect(read(rig, fd, 3)).toBe('456');
    expect(rig.call('close', fd)).toBe(0);
    expect(rig.call('close', fd)).toBe(-EBADF);
    expect(rig.call('read', fd, rig.scratch + OUT, 1)).toBe(-EBADF);
  });

  it('O_APPEND, O_TRUNC and the access mode', () => {
    const rig = makeRig();
    const fd = open(rig, '/tmp/log', O_WRONLY | O_CREAT | O_APPEND);
    expect(write(rig, fd, 'one\n')).toBe(4);
    expect(rig.call('lseek', fd, 0, 0)).toBe(0);
    expect(write(rig, fd, 'two\n')).toBe(4);
    expect(rig.call('lseek', fd, 0, 1)).toBe(8);
    expect(rig.call('read', fd, rig.scratch + OUT, 4)).toBe(-EBADF);
    // pwrite on an O_APPEND file appends too (Linux's documented quirk).
    expect(rig.call('pwrite64', fd, rig.bytes(enc('3'), 8192), 1, 0)).toBe(1);
    const r = open(rig, '/tmp/log', O_RDONLY);
    expect(read(rig, r, 100)).toBe('one\ntwo\n3');
    expect(rig.call('write', r, rig.scratch, 1)).toBe(-EBADF);
    expect(rig.call('pread64', r, rig.scratch + OUT, 3, 4)).toBe(3);
    expect(dec(rig.read(rig.scratch + OUT, 3))).toBe('two');
    expect(rig.call('pread64', r, rig.scratch + OUT, 3, -1)).toBe(-EINVAL);
    const t = open(rig, '/tmp/log', O_RDWR | O_TRUNC);
    expect(rig.call('fstat', t, rig.scratch + OUT)).toBe(0);
    expect(stat(rig, rig.scratch + OUT).size).toBe(0n);
    expect(read(rig, r, 10)).toBe('');
  });

  it('directories, relative paths and the working directory', () => {
    const rig = makeRig();
    expect(rig.call('mkdirat', AT_FDCWD, rig.str('/tmp/d'), 0o755)).toBe(0);
    expect(rig.call('mkdirat', AT_FDCWD, rig.str('/tmp/d'), 0o755)).toBe(-EEXIST);
    expect(rig.call('chdir', rig.str('/tmp/d'))).toBe(0);
    const n = rig.call('getcwd', rig.scratch + OUT, 100);
    expect(n).toBe(7);
    expect(dec(rig.read(rig.scratch + OUT, 7))).toBe('/tmp/d\0');
    expect(rig.call('getcwd', rig.scratch + OUT, 1)).toBe(-ERANGE);
    const f = open(rig, 'x', O_RDWR | O_CREAT);
    expect(write(rig, f, 'rel')).toBe(3);
    expect(open(rig, '../d/./x', O_RDONLY)).toBeGreaterThan(0);
    expect(open(rig, '/tmp/../tmp/d/x', O_RDONLY)).toBeGreaterThan(0);
    const dirfd = open(rig, '/tmp', O_RDONLY | O_DIRECTORY);
    expect(rig.call('openat', dirfd, rig.str('d/x'), O_RDONLY, 0)).toBeGreaterThan(0);
    expect(rig.call('openat', f, rig.str('x'), O_RDONLY, 0)).toBe(-ENOTDIR);
    expect(rig.call('openat', 77, rig.str('x'), O_RDONLY, 0)).toBe(-EBADF);
    // An absolute path ignores a bad dirfd.
    expect(rig.call('openat', 77, rig.str('/tmp/d/x'), O_RDONLY, 0)).toBeGreaterThan(0);
    expect(open(rig, 'x/y', O_RDONLY)).toBe(-ENOTDIR);
    expect(open(rig, 'x', O_RDONLY | O_DIRECTORY)).toBe(-ENOTDIR);
    expect(open(rig, '/tmp', O_RDWR)).toBe(-EISDIR);
    expect(open(rig, '/tmp/d/', O_RDWR | O_CREAT)).toBe(-EISDIR);
    expect(rig.call('read', dirfd, rig.scratch + OUT, 1)).toBe(-EISDIR);
    expect(rig.call('unlinkat', AT_FDCWD, rig.str('/tmp/d'), 0)).toBe(-EISDIR);
    expect(rig.call('unlinkat', AT_FDCWD, rig.str('/tmp/d'), AT_REMOVEDIR)).toBe(-ENOTEMPTY);
    expect(rig.call('unlinkat', AT_FDCWD, rig.str('/tmp/d/x'), AT_REMOVEDIR)).toBe(-ENOTDIR);
    expect(rig.call('unlinkat', AT_FDCWD, rig.str('x'), 0)).toBe(0);
    expect(rig.call('unlinkat', AT_FDCWD, rig.str('/tmp/d'), 0x400)).toBe(-EINVAL);
    expect(rig.call('unlinkat', AT_FDCWD, rig.str('/tmp/d'), AT_REMOVEDIR)).toBe(0);
  });

  it('permissions: an ordinary user cannot create in / or /proc', () => {
    const rig = makeRig();
    expect(open(rig, '/newfile', O_RDWR | O_CREAT)).toBe(-EACCES);
    expect(open(rig, '/proc/x', O_RDWR | O_CREAT)).toBe(-EACCES);
    expect(rig.call('mkdirat', AT_FDCWD, rig.str('/dev/sub'), 0o755)).toBe(-EACCES);
    const f = open(rig, '/tmp/ro', O_RDWR | O_CREAT, 0o400);
    expect(f).toBeGreaterThan(0);
    expect(open(rig, '/tmp/ro', O_RDWR)).toBe(-EACCES);
    expect(open(rig, '/tmp/ro', O_RDONLY)).toBeGreaterThan(0);
    expect(rig.call('faccessat', AT_FDCWD, rig.str('/tmp/ro'), 2)).toBe(-EACCES);
    expect(rig.call('faccessat', AT_FDCWD, rig.str('/tmp/ro'), 4)).toBe(0);
    expect(rig.call('faccessat', AT_FDCWD, rig.str('/tmp/none'), 0)).toBe(-ENOENT);
  });

  it('path name errors: too long, unterminated, unreadable, empty', () => {
    const rig = makeRig();
    expect(open(rig, '/tmp/' + 'n'.repeat(256), O_RDWR | O_CREAT)).toBe(-ENAMETOOLONG);
    expect(open(rig, '/tmp/' + 'n'.repeat(255), O_RDWR | O_CREAT)).toBeGreaterThan(0);
    // 4096 bytes without a NUL.
    rig.bytes(new Uint8Array(4096).fill(0x61), 0);
    expect(rig.call('openat', AT_FDCWD, rig.scratch, O_RDONLY, 0)).toBe(-ENAMETOOLONG);
    expect(rig.call('openat', AT_FDCWD, 0x1000, O_RDONLY, 0)).toBe(-EFAULT);
    expect(rig.call('openat', AT_FDCWD, rig.str(''), O_RDONLY, 0)).toBe(-ENOENT);
    // A name running into an unmapped page faults there.
    const end = rig.scratch + 65536 - 3;
    rig.mm.poke(end, enc('abc'));
    expect(rig.call('openat', AT_FDCWD, end, O_RDONLY, 0)).toBe(-EFAULT);
  });

  it('fstat of a descriptor through newfstatat(fd, "", AT_EMPTY_PATH), as glibc does', () => {
    const rig = makeRig();
    expect(rig.call('newfstatat', 1, rig.str(''), rig.scratch + OUT, AT_EMPTY_PATH)).toBe(0);
    const st = stat(rig, rig.scratch + OUT);
    expect(st.mode).toBe(0o010600); // a pipe
    expect(st.blksize).toBe(4096);
    expect(rig.call('newfstatat', 1, rig.str(''), rig.scratch + OUT, 0)).toBe(-ENOENT);
    expect(rig.call('newfstatat', AT_FDCWD, rig.str('/tmp'), rig.scratch + OUT, 0x4)).toBe(-EINVAL);
    expect(rig.call('newfstatat', AT_FDCWD, rig.str('/dev/null'), rig.scratch + OUT, 0)).toBe(0);
    const dn = stat(rig, rig.scratch + OUT);
    expect(dn.mode).toBe(0o020666);
    expect(dn.rdev).toBe(0x103n);
  });

  it('statx checks its flags and mask', () => {
    const rig = makeRig();
    const p = rig.str('/tmp');
    expect(rig.call('statx', AT_FDCWD, p, 0x6000, 0x7ff, rig.scratch + OUT)).toBe(-EINVAL);
    expect(rig.call('statx', AT_FDCWD, p, 0x4, 0x7ff, rig.scratch + OUT)).toBe(-EINVAL);
    expect(rig.call('statx', AT_FDCWD, p, 0, 0x80000000, rig.scratch + OUT)).toBe(-EINVAL);
    expect(rig.call('statx', AT_FDCWD, p, 0, 0x7ff, rig.scratch + OUT)).toBe(0);
    const sx = new DataView(rig.read(rig.scratch + OUT, 256).buffer);
    expect(sx.getUint16(28, true)).toBe(0o041777);
    expect(sx.getBigUint64(8, true)).toBe(0x2000n); // STATX_ATTR_MOUNT_ROOT
  });
});

describe('ftruncate and the page cache', () => {
  it('a shrink drops cached pages beyond the end and calls the unmap hook around it', () => {
    const calls: [number, number][] = [];
    const rig = makeRig({ unmapMappingRange: (inode: Inode, hole: number) => calls.push([inode.ino, hole]) });
    const fd = open(rig, '/tmp/t', O_RDWR | O_CREAT);
    const big = 'x'.repeat(3 * 4096);
    expect(write(rig, fd, big)).toBe(3 * 4096);
    const node = rig.p.fds.get(fd)!.file.node;
    if (node.kind !== 'reg') throw new Error('not a regular file');
    expect(node.inode.mapping.nrpages).toBe(3);
    expect(rig.call('ftruncate', fd, 100)).toBe(0);
    expect(calls).toEqual([[node.inode.ino, 4096], [node.inode.ino, 4096]]);
    expect(node.inode.mapping.nrpages).toBe(1);
    expect(rig.call('pread64', fd, rig.scratch + OUT, 200, 0)).toBe(100);
    expect(rig.call('ftruncate', fd, -1)).toBe(-EINVAL);
    const ro = open(rig, '/tmp/t', O_RDONLY);
    expect(rig.call('ftruncate', ro, 0)).toBe(-EINVAL);
    expect(rig.call('ftruncate', 1, 0)).toBe(-EINVAL);
    expect(rig.call('truncate', rig.str('/tmp/t'), 50)).toBe(0);
    expect(rig.call('lseek', fd, 0, 2)).toBe(50);
  });
});

describe('devices and standard streams', () => {
  it('/dev/null, /dev/zero and /dev/urandom', () => {
    const rig = makeRig({ randomSeed: 'dev' });
    const n = open(rig, '/dev/null', O_RDWR);
    expect(rig.call('read', n, rig.scratch + OUT, 10)).toBe(0);
    // write_null takes the count without reading the buffer: an unmapped one is fine.
    expect(rig.call('write', n, 0x1000, 10)).toBe(10);
    const z = open(rig, '/dev/zero', O_RDONLY);
    rig.bytes(new Uint8Array(16).fill(0xee), OUT);
    expect(rig.call('read', z, rig.scratch + OUT, 16)).toBe(16);
    expect([...rig.read(rig.scratch + OUT, 16)]).toEqual(new Array(16).fill(0));
    expect(rig.call('lseek', z, 123, 0)).toBe(0);
    const u = open(rig, '/dev/urandom', O_RDONLY);
    expect(rig.call('read', u, rig.scratch + OUT, 8)).toBe(8);
    expect([...rig.read(rig.scratch + OUT, 8)]).toEqual([...new GuestRandom('dev').bytes(8)]);
    expect(rig.call('ioctl', n, 0x5401, rig.scratch + OUT)).toBe(-ENOTTY);
  });

  it('stdout and stderr go to the hooks, one call per write or writev; stdin comes from its hook', () => {
    const rig = makeRig();
    expect(write(rig, 1, 'line\n')).toBe(5);
    expect(write(rig, 2, 'oops\n')).toBe(5);
    const iov = new DataView(new ArrayBuffer(32));
    const a = rig.str('writev: ok,', 0);
    const b = rig.str(' 2 buffers\n', 64);
    iov.setBigUint64(0, BigInt(a), true);
    iov.setBigUint64(8, 11n, true);
    iov.setBigUint64(16, BigInt(b), true);
    iov.setBigUint64(24, 11n, true);
    expect(rig.call('writev', 1, rig.bytes(new Uint8Array(iov.buffer), 1024), 2)).toBe(22);
    expect(rig.stdout).toEqual(['line\n', 'writev: ok, 2 buffers\n']);
    expect(rig.stderr).toEqual(['oops\n']);
    expect(rig.call('writev', 1, rig.scratch + 1024, 1025)).toBe(-EINVAL);
    iov.setBigInt64(8, -1n, true);
    expect(rig.call('writev', 1, rig.bytes(new Uint8Array(iov.buffer), 1024), 2)).toBe(-EINVAL);
    rig.stdin.push(enc('typed\n'));
    expect(read(rig, 0, 100)).toBe('typed\n');
    expect(read(rig, 0, 100)).toBe('');
    expect(rig.call('read', 1, rig.scratch + OUT, 1)).toBe(-EBADF);
    expect(rig.call('lseek', 1, 0, 1)).toBe(-ESPIPE);
    expect(rig.call('ioctl', 1, 0x5401, rig.scratch + OUT)).toBe(-ENOTTY);
    expect(rig.call('fcntl', 1, 3)).toBe(O_WRONLY);
  });

  it('with a terminal, TCGETS fills struct termios', () => {
    const rig = makeRig();
    (rig.p.stdio as { isatty?: boolean }).isatty = true;
    expect(rig.call('ioctl', 1, 0x5401, rig.scratch + OUT)).toBe(0);
    const t = new DataView(rig.read(rig.scratch + OUT, 36).buffer);
    expect([t.getUint32(0, true), t.getUint32(4, true), t.getUint32(8, true), t.getUint32(12, true)]).toEqual([0o2400, 0o5, 0o277, 0o105073]);
    expect(rig.call('ioctl', 1, 0x5413, rig.scratch + OUT)).toBe(0);
    expect([...rig.read(rig.scratch + OUT, 4)]).toEqual([24, 0, 80, 0]);
  });
});

describe('memfd_create and readlinkat', () => {
  it('a memfd is an unlinked tmpfs file', () => {
    const rig = makeRig();
    const fd = rig.call('memfd_create', rig.str('contpte-lab'), 1);
    expect(fd).toBe(3);
    expect(rig.call('fcntl', fd, 1)).toBe(1);
    expect(write(rig, fd, 'memfd contents\n')).toBe(15);
    expect(rig.call('lseek', fd, 0, 0)).toBe(0);
    expect(read(rig, fd, 32)).toBe('memfd contents\n');
    expect(rig.call('fstat', fd, rig.scratch + OUT)).toBe(0);
    const st = stat(rig, rig.scratch + OUT);
    expect([st.mode, st.nlink, st.size, st.dev]).toEqual([0o100777, 0, 15n, 0x1n]);
    expect(rig.call('memfd_create', rig.str('x'.repeat(250)), 0)).toBe(-EINVAL);
    expect(rig.call('memfd_create', rig.str('x'.repeat(249)), 0)).toBe(4);
    expect(rig.call('memfd_create', rig.str('x'), 0x40)).toBe(-EINVAL);
    expect(rig.call('memfd_create', rig.str('x'), 4)).toBe(-EINVAL);
    expect(rig.call('memfd_create', 0x1000, 0)).toBe(-EFAULT);
  });

  it('readlinkat: /proc/self/exe before any exec, truncation, non-links', () => {
    const rig = makeRig();
    expect(rig.call('readlinkat', AT_FDCWD, rig.str('/proc/self/exe'), rig.scratch + OUT, 100)).toBe(-ENOENT);
    rig.p.fs.installExecutable('/usr/bin/prog', new Uint8Array(8));
    expect(rig.call('readlinkat', AT_FDCWD, rig.str('/proc/self/exe'), rig.scratch + OUT, 100)).toBe(13);
    expect(dec(rig.read(rig.scratch + OUT, 13))).toBe('/usr/bin/prog');
    expect(rig.call('readlinkat', AT_FDCWD, rig.str('/proc/self/exe'), rig.scratch + OUT, 4)).toBe(4);
    expect(rig.call('readlinkat', AT_FDCWD, rig.str('/proc/self/exe'), rig.scratch + OUT, 0)).toBe(-EINVAL);
    expect(rig.call('readlinkat', AT_FDCWD, rig.str('/tmp'), rig.scratch + OUT, 10)).toBe(-EINVAL);
    // Opening the link follows it to the executable.
    const fd = open(rig, '/proc/self/exe', O_RDONLY);
    expect(rig.call('fstat', fd, rig.scratch + OUT)).toBe(0);
    expect(stat(rig, rig.scratch + OUT).mode).toBe(0o100755);
    expect(open(rig, '/proc/self/exe', O_RDONLY | 0o100000)).toBe(-40); // O_NOFOLLOW: ELOOP
  });
});

describe('mmap of files: the checks before the memory manager', () => {
  it('access modes, device files, offsets and coherence with read()', () => {
    const rig = makeRig();
    const rw = open(rig, '/tmp/m', O_RDWR | O_CREAT);
    expect(write(rig, rw, 'ABCDEFGH')).toBe(8);
    const wo = open(rig, '/tmp/m', O_WRONLY);
    const ro = open(rig, '/tmp/m', O_RDONLY);
    const PROT_RW = 3;
    const SHARED = 1;
    const PRIVATE = 2;
    expect(rig.call('mmap', 0, 4096, 1, SHARED, wo, 0)).toBe(-EACCES);
    expect(rig.call('mmap', 0, 4096, PROT_RW, SHARED, ro, 0)).toBe(-EACCES);
    expect(rig.call('mmap', 0, 4096, PROT_RW, SHARED, rw, 100)).toBe(-EINVAL);
    expect(rig.call('mmap', 0, 4096, PROT_RW, SHARED, 99, 0)).toBe(-EBADF);
    expect(rig.call('mmap', 0, 4096, PROT_RW, SHARED, 1, 0)).toBe(-ENODEV);
    const priv = rig.call('mmap', 0, 4096, PROT_RW, PRIVATE, ro, 0);
    expect(priv).toBeGreaterThan(0);
    const log = rig.mm.log.filter((e) => e.op === 'mmap');
    expect(log[log.length - 1]).toMatchObject({ flags: PRIVATE, prot: PROT_RW, pgoff: 0 });
    const shared = rig.call('mmap', 0, 4096, PROT_RW, SHARED, rw, 0);
    expect(dec(rig.read(shared, 8))).toBe('ABCDEFGH');
    rig.mm.poke(shared + 2, enc('cd'));
    expect(rig.call('pread64', ro, rig.scratch + OUT, 8, 0)).toBe(8);
    expect(dec(rig.read(rig.scratch + OUT, 8))).toBe('ABcdEFGH');
    // /dev/zero: private and shared mappings are anonymous memory.
    const zero = open(rig, '/dev/zero', O_RDWR);
    expect(rig.call('mmap', 0, 8192, PROT_RW, SHARED, zero, 0)).toBeGreaterThan(0);
    const last = rig.mm.log.filter((e) => e.op === 'mmap').pop();
    expect(last).toMatchObject({ flags: SHARED | 0x20, file: null });
  });
});

describe('the working directory option', () => {
  it('starts relative paths at the chosen directory and refuses one that does not exist', () => {
    const rig = makeRig({ cwd: '/tmp' });
    expect(open(rig, 'rel', O_RDWR | O_CREAT)).toBe(3);
    expect(rig.call('newfstatat', AT_FDCWD, rig.str('/tmp/rel'), rig.scratch + OUT, 0)).toBe(0);
    expect(() => makeRig({ cwd: '/nowhere' })).toThrow("working directory '/nowhere': not an absolute path to a directory of the guest (/, /tmp, /dev, /proc ...)");
    expect(() => makeRig({ cwd: 'tmp' })).toThrow(/not an absolute path/);
  });
});
