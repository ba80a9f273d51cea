/**
 * Process and identity system calls: ids, uname, resource limits, getrandom, the registrations
 * glibc makes at start-up (set_tid_address, set_robust_list, rseq), CPU affinity and exit
 * (kernel/sys.c, kernel/exit.c, kernel/rseq.c, kernel/signal.c,
 * kernel/sched/core.c, drivers/char/random.c, v6.9).
 */
import type { U64 } from '../../util/u64.js';
import { EBUSY, EFAULT, EINVAL, EPERM, ESRCH } from '../../util/errno.js';
import type { LinuxProcess } from '../process.js';
import { RLIM_NLIMITS, type Rlimit } from '../rlimit.js';
import { capable, CAP_SYS_RESOURCE } from '../extras.js';
import { forcedSignal, SIGSEGV } from '../signals.js';
import { StructReader, StructWriter, accessOk, getUser, putUser, putUserPartial } from '../uaccess.js';
import { argInt, argPtr, argUint, argUlong } from './args.js';
import type { SyscallHandlers, SyscallOutcome } from './outcome.js';

export const GRND_NONBLOCK = 0x1;
export const GRND_RANDOM = 0x2;
export const GRND_INSECURE = 0x4;

/** sizeof(struct robust_list_head). */
export const ROBUST_LIST_HEAD_SIZE = 24;

export const RSEQ_FLAG_UNREGISTER = 1;
/** The original struct rseq size, and its alignment. */
export const ORIG_RSEQ_SIZE = 32;
export const RSEQ_ALIGN = 32;
/** offsetof(struct rseq, end) in v6.3+: cpu_id_start, cpu_id, rseq_cs, flags, node_id, mm_cid. */
export const RSEQ_FEATURE_SIZE = 28;
/** cpu_id after unregistration (RSEQ_CPU_ID_UNINITIALIZED). */
const RSEQ_CPU_ID_UNINITIALIZED = -1;

/** The one CPU the guest runs on. */
export const NR_CPU_IDS = 1;

const getpid = (p: LinuxProcess): number => p.pid;
const getppid = (p: LinuxProcess): number => p.ids.ppid;
const gettid = (p: LinuxProcess): number => p.tid;
const getuid = (p: LinuxProcess): number => p.ids.uid;
const getgid = (p: LinuxProcess): number => p.ids.gid;

function putIds(p: LinuxProcess, a: readonly U64[], id: number): number {
  for (let i = 0; i < 3; i++) {
    const r = putUser(p.mm, argPtr(a[i]!), new StructWriter(4).u32(0, id).bytes);
    if (r < 0) return r;
  }
  return 0;
}

function getgroups(p: LinuxProcess, a: readonly U64[]): number {
  const size = argInt(a[0]!);
  if (size < 0) return -EINVAL;
  // One supplementary group: the user's own.
  if (size === 0) return 1;
  const r = putUser(p.mm, argPtr(a[1]!), new StructWriter(4).u32(0, p.ids.gid).bytes);
  return r < 0 ? r : 1;
}

/** struct new_utsname: six fields of 65 bytes. */
function uname(p: LinuxProcess, a: readonly U64[]): number {
  const u = p.utsname;
  const w = new StructWriter(6 * 65);
  [u.sysname, u.nodename, u.release, u.version, u.machine, u.domainname].forEach((s, i) => w.str(i * 65, 65, s));
  return putUser(p.mm, argPtr(a[0]!), w.bytes);
}

function encodeRlimit(l: Rlimit): Uint8Array {
  return new StructWriter(16).u64(0, l.cur).u64(8, l.max).bytes;
}

function readRlimit(p: LinuxProcess, va: number): Rlimit | null {
  const raw = getUser(p.mm, va, 16);
  if (raw === null) return null;
  const r = new StructReader(raw);
  return { cur: r.u64(0), max: r.u64(8) };
}

