import { describe, expect, it } from 'vitest';
import { EAGAIN, EINTR, EINVAL, EPERM, ESRCH } from '../../src/util/errno.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE } from '../../src/mm/vma.js';
import type { LinuxProcess } from '../../src/linux/process.js';
import { RLIMIT_CORE } from '../../src/linux/rlimit.js';
import {
  CLD_CONTINUED, CLD_EXITED, CLD_KILLED, CLD_STOPPED, SI_KERNEL, SI_QUEUE, SI_TKILL, SI_USER, encodeSigInfo, type SigInfo,
} from '../../src/linux/siginfo.js';
import {
  deliverSignals, ERESTARTNOHAND, ERESTARTSYS, ERESTART_RESTARTBLOCK, getSignal, interruptedReturn, signalPending,
} from '../../src/linux/sigdeliver.js';
import {
  execSignals, exitSignals, expireTimers, forceFault, forceSigFault, initForkSignals, initThreadSignals, killSomething,
  notifyParentExit, restoreSavedSigmaskUnless, sendToProcess, setBlocked, setUserSigmask, startGroupExitCode, tgkill, tkill,
  type SignalHost,
} from '../../src/linux/sigsend.js';
import {
  SA_NOCLDSTOP, SA_NODEFER, SA_RESETHAND, SA_RESTART, SA_RESTORER, SA_SIGINFO, SIGALRM, SIGCHLD, SIGCONT, SIGINT, SIGKILL,
  SIGQUIT, SIGRTMIN, SIGSEGV, SIGSTOP, SIGTERM, SIGTSTP, SIGUSR1, SIGUSR2, SIG_DFL, SIG_IGN, fatalFault, sigBit, waitStatusOf, type SigAction,
} from '../../src/linux/signals.js';
import { emptyRegisterFile, Task, type RegisterFile } from '../../src/linux/task.js';
import { WaitQueue } from '../../src/linux/wait.js';
import { makeRig, OUT, type Rig } from './harness.js';

const STACK = 0x20000000;

/** A process with a mapped stack and `threads` threads (the leader first). */
function proc(pid: number, opts: { threads?: number; uid?: number; ppid?: number } = {}): Rig {
  const rig = makeRig({ ids: { pid, ppid: opts.ppid ?? 1, uid: opts.uid ?? 1000 } });
  rig.mm.mmap({ addr: STACK, len: 0x10000, prot: 3, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, file: null, pgoff: 0 });
  for (let i = 1; i < (opts.threads ?? 1); i++) rig.p.threads.push(new Task(pid + i, rig.p));
  return rig;
}

interface TestHost extends SignalHost {
  log: string[];
}

/** A machine of a few processes: parent links, one process group per pgid given. */
function host(procs: LinuxProcess[], links: { parent?: Map<LinuxProcess, LinuxProcess>; pgid?: Map<LinuxProcess, number> } = {}): TestHost {
  const log: string[] = [];
  const h: TestHost = {
    log,
    findProcess: (pid) => procs.find((p) => p.pid === pid) ?? null,
    findThread: (tid) => procs.flatMap((p) => p.threads).find((t) => t.tid === tid) ?? null,
    processGroup: (pgid) => procs.filter((p) => (links.pgid?.get(p) ?? p.pid) === pgid),
    allProcesses: () => procs,
    pgidOf: (p) => links.pgid?.get(p) ?? p.pid,
    sidOf: () => 1,
    parentOf: (p) => links.parent?.get(p) ?? null,
    isOrphanedProcessGroup: () => false,
    resumeStopped: (t) => {
      log.push(`resume ${t.tid}`);
      t.state = 'runnable';
    },
    jobControlChanged: (p, c) => log.push(`${p.pid} ${c.kind}${c.kind === 'stopped' ? ` ${c.sig}` : ''}`),
  };
  for (const p of procs) p.signalHost = h;
  return h;
}

const handler = (flags: bigint, mask = 0n): SigAction => ({ handler: 0x401000n, flags: flags | SA_RESTORER, restorer: 0x402000n, mask });

function regsAt(pc: bigint, x0: bigint): RegisterFile {
  const r = emptyRegisterFile();
  r.sp = BigInt(STACK + 0x8000);
  r.pc = pc;
  r.x[0] = x0;
  r.x[8] = 63n;
  return r;
}

/** The siginfo the handler would read: the bytes of the frame's siginfo. */
function frameInfo(rig: Rig, regs: RegisterFile): Uint8Array {
  return rig.read(Number(regs.x[1]!), 128);
}

function sleepIn(t: Task, q: WaitQueue): void {
  t.state = 'blocked';
  t.blockedIn = { nr: 63, args: [], pc: 0x400104, on: [q], restartable: true };
  q.add(t);
}

