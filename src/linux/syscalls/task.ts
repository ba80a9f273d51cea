/**
 * Tasks: clone and clone3 (kernel/fork.c), execve (fs/exec.c), exit and exit_group, wait4 and
 * waitid (kernel/exit.c), process groups and sessions (kernel/sys.c), futex (kernel/futex/),
 * and the scheduler calls (sched_yield, sched_{get,set}affinity, getcpu). The checks come in
 * the kernel's order (v6.12); the task tables are system.ts, the machine is the TaskHost.
 */
import { cloneRegisterFile, Task } from '../task.js';
import type { U64 } from '../../util/u64.js';
import {
  E2BIG, EACCES, EAGAIN, EBADF, ECHILD, EFAULT, EINTR, EINVAL, ELOOP, ENOENT, ENOEXEC, ENOSYS, ENOTDIR, EPERM, ESRCH, ETIMEDOUT,
} from '../../util/errno.js';
import { LinuxProcess } from '../process.js';
import { waitStatus, type LinuxSystem } from '../system.js';
import { WaitQueue } from '../wait.js';
import { StructReader, StructWriter, getTimespecNs, getUser, putUser } from '../uaccess.js';
import { argInt, argPtr, argUint, argUlong } from './args.js';
import type { SyscallHandlers, SyscallOutcome } from './outcome.js';
import {
  FUTEX_BITSET_MATCH_ANY, FUTEX_CLOCK_REALTIME, FUTEX_CMD_MASK, FUTEX_CMP_REQUEUE, FUTEX_PRIVATE_FLAG,
  FUTEX_REQUEUE, FUTEX_WAIT, FUTEX_WAIT_BITSET, FUTEX_WAKE, FUTEX_WAKE_BITSET, FUTEX_WAKE_OP, futexWakeOp,
  type FutexWaiter,
} from '../futex.js';
import { SIGCHLD, NSIG, SIGSEGV, forcedSignal } from '../signals.js';
import { initForkSignals, initThreadSignals } from '../sigsend.js';
import { inheritExtras } from '../extras.js';
import { parseElf, type ElfImage } from '../elf.js';
import type { RegNode } from '../fs.js';
import { openInterpreter, type Interpreter } from '../interp.js';
import { filemapRead } from '../../mm/pagecache.js';
import { readFileSync, statSync } from 'node:fs';
import { normalize } from 'node:path';

// include/uapi/linux/sched.h
export const CSIGNAL = 0x000000ff;
export const CLONE_VM = 0x00000100;
export const CLONE_FS = 0x00000200;
export const CLONE_FILES = 0x00000400;
export const CLONE_SIGHAND = 0x00000800;
export const CLONE_PIDFD = 0x00001000;
export const CLONE_PTRACE = 0x00002000;
export const CLONE_VFORK = 0x00004000;
export const CLONE_PARENT = 0x00008000;
export const CLONE_THREAD = 0x00010000;
export const CLONE_NEWNS = 0x00020000;
export const CLONE_SYSVSEM = 0x00040000;
export const CLONE_SETTLS = 0x00080000;
export const CLONE_PARENT_SETTID = 0x00100000;
export const CLONE_CHILD_CLEARTID = 0x00200000;
export const CLONE_DETACHED = 0x00400000;
export const CLONE_UNTRACED = 0x00800000;
export const CLONE_CHILD_SETTID = 0x01000000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
export const CLONE_IO = 0x80000000;
const CLONE_NAMESPACES = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

// include/uapi/linux/wait.h
export const WNOHANG = 0x1;
export const WUNTRACED = 0x2;
export const WSTOPPED = WUNTRACED;
export const WEXITED = 0x4;
export const WCONTINUED = 0x8;
export const WNOWAIT = 0x01000000;
export const __WNOTHREAD = 0x20000000;
export const __WALL = 0x40000000;
export const __WCLONE = 0x80000000;
export const P_ALL = 0;
export const P_PID = 1;
export const P_PGID = 2;
export const P_PIDFD = 3;

const CLD_EXITED = 1;
const CLD_KILLED = 2;
const CLD_DUMPED = 3;
const CLD_STOPPED = 5;
const CLD_CONTINUED = 6;

