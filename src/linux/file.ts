/**
 * Open files (struct file) and what read, write and lseek do on each kind of node: regular files
 * through the page cache, the /dev character devices, and the standard streams, which are pipes
 * to the tool's own stdin, stdout and stderr.
 *
 * These work on host buffers; the syscall layer copies to and from guest memory and moves the
 * file position by what it really copied, as the kernel's iterators do.
 */
import { filemapRead, filemapReadTransient, filemapWrite } from '../mm/pagecache.js';
import { EAGAIN, EBADF, EFBIG, EINVAL, EIO, EISDIR, ENOMEM, ENXIO, ESPIPE } from '../util/errno.js';
import type { FileOps } from './fileops.js';
import type { FileSystem, Node, SynthOpen } from './fs.js';

// Open flags (include/uapi/asm-generic/fcntl.h with arm64's own values from asm/fcntl.h).
export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DSYNC = 0o10000;
export const FASYNC = 0o20000;
export const O_DIRECTORY = 0o40000;
export const O_NOFOLLOW = 0o100000;
export const O_DIRECT = 0o200000;
export const O_LARGEFILE = 0o400000;
export const O_NOATIME = 0o1000000;
export const O_CLOEXEC = 0o2000000;
export const __O_SYNC = 0o4000000;
export const O_SYNC = __O_SYNC | O_DSYNC;
export const O_PATH = 0o10000000;
export const __O_TMPFILE = 0o20000000;
export const O_TMPFILE = __O_TMPFILE | O_DIRECTORY;

/** Flags open() keeps in f_flags (the creation flags and O_CLOEXEC are consumed). */
const KEPT_FLAGS = ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC);
/** Flags F_SETFL may change (setfl in fs/fcntl.c). */
export const SETFL_MASK = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME | FASYNC;

/** The largest count one read or write moves (MAX_RW_COUNT = INT_MAX & PAGE_MASK). */
export const MAX_RW_COUNT = 0x7ffff000;
/** Largest file offset (MAX_LFS_FILESIZE), as a bigint because it is 2^63 - 1. */
export const MAX_LFS_FILESIZE = 2n ** 63n - 1n;

export type StdStream = 'stdin' | 'stdout' | 'stderr';

/** The tool's side of the guest's standard streams. */
export interface StdioHooks {
  /** Up to `max` bytes from the tool's stdin; empty at end of file. */
  readStdin(max: number): Uint8Array;
  writeStdout(bytes: Uint8Array): void;
  writeStderr(bytes: Uint8Array): void;
  /**
   * Whether the streams answer TCGETS as a terminal. False by default, so the guest's C library
   * buffers the same way wherever the tool's output goes.
   */
  readonly isatty?: boolean;
}

export class OpenFile {
  /** File position (f_pos). */
  pos = 0;
  /**
   * References (f_count): one per descriptor in any process's table that holds the file, plus
   * any the kernel takes. The last put() releases the file (a pipe end closes, a socket shuts).
   */
  private refs = 0;
  /** A /proc or /sys file's content, made when it was opened. */
  synth: SynthOpen | null = null;

  constructor(
    readonly node: Node,
    /** f_flags: access mode and status flags. */
    public flags: number,
    /** Which standard stream a pipe node stands for. */
    readonly stream: StdStream | null = null,
    /** Pipes, sockets, eventfds: what read, write and poll do (fileops.ts). */
    readonly ops: FileOps | null = null,
  ) {
    this.flags = flags & KEPT_FLAGS;
  }

  /** get_file. */
  get(): this {
    this.refs++;
    return this;
  }

  /** fput: drops one reference; the last one releases the file. */
  put(): void {
    if (this.refs <= 0) throw new Error('open file put more often than taken');
    if (--this.refs === 0) this.ops?.release(this);
  }

  get refCount(): number {
    return this.refs;
  }

  get pathOnly(): boolean {
    return (this.flags & O_PATH) !== 0;
  }

  /** FMODE_READ. */
  get readable(): boolean {
    const acc = this.flags & O_ACCMODE;
    return !this.pathOnly && (acc === O_RDONLY || acc === O_RDWR);
  }

  /** FMODE_WRITE. */
  get writable(): boolean {
    const acc = this.flags & O_ACCMODE;
    return !this.pathOnly && (acc === O_WRONLY || acc === O_RDWR);
  }

  /** Whether the file has a position at all (FMODE_LSEEK): pipes and sockets do not. */
  get seekable(): boolean {
    return this.node.kind !== 'fifo' && this.node.kind !== 'anon';
  }
}

export type ReadResult = { kind: 'ok'; bytes: Uint8Array } | { kind: 'error'; errno: number };

/**
 * Reads up to `len` bytes at `pos` (ignored for streams). At end of file the result is empty.
 * Regular files go through filemapRead; the caller chunks large counts. `transient`: the caller
 * copies the bytes out before anything else runs, so a view of the page cache will do
 * (filemapReadTransient).
 */
