/**
 * Anonymous pipes (fs/pipe.c, v6.12): a ring of page-sized buffers, 16 by default (64 KiB),
 * shared by a read end and a write end that any number of descriptors, in any number of
 * processes, may hold.
 *
 * Kept as the kernel keeps it, because programs see the difference: a write appends to the last
 * buffer when its remainder (len mod PAGE_SIZE) fits there, and otherwise takes whole new
 * buffers, so a write of at most PIPE_BUF bytes is never split (atomicity); a writer waits only
 * when every buffer slot is in use, so the byte capacity depends on how writes and reads were cut.
 * In packet mode (O_DIRECT on the writing file) each write of up to a page is its own buffer and
 * a read takes one packet, dropping what did not fit.
 *
 * Reading with no data: EOF (0) when no writer is left, else wait (or -EAGAIN). Writing with no
 * reader left: -EPIPE and SIGPIPE for the writer.
 */
import { EBUSY, EINVAL, EPERM, EPIPE } from '../util/errno.js';
import { O_DIRECT, O_RDONLY, O_WRONLY, OpenFile } from './file.js';
import {
  POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, type FileOps, type IoFlags, type OpsRead, type OpsWrite,
} from './fileops.js';
import type { FileSystem } from './fs.js';
import { WaitQueue } from './wait.js';

const PAGE_SIZE = 4096;
/** Writes of at most this many bytes are atomic (include/uapi/linux/limits.h). */
export const PIPE_BUF = 4096;
/** PIPE_DEF_BUFFERS: 16 slots, 64 KiB. */
export const PIPE_DEF_BUFFERS = 16;
/** /proc/sys/fs/pipe-max-size: the largest F_SETPIPE_SZ an unprivileged process may ask for. */
export const PIPE_MAX_SIZE = 1048576;

interface PipeBuffer {
  readonly page: Uint8Array;
  offset: number;
  len: number;
  /** PIPE_BUF_FLAG_PACKET: written in packet mode; never merged into. */
  readonly packet: boolean;
  /**
   * A user page vmsplice put here (user_page_pipe_buf_ops): `page` is the page itself, read when
   * the reader asks, never merged into; `release` drops the reference when the buffer goes.
   */
  readonly release?: () => void;
}

export class Pipe {
  /** Occupied buffers, the oldest (the ring's tail) first. */
  private readonly bufs: PipeBuffer[] = [];
  /** pipe->max_usage: how many buffers may be in use (F_SETPIPE_SZ changes it). */
  maxUsage = PIPE_DEF_BUFFERS;
  readers = 0;
  writers = 0;
  /** pipe->rd_wait: readers wait for data or the last writer's close. */
  readonly rdWait = new WaitQueue('pipe_read');
  /** pipe->wr_wait: writers wait for a free buffer or the last reader's close. */
  readonly wrWait = new WaitQueue('pipe_write');
  /**
   * pipe->tmp_page: the page of the last buffer a read emptied, kept for the next write
   * (anon_pipe_buf_release), so a ping-pong of small messages allocates no page per write. Only
   * the bytes a buffer holds are ever read, so what it held before does not matter.
   */
  private spare: Uint8Array | null = null;

  constructor(readonly ino: number) {}

  get empty(): boolean {
    return this.bufs.length === 0;
  }

  get full(): boolean {
    return this.bufs.length >= this.maxUsage;
  }

  /** Buffers that can still be filled. */
  get freeSlots(): number {
    return Math.max(0, this.maxUsage - this.bufs.length);
  }

  /** Bytes waiting to be read (FIONREAD). */
  get bytes(): number {
    return this.bufs.reduce((s, b) => s + b.len, 0);
  }

  /** pipe_read for `len` bytes. */
  read(len: number): OpsRead {
    if (len === 0) return { kind: 'ok', bytes: new Uint8Array(0) };
    if (this.empty) {
      if (this.writers === 0) return { kind: 'ok', bytes: new Uint8Array(0) };
      return { kind: 'wait', on: [this.rdWait] };
    }
    const wasFull = this.full;
    const out = new Uint8Array(Math.min(len, this.bytes));
    let got = 0;
    let want = len;
    while (want > 0 && this.bufs.length > 0) {
      const buf = this.bufs[0]!;
      const chars = Math.min(buf.len, want);
      out.set(buf.page.subarray(buf.offset, buf.offset + chars), got);
      got += chars;
      buf.offset += chars;
      buf.len -= chars;
      if (buf.packet) {
        // One packet per read; what did not fit is dropped.
        buf.len = 0;
        want = chars;
      }
      if (buf.len === 0) {
        this.bufs.shift();
        if (buf.release !== undefined) buf.release();
        else if (this.spare === null) this.spare = buf.page;
      }
      want -= chars;
    }
    if (wasFull && !this.full) this.wrWait.wake();
    return { kind: 'ok', bytes: out.subarray(0, got) };
  }

  /**
   * pipe_write of `data` (the part not yet written, when `continuing`): the bytes taken now.
   * Nothing taken and room needed: 'wait' on wr_wait.
   */
  write(data: Uint8Array, packet: boolean, continuing: boolean): OpsWrite {
    if (data.length === 0) return { kind: 'ok', written: 0 };
    if (this.readers === 0) return { kind: 'error', errno: EPIPE, sigpipe: true };
    const wasEmpty = this.empty;
    let done = 0;
    // The remainder of a whole number of pages may go into the last buffer, once per write.
    const chars = data.length & (PAGE_SIZE - 1);
    if (!continuing && chars !== 0 && !wasEmpty) {
      const last = this.bufs[this.bufs.length - 1]!;
      if (!last.packet && last.release === undefined && last.offset + last.len + chars <= PAGE_SIZE) {
        last.page.set(data.subarray(0, chars), last.offset + last.len);
        last.len += chars;
        done = chars;
      }
    }
    while (done < data.length && !this.full) {
      const n = Math.min(PAGE_SIZE, data.length - done);
      const page = this.spare ?? new Uint8Array(PAGE_SIZE);
      this.spare = null;
      page.set(data.subarray(done, done + n));
      this.bufs.push({ page, offset: 0, len: n, packet });
      done += n;
    }
    if (done > 0) this.rdWait.wake();
    if (done === 0) return { kind: 'wait', on: [this.wrWait] };
    return { kind: 'ok', written: done };
  }