function sys(p: LinuxProcess): LinuxSystem {
  const s = p.system;
  if (s === null) throw new Error('task syscalls need the machine to have registered the process (LinuxSystem)');
  return s;
}

// ---- clone ----

interface CloneArgs {
  flags: number;
  /** The high half of clone3's 64-bit flags (none is valid but CLONE_CLEAR_SIGHAND/INTO_CGROUP). */
  flagsHigh: number;
  exitSignal: number;
  stack: bigint;
  tls: bigint;
  parentTid: number;
  childTid: number;
  pidfd: number;
}

/**
 * copy_process and kernel_clone: a thread of the caller's process (CLONE_THREAD) or a new
 * process, with the flag checks in the kernel's order. Returns the child's id to the parent.
 */
function doClone(p: LinuxProcess, c: CloneArgs): number | SyscallOutcome {
  const s = sys(p);
  const f = c.flags;
  if (c.flagsHigh !== 0) return -EINVAL;
  if ((f & (CLONE_NEWNS | CLONE_FS)) === (CLONE_NEWNS | CLONE_FS)) return -EINVAL;
  if ((f & CLONE_THREAD) !== 0 && (f & CLONE_SIGHAND) === 0) return -EINVAL;
  if ((f & CLONE_SIGHAND) !== 0 && (f & CLONE_VM) === 0) return -EINVAL;
  if ((f & CLONE_NAMESPACES) !== 0) return -EPERM; // an unprivileged user cannot make namespaces
  if ((f & CLONE_PIDFD) !== 0) return -EINVAL; // pidfds are not modelled
  if ((f & CLONE_THREAD) !== 0 && c.exitSignal !== 0) {
    // A thread's exit signal is ignored by the kernel (it is always -1 internally).
  }
  const parentRegs = s.host.currentRegisters();
  const regs = cloneRegisterFile(parentRegs);
  regs.x[0] = 0n;
  if (c.stack !== 0n) regs.sp = c.stack;
  if ((f & CLONE_SETTLS) !== 0) regs.tpidr = c.tls;

  let child: Task;
  const tid = s.allocId();
  if ((f & CLONE_THREAD) !== 0) {
    child = new Task(tid, p);
    p.threads.push(child);
    s.addThread(child);
  } else {
    const mm = (f & CLONE_VM) !== 0 ? p.mm : s.host.forkMm(p.mm);
    const proc = new LinuxProcess({
      mm,
      forkOf: p,
      shareFds: (f & CLONE_FILES) !== 0,
      telemetry: p.telemetry,
      ids: { ...p.ids, pid: tid, ppid: p.pid },
    });
    proc.exitSignal = c.exitSignal;
    proc.execed = false;
    if ((f & CLONE_PARENT) !== 0 && p.parent !== null) {
      proc.parent = p.parent;
      p.parent.children.push(proc);
    } else {
      p.children.push(proc);
    }
    s.addProcess(proc);
    child = proc.current;
  }
  child.affinity = p.current.affinity;
  inheritExtras(p.current, child, (f & CLONE_THREAD) === 0);
  if ((f & CLONE_THREAD) !== 0) initThreadSignals(p.current, child);
  else initForkSignals(p.current, child.process, { shareSighand: (f & CLONE_SIGHAND) !== 0, shareVm: (f & CLONE_VM) !== 0, vfork: (f & CLONE_VFORK) !== 0 });
  if ((f & CLONE_CHILD_CLEARTID) !== 0) child.clearChildTid = c.childTid;
  // The child writes its own id into its own memory when it first runs (schedule_tail).
  if ((f & CLONE_CHILD_SETTID) !== 0) child.setChildTid = c.childTid;
  if ((f & CLONE_PARENT_SETTID) !== 0) {
    if (putUser(p.mm, c.parentTid, new StructWriter(4).u32(0, tid).bytes) < 0) return -EFAULT;
  }
  s.host.taskCreated(child, regs);
  if ((f & CLONE_VFORK) !== 0 && (f & CLONE_THREAD) === 0) {
    // The parent sleeps until the child execs or exits (wait_for_vfork_done); the retry returns
    // the child's id.
    const proc = child.process;
    proc.vforkDone = new WaitQueue(`vfork_done of ${proc.pid}`);
    p.current.blockState = { vforkChild: tid };
    return { kind: 'block', on: [proc.vforkDone], restartable: false };
  }
  return tid;
}