describe('sending: which thread takes a process-directed signal', () => {
  it('the leader if it does not block it, else the first thread that does not', () => {
    const a = proc(100, { threads: 3 });
    host([a.p]);
    const [t0, t1, t2] = a.p.threads as [Task, Task, Task];
    // With a handler: a default-fatal signal would kill the group at once instead.
    a.p.signals.sighand.setAction(SIGUSR1, handler(0n));
    setBlocked(t0, sigBit(SIGUSR1));
    setBlocked(t1, sigBit(SIGUSR1));
    expect(sendToProcess(a.p, SIGUSR1, { kind: 'kernel', signo: SIGUSR1 })).toBe(0);
    expect([t0.sigpending, t1.sigpending, t2.sigpending]).toEqual([false, false, true]);
    expect(a.p.signals.shared.set).toBe(sigBit(SIGUSR1));
    // A thread that blocks a shared pending signal hands it to a sibling that does not (retarget).
    setBlocked(t2, sigBit(SIGUSR1));
    t2.sigpending = false;
    setBlocked(t1, 0n);
    expect(t1.sigpending).toBe(true);
  });

  it('a signal for a sleeping thread wakes it; one it blocks stays pending without a wake-up', () => {
    const a = proc(100);
    host([a.p]);
    const t = a.p.current;
    const q = new WaitQueue('pipe');
    sleepIn(t, q);
    setBlocked(t, sigBit(SIGUSR2));
    a.p.signals.sighand.setAction(SIGUSR1, handler(0n));
    a.p.signals.sighand.setAction(SIGUSR2, handler(0n));
    sendToProcess(a.p, SIGUSR2, { kind: 'kernel', signo: SIGUSR2 });
    expect([t.state, q.size]).toEqual(['blocked', 1]);
    sendToProcess(a.p, SIGUSR1, { kind: 'kernel', signo: SIGUSR1 });
    expect([t.state, t.wakeReason, q.size]).toEqual(['runnable', 'signal', 0]);
  });

  it('ignored signals vanish on arrival unless blocked; standard signals coalesce, real-time ones queue in order', () => {
    const a = proc(100);
    host([a.p]);
    const t = a.p.current;
    expect(sendToProcess(a.p, SIGCHLD, { kind: 'kernel', signo: SIGCHLD })).toBe(0);
    expect(a.p.signals.shared.set).toBe(0n);
    setBlocked(t, sigBit(SIGCHLD) | sigBit(SIGUSR1) | sigBit(SIGRTMIN));
    sendToProcess(a.p, SIGCHLD, { kind: 'kernel', signo: SIGCHLD });
    expect(a.p.signals.shared.set).toBe(sigBit(SIGCHLD));
    const q = (v: bigint): SigInfo => ({ kind: 'queue', signo: SIGRTMIN, code: SI_QUEUE, pid: 7, uid: 1000, value: v });
    for (const v of [1n, 2n, 3n]) sendToProcess(a.p, SIGRTMIN, q(v));
    for (const pid of [5, 6]) sendToProcess(a.p, SIGUSR1, { kind: 'kill', signo: SIGUSR1, code: SI_USER, pid, uid: 1000 });
    expect(a.p.signals.shared.queue.map((e) => [e.sig, e.info.kind === 'queue' ? e.info.value : e.info.kind === 'kill' ? e.info.pid : 0])).toEqual([
      [SIGCHLD, 0], [SIGRTMIN, 1n], [SIGRTMIN, 2n], [SIGRTMIN, 3n], [SIGUSR1, 5],
    ]);
    expect(a.p.signals.queued).toBe(5);
    a.p.signals.sighand.setAction(SIGRTMIN, handler(SA_SIGINFO));
    a.p.signals.sighand.setAction(SIGUSR1, handler(SA_SIGINFO));
    setBlocked(t, sigBit(SIGCHLD));
    const got: string[] = [];
    for (let i = 0; i < 5; i++) {
      const d = getSignal(t);
      if (d.kind === 'handler') got.push(`${d.sig}:${d.info.kind === 'queue' ? d.info.value : d.info.kind === 'kill' ? d.info.pid : ''}`);
      else got.push(d.kind);
    }
    // Lowest number first: SIGUSR1 (10) before SIGRTMIN (32), the queue in sending order.
    expect(got).toEqual(['10:5', '32:1', '32:2', '32:3', 'none']);
    expect(a.p.signals.queued).toBe(1);
  });

  it('a full RLIMIT_SIGPENDING: an rt signal from sigqueue fails with EAGAIN, one from kill() (SI_USER) still queues', () => {
    const a = proc(100);
    host([a.p]);
    setBlocked(a.p.current, sigBit(SIGRTMIN) | sigBit(SIGRTMIN + 1));
    a.p.limits.set(11, { cur: 1n, max: a.p.limits.get(11).max }, false);
    const q: SigInfo = { kind: 'queue', signo: SIGRTMIN, code: SI_QUEUE, pid: 7, uid: 1000, value: 1n };
    expect(sendToProcess(a.p, SIGRTMIN, q)).toBe(0);
    expect(sendToProcess(a.p, SIGRTMIN, q)).toBe(-EAGAIN);
    expect(sendToProcess(a.p, SIGRTMIN + 1, { kind: 'kill', signo: SIGRTMIN + 1, code: SI_USER, pid: 7, uid: 1000 })).toBe(0);
    expect(a.p.signals.shared.set).toBe(sigBit(SIGRTMIN) | sigBit(SIGRTMIN + 1));
    expect(a.p.signals.shared.queue.map((e) => e.sig)).toEqual([SIGRTMIN, SIGRTMIN + 1]);
  });

  it('a fatal signal kills the whole group at once: SIGKILL pending in every thread, sleepers woken', () => {
    const a = proc(100, { threads: 2 });
    host([a.p]);
    const [t0, t1] = a.p.threads as [Task, Task];
    sleepIn(t1, new WaitQueue());
    expect(sendToProcess(a.p, SIGTERM, { kind: 'kill', signo: SIGTERM, code: SI_USER, pid: 42, uid: 1000 })).toBe(0);
    expect(a.p.signals.groupExit).toEqual({ signal: SIGTERM, exitStatus: 143, message: 'guest killed by SIGTERM (sent by process 42 with kill) [exit status 143]' });
    expect([t0.pending.has(SIGKILL), t1.pending.has(SIGKILL), t1.state]).toEqual([true, true, 'runnable']);
    expect(deliverSignals(t1, regsAt(0x400104n, 0n), null)).toEqual({ kind: 'exit', end: a.p.signals.groupExit });
    // Nothing more is queued to a dying process.
    sendToProcess(a.p, SIGUSR1, { kind: 'kernel', signo: SIGUSR1 });
    expect(a.p.signals.shared.set).toBe(sigBit(SIGTERM));
  });
});

describe('get_signal: default actions', () => {
  it('core signals dump core only when RLIMIT_CORE allows a page: WCOREDUMP (0x80) in the wait status', () => {
    const a = proc(100);
    host([a.p]);
    sendToProcess(a.p, SIGQUIT, { kind: 'kill', signo: SIGQUIT, code: SI_USER, pid: 1, uid: 0 });
    const d = deliverSignals(a.p.current, regsAt(0x400104n, 0n), null);
    expect(d).toEqual({ kind: 'exit', end: { signal: SIGQUIT, exitStatus: 131, message: 'guest killed by SIGQUIT (sent by process 1 with kill) [exit status 131]' } });
    const b = proc(101);
    host([b.p]);
    b.p.limits.set(RLIMIT_CORE, { cur: 1n << 20n, max: b.p.limits.get(RLIMIT_CORE).max }, false);
    forceSigFault(b.p.current, SIGSEGV, 1, 0x10n, 0x92000006n, 'guest killed by SIGSEGV (a test fault) [exit status 139]');
    const e = deliverSignals(b.p.current, regsAt(0x400104n, 0n), null);
    expect(e.kind === 'exit' && [e.end.coreDumped, waitStatusOf(e.end), e.end.message]).toEqual([true, 0x8b, 'guest killed by SIGSEGV (a test fault) (core dumped) [exit status 139]']);
  });

  it('a fault signal the thread blocks or ignores is unblocked and reset, so it kills', () => {
    const a = proc(100);
    host([a.p]);
    const t = a.p.current;
    a.p.signals.sighand.setAction(SIGSEGV, { handler: SIG_IGN, flags: 0n, restorer: 0n, mask: 0n });
    setBlocked(t, sigBit(SIGSEGV));
    forceSigFault(t, SIGSEGV, 1, 0n, 0n);
    expect(t.blocked).toBe(0n);
    expect(a.p.signals.action(SIGSEGV).handler).toBe(SIG_DFL);
    expect(deliverSignals(t, regsAt(0n, 0n), null).kind).toBe('exit');
  });

  it('a fault with a handler runs it with the fault in siginfo and the frame', () => {
    const a = proc(100);
    host([a.p]);
    const t = a.p.current;
    a.p.signals.sighand.setAction(SIGSEGV, handler(SA_SIGINFO));
    forceSigFault(t, SIGSEGV, 2, 0x7000n, 0x9200004fn);
    const d = deliverSignals(t, regsAt(0x400200n, 5n), null);
    if (d.kind !== 'run') throw new Error(d.kind);
    expect(d.regs.pc).toBe(0x401000n);
    expect(frameInfo(a, d.regs)).toEqual(encodeSigInfo({ kind: 'fault', signo: SIGSEGV, code: 2, addr: 0x7000n }));
    expect(a.u64(Number(d.regs.sp) + 304)).toBe(0x7000n);
    expect(t.blocked).toBe(sigBit(SIGSEGV));
  });

  it('the handler mask: sa_mask and the signal itself, not the signal with SA_NODEFER; SA_RESETHAND resets it', () => {
    const a = proc(100);
    host([a.p]);
    const t = a.p.current;
    a.p.signals.sighand.setAction(SIGUSR1, handler(SA_RESETHAND, sigBit(SIGUSR2) | sigBit(SIGKILL)));
    a.p.signals.sighand.setAction(SIGUSR2, handler(SA_NODEFER, sigBit(SIGINT)));
    tkill(t, 100, SIGUSR1);
    const d = deliverSignals(t, regsAt(0x400200n, 5n), null);
    expect(d.kind).toBe('run');
    expect(t.blocked).toBe(sigBit(SIGUSR1) | sigBit(SIGUSR2));
    expect(a.p.signals.action(SIGUSR1)).toEqual({ handler: SIG_DFL, flags: SA_RESETHAND | SA_RESTORER, restorer: 0x402000n, mask: sigBit(SIGUSR2) });
    setBlocked(t, 0n);
    tkill(t, 100, SIGUSR2);
    deliverSignals(t, regsAt(0x400200n, 5n), null);
    expect(t.blocked).toBe(sigBit(SIGINT));
  });
});

