/**
 * Address-space system calls: mmap, munmap, mprotect, madvise, brk, mremap, msync, mlock,
 * mlock2, munlock, mlockall, munlockall, mincore. The memory manager does the
 * work and the checks on addresses, lengths and flags (it returns Linux values); this layer does
 * what the kernel does before reaching the mm: the offset check of arm64's sys_mmap, the file
 * lookup and its access-mode checks of ksys_mmap_pgoff/do_mmap, and /dev/zero, whose private
 * mappings are anonymous memory and whose shared ones are shared anonymous memory (mmap_zero).
 */
import { PROT_EXEC, PROT_WRITE, type ProcessMemory } from '../../mm/api.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, VM_EXEC } from '../../mm/vma.js';
import { capable, CAP_IPC_LOCK, PR_MDWE_REFUSE_EXEC_GAIN, processFlags } from '../extras.js';
import { RLIMIT_MEMLOCK } from '../rlimit.js';
import type { U64 } from '../../util/u64.js';
import { EACCES, EBADF, EFAULT, EINVAL, ENODEV, ENOMEM } from '../../util/errno.js';
import { O_APPEND } from '../file.js';
import type { LinuxProcess } from '../process.js';
import { argInt, argUint, argUlong, argUntagged } from './args.js';
import type { SyscallHandlers } from './outcome.js';

const PAGE_SIZE = 4096;
const MAP_TYPE = 0x0f;
const MAP_SHARED_VALIDATE = 0x03;

/**
 * map_deny_write_exec (include/linux/mman.h, v6.12) under PR_SET_MDWE: no mapping may become
 * writable and executable, nor executable when it was not. `oldExec` is whether the VMA was.
 */
function mdweDenies(p: LinuxProcess, prot: number, oldExec: boolean): boolean {
  if ((processFlags(p).mdwe & PR_MDWE_REFUSE_EXEC_GAIN) === 0) return false;
  if ((prot & PROT_EXEC) === 0) return false;
  if ((prot & PROT_WRITE) !== 0) return true;
  return !oldExec;
}

/**
 * The mm with the caller's RLIMIT_MEMLOCK and CAP_IPC_LOCK in place, for the calls that may lock
 * memory (can_do_mlock and mlock_future_ok read them from `current`).
 */
export function lockingMm(p: LinuxProcess): ProcessMemory {
  const mm = p.mm;
  mm.memlock = { limit: p.limits.curNumber(RLIMIT_MEMLOCK), capIpcLock: capable(p, CAP_IPC_LOCK) };
  return mm;
}

/** MAP_HUGETLB (include/uapi/asm-generic/mman-common.h). */
const MAP_HUGETLB = 0x40000;

function mmap(p: LinuxProcess, a: readonly U64[]): number {
  const addr = argUlong(a[0]!);
  const len = argUlong(a[1]!);
  // prot and flags are unsigned long, but every defined bit is in the low half.
  const prot = a[2]!.lo >>> 0;
  let flags = a[3]!.lo >>> 0;
  // mmap_region checks the new VMA against itself: only writable-and-executable is refused.
  if (mdweDenies(p, prot, true)) return -EACCES;
  const off = argUlong(a[5]!);
  if (off % PAGE_SIZE !== 0) return -EINVAL;
  const pgoff = off / PAGE_SIZE;
  if ((flags & MAP_HUGETLB) !== 0) {
    // ksys_mmap_pgoff: anonymous hugetlb memory needs reserved huge pages, and the model's
    // hugetlb pools are empty (nr_hugepages accepts only 0): hugetlb_reserve_pages fails with
    // ENOMEM. A file not on hugetlbfs refuses the flag.
    return (flags & MAP_ANONYMOUS) !== 0 ? -ENOMEM : -EINVAL;
  }
  if ((flags & MAP_ANONYMOUS) !== 0) return lockingMm(p).mmap({ addr, len, prot, flags, file: null, pgoff });

  const entry = p.fds.get(argUint(a[4]!));
  if (entry === null) return -EBADF;
  const f = entry.file;
  if (f.pathOnly) return -EBADF;
  const node = f.node;
  if (node.kind === 'chr' && node.device === 'zero') {
    flags |= MAP_ANONYMOUS;
    return lockingMm(p).mmap({ addr, len, prot, flags, file: null, pgoff: (flags & MAP_TYPE) === MAP_PRIVATE ? pgoff : 0 });
  }
  if (node.kind !== 'reg') return -ENODEV;
  // do_mmap's file checks, for the map types it knows; others fail in the mm with EINVAL.
  const type = flags & MAP_TYPE;
  if (type === MAP_SHARED || type === MAP_SHARED_VALIDATE || type === MAP_PRIVATE) {
    if (!f.readable) return -EACCES;
    if (type !== MAP_PRIVATE && (prot & PROT_WRITE) !== 0) {
      if (!f.writable) return -EACCES;
      if ((f.flags & O_APPEND) !== 0) return -EACCES;
    }
  }
  return lockingMm(p).mmap({ addr, len, prot, flags, file: node.inode, fileWritable: f.writable, pgoff, fileNlink: node.nlink });
}