function vforkRetry(p: LinuxProcess): number | null {
  const st = p.current.blockState as { vforkChild?: number } | null;
  if (st === null || st.vforkChild === undefined) return null;
  return st.vforkChild;
}

/** clone(flags, newsp, parent_tidptr, tls, child_tidptr): arm64's CONFIG_CLONE_BACKWARDS order. */
function clone(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const done = vforkRetry(p);
  if (done !== null) return done;
  const flags64 = argUlong(a[0]!);
  return doClone(p, {
    flags: flags64 & ~CSIGNAL,
    flagsHigh: Math.floor(flags64 / 2 ** 32),
    exitSignal: flags64 & CSIGNAL,
    stack: BigInt(argUlong(a[1]!)),
    parentTid: argPtr(a[2]!),
    tls: (BigInt(a[3]!.hi >>> 0) << 32n) | BigInt(a[3]!.lo >>> 0),
    childTid: argPtr(a[4]!),
    pidfd: 0,
  });
}

/** struct clone_args (v5.7+: 88 bytes with set_tid and cgroup). */
function clone3(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const done = vforkRetry(p);
  if (done !== null) return done;
  const size = argUlong(a[1]!);
  if (size < 64 || size > 4096) return -EINVAL;
  const raw = getUser(p.mm, argPtr(a[0]!), Math.min(size, 88));
  if (raw === null) return -EFAULT;
  const buf = new Uint8Array(88);
  buf.set(raw);
  const r = new StructReader(buf);
  const flags = r.u64(0);
  const exitSignal = r.u64(32);
  const stack = r.u64(40);
  const stackSize = r.u64(48);
  const setTidSize = r.u64(64);
  if (setTidSize !== 0n) return -EPERM; // set_tid needs CAP_SYS_ADMIN in the pid namespace
  if (exitSignal > BigInt(NSIG) || (flags & BigInt(CSIGNAL)) !== 0n) return -EINVAL;
  if ((stack === 0n) !== (stackSize === 0n)) return -EINVAL;
  return doClone(p, {
    flags: Number(flags & 0xffffffffn),
    flagsHigh: Number(flags >> 32n),
    exitSignal: Number(exitSignal),
    stack: stack === 0n ? 0n : stack + stackSize,
    tls: r.u64(56),
    parentTid: Number(r.u64(24)),
    childTid: Number(r.u64(16)),
    pidfd: Number(r.u64(8)),
  });
}

// ---- execve ----

/** MAX_ARG_STRINGS and the argument-space limit (a quarter of RLIMIT_STACK's default 8 MiB). */
const MAX_ARG_STRINGS = 0x7fffffff;
const ARG_MAX_BYTES = 2 * 1024 * 1024;
/** How many #! interpreters may chain (BINPRM_MAX_RECURSION). */
const MAX_INTERP_DEPTH = 4;

/** A NULL-terminated array of string pointers (argv, envp), or an errno. */
function readStringArray(p: LinuxProcess, va: number): string[] | number {
  const out: string[] = [];
  if (va === 0) return out;
  let bytes = 0;
  for (let i = 0; i < MAX_ARG_STRINGS; i++) {
    const ptr = getUser(p.mm, va + i * 8, 8);
    if (ptr === null) return -EFAULT;
    const sp = Number(new StructReader(ptr).u64(0));
    if (sp === 0) return out;
    const str = p.mm.strncpyFromUser(sp, ARG_MAX_BYTES);
    if (str === null) return -EFAULT;
    bytes += str.length + 1 + 8;
    if (bytes > ARG_MAX_BYTES) return -E2BIG;
    out.push(str);
  }
  return -E2BIG;
}

/**
 * The program at `path`: a file of the guest's tree (with --sysroot, the arm64 root's files are
 * in it: sysroot.ts), else, without a sysroot, a file of the host (as `run` takes).
 */