describe('syscall restart', () => {
  const origX0 = 0x33n;
  const retOf = (e: number): bigint => BigInt.asUintN(64, BigInt(e));

  it('ERESTARTSYS with SA_RESTART: the handler returns to the svc with the original x0', () => {
    const a = proc(100);
    host([a.p]);
    const t = a.p.current;
    a.p.signals.sighand.setAction(SIGUSR1, handler(SA_RESTART | SA_SIGINFO));
    tkill(t, 100, SIGUSR1);
    const d = deliverSignals(t, regsAt(0x400104n, retOf(-ERESTARTSYS)), { origX0 });
    if (d.kind !== 'run') throw new Error(d.kind);
    // The frame holds the rewound registers.
    expect(a.u64(Number(d.regs.sp) + 312)).toBe(origX0);
    expect(a.u64(Number(d.regs.sp) + 568)).toBe(0x400100n);
  });

  it('ERESTARTSYS without SA_RESTART, and ERESTARTNOHAND: -EINTR after the svc', () => {
    for (const [code, flags] of [[ERESTARTSYS, 0n], [ERESTARTNOHAND, SA_RESTART], [ERESTART_RESTARTBLOCK, SA_RESTART]] as const) {
      const a = proc(100);
      host([a.p]);
      const t = a.p.current;
      a.p.signals.sighand.setAction(SIGUSR1, handler(flags));
      tkill(t, 100, SIGUSR1);
      const d = deliverSignals(t, regsAt(0x400104n, retOf(-code)), { origX0 });
      if (d.kind !== 'run') throw new Error(d.kind);
      expect([a.u64(Number(d.regs.sp) + 312), a.u64(Number(d.regs.sp) + 568)]).toEqual([retOf(-EINTR), 0x400104n]);
    }
  });

  it('no handler runs: the syscall restarts transparently; a restart block comes back as restart_syscall', () => {
    const a = proc(100);
    host([a.p]);
    const t = a.p.current;
    setBlocked(t, sigBit(SIGCHLD));
    sendToProcess(a.p, SIGCHLD, { kind: 'kernel', signo: SIGCHLD });
    setBlocked(t, 0n);
    const d = deliverSignals(t, regsAt(0x400104n, retOf(-ERESTARTNOHAND)), { origX0 });
    expect(d.kind === 'run' && [d.regs.pc, d.regs.x[0], d.regs.x[8]]).toEqual([0x400100n, origX0, 63n]);
    const e = deliverSignals(t, regsAt(0x400104n, retOf(-ERESTART_RESTARTBLOCK)), { origX0 });
    expect(e.kind === 'run' && [e.regs.pc, e.regs.x[0], e.regs.x[8]]).toEqual([0x400100n, origX0, 128n]);
    // An ordinary return value is left alone.
    const f = deliverSignals(t, regsAt(0x400104n, 5n), { origX0 });
    expect(f.kind === 'run' && [f.regs.pc, f.regs.x[0]]).toEqual([0x400104n, 5n]);
    expect(interruptedReturn(true)).toBe(-ERESTARTSYS);
    expect(interruptedReturn(false)).toBe(-ERESTARTNOHAND);
  });

  it('restart_syscall runs the restart block, or fails with EINTR once a handler cancelled it', () => {
    const a = proc(100);
    host([a.p]);
    a.p.current.restartBlock = { name: 'nanosleep', run: () => 0 };
    expect(a.call('restart_syscall')).toBe(0);
    expect(a.call('restart_syscall')).toBe(-EINTR);
  });
});