export function readFile(fs: FileSystem, stdio: StdioHooks, f: OpenFile, pos: number, len: number, transient = false): ReadResult {
  if (!f.readable) return { kind: 'error', errno: EBADF };
  const node = f.node;
  switch (node.kind) {
    case 'reg':
      return { kind: 'ok', bytes: pos >= node.inode.size ? new Uint8Array(0) : transient ? filemapReadTransient(node.inode, pos, len) : filemapRead(node.inode, pos, len) };
    case 'dir':
      return { kind: 'error', errno: EISDIR };
    case 'chr':
      switch (node.device) {
        case 'null':
          return { kind: 'ok', bytes: new Uint8Array(0) };
        case 'zero':
          return { kind: 'ok', bytes: new Uint8Array(len) };
        case 'random':
        case 'urandom':
          return { kind: 'ok', bytes: fs.random !== undefined ? fs.random.bytes(len) : new Uint8Array(len) };
        default: {
          const never: never = node.device;
          throw new Error(`unknown device ${String(never)}`);
        }
      }
    case 'fifo':
      if (f.stream !== 'stdin') return { kind: 'error', errno: EBADF };
      try {
        return { kind: 'ok', bytes: stdio.readStdin(len) };
      } catch (e) {
        return { kind: 'error', errno: (e as NodeJS.ErrnoException).code === 'EAGAIN' ? EAGAIN : EIO };
      }
    case 'symlink':
    case 'anon':
      return { kind: 'error', errno: EINVAL };
    case 'synth': {
      if (f.synth === null) return { kind: 'error', errno: EIO };
      const r = f.synth.read(pos, len);
      return typeof r === 'number' ? { kind: 'error', errno: -r } : { kind: 'ok', bytes: r };
    }
    default: {
      const never: never = node;
      throw new Error(`unknown node ${String(never)}`);
    }
  }
}

export type WriteResult = { kind: 'ok'; written: number } | { kind: 'error'; errno: number };

/**
 * Writes `bytes` at `pos` (ignored for streams and devices). The caller resolves O_APPEND to the
 * end of the file first, so that the position it keeps is the one written at.
 */
export function writeFile(fs: FileSystem, stdio: StdioHooks, f: OpenFile, pos: number, bytes: Uint8Array): WriteResult {
  if (!f.writable) return { kind: 'error', errno: EBADF };
  const node = f.node;
  switch (node.kind) {
    case 'reg': {
      if (bytes.length === 0) return { kind: 'ok', written: 0 };
      const r = filemapWrite(node.inode, pos, bytes, node.sb.traits.writeMiss);
      if (r.kind === 'efbig') return { kind: 'error', errno: EFBIG };
      const written = r.written;
      if (written > 0) fs.touchData(node);
      if (r.kind === 'oom' && written === 0) return { kind: 'error', errno: ENOMEM };
      return { kind: 'ok', written };
    }
    case 'dir':
      return { kind: 'error', errno: EISDIR };
    case 'chr':
      // write_null, write_zero and the random devices take everything and keep nothing.
      return { kind: 'ok', written: bytes.length };
    case 'fifo':
      if (f.stream === 'stdout') stdio.writeStdout(bytes);
      else if (f.stream === 'stderr') stdio.writeStderr(bytes);
      else return { kind: 'error', errno: EBADF };
      return { kind: 'ok', written: bytes.length };
    case 'symlink':
    case 'anon':
      return { kind: 'error', errno: EINVAL };
    case 'synth': {
      if (f.synth?.write !== undefined) {
        const r = f.synth.write(pos, bytes);
        return r < 0 ? { kind: 'error', errno: -r } : { kind: 'ok', written: r };
      }
      if (node.content.write === undefined) return { kind: 'error', errno: EINVAL };
      const r = node.content.write(bytes, fs.creds);
      return r < 0 ? { kind: 'error', errno: -r } : { kind: 'ok', written: r };
    }
    default: {
      const never: never = node;
      throw new Error(`unknown node ${String(never)}`);
    }
  }
}

export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

/**
 * lseek (generic_file_llseek for files, no_llseek for pipes, null_lseek for the devices): the
 * new position or -errno. SEEK_DATA and SEEK_HOLE treat the whole file as data, as
 * generic_file_llseek does (tmpfs and ext4 would find holes in sparse files).
 */
export function llseek(f: OpenFile, offset: number, whence: number): number {
  const node = f.node;
  if (!f.seekable) return -ESPIPE;
  if (node.kind === 'chr') {
    if (whence < SEEK_SET || whence > SEEK_HOLE) return -EINVAL;
    f.pos = 0;
    return 0;
  }
  const eof = node.kind === 'reg' ? node.inode.size : 0;
  let target: number;
  switch (whence) {
    case SEEK_SET:
      target = offset;
      break;
    case SEEK_CUR:
      if (offset === 0) return f.pos;
      target = f.pos + offset;
      break;
    case SEEK_END:
      target = eof + offset;
      break;
    case SEEK_DATA:
      if (offset >= eof) return -ENXIO;
      target = offset;
      break;
    case SEEK_HOLE:
      if (offset >= eof) return -ENXIO;
      target = eof;
      break;
    default:
      return -EINVAL;
  }
  if (target < 0) return -EINVAL;
  f.pos = target;
  return target;
}
