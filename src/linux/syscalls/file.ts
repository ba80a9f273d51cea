/**
 * File and descriptor system calls: open, read, write and their vector and positional forms,
 * lseek, stat, truncate, unlink, directories (getdents64 too), readlink, dup, fcntl (with the
 * pipe sizes), ioctl, memfd_create. Reads and writes of pipes, sockets and eventfds go through
 * their file operations (stream.ts), which may block.
 * Follows fs/open.c, fs/read_write.c, fs/stat.c, fs/namei.c, fs/fcntl.c, fs/ioctl.c and
 * mm/memfd.c (v6.9) in the order of their checks, so each error comes out as Linux's does.
 */
import type { U64 } from '../../util/u64.js';
import {
  EACCES, EAGAIN, EBADF, EEXIST, EFAULT, EINVAL, EISDIR, ELOOP, ENOENT, ENOSYS, ENOTDIR, ENOTTY, ENXIO, ENODATA, EOPNOTSUPP, EPIPE, ERANGE, ESPIPE, EXDEV,
} from '../../util/errno.js';
import {
  FASYNC, MAX_RW_COUNT, O_ACCMODE, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECT, O_DIRECTORY, O_DSYNC, O_EXCL, O_LARGEFILE,
  O_NOATIME, O_NOCTTY, O_NOFOLLOW, O_NONBLOCK, O_PATH, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, SEEK_HOLE, SETFL_MASK,
  __O_SYNC, __O_TMPFILE, OpenFile, llseek, readFile, writeFile,
} from '../file.js';
import { listDir, S_IFSOCK, type DirNode, type Node, type RegNode } from '../fs.js';
import { PipeOps } from '../pipe.js';
import { UnixSocket } from '../socket.js';
import type { LinuxProcess } from '../process.js';
import { RLIMIT_NOFILE } from '../rlimit.js';
import { STATX__RESERVED, encodeStat, encodeStatx, kstatOf } from '../stat.js';
import { encodeStatfs } from '../statfs.js';
import { StructReader, StructWriter, accessOk, getPathname, getUser, getUserPartial, getUserString, putUser, putUserPartial } from '../uaccess.js';
import { argInt, argLong, argPtr, argUint, argUlong } from './args.js';
import type { SyscallHandlers, SyscallOutcome } from './outcome.js';
import { opsRead, opsWrite, type IoBlockState } from './stream.js';

export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_EACCESS = 0x200;
export const AT_NO_AUTOMOUNT = 0x800;
export const AT_EMPTY_PATH = 0x1000;
export const AT_STATX_SYNC_TYPE = 0x6000;

export const F_DUPFD = 0;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_GETLK = 5;
export const F_SETLK = 6;
export const F_SETLKW = 7;
export const F_OFD_GETLK = 36;
export const F_OFD_SETLK = 37;
export const F_OFD_SETLKW = 38;
export const F_DUPFD_CLOEXEC = 1030;
export const F_SETPIPE_SZ = 1031;
export const F_GETPIPE_SZ = 1032;
export const F_SETOWN = 8;
export const F_GETOWN = 9;
export const FD_CLOEXEC = 1;
export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;

export const TCGETS = 0x5401;
export const TCSETS = 0x5402;
export const TCSETSW = 0x5403;
export const TCSETSF = 0x5404;
export const TIOCGPGRP = 0x540f;
export const TIOCGWINSZ = 0x5413;
export const FIONREAD = 0x541b;
export const FIONBIO = 0x5421;
export const FIONCLEX = 0x5450;
export const FIOCLEX = 0x5451;

export const MFD_CLOEXEC = 0x1;
export const MFD_ALLOW_SEALING = 0x2;
export const MFD_HUGETLB = 0x4;
export const MFD_NOEXEC_SEAL = 0x8;
export const MFD_EXEC = 0x10;
/** NAME_MAX minus the "memfd:" prefix. */
export const MFD_NAME_MAX_LEN = 249;

/** UIO_MAXIOV: the most iovecs one readv/writev takes. */
export const UIO_MAXIOV = 1024;
/** Bytes moved per step of a large read or write, to bound host buffers. */
const IO_CHUNK = 1 << 20;

/** Open flags open() knows (VALID_OPEN_FLAGS); unknown bits are ignored, as open(2) does. */
const VALID_OPEN_FLAGS =
  O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC | FASYNC | O_DIRECT | O_LARGEFILE |
  O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | __O_SYNC | O_PATH | __O_TMPFILE;
/** O_PATH keeps only these (O_PATH_FLAGS). */
const O_PATH_FLAGS = O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC;

function fileOf(p: LinuxProcess, fd: number): OpenFile | null {
  return p.fds.get(fd)?.file ?? null;
}

/** The directory a relative path starts from: the cwd for AT_FDCWD, else the directory fd's. */
function startDir(p: LinuxProcess, dirfd: number, path: string): DirNode | number {
  if (path.startsWith('/') || dirfd === AT_FDCWD) return p.fs.cwd;
  const f = fileOf(p, dirfd);
  if (f === null) return -EBADF;
  if (f.node.kind !== 'dir') return -ENOTDIR;
  return f.node;
}

/** The node an (dirfd, path, flags) triple names, AT_EMPTY_PATH and symlink following included. */
function resolveAt(p: LinuxProcess, dirfd: number, pathVa: number, follow: boolean, emptyPath: boolean): Node | number {
  const name = getPathname(p.mm, pathVa, emptyPath);
  if (name.kind === 'error') return -name.errno;
  if (name.value === '') {
    if (dirfd === AT_FDCWD) return p.fs.cwd;
    const f = fileOf(p, dirfd);
    return f === null ? -EBADF : f.node;
  }
  const base = startDir(p, dirfd, name.value);
  if (typeof base === 'number') return base;
  const r = p.fs.lookup(base, name.value, follow);
  return r.kind === 'ok' ? r.node : -r.errno;
}

function rwCount(count: number): number {
  return Math.min(count, MAX_RW_COUNT);
}

/** The position a write starts at: the end of file with O_APPEND (pwrite too, as Linux does). */
function writePos(f: OpenFile, pos: number): number {
  return (f.flags & O_APPEND) !== 0 && f.node.kind === 'reg' ? f.node.inode.size : pos;
}