/** prlimit64: the old limit is read before the new one is set, both for the same resource. */
function prlimit64(p: LinuxProcess, a: readonly U64[]): number {
  const pid = argInt(a[0]!);
  const resource = argUint(a[1]!);
  const newVa = argPtr(a[2]!);
  const oldVa = argPtr(a[3]!);
  if (resource >= RLIM_NLIMITS) return -EINVAL;
  let next: Rlimit | null = null;
  if (newVa !== 0) {
    next = readRlimit(p, newVa);
    if (next === null) return -EFAULT;
  }
  if (pid !== 0 && pid !== p.pid) return -ESRCH;
  const old = p.limits.get(resource);
  if (next !== null) {
    const r = p.limits.set(resource, next, capable(p, CAP_SYS_RESOURCE));
    if (r !== 0) return r;
  }
  if (oldVa !== 0) return putUser(p.mm, oldVa, encodeRlimit(old));
  return 0;
}

function getrlimit(p: LinuxProcess, a: readonly U64[]): number {
  const resource = argUint(a[0]!);
  if (resource >= RLIM_NLIMITS) return -EINVAL;
  return putUser(p.mm, argPtr(a[1]!), encodeRlimit(p.limits.get(resource)));
}

function setrlimit(p: LinuxProcess, a: readonly U64[]): number {
  const resource = argUint(a[0]!);
  if (resource >= RLIM_NLIMITS) return -EINVAL;
  const next = readRlimit(p, argPtr(a[1]!));
  if (next === null) return -EFAULT;
  return p.limits.set(resource, next, capable(p, CAP_SYS_RESOURCE));
}

/** getrandom: the seeded generator never blocks, so GRND_NONBLOCK changes nothing. */
function getrandom(p: LinuxProcess, a: readonly U64[]): number {
  const buf = argPtr(a[0]!);
  const flags = argUint(a[2]!);
  if ((flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) !== 0) return -EINVAL;
  if ((flags & (GRND_INSECURE | GRND_RANDOM)) === (GRND_INSECURE | GRND_RANDOM)) return -EINVAL;
  const len = Math.min(argUlong(a[1]!), 0x7fffffff);
  if (len === 0) return 0;
  if (!accessOk(buf, len)) return -EFAULT;
  const copied = putUserPartial(p.mm, buf, p.random.bytes(len));
  return copied > 0 ? copied : -EFAULT;
}

function setTidAddress(p: LinuxProcess, a: readonly U64[]): number {
  p.current.clearChildTid = argPtr(a[0]!);
  return p.tid;
}

function setRobustList(p: LinuxProcess, a: readonly U64[]): number {
  if (argUlong(a[1]!) !== ROBUST_LIST_HEAD_SIZE) return -EINVAL;
  p.current.robustList = { head: argPtr(a[0]!), len: ROBUST_LIST_HEAD_SIZE };
  return 0;
}

/**
 * rseq registration. On success the kernel fills cpu_id_start, cpu_id, node_id and mm_cid on the
 * way back to user space (rseq_handle_notify_resume, after reading rseq_cs, which is 0 here); the
 * guest always runs on CPU 0 of node 0 and is never preempted or migrated, so those writes are
 * the only ones ever due.
 */
function rseq(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const addr = argPtr(a[0]!);
  const len = argUint(a[1]!);
  const flags = argInt(a[2]!);
  const sig = argUint(a[3]!);
  const cur = p.current.rseq;
  if ((flags & RSEQ_FLAG_UNREGISTER) !== 0) {
    if ((flags & ~RSEQ_FLAG_UNREGISTER) !== 0) return -EINVAL;
    if (cur === null || cur.addr !== addr) return -EINVAL;
    if (len !== cur.len) return -EINVAL;
    if (sig !== cur.sig) return -EPERM;
    const w = new StructWriter(4).u32(0, 0);
    if (putUser(p.mm, addr, w.bytes) < 0 || putUser(p.mm, addr + 4, new StructWriter(4).i32(0, RSEQ_CPU_ID_UNINITIALIZED).bytes) < 0) return -EFAULT;
    if (putUser(p.mm, addr + 20, new Uint8Array(8)) < 0) return -EFAULT;
    p.current.rseq = null;
    return 0;
  }
  if (flags !== 0) return -EINVAL;
  if (cur !== null) {
    if (cur.addr !== addr || len !== cur.len) return -EINVAL;
    if (sig !== cur.sig) return -EPERM;
    return -EBUSY;
  }
  if (len < ORIG_RSEQ_SIZE) return -EINVAL;
  if (len === ORIG_RSEQ_SIZE && addr % ORIG_RSEQ_SIZE !== 0) return -EINVAL;
  if (len !== ORIG_RSEQ_SIZE && (addr % RSEQ_ALIGN !== 0 || len < RSEQ_FEATURE_SIZE)) return -EINVAL;
  if (!accessOk(addr, len)) return -EFAULT;
  p.current.rseq = { addr, len, sig };
  // The return-to-user update: a fault there is a SIGSEGV in Linux (force_sigsegv).
  if (getUser(p.mm, addr + 8, 8) === null || putUser(p.mm, addr, new Uint8Array(8)) < 0 || putUser(p.mm, addr + 20, new Uint8Array(8)) < 0) {
    return { kind: 'killed', end: forcedSignal(SIGSEGV, `the rseq area it registered at 0x${addr.toString(16)} cannot be accessed`) };
  }
  return 0;
}