  /**
   * vmsplice_to_pipe / iter_to_pipe: user pages as buffers, one per page piece, as many as there
   * are free slots; returns the pieces taken (0 with the pipe full: the caller waits). The
   * caller has already referenced every piece; the pieces not taken are the caller's to release.
   */
  spliceUserPages(pieces: readonly { readonly page: Uint8Array; readonly offset: number; readonly len: number; readonly release: () => void }[]): number | OpsWrite {
    if (this.readers === 0) return { kind: 'error', errno: EPIPE, sigpipe: true };
    let n = 0;
    while (n < pieces.length && !this.full) {
      const x = pieces[n]!;
      this.bufs.push({ page: x.page, offset: x.offset, len: x.len, packet: false, release: x.release });
      n++;
    }
    if (n > 0) this.rdWait.wake();
    return n;
  }

  /** EPOLL bits for a file that reads and/or writes this pipe (pipe_poll). */
  pollMask(readable: boolean, writable: boolean): number {
    let mask = 0;
    if (readable) {
      if (!this.empty) mask |= POLLIN | POLLRDNORM;
      if (this.writers === 0) mask |= POLLHUP;
    }
    if (writable) {
      if (!this.full) mask |= POLLOUT | POLLWRNORM;
      if (this.readers === 0) mask |= POLLERR;
    }
    return mask;
  }

  /**
   * F_SETPIPE_SZ (pipe_set_size): the new size in bytes, or -errno. `privileged` is
   * CAP_SYS_RESOURCE, which may exceed pipe-max-size.
   */
  setSize(arg: number, privileged: boolean): number {
    const size = roundPipeSize(arg);
    const slots = Math.floor(size / PAGE_SIZE);
    if (slots === 0) return -EINVAL;
    // Growing past pipe-max-size needs CAP_SYS_RESOURCE; shrinking is always allowed.
    if (slots > this.maxUsage && size > PIPE_MAX_SIZE && !privileged) return -EPERM;
    // The buffers in use must fit the new ring.
    if (this.bufs.length > slots) return -EBUSY;
    const grew = slots > this.maxUsage;
    this.maxUsage = slots;
    if (grew) this.wrWait.wake();
    return slots * PAGE_SIZE;
  }

  /** The last file with FMODE_READ / FMODE_WRITE on the pipe went away (pipe_release). */
  release(readable: boolean, writable: boolean): void {
    if (readable) this.readers--;
    if (writable) this.writers--;
    // free_pipe_info: the last end gone, every buffer (and the pages vmsplice referenced) goes.
    if (this.readers === 0 && this.writers === 0) for (const b of this.bufs.splice(0)) b.release?.();
    // Wake everyone: readers see EOF, writers EPIPE.
    if (this.readers === 0 || this.writers === 0) {
      this.rdWait.wake();
      this.wrWait.wake();
    }
  }
}

/** round_pipe_size: a power of two of at least a page, 0 when too large. */
export function roundPipeSize(size: number): number {
  if (size > 2 ** 31) return 0;
  if (size < PAGE_SIZE) return PAGE_SIZE;
  return 2 ** Math.ceil(Math.log2(size));
}

/** The file operations of one end (or of an O_RDWR FIFO-like open) of a pipe. */
export class PipeOps implements FileOps {
  constructor(readonly pipe: Pipe) {}

  get linkName(): string {
    return `pipe:[${this.pipe.ino}]`;
  }

  read(f: OpenFile, len: number, io: IoFlags): OpsRead {
    void io;
    return this.pipe.read(len);
  }

  write(f: OpenFile, data: Uint8Array, io: IoFlags): OpsWrite {
    return this.pipe.write(data, (f.flags & O_DIRECT) !== 0, io.continuing);
  }

  poll(f: OpenFile): { mask: number; on: readonly WaitQueue[] } {
    return { mask: this.pipe.pollMask(f.readable, f.writable), on: [this.pipe.rdWait, this.pipe.wrWait] };
  }

  readable(): number {
    return this.pipe.bytes;
  }

  release(f: OpenFile): void {
    this.pipe.release(f.readable, f.writable);
  }
}

/** pipe2's two files: [read end, write end], with the status flags given (O_NONBLOCK, O_DIRECT). */
export function createPipe(fs: FileSystem, statusFlags: number): { pipe: Pipe; ends: [OpenFile, OpenFile] } {
  const node = fs.newFifo();
  const pipe = new Pipe(node.ino);
  const ops = new PipeOps(pipe);
  const rd = new OpenFile(node, O_RDONLY | statusFlags, null, ops);
  const wr = new OpenFile(node, O_WRONLY | statusFlags, null, ops);
  pipe.readers = 1;
  pipe.writers = 1;
  // fifo_open through /proc/<pid>/fd/N: one more reader and/or writer of the same pipe.
  node.reopen = (flags) => {
    const f = new OpenFile(node, flags, null, ops);
    if (f.readable) pipe.readers++;
    if (f.writable) pipe.writers++;
    return f;
  };
  return { pipe, ends: [rd, wr] };
}