function openExecutable(p: LinuxProcess, path: string): { bytes: Uint8Array; exePath: string; node: RegNode | null } | number {
  const start = path.startsWith('/') ? p.fs.root : p.fs.cwd;
  const found = p.fs.lookup(start, path, true);
  if (found.kind === 'ok') {
    const node = found.node;
    if (node.kind === 'dir') return -EACCES;
    if (node.kind !== 'reg') return -EACCES;
    if ((node.mode & 0o111) === 0) return -EACCES;
    // The file's own path (through /proc/self/exe, the executable's), as /proc/self/exe shows it.
    const exePath = node === p.fs.exe && p.fs.exePath !== null ? p.fs.exePath : normalize(path.startsWith('/') ? path : `${p.fs.pathOf(p.fs.cwd)}/${path}`);
    return { bytes: filemapRead(node.inode, 0, node.inode.size), exePath, node };
  }
  if (!path.startsWith('/') || p.sysroot !== null) return -found.errno;
  try {
    const st = statSync(path);
    if (!st.isFile()) return -EACCES;
    if ((st.mode & 0o111) === 0) return -EACCES;
    const b = readFileSync(path);
    return { bytes: new Uint8Array(b.buffer, b.byteOffset, b.byteLength), exePath: normalize(path), node: null };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'EACCES' ? -EACCES : code === 'ENOTDIR' ? -ENOTDIR : -ENOENT;
  }
}

/** A "#!" line: the interpreter and its one optional argument (binfmt_script), or null. */
function scriptInterpreter(bytes: Uint8Array): { interp: string; arg: string | null } | null {
  if (bytes.length < 2 || bytes[0] !== 0x23 || bytes[1] !== 0x21) return null;
  const end = bytes.indexOf(0x0a);
  const line = new TextDecoder().decode(bytes.subarray(2, end < 0 ? Math.min(bytes.length, 256) : Math.min(end, 256))).trim();
  if (line === '') return null;
  const m = /^(\S+)(?:\s+(.*))?$/.exec(line)!;
  return { interp: m[1]!, arg: m[2] !== undefined && m[2] !== '' ? m[2] : null };
}

/** execve (fs/exec.c do_execveat_common, binfmt_script, binfmt_elf). */
function execve(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const path0 = p.mm.strncpyFromUser(argPtr(a[0]!), 4096);
  if (path0 === null) return -EFAULT;
  if (path0 === '') return -ENOENT;
  const argv0 = readStringArray(p, argPtr(a[1]!));
  if (typeof argv0 === 'number') return argv0;
  const envp = readStringArray(p, argPtr(a[2]!));
  if (typeof envp === 'number') return envp;
  let path = path0;
  let argv = argv0;
  for (let depth = 0; ; depth++) {
    const f = openExecutable(p, path);
    if (typeof f === 'number') return f;
    const script = scriptInterpreter(f.bytes);
    if (script !== null) {
      if (depth >= MAX_INTERP_DEPTH) return -ELOOP;
      // The interpreter gets its name, its optional argument, the script's path, then argv[1..].
      argv = [script.interp, ...(script.arg !== null ? [script.arg] : []), path, ...argv.slice(1)];
      path = script.interp;
      continue;
    }
    let image: ElfImage;
    try {
      image = parseElf(f.bytes, f.exePath);
    } catch {
      return -ENOEXEC;
    }
    // The interpreter is opened and checked before the point of no return: its errors are
    // execve's (ENOENT for a missing one, ELIBBAD for one that is not an arm64 ELF).
    let interp: Interpreter | undefined;
    if (image.interp !== null) {
      const r = openInterpreter(p.fs, image);
      if (r.kind === 'error') return -r.errno;
      interp = r.interp;
    }
    const failed = sys(p).host.exec(p, image, {
      argv,
      envp,
      exePath: f.exePath,
      execfn: path0,
      ...(interp !== undefined ? { interp } : {}),
      ...(f.node !== null ? { exeNode: f.node } : {}),
    });
    if (failed !== null) return { kind: 'killed', end: forcedSignal(SIGSEGV, `execve of ${f.exePath} failed after the old image was gone: ${failed}`) };
    return 0;
  }
}

// ---- exit ----

function exit(_p: LinuxProcess, a: readonly U64[]): SyscallOutcome {
  return { kind: 'exit', status: argInt(a[0]!) & 0xff, group: false };
}

function exitGroup(_p: LinuxProcess, a: readonly U64[]): SyscallOutcome {
  return { kind: 'exit', status: argInt(a[0]!) & 0xff, group: true };
}

