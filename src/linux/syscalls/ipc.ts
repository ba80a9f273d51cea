/**
 * The calls tasks talk to each other with: pipe2, eventfd2, socketpair and the socket calls on a
 * pair (send/recv, sendmsg/recvmsg, shutdown, getsockopt), and ppoll/pselect6 over any
 * descriptors (fs/pipe.c, fs/eventfd.c, net/socket.c, net/unix/af_unix.c, fs/select.c, v6.12).
 *
 * ppoll and pselect6 sleep on the wait queues of every polled file, with a deadline in virtual
 * CLOCK_MONOTONIC time; the absolute deadline is computed on the first try and kept in
 * `task.blockState` with the signal mask the caller asked to sleep with (`sigmask`), which the
 * scheduler's signal delivery must honour while the task sleeps and restore when it returns.
 */
import type { U64 } from '../../util/u64.js';
import {
  EAFNOSUPPORT, EBADF, ECONNREFUSED, EFAULT, EINTR, EINVAL, EISCONN, EMFILE, ENOENT, ENOPROTOOPT, ENOTCONN, ENOTSOCK,
  EOPNOTSUPP, EPROTONOSUPPORT, ESOCKTNOSUPPORT,
} from '../../util/errno.js';
import { NSEC_PER_SEC, splitNs } from '../clock.js';
import { createEventFd, EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE } from '../eventfd.js';
import { O_CLOEXEC, O_DIRECT, O_NONBLOCK, type OpenFile } from '../file.js';
import {
  DEFAULT_POLLMASK, MSG_CMSG_CLOEXEC, MSG_TRUNC, POLLERR,
  POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLPRI, POLLRDBAND, POLLRDNORM, POLLWRBAND, POLLWRNORM,
} from '../fileops.js';
import { createPipe } from '../pipe.js';
import type { LinuxProcess } from '../process.js';
import { RLIMIT_NOFILE } from '../rlimit.js';
import { SIGSET_SIZE } from '../signals.js';
import {
  AF_INET, AF_INET6, AF_UNIX, createSocket, createSocketPair, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_SEQPACKET, SOCK_STREAM,
  SOCK_TYPE_MASK, UnixSocket,
} from '../socket.js';
import type { WaitQueue } from '../wait.js';
import { StructReader, StructWriter, getUser, putUser, getTimespecNs } from '../uaccess.js';
import { argInt, argPtr, argUint, argUlong } from './args.js';
import { importIovec } from './file.js';
import type { SyscallHandlers, SyscallOutcome } from './outcome.js';
import { opsRead, opsWrite, type ReadDetail } from './stream.js';

/** O_NOTIFICATION_PIPE (= O_EXCL): watch-queue pipes, not modelled. */
const O_NOTIFICATION_PIPE = 0o200;
/** NPROTO (AF_MAX): address families are below it. */
const NPROTO = 46;
/** SOCK_MAX: socket types are below it. */
const SOCK_MAX = 11;
const MSG_OOB = 0x1;

function pipe2(p: LinuxProcess, a: readonly U64[]): number {
  const va = argPtr(a[0]!);
  const flags = argInt(a[1]!);
  if ((flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT | O_NOTIFICATION_PIPE)) !== 0) return -EINVAL;
  if ((flags & O_NOTIFICATION_PIPE) !== 0) return -EINVAL;
  const { ends } = createPipe(p.fs, flags & (O_NONBLOCK | O_DIRECT));
  return installPair(p, ends, (flags & O_CLOEXEC) !== 0, va);
}