describe('stop and continue', () => {
  it('SIGSTOP stops every thread, tells the parent (CLD_STOPPED); SIGCONT resumes them and reports CLD_CONTINUED', () => {
    const parent = proc(10);
    const child = proc(20, { threads: 2, ppid: 10 });
    const h = host([parent.p, child.p], { parent: new Map([[child.p, parent.p]]) });
    const [c0, c1] = child.p.threads as [Task, Task];
    expect(killSomething(parent.p.current, 20, SIGSTOP)).toBe(0);
    const regs = regsAt(0x400104n, BigInt.asUintN(64, BigInt(-ERESTARTSYS)));
    const d = deliverSignals(c0, regs, { origX0: 3n });
    expect(d.kind).toBe('stop');
    expect([c0.state, c1.jobctlStopPending, child.p.signals.stopped]).toEqual(['stopped', true, false]);
    expect(deliverSignals(c1, regsAt(0x400000n, 0n), null).kind).toBe('stop');
    expect(child.p.signals.stopped).toBe(true);
    expect(h.log).toEqual(['20 stopped 19']);
    const chld = getSignal(parent.p.current);
    expect(chld.kind).toBe('none'); // SIGCHLD is ignored by default, so it never queued
    parent.p.signals.sighand.setAction(SIGCHLD, handler(SA_SIGINFO));
    expect(killSomething(parent.p.current, 20, SIGCONT)).toBe(0);
    expect(h.log).toEqual(['20 stopped 19', 'resume 20', 'resume 21', '20 continued']);
    // The resumed thread finishes its interrupted delivery: the parent hears CLD_CONTINUED, the
    // syscall it slept in restarts (no handler ran).
    const r = deliverSignals(c0, d.kind === 'stop' ? d.regs : regs, null);
    expect(r.kind === 'run' && [r.regs.pc, r.regs.x[0]]).toEqual([0x400100n, 3n]);
    const p = getSignal(parent.p.current);
    expect(p.kind === 'handler' && p.info).toEqual({ kind: 'chld', signo: SIGCHLD, code: CLD_CONTINUED, pid: 20, uid: 1000, status: SIGCONT, utime: 0n, stime: 0n });
  });

  it('a parent with a SIGCHLD handler gets CLD_STOPPED; SA_NOCLDSTOP silences it; SIGKILL ends a stopped process', () => {
    const parent = proc(10);
    const child = proc(20, { ppid: 10 });
    host([parent.p, child.p], { parent: new Map([[child.p, parent.p]]) });
    parent.p.signals.sighand.setAction(SIGCHLD, handler(SA_SIGINFO));
    killSomething(parent.p.current, 20, SIGTSTP);
    expect(deliverSignals(child.p.current, regsAt(0n, 0n), null).kind).toBe('stop');
    const p = getSignal(parent.p.current);
    expect(p.kind === 'handler' && p.info).toEqual({ kind: 'chld', signo: SIGCHLD, code: CLD_STOPPED, pid: 20, uid: 1000, status: SIGTSTP, utime: 0n, stime: 0n });
    killSomething(parent.p.current, 20, SIGKILL);
    expect(child.p.current.state).toBe('runnable');
    expect(deliverSignals(child.p.current, regsAt(0n, 0n), null)).toMatchObject({ kind: 'exit', end: { signal: SIGKILL, exitStatus: 137 } });

    const quiet = proc(11);
    const kid = proc(21, { ppid: 11 });
    host([quiet.p, kid.p], { parent: new Map([[kid.p, quiet.p]]) });
    quiet.p.signals.sighand.setAction(SIGCHLD, handler(SA_SIGINFO | SA_NOCLDSTOP));
    killSomething(quiet.p.current, 21, SIGSTOP);
    deliverSignals(kid.p.current, regsAt(0n, 0n), null);
    expect(quiet.p.signals.shared.set).toBe(0n);
  });

  it('exit notifications: CLD_EXITED and CLD_KILLED siginfo; a parent ignoring SIGCHLD reaps at once', () => {
    const parent = proc(10);
    const child = proc(20, { ppid: 10 });
    host([parent.p, child.p]);
    parent.p.signals.sighand.setAction(SIGCHLD, handler(SA_SIGINFO));
    expect(notifyParentExit(child.p, parent.p, { code: 3 })).toBe(false);
    expect(parent.p.signals.shared.queue[0]!.info).toEqual({ kind: 'chld', signo: SIGCHLD, code: CLD_EXITED, pid: 20, uid: 1000, status: 3, utime: 0n, stime: 0n });
    getSignal(parent.p.current);
    notifyParentExit(child.p, parent.p, { signal: SIGTERM, exitStatus: 143, message: '' });
    expect(parent.p.signals.shared.queue[0]!.info).toMatchObject({ code: CLD_KILLED, status: SIGTERM });
    const b = encodeSigInfo(parent.p.signals.shared.queue[0]!.info);
    const dv = new DataView(b.buffer);
    expect([dv.getInt32(0, true), dv.getInt32(8, true), dv.getInt32(16, true), dv.getUint32(20, true), dv.getInt32(24, true), dv.getBigInt64(32, true)]).toEqual([17, 2, 20, 1000, 15, 0n]);
    parent.p.signals.sighand.setAction(SIGCHLD, { handler: SIG_IGN, flags: 0n, restorer: 0n, mask: 0n });
    expect(notifyParentExit(child.p, parent.p, { code: 0 })).toBe(true);
  });
});

describe('kill, tkill, tgkill, sigqueue', () => {
  it('targets: one process, the caller\'s group, every process, a group; permission by uid', () => {
    const a = proc(10);
    const b = proc(20);
    const c = proc(30, { uid: 2000 });
    const d = proc(40);
    host([a.p, b.p, c.p, d.p], { pgid: new Map([[a.p, 10], [b.p, 10], [c.p, 10], [d.p, 40]]) });
    for (const r of [a, b, c, d]) r.p.signals.sighand.setAction(SIGUSR1, handler(0n));
    expect(killSomething(a.p.current, 30, SIGUSR1)).toBe(-EPERM);
    expect(killSomething(a.p.current, 99, SIGUSR1)).toBe(-ESRCH);
    expect(killSomething(a.p.current, 20, 65)).toBe(-EINVAL);
    expect(killSomething(a.p.current, 0, SIGUSR1)).toBe(0); // a and b; c refuses
    expect([a, b, c, d].map((r) => r.p.signals.shared.has(SIGUSR1))).toEqual([true, true, false, false]);
    expect(killSomething(a.p.current, -40, SIGUSR1)).toBe(0);
    expect(d.p.signals.shared.has(SIGUSR1)).toBe(true);
    expect(killSomething(c.p.current, -10, SIGUSR1)).toBe(0); // only its own process is allowed
    expect(killSomething(c.p.current, -40, SIGUSR1)).toBe(-EPERM);
    // kill(-1) ignores EPERM from its targets (kill_something_info): 0 even if all refuse.
    expect(killSomething(c.p.current, -1, SIGUSR1)).toBe(0);
    expect(d.p.signals.shared.queue.filter((e) => e.sig === SIGUSR1).length).toBe(1);
    expect(killSomething(d.p.current, -77, SIGUSR1)).toBe(-ESRCH);
    const q = b.p.signals.shared.queue.find((e) => e.sig === SIGUSR1)!;
    expect(q.info).toEqual({ kind: 'kill', signo: SIGUSR1, code: SI_USER, pid: 10, uid: 1000 });
  });

  it('tgkill and tkill: thread-directed, SI_TKILL, the thread group checked', () => {
    const a = proc(10, { threads: 2 });
    host([a.p]);
    a.p.signals.sighand.setAction(SIGUSR1, handler(0n));
    const t1 = a.p.threads[1]!;
    expect(tgkill(a.p.current, 10, 11, SIGUSR1)).toBe(0);
    expect(t1.pending.queue[0]!.info).toEqual({ kind: 'kill', signo: SIGUSR1, code: SI_TKILL, pid: 10, uid: 1000 });
    expect(a.p.current.pending.set).toBe(0n);
    expect(tgkill(a.p.current, 12, 11, SIGUSR1)).toBe(-ESRCH);
    expect(tgkill(a.p.current, 0, 11, SIGUSR1)).toBe(-EINVAL);
    expect(tkill(a.p.current, 11, 99)).toBe(-EINVAL);
    expect(tkill(a.p.current, 13, SIGUSR1)).toBe(-ESRCH);
  });

  it('rt_sigqueueinfo and rt_tgsigqueueinfo: the guest\'s siginfo kept (48 bytes), impersonation refused', () => {
    const a = proc(1000);
    const b = proc(2000);
    host([a.p, b.p]);
    b.p.signals.sighand.setAction(SIGRTMIN, handler(SA_SIGINFO));
    const si = new DataView(new ArrayBuffer(128));
    si.setInt32(0, 99, true); // si_signo is replaced by the signal
    si.setInt32(8, SI_QUEUE, true);
    si.setInt32(16, 1000, true);
    si.setBigUint64(24, 0xabcdn, true);
    si.setInt32(100, 7, true); // beyond kernel_siginfo: dropped
    const va = a.bytes(new Uint8Array(si.buffer), 2048);
    expect(a.call('rt_sigqueueinfo', 2000, SIGRTMIN, va)).toBe(0);
    const entry = b.p.signals.shared.queue[0]!;
    const out = encodeSigInfo(entry.info);
    const dv = new DataView(out.buffer);
    expect([dv.getInt32(0, true), dv.getInt32(8, true), dv.getInt32(16, true), dv.getBigUint64(24, true), dv.getInt32(100, true)]).toEqual([SIGRTMIN, SI_QUEUE, 1000, 0xabcdn, 0]);
    si.setInt32(8, SI_USER, true);
    a.bytes(new Uint8Array(si.buffer), 2048);
    expect(a.call('rt_sigqueueinfo', 2000, SIGRTMIN, va)).toBe(-EPERM);
    expect(a.call('rt_tgsigqueueinfo', 2000, 2000, SIGRTMIN, va)).toBe(-EPERM);
    si.setInt32(8, SI_QUEUE, true);
    a.bytes(new Uint8Array(si.buffer), 2048);
    expect(a.call('rt_tgsigqueueinfo', 2000, 2000, SIGRTMIN, va)).toBe(0);
    expect(b.p.current.pending.has(SIGRTMIN)).toBe(true);
    expect(a.call('rt_tgsigqueueinfo', 0, 2000, SIGRTMIN, va)).toBe(-EINVAL);
  });

  it('kill to itself ends the process at once when the default action is fatal (glibc abort)', () => {
    const a = proc(1000);
    const r = a.sys('tgkill', 1000, 1000, 6);
    expect(r).toEqual({ kind: 'killed', end: { signal: 6, exitStatus: 134, message: 'guest killed by SIGABRT (sent by process 1000 with tkill/tgkill) [exit status 134]' } });
  });
});