// ---- wait ----

interface WaitRequest {
  /** Which children: -1 any, >0 one pid, <-1 or 0: a process group (0 = the caller's). */
  which: { kind: 'any' } | { kind: 'pid'; pid: number } | { kind: 'pgid'; pgid: number };
  options: number;
}

type WaitResult =
  | { kind: 'none' }
  | { kind: 'nochild' }
  | { kind: 'found'; child: LinuxProcess; event: 'exited' | 'stopped' | 'continued'; code: number; status: number; sig: number };

/** do_wait's scan of the caller's children (eligible_child, wait_task_zombie/stopped/continued). */
function findWaitable(p: LinuxProcess, req: WaitRequest): WaitResult {
  // Threads of one process share their children (the kernel scans every thread's list).
  let eligible = 0;
  for (const c of p.children) {
    const w = req.which;
    if (w.kind === 'pid' && c.pid !== w.pid) continue;
    if (w.kind === 'pgid' && c.pgid !== w.pgid) continue;
    // __WCLONE selects children whose exit signal is not SIGCHLD; __WALL both.
    const clone = c.exitSignal !== SIGCHLD;
    if ((req.options & __WALL) === 0 && clone !== ((req.options & __WCLONE) !== 0)) continue;
    eligible++;
    if (c.exit !== null && (req.options & WEXITED) !== 0) {
      const e = c.exit;
      const code = e.kind === 'exited' ? CLD_EXITED : e.core ? CLD_DUMPED : CLD_KILLED;
      return { kind: 'found', child: c, event: 'exited', code, status: waitStatus(e), sig: e.value };
    }
    const ev = c.stopEvent;
    if (ev !== null && ev.kind === 'stopped' && (req.options & WSTOPPED) !== 0) {
      return { kind: 'found', child: c, event: 'stopped', code: CLD_STOPPED, status: (ev.sig << 8) | 0x7f, sig: ev.sig };
    }
    if (ev !== null && ev.kind === 'continued' && (req.options & WCONTINUED) !== 0) {
      return { kind: 'found', child: c, event: 'continued', code: CLD_CONTINUED, status: 0xffff, sig: 18 };
    }
  }
  return eligible === 0 ? { kind: 'nochild' } : { kind: 'none' };
}

/** Takes the event (reaps a zombie unless WNOWAIT). */
function consume(p: LinuxProcess, r: Extract<WaitResult, { kind: 'found' }>, options: number): void {
  if ((options & WNOWAIT) !== 0) return;
  if (r.event === 'exited') sys(p).reap(r.child);
  else r.child.stopEvent = null;
}

function wait4(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const pid = argInt(a[0]!);
  const statusVa = argPtr(a[1]!);
  const options = argInt(a[2]!);
  const rusageVa = argPtr(a[3]!);
  if ((options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL)) !== 0) return -EINVAL;
  if (pid === -2147483648) return -ESRCH; // INT_MIN cannot be negated
  const which: WaitRequest['which'] = pid === -1 ? { kind: 'any' } : pid > 0 ? { kind: 'pid', pid } : { kind: 'pgid', pgid: pid === 0 ? p.pgid : -pid };
  const r = findWaitable(p, { which, options: options | WEXITED });
  if (r.kind === 'nochild') return -ECHILD;
  if (r.kind === 'none') {
    if ((options & WNOHANG) !== 0) return 0;
    return { kind: 'block', on: [p.childEvents], restartable: true };
  }
  if (statusVa !== 0 && putUser(p.mm, statusVa, new StructWriter(4).u32(0, r.status).bytes) < 0) return -EFAULT;
  if (rusageVa !== 0 && putUser(p.mm, rusageVa, new Uint8Array(144)) < 0) return -EFAULT;
  consume(p, r, options);
  return r.child.pid;
}

/** siginfo_t of a child event (arm64 layout: si_signo, si_errno, si_code, then _sigchld at 16). */
function childSiginfo(r: Extract<WaitResult, { kind: 'found' }>): Uint8Array {
  const code = r.code;
  const status = code === CLD_EXITED ? r.child.exit!.value : r.sig;
  return new StructWriter(128).i32(0, SIGCHLD).i32(4, 0).i32(8, code).i32(16, r.child.pid).u32(20, r.child.ids.uid).i32(24, status).bytes;
}