/** vfs_read body: reads into guest memory at `buf`, returning bytes copied or -errno. */
function doRead(p: LinuxProcess, f: OpenFile, buf: number, count: number, pos: number): { n: number; pos: number } {
  let done = 0;
  let at = pos;
  while (done < count) {
    const want = Math.min(IO_CHUNK, count - done);
    // The bytes go to user memory at once: a view of the page cache will do.
    const r = readFile(p.fs, p.stdio, f, at, want, true);
    if (r.kind === 'error') return { n: done > 0 ? done : -r.errno, pos: at };
    const bytes = r.bytes;
    if (bytes.length === 0) break;
    const copied = putUserPartial(p.mm, buf + done, bytes);
    done += copied;
    at += copied;
    if (copied < bytes.length) return { n: done > 0 ? done : -EFAULT, pos: at };
    // A stream returns what it has; a short regular read is the end of the file.
    if (bytes.length < want || f.node.kind === 'fifo') break;
  }
  return { n: done, pos: at };
}

/** Where a regular file's write stages the user's bytes (a 4 KiB write1 loop allocated one each call). */
let scratch = new Uint8Array(0);

function writeScratch(len: number): Uint8Array {
  if (scratch.length < len) scratch = new Uint8Array(Math.min(IO_CHUNK, Math.max(len, 64 * 1024)));
  return scratch;
}

/** vfs_write body: writes from guest memory at `buf`. */
function doWrite(p: LinuxProcess, f: OpenFile, buf: number, count: number, pos: number): { n: number; pos: number } {
  // write_null and write_zero never look at the buffer.
  if (f.node.kind === 'chr') return { n: count, pos };
  let done = 0;
  let at = writePos(f, pos);
  while (done < count) {
    const want = Math.min(IO_CHUNK, count - done);
    // A regular file copies the bytes into the page cache at once: they may sit in a scratch buffer.
    const data = getUserPartial(p.mm, buf + done, want, f.node.kind === 'reg' ? writeScratch(want) : undefined);
    if (data.length === 0) return { n: done > 0 ? done : -EFAULT, pos: at };
    const r = writeFile(p.fs, p.stdio, f, at, data);
    if (r.kind === 'error') return { n: done > 0 ? done : -r.errno, pos: at };
    done += r.written;
    at += r.written;
    if (r.written < data.length || data.length < want) break;
  }
  return { n: done, pos: at };
}

function checkReadable(f: OpenFile | null): number {
  if (f === null || !f.readable) return -EBADF;
  return 0;
}

function checkWritable(f: OpenFile | null): number {
  if (f === null || !f.writable) return -EBADF;
  return 0;
}

function read(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const f = fileOf(p, argUint(a[0]!));
  const bad = checkReadable(f);
  if (bad !== 0) return bad;
  const buf = argPtr(a[1]!);
  // vfs_read/vfs_write check access_ok on the size as asked, before the MAX_RW_COUNT clamp.
  const asked = argUlong(a[2]!);
  const count = rwCount(asked);
  if (!accessOk(buf, asked)) return -EFAULT;
  if (f!.node.kind === 'dir') return -EISDIR;
  // sock_read_iter returns 0 for an empty read without taking a datagram off the queue.
  if (f!.ops instanceof UnixSocket && count === 0) return 0;
  if (f!.ops !== null) return opsRead(p, f!, [{ base: buf, len: count }], 0);
  if (count === 0) return 0;
  const r = doRead(p, f!, buf, count, f!.pos);
  if (f!.seekable) f!.pos = r.pos;
  return r.n;
}

function write(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const f = fileOf(p, argUint(a[0]!));
  const bad = checkWritable(f);
  if (bad !== 0) return bad;
  const buf = argPtr(a[1]!);
  // vfs_read/vfs_write check access_ok on the size as asked, before the MAX_RW_COUNT clamp.
  const asked = argUlong(a[2]!);
  const count = rwCount(asked);
  if (!accessOk(buf, asked)) return -EFAULT;
  if (f!.ops !== null) return count === 0 && f!.node.kind === 'fifo' ? 0 : opsWrite(p, f!, [{ base: buf, len: count }], 0);
  if (count === 0) return 0;
  const r = doWrite(p, f!, buf, count, f!.pos);
  if (f!.seekable && f!.node.kind !== 'chr') f!.pos = r.pos;
  return r.n;
}

function pread64(p: LinuxProcess, a: readonly U64[]): number {
  const f = fileOf(p, argUint(a[0]!));
  const bad = checkReadable(f);
  if (bad !== 0) return bad;
  const buf = argPtr(a[1]!);
  // vfs_read/vfs_write check access_ok on the size as asked, before the MAX_RW_COUNT clamp.
  const asked = argUlong(a[2]!);
  const count = rwCount(asked);
  const pos = argLong(a[3]!);
  if (pos < 0) return -EINVAL;
  if (!f!.seekable) return -ESPIPE;
  if (!accessOk(buf, asked)) return -EFAULT;
  if (f!.node.kind === 'dir') return -EISDIR;
  if (count === 0) return 0;
  return doRead(p, f!, buf, count, pos).n;
}

function pwrite64(p: LinuxProcess, a: readonly U64[]): number {
  const f = fileOf(p, argUint(a[0]!));
  const bad = checkWritable(f);
  if (bad !== 0) return bad;
  const buf = argPtr(a[1]!);
  // vfs_read/vfs_write check access_ok on the size as asked, before the MAX_RW_COUNT clamp.
  const asked = argUlong(a[2]!);
  const count = rwCount(asked);
  const pos = argLong(a[3]!);
  if (pos < 0) return -EINVAL;
  if (!f!.seekable) return -ESPIPE;
  if (!accessOk(buf, asked)) return -EFAULT;
  if (count === 0) return 0;
  return doWrite(p, f!, buf, count, pos).n;
}

interface Iovec {
  readonly base: number;
  readonly len: number;
}

/** import_iovec: the iovec array, each segment checked, the total capped at MAX_RW_COUNT. */
export function importIovec(p: LinuxProcess, va: number, vlen: number): Iovec[] | number {
  if (vlen > UIO_MAXIOV) return -EINVAL;
  const raw = getUser(p.mm, va, vlen * 16);
  if (raw === null) return -EFAULT;
  const r = new StructReader(raw);
  const out: Iovec[] = [];
  let total = 0;
  for (let i = 0; i < vlen; i++) {
    const lenBig = r.i64(i * 16 + 8);
    if (lenBig < 0n) return -EINVAL;
    const base = r.ulong(i * 16);
    let len = lenBig > BigInt(MAX_RW_COUNT) ? MAX_RW_COUNT : Number(lenBig);
    if (!accessOk(base, len)) return -EFAULT;
    len = Math.min(len, MAX_RW_COUNT - total);
    total += len;
    out.push({ base, len });
  }
  return out;
}

