/**
 * prctl (the common options), capget/capset, sysinfo and getrusage (kernel/sys.c,
 * kernel/capability.c, v6.12), in the kernel's order of checks.
 *
 * PR_SET_VMA (anonymous VMA names) answers as a kernel built without CONFIG_ANON_VMA_NAME does:
 * EINVAL, because naming part of a VMA needs the memory manager to split VMAs by name. Arm64's
 * SVE, SME and pointer-authentication controls answer as on a CPU without them; the tagged address
 * ABI as on a kernel with abi.tagged_addr_disabled = 1.
 */
import type { U64 } from '../../util/u64.js';
import { EFAULT, EINVAL, EPERM, ESRCH } from '../../util/errno.js';
import { DEFAULT_BOOT_NS, NSEC_PER_SEC } from '../clock.js';
import {
  CAP_FULL_SET, PR_MDWE_NO_INHERIT, PR_MDWE_REFUSE_EXEC_GAIN, TASK_COMM_LEN, capabilities, pdeathSignal, processFlags, setPdeathSignal, setTaskComm, taskComm,
} from '../extras.js';
import type { LinuxProcess } from '../process.js';
import { rssBytes } from '../procfs.js';
import { NSIG } from '../signals.js';
import { StructReader, StructWriter, getUser, putUser } from '../uaccess.js';
import { argInt, argPtr, argUlong } from './args.js';
import type { SyscallHandlers } from './outcome.js';

export const PR_SET_PDEATHSIG = 1;
export const PR_GET_PDEATHSIG = 2;
export const PR_GET_DUMPABLE = 3;
export const PR_SET_DUMPABLE = 4;
export const PR_GET_KEEPCAPS = 7;
export const PR_SET_KEEPCAPS = 8;
export const PR_SET_NAME = 15;
export const PR_GET_NAME = 16;
export const PR_GET_SECCOMP = 21;
export const PR_CAPBSET_READ = 23;
export const PR_SET_TIMERSLACK = 29;
export const PR_GET_TIMERSLACK = 30;
export const PR_SET_MM = 35;
export const PR_SET_CHILD_SUBREAPER = 36;
export const PR_GET_CHILD_SUBREAPER = 37;
export const PR_SET_NO_NEW_PRIVS = 38;
export const PR_GET_NO_NEW_PRIVS = 39;
export const PR_SET_THP_DISABLE = 41;
export const PR_GET_THP_DISABLE = 42;
export const PR_SET_TAGGED_ADDR_CTRL = 55;
export const PR_GET_TAGGED_ADDR_CTRL = 56;
export const PR_SET_MDWE = 65;
export const PR_GET_MDWE = 66;
export const PR_SET_PTRACER = 0x59616d61;
export const PR_SET_VMA = 0x53564d41;

/** The default timer slack, 50 µs. */
const TIMER_SLACK_NS = 50000;
/** CAP_LAST_CAP. */
const CAP_LAST_CAP = 40;