function waitid(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const idtype = argInt(a[0]!);
  const id = argInt(a[1]!);
  const infoVa = argPtr(a[2]!);
  const options = argInt(a[3]!);
  if ((options & ~(WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL)) !== 0) return -EINVAL;
  if ((options & (WEXITED | WSTOPPED | WCONTINUED)) === 0) return -EINVAL;
  let which: WaitRequest['which'];
  switch (idtype) {
    case P_ALL:
      which = { kind: 'any' };
      break;
    case P_PID:
      if (id <= 0) return -EINVAL;
      which = { kind: 'pid', pid: id };
      break;
    case P_PGID:
      if (id < 0) return -EINVAL;
      which = { kind: 'pgid', pgid: id === 0 ? p.pgid : id };
      break;
    case P_PIDFD:
      return -EBADF;
    default:
      return -EINVAL;
  }
  const r = findWaitable(p, { which, options });
  if (r.kind === 'nochild') return -ECHILD;
  if (r.kind === 'none') {
    if ((options & WNOHANG) !== 0) {
      // Linux zeroes si_signo and si_pid so the caller can tell nothing was found.
      if (infoVa !== 0 && putUser(p.mm, infoVa, new Uint8Array(128)) < 0) return -EFAULT;
      return 0;
    }
    return { kind: 'block', on: [p.childEvents], restartable: true };
  }
  if (infoVa !== 0 && putUser(p.mm, infoVa, childSiginfo(r)) < 0) return -EFAULT;
  consume(p, r, options);
  return 0;
}

// ---- ids, groups, sessions ----

const getppid = (p: LinuxProcess): number => (p.parent !== null && !p.parent.reaped ? p.parent.pid : p.ids.ppid);

function findProcess(p: LinuxProcess, pid: number): LinuxProcess | null {
  if (pid === 0) return p;
  return sys(p).processes.get(pid) ?? null;
}

function getpgid(p: LinuxProcess, a: readonly U64[]): number {
  const q = findProcess(p, argInt(a[0]!));
  return q === null ? -ESRCH : q.pgid;
}

function getsid(p: LinuxProcess, a: readonly U64[]): number {
  const q = findProcess(p, argInt(a[0]!));
  return q === null ? -ESRCH : q.sid;
}

/** setpgid (kernel/sys.c): the caller or one of its children, within the caller's session. */
function setpgid(p: LinuxProcess, a: readonly U64[]): number {
  const pid = argInt(a[0]!) === 0 ? p.pid : argInt(a[0]!);
  let pgid = argInt(a[1]!);
  if (pgid === 0) pgid = pid;
  if (pgid < 0) return -EINVAL;
  const q = sys(p).processes.get(pid);
  if (q === undefined) return -ESRCH;
  if (q !== p) {
    if (q.parent !== p) return -ESRCH;
    if (q.sid !== p.sid) return -EPERM;
    if (q.execed) return -EACCES;
  }
  if (q.sid === q.pid) return -EPERM; // a session leader keeps its group
  if (pgid !== pid && !sys(p).group(pgid).some((g) => g.sid === p.sid)) return -EPERM;
  q.pgid = pgid;
  return 0;
}

function setsid(p: LinuxProcess): number {
  // A process group leader cannot start a session (its group would span two).
  if (sys(p).group(p.pid).some((g) => g !== p) || p.pgid === p.pid) return -EPERM;
  p.sid = p.pid;
  p.pgid = p.pid;
  return p.pid;
}

// ---- futex ----

interface FutexBlock {
  readonly waiter: FutexWaiter;
}

/** The futex word at `va`, or null (EFAULT). */
function futexWord(p: LinuxProcess, va: number): number | null {
  if (va % 4 !== 0) return null;
  const b = getUser(p.mm, va, 4);
  return b === null ? null : new StructReader(b).i32(0);
}