/** Installs two new files and writes their descriptors as int[2]; all or nothing. */
function installPair(p: LinuxProcess, files: readonly [OpenFile, OpenFile], cloexec: boolean, va: number): number {
  const fd0 = p.fds.install(files[0], cloexec);
  if (fd0 < 0) {
    releaseUnused(files);
    return fd0;
  }
  const fd1 = p.fds.install(files[1], cloexec);
  if (fd1 < 0) {
    p.fds.close(fd0);
    releaseUnused([files[1]]);
    return -EMFILE;
  }
  const r = putUser(p.mm, va, new StructWriter(8).i32(0, fd0).i32(4, fd1).bytes);
  if (r < 0) {
    p.fds.close(fd0);
    p.fds.close(fd1);
    return r;
  }
  return 0;
}

/** A file made but never installed is released as its last reference would release it. */
function releaseUnused(files: readonly OpenFile[]): void {
  for (const f of files) if (f.refCount === 0) f.get().put();
}

function eventfd2(p: LinuxProcess, a: readonly U64[]): number {
  const initval = argUint(a[0]!);
  const flags = argInt(a[1]!);
  if ((flags & ~(EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE)) !== 0) return -EINVAL;
  const f = createEventFd(p.fs, initval, flags);
  const fd = p.fds.install(f, (flags & EFD_CLOEXEC) !== 0);
  if (fd < 0) releaseUnused([f]);
  return fd;
}

/** __sys_socketpair → sock_create → unix_create, in their order of checks. */
function socketpair(p: LinuxProcess, a: readonly U64[]): number {
  const family = argInt(a[0]!);
  const type = argInt(a[1]!);
  const protocol = argInt(a[2]!);
  const va = argPtr(a[3]!);
  if ((type & ~(SOCK_CLOEXEC | SOCK_NONBLOCK | SOCK_TYPE_MASK)) !== 0) return -EINVAL;
  const base = type & SOCK_TYPE_MASK;
  if (family < 0 || family >= NPROTO) return -EAFNOSUPPORT;
  if (base >= SOCK_MAX) return -EINVAL;
  // Families other than AF_UNIX: the internet ones exist and refuse pairs; the rest are absent.
  if (family === AF_INET || family === AF_INET6) return -EOPNOTSUPP;
  if (family !== AF_UNIX) return -EAFNOSUPPORT;
  if (protocol !== 0 && protocol !== AF_UNIX) return -EPROTONOSUPPORT;
  const pair = createSocketPair(p.fs, type);
  if (typeof pair === 'number') return -ESOCKTNOSUPPORT;
  return installPair(p, pair, (type & SOCK_CLOEXEC) !== 0, va);
}

/**
 * socket(2): AF_UNIX sockets, which nothing in the model listens to (there is no bind/listen);
 * the model has no IP networking (as a kernel without CONFIG_INET), so the internet families
 * are EAFNOSUPPORT. glibc's nscd probe and shells' socket checks get the answers they expect.
 */
function socket(p: LinuxProcess, a: readonly U64[]): number {
  const family = argInt(a[0]!);
  const type = argInt(a[1]!);
  const protocol = argInt(a[2]!);
  if ((type & ~(SOCK_CLOEXEC | SOCK_NONBLOCK | SOCK_TYPE_MASK)) !== 0) return -EINVAL;
  if (family < 0 || family >= NPROTO) return -EAFNOSUPPORT;
  if ((type & SOCK_TYPE_MASK) >= SOCK_MAX) return -EINVAL;
  if (family !== AF_UNIX) return -EAFNOSUPPORT;
  if (protocol !== 0 && protocol !== AF_UNIX) return -EPROTONOSUPPORT;
  const f = createSocket(p.fs, type);
  if (typeof f === 'number') return -ESOCKTNOSUPPORT;
  const fd = p.fds.install(f, (type & SOCK_CLOEXEC) !== 0);
  if (fd < 0) releaseUnused([f]);
  return fd;
}

/**
 * connect(2) of an AF_UNIX socket to a path (unix_find_bsd): no such file is ENOENT; anything
 * there is refused, since no socket of the model listens; a connected pair is EISCONN.
 */
