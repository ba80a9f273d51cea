/**
 * AF_UNIX socket pairs (net/unix/af_unix.c, v6.12): two connected sockets, each with a receive
 * queue the other sends into. SOCK_STREAM is a byte stream; SOCK_DGRAM and SOCK_SEQPACKET keep
 * message boundaries (a short read truncates the message; MSG_TRUNC tells its real length).
 *
 * Flow control: a sender waits while the bytes it has queued at its peer and not yet read reach
 * its send buffer (sk_sndbuf, net.core.wmem_default = 212992), as sock_alloc_send_pskb does;
 * the model counts payload bytes where the kernel counts skb truesize (payload plus some
 * hundreds of bytes per skb), so a sender fits somewhat more before it waits than on Linux.
 *
 * Shutdown and close: shutdown(SHUT_WR) on one end makes the peer read EOF once its queue is
 * empty (stream and seqpacket); writing after SHUT_WR, or to a closed stream or seqpacket peer,
 * is EPIPE with SIGPIPE (unless MSG_NOSIGNAL); a datagram peer that closed gives ECONNREFUSED,
 * then ENOTCONN. File descriptors are never passed (SCM_RIGHTS is not modelled).
 */
import { ECONNREFUSED, EFAULT, EINVAL, EMSGSIZE, ENOTCONN, EOPNOTSUPP, EPIPE } from '../util/errno.js';
import { O_RDWR, OpenFile } from './file.js';
import {
  MSG_NOSIGNAL, MSG_PEEK, MSG_WAITALL, POLLHUP, POLLIN, POLLOUT, POLLRDHUP, POLLRDNORM, POLLWRBAND, POLLWRNORM,
  type FileOps, type IoFlags, type OpsRead, type OpsWrite,
} from './fileops.js';
import type { FileSystem } from './fs.js';
import { WaitQueue } from './wait.js';

export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_SEQPACKET = 5;
export const SOCK_TYPE_MASK = 0xf;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;

export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;
const RCV_SHUTDOWN = 1;
const SEND_SHUTDOWN = 2;
const SHUTDOWN_MASK = 3;

/** net.core.wmem_default and rmem_default. */
export const SK_SNDBUF_DEFAULT = 212992;

export type UnixType = 'stream' | 'dgram' | 'seqpacket';

interface Skb {
  readonly data: Uint8Array;
  /** Bytes of a stream skb already read. */
  consumed: number;
  readonly from: UnixSocket;
}

export class UnixSocket implements FileOps {
  peer: UnixSocket | null = null;
  /** sk_shutdown: RCV_SHUTDOWN | SEND_SHUTDOWN. */
  shutdown = 0;
  /** The socket was closed (SOCK_DEAD). */
  dead = false;
  /**
   * Made by socket(2) and never connected (nothing in the model listens, so it never will be):
   * reads fail with EINVAL, writes with ENOTCONN, as on an unconnected socket.
   */
  unconnected = false;
  /** A datagram peer that died was reported once (ECONNREFUSED); then it is gone (ENOTCONN). */
  private peerLost = false;
  readonly queue: Skb[] = [];
  /** Payload bytes this socket has queued at its peer and not yet read (sk_wmem_alloc). */
  wmem = 0;
  sndbuf = SK_SNDBUF_DEFAULT;
  /** sk_wq: woken when data arrives, space frees or the state changes. */
  readonly wq = new WaitQueue('unix_sock');

  constructor(
    readonly type: UnixType,
    readonly ino: number,
  ) {}

  get linkName(): string {
    return `socket:[${this.ino}]`;
  }

  private get connectionBased(): boolean {
    return this.type !== 'dgram';
  }

  /** Bytes ready to read (FIONREAD / SIOCINQ: the next datagram's size for message types). */
  readable(): number {
    if (this.type === 'stream') return this.queue.reduce((s, k) => s + k.data.length - k.consumed, 0);
    return this.queue.length > 0 ? this.queue[0]!.data.length : 0;
  }

  read(f: OpenFile, len: number, io: IoFlags): OpsRead {
    void f;
    if (this.unconnected && this.type !== 'dgram') return { kind: 'error', errno: EINVAL };
    return this.type === 'stream' ? this.readStream(len, io.msgFlags) : this.readMessage(len, io.msgFlags);
  }