function prctl(p: LinuxProcess, a: readonly U64[]): number {
  const option = argInt(a[0]!);
  const arg2 = argUlong(a[1]!);
  const rest = [argUlong(a[2]!), argUlong(a[3]!), argUlong(a[4]!)];
  const restZero = rest.every((x) => x === 0);
  const flags = processFlags(p);
  const putInt = (va: number, v: number): number => putUser(p.mm, va, new StructWriter(4).i32(0, v).bytes);
  switch (option) {
    case PR_SET_PDEATHSIG:
      if (arg2 > NSIG) return -EINVAL;
      setPdeathSignal(p.current, arg2);
      return 0;
    case PR_GET_PDEATHSIG:
      return putInt(arg2, pdeathSignal(p.current));
    case PR_GET_DUMPABLE:
      return flags.dumpable;
    case PR_SET_DUMPABLE:
      if (arg2 !== 0 && arg2 !== 1) return -EINVAL;
      flags.dumpable = arg2;
      return 0;
    case PR_GET_KEEPCAPS:
      return 0;
    case PR_SET_KEEPCAPS:
      return arg2 === 0 || arg2 === 1 ? 0 : -EINVAL;
    case PR_SET_NAME: {
      // strncpy_from_user of TASK_COMM_LEN - 1 bytes: a longer name is cut, not refused.
      const raw = p.mm.copyFromUser(arg2, 1) === null ? null : readUpTo(p, arg2, TASK_COMM_LEN - 1);
      if (raw === null) return -EFAULT;
      setTaskComm(p.current, raw);
      return 0;
    }
    case PR_GET_NAME: {
      const b = new Uint8Array(TASK_COMM_LEN);
      b.set(new TextEncoder().encode(taskComm(p.current)).subarray(0, TASK_COMM_LEN - 1));
      return putUser(p.mm, arg2, b);
    }
    case PR_GET_SECCOMP:
      return 0;
    case PR_CAPBSET_READ:
      return arg2 <= CAP_LAST_CAP ? 1 : -EINVAL;
    case PR_GET_TIMERSLACK:
      return TIMER_SLACK_NS;
    case PR_SET_TIMERSLACK:
      return 0;
    case PR_SET_MM:
      return p.ids.uid === 0 ? -EINVAL : -EPERM;
    case PR_SET_CHILD_SUBREAPER:
      flags.childSubreaper = arg2 !== 0;
      return 0;
    case PR_GET_CHILD_SUBREAPER:
      return putInt(arg2, flags.childSubreaper ? 1 : 0);
    case PR_SET_NO_NEW_PRIVS:
      if (arg2 !== 1 || !restZero) return -EINVAL;
      flags.noNewPrivs = true;
      return 0;
    case PR_GET_NO_NEW_PRIVS:
      if (arg2 !== 0 || !restZero) return -EINVAL;
      return flags.noNewPrivs ? 1 : 0;
    case PR_SET_THP_DISABLE:
      if (!restZero) return -EINVAL;
      flags.thpDisable = arg2 !== 0;
      return 0;
    case PR_GET_THP_DISABLE:
      if (arg2 !== 0 || !restZero) return -EINVAL;
      return flags.thpDisable ? 1 : 0;
    case PR_GET_TAGGED_ADDR_CTRL:
      return arg2 === 0 && restZero ? 0 : -EINVAL;
    case PR_SET_TAGGED_ADDR_CTRL:
      // Only "untagged", which is what every task already has: tagged pointers work for loads
      // and stores (TBI0) and address-space calls, but system calls that access user memory do
      // not take them (EFAULT), as on a kernel booted with abi.tagged_addr_disabled = 1, whose
      // prctl refuses PR_TAGGED_ADDR_ENABLE with EINVAL.
      return arg2 === 0 && restZero ? 0 : -EINVAL;
    case PR_SET_MDWE: {
      if (!restZero) return -EINVAL;
      if ((arg2 & ~(PR_MDWE_REFUSE_EXEC_GAIN | PR_MDWE_NO_INHERIT)) !== 0) return -EINVAL;
      if ((arg2 & PR_MDWE_NO_INHERIT) !== 0 && (arg2 & PR_MDWE_REFUSE_EXEC_GAIN) === 0) return -EINVAL;
      // Once set, the flags cannot be cleared or changed.
      if (flags.mdwe !== 0 && flags.mdwe !== arg2) return -EPERM;
      flags.mdwe = arg2;
      return 0;
    }
    case PR_GET_MDWE:
      if (arg2 !== 0 || !restZero) return -EINVAL;
      return flags.mdwe;
    case PR_SET_PTRACER:
      return 0;
    case PR_SET_VMA:
      return -EINVAL;
    default:
      return -EINVAL;
  }
}

/** Up to `max` bytes of a string (stopping at NUL or at the first byte that cannot be read). */
function readUpTo(p: LinuxProcess, va: number, max: number): string {
  const out: number[] = [];
  for (let i = 0; i < max; i++) {
    const b = p.mm.copyFromUser(va + i, 1);
    if (b === null || b[0] === 0) break;
    out.push(b[0]!);
  }
  return new TextDecoder().decode(new Uint8Array(out));
}

const _LINUX_CAPABILITY_VERSION_1 = 0x19980330;
const _LINUX_CAPABILITY_VERSION_2 = 0x20071026;
const _LINUX_CAPABILITY_VERSION_3 = 0x20080522;

/** cap_validate_magic: the number of 32-bit words per set, or -EINVAL after writing version 3. */
function capWords(p: LinuxProcess, hdrVa: number): { words: number; pid: number } | number {
  const raw = getUser(p.mm, hdrVa, 8);
  if (raw === null) return -EFAULT;
  const r = new StructReader(raw);
  const version = r.u32(0);
  const pid = r.i32(4);
  switch (version) {
    case _LINUX_CAPABILITY_VERSION_1:
      return { words: 1, pid };
    case _LINUX_CAPABILITY_VERSION_2:
    case _LINUX_CAPABILITY_VERSION_3:
      return { words: 2, pid };
    default: {
      const w = putUser(p.mm, hdrVa, new StructWriter(4).u32(0, _LINUX_CAPABILITY_VERSION_3).bytes);
      return w < 0 ? w : -EINVAL;
    }
  }
}

