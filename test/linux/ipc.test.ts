/**
 * Pipes, eventfds, socket pairs, ppoll/pselect6 and getdents64: the objects' semantics (capacity,
 * atomicity, EOF, EPIPE) and their waiting, with two waiters parked on the queues the way the
 * scheduler parks tasks, then the system calls through the process layer.
 */
import { ERESTARTSYS } from '../../src/linux/sigdeliver.js';
import { describe, expect, it } from 'vitest';
import { EAGAIN, EBADF, EINTR, EINVAL, EMSGSIZE, ENOTSOCK, EPIPE, ESPIPE } from '../../src/util/errno.js';
import { OpenFile, O_NONBLOCK, O_RDONLY } from '../../src/linux/file.js';
import { POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLRDNORM, POLLWRNORM } from '../../src/linux/fileops.js';
import { Pipe, roundPipeSize } from '../../src/linux/pipe.js';
import { SIGPIPE, sigBit } from '../../src/linux/signals.js';
import type { SyscallOutcome } from '../../src/linux/syscalls/outcome.js';
import { syscallNumber } from '../../src/linux/syscalls/table.js';
import { Task } from '../../src/linux/task.js';
import { WaitQueue, type Waiter, type WakeReason } from '../../src/linux/wait.js';
import { makeRig, OUT, type Rig } from './harness.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A waiter that records its wake-ups (and leaves its queues, as a task does). */
class FakeWaiter implements Waiter {
  readonly log: WakeReason[] = [];
  on: readonly WaitQueue[] = [];
  wake(reason: WakeReason): void {
    for (const q of this.on) q.remove(this);
    this.on = [];
    this.log.push(reason);
  }
  park(on: readonly WaitQueue[]): void {
    this.on = on;
    for (const q of on) q.add(this);
  }
}

function bytes(n: number, fill = 0x61): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