function connect(p: LinuxProcess, a: readonly U64[]): number {
  const s = sockOf(p, argUint(a[0]!));
  if (typeof s === 'number') return s;
  const len = argUint(a[2]!);
  if (len < 2 || len > 110) return -EINVAL;
  const raw = getUser(p.mm, argPtr(a[1]!), len);
  if (raw === null) return -EFAULT;
  if ((raw[0]! | (raw[1]! << 8)) !== AF_UNIX) return -EINVAL;
  if (!s.sock.unconnected) return -EISCONN;
  const nul = raw.indexOf(0, 2);
  const path = new TextDecoder().decode(raw.subarray(2, nul < 0 ? raw.length : nul));
  // An abstract name (leading NUL) or an empty one: nothing is bound to it.
  if (path === '') return -ECONNREFUSED;
  const found = p.fs.lookup(path.startsWith('/') ? p.fs.root : p.fs.cwd, path, true);
  return found.kind === 'ok' ? -ECONNREFUSED : -ENOENT;
}

/** getsockname/getpeername: sockets of the model are unnamed (sun_family alone); no peer: ENOTCONN. */
function sockName(peer: boolean) {
  return (p: LinuxProcess, a: readonly U64[]): number => {
    const s = sockOf(p, argUint(a[0]!));
    if (typeof s === 'number') return s;
    if (peer && (s.sock.unconnected || s.sock.peer === null)) return -ENOTCONN;
    const lenVa = argPtr(a[2]!);
    const lenRaw = getUser(p.mm, lenVa, 4);
    if (lenRaw === null) return -EFAULT;
    const room = new StructReader(lenRaw).i32(0);
    if (room < 0) return -EINVAL;
    const name = new StructWriter(2).u16(0, AF_UNIX).bytes.subarray(0, Math.min(2, room));
    if (name.length > 0 && putUser(p.mm, argPtr(a[1]!), name) < 0) return -EFAULT;
    return putUser(p.mm, lenVa, new StructWriter(4).i32(0, 2).bytes);
  };
}

/** The socket behind a descriptor: -EBADF, -ENOTSOCK or the socket and its file. */
function sockOf(p: LinuxProcess, fd: number): { f: OpenFile; sock: UnixSocket } | number {
  const f = p.fds.get(fd)?.file ?? null;
  if (f === null) return -EBADF;
  if (!(f.ops instanceof UnixSocket)) return -ENOTSOCK;
  return { f, sock: f.ops };
}

/**
 * A destination address on a connected pair: stream and seqpacket sockets refuse it (EISCONN);
 * a datagram socket would look the name up, and no socket here has one.
 */
function checkDestination(sock: UnixSocket, addrVa: number, addrLen: number): number {
  if (addrVa === 0 || addrLen === 0) return 0;
  if (sock.type !== 'dgram') return -EISCONN;
  if (addrLen < 2 || addrLen > 110) return -EINVAL;
  return -ENOENT;
}

function sendto(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const s = sockOf(p, argInt(a[0]!));
  if (typeof s === 'number') return s;
  const buf = argPtr(a[1]!);
  const len = Math.min(argUlong(a[2]!), 0x7fffffff);
  const flags = argUint(a[3]!);
  if ((flags & MSG_OOB) !== 0) return -EOPNOTSUPP;
  const dest = checkDestination(s.sock, argPtr(a[4]!), argInt(a[5]!));
  if (dest !== 0) return dest;
  return opsWrite(p, s.f, [{ base: buf, len }], flags);
}

/** What recv returns for a message cut short when the caller asked with MSG_TRUNC: its length. */
function recvResult(n: number | SyscallOutcome, flags: number, d: ReadDetail): number | SyscallOutcome {
  if (typeof n !== 'number' || n < 0) return n;
  if ((flags & MSG_TRUNC) !== 0 && d.fullLength !== undefined) return d.fullLength;
  return n;
}