/** cpumask_size() for nr_cpu_ids ≤ 64: one unsigned long. */
const CPUMASK_SIZE = 8;

function schedGetaffinity(p: LinuxProcess, a: readonly U64[]): number {
  const pid = argInt(a[0]!);
  const len = argUint(a[1]!);
  if (len * 8 < NR_CPU_IDS) return -EINVAL;
  if (len % 8 !== 0) return -EINVAL;
  if (pid !== 0 && pid !== p.pid) return -ESRCH;
  const size = Math.min(len, CPUMASK_SIZE);
  const mask = new Uint8Array(size);
  mask[0] = 1;
  const r = putUser(p.mm, argPtr(a[2]!), mask);
  return r < 0 ? r : size;
}

function schedSetaffinity(p: LinuxProcess, a: readonly U64[]): number {
  const pid = argInt(a[0]!);
  const len = argUint(a[1]!);
  const raw = getUser(p.mm, argPtr(a[2]!), Math.min(len, CPUMASK_SIZE));
  if (raw === null) return -EFAULT;
  if (pid !== 0 && pid !== p.pid) return -ESRCH;
  // The new mask must contain the one CPU there is.
  return (raw[0]! & 1) !== 0 ? 0 : -EINVAL;
}

function getcpu(p: LinuxProcess, a: readonly U64[]): number {
  for (const va of [argPtr(a[0]!), argPtr(a[1]!)]) {
    if (va !== 0 && putUser(p.mm, va, new Uint8Array(4)) < 0) return -EFAULT;
  }
  return 0;
}

function exit(p: LinuxProcess, a: readonly U64[]): SyscallOutcome {
  void p;
  return { kind: 'exit', status: argInt(a[0]!) & 0xff, group: false };
}

function exitGroup(p: LinuxProcess, a: readonly U64[]): SyscallOutcome {
  void p;
  return { kind: 'exit', status: argInt(a[0]!) & 0xff, group: true };
}

const schedYield = (): number => 0;

/** setuid and friends: an unprivileged process may only "change" to the ids it has. */
function setid(p: LinuxProcess, a: readonly U64[], count: number, own: number): number {
  for (let i = 0; i < count; i++) {
    const v = argInt(a[i]!);
    if (v !== -1 && v !== own && p.ids.uid !== 0) return -EPERM;
  }
  return 0;
}

export const processSyscalls: SyscallHandlers = {
  getpid,
  gettid,
  getuid,
  geteuid: getuid,
  getgid,
  getegid: getgid,
  getresuid: (p, a) => putIds(p, a, p.ids.uid),
  getresgid: (p, a) => putIds(p, a, p.ids.gid),
  getgroups,
  setuid: (p, a) => setid(p, a, 1, p.ids.uid),
  setgid: (p, a) => setid(p, a, 1, p.ids.gid),
  setresuid: (p, a) => setid(p, a, 3, p.ids.uid),
  setresgid: (p, a) => setid(p, a, 3, p.ids.gid),
  uname,
  prlimit64,
  getrlimit,
  setrlimit,
  getrandom,
  set_tid_address: setTidAddress,
  set_robust_list: setRobustList,
  rseq,
};
