/**
 * The operations of open files that are not data in the file system: pipe ends (pipe.ts),
 * eventfds (eventfd.ts) and sockets (socket.ts). Like the kernel's file_operations, an open file
 * carries them (`OpenFile.ops`) and read, write, poll and the last close go through them.
 *
 * An operation that cannot make progress does not sleep: it says which wait queues would wake
 * it ('wait'), and the syscall layer either returns -EAGAIN (O_NONBLOCK) or blocks the task on
 * those queues (wait.ts), to run the whole call again when one is woken.
 */
import type { WaitQueue } from './wait.js';
import type { OpenFile } from './file.js';

// poll(2) event bits (include/uapi/asm-generic/poll.h, eventpoll.h).
export const POLLIN = 0x1;
export const POLLPRI = 0x2;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
export const POLLRDNORM = 0x40;
export const POLLRDBAND = 0x80;
export const POLLWRNORM = 0x100;
export const POLLWRBAND = 0x200;
export const POLLRDHUP = 0x2000;
/** What a file without a poll method reports (DEFAULT_POLLMASK). */
export const DEFAULT_POLLMASK = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;

// send/recv flags (include/linux/socket.h) that the pipe-like objects look at.
export const MSG_PEEK = 0x2;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_EOR = 0x80;
export const MSG_WAITALL = 0x100;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_CMSG_CLOEXEC = 0x40000000;

/** A read's result. `truncated` is the full length of a datagram cut short (MSG_TRUNC). */
export type OpsRead =
  | { readonly kind: 'ok'; readonly bytes: Uint8Array; readonly fullLength?: number; readonly eor?: boolean }
  | { readonly kind: 'error'; readonly errno: number }
  | { readonly kind: 'wait'; readonly on: readonly WaitQueue[] };

/**
 * A write's result: `written` may be short (a pipe with room for part of a large write); 'error'
 * with `sigpipe` is the EPIPE that also sends SIGPIPE to the writer.
 */
export type OpsWrite =
  | { readonly kind: 'ok'; readonly written: number }
  | { readonly kind: 'error'; readonly errno: number; readonly sigpipe?: boolean }
  | { readonly kind: 'wait'; readonly on: readonly WaitQueue[] };

export interface IoFlags {
  /** MSG_* bits of send/recv (0 for read/write). */
  readonly msgFlags: number;
  /** This try continues a write that already moved some bytes (pipe_write's merge is skipped). */
  readonly continuing: boolean;
  /**
   * The length the caller asked to write (the data given can be shorter when the guest's buffer
   * faults part way): a message is checked against it, and refused with EFAULT if it is cut.
   */
  readonly requested: number;
}

export interface FileOps {
  /** What /proc/<pid>/fd/N links to: 'pipe:[ino]', 'socket:[ino]', 'anon_inode:[eventfd]'. */
  readonly linkName: string;
  read(f: OpenFile, len: number, io: IoFlags): OpsRead;
  write(f: OpenFile, data: Uint8Array, io: IoFlags): OpsWrite;
  /** The ready mask (POLL* bits) and the queues a poller sleeps on until it changes. */
  poll(f: OpenFile): { readonly mask: number; readonly on: readonly WaitQueue[] };
  /** FIONREAD: bytes ready to read, or null where the ioctl does not apply. */
  readable?(f: OpenFile): number | null;
  /** The last reference to the open file is gone (fput → release). */
  release(f: OpenFile): void;
}