function readv(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const f = fileOf(p, argUint(a[0]!));
  const bad = checkReadable(f);
  if (bad !== 0) return bad;
  const iov = importIovec(p, argPtr(a[1]!), argUlong(a[2]!));
  if (typeof iov === 'number') return iov;
  if (f!.node.kind === 'dir') return -EISDIR;
  if (f!.ops !== null) return opsRead(p, f!, iov, 0);
  let done = 0;
  for (const seg of iov) {
    if (seg.len === 0) continue;
    const r = doRead(p, f!, seg.base, seg.len, f!.pos);
    if (r.n < 0) return done > 0 ? done : r.n;
    if (f!.seekable) f!.pos = r.pos;
    done += r.n;
    if (r.n < seg.len) break;
  }
  return done;
}

/** SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT. */
const SPLICE_F_ALL = 0xf;
const SPLICE_F_NONBLOCK = 0x2;
const PAGE_SIZE = 4096;

/**
 * vmsplice(2) (fs/splice.c, 6.12): into a pipe's write end, the user pages themselves become pipe
 * buffers (get_user_pages with a reference each, read access), as many page pieces as the pipe
 * has free buffers; the reader later copies from those pages, so it sees what they hold then,
 * and a later write by their owner must copy on write (the extra reference). From a read end it
 * is a readv (vmsplice_to_user). A file that is not a pipe: EBADF.
 */
function vmsplice(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const flags = argUint(a[3]!);
  if ((flags & ~SPLICE_F_ALL) !== 0) return -EINVAL;
  const f = fileOf(p, argUint(a[0]!));
  if (f === null || !(f.ops instanceof PipeOps)) return -EBADF;
  const iov = importIovec(p, argPtr(a[1]!), argUlong(a[2]!));
  if (typeof iov === 'number') return iov;
  if (!f.writable) return f.readable ? opsRead(p, f, iov, 0) : -EBADF;
  const pipe = f.ops.pipe;
  const getPage = p.mm.getUserPage?.bind(p.mm);
  if (getPage === undefined) return -ENOSYS;
  if (pipe.readers === 0) return opsWrite(p, f, [{ base: 0, len: 1 }], 0);
  if (pipe.freeSlots === 0) {
    if ((flags & SPLICE_F_NONBLOCK) !== 0 || (f.flags & O_NONBLOCK) !== 0) return -EAGAIN;
    p.current.blockState = { kind: 'io', done: 0 } satisfies IoBlockState;
    return { kind: 'block', on: [pipe.wrWait], restartable: true };
  }
  const pieces: { page: Uint8Array; offset: number; len: number; release: () => void }[] = [];
  let bytes = 0;
  outer: for (const seg of iov) {
    for (let va = seg.base; va < seg.base + seg.len && pieces.length < pipe.freeSlots; ) {
      const offset = va % PAGE_SIZE;
      const len = Math.min(PAGE_SIZE - offset, seg.base + seg.len - va);
      const ref = getPage(va);
      if (ref === null) break outer;
      pieces.push({ page: ref.page, offset, len, release: () => ref.release() });
      bytes += len;
      va += len;
    }
    if (pieces.length >= pipe.freeSlots) break;
  }
  if (pieces.length === 0) return iov.some((v) => v.len > 0) ? -EFAULT : 0;
  const n = pipe.spliceUserPages(pieces);
  if (typeof n !== 'number') return -EPIPE;
  return bytes;
}

function writev(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const f = fileOf(p, argUint(a[0]!));
  const bad = checkWritable(f);
  if (bad !== 0) return bad;
  const iov = importIovec(p, argPtr(a[1]!), argUlong(a[2]!));
  if (typeof iov === 'number') return iov;
  const total = iov.reduce((s, v) => s + v.len, 0);
  if (f!.ops !== null) return total === 0 && f!.node.kind === 'fifo' ? 0 : opsWrite(p, f!, iov, 0);
  if (total === 0) return 0;
  if (f!.node.kind === 'chr') return total;
  // Gather first, then write once: one writev is one write to the file or stream, as in Linux.
  const parts: Uint8Array[] = [];
  let got = 0;
  for (const seg of iov) {
    if (seg.len === 0) continue;
    const data = getUserPartial(p.mm, seg.base, seg.len);
    parts.push(data);
    got += data.length;
    if (data.length < seg.len) break;
  }
  if (got === 0) return -EFAULT;
  const data = new Uint8Array(got);
  let at = 0;
  for (const part of parts) {
    data.set(part, at);
    at += part.length;
  }
  const pos = writePos(f!, f!.pos);
  const r = writeFile(p.fs, p.stdio, f!, pos, data);
  if (r.kind === 'error') return -r.errno;
  if (f!.seekable) f!.pos = pos + r.written;
  return r.written;
}

function lseek(p: LinuxProcess, a: readonly U64[]): number {
  const f = fileOf(p, argUint(a[0]!));
  if (f === null) return -EBADF;
  const whence = argUint(a[2]!);
  if (whence > SEEK_HOLE) return -EINVAL;
  return llseek(f, argLong(a[1]!), whence);
}

function close(p: LinuxProcess, a: readonly U64[]): number {
  return p.fds.close(argUint(a[0]!));
}