describe('Pipe: the ring of page buffers', () => {
  it('holds 16 pages; the 17th page-sized write waits on wr_wait and a read frees a slot and wakes both waiters', () => {
    const pipe = new Pipe(1);
    pipe.readers = pipe.writers = 1;
    for (let i = 0; i < 16; i++) expect(pipe.write(bytes(4096), false, false)).toEqual({ kind: 'ok', written: 4096 });
    expect(pipe.bytes).toBe(65536);
    const w = pipe.write(bytes(4096), false, false);
    expect(w.kind).toBe('wait');
    const a = new FakeWaiter();
    const b = new FakeWaiter();
    a.park(w.kind === 'wait' ? w.on : []);
    b.park(w.kind === 'wait' ? w.on : []);
    expect(pipe.wrWait.size).toBe(2);
    const r = pipe.read(100);
    expect(r.kind === 'ok' && r.bytes.length).toBe(100);
    // A partly read head buffer still holds its slot: nothing was freed, nobody woken.
    expect(a.log).toEqual([]);
    const r2 = pipe.read(3996);
    expect(r2.kind === 'ok' && r2.bytes.length).toBe(3996);
    expect(a.log).toEqual(['event']);
    expect(b.log).toEqual(['event']);
    expect(pipe.wrWait.size).toBe(0);
  });

  it('keeps a write of at most PIPE_BUF whole: merged into the last buffer only when it fits there', () => {
    const pipe = new Pipe(1);
    pipe.readers = pipe.writers = 1;
    for (let i = 0; i < 15; i++) pipe.write(bytes(4096), false, false);
    expect(pipe.write(bytes(4000), false, false)).toEqual({ kind: 'ok', written: 4000 });
    // 96 bytes are free in the last page, but 200 do not fit there and no slot is left.
    expect(pipe.write(bytes(200), false, false).kind).toBe('wait');
    expect(pipe.write(bytes(96), false, false)).toEqual({ kind: 'ok', written: 96 });
    expect(pipe.bytes).toBe(65536);
  });

  it('a read that empties a buffer keeps its page for the next write (pipe->tmp_page); only written bytes are read', () => {
    const pipe = new Pipe(1);
    pipe.readers = pipe.writers = 1;
    pipe.write(bytes(4096, 0x78), false, false);
    const r = pipe.read(4096);
    expect(r.kind === 'ok' && r.bytes.length).toBe(4096);
    // The page of 'x's comes back for an 8-byte message: the reader sees those 8 bytes only,
    // then a second 8-byte message merged after them, and nothing of the page's old content.
    pipe.write(enc.encode('abcdefgh'), false, false);
    pipe.write(enc.encode('ijklmnop'), false, false);
    const m = pipe.read(4096);
    expect(m.kind === 'ok' && dec.decode(m.bytes)).toBe('abcdefghijklmnop');
    expect(pipe.bytes).toBe(0);
    // Two buffers in flight: the second write needs a page of its own.
    pipe.write(bytes(4096, 0x31), false, false);
    pipe.write(bytes(4096, 0x32), false, false);
    const both = pipe.read(8192);
    expect(both.kind === 'ok' && [both.bytes[0], both.bytes[4095], both.bytes[4096], both.bytes[8191]]).toEqual([0x31, 0x31, 0x32, 0x32]);
  });

  it('writes part of a large write and reports it; the rest waits', () => {
    const pipe = new Pipe(1);
    pipe.readers = pipe.writers = 1;
    expect(pipe.write(bytes(100000), false, false)).toEqual({ kind: 'ok', written: 65536 });
  });

  it('packet mode (O_DIRECT): one write is one packet, a short read drops the rest of it', () => {
    const pipe = new Pipe(1);
    pipe.readers = pipe.writers = 1;
    pipe.write(enc.encode('first packet'), true, false);
    pipe.write(enc.encode('second'), true, false);
    const r1 = pipe.read(5);
    expect(r1.kind === 'ok' && dec.decode(r1.bytes)).toBe('first');
    const r2 = pipe.read(100);
    expect(r2.kind === 'ok' && dec.decode(r2.bytes)).toBe('second');
  });

  it('reads EOF once the last writer is gone, and a writer with no reader gets EPIPE with SIGPIPE', () => {
    const pipe = new Pipe(1);
    pipe.readers = pipe.writers = 1;
    const reader = new FakeWaiter();
    const r = pipe.read(10);
    expect(r.kind).toBe('wait');
    reader.park(r.kind === 'wait' ? r.on : []);
    pipe.release(false, true);
    expect(reader.log).toEqual(['event']);
    expect(pipe.read(10)).toEqual({ kind: 'ok', bytes: new Uint8Array(0) });
    expect(pipe.pollMask(true, false)).toBe(POLLHUP);
    const p2 = new Pipe(2);
    p2.readers = p2.writers = 1;
    p2.release(true, false);
    expect(p2.write(bytes(1), false, false)).toEqual({ kind: 'error', errno: EPIPE, sigpipe: true });
    expect(p2.pollMask(false, true)).toBe(POLLOUT | POLLWRNORM | POLLERR);
  });

  it('F_SETPIPE_SZ rounds up to a power of two of pages and refuses to shrink below what is queued', () => {
    expect(roundPipeSize(1)).toBe(4096);
    expect(roundPipeSize(65537)).toBe(131072);
    const pipe = new Pipe(1);
    pipe.readers = pipe.writers = 1;
    expect(pipe.setSize(10000, false)).toBe(16384);
    expect(pipe.maxUsage).toBe(4);
    expect(pipe.setSize(2 * 1048576, false)).toBe(-1);
    for (let i = 0; i < 3; i++) pipe.write(bytes(4096), false, false);
    expect(pipe.setSize(4096, false)).toBe(-16);
  });
});

interface Parked {
  task: Task;
  name: string;
  args: (number | bigint)[];
}

/** Parks a task on a block outcome the way the scheduler does. */
function park(task: Task, o: SyscallOutcome, name: string, args: (number | bigint)[]): Parked {
  if (o.kind !== 'block') throw new Error(`expected a block, got ${JSON.stringify(o)}`);
  task.state = 'blocked';
  task.blockedIn = { nr: syscallNumber(name), args: [], pc: 0, on: o.on, restartable: o.restartable ?? false, ...(o.deadlineNs !== undefined ? { deadlineNs: o.deadlineNs } : {}) };
  for (const q of o.on) q.add(task);
  return { task, name, args };
}

/** Runs a woken task's syscall again as `current`, finishing it as the scheduler would. */
function rerun(r: Rig, w: Parked): SyscallOutcome {
  const prev = r.p.current;
  r.p.current = w.task;
  w.task.state = 'running';
  const o = r.sys(w.name, ...w.args);
  if (o.kind !== 'block') {
    w.task.blockState = null;
    w.task.blockedIn = null;
  }
  r.p.current = prev;
  return o;
}