function recvfrom(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const s = sockOf(p, argInt(a[0]!));
  if (typeof s === 'number') return s;
  const buf = argPtr(a[1]!);
  const len = Math.min(argUlong(a[2]!), 0x7fffffff);
  const flags = argUint(a[3]!);
  if ((flags & MSG_OOB) !== 0) return -EOPNOTSUPP;
  const d: ReadDetail = {};
  const r = recvResult(opsRead(p, s.f, [{ base: buf, len }], flags, d), flags, d);
  if (typeof r === 'number' && r >= 0) {
    // The peer of a pair has no name: the address length comes back as 0.
    const addrVa = argPtr(a[4]!);
    const lenVa = argPtr(a[5]!);
    if (addrVa !== 0 && lenVa !== 0) {
      const w = putUser(p.mm, lenVa, new StructWriter(4).u32(0, 0).bytes);
      if (w < 0) return w;
    }
  }
  return r;
}

/** struct user_msghdr on arm64: 56 bytes. */
interface MsgHdr {
  readonly name: number;
  readonly namelen: number;
  readonly iov: number;
  readonly iovlen: number;
  readonly control: number;
  readonly controllen: number;
}

function readMsghdr(p: LinuxProcess, va: number): MsgHdr | number {
  const raw = getUser(p.mm, va, 56);
  if (raw === null) return -EFAULT;
  const r = new StructReader(raw);
  return { name: r.ulong(0), namelen: r.i32(8), iov: r.ulong(16), iovlen: r.ulong(24), control: r.ulong(32), controllen: r.ulong(40) };
}

function sendmsg(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const s = sockOf(p, argInt(a[0]!));
  if (typeof s === 'number') return s;
  const m = readMsghdr(p, argPtr(a[1]!));
  if (typeof m === 'number') return m;
  const flags = argUint(a[2]!);
  if ((flags & MSG_OOB) !== 0) return -EOPNOTSUPP;
  // Ancillary data (SCM_RIGHTS, SCM_CREDENTIALS) is not modelled: refused rather than dropped.
  if (m.controllen !== 0) return -EINVAL;
  const iov = importIovec(p, m.iov, m.iovlen);
  if (typeof iov === 'number') return iov;
  const dest = checkDestination(s.sock, m.name, m.namelen);
  if (dest !== 0) return dest;
  return opsWrite(p, s.f, iov, flags);
}

function recvmsg(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const s = sockOf(p, argInt(a[0]!));
  if (typeof s === 'number') return s;
  const va = argPtr(a[1]!);
  const m = readMsghdr(p, va);
  if (typeof m === 'number') return m;
  const flags = argUint(a[2]!) & ~MSG_CMSG_CLOEXEC;
  if ((flags & MSG_OOB) !== 0) return -EOPNOTSUPP;
  const iov = importIovec(p, m.iov, m.iovlen);
  if (typeof iov === 'number') return iov;
  const d: ReadDetail = {};
  const r = recvResult(opsRead(p, s.f, iov, flags, d), flags, d);
  if (typeof r !== 'number' || r < 0) return r;
  let msgFlags = 0;
  if (d.fullLength !== undefined && d.fullLength > iov.reduce((t, v) => t + v.len, 0)) msgFlags |= MSG_TRUNC;
  // msg_namelen (no name), msg_controllen (no ancillary data) and msg_flags go back.
  const w1 = putUser(p.mm, va + 8, new StructWriter(4).u32(0, 0).bytes);
  const w2 = putUser(p.mm, va + 40, new StructWriter(8).u64(0, 0n).bytes);
  const w3 = putUser(p.mm, va + 48, new StructWriter(4).i32(0, msgFlags).bytes);
  if (w1 < 0 || w2 < 0 || w3 < 0) return -EFAULT;
  return r;
}

function shutdown(p: LinuxProcess, a: readonly U64[]): number {
  const s = sockOf(p, argInt(a[0]!));
  if (typeof s === 'number') return s;
  return s.sock.shut(argInt(a[1]!));
}