/** build_open_flags + do_filp_open for openat(2). */
function openat(p: LinuxProcess, a: readonly U64[]): number {
  const dirfd = argInt(a[0]!);
  let flags = argInt(a[2]!) & VALID_OPEN_FLAGS;
  const creating = (flags & (O_CREAT | __O_TMPFILE)) !== 0;
  const mode = creating ? argUint(a[3]!) & 0o7777 : 0;
  if ((flags & (O_CREAT | O_DIRECTORY)) === (O_CREAT | O_DIRECTORY)) return -EINVAL;
  if ((flags & __O_TMPFILE) !== 0) {
    if ((flags & (O_DIRECTORY | O_CREAT)) !== O_DIRECTORY) return -EINVAL;
    const acc = flags & O_ACCMODE;
    if (acc !== O_WRONLY && acc !== O_RDWR) return -EINVAL;
  }
  if ((flags & O_PATH) !== 0) flags &= O_PATH_FLAGS;
  flags |= O_LARGEFILE;
  const name = getPathname(p.mm, argPtr(a[1]!));
  if (name.kind === 'error') return -name.errno;
  const base = startDir(p, dirfd, name.value);
  if (typeof base === 'number') return base;

  const opened = openNode(p, base, name.value, flags, mode);
  if (typeof opened === 'number') return opened;
  // A pipe reached through /proc/<pid>/fd/N opens the same pipe again; sockets and anonymous
  // inodes cannot be opened (ENXIO).
  if ((flags & O_PATH) === 0 && (opened.kind === 'fifo' || opened.kind === 'anon')) {
    if (opened.kind === 'anon' || opened.reopen === undefined) return -ENXIO;
    return p.fds.install(opened.reopen(flags), (flags & O_CLOEXEC) !== 0);
  }
  const file = new OpenFile(opened, flags);
  if (opened.kind === 'synth' && (flags & O_PATH) === 0) {
    const content = opened.content.open(p.fs.creds);
    if (typeof content === 'number') return content;
    file.synth = content;
  }
  const fd = p.fds.install(file, (flags & O_CLOEXEC) !== 0);
  return fd;
}

/** path_openat: find or create the node and check that it may be opened this way. */
function openNode(p: LinuxProcess, base: DirNode, path: string, flags: number, mode: number): Node | number {
  const fs = p.fs;
  const acc = flags & O_ACCMODE;
  const wantsWrite = acc === O_WRONLY || acc === O_RDWR || (flags & O_TRUNC) !== 0;
  let node: Node;
  let created = false;
  if ((flags & __O_TMPFILE) !== 0) {
    const dir = fs.lookup(base, path, true);
    if (dir.kind === 'error') return -dir.errno;
    if (dir.node.kind !== 'dir') return -ENOTDIR;
    if (!fs.permits(dir.node, 3)) return -EACCES;
    const tmp = fs.newRegular(dir.node.sb, mode & ~fs.umask);
    return tmp;
  }
  if ((flags & O_CREAT) !== 0) {
    const parent = fs.lookupParent(base, path);
    if (parent.kind === 'error') return -parent.errno;
    if (parent.trailingSlash) return -EISDIR;
    let existing = parent.node;
    if (existing !== null && existing.kind === 'symlink') {
      if ((flags & O_EXCL) !== 0) return -EEXIST;
      if ((flags & O_NOFOLLOW) !== 0) return -ELOOP;
      const t = fs.lookup(base, path, true);
      if (t.kind === 'error') return -t.errno;
      existing = t.node;
    }
    if (existing !== null) {
      if ((flags & O_EXCL) !== 0) return -EEXIST;
      if (existing.kind === 'dir') return -EISDIR;
      node = existing;
    } else {
      const c = fs.create(parent.parent, parent.name, mode);
      if (c.kind === 'error') return -c.errno;
      node = c.node;
      created = true;
    }
  } else {
    const r = fs.lookup(base, path, (flags & O_NOFOLLOW) === 0);
    if (r.kind === 'error') return -r.errno;
    node = r.node;
    if (node.kind === 'symlink') return (flags & O_PATH) !== 0 ? node : -ELOOP;
  }
  if ((flags & O_DIRECTORY) !== 0 && node.kind !== 'dir') return -ENOTDIR;
  if ((flags & O_PATH) !== 0) return node;
  if (node.kind === 'dir' && (acc === O_WRONLY || acc === O_RDWR)) return -EISDIR;
  // A file this call created may be opened whatever its mode says (may_open is skipped).
  if (!created && !fs.permits(node, (acc === O_RDONLY || acc === O_RDWR ? 4 : 0) | (wantsWrite ? 2 : 0))) return -EACCES;
  if ((flags & O_TRUNC) !== 0 && node.kind === 'reg' && !created) {
    const r = fs.truncate(node, 0);
    if (r !== 0) return r;
  }
  return node;
}

function fstat(p: LinuxProcess, a: readonly U64[]): number {
  const f = fileOf(p, argUint(a[0]!));
  if (f === null) return -EBADF;
  return putUser(p.mm, argPtr(a[1]!), encodeStat(kstatOf(p.fs, f.node)));
}

function newfstatat(p: LinuxProcess, a: readonly U64[]): number {
  const flags = argInt(a[3]!);
  if ((flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH)) !== 0) return -EINVAL;
  const node = resolveAt(p, argInt(a[0]!), argPtr(a[1]!), (flags & AT_SYMLINK_NOFOLLOW) === 0, (flags & AT_EMPTY_PATH) !== 0);
  if (typeof node === 'number') return node;
  return putUser(p.mm, argPtr(a[2]!), encodeStat(kstatOf(p.fs, node)));
}

function statx(p: LinuxProcess, a: readonly U64[]): number {
  const flags = argUint(a[2]!);
  const mask = argUint(a[3]!);
  if ((mask & STATX__RESERVED) !== 0) return -EINVAL;
  if ((flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE)) !== 0) return -EINVAL;
  if ((flags & AT_STATX_SYNC_TYPE) === AT_STATX_SYNC_TYPE) return -EINVAL;
  const node = resolveAt(p, argInt(a[0]!), argPtr(a[1]!), (flags & AT_SYMLINK_NOFOLLOW) === 0, (flags & AT_EMPTY_PATH) !== 0);
  if (typeof node === 'number') return node;
  return putUser(p.mm, argPtr(a[4]!), encodeStatx(kstatOf(p.fs, node)));
}

/**
 * The xattr calls (fs/xattr.c): the model keeps no extended attributes (fs.ts), as a file system
 * mounted without them: a list is empty, a lookup finds nothing (ENODATA), and setting or
 * removing one is refused (EOPNOTSUPP). The path or descriptor is checked first, as the kernel
 * resolves it before the attribute.
 */
function xattrTarget(p: LinuxProcess, a: readonly U64[], how: 'path' | 'lpath' | 'fd'): number {
  if (how === 'fd') return fileOf(p, argUint(a[0]!)) === null ? -EBADF : 0;
  const node = resolveAt(p, AT_FDCWD, argPtr(a[0]!), how === 'path', false);
  return typeof node === 'number' ? node : 0;
}