  /** unix_stream_read_generic: up to `len` bytes across skbs; MSG_WAITALL waits for all of them. */
  private readStream(len: number, flags: number): OpsRead {
    if (len === 0) return { kind: 'ok', bytes: new Uint8Array(0) };
    const available = this.readable();
    const target = (flags & MSG_WAITALL) !== 0 ? len : 1;
    if (available < target && (this.shutdown & RCV_SHUTDOWN) === 0) return { kind: 'wait', on: [this.wq] };
    const n = Math.min(len, available);
    const out = new Uint8Array(n);
    let got = 0;
    let i = 0;
    while (got < n) {
      const skb = this.queue[i]!;
      const take = Math.min(n - got, skb.data.length - skb.consumed);
      out.set(skb.data.subarray(skb.consumed, skb.consumed + take), got);
      got += take;
      if ((flags & MSG_PEEK) !== 0) {
        i++;
        continue;
      }
      skb.consumed += take;
      this.consumed(skb, take);
      if (skb.consumed === skb.data.length) this.queue.shift();
    }
    return { kind: 'ok', bytes: out };
  }

  /** unix_dgram_recvmsg (and seqpacket's): one message, truncated to `len`. */
  private readMessage(len: number, flags: number): OpsRead {
    const skb = this.queue[0];
    if (skb === undefined) {
      if ((this.shutdown & RCV_SHUTDOWN) !== 0) return { kind: 'ok', bytes: new Uint8Array(0) };
      return { kind: 'wait', on: [this.wq] };
    }
    if ((flags & MSG_PEEK) === 0) {
      this.queue.shift();
      this.consumed(skb, skb.data.length);
    }
    const n = Math.min(len, skb.data.length);
    return { kind: 'ok', bytes: skb.data.slice(0, n), fullLength: skb.data.length, eor: this.type === 'seqpacket' };
  }

  /** The reader took `n` bytes its sender queued: the sender may have room again. */
  private consumed(skb: Skb, n: number): void {
    const from = skb.from;
    const wasFull = from.wmem >= from.sndbuf;
    from.wmem -= n;
    if (wasFull || from.wmem * 4 <= from.sndbuf) from.wq.wake();
  }

  write(f: OpenFile, data: Uint8Array, io: IoFlags): OpsWrite {
    void f;
    const sigpipe = (io.msgFlags & MSG_NOSIGNAL) === 0;
    if (this.unconnected) return { kind: 'error', errno: ENOTCONN };
    if ((this.shutdown & SEND_SHUTDOWN) !== 0) return { kind: 'error', errno: EPIPE, sigpipe };
    const peer = this.peer;
    if (peer === null) return { kind: 'error', errno: this.connectionBased ? EPIPE : ENOTCONN, ...(this.connectionBased ? { sigpipe } : {}) };
    if (peer.dead) {
      if (this.connectionBased) return { kind: 'error', errno: EPIPE, sigpipe };
      if (this.peerLost) return { kind: 'error', errno: ENOTCONN };
      this.peerLost = true;
      return { kind: 'error', errno: ECONNREFUSED };
    }
    if (this.connectionBased && (peer.shutdown & RCV_SHUTDOWN) !== 0) return { kind: 'error', errno: EPIPE, sigpipe };
    if (this.type !== 'stream') {
      if (io.requested > this.sndbuf - 32) return { kind: 'error', errno: EMSGSIZE };
      if (data.length < io.requested) return { kind: 'error', errno: EFAULT };
      if (this.wmem >= this.sndbuf) return { kind: 'wait', on: [this.wq] };
      this.queueAt(peer, data.slice());
      return { kind: 'ok', written: data.length };
    }
    if (data.length === 0) return io.requested > 0 ? { kind: 'error', errno: EFAULT } : { kind: 'ok', written: 0 };
    if (this.wmem >= this.sndbuf) return { kind: 'wait', on: [this.wq] };
    const n = Math.min(data.length, this.sndbuf - this.wmem);
    this.queueAt(peer, data.slice(0, n));
    return { kind: 'ok', written: n };
  }