describe('rt_sigsuspend and rt_sigtimedwait', () => {
  const sigset = (rig: Rig, v: bigint, off: number): number => {
    const d = new DataView(new ArrayBuffer(8));
    d.setBigUint64(0, v, true);
    return rig.bytes(new Uint8Array(d.buffer), off);
  };

  it('sigsuspend sleeps with its mask, returns ERESTARTNOHAND when woken; the handler sees the old mask in its frame and the guest -EINTR', () => {
    const a = proc(100);
    host([a.p]);
    const t = a.p.current;
    a.p.signals.sighand.setAction(SIGUSR1, handler(0n));
    setBlocked(t, sigBit(SIGUSR1) | sigBit(SIGUSR2));
    const mask = sigset(a, sigBit(SIGUSR2), 1024);
    const r = a.sys('rt_sigsuspend', mask, 8);
    expect(r).toEqual({ kind: 'block', on: [], onSignal: 'retry' });
    expect(t.blocked).toBe(sigBit(SIGUSR2));
    t.state = 'blocked';
    t.blockedIn = { nr: 133, args: [], pc: 0x400104, on: [], restartable: false };
    sendToProcess(a.p, SIGUSR2, { kind: 'kernel', signo: SIGUSR2 });
    expect(t.state).toBe('blocked');
    sendToProcess(a.p, SIGUSR1, { kind: 'kernel', signo: SIGUSR1 });
    expect([t.state, t.wakeReason]).toEqual(['runnable', 'signal']);
    expect(a.sys('rt_sigsuspend', mask, 8)).toEqual({ kind: 'return', value: -ERESTARTNOHAND });
    t.blockState = null;
    const d = deliverSignals(t, regsAt(0x400104n, BigInt.asUintN(64, BigInt(-ERESTARTNOHAND))), { origX0: BigInt(mask) });
    if (d.kind !== 'run') throw new Error(d.kind);
    expect(a.u64(Number(d.regs.sp) + 168)).toBe(sigBit(SIGUSR1) | sigBit(SIGUSR2));
    expect(a.u64(Number(d.regs.sp) + 312)).toBe(BigInt.asUintN(64, BigInt(-EINTR)));
    expect(t.blocked).toBe(sigBit(SIGUSR1) | sigBit(SIGUSR2));
    expect(t.savedSigmask).toBe(null);
  });

  it('sigtimedwait: a pending signal at once with its siginfo; EAGAIN on a zero timeout; sleep with the set unblocked, then take it', () => {
    const a = proc(100);
    host([a.p]);
    const t = a.p.current;
    setBlocked(t, sigBit(SIGUSR1) | sigBit(SIGRTMIN));
    const set = sigset(a, sigBit(SIGUSR1) | sigBit(SIGRTMIN), 1024);
    sendToProcess(a.p, SIGRTMIN, { kind: 'queue', signo: SIGRTMIN, code: SI_QUEUE, pid: 5, uid: 1000, value: 9n });
    expect(a.call('rt_sigtimedwait', set, a.scratch + OUT, 0, 8)).toBe(SIGRTMIN);
    expect(a.read(a.scratch + OUT, 128)).toEqual(encodeSigInfo({ kind: 'queue', signo: SIGRTMIN, code: SI_QUEUE, pid: 5, uid: 1000, value: 9n }));
    const zero = a.bytes(new Uint8Array(16), 1100);
    expect(a.call('rt_sigtimedwait', set, 0, zero, 8)).toBe(-EAGAIN);
    const ts = new DataView(new ArrayBuffer(16));
    ts.setBigInt64(0, 2n, true);
    const two = a.bytes(new Uint8Array(ts.buffer), 1200);
    const now = a.p.clock.peekMonotonicNs();
    expect(a.sys('rt_sigtimedwait', set, a.scratch + OUT, two, 8)).toEqual({ kind: 'block', on: [], deadlineNs: now + 2_000_000_000n, onSignal: 'retry' });
    expect([t.blocked, t.realBlocked]).toEqual([0n, sigBit(SIGUSR1) | sigBit(SIGRTMIN)]);
    t.state = 'blocked';
    t.blockedIn = { nr: 137, args: [], pc: 0x400104, on: [], restartable: false };
    // SIGUSR1 is blocked by the thread's real mask, but the sleep unblocked it: it wakes, and is not fatal.
    sendToProcess(a.p, SIGUSR1, { kind: 'kill', signo: SIGUSR1, code: SI_USER, pid: 8, uid: 1000 });
    expect([t.state, a.p.signals.groupExit]).toEqual(['runnable', null]);
    expect(a.call('rt_sigtimedwait', set, a.scratch + OUT, two, 8)).toBe(SIGUSR1);
    expect([t.blocked, t.realBlocked]).toEqual([sigBit(SIGUSR1) | sigBit(SIGRTMIN), 0n]);
    t.blockState = null;
    // A timeout.
    expect(a.sys('rt_sigtimedwait', set, 0, two, 8).kind).toBe('block');
    t.wakeReason = 'timeout';
    expect(a.call('rt_sigtimedwait', set, 0, two, 8)).toBe(-EAGAIN);
    const bad = new DataView(new ArrayBuffer(16));
    bad.setBigInt64(8, 1_000_000_000n, true);
    t.blockState = null;
    expect(a.call('rt_sigtimedwait', set, 0, a.bytes(new Uint8Array(bad.buffer), 1300), 8)).toBe(-EINVAL);
  });
});