type Handler = (p: LinuxProcess, a: readonly U64[]) => number;

function xattrCalls(how: 'path' | 'lpath' | 'fd'): { set: Handler; get: Handler; list: Handler; remove: Handler } {
  const checked = (result: number) => (p: LinuxProcess, a: readonly U64[]): number => {
    const r = xattrTarget(p, a, how);
    return r < 0 ? r : result;
  };
  return { set: checked(-EOPNOTSUPP), get: checked(-ENODATA), list: checked(0), remove: checked(-EOPNOTSUPP) };
}

const XATTR_PATH = xattrCalls('path');
const XATTR_LPATH = xattrCalls('lpath');
const XATTR_FD = xattrCalls('fd');

/** statfs(2): the file system holding a path (user_statfs, following symbolic links). */
function statfs(p: LinuxProcess, a: readonly U64[]): number {
  const node = resolveAt(p, AT_FDCWD, argPtr(a[0]!), true, false);
  if (typeof node === 'number') return node;
  return putUser(p.mm, argPtr(a[1]!), encodeStatfs(p.fs, node, p.procHost.kernel));
}

/** fstatfs(2): the file system of an open file (an O_PATH one too). */
function fstatfs(p: LinuxProcess, a: readonly U64[]): number {
  const f = fileOf(p, argUint(a[0]!));
  if (f === null) return -EBADF;
  return putUser(p.mm, argPtr(a[1]!), encodeStatfs(p.fs, f.node, p.procHost.kernel));
}

function ftruncate(p: LinuxProcess, a: readonly U64[]): number {
  const length = argLong(a[1]!);
  if (length < 0) return -EINVAL;
  const f = fileOf(p, argUint(a[0]!));
  if (f === null || f.pathOnly) return -EBADF;
  if (f.node.kind !== 'reg' || !f.writable) return -EINVAL;
  return p.fs.truncate(f.node, length);
}

function truncate(p: LinuxProcess, a: readonly U64[]): number {
  const length = argLong(a[1]!);
  if (length < 0) return -EINVAL;
  const node = resolveAt(p, AT_FDCWD, argPtr(a[0]!), true, false);
  if (typeof node === 'number') return node;
  if (node.kind === 'dir') return -EISDIR;
  if (node.kind !== 'reg') return -EINVAL;
  if (!p.fs.permits(node, 2)) return -EACCES;
  return p.fs.truncate(node, length);
}

function unlinkat(p: LinuxProcess, a: readonly U64[]): number {
  const flags = argInt(a[2]!);
  if ((flags & ~AT_REMOVEDIR) !== 0) return -EINVAL;
  const name = getPathname(p.mm, argPtr(a[1]!));
  if (name.kind === 'error') return -name.errno;
  const base = startDir(p, argInt(a[0]!), name.value);
  if (typeof base === 'number') return base;
  const parent = p.fs.lookupParent(base, name.value);
  if (parent.kind === 'error') return -parent.errno;
  if ((flags & AT_REMOVEDIR) !== 0) return p.fs.rmdir(parent.parent, parent.name);
  return p.fs.unlink(parent.parent, parent.name, parent.trailingSlash);
}

/** The directory and last component of a name to be created at (dirfd, pathVa): EEXIST if it is taken. */
function newNameAt(p: LinuxProcess, dirfd: number, pathVa: number): { dir: DirNode; name: string } | number {
  const name = getPathname(p.mm, pathVa);
  if (name.kind === 'error') return -name.errno;
  const base = startDir(p, dirfd, name.value);
  if (typeof base === 'number') return base;
  const parent = p.fs.lookupParent(base, name.value);
  if (parent.kind === 'error') return -parent.errno;
  if (parent.node !== null) return -EEXIST;
  return { dir: parent.parent, name: parent.name };
}

function mkdirat(p: LinuxProcess, a: readonly U64[]): number {
  const at = newNameAt(p, argInt(a[0]!), argPtr(a[1]!));
  return typeof at === 'number' ? at : p.fs.mkdir(at.dir, at.name, argUint(a[2]!) & 0o7777);
}

function readlinkat(p: LinuxProcess, a: readonly U64[]): number {
  const bufsiz = argInt(a[3]!);
  if (bufsiz <= 0) return -EINVAL;
  const node = resolveAt(p, argInt(a[0]!), argPtr(a[1]!), false, false);
  if (typeof node === 'number') return node;
  if (node.kind !== 'symlink') return -EINVAL;
  const target = node.target();
  if (target === null) return -ENOENT;
  const bytes = new TextEncoder().encode(target).subarray(0, bufsiz);
  const r = putUser(p.mm, argPtr(a[2]!), bytes);
  return r < 0 ? r : bytes.length;
}

/** symlinkat(2): the target is stored as given; an empty one is ENOENT (do_symlinkat). */
function symlinkat(p: LinuxProcess, a: readonly U64[]): number {
  const target = getPathname(p.mm, argPtr(a[0]!));
  if (target.kind === 'error') return -target.errno;
  const at = newNameAt(p, argInt(a[1]!), argPtr(a[2]!));
  return typeof at === 'number' ? at : p.fs.symlink(at.dir, at.name, target.value);
}

/** utimensat's tv_nsec values that mean "the current time" and "leave it" (include/uapi/linux/stat.h). */
const UTIME_NOW = (1 << 30) - 1;
const UTIME_OMIT = (1 << 30) - 2;

/**
 * utimensat(2) (fs/utimes.c do_utimes): a NULL path with a descriptor is futimens; NULL times
 * mean now for both; each tv_nsec may be UTIME_NOW or UTIME_OMIT, else must be a valid count.
 */