function as(r: Rig, t: Task, name: string, ...args: (number | bigint)[]): SyscallOutcome {
  const prev = r.p.current;
  r.p.current = t;
  const o = r.sys(name, ...args);
  r.p.current = prev;
  return o;
}

function pipeFds(r: Rig, flags = 0): [number, number] {
  expect(r.call('pipe2', r.scratch + OUT, flags)).toBe(0);
  const v = new DataView(r.read(r.scratch + OUT, 8).buffer);
  return [v.getInt32(0, true), v.getInt32(4, true)];
}

describe('pipe2, read and write through the syscall layer', () => {
  it('a guest writes to and reads from its own pipe; fstat says FIFO; lseek is ESPIPE', () => {
    const r = makeRig();
    const [rd, wr] = pipeFds(r);
    expect([rd, wr]).toEqual([3, 4]);
    const msg = r.str('ping');
    expect(r.call('write', wr, msg, 4)).toBe(4);
    expect(r.call('ioctl', rd, 0x541b, r.scratch + OUT + 64)).toBe(0);
    expect(new DataView(r.read(r.scratch + OUT + 64, 4).buffer).getInt32(0, true)).toBe(4);
    expect(r.call('read', rd, r.scratch + 1024, 100)).toBe(4);
    expect(dec.decode(r.read(r.scratch + 1024, 4))).toBe('ping');
    expect(r.call('lseek', rd, 0, 0)).toBe(-ESPIPE);
    expect(r.call('fstat', rd, r.scratch + 2048)).toBe(0);
    expect(new DataView(r.read(r.scratch + 2048 + 16, 4).buffer).getUint32(0, true) & 0o170000).toBe(0o010000);
    expect(r.call('fcntl', rd, 1032)).toBe(65536);
    expect(r.call('fcntl', rd, 1031, 4096)).toBe(4096);
    expect(r.call('fcntl', 0, 1032)).toBe(-EBADF);
    // The wrong ends.
    expect(r.call('read', wr, r.scratch + 1024, 1)).toBe(-EBADF);
    expect(r.call('write', rd, msg, 1)).toBe(-EBADF);
  });

  it('rejects unknown flags and sets O_NONBLOCK and FD_CLOEXEC as asked', () => {
    const r = makeRig();
    expect(r.call('pipe2', r.scratch + OUT, 0x1)).toBe(-EINVAL);
    const [rd, wr] = pipeFds(r, O_NONBLOCK | 0o2000000);
    expect(r.call('fcntl', rd, 3) & O_NONBLOCK).toBe(O_NONBLOCK);
    expect(r.call('fcntl', wr, 1)).toBe(1);
    expect(r.call('read', rd, r.scratch + 1024, 10)).toBe(-EAGAIN);
  });

  it('a blocking read sleeps on the pipe; two readers wake on one write, one gets the data, the other sleeps again', () => {
    const r = makeRig();
    const [rd, wr] = pipeFds(r);
    const t1 = r.p.current;
    const t2 = new Task(1001, r.p);
    r.p.threads.push(t2);
    const a1 = as(r, t1, 'read', rd, r.scratch + 1024, 100);
    const w1 = park(t1, a1, 'read', [rd, r.scratch + 1024, 100]);
    const w2 = park(t2, as(r, t2, 'read', rd, r.scratch + 1200, 100), 'read', [rd, r.scratch + 1200, 100]);
    expect(t1.blockState).toEqual({ kind: 'io', done: 0 });
    const msg = r.str('data');
    expect(r.call('write', wr, msg, 4)).toBe(4);
    expect([t1.state, t2.state]).toEqual(['runnable', 'runnable']);
    expect(t1.wakeReason).toBe('event');
    expect(rerun(r, w1)).toEqual({ kind: 'return', value: 4 });
    const again = rerun(r, w2);
    expect(again.kind).toBe('block');
    // Closing the last writer wakes it with EOF.
    park(t2, again, 'read', [rd, r.scratch + 1200, 100]);
    expect(r.call('close', wr)).toBe(0);
    expect(t2.state).toBe('runnable');
    expect(rerun(r, w2)).toEqual({ kind: 'return', value: 0 });
  });

  it('a write larger than the room writes what fits, sleeps, and goes on from there; the caller sees one write', () => {
    const r = makeRig();
    const [rd, wr] = pipeFds(r);
    const t = r.p.current;
    const big = 65536 + 8192;
    const src = r.mm.mmap({ addr: 0, len: big, prot: 3, flags: 0x22, file: null, pgoff: 0 });
    r.mm.poke(src, bytes(big, 0x42));
    const w = park(t, r.sys('write', wr, src, big), 'write', [wr, src, big]);
    expect(t.blockState).toEqual({ kind: 'io', done: 65536 });
    // A reader drains 8 KiB: two slots free, the writer wakes and finishes.
    const reader = new Task(1001, r.p);
    expect(as(r, reader, 'read', rd, r.scratch + 4096, 8192)).toEqual({ kind: 'return', value: 8192 });
    expect(t.state).toBe('runnable');
    expect(rerun(r, w)).toEqual({ kind: 'return', value: big });
  });

  it('a sleep ended by a signal returns what was written, or -ERESTARTSYS when nothing was', () => {
    const r = makeRig();
    const [rd] = pipeFds(r);
    const t = r.p.current;
    const w = park(t, r.sys('read', rd, r.scratch + 1024, 10), 'read', [rd, r.scratch + 1024, 10]);
    t.wake('signal');
    // -ERESTARTSYS: -EINTR once a handler has run, or the read again under SA_RESTART (sigdeliver.ts).
    expect(rerun(r, w)).toEqual({ kind: 'return', value: -ERESTARTSYS });
  });

  it('writing with no reader left is EPIPE and SIGPIPE, which ends the process by default', () => {
    const r = makeRig();
    const [rd, wr] = pipeFds(r);
    expect(r.call('close', rd)).toBe(0);
    // -EPIPE, and SIGPIPE queued for the writer: its default action ends the process on the way
    // back to user space (the machine's deliverSignals).
    expect(r.call('write', wr, r.str('x'), 1)).toBe(-EPIPE);
    expect(r.p.current.pending.set & sigBit(SIGPIPE)).toBe(sigBit(SIGPIPE));
    r.p.current.pending.clear();
    // Ignored: just -EPIPE.
    const act = r.bytes(new Uint8Array(32).fill(0).map((_, i) => (i === 0 ? 1 : 0)), 3000);
    expect(r.call('rt_sigaction', SIGPIPE, act, 0, 8)).toBe(0);
    expect(r.call('write', wr, r.str('x'), 1)).toBe(-EPIPE);
  });

  it('a descriptor shared by dup keeps the write end open until the last one closes', () => {
    const r = makeRig();
    const [rd, wr] = pipeFds(r);
    const dupd = r.call('dup3', wr, 10, 0);
    expect(dupd).toBe(10);
    expect(r.call('close', wr)).toBe(0);
    expect(r.sys('read', rd, r.scratch + 1024, 10).kind).toBe('block');
    r.p.current.blockState = null;
    expect(r.call('close', 10)).toBe(0);
    expect(r.call('read', rd, r.scratch + 1024, 10)).toBe(0);
  });

  it('a forked descriptor table holds its own references', () => {
    const r = makeRig();
    const [rd, wr] = pipeFds(r);
    const child = r.p.fds.fork();
    expect(r.call('close', wr)).toBe(0);
    expect(r.call('fcntl', rd, 3) & O_NONBLOCK).toBe(0);
    r.call('fcntl', rd, 4, O_NONBLOCK);
    expect(r.call('read', rd, r.scratch + 1024, 10)).toBe(-EAGAIN);
    child.closeAll();
    expect(r.call('read', rd, r.scratch + 1024, 10)).toBe(0);
  });
});