function futex(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const s = sys(p);
  const uaddr = argPtr(a[0]!);
  const opFull = argInt(a[1]!);
  const val = argInt(a[2]!);
  const shared = (opFull & FUTEX_PRIVATE_FLAG) === 0;
  const cmd = opFull & FUTEX_CMD_MASK;
  const t = p.current;

  // A wait woken, timed out or resumed: its outcome is decided by how the sleep ended.
  const st = t.blockState as FutexBlock | null;
  if (st !== null && st.waiter !== undefined) {
    const queued = s.futexes.queued(st.waiter);
    if (queued) s.futexes.dequeue(st.waiter);
    if (!queued) return 0;
    if (t.wakeReason === 'timeout') return -ETIMEDOUT;
    return -EINTR;
  }

  if ((opFull & FUTEX_CLOCK_REALTIME) !== 0 && cmd !== FUTEX_WAIT_BITSET && cmd !== FUTEX_WAIT) return -ENOSYS;
  switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
      const bitset = cmd === FUTEX_WAIT ? FUTEX_BITSET_MATCH_ANY : argUint(a[5]!);
      if (bitset === 0) return -EINVAL;
      const timeoutVa = argPtr(a[3]!);
      let deadline: bigint | undefined;
      if (timeoutVa !== 0) {
        const ns = getTimespecNs(p.mm, timeoutVa);
        if (typeof ns === 'number') return ns;
        if (cmd === FUTEX_WAIT) deadline = s.host.nowNs() + ns;
        else if ((opFull & FUTEX_CLOCK_REALTIME) !== 0) deadline = ns - (p.clock.peekRealtimeNs() - p.clock.peekMonotonicNs());
        else deadline = ns;
      }
      const cur = futexWord(p, uaddr);
      if (cur === null) return -EFAULT;
      if (cur !== val) return -EAGAIN;
      if (deadline !== undefined && deadline <= s.host.nowNs()) return -ETIMEDOUT;
      const waiter = s.futexes.enqueue(s.host.futexKey(p.mm, uaddr, shared), bitset);
      t.blockState = { waiter } satisfies FutexBlock;
      // FUTEX_WAIT restarts through restart_syscall; both look like ERESTARTSYS to the guest.
      return { kind: 'block', on: [waiter.queue], ...(deadline !== undefined ? { deadlineNs: deadline } : {}), restartable: false };
    }
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET: {
      const bitset = cmd === FUTEX_WAKE ? FUTEX_BITSET_MATCH_ANY : argUint(a[5]!);
      if (bitset === 0) return -EINVAL;
      if (uaddr % 4 !== 0) return -EINVAL;
      return s.futexes.wake(s.host.futexKey(p.mm, uaddr, shared), val <= 0 ? 0 : val, bitset);
    }
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
      const nRequeue = argInt(a[3]!);
      const uaddr2 = argPtr(a[4]!);
      if (val < 0 || nRequeue < 0) return -EINVAL;
      if (uaddr % 4 !== 0 || uaddr2 % 4 !== 0) return -EINVAL;
      if (cmd === FUTEX_CMP_REQUEUE) {
        const cur = futexWord(p, uaddr);
        if (cur === null) return -EFAULT;
        if (cur !== argInt(a[5]!)) return -EAGAIN;
      }
      return s.futexes.requeue(s.host.futexKey(p.mm, uaddr, shared), s.host.futexKey(p.mm, uaddr2, shared), val, nRequeue);
    }
    case FUTEX_WAKE_OP: {
      const nWake2 = argInt(a[3]!);
      const uaddr2 = argPtr(a[4]!);
      const old = futexWord(p, uaddr2);
      if (old === null) return -EFAULT;
      const r = futexWakeOp(argInt(a[5]!) >>> 0, old);
      if (r === null) return -ENOSYS;
      if (putUser(p.mm, uaddr2, new StructWriter(4).i32(0, r.newval).bytes) < 0) return -EFAULT;
      let n = s.futexes.wake(s.host.futexKey(p.mm, uaddr, shared), val);
      if (r.cmp) n += s.futexes.wake(s.host.futexKey(p.mm, uaddr2, shared), nWake2);
      return n;
    }
    default:
      // Priority-inheritance futexes and FUTEX_FD (removed in 2.6.26) are not modelled.
      return -ENOSYS;
  }
}

// ---- scheduler ----

function schedYield(p: LinuxProcess): number {
  sys(p).host.requestReschedule();
  return 0;
}