function utimensat(p: LinuxProcess, a: readonly U64[]): number {
  const dirfd = argInt(a[0]!);
  const pathVa = argPtr(a[1]!);
  const timesVa = argPtr(a[2]!);
  const flags = argInt(a[3]!);
  if ((flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) !== 0) return -EINVAL;
  const times: (bigint | 'now' | null)[] = ['now', 'now'];
  if (timesVa !== 0) {
    const raw = getUser(p.mm, timesVa, 32);
    if (raw === null) return -EFAULT;
    const r = new StructReader(raw);
    for (let i = 0; i < 2; i++) {
      const sec = r.i64(16 * i);
      const nsec = r.i64(16 * i + 8);
      if (nsec === BigInt(UTIME_OMIT)) times[i] = null;
      else if (nsec === BigInt(UTIME_NOW)) times[i] = 'now';
      else if (nsec < 0n || nsec > 999_999_999n) return -EINVAL;
      else times[i] = sec * 1_000_000_000n + nsec;
    }
  }
  let node: Node | number;
  if (pathVa === 0 && dirfd !== AT_FDCWD) {
    if ((flags & AT_SYMLINK_NOFOLLOW) !== 0) return -EINVAL;
    const f = fileOf(p, dirfd);
    node = f === null ? -EBADF : f.node;
  } else {
    node = resolveAt(p, dirfd, pathVa, (flags & AT_SYMLINK_NOFOLLOW) === 0, (flags & AT_EMPTY_PATH) !== 0);
  }
  if (typeof node === 'number') return node;
  return p.fs.utimes(node, times[0]!, times[1]!);
}

function getcwd(p: LinuxProcess, a: readonly U64[]): number {
  const path = new TextEncoder().encode(p.fs.pathOf(p.fs.cwd) + '\0');
  if (path.length > argUlong(a[1]!)) return -ERANGE;
  const r = putUser(p.mm, argPtr(a[0]!), path);
  return r < 0 ? r : path.length;
}

function changeDir(p: LinuxProcess, node: Node): number {
  if (node.kind !== 'dir') return -ENOTDIR;
  if (!p.fs.permits(node, 1)) return -EACCES;
  p.fs.cwd = node;
  return 0;
}

function chdir(p: LinuxProcess, a: readonly U64[]): number {
  const node = resolveAt(p, AT_FDCWD, argPtr(a[0]!), true, false);
  return typeof node === 'number' ? node : changeDir(p, node);
}

function fchdir(p: LinuxProcess, a: readonly U64[]): number {
  const f = fileOf(p, argUint(a[0]!));
  return f === null ? -EBADF : changeDir(p, f.node);
}

/** faccessat and faccessat2: F_OK, R_OK, W_OK, X_OK against the permission bits. */
function faccessat2(p: LinuxProcess, a: readonly U64[]): number {
  const mode = argInt(a[2]!);
  const flags = argInt(a[3]!);
  if ((mode & ~7) !== 0) return -EINVAL;
  if ((flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) !== 0) return -EINVAL;
  const node = resolveAt(p, argInt(a[0]!), argPtr(a[1]!), (flags & AT_SYMLINK_NOFOLLOW) === 0, (flags & AT_EMPTY_PATH) !== 0);
  if (typeof node === 'number') return node;
  return mode === 0 || p.fs.permits(node, mode) ? 0 : -EACCES;
}

function faccessat(p: LinuxProcess, a: readonly U64[]): number {
  return faccessat2(p, [a[0]!, a[1]!, a[2]!, { lo: 0, hi: 0 }]);
}

function umask(p: LinuxProcess, a: readonly U64[]): number {
  const old = p.fs.umask;
  p.fs.umask = argUint(a[0]!) & 0o777;
  return old;
}

function dup(p: LinuxProcess, a: readonly U64[]): number {
  const f = fileOf(p, argUint(a[0]!));
  if (f === null) return -EBADF;
  return p.fds.install(f, false);
}

function dup3(p: LinuxProcess, a: readonly U64[]): number {
  const oldfd = argUint(a[0]!);
  const newfd = argUint(a[1]!);
  const flags = argInt(a[2]!);
  if ((flags & ~O_CLOEXEC) !== 0) return -EINVAL;
  if (oldfd === newfd) return -EINVAL;
  if (newfd >= p.limits.curNumber(RLIMIT_NOFILE)) return -EBADF;
  const f = fileOf(p, oldfd);
  if (f === null) return -EBADF;
  p.fds.installAt(newfd, f, (flags & O_CLOEXEC) !== 0);
  return newfd;
}

function fcntl(p: LinuxProcess, a: readonly U64[]): number {
  const fd = argUint(a[0]!);
  const entry = p.fds.get(fd);
  if (entry === null) return -EBADF;
  const f = entry.file;
  const cmd = argUint(a[1]!);
  const arg = argUlong(a[2]!);
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      if (arg >= p.limits.curNumber(RLIMIT_NOFILE)) return -EINVAL;
      return p.fds.install(f, cmd === F_DUPFD_CLOEXEC, arg);
    }
    case F_GETFD:
      return entry.cloexec ? FD_CLOEXEC : 0;
    case F_SETFD:
      entry.cloexec = (arg & FD_CLOEXEC) !== 0;
      return 0;
    case F_GETFL:
      return f.flags;
    case F_SETFL:
      f.flags = (f.flags & ~SETFL_MASK) | ((a[2]!.lo >>> 0) & SETFL_MASK);
      return 0;
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
      return recordLock(p, f, cmd, argPtr(a[2]!));
    case F_GETPIPE_SZ:
    case F_SETPIPE_SZ: {
      // pipe_fcntl: only pipes have a ring to size.
      if (!(f.ops instanceof PipeOps)) return -EBADF;
      const pipe = f.ops.pipe;
      if (cmd === F_GETPIPE_SZ) return pipe.maxUsage * 4096;
      return pipe.setSize(argUint(a[2]!), p.ids.uid === 0);
    }
    case F_GETOWN:
      return 0;
    case F_SETOWN:
      return 0;
    default:
      return -EINVAL;
  }
}

/**
 * POSIX and OFD record locks for a process that is alone: every lock it asks for is granted and
 * F_GETLK finds no conflicting lock. The struct flock is still read and checked.
 */
function recordLock(p: LinuxProcess, f: OpenFile, cmd: number, va: number): number {
  const raw = getUser(p.mm, va, 32);
  if (raw === null) return -EFAULT;
  const type = new StructReader(raw).i32(0) & 0xffff;
  if (type !== F_RDLCK && type !== F_WRLCK && type !== F_UNLCK) return -EINVAL;
  if (cmd === F_GETLK || cmd === F_OFD_GETLK) {
    if (type === F_UNLCK) return -EINVAL;
    raw[0] = F_UNLCK;
    raw[1] = 0;
    return putUser(p.mm, va, raw);
  }
  if (type === F_RDLCK && !f.readable) return -EBADF;
  if (type === F_WRLCK && !f.writable) return -EBADF;
  return 0;
}