describe('the signal syscalls', () => {
  it('rt_sigaction to SIG_IGN discards the pending instances; rt_sigpending reports blocked pending ones, private and shared', () => {
    const a = proc(100, { threads: 2 });
    host([a.p]);
    const t = a.p.current;
    setBlocked(t, sigBit(SIGUSR1) | sigBit(SIGUSR2));
    setBlocked(a.p.threads[1]!, sigBit(SIGUSR1) | sigBit(SIGUSR2));
    sendToProcess(a.p, SIGUSR1, { kind: 'kernel', signo: SIGUSR1 });
    tkill(t, 100, SIGUSR2);
    expect(a.call('rt_sigpending', a.scratch + OUT, 8)).toBe(0);
    expect(a.u64(a.scratch + OUT)).toBe(sigBit(SIGUSR1) | sigBit(SIGUSR2));
    const act = new DataView(new ArrayBuffer(32));
    act.setBigUint64(0, SIG_IGN, true);
    expect(a.call('rt_sigaction', SIGUSR1, a.bytes(new Uint8Array(act.buffer), 1024), 0, 8)).toBe(0);
    expect(a.call('rt_sigpending', a.scratch + OUT, 8)).toBe(0);
    expect(a.u64(a.scratch + OUT)).toBe(sigBit(SIGUSR2));
  });

  it('sigaltstack: EPERM while on the stack, the old setting with SS_ONSTACK, unchanged by an identical request', () => {
    const a = proc(100);
    host([a.p]);
    const t = a.p.current;
    const ss = new DataView(new ArrayBuffer(24));
    ss.setBigUint64(0, 0x20004000n, true);
    ss.setBigUint64(16, 0x4000n, true);
    const va = a.bytes(new Uint8Array(ss.buffer), 1024);
    t.regs = regsAt(0n, 0n);
    expect(a.call('sigaltstack', va, 0)).toBe(0);
    t.regs.sp = 0x20006000n;
    expect(a.call('sigaltstack', 0, a.scratch + OUT)).toBe(0);
    expect([a.u64(a.scratch + OUT), new DataView(a.read(a.scratch + OUT + 8, 4).buffer).getInt32(0, true), a.u64(a.scratch + OUT + 16)]).toEqual([0x20004000n, 1, 0x4000n]);
    expect(a.call('sigaltstack', va, 0)).toBe(-EPERM);
    t.regs.sp = 0x20009000n;
    ss.setInt32(8, 2, true);
    expect(a.call('sigaltstack', a.bytes(new Uint8Array(ss.buffer), 1024), a.scratch + OUT)).toBe(0);
    expect(t.altStack).toEqual({ sp: 0n, size: 0n, flags: 2 });
  });

  it('signalPending tells the machine when to call deliverSignals', () => {
    const a = proc(100);
    host([a.p]);
    const t = a.p.current;
    expect(signalPending(t)).toBe(false);
    a.p.signals.sighand.setAction(SIGINT, handler(0n));
    tkill(t, 100, SIGINT);
    expect(signalPending(t)).toBe(true);
    deliverSignals(t, regsAt(0n, 0n), null);
    expect(signalPending(t)).toBe(false);
  });
});