/** cpumask_size(): whole unsigned longs for nr_cpu_ids. */
function cpumaskBytes(ncpus: number): number {
  return Math.ceil(ncpus / 64) * 8;
}

function findTask(p: LinuxProcess, pid: number): Task | null {
  if (pid === 0) return p.current;
  return sys(p).tasks.get(pid) ?? null;
}

function maskBytes(mask: bigint, ncpus: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let c = 0; c < ncpus && c < size * 8; c++) if (((mask >> BigInt(c)) & 1n) !== 0n) out[c >> 3]! |= 1 << (c & 7);
  return out;
}

function schedGetaffinity(p: LinuxProcess, a: readonly U64[]): number {
  const ncpus = sys(p).host.cpuCount;
  const len = argUint(a[1]!);
  if (len * 8 < ncpus) return -EINVAL;
  if (len % 8 !== 0) return -EINVAL;
  const t = findTask(p, argInt(a[0]!));
  if (t === null) return -ESRCH;
  const size = Math.min(len, cpumaskBytes(ncpus));
  const online = (1n << BigInt(ncpus)) - 1n;
  const r = putUser(p.mm, argPtr(a[2]!), maskBytes(t.affinity & online, ncpus, size));
  return r < 0 ? r : size;
}

function schedSetaffinity(p: LinuxProcess, a: readonly U64[]): number {
  const host = sys(p).host;
  const ncpus = host.cpuCount;
  const len = argUint(a[1]!);
  const raw = getUser(p.mm, argPtr(a[2]!), Math.min(len, cpumaskBytes(ncpus)));
  if (raw === null) return -EFAULT;
  const t = findTask(p, argInt(a[0]!));
  if (t === null) return -ESRCH;
  let mask = 0n;
  for (let c = 0; c < ncpus && c < raw.length * 8; c++) if ((raw[c >> 3]! >> (c & 7)) & 1) mask |= 1n << BigInt(c);
  if (mask === 0n) return -EINVAL;
  t.affinity = mask;
  if (((mask >> BigInt(t.cpu)) & 1n) === 0n) {
    host.migrate(t);
    if (t === p.current) host.requestReschedule();
  }
  return 0;
}

/** SCHED_NORMAL: every task of the model is a fair-class task (no real-time policies). */
const SCHED_NORMAL = 0;

/** sched_getscheduler (kernel/sched/syscalls.c): the policy of a task. */
function schedGetscheduler(p: LinuxProcess, a: readonly U64[]): number {
  const pid = argInt(a[0]!);
  if (pid < 0) return -EINVAL;
  return findTask(p, pid) === null ? -ESRCH : SCHED_NORMAL;
}

/** sched_getparam: struct sched_param's one field, sched_priority, 0 outside real-time classes. */
function schedGetparam(p: LinuxProcess, a: readonly U64[]): number {
  const pid = argInt(a[0]!);
  const va = argPtr(a[1]!);
  if (va === 0 || pid < 0) return -EINVAL;
  if (findTask(p, pid) === null) return -ESRCH;
  const r = putUser(p.mm, va, new StructWriter(4).i32(0, 0).bytes);
  return r < 0 ? r : 0;
}

function getcpu(p: LinuxProcess, a: readonly U64[]): number {
  const cpu = sys(p).host.currentCpu();
  const cpuVa = argPtr(a[0]!);
  const nodeVa = argPtr(a[1]!);
  if (cpuVa !== 0 && putUser(p.mm, cpuVa, new StructWriter(4).u32(0, cpu).bytes) < 0) return -EFAULT;
  if (nodeVa !== 0 && putUser(p.mm, nodeVa, new Uint8Array(4)) < 0) return -EFAULT;
  return 0;
}

export const taskSyscalls: SyscallHandlers = {
  clone,
  clone3,
  execve,
  exit,
  exit_group: exitGroup,
  wait4,
  waitid,
  getppid,
  getpgid,
  getsid,
  setpgid,
  setsid,
  futex,
  sched_yield: schedYield,
  sched_getaffinity: schedGetaffinity,
  sched_setaffinity: schedSetaffinity,
  sched_getscheduler: schedGetscheduler,
  sched_getparam: schedGetparam,
  getcpu,
};