/** struct termios of a terminal in its usual cooked mode (what `stty sane` sets), 36 bytes. */
function saneTermios(): Uint8Array {
  const w = new StructWriter(36);
  w.u32(0, 0o2400) // c_iflag: ICRNL | IXON
    .u32(4, 0o5) // c_oflag: OPOST | ONLCR
    .u32(8, 0o277) // c_cflag: B38400 | CS8 | CREAD
    .u32(12, 0o105073); // c_lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN
  const cc = [3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22];
  cc.forEach((c, i) => w.u8(17 + i, c));
  return w.bytes;
}

function ioctl(p: LinuxProcess, a: readonly U64[]): number {
  const entry = p.fds.get(argUint(a[0]!));
  if (entry === null) return -EBADF;
  const f = entry.file;
  const cmd = argUint(a[1]!);
  const arg = argPtr(a[2]!);
  switch (cmd) {
    case FIOCLEX:
      entry.cloexec = true;
      return 0;
    case FIONCLEX:
      entry.cloexec = false;
      return 0;
    case FIONBIO: {
      const v = getUser(p.mm, arg, 4);
      if (v === null) return -EFAULT;
      const on = new StructReader(v).i32(0) !== 0;
      f.flags = on ? f.flags | O_NONBLOCK : f.flags & ~O_NONBLOCK;
      return 0;
    }
    default:
      break;
  }
  if (f.pathOnly) return -EBADF;
  if (f.ops !== null && cmd === FIONREAD) {
    const n = f.ops.readable?.(f) ?? null;
    if (n === null) return -ENOTTY;
    return putUser(p.mm, arg, new StructWriter(4).i32(0, Math.min(n, 0x7fffffff)).bytes);
  }
  if (f.node.kind === 'reg' && cmd === FIONREAD) {
    const w = new StructWriter(4).i32(0, Math.max(0, Math.min(0x7fffffff, f.node.inode.size - f.pos)));
    return putUser(p.mm, arg, w.bytes);
  }
  const tty = f.node.kind === 'fifo' && p.stdio.isatty === true;
  if (!tty) return -ENOTTY;
  switch (cmd) {
    case TCGETS:
      return putUser(p.mm, arg, saneTermios());
    case TCSETS:
    case TCSETSW:
    case TCSETSF:
      return getUser(p.mm, arg, 36) === null ? -EFAULT : 0;
    case TIOCGWINSZ:
      return putUser(p.mm, arg, new StructWriter(8).u16(0, 24).u16(2, 80).bytes);
    case TIOCGPGRP:
      return putUser(p.mm, arg, new StructWriter(4).i32(0, p.pid).bytes);
    default:
      return -ENOTTY;
  }
}

// d_type values (include/linux/fs_types.h).
const DT_FIFO = 1;
const DT_CHR = 2;
const DT_DIR = 4;
const DT_REG = 8;
const DT_LNK = 10;
const DT_SOCK = 12;
const DT_UNKNOWN = 0;

function dtypeOf(node: Node): number {
  switch (node.kind) {
    case 'dir':
      return DT_DIR;
    case 'reg':
    case 'synth':
      return DT_REG;
    case 'chr':
      return DT_CHR;
    case 'symlink':
      return DT_LNK;
    case 'fifo':
      return DT_FIFO;
    case 'anon':
      return (node.mode & 0o170000) === S_IFSOCK ? DT_SOCK : DT_UNKNOWN;
  }
}

/**
 * getdents64 (fs/readdir.c filldir64): struct linux_dirent64 records (d_ino, d_off, d_reclen,
 * d_type, NUL-terminated name, padded to 8 bytes) from the file position on; the position counts
 * entries, '.' and '..' first, so d_off is the index of the next one. A buffer too small for the
 * first record is EINVAL.
 */
function getdents64(p: LinuxProcess, a: readonly U64[]): number {
  const f = fileOf(p, argUint(a[0]!));
  if (f === null || f.pathOnly) return -EBADF;
  const dir = f.node;
  if (dir.kind !== 'dir') return -ENOTDIR;
  const buf = argPtr(a[1]!);
  const count = argUint(a[2]!);
  if (!accessOk(buf, count)) return -EFAULT;
  const all: [string, Node][] = [['.', dir], ['..', dir.parent], ...listDir(dir)];
  const enc = new TextEncoder();
  const out = new Uint8Array(Math.min(count, 1 << 20));
  const view = new DataView(out.buffer);
  let used = 0;
  let i = f.pos;
  for (; i < all.length; i++) {
    const [name, node] = all[i]!;
    const bytes = enc.encode(name);
    const reclen = (19 + bytes.length + 1 + 7) & ~7;
    if (used + reclen > out.length) {
      if (used === 0) return -EINVAL;
      break;
    }
    view.setBigUint64(used, BigInt(node.ino), true);
    view.setBigInt64(used + 8, BigInt(i + 1), true);
    view.setUint16(used + 16, reclen, true);
    out[used + 18] = dtypeOf(node);
    out.set(bytes, used + 19);
    used += reclen;
  }
  const r = putUser(p.mm, buf, out.subarray(0, used));
  if (r < 0) return r;
  f.pos = i;
  return used;
}

function memfdCreate(p: LinuxProcess, a: readonly U64[]): number {
  const flags = argUint(a[1]!);
  if ((flags & ~(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC)) !== 0) return -EINVAL;
  if ((flags & MFD_EXEC) !== 0 && (flags & MFD_NOEXEC_SEAL) !== 0) return -EINVAL;
  // hugetlbfs is not modelled: asking for it is refused rather than silently given tmpfs.
  if ((flags & MFD_HUGETLB) !== 0) return -EINVAL;
  const name = getUserString(p.mm, argPtr(a[0]!), MFD_NAME_MAX_LEN + 1, EINVAL);
  if (name.kind === 'error') return -name.errno;
  const node: RegNode = p.fs.newRegular(p.fs.shmSb, 0o777);
  p.fs.unlinkedNames.set(node.inode, `memfd:${name.value}`);
  const file = new OpenFile(node, O_RDWR | O_LARGEFILE);
  return p.fds.install(file, (flags & MFD_CLOEXEC) !== 0);
}

