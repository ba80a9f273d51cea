/**
 * shmget, shmat, shmdt, shmctl (ipc/shm.c ksys_shmget/do_shmat/ksys_shmdt/ksys_shmctl, v6.12)
 * over the machine's SysV shm namespace (../sysvshm.ts). shmat maps the segment's shmem file
 * MAP_SHARED through the memory manager (do_mmap, counted as an mmap call, as the kernel's
 * do_shmat calls do_mmap); shmdt unmaps the segment's VMAs from inside the kernel (do_vma_munmap,
 * not a munmap call). arm64 takes the commands without IPC_64 (no ipc_parse_version).
 */
import { PROT_EXEC, PROT_READ, PROT_WRITE } from '../../mm/api.js';
import { MAP_FIXED, MAP_SHARED } from '../../mm/vma.js';
import type { Vma } from '../../mm/vma.js';
import type { U64 } from '../../util/u64.js';
import { EACCES, EEXIST, EFAULT, EIDRM, EINVAL, ENOENT, ENOMEM, EPERM } from '../../util/errno.js';
import { capable, CAP_IPC_LOCK } from '../extras.js';
import type { LinuxProcess } from '../process.js';
import { RLIMIT_MEMLOCK } from '../rlimit.js';
import {
  IPC_CREAT, IPC_EXCL, IPC_INFO, IPC_PRIVATE, IPC_RMID, IPC_SET, IPC_STAT, ipcOwns, ipcPermits, SHM_EXEC, SHM_HUGETLB, SHM_INFO,
  SHM_LOCK, SHM_RDONLY, SHM_REMAP, SHM_RND, SHM_STAT, SHM_STAT_ANY, SHM_UNLOCK, SHMALL, SHMLBA, SHMMAX, SHMMIN, SHMMNI, shmId,
  shmNamespace, type IpcCaller, type ShmNamespace, type ShmSegment,
} from '../sysvshm.js';
import { getUser, putUser, StructReader, StructWriter } from '../uaccess.js';
import { argInt, argUlong } from './args.js';
import { lockingMm } from './memory.js';
import type { SyscallHandlers } from './outcome.js';

const CAP_IPC_OWNER = 15;
const CAP_SYS_ADMIN = 21;
const PAGE_SIZE = 4096;
const S_IRUGO = 4;
const S_IWUGO = 2;
const S_IXUGO = 1;

function caller(p: LinuxProcess): IpcCaller {
  return {
    uid: p.ids.uid,
    gid: p.ids.gid,
    ipcOwner: capable(p, CAP_IPC_OWNER),
    sysAdmin: capable(p, CAP_SYS_ADMIN),
    ipcLock: capable(p, CAP_IPC_LOCK),
  };
}

function ns(p: LinuxProcess): ShmNamespace | null {
  return shmNamespace(p.procHost, () => Number(p.clock.peekRealtimeNs() / 1_000_000_000n), () => p.procHost.current().pid);
}

/** shmget: ipcget with newseg for IPC_PRIVATE or a missing key under IPC_CREAT. */
function shmget(p: LinuxProcess, a: readonly U64[]): number {
  const key = argInt(a[0]!);
  const size = argUlong(a[1]!);
  const flg = argInt(a[2]!);
  const n = ns(p);
  if (n === null) return -ENOMEM;
  const who = caller(p);
  // SHM_HUGETLB: hugetlb_file_setup finds no reserved huge pages. SHM_NORESERVE changes
  // nothing the model accounts.
  if (flg & SHM_HUGETLB) return -ENOMEM;
  if (key === IPC_PRIVATE) return created(n.create(key, size, flg, who, p.pid));
  const s = n.byKey(key);
  if (s === null) {
    if (!(flg & IPC_CREAT)) return -ENOENT;
    return created(n.create(key, size, flg, who, p.pid));
  }
  if (flg & IPC_CREAT && flg & IPC_EXCL) return -EEXIST;
  // shm_more_checks, then ipc_check_perms with the mode bits asked for.
  if (s.segsz < size) return -EINVAL;
  if (!ipcPermits(s, who, (flg >> 6) & 7)) return -EACCES;
  return shmId(s);
}