describe('/proc/self/fd/N and /dev/stdin: opening a pipe again', () => {
  it('gives a new file on the same pipe (one more writer keeps EOF away); sockets and eventfds are ENXIO', () => {
    const r = makeRig();
    const [rd, wr] = pipeFds(r);
    const wr2 = r.call('openat', -100, r.str(`/proc/self/fd/${wr}`), 1, 0);
    expect(wr2).toBe(5);
    expect(r.call('close', wr)).toBe(0);
    expect(r.call('write', wr2, r.str('via proc'), 8)).toBe(8);
    expect(r.call('read', rd, r.scratch + 1024, 100)).toBe(8);
    expect(dec.decode(r.read(r.scratch + 1024, 8))).toBe('via proc');
    // The reopened writer still holds the pipe: no EOF yet.
    expect(r.sys('read', rd, r.scratch + 1024, 1).kind).toBe('block');
    r.p.current.blockState = null;
    expect(r.call('close', wr2)).toBe(0);
    expect(r.call('read', rd, r.scratch + 1024, 1)).toBe(0);
    // The shared anon inode is root's, 0600: an ordinary user is refused before anything else.
    const ev = r.call('eventfd2', 0, 0);
    expect(r.call('openat', -100, r.str(`/proc/self/fd/${ev}`), 0, 0)).toBe(-13);
    const sv = r.scratch + 30000;
    expect(r.call('socketpair', 1, 1, 0, sv)).toBe(0);
    const s0 = new DataView(r.read(sv, 4).buffer).getInt32(0, true);
    expect(r.call('openat', -100, r.str(`/proc/self/fd/${s0}`), 2, 0)).toBe(-6);
    // /dev/stdout is the tool's stdout again.
    const out = r.call('openat', -100, r.str('/dev/stdout'), 1, 0);
    expect(r.call('write', out, r.str('hi\n'), 3)).toBe(3);
    expect(r.stdout.join('')).toBe('hi\n');
  });
});