describe('timers in virtual time', () => {
  const itv = (rig: Rig, iv: [bigint, bigint], v: [bigint, bigint], off: number): number => {
    const d = new DataView(new ArrayBuffer(32));
    d.setBigInt64(0, iv[0], true);
    d.setBigInt64(8, iv[1], true);
    d.setBigInt64(16, v[0], true);
    d.setBigInt64(24, v[1], true);
    return rig.bytes(new Uint8Array(d.buffer), off);
  };
  const four = (rig: Rig, va: number): bigint[] => [0, 8, 16, 24].map((o) => rig.u64(va + o));

  it('setitimer(ITIMER_REAL): SIGALRM with SI_KERNEL at the deadline; a periodic one re-arms when SIGALRM is taken', () => {
    const a = proc(100);
    host([a.p]);
    const t = a.p.current;
    // A handler first: SIGALRM's default action would kill the process when it fires.
    a.p.signals.sighand.setAction(SIGALRM, handler(SA_SIGINFO));
    const now = a.p.clock.peekMonotonicNs();
    expect(a.call('setitimer', 0, itv(a, [0n, 500_000n], [1n, 0n], 1024), a.scratch + OUT)).toBe(0);
    expect(four(a, a.scratch + OUT)).toEqual([0n, 0n, 0n, 0n]);
    expect(a.p.signals.timers.nextDeadline()).toBe(now + 1_000_000_000n);
    a.p.clock.advance(250_000_000n);
    expect(a.call('getitimer', 0, a.scratch + OUT)).toBe(0);
    expect(four(a, a.scratch + OUT)).toEqual([0n, 500_000n, 0n, 750_000n]);
    a.p.clock.advance(750_000_000n);
    const fired = expireTimers(a.p, a.p.clock.peekMonotonicNs());
    expect(fired).toEqual([{ kind: 'itimer', which: 0, sig: SIGALRM }]);
    // Fired and not yet taken: not armed (getitimer says 0), no next deadline.
    expect(a.p.signals.timers.nextDeadline()).toBe(null);
    expect(a.p.signals.shared.queue[0]!.info).toEqual({ kind: 'kernel', signo: SIGALRM });
    a.p.clock.advance(100_000_000n);
    const d = deliverSignals(t, regsAt(0n, 0n), null);
    if (d.kind !== 'run') throw new Error(d.kind);
    const b = frameInfo(a, d.regs);
    expect(new DataView(b.buffer).getInt32(8, true)).toBe(SI_KERNEL);
    expect(a.p.signals.timers.nextDeadline()).toBe(now + 1_500_000_000n);
    // alarm(0) as glibc does it: setitimer with zeros.
    expect(a.call('setitimer', 0, itv(a, [0n, 0n], [0n, 0n], 1024), a.scratch + OUT)).toBe(0);
    expect(four(a, a.scratch + OUT)).toEqual([0n, 500_000n, 0n, 400_000n]);
    expect(a.p.signals.timers.nextDeadline()).toBe(null);
    expect(a.call('setitimer', 3, 0, 0)).toBe(-EINVAL);
    expect(a.call('setitimer', 0, itv(a, [0n, 0n], [0n, 1_000_000n], 1024), 0)).toBe(-EINVAL);
  });

  it('ITIMER_VIRTUAL and ITIMER_PROF run on the same clock and re-arm at expiry', () => {
    const a = proc(100);
    host([a.p]);
    a.p.signals.sighand.setAction(SIGALRM, handler(0n));
    const now = a.p.clock.peekMonotonicNs();
    expect(a.call('setitimer', 2, itv(a, [0n, 10_000n], [0n, 10_000n], 1024), 0)).toBe(0);
    const fired = expireTimers(a.p, now + 25_000_000n);
    expect(fired).toEqual([{ kind: 'itimer', which: 2, sig: 27 }]);
    expect(a.p.signals.timers.nextDeadline()).toBe(now + 30_000_000n);
  });

  it('timer_create/settime: SI_TIMER with the timer id and sigev_value; overruns while the signal waits; getoverrun', () => {
    const a = proc(100);
    host([a.p]);
    const t = a.p.current;
    a.p.signals.sighand.setAction(SIGRTMIN, handler(SA_SIGINFO));
    const ev = new DataView(new ArrayBuffer(64));
    ev.setBigUint64(0, 0x5151n, true);
    ev.setInt32(8, SIGRTMIN, true);
    ev.setInt32(12, 0, true); // SIGEV_SIGNAL
    const evVa = a.bytes(new Uint8Array(ev.buffer), 1024);
    expect(a.call('timer_create', 1, evVa, a.scratch + OUT)).toBe(0);
    expect(a.call('timer_create', 1, 0, a.scratch + OUT + 4)).toBe(0);
    const ids = new Int32Array(a.read(a.scratch + OUT, 8).buffer);
    expect([...ids]).toEqual([0, 1]);
    const now = a.p.clock.peekMonotonicNs();
    expect(a.call('timer_settime', 0, 0, itv(a, [0n, 1_000_000n], [0n, 1_000_000n], 2048), 0)).toBe(0);
    setBlocked(t, sigBit(SIGRTMIN));
    expireTimers(a.p, now + 1_000_000n);
    expireTimers(a.p, now + 2_000_000n);
    expireTimers(a.p, now + 4_500_000n); // three more periods
    expect(a.p.signals.shared.queue.length).toBe(1);
    expect(a.p.signals.timers.nextDeadline()).toBe(now + 5_000_000n);
    setBlocked(t, 0n);
    const d = deliverSignals(t, regsAt(0n, 0n), null);
    if (d.kind !== 'run') throw new Error(d.kind);
    expect(frameInfo(a, d.regs)).toEqual(encodeSigInfo({ kind: 'timer', signo: SIGRTMIN, timerId: 0, overrun: 3, value: 0x5151n }));
    expect(a.call('timer_getoverrun', 0)).toBe(3);
    a.p.clock.advance(1_200_000n);
    expect(a.call('timer_gettime', 0, a.scratch + OUT)).toBe(0);
    expect(four(a, a.scratch + OUT)).toEqual([0n, 1_000_000n, 0n, 3_800_000n]);
    // The default sigevent: SIGALRM with the id as value.
    expect(a.call('timer_settime', 1, 0, itv(a, [0n, 0n], [0n, 10n], 2048), 0)).toBe(0);
    expireTimers(a.p, a.p.clock.peekMonotonicNs() + 10n);
    expect(a.p.signals.shared.queue.find((q) => q.sig === SIGALRM)!.info).toEqual({ kind: 'timer', signo: SIGALRM, timerId: 1, overrun: 0, value: 1n });
    expect(a.call('timer_delete', 1)).toBe(0);
    expect(a.call('timer_delete', 1)).toBe(-EINVAL);
    expect(a.call('timer_gettime', 7, a.scratch + OUT)).toBe(-EINVAL);
    // Ids go on from where they were, not back to the freed one.
    expect(a.call('timer_create', 1, 0, a.scratch + OUT)).toBe(0);
    expect(new Int32Array(a.read(a.scratch + OUT, 4).buffer)[0]).toBe(2);
  });

  it('SIGEV_THREAD_ID signals its thread; SIGEV_NONE never signals but counts down; bad sigevents and clocks', () => {
    const a = proc(100, { threads: 2 });
    host([a.p]);
    a.p.signals.sighand.setAction(SIGUSR1, handler(0n));
    const ev = new DataView(new ArrayBuffer(64));
    ev.setInt32(8, SIGUSR1, true);
    ev.setInt32(12, 4, true);
    ev.setInt32(16, 101, true);
    expect(a.call('timer_create', 0, a.bytes(new Uint8Array(ev.buffer), 1024), a.scratch + OUT)).toBe(0);
    const now = a.p.clock.peekMonotonicNs();
    // TIMER_ABSTIME on CLOCK_REALTIME.
    const abs = a.p.clock.peekRealtimeNs() + 3000n;
    expect(a.call('timer_settime', 0, 1, itv(a, [0n, 0n], [abs / 1_000_000_000n, abs % 1_000_000_000n], 2048), 0)).toBe(0);
    expect(a.p.signals.timers.nextDeadline()).toBe(now + 3000n);
    expireTimers(a.p, now + 3000n);
    expect(a.p.threads[1]!.pending.has(SIGUSR1)).toBe(true);
    expect(a.p.signals.shared.set).toBe(0n);

    ev.setInt32(12, 1, true); // SIGEV_NONE
    expect(a.call('timer_create', 1, a.bytes(new Uint8Array(ev.buffer), 1024), a.scratch + OUT)).toBe(0);
    expect(a.call('timer_settime', 1, 0, itv(a, [0n, 0n], [0n, 5000n], 2048), 0)).toBe(0);
    expect(a.p.signals.timers.nextDeadline()).toBe(null);
    a.p.clock.advance(2000n);
    expect(a.call('timer_gettime', 1, a.scratch + OUT)).toBe(0);
    expect(a.u64(a.scratch + OUT + 24)).toBe(3000n - (a.p.clock.peekMonotonicNs() - now - 2000n));
    ev.setInt32(12, 9, true);
    expect(a.call('timer_create', 1, a.bytes(new Uint8Array(ev.buffer), 1024), a.scratch + OUT)).toBe(-EINVAL);
    ev.setInt32(12, 4, true);
    ev.setInt32(16, 555, true);
    expect(a.call('timer_create', 1, a.bytes(new Uint8Array(ev.buffer), 1024), a.scratch + OUT)).toBe(-EINVAL);
    expect(a.call('timer_create', 4, 0, a.scratch + OUT)).toBe(-95);
    expect(a.call('timer_create', 8, 0, a.scratch + OUT)).toBe(-EPERM);
    expect(a.call('timer_create', 12, 0, a.scratch + OUT)).toBe(-EINVAL);
  });
});