function munmap(p: LinuxProcess, a: readonly U64[]): number {
  return p.mm.munmap(argUntagged(a[0]!), argUlong(a[1]!));
}

function mprotect(p: LinuxProcess, a: readonly U64[]): number {
  // Bits above the defined PROT_* values (all in the low half) are refused by the mm.
  const prot = a[2]!.hi !== 0 ? -1 >>> 0 : a[2]!.lo >>> 0;
  if (mdweDenies(p, prot, true)) return -EACCES;
  const start = argUntagged(a[0]!);
  const end = start + argUlong(a[1]!);
  // Gaining PROT_EXEC: checked on every VMA of the range before any changes (the kernel stops at
  // the first VMA that may not, having changed those before it).
  const vmas = p.mm.inspect?.().vmas() ?? [];
  for (const v of vmas) {
    if (v.end <= start || v.start >= end) continue;
    if (mdweDenies(p, prot, (v.flags & VM_EXEC) !== 0)) return -EACCES;
  }
  return p.mm.mprotect(start, argUlong(a[1]!), prot);
}

function madvise(p: LinuxProcess, a: readonly U64[]): number {
  return p.mm.madvise(argUntagged(a[0]!), argUlong(a[1]!), argInt(a[2]!));
}

function brk(p: LinuxProcess, a: readonly U64[]): number {
  return lockingMm(p).brk(argUlong(a[0]!));
}

function mremap(p: LinuxProcess, a: readonly U64[]): number {
  return lockingMm(p).mremap(argUntagged(a[0]!), argUlong(a[1]!), argUlong(a[2]!), argUlong(a[3]!), argUlong(a[4]!));
}

function msync(p: LinuxProcess, a: readonly U64[]): number {
  return p.mm.msync(argUntagged(a[0]!), argUlong(a[1]!), argInt(a[2]!));
}

function mlock(p: LinuxProcess, a: readonly U64[]): number {
  return lockingMm(p).mlock(argUntagged(a[0]!), argUlong(a[1]!));
}

function mlock2(p: LinuxProcess, a: readonly U64[]): number {
  return lockingMm(p).mlock2(argUntagged(a[0]!), argUlong(a[1]!), argInt(a[2]!));
}

function munlock(p: LinuxProcess, a: readonly U64[]): number {
  return lockingMm(p).munlock(argUntagged(a[0]!), argUlong(a[1]!));
}

function mlockall(p: LinuxProcess, a: readonly U64[]): number {
  return lockingMm(p).mlockall(argInt(a[0]!));
}

function munlockall(p: LinuxProcess): number {
  return lockingMm(p).munlockall();
}

/** mincore: the vector must lie below TASK_SIZE (access_ok, EFAULT) before the walk. */
function mincore(p: LinuxProcess, a: readonly U64[]): number {
  const start = argUntagged(a[0]!);
  const len = argUlong(a[1]!);
  const vec = argUlong(a[2]!);
  if (start % PAGE_SIZE !== 0) return -EINVAL;
  const r = p.mm.mincore(start, len);
  if (typeof r === 'number') return r;
  if (r.length > 0 && p.mm.copyToUser(vec, r) !== r.length) return -EFAULT;
  return 0;
}

export const memorySyscalls: SyscallHandlers = { mmap, munmap, mprotect, madvise, brk, mremap, msync, mlock, mlock2, munlock, mlockall, munlockall, mincore };