describe('eventfd2', () => {
  it('adds on write, returns and clears the count on read; EFD_SEMAPHORE returns 1 at a time', () => {
    const r = makeRig();
    const fd = r.call('eventfd2', 5, O_NONBLOCK);
    const eight = (v: bigint): number => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, v, true);
      return r.bytes(b, 512);
    };
    expect(r.call('write', fd, eight(3n), 8)).toBe(8);
    expect(r.call('read', fd, r.scratch + OUT, 8)).toBe(8);
    expect(r.u64(r.scratch + OUT)).toBe(8n);
    expect(r.call('read', fd, r.scratch + OUT, 8)).toBe(-EAGAIN);
    expect(r.call('read', fd, r.scratch + OUT, 4)).toBe(-EINVAL);
    expect(r.call('write', fd, eight(0xffffffffffffffffn), 8)).toBe(-EINVAL);
    expect(r.call('write', fd, eight(0xfffffffffffffffen), 8)).toBe(8);
    expect(r.call('write', fd, eight(1n), 8)).toBe(-EAGAIN);
    const sem = r.call('eventfd2', 2, 1);
    expect(r.call('read', sem, r.scratch + OUT, 8)).toBe(8);
    expect(r.u64(r.scratch + OUT)).toBe(1n);
    expect(r.call('read', sem, r.scratch + OUT, 8)).toBe(8);
    // Now 0: a blocking read sleeps until a write.
    const t = r.p.current;
    const w = park(t, r.sys('read', sem, r.scratch + OUT, 8), 'read', [sem, r.scratch + OUT, 8]);
    expect(r.call('write', fd === sem ? fd : sem, eight(4n), 8)).toBe(8);
    expect(t.state).toBe('runnable');
    expect(rerun(r, w)).toEqual({ kind: 'return', value: 8 });
    expect(r.u64(r.scratch + OUT)).toBe(1n);
    expect(r.call('eventfd2', 0, 0x10)).toBe(-EINVAL);
  });
});

describe('socket, connect, getsockname, getpeername', () => {
  it('an AF_UNIX socket made alone: nothing listens (ENOENT, ECONNREFUSED), unnamed, no peer; no IP networking', () => {
    const r = makeRig();
    const fd = r.call('socket', 1, 1 | 0o2000000, 0);
    expect(fd).toBeGreaterThanOrEqual(3);
    const addr = (path: string): number => {
      const b = new Uint8Array(110);
      b[0] = 1;
      b.set(new TextEncoder().encode(path), 2);
      return r.bytes(b, 3072);
    };
    expect(r.call('connect', fd, addr('/var/run/nscd/socket'), 110)).toBe(-2);
    expect(r.call('connect', fd, addr('/tmp'), 110)).toBe(-111);
    expect(r.call('read', fd, r.scratch + 1024, 4)).toBe(-EINVAL);
    expect(r.call('write', fd, r.str('x'), 1)).toBe(-107);
    const len = r.bytes(new Uint8Array([16, 0, 0, 0]), 2048);
    expect(r.call('getsockname', fd, r.scratch + 1024, len)).toBe(0);
    expect([...r.read(r.scratch + 1024, 2), ...r.read(len, 4)]).toEqual([1, 0, 2, 0, 0, 0]);
    expect(r.call('getpeername', fd, r.scratch + 1024, len)).toBe(-107);
    expect(r.call('getpeername', 1, r.scratch + 1024, len)).toBe(-ENOTSOCK);
    expect(r.call('socket', 2, 1, 0)).toBe(-97);
    expect(r.call('socket', 10, 2, 0)).toBe(-97);
    // A connected pair has a peer, and refuses another connection.
    const [a] = [r.call('socketpair', 1, 1, 0, r.scratch + 4000)];
    expect(a).toBe(0);
    const s0 = new DataView(r.read(r.scratch + 4000, 4).buffer).getInt32(0, true);
    expect(r.call('getpeername', s0, r.scratch + 1024, len)).toBe(0);
    expect(r.call('connect', s0, addr('/tmp'), 110)).toBe(-106);
  });
});

