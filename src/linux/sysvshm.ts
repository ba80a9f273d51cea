/**
 * System V shared memory (ipc/shm.c, ipc/util.c, v6.12): segments named by a key or private,
 * each a shmem file of its own (shmem_kernel_file_setup: tmpfs pages, no name) that shmat maps
 * MAP_SHARED through the memory manager, like shared anonymous memory. One namespace per
 * machine.
 *
 * - Ids: the slot index allocated cyclically (idr_alloc_cyclic) plus the sequence number, which
 *   grows each time allocation wraps, shifted by IPCMNI_SHIFT (15), as ipc_idr_alloc makes them.
 * - Attaches: shm_nattch counts the VMAs that map the segment, in every live process, exactly
 *   what the kernel's shm_open/shm_close keep (fork and VMA splits add, munmap, exit and exec
 *   remove); the model counts them when asked. A segment marked for removal (IPC_RMID, SHM_DEST)
 *   is destroyed, its pages freed, when the last VMA goes (the mm's VMA-close hook).
 * - Permissions: ipcperms (owner, group, other bits; CAP_IPC_OWNER bypasses), and IPC_RMID /
 *   IPC_SET for the owner, the creator or CAP_SYS_ADMIN. Times are the realtime clock in seconds.
 *
 * Not modelled: SHM_HUGETLB (no huge pages reserved: ENOMEM, as a kernel with nr_hugepages 0),
 * the fork-time shm_atime/shm_lprid update shm_open makes, and per-namespace sysctls other than
 * the defaults (shmmax, shmall, shmmni).
 */
import type { MmKernel } from '../mm/kernel.js';
import type { Inode } from '../mm/inode.js';
import { EINVAL, ENOMEM, ENOSPC } from '../util/errno.js';
import type { ProcHost } from './prochost.js';

export const IPC_PRIVATE = 0;
export const IPC_CREAT = 0o1000;
export const IPC_EXCL = 0o2000;
export const IPC_RMID = 0;
export const IPC_SET = 1;
export const IPC_STAT = 2;
export const IPC_INFO = 3;
export const SHM_LOCK = 11;
export const SHM_UNLOCK = 12;
export const SHM_STAT = 13;
export const SHM_INFO = 14;
export const SHM_STAT_ANY = 15;
export const SHM_HUGETLB = 0o4000;
export const SHM_RDONLY = 0o10000;
export const SHM_RND = 0o20000;
export const SHM_REMAP = 0o40000;
export const SHM_EXEC = 0o100000;
/** shm_perm.mode bits the kernel adds: marked for removal, and SHM_LOCKed. */
export const SHM_DEST = 0o1000;
export const SHM_LOCKED = 0o2000;

/** include/uapi/linux/shm.h and ipc/util.h defaults. */
export const SHMMIN = 1;
export const SHMMNI = 4096;
export const SHMMAX = 2 ** 64 - 2 ** 24;
export const SHMALL = 2 ** 64 - 2 ** 24;
/** arm64's SHMLBA for native tasks (asm-generic/shmparam.h): one page. */
export const SHMLBA = 4096;
const IPCMNI_SHIFT = 15;
const IPCMNI = 1 << IPCMNI_SHIFT;
const IPCID_SEQ_MAX = 2 ** 31 / IPCMNI - 1;

export interface ShmSegment {
  readonly idx: number;
  readonly seq: number;
  /** The key it was created with (IPC_PRIVATE after IPC_RMID). */
  key: number;
  uid: number;
  gid: number;
  readonly cuid: number;
  readonly cgid: number;
  /** Permission bits, SHM_DEST and SHM_LOCKED. */
  mode: number;
  readonly segsz: number;
  readonly file: Inode;
  atime: number;
  dtime: number;
  ctime: number;
  readonly cpid: number;
  lpid: number;
  /** Destroyed: its slot is free and its pages gone. */
  dead: boolean;
}

export const shmId = (s: ShmSegment): number => s.seq * IPCMNI + s.idx;