const SOL_SOCKET = 1;
const SO_TYPE = 3;
const SO_ERROR = 4;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_DOMAIN = 39;
/** net.core.wmem_max. */
const SYSCTL_WMEM_MAX = 212992;
/** SOCK_MIN_SNDBUF on 64-bit: 2 * (2048 + sizeof(struct sk_buff) rounded). */
const SOCK_MIN_SNDBUF = 4608;

function getsockopt(p: LinuxProcess, a: readonly U64[]): number {
  const s = sockOf(p, argInt(a[0]!));
  if (typeof s === 'number') return s;
  const level = argInt(a[1]!);
  const name = argInt(a[2]!);
  const valVa = argPtr(a[3]!);
  const lenVa = argPtr(a[4]!);
  if (level !== SOL_SOCKET) return -EOPNOTSUPP;
  const rawLen = getUser(p.mm, lenVa, 4);
  if (rawLen === null) return -EFAULT;
  const len = new StructReader(rawLen).i32(0);
  if (len < 0) return -EINVAL;
  let v: number;
  switch (name) {
    case SO_TYPE:
      v = s.sock.type === 'stream' ? SOCK_STREAM : s.sock.type === 'dgram' ? SOCK_DGRAM : SOCK_SEQPACKET;
      break;
    case SO_ERROR:
      v = 0;
      break;
    case SO_SNDBUF:
      v = s.sock.sndbuf;
      break;
    case SO_RCVBUF:
      v = SYSCTL_WMEM_MAX;
      break;
    case SO_DOMAIN:
      v = AF_UNIX;
      break;
    default:
      return -ENOPROTOOPT;
  }
  const n = Math.min(len, 4);
  const r = putUser(p.mm, valVa, new StructWriter(4).i32(0, v).bytes.subarray(0, n));
  if (r < 0) return r;
  return putUser(p.mm, lenVa, new StructWriter(4).i32(0, n).bytes);
}

function setsockopt(p: LinuxProcess, a: readonly U64[]): number {
  const s = sockOf(p, argInt(a[0]!));
  if (typeof s === 'number') return s;
  const level = argInt(a[1]!);
  const name = argInt(a[2]!);
  if (level !== SOL_SOCKET) return -EOPNOTSUPP;
  const optlen = argInt(a[4]!);
  if (optlen < 4) return -EINVAL;
  const raw = getUser(p.mm, argPtr(a[3]!), 4);
  if (raw === null) return -EFAULT;
  const val = new StructReader(raw).i32(0);
  switch (name) {
    case SO_SNDBUF:
      // sock_setsockopt: the value doubles (bookkeeping overhead), within wmem_max.
      s.sock.sndbuf = Math.max(SOCK_MIN_SNDBUF, Math.min(Math.max(val, 0), SYSCTL_WMEM_MAX) * 2);
      s.sock.wq.wake();
      return 0;
    case SO_RCVBUF:
      return 0;
    default:
      return -ENOPROTOOPT;
  }
}

// ---- poll and select ----

/** What ppoll and pselect6 keep between their tries. */
export interface PollBlockState {
  readonly kind: 'poll';
  /** Absolute virtual CLOCK_MONOTONIC deadline; null: no timeout. */
  readonly deadlineNs: bigint | null;
  /** The mask to sleep with (the call's sigmask argument), or null to keep the thread's. */
  readonly sigmask: bigint | null;
}

function pollState(p: LinuxProcess): PollBlockState | null {
  const s = p.current.blockState as PollBlockState | null;
  return s !== null && typeof s === 'object' && s.kind === 'poll' ? s : null;
}

/** A file's ready mask and the queues that tell when it changes. */
function pollFile(f: OpenFile): { mask: number; on: readonly WaitQueue[] } {
  if (f.ops !== null) return f.ops.poll(f);
  return { mask: DEFAULT_POLLMASK, on: [] };
}