describe('sendfile', () => {
  it('copies a regular file into a pipe from *offset (updated) or the file position, and refuses a pipe as input', () => {
    const r = makeRig();
    const fd = r.call('openat', -100, r.str('/tmp/sf'), 0o102, 0o600);
    expect(r.call('write', fd, r.str('0123456789'), 10)).toBe(10);
    const [rd, wr] = pipeFds(r);
    const off = r.bytes(new Uint8Array(8), 2048);
    r.mm.poke(off, new Uint8Array([3, 0, 0, 0, 0, 0, 0, 0]));
    expect(r.call('sendfile', wr, fd, off, 4)).toBe(4);
    expect(r.u64(off)).toBe(7n);
    expect(r.call('read', rd, r.scratch + 1024, 100)).toBe(4);
    expect(dec.decode(r.read(r.scratch + 1024, 4))).toBe('3456');
    // Without an offset: from the file's position (10, its end after the write), which moves.
    expect(r.call('lseek', fd, 8, 0)).toBe(8);
    expect(r.call('sendfile', wr, fd, 0, 100)).toBe(2);
    expect(r.call('lseek', fd, 0, 1)).toBe(10);
    expect(r.call('sendfile', wr, fd, 0, 100)).toBe(0);
    expect(r.call('sendfile', fd, rd, 0, 1)).toBe(-EINVAL);
    expect(r.call('sendfile', wr, 99, 0, 1)).toBe(-EBADF);
  });
});

describe('socketpair(AF_UNIX)', () => {
  function pair(r: Rig, type: number): [number, number] {
    expect(r.call('socketpair', 1, type, 0, r.scratch + OUT)).toBe(0);
    const v = new DataView(r.read(r.scratch + OUT, 8).buffer);
    return [v.getInt32(0, true), v.getInt32(4, true)];
  }

  it('SOCK_STREAM moves bytes both ways; shutdown(SHUT_WR) gives the peer EOF and the writer EPIPE', () => {
    const r = makeRig();
    const [a, b] = pair(r, 1);
    expect(r.call('write', a, r.str('hello'), 5)).toBe(5);
    expect(r.call('write', a, r.str(' world'), 6)).toBe(6);
    expect(r.call('read', b, r.scratch + 1024, 100)).toBe(11);
    expect(dec.decode(r.read(r.scratch + 1024, 11))).toBe('hello world');
    expect(r.call('sendto', b, r.str('back'), 4, 0, 0, 0)).toBe(4);
    expect(r.call('recvfrom', a, r.scratch + 1024, 2, 0, 0, 0)).toBe(2);
    expect(r.call('recvfrom', a, r.scratch + 1024, 10, 2 /* MSG_PEEK */, 0, 0)).toBe(2);
    expect(r.call('recvfrom', a, r.scratch + 1024, 10, 0, 0, 0)).toBe(2);
    expect(dec.decode(r.read(r.scratch + 1024, 2))).toBe('ck');
    expect(r.call('shutdown', a, 1)).toBe(0);
    expect(r.call('read', b, r.scratch + 1024, 10)).toBe(0);
    expect(r.call('sendto', a, r.str('x'), 1, 0x4000 /* MSG_NOSIGNAL */, 0, 0)).toBe(-EPIPE);
    expect(r.call('write', a, r.str('x'), 1)).toBe(-EPIPE);
    expect(r.p.current.pending.set & sigBit(SIGPIPE)).toBe(sigBit(SIGPIPE));
    expect(r.call('shutdown', 0, 1)).toBe(-ENOTSOCK);
    expect(r.call('socketpair', 2, 1, 0, r.scratch + OUT)).toBe(-95);
    expect(r.call('socketpair', 1, 4, 0, r.scratch + OUT)).toBe(-94);
  });

  it('SOCK_DGRAM keeps boundaries; a short read truncates and recvmsg says MSG_TRUNC', () => {
    const r = makeRig();
    const [a, b] = pair(r, 2 | O_NONBLOCK);
    expect(r.call('write', a, r.str('one two three'), 13)).toBe(13);
    expect(r.call('write', a, r.str('four'), 4)).toBe(4);
    // read() of 0 bytes takes nothing off the queue.
    expect(r.call('read', b, r.scratch + 1024, 0)).toBe(0);
    // recvmsg with one iovec of 3 bytes.
    const iov = r.scratch + 4096;
    const msg = r.scratch + 4200;
    const dv = new DataView(new ArrayBuffer(56));
    r.bytes(new Uint8Array(new BigUint64Array([BigInt(r.scratch + 1024), 3n]).buffer), 4096);
    dv.setBigUint64(16, BigInt(iov), true);
    dv.setBigUint64(24, 1n, true);
    r.bytes(new Uint8Array(dv.buffer), 4200);
    expect(r.call('recvmsg', b, msg, 0)).toBe(3);
    expect(dec.decode(r.read(r.scratch + 1024, 3))).toBe('one');
    expect(new DataView(r.read(msg + 48, 4).buffer).getInt32(0, true)).toBe(0x20);
    expect(r.call('recvfrom', b, r.scratch + 1024, 2, 0x20, 0, 0)).toBe(4);
    expect(r.call('read', b, r.scratch + 1024, 10)).toBe(-EAGAIN);
    expect(r.call('write', a, r.scratch, 212992)).toBe(-EMSGSIZE);
  });

  it('SOCK_SEQPACKET: a closed peer reads as EOF; a message socket with a sleeping reader wakes on close', () => {
    const r = makeRig();
    const [a, b] = pair(r, 5);
    const t = r.p.current;
    const w = park(t, r.sys('read', b, r.scratch + 1024, 10), 'read', [b, r.scratch + 1024, 10]);
    expect(r.call('close', a)).toBe(0);
    expect(t.state).toBe('runnable');
    expect(rerun(r, w)).toEqual({ kind: 'return', value: 0 });
  });
});