/** The caller as the permission checks see it. */
export interface IpcCaller {
  readonly uid: number;
  readonly gid: number;
  /** CAP_IPC_OWNER, CAP_SYS_ADMIN, CAP_IPC_LOCK. */
  readonly ipcOwner: boolean;
  readonly sysAdmin: boolean;
  readonly ipcLock: boolean;
}

const PAGE_SIZE = 4096;

export class ShmNamespace {
  private readonly slots = new Map<number, ShmSegment>();
  private lastIdx = -1;
  private seq = 0;
  /** ns->shm_tot: pages of all segments. */
  private totPages = 0;
  /** user->locked_shm by uid (SHM_LOCK accounting, user_shm_lock). */
  private readonly lockedShm = new Map<number, number>();

  constructor(
    private readonly kernel: MmKernel,
    private readonly nowSeconds: () => number,
    private readonly currentPid: () => number,
  ) {}

  /** The live segments, by index. */
  segments(): ShmSegment[] {
    return [...this.slots.values()].sort((a, b) => a.idx - b.idx);
  }

  get totalPages(): number {
    return this.totPages;
  }

  /** shm_nattch: VMAs mapping the segment in live processes. */
  nattch(s: ShmSegment): number {
    return this.kernel.mappingCount(s.file);
  }

  byKey(key: number): ShmSegment | null {
    for (const s of this.slots.values()) if (s.key === key && !(s.mode & SHM_DEST)) return s;
    return null;
  }

  /** shm_obtain_object_check: the segment with this id, or null (EINVAL). */
  byId(id: number): ShmSegment | null {
    if (id < 0) return null;
    const s = this.slots.get(id % IPCMNI);
    return s !== undefined && s.seq === Math.floor(id / IPCMNI) ? s : null;
  }

  /** shm_obtain_object (SHM_STAT): by slot index. */
  byIndex(idx: number): ShmSegment | null {
    return this.slots.get(idx) ?? null;
  }

  get highestIndex(): number {
    let hi = -1;
    for (const i of this.slots.keys()) hi = Math.max(hi, i);
    return hi;
  }

  /** newseg: a new segment, or -errno. */
  create(key: number, size: number, mode: number, caller: IpcCaller, pid: number): ShmSegment | number {
    if (size < SHMMIN || size > SHMMAX) return -EINVAL;
    const pages = Math.ceil(size / PAGE_SIZE);
    if (this.totPages + pages > SHMALL / PAGE_SIZE) return -ENOSPC;
    if (this.slots.size >= SHMMNI) return -ENOSPC;
    const idx = this.allocIdx();
    if (idx < 0) return -ENOSPC;
    const file = this.kernel.newInode({ fsType: 'tmpfs', size });
    const now = this.nowSeconds();
    const s: ShmSegment = {
      idx, seq: this.seq, key, uid: caller.uid, gid: caller.gid, cuid: caller.uid, cgid: caller.gid, mode: mode & 0o777,
      segsz: size, file, atime: 0, dtime: 0, ctime: now, cpid: pid, lpid: 0, dead: false,
    };
    this.slots.set(idx, s);
    this.totPages += pages;
    this.kernel.onVmaClose(file, () => this.vmaClosed(s));
    return s;
  }

  /** ipc_idr_alloc: cyclic slot allocation; the sequence grows when it wraps. */
  private allocIdx(): number {
    for (let n = 1; n <= IPCMNI; n++) {
      const idx = (this.lastIdx + n) % IPCMNI;
      if (this.slots.has(idx)) continue;
      if (idx <= this.lastIdx) this.seq = this.seq + 1 > IPCID_SEQ_MAX ? 0 : this.seq + 1;
      this.lastIdx = idx;
      return idx;
    }
    return -1;
  }

  /** A mapping of the segment went (shm_close): record it, and destroy a removed segment with nothing attached. */
  private vmaClosed(s: ShmSegment): void {
    if (s.dead) return;
    s.dtime = this.nowSeconds();
    s.lpid = this.currentPid();
    this.mayDestroy(s);
  }