function created(r: ShmSegment | number): number {
  return typeof r === 'number' ? r : shmId(r);
}

/** The segment a VMA maps, if it is a SysV shm attach. */
function segmentOf(n: ShmNamespace, vma: Vma): ShmSegment | null {
  if (vma.file === null) return null;
  for (const s of n.segments()) if (s.file === vma.file) return s;
  return null;
}

/** do_shmat: the address the segment is mapped at, or -errno. */
function shmat(p: LinuxProcess, a: readonly U64[]): number {
  const id = argInt(a[0]!);
  let addr = argUlong(a[1]!);
  const flg = argInt(a[2]!);
  if (id < 0) return -EINVAL;
  let flags = MAP_SHARED;
  if (addr !== 0) {
    if (addr % SHMLBA !== 0) {
      if (flg & SHM_RND) {
        addr -= addr % SHMLBA;
        if (addr === 0 && flg & SHM_REMAP) return -EINVAL;
      } else if (addr % PAGE_SIZE !== 0) return -EINVAL;
    }
    flags |= MAP_FIXED;
  } else if (flg & SHM_REMAP) return -EINVAL;
  let prot = PROT_READ;
  let want = S_IRUGO;
  if (!(flg & SHM_RDONLY)) {
    prot |= PROT_WRITE;
    want |= S_IWUGO;
  }
  if (flg & SHM_EXEC) {
    prot |= PROT_EXEC;
    want |= S_IXUGO;
  }
  const n = ns(p);
  const s = n?.byId(id) ?? null;
  if (n === null || s === null) return -EINVAL;
  if (!ipcPermits(s, caller(p), want)) return -EACCES;
  if (s.dead) return -EIDRM;
  const mm = lockingMm(p);
  if (addr !== 0 && !(flg & SHM_REMAP)) {
    const end = addr + Math.ceil(s.segsz / PAGE_SIZE) * PAGE_SIZE;
    if (!Number.isSafeInteger(end)) return -EINVAL;
    const overlaps = (mm.inspect?.().vmas() ?? []).some((v) => v.start < end && v.end > addr);
    if (overlaps) return -EINVAL;
  }
  const r = mm.mmap({ addr, len: s.segsz, prot, flags, file: s.file, fileWritable: !(flg & SHM_RDONLY), pgoff: 0, fileNlink: 1 });
  if (r < 0) {
    n.mayDestroy(s);
    return r;
  }
  s.atime = Number(p.clock.peekRealtimeNs() / 1_000_000_000n);
  s.lpid = p.pid;
  return r;
}

/** ksys_shmdt: the VMAs of the segment attached at addr, fragments included; EINVAL if none. */
function shmdt(p: LinuxProcess, a: readonly U64[]): number {
  const addr = argUlong(a[0]!);
  if (addr % PAGE_SIZE !== 0) return -EINVAL;
  const n = ns(p);
  const mm = p.mm;
  if (n === null || mm.inspect === undefined || mm.unmapRange === undefined) return -EINVAL;
  const vmas = [...mm.inspect().vmas()].filter((v) => v.start >= addr);
  const isAttachAt = (v: Vma): ShmSegment | null => {
    const s = segmentOf(n, v);
    return s !== null && (v.start - addr) / PAGE_SIZE === v.pgoff ? s : null;
  };
  let i = 0;
  let seg: ShmSegment | null = null;
  for (; i < vmas.length; i++) {
    seg = isAttachAt(vmas[i]!);
    if (seg !== null) break;
  }
  if (seg === null) return -EINVAL;
  const size = Math.ceil(seg.segsz / PAGE_SIZE) * PAGE_SIZE;
  const unmap = (v: Vma): void => p.telemetry.calls.within('do_vma_munmap', () => mm.unmapRange!(v.start, v.end - v.start));
  unmap(vmas[i]!);
  // Fragments (after mprotect or a partial munmap) further on, within the segment's size.
  for (i++; i < vmas.length && vmas[i]!.end - addr <= size; i++) {
    if (isAttachAt(vmas[i]!) === seg) unmap(vmas[i]!);
  }
  return 0;
}