function capget(p: LinuxProcess, a: readonly U64[]): number {
  const hdr = argPtr(a[0]!);
  const data = argPtr(a[1]!);
  const v = capWords(p, hdr);
  if (typeof v === 'number') return data === 0 && v === -EINVAL ? 0 : v;
  if (data === 0) return 0;
  if (v.pid < 0) return -EINVAL;
  if (v.pid !== 0 && v.pid !== p.pid) return -ESRCH;
  const s = capabilities(p);
  const w = new StructWriter(12 * v.words);
  for (let i = 0; i < v.words; i++) {
    const shift = BigInt(32 * i);
    w.u32(i * 12, Number((s.eff >> shift) & 0xffffffffn))
      .u32(i * 12 + 4, Number((s.prm >> shift) & 0xffffffffn))
      .u32(i * 12 + 8, Number((s.inh >> shift) & 0xffffffffn));
  }
  return putUser(p.mm, data, w.bytes);
}

/**
 * capset (kernel/capability.c, security/commoncap.c cap_capset, v6.12): the new permitted set
 * within the old, effective within the new permitted, inheritable within old inheritable plus
 * permitted (CAP_SETPCAP and the bounding set are not modelled: the bounding set is full).
 */
function capset(p: LinuxProcess, a: readonly U64[]): number {
  const v = capWords(p, argPtr(a[0]!));
  if (typeof v === 'number') return v;
  if (v.pid !== 0 && v.pid !== p.pid) return -EPERM;
  const raw = getUser(p.mm, argPtr(a[1]!), 12 * v.words);
  if (raw === null) return -EFAULT;
  const r = new StructReader(raw);
  let eff = 0n;
  let prm = 0n;
  let inh = 0n;
  for (let i = 0; i < v.words; i++) {
    const shift = BigInt(32 * i);
    eff |= BigInt(r.u32(i * 12)) << shift;
    prm |= BigInt(r.u32(i * 12 + 4)) << shift;
    inh |= BigInt(r.u32(i * 12 + 8)) << shift;
  }
  const have = capabilities(p);
  if ((prm & ~have.prm) !== 0n || (eff & ~prm) !== 0n || (inh & ~(have.inh | have.prm)) !== 0n) return -EPERM;
  have.eff = eff & CAP_FULL_SET;
  have.prm = prm & CAP_FULL_SET;
  have.inh = inh & CAP_FULL_SET;
  return 0;
}

/** struct sysinfo on a 64-bit kernel: 112 bytes, mem_unit 1. */
function sysinfo(p: LinuxProcess, a: readonly U64[]): number {
  const host = p.procHost;
  const k = host.kernel;
  const mono = p.clock.peekMonotonicNs();
  const uptime = mono / NSEC_PER_SEC + (mono % NSEC_PER_SEC !== 0n ? 1n : 0n);
  const threads = host.processes().reduce((n, q) => n + q.threads.filter((t) => t.state !== 'dead').length, 0);
  const w = new StructWriter(112)
    .u64(0, uptime)
    .u64(32, BigInt((k?.buddy.poolPages ?? 0) * 4096))
    .u64(40, BigInt((k?.buddy.freePages ?? 0) * 4096))
    .u16(80, Math.min(threads, 0xffff))
    .u32(104, 1);
  return putUser(p.mm, argPtr(a[0]!), w.bytes);
}

const RUSAGE_SELF = 0;
const RUSAGE_CHILDREN = -1;
const RUSAGE_THREAD = 1;

/**
 * getrusage: user time is the process's virtual CPU time, system time 0; ru_maxrss the current
 * resident set (no high-water mark is kept); ru_minflt the machine's page faults (one process).
 */
function getrusage(p: LinuxProcess, a: readonly U64[]): number {
  const who = argInt(a[0]!);
  if (who !== RUSAGE_SELF && who !== RUSAGE_CHILDREN && who !== RUSAGE_THREAD) return -EINVAL;
  const w = new StructWriter(144);
  if (who !== RUSAGE_CHILDREN) {
    const cpu = p.clock.peekMonotonicNs() - DEFAULT_BOOT_NS;
    const us = cpu > 0n ? cpu / 1000n : 0n;
    w.u64(0, us / 1_000_000n).u64(8, us % 1_000_000n);
    w.u64(32, BigInt(Math.floor(rssBytes(p) / 1024)));
    const faults = p.telemetry.stats.group('fault') as { total?: number } | undefined;
    w.u64(64, BigInt(faults?.total ?? 0));
  }
  return putUser(p.mm, argPtr(a[1]!), w.bytes);
}

export const sysSyscalls: SyscallHandlers = { prctl, capget, capset, sysinfo, getrusage };
