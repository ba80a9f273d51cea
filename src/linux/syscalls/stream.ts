/**
 * read/write/readv/writev/send/recv on files with operations (pipes, sockets, eventfds:
 * fileops.ts), and how they wait.
 *
 * A call that cannot make progress returns -EAGAIN under O_NONBLOCK (or MSG_DONTWAIT), else a
 * 'block' outcome on the queues the object named; the scheduler runs the call again from the
 * start when one is woken. A write that moved part of its bytes before it had to wait (a pipe
 * write larger than the free room) keeps the count in `task.blockState` and goes on from there
 * on the next try, so the caller sees one write of the whole length, as pipe_write's loop gives.
 * A try that follows a wake-up by a signal returns what was moved so far, or -ERESTARTSYS (EINTR
 * after a handler, or a restart under SA_RESTART: sigdeliver.ts).
 */
import { EAGAIN, EFAULT, EPIPE } from '../../util/errno.js';
import { ERESTARTSYS } from '../sigdeliver.js';
import { O_NONBLOCK, type OpenFile } from '../file.js';
import { MSG_DONTWAIT, type OpsRead } from '../fileops.js';
import type { LinuxProcess } from '../process.js';
import { sendSignal } from '../sigsend.js';
import { SIGPIPE } from '../signals.js';
import { getUserPartial, putUserPartial } from '../uaccess.js';
import { type SyscallOutcome } from './outcome.js';

export interface Segment {
  readonly base: number;
  readonly len: number;
}

/** What a blocked read or write keeps between its tries. */
export interface IoBlockState {
  readonly kind: 'io';
  /** Bytes a write already moved. */
  readonly done: number;
}

/** The state of the try before this one, when this try follows a sleep in the same call. */
function previousTry(p: LinuxProcess): IoBlockState | null {
  const s = p.current.blockState as IoBlockState | null;
  return s !== null && typeof s === 'object' && s.kind === 'io' ? s : null;
}

function interruptedBySignal(p: LinuxProcess): boolean {
  return p.current.wakeReason === 'signal';
}

function nonblocking(f: OpenFile, msgFlags: number): boolean {
  return (f.flags & O_NONBLOCK) !== 0 || (msgFlags & MSG_DONTWAIT) !== 0;
}

/**
 * send_sig(SIGPIPE, current, 0) for a write that found no reader: null when the signal leaves the
 * process running (blocked, ignored, caught), else the outcome that ends it. This is the one place
 * that sends it, for the scheduler's signal delivery to take over (it goes to the calling thread).
 */
export function raiseSigpipe(p: LinuxProcess): SyscallOutcome | null {
  // Delivered on the way back to user space (the machine's deliverSignals), like any signal.
  sendSignal(p.current, SIGPIPE, { kind: 'kernel', signo: SIGPIPE }, { toThread: true });
  return null;
}

/** Total of the segments (already capped at MAX_RW_COUNT by the caller). */
function totalOf(iov: readonly Segment[]): number {
  return iov.reduce((s, v) => s + v.len, 0);
}

/** The guest's bytes from `skip` on in the segments (fewer if a page faults). */
function gather(p: LinuxProcess, iov: readonly Segment[], skip: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let got = 0;
  let off = skip;
  for (const seg of iov) {
    if (off >= seg.len) {
      off -= seg.len;
      continue;
    }
    const want = seg.len - off;
    const data = getUserPartial(p.mm, seg.base + off, want);
    off = 0;
    parts.push(data);
    got += data.length;
    if (data.length < want) break;
  }
  const out = new Uint8Array(got);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Copies `bytes` to the segments in order: the count copied (short at a fault). */
function scatter(p: LinuxProcess, iov: readonly Segment[], bytes: Uint8Array): number {
  let at = 0;
  for (const seg of iov) {
    if (at >= bytes.length) break;
    const part = bytes.subarray(at, at + seg.len);
    const n = putUserPartial(p.mm, seg.base, part);
    at += n;
    if (n < part.length) break;
  }
  return at;
}

/** What a read returned besides the count (recvmsg's msg_flags needs them). */
export interface ReadDetail {
  /** The datagram's full length (MSG_TRUNC), when it was a message. */
  fullLength?: number;
  eor?: boolean;
}

/** A read into `iov` through the file's operations. */
export function opsRead(p: LinuxProcess, f: OpenFile, iov: readonly Segment[], msgFlags: number, detail?: ReadDetail): number | SyscallOutcome {
  const ops = f.ops!;
  if (previousTry(p) !== null && interruptedBySignal(p)) return -ERESTARTSYS;
  const r: OpsRead = ops.read(f, totalOf(iov), { msgFlags, continuing: false, requested: 0 });
  switch (r.kind) {
    case 'ok': {
      const n = scatter(p, iov, r.bytes);
      if (detail !== undefined) {
        if (r.fullLength !== undefined) detail.fullLength = r.fullLength;
        if (r.eor !== undefined) detail.eor = r.eor;
      }
      if (n < r.bytes.length && n === 0) return -EFAULT;
      return n;
    }
    case 'error':
      return -r.errno;
    case 'wait':
      if (nonblocking(f, msgFlags)) return -EAGAIN;
      p.current.blockState = { kind: 'io', done: 0 } satisfies IoBlockState;
      return { kind: 'block', on: r.on, restartable: true };
  }
}

/** A write from `iov` through the file's operations (see the module comment for partial writes). */
export function opsWrite(p: LinuxProcess, f: OpenFile, iov: readonly Segment[], msgFlags: number): number | SyscallOutcome {
  const ops = f.ops!;
  const total = totalOf(iov);
  const prev = previousTry(p);
  let done = prev?.done ?? 0;
  if (prev !== null && interruptedBySignal(p)) return done > 0 ? done : -ERESTARTSYS;
  const data = gather(p, iov, done);
  const start = done;
  for (;;) {
    const r = ops.write(f, data.subarray(done - start), { msgFlags, continuing: done > 0, requested: total - done });
    switch (r.kind) {
      case 'ok':
        done += r.written;
        if (done - start >= data.length || r.written === 0) return done > 0 || total === 0 ? done : -EFAULT;
        continue;
      case 'wait':
        if (nonblocking(f, msgFlags)) return done > 0 ? done : -EAGAIN;
        p.current.blockState = { kind: 'io', done } satisfies IoBlockState;
        return { kind: 'block', on: r.on, restartable: true };
      case 'error': {
        if (r.sigpipe === true) {
          const end = raiseSigpipe(p);
          if (end !== null) return end;
        }
        return done > 0 ? done : -(r.errno || EPIPE);
      }
    }
  }
}