describe('siginfo and the life cycle of signal state', () => {
  const fields = (info: SigInfo): number[] => {
    const dv = new DataView(encodeSigInfo(info).buffer);
    return [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44].map((o) => dv.getInt32(o, true));
  };

  it('encodes each kind at the uapi offsets', () => {
    expect(fields({ kind: 'kill', signo: 10, code: SI_TKILL, pid: 77, uid: 1000 })).toEqual([10, 0, -6, 0, 77, 1000, 0, 0, 0, 0, 0, 0]);
    expect(fields({ kind: 'kernel', signo: 14 })).toEqual([14, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(fields({ kind: 'fault', signo: 7, code: 1, addr: 0x1_0000_0003n })).toEqual([7, 0, 1, 0, 3, 1, 0, 0, 0, 0, 0, 0]);
    expect(fields({ kind: 'timer', signo: 34, timerId: 5, overrun: 2, value: 0x9_0000_0008n })).toEqual([34, 0, -2, 0, 5, 2, 8, 9, 0, 0, 0, 0]);
    expect(fields({ kind: 'queue', signo: 34, code: SI_QUEUE, pid: 3, uid: 4, value: 6n })).toEqual([34, 0, -1, 0, 3, 4, 6, 0, 0, 0, 0, 0]);
    expect(fields({ kind: 'chld', signo: 17, code: CLD_STOPPED, pid: 9, uid: 1000, status: 19, utime: 1n, stime: 2n })).toEqual([17, 0, 5, 0, 9, 1000, 19, 0, 1, 0, 2, 0]);
  });

  it('a machine fault forced on a thread ends the process with the message the machine printed before', () => {
    const a = proc(100);
    host([a.p]);
    const f = { signal: 'SIGBUS', code: 'BUS_ADRALN', addr: 0x1001, access: 'read', pc: 0x400800 } as const;
    forceFault(a.p.current, f, 0x92000021n);
    expect(a.p.current.faultCode).toBe(0x92000021n);
    expect(deliverSignals(a.p.current, regsAt(0x400800n, 0n), null)).toEqual({ kind: 'exit', end: fatalFault(f) });
  });

  it('fork copies handlers and mask, nothing pending; CLONE_SIGHAND shares the table; threads start without an alternate stack', () => {
    const parent = proc(10);
    const child = proc(20);
    const sibling = proc(30);
    host([parent.p, child.p, sibling.p]);
    const pt = parent.p.current;
    parent.p.signals.sighand.setAction(SIGUSR1, handler(SA_SIGINFO));
    setBlocked(pt, sigBit(SIGUSR2));
    pt.altStack = { sp: 0x5000n, size: 0x4000n, flags: 0 };
    tkill(pt, 10, SIGUSR2);
    initForkSignals(pt, child.p, { shareSighand: false, shareVm: false, vfork: false });
    expect([child.p.current.blocked, child.p.current.pending.set, child.p.current.altStack.sp]).toEqual([sigBit(SIGUSR2), 0n, 0x5000n]);
    expect(child.p.signals.action(SIGUSR1).handler).toBe(0x401000n);
    parent.p.signals.sighand.setAction(SIGUSR1, handler(0n, 1n));
    expect(child.p.signals.action(SIGUSR1).mask).toBe(0n);
    initForkSignals(pt, sibling.p, { shareSighand: true, shareVm: true, vfork: false });
    expect(sibling.p.signals.sighand).toBe(parent.p.signals.sighand);
    expect(sibling.p.current.altStack.size).toBe(0n);
    const thread = new Task(11, parent.p);
    parent.p.threads.push(thread);
    initThreadSignals(pt, thread);
    expect([thread.blocked, thread.altStack.flags, thread.pending.set]).toEqual([sigBit(SIGUSR2), 2, 0n]);
  });

  it('exec resets caught signals (not ignored ones), deletes POSIX timers, keeps itimers, the mask and pending signals', () => {
    const a = proc(100);
    host([a.p]);
    const t = a.p.current;
    a.p.signals.sighand.setAction(SIGUSR1, handler(SA_SIGINFO));
    a.p.signals.sighand.setAction(SIGUSR2, { handler: SIG_IGN, flags: SA_RESTART, restorer: 0n, mask: 5n });
    expect(a.call('timer_create', 1, 0, a.scratch + OUT)).toBe(0);
    expect(a.call('setitimer', 0, a.bytes(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 1024), 0)).toBe(0);
    setBlocked(t, sigBit(SIGINT));
    tkill(t, 100, SIGINT);
    execSignals(t);
    expect(a.p.signals.action(SIGUSR1).handler).toBe(SIG_DFL);
    expect(a.p.signals.action(SIGUSR2)).toEqual({ handler: SIG_IGN, flags: 0n, restorer: 0n, mask: 0n });
    expect(a.call('timer_gettime', 0, a.scratch + OUT)).toBe(-EINVAL);
    expect(a.p.signals.queued).toBe(1); // the pending SIGINT's entry
    expect(a.p.signals.timers.nextDeadline()).not.toBe(null);
    expect([t.blocked, t.pending.set]).toEqual([sigBit(SIGINT), sigBit(SIGINT)]);
  });

  it('a thread that exits hands the process-wide signals it would take to a sibling', () => {
    const a = proc(100, { threads: 2 });
    host([a.p]);
    const [t0, t1] = a.p.threads as [Task, Task];
    a.p.signals.sighand.setAction(SIGUSR1, handler(0n));
    setBlocked(t1, sigBit(SIGUSR1));
    sendToProcess(a.p, SIGUSR1, { kind: 'kernel', signo: SIGUSR1 });
    expect([t0.sigpending, t1.sigpending]).toEqual([true, false]);
    setBlocked(t1, 0n);
    t1.sigpending = false;
    t0.state = 'zombie';
    exitSignals(t0);
    expect(t1.sigpending).toBe(true);
  });
});

describe('exit_group and the masks of ppoll/pselect6', () => {
  it('exit_group from one thread: the others are woken and leave with its code; nothing more is queued', () => {
    const a = proc(100, { threads: 3 });
    host([a.p]);
    const [t0, t1, t2] = a.p.threads as [Task, Task, Task];
    sleepIn(t2, new WaitQueue());
    startGroupExitCode(t0, 0x107);
    expect([t1.sigpending, t2.state, t0.pending.set]).toEqual([true, 'runnable', 0n]);
    expect(deliverSignals(t1, regsAt(0n, 0n), null)).toEqual({ kind: 'exited', code: 7 });
    expect(deliverSignals(t2, regsAt(0n, 0n), null)).toEqual({ kind: 'exited', code: 7 });
    sendToProcess(a.p, SIGTERM, { kind: 'kernel', signo: SIGTERM });
    expect(a.p.signals.shared.set).toBe(0n);
  });

  it('a temporary mask: restored at once when the call completes, kept for the handler when a signal interrupted it', () => {
    const a = proc(100);
    host([a.p]);
    const t = a.p.current;
    a.p.signals.sighand.setAction(SIGUSR1, handler(0n));
    setBlocked(t, sigBit(SIGUSR1));
    setUserSigmask(t, sigBit(SIGUSR2));
    setUserSigmask(t, sigBit(SIGUSR2)); // a retry keeps the first saved mask
    restoreSavedSigmaskUnless(t, false);
    expect([t.blocked, t.savedSigmask]).toEqual([sigBit(SIGUSR1), null]);
    setUserSigmask(t, 0n);
    tkill(t, 100, SIGUSR1);
    restoreSavedSigmaskUnless(t, true);
    const d = deliverSignals(t, regsAt(0x400104n, BigInt.asUintN(64, BigInt(-ERESTARTNOHAND))), { origX0: 0n });
    if (d.kind !== 'run') throw new Error(d.kind);
    expect(a.u64(Number(d.regs.sp) + 168)).toBe(sigBit(SIGUSR1));
    expect(t.blocked).toBe(sigBit(SIGUSR1));
  });
});