/** struct shmid64_ds (asm-generic, 64-bit): 112 bytes. */
function shmidDs(n: ShmNamespace, s: ShmSegment): Uint8Array {
  return new StructWriter(112)
    .i32(0, s.key)
    .u32(4, s.uid)
    .u32(8, s.gid)
    .u32(12, s.cuid)
    .u32(16, s.cgid)
    .u32(20, s.mode)
    .u16(24, s.seq & 0xffff)
    .u64(48, s.segsz)
    .u64(56, s.atime)
    .u64(64, s.dtime)
    .u64(72, s.ctime)
    .i32(80, s.cpid)
    .i32(84, s.lpid)
    .u64(88, n.nattch(s)).bytes;
}

function shmctl(p: LinuxProcess, a: readonly U64[]): number {
  const id = argInt(a[0]!);
  const cmd = argInt(a[1]!);
  const buf = argUlong(a[2]!);
  if (id < 0 || cmd < 0) return -EINVAL;
  const n = ns(p);
  if (n === null) return -EINVAL;
  const who = caller(p);
  switch (cmd) {
    case IPC_INFO: {
      // struct shminfo64: shmmax, shmmin, shmmni, shmseg, shmall, then 4 unused.
      const w = new StructWriter(72).u64(0, BigInt(SHMMAX)).u64(8, SHMMIN).u64(16, SHMMNI).u64(24, SHMMNI).u64(32, BigInt(SHMALL));
      const r = putUser(p.mm, buf, w.bytes);
      return r < 0 ? r : Math.max(0, n.highestIndex);
    }
    case SHM_INFO: {
      // struct shm_info: used_ids, then shm_tot, shm_rss, shm_swp, swap_attempts, swap_successes.
      const w = new StructWriter(48).i32(0, n.segments().length).u64(8, n.totalPages).u64(16, n.residentPages());
      const r = putUser(p.mm, buf, w.bytes);
      return r < 0 ? r : Math.max(0, n.highestIndex);
    }
    case SHM_STAT:
    case SHM_STAT_ANY:
    case IPC_STAT: {
      const s = cmd === IPC_STAT ? n.byId(id) : n.byIndex(id);
      if (s === null) return -EINVAL;
      if (cmd !== SHM_STAT_ANY && !ipcPermits(s, who, S_IRUGO)) return -EACCES;
      const r = putUser(p.mm, buf, shmidDs(n, s));
      if (r < 0) return r;
      return cmd === IPC_STAT ? 0 : shmId(s);
    }
    case SHM_LOCK:
    case SHM_UNLOCK: {
      const s = n.byId(id);
      if (s === null) return -EINVAL;
      const limit = p.limits.curNumber(RLIMIT_MEMLOCK);
      if (!who.ipcLock) {
        if (who.uid !== s.uid && who.uid !== s.cuid) return -EPERM;
        if (cmd === SHM_LOCK && limit === 0) return -EPERM;
      }
      return n.lock(s, cmd === SHM_LOCK, who, limit);
    }
    case IPC_RMID:
    case IPC_SET: {
      const s = n.byId(id);
      if (s === null) return -EINVAL;
      let set: { uid: number; gid: number; mode: number } | null = null;
      if (cmd === IPC_SET) {
        const raw = getUser(p.mm, buf, 112);
        if (raw === null) return -EFAULT;
        const r = new StructReader(raw);
        set = { uid: r.u32(4), gid: r.u32(8), mode: r.u32(20) };
      }
      if (!ipcOwns(s, who)) return -EPERM;
      if (set === null) {
        n.remove(s);
        return 0;
      }
      s.uid = set.uid;
      s.gid = set.gid;
      s.mode = (s.mode & ~0o777) | (set.mode & 0o777);
      s.ctime = Number(p.clock.peekRealtimeNs() / 1_000_000_000n);
      return 0;
    }
    default:
      return -EINVAL;
  }
}

export const shmSyscalls: SyscallHandlers = { shmget, shmat, shmdt, shmctl };