  /** shm_may_destroy: removed (or orphaned, not modelled) and unattached. */
  mayDestroy(s: ShmSegment): void {
    if (!s.dead && s.mode & SHM_DEST && this.nattch(s) === 0) this.destroy(s);
  }

  /** shm_destroy: the slot is freed and the shmem file's pages dropped. */
  private destroy(s: ShmSegment): void {
    s.dead = true;
    this.slots.delete(s.idx);
    this.totPages -= Math.ceil(s.segsz / PAGE_SIZE);
    if (s.mode & SHM_LOCKED) this.unlockAccount(s);
    this.kernel.onVmaClose(s.file, null);
    this.kernel.truncate(s.file, 0);
  }

  /** IPC_RMID: gone now if nothing is attached, else when the last attach goes; the key is released at once. */
  remove(s: ShmSegment): void {
    s.mode |= SHM_DEST;
    s.key = IPC_PRIVATE;
    this.mayDestroy(s);
  }

  /** SHM_LOCK / SHM_UNLOCK: user_shm_lock against RLIMIT_MEMLOCK (0 or -ENOMEM). */
  lock(s: ShmSegment, lock: boolean, caller: IpcCaller, memlockLimit: number): number {
    if (lock) {
      if (s.mode & SHM_LOCKED) return 0;
      const pages = Math.ceil(s.segsz / PAGE_SIZE);
      const have = this.lockedShm.get(s.uid) ?? 0;
      if (!caller.ipcLock && have + pages > Math.floor(memlockLimit / PAGE_SIZE)) return -ENOMEM;
      this.lockedShm.set(s.uid, have + pages);
      s.mode |= SHM_LOCKED;
      return 0;
    }
    if (s.mode & SHM_LOCKED) {
      this.unlockAccount(s);
      s.mode &= ~SHM_LOCKED;
    }
    return 0;
  }

  private unlockAccount(s: ShmSegment): void {
    const pages = Math.ceil(s.segsz / PAGE_SIZE);
    this.lockedShm.set(s.uid, Math.max(0, (this.lockedShm.get(s.uid) ?? 0) - pages));
  }

  /** Pages of the segments resident in memory (SHM_INFO's shm_rss). */
  residentPages(): number {
    let n = 0;
    for (const s of this.slots.values()) n += s.file.mapping.nrpages;
    return n;
  }
}

/** ipcperms: may the caller access with `want` (an rwx triple, as in S_IRUGO >> 6 ...)? */
export function ipcPermits(s: ShmSegment, caller: IpcCaller, want: number): boolean {
  let granted = s.mode;
  if (caller.uid === s.cuid || caller.uid === s.uid) granted >>= 6;
  else if (caller.gid === s.cgid || caller.gid === s.gid) granted >>= 3;
  return (want & ~granted & 7) === 0 || caller.ipcOwner;
}

/** ipcctl_obtain_check's owner test (IPC_RMID, IPC_SET). */
export function ipcOwns(s: ShmSegment, caller: IpcCaller): boolean {
  return caller.uid === s.cuid || caller.uid === s.uid || caller.sysAdmin;
}

const namespaces = new WeakMap<ProcHost, ShmNamespace>();

/** The machine's SysV shm namespace (one per ProcHost, which every process of a machine shares). */
export function shmNamespace(host: ProcHost, nowSeconds: () => number, currentPid: () => number): ShmNamespace | null {
  let ns = namespaces.get(host);
  if (ns === undefined) {
    if (host.kernel === null) return null;
    ns = new ShmNamespace(host.kernel, nowSeconds, currentPid);
    namespaces.set(host, ns);
  }
  return ns;
}

/** An existing namespace, for /proc/sysvipc/shm (none yet: nothing to show). */
export function existingShmNamespace(host: ProcHost): ShmNamespace | null {
  return namespaces.get(host) ?? null;
}