/** get_timespec64 + timespec validity, as a relative timeout in ns; -errno. */
function readTimeout(p: LinuxProcess, va: number): bigint | number {
  return getTimespecNs(p.mm, va);
}

/** The sigmask argument: null, the mask, or -errno. */
function readSigmask(p: LinuxProcess, va: number, size: number): bigint | null | number {
  if (va === 0) return null;
  if (size !== SIGSET_SIZE) return -EINVAL;
  const raw = getUser(p.mm, va, 8);
  if (raw === null) return -EFAULT;
  return new StructReader(raw).u64(0);
}

/** The common part of ppoll and pselect6 once the ready set is known. */
interface PollTry {
  readonly ready: number;
  readonly queues: readonly WaitQueue[];
}

/**
 * do_poll / do_select's loop around one scan: return now (something ready, zero timeout, deadline
 * passed, signal) or sleep. `finish` writes the results and returns the call's value.
 */
function pollOrSleep(
  p: LinuxProcess,
  timeoutVa: number,
  timeoutNs: bigint | null,
  sigmask: bigint | null,
  scan: PollTry,
  finish: (ready: number) => number,
): number | SyscallOutcome {
  const prev = pollState(p);
  const clockNow = p.clock.peekMonotonicNs();
  const deadline = prev !== null ? prev.deadlineNs : timeoutNs === null ? null : clockNow + timeoutNs;
  // Woken by the deadline: it has passed, whatever this clock reads.
  const now = prev !== null && p.current.wakeReason === 'timeout' && deadline !== null && deadline > clockNow ? deadline : clockNow;
  const timedOut = deadline !== null && now >= deadline;
  if (scan.ready > 0 || timedOut || (prev !== null && p.current.wakeReason === 'timeout')) {
    const r = finish(scan.ready);
    if (r < 0) return r;
    // poll_select_finish: a failure to write the remaining time is ignored for a result.
    writeRemaining(p, timeoutVa, deadline, now);
    return r;
  }
  if (prev !== null && p.current.wakeReason === 'signal') {
    writeRemaining(p, timeoutVa, deadline, now);
    return -EINTR;
  }
  p.current.blockState = { kind: 'poll', deadlineNs: deadline, sigmask } satisfies PollBlockState;
  return deadline !== null ? { kind: 'block', on: scan.queues, deadlineNs: deadline, restartable: false } : { kind: 'block', on: scan.queues, restartable: false };
}

/** poll_select_finish's copy of the time left to the user's timespec (none without one): 0 or -EFAULT. */
function writeRemaining(p: LinuxProcess, timeoutVa: number, deadline: bigint | null, now: bigint): number {
  if (timeoutVa === 0 || deadline === null) return 0;
  const left = deadline > now ? deadline - now : 0n;
  const t = splitNs(left);
  return putUser(p.mm, timeoutVa, new StructWriter(16).u64(0, t.sec).u64(8, t.nsec).bytes) < 0 ? -EFAULT : 0;
}

function ppoll(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const ufds = argPtr(a[0]!);
  const nfds = argUint(a[1]!);
  const tsp = argPtr(a[2]!);
  let timeout: bigint | null = null;
  if (tsp !== 0) {
    const t = readTimeout(p, tsp);
    if (typeof t === 'number') return t;
    timeout = t;
  }
  const sigmask = readSigmask(p, argPtr(a[3]!), argUlong(a[4]!));
  if (typeof sigmask === 'number') return sigmask;
  if (nfds > p.limits.curNumber(RLIMIT_NOFILE)) return -EINVAL;
  const raw = getUser(p.mm, ufds, nfds * 8);
  if (raw === null) return -EFAULT;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const queues: WaitQueue[] = [];
  let ready = 0;
  for (let i = 0; i < nfds; i++) {
    const fd = view.getInt32(i * 8, true);
    const events = view.getUint16(i * 8 + 4, true);
    let revents = 0;
    if (fd >= 0) {
      const f = p.fds.get(fd)?.file ?? null;
      if (f === null) revents = POLLNVAL;
      else {
        const r = pollFile(f);
        revents = r.mask & (events | POLLERR | POLLHUP);
        // Each queue once, in the order first met (a pipe's ends share theirs); no spread or Set.
        for (const q of r.on) if (!queues.includes(q)) queues.push(q);
      }
    }
    view.setUint16(i * 8 + 6, revents, true);
    if (revents !== 0) ready++;
  }
  return pollOrSleep(p, tsp, timeout, sigmask, { ready, queues }, (n) => {
    const r = putUser(p.mm, ufds, raw);
    return r < 0 ? r : n;
  });
}