describe('ppoll and pselect6', () => {
  function pollfds(r: Rig, list: [number, number][]): number {
    const b = new Uint8Array(list.length * 8);
    const v = new DataView(b.buffer);
    list.forEach(([fd, ev], i) => {
      v.setInt32(i * 8, fd, true);
      v.setUint16(i * 8 + 4, ev, true);
    });
    return r.bytes(b, 6000);
  }
  const revents = (r: Rig, i: number): number => new DataView(r.read(r.scratch + 6000 + i * 8 + 6, 2).buffer).getUint16(0, true);
  const timespec = (r: Rig, ns: bigint): number => r.bytes(new Uint8Array(new BigUint64Array([ns / 1000000000n, ns % 1000000000n]).buffer), 7000);

  it('reports ready descriptors at once, POLLNVAL for a closed one, and 0 with a zero timeout', () => {
    const r = makeRig();
    const [rd, wr] = pipeFds(r);
    const fds = pollfds(r, [[rd, POLLIN], [wr, POLLOUT], [50, POLLIN], [-1, POLLIN]]);
    expect(r.call('ppoll', fds, 4, timespec(r, 0n), 0, 8)).toBe(2);
    expect([revents(r, 0), revents(r, 1), revents(r, 2), revents(r, 3)]).toEqual([0, POLLOUT, POLLNVAL, 0]);
    r.call('write', wr, r.str('z'), 1);
    pollfds(r, [[rd, POLLIN]]);
    expect(r.call('ppoll', r.scratch + 6000, 1, 0, 0, 8)).toBe(1);
    expect(revents(r, 0)).toBe(POLLIN | POLLRDNORM & POLLIN);
    expect(r.call('ppoll', r.scratch + 6000, 1, 0, r.scratch, 4)).toBe(-EINVAL);
  });

  it('sleeps on every polled file until one is ready or the virtual deadline passes; the sigmask is kept for the scheduler', () => {
    const r = makeRig();
    const [rd, wr] = pipeFds(r);
    const [rd2] = pipeFds(r);
    const fds = pollfds(r, [[rd, POLLIN], [rd2, POLLIN]]);
    const ts = timespec(r, 2_000_000_000n);
    const mask = r.bytes(new Uint8Array(new BigUint64Array([1n << 9n]).buffer), 8000);
    const t = r.p.current;
    const now = r.p.clock.peekMonotonicNs();
    const o = r.sys('ppoll', fds, 2, ts, mask, 8);
    expect(o.kind === 'block' && o.deadlineNs).toBe(now + 2_000_000_000n);
    expect(t.blockState).toEqual({ kind: 'poll', deadlineNs: now + 2_000_000_000n, sigmask: 1n << 9n });
    const w = park(t, o, 'ppoll', [fds, 2, ts, mask, 8]);
    expect(o.kind === 'block' && o.restartable).toBe(false);
    r.call('write', wr, r.str('q'), 1);
    expect(t.state).toBe('runnable');
    expect(rerun(r, w)).toEqual({ kind: 'return', value: 1 });
    expect(revents(r, 0)).toBe(POLLIN);
    // Again with nothing ready: the deadline passes.
    r.call('read', rd, r.scratch + 1024, 10);
    const w2 = park(t, r.sys('ppoll', fds, 2, ts, 0, 8), 'ppoll', [fds, 2, ts, 0, 8]);
    t.wake('timeout');
    expect(rerun(r, w2)).toEqual({ kind: 'return', value: 0 });
    expect(r.read(ts, 16)).toEqual(new Uint8Array(16));
  });

  it('pselect6 fills the fd sets of ready descriptors and refuses a closed one', () => {
    const r = makeRig();
    const [rd, wr] = pipeFds(r);
    const set = (fds: number[]): Uint8Array => {
      const b = new Uint8Array(8);
      for (const fd of fds) b[fd >> 3]! |= 1 << (fd & 7);
      return b;
    };
    const inp = r.bytes(set([rd]), 9000);
    const outp = r.bytes(set([wr]), 9100);
    expect(r.call('pselect6', 8, inp, outp, 0, timespec(r, 0n), 0)).toBe(1);
    expect(r.read(inp, 8)).toEqual(new Uint8Array(8));
    expect(r.read(outp, 8)).toEqual(set([wr]));
    r.bytes(set([rd, 40]), 9000);
    expect(r.call('pselect6', 41, inp, 0, 0, timespec(r, 0n), 0)).toBe(-EBADF);
    expect(r.call('pselect6', -1, 0, 0, 0, 0, 0)).toBe(-EINVAL);
  });
});