  private queueAt(peer: UnixSocket, data: Uint8Array): void {
    peer.queue.push({ data, consumed: 0, from: this });
    this.wmem += data.length;
    peer.wq.wake();
  }

  /** unix_poll / unix_dgram_poll. */
  poll(): { mask: number; on: readonly WaitQueue[] } {
    let mask = 0;
    if (this.shutdown === SHUTDOWN_MASK) mask |= POLLHUP;
    if ((this.shutdown & RCV_SHUTDOWN) !== 0) mask |= POLLRDHUP | POLLIN | POLLRDNORM;
    if (this.queue.length > 0) mask |= POLLIN | POLLRDNORM;
    if (this.connectionBased && (this.peer === null || this.peer.dead)) mask |= POLLHUP;
    if (this.wmem * 4 <= this.sndbuf) mask |= POLLOUT | POLLWRNORM | POLLWRBAND;
    return { mask, on: [this.wq] };
  }

  /** unix_shutdown: this end's mode, and the matching one on a connection-based peer. */
  shut(how: number): number {
    if (how < SHUT_RD || how > SHUT_RDWR) return -EINVAL;
    const mode = (how + 1) & SHUTDOWN_MASK;
    this.shutdown |= mode;
    this.wq.wake();
    const peer = this.peer;
    if (peer !== null && !peer.dead && this.connectionBased) {
      let peerMode = 0;
      if ((mode & RCV_SHUTDOWN) !== 0) peerMode |= SEND_SHUTDOWN;
      if ((mode & SEND_SHUTDOWN) !== 0) peerMode |= RCV_SHUTDOWN;
      peer.shutdown |= peerMode;
      peer.wq.wake();
    }
    return 0;
  }

  /** unix_release_sock: a connection-based peer sees both directions shut down. */
  release(): void {
    this.dead = true;
    this.shutdown = SHUTDOWN_MASK;
    for (const skb of this.queue) skb.from.wmem -= skb.data.length - skb.consumed;
    const senders = new Set(this.queue.map((s) => s.from));
    this.queue.length = 0;
    for (const s of senders) s.wq.wake();
    const peer = this.peer;
    if (peer !== null) {
      if (this.connectionBased) peer.shutdown = SHUTDOWN_MASK;
      peer.wq.wake();
    }
    this.wq.wake();
  }
}

/**
 * socketpair(AF_UNIX, type): two connected open files (O_RDWR plus O_NONBLOCK from
 * SOCK_NONBLOCK), or -errno for a type AF_UNIX does not have.
 */
/** socket(AF_UNIX, type): one socket, not connected to anything. */
export function createSocket(fs: FileSystem, type: number): OpenFile | number {
  const base = type & SOCK_TYPE_MASK;
  const kind: UnixType | null = base === SOCK_STREAM ? 'stream' : base === SOCK_DGRAM || base === SOCK_RAW ? 'dgram' : base === SOCK_SEQPACKET ? 'seqpacket' : null;
  if (kind === null) return -EOPNOTSUPP;
  const node = fs.newSocketNode();
  const sock = new UnixSocket(kind, node.ino);
  sock.unconnected = true;
  return new OpenFile(node, O_RDWR | (type & SOCK_NONBLOCK), null, sock);
}

export function createSocketPair(fs: FileSystem, type: number): [OpenFile, OpenFile] | number {
  const base = type & SOCK_TYPE_MASK;
  const kind: UnixType | null = base === SOCK_STREAM ? 'stream' : base === SOCK_DGRAM || base === SOCK_RAW ? 'dgram' : base === SOCK_SEQPACKET ? 'seqpacket' : null;
  if (kind === null) return -EOPNOTSUPP;
  const files: OpenFile[] = [];
  const socks: UnixSocket[] = [];
  for (let i = 0; i < 2; i++) {
    const node = fs.newSocketNode();
    const sock = new UnixSocket(kind, node.ino);
    socks.push(sock);
    files.push(new OpenFile(node, O_RDWR | (type & SOCK_NONBLOCK), null, sock));
  }
  socks[0]!.peer = socks[1]!;
  socks[1]!.peer = socks[0]!;
  return [files[0]!, files[1]!];
}