/**
 * sendfile(out_fd, in_fd, offset, count) (fs/read_write.c do_sendfile): up to `count` bytes of a
 * regular file (from *offset, updated, or from its position) written to any writable file. What
 * the output takes is what is sent; nothing taken and the output would block: the call sleeps.
 */
function sendfile(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const out = fileOf(p, argUint(a[0]!));
  const inp = fileOf(p, argUint(a[1]!));
  if (checkReadable(inp) !== 0 || checkWritable(out) !== 0) return -EBADF;
  const src = inp!;
  const dst = out!;
  if (src.node.kind !== 'reg') return -EINVAL;
  if ((dst.flags & O_APPEND) !== 0) return -EINVAL;
  const offVa = argPtr(a[2]!);
  let pos = src.pos;
  if (offVa !== 0) {
    const raw = getUser(p.mm, offVa, 8);
    if (raw === null) return -EFAULT;
    pos = Number(new StructReader(raw).i64(0));
    if (pos < 0) return -EINVAL;
  }
  const count = Math.min(rwCount(argUlong(a[3]!)), IO_CHUNK * 16);
  const r = readFile(p.fs, p.stdio, src, pos, count);
  if (r.kind === 'error') return -r.errno;
  let sent: number;
  if (dst.ops !== null) {
    if (r.bytes.length === 0) sent = 0;
    else {
      const w = dst.ops.write(dst, r.bytes, { msgFlags: 0, continuing: false, requested: r.bytes.length });
      if (w.kind === 'wait') return (dst.flags & O_NONBLOCK) !== 0 ? -EAGAIN : { kind: 'block', on: w.on, restartable: true };
      if (w.kind === 'error') return -w.errno;
      sent = w.written;
    }
  } else {
    const w = r.bytes.length === 0 ? { kind: 'ok' as const, written: 0 } : writeFile(p.fs, p.stdio, dst, writePos(dst, dst.pos), r.bytes);
    if (w.kind === 'error') return -w.errno;
    sent = w.written;
    if (dst.seekable && dst.node.kind !== 'chr') dst.pos = writePos(dst, dst.pos) + sent;
  }
  if (offVa !== 0) {
    const wr = putUser(p.mm, offVa, new StructWriter(8).u64(0, BigInt(pos + sent)).bytes);
    if (wr < 0) return wr;
  } else src.pos = pos + sent;
  return sent;
}

/**
 * copy_file_range(fd_in, off_in, fd_out, off_out, len, flags) (fs/read_write.c
 * vfs_copy_file_range, v6.12): a copy between two regular files of one file system, by splice;
 * another file system is EXDEV (its callers, cp among them, then read and write themselves).
 * Offsets given by pointer are read and updated there, else the files' positions move.
 */
function copyFileRange(p: LinuxProcess, a: readonly U64[]): number {
  if (argUint(a[5]!) !== 0) return -EINVAL;
  const src = fileOf(p, argUint(a[0]!));
  const dst = fileOf(p, argUint(a[2]!));
  if (src === null || dst === null || !src.readable || !dst.writable || src.pathOnly || dst.pathOnly) return -EBADF;
  if ((dst.flags & O_APPEND) !== 0) return -EBADF;
  if (src.node.kind === 'dir' || dst.node.kind === 'dir') return -EISDIR;
  if (src.node.kind !== 'reg' || dst.node.kind !== 'reg') return -EINVAL;
  const offset = (va: number, f: OpenFile): number => {
    if (va === 0) return f.pos;
    const raw = getUser(p.mm, va, 8);
    if (raw === null) return -EFAULT;
    const v = Number(new StructReader(raw).i64(0));
    return v < 0 ? -EINVAL : v;
  };
  const inVa = argPtr(a[1]!);
  const outVa = argPtr(a[3]!);
  const posIn = offset(inVa, src);
  if (posIn < 0) return posIn;
  const posOut = offset(outVa, dst);
  if (posOut < 0) return posOut;
  const len = rwCount(argUlong(a[4]!));
  // generic_copy_file_checks: no overlapping copy within one file.
  if (src.node === dst.node && posIn < posOut + len && posOut < posIn + len) return -EINVAL;
  if (src.node.sb !== dst.node.sb) return -EXDEV;
  let done = 0;
  while (done < len) {
    const r = readFile(p.fs, p.stdio, src, posIn + done, Math.min(len - done, IO_CHUNK * 16));
    if (r.kind === 'error') return done > 0 ? done : -r.errno;
    if (r.bytes.length === 0) break;
    const w = writeFile(p.fs, p.stdio, dst, posOut + done, r.bytes);
    if (w.kind === 'error') return done > 0 ? done : -w.errno;
    done += w.written;
    if (w.written < r.bytes.length) break;
  }
  if (done === 0) return 0;
  for (const [va, f, pos] of [[inVa, src, posIn], [outVa, dst, posOut]] as const) {
    if (va === 0) f.pos = pos + done;
    else {
      const wr = putUser(p.mm, va, new StructWriter(8).u64(0, BigInt(pos + done)).bytes);
      if (wr < 0) return wr;
    }
  }
  return done;
}

export const fileSyscalls: SyscallHandlers = {
  copy_file_range: copyFileRange,
  read,
  write,
  vmsplice,
  sendfile,
  pread64,
  pwrite64,
  readv,
  writev,
  lseek,
  close,
  openat,
  fstat,
  newfstatat,
  statx,
  statfs,
  fstatfs,
  setxattr: XATTR_PATH.set,
  lsetxattr: XATTR_LPATH.set,
  fsetxattr: XATTR_FD.set,
  getxattr: XATTR_PATH.get,
  lgetxattr: XATTR_LPATH.get,
  fgetxattr: XATTR_FD.get,
  listxattr: XATTR_PATH.list,
  llistxattr: XATTR_LPATH.list,
  flistxattr: XATTR_FD.list,
  removexattr: XATTR_PATH.remove,
  lremovexattr: XATTR_LPATH.remove,
  fremovexattr: XATTR_FD.remove,
  ftruncate,
  truncate,
  unlinkat,
  mkdirat,
  readlinkat,
  symlinkat,
  utimensat,
  getcwd,
  chdir,
  fchdir,
  faccessat,
  faccessat2,
  umask,
  dup,
  dup3,
  fcntl,
  ioctl,
  memfd_create: memfdCreate,
  getdents64,
};