describe('getdents64', () => {
  it('lists ., .., then the entries with inode numbers, offsets and types, across calls', () => {
    const r = makeRig();
    const fd = r.call('openat', -100, r.str('/dev'), 0o200000, 0);
    expect(fd).toBeGreaterThanOrEqual(3);
    const names: string[] = [];
    const types: number[] = [];
    for (;;) {
      const n = r.call('getdents64', fd, r.scratch + 8192, 64);
      if (n === 0) break;
      expect(n).toBeGreaterThan(0);
      const buf = r.read(r.scratch + 8192, n);
      const v = new DataView(buf.buffer);
      for (let off = 0; off < n; ) {
        const reclen = v.getUint16(off + 16, true);
        expect(reclen % 8).toBe(0);
        types.push(buf[off + 18]!);
        const end = buf.indexOf(0, off + 19);
        names.push(dec.decode(buf.subarray(off + 19, end)));
        off += reclen;
      }
    }
    expect(names).toEqual(['.', '..', 'null', 'zero', 'random', 'urandom', 'fd', 'stdin', 'stdout', 'stderr']);
    expect(types).toEqual([4, 4, 2, 2, 2, 2, 10, 10, 10, 10]);
    expect(r.call('getdents64', fd, r.scratch + 8192, 8)).toBe(0);
    expect(r.call('lseek', fd, 0, 0)).toBe(0);
    expect(r.call('getdents64', fd, r.scratch + 8192, 8)).toBe(-EINVAL);
    expect(r.call('getdents64', 1, r.scratch + 8192, 64)).toBe(-20);
  });
});

it('an OpenFile released by its last put releases its pipe end once', () => {
  const pipe = new Pipe(7);
  pipe.readers = 1;
  pipe.writers = 1;
  const f = new OpenFile({ kind: 'fifo' } as never, O_RDONLY, null, { linkName: 'x', read: () => ({ kind: 'ok', bytes: new Uint8Array(0) }), write: () => ({ kind: 'ok', written: 0 }), poll: () => ({ mask: 0, on: [] }), release: () => pipe.release(true, false) });
  f.get();
  f.get();
  f.put();
  expect(pipe.readers).toBe(1);
  f.put();
  expect(pipe.readers).toBe(0);
  expect(() => f.put()).toThrow(/put more often/);
});