const POLLIN_SET = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR;
const POLLOUT_SET = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR;
const POLLEX_SET = POLLPRI;

function pselect6(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  let n = argInt(a[0]!);
  const vas = [argPtr(a[1]!), argPtr(a[2]!), argPtr(a[3]!)];
  const tsp = argPtr(a[4]!);
  const sigVa = argPtr(a[5]!);
  let timeout: bigint | null = null;
  if (tsp !== 0) {
    const t = readTimeout(p, tsp);
    if (typeof t === 'number') return t;
    timeout = t;
  }
  let sigmask: bigint | null = null;
  if (sigVa !== 0) {
    // struct { const sigset_t *ss; size_t ss_len; }
    const raw = getUser(p.mm, sigVa, 16);
    if (raw === null) return -EFAULT;
    const r = new StructReader(raw);
    const m = readSigmask(p, r.ulong(0), r.ulong(8));
    if (typeof m === 'number') return m;
    sigmask = m;
  }
  if (n < 0) return -EINVAL;
  n = Math.min(n, p.fds.size);
  const bytes = Math.ceil(n / 64) * 8;
  const sets: (Uint8Array | null)[] = [];
  for (const va of vas) {
    if (va === 0) {
      sets.push(null);
      continue;
    }
    const raw = getUser(p.mm, va, bytes);
    if (raw === null) return -EFAULT;
    sets.push(raw);
  }
  const bit = (set: Uint8Array | null, fd: number): boolean => set !== null && (set[fd >> 3]! & (1 << (fd & 7))) !== 0;
  const outs = sets.map((s) => (s === null ? null : new Uint8Array(s.length)));
  const queues: WaitQueue[] = [];
  let ready = 0;
  for (let fd = 0; fd < n; fd++) {
    const want = [bit(sets[0]!, fd), bit(sets[1]!, fd), bit(sets[2]!, fd)];
    if (!want.some((w) => w)) continue;
    const f = p.fds.get(fd)?.file ?? null;
    if (f === null) return -EBADF;
    const r = pollFile(f);
    queues.push(...r.on);
    const hits = [r.mask & POLLIN_SET, r.mask & POLLOUT_SET, r.mask & POLLEX_SET];
    for (let k = 0; k < 3; k++) {
      if (want[k] && hits[k] !== 0) {
        outs[k]![fd >> 3]! |= 1 << (fd & 7);
        ready++;
      }
    }
  }
  return pollOrSleep(p, tsp, timeout, sigmask, { ready, queues }, (count) => {
    for (let k = 0; k < 3; k++) {
      if (vas[k] === 0) continue;
      const r = putUser(p.mm, vas[k]!, outs[k]!);
      if (r < 0) return r;
    }
    return count;
  });
}

export const ipcSyscalls: SyscallHandlers = {
  pipe2,
  eventfd2,
  socket,
  connect,
  getsockname: sockName(false),
  getpeername: sockName(true),
  socketpair,
  sendto,
  recvfrom,
  sendmsg,
  recvmsg,
  shutdown,
  getsockopt,
  setsockopt,
  ppoll,
  pselect6,
};
