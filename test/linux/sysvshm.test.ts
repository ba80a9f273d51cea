/**
 * SysV shared memory over the real memory manager (ipc/shm.c, v6.12): ids, struct shmid64_ds
 * field by field, /proc/sysvipc/shm, shm_nattch as the VMAs that map a segment, destruction
 * (pages freed) at IPC_RMID or at the last detach, exit or exec, SHM_LOCK against
 * RLIMIT_MEMLOCK, and the counts: shmat is an mmap call, shmdt no munmap call.
 */
import { describe, expect, it } from 'vitest';
import { realMmRig } from './real-mm-rig.js';
import { existingShmNamespace, ipcPermits, type ShmSegment } from '../../src/linux/sysvshm.js';
import { EEXIST, EINVAL, ENOENT, ENOMEM } from '../../src/util/errno.js';

const dec = new TextDecoder();
const PAGE = 4096;
const IPC_PRIVATE = 0;
const IPC_CREAT = 0o1000;
const IPC_EXCL = 0o2000;
const IPC_RMID = 0;
const IPC_STAT = 2;
const IPC_INFO = 3;
const SHM_LOCK = 11;
const SHM_INFO = 14;
const SHM_HUGETLB = 0o4000;
const SHM_RDONLY = 0o10000;

function setup(uid = 1000) {
  const { k, mm, p, call, scratch } = realMmRig({ uid, cpus: 1 });
  const stat = (id: number): DataView | number => {
    const r = call('shmctl', id, IPC_STAT, scratch);
    if (r < 0) return r;
    const b = mm.copyFromUser(scratch, 112)!;
    return new DataView(b.buffer, b.byteOffset, 112);
  };
  const readAll = (path: string): string => {
    mm.copyToUser(scratch + 8192, new TextEncoder().encode(path + '\0'));
    const fd = call('openat', -100, scratch + 8192, 0, 0);
    const n = call('read', fd, scratch + 16384, 16384);
    call('close', fd);
    return dec.decode(mm.copyFromUser(scratch + 16384, n)!);
  };
  return { k, mm, p, call, scratch, stat, readAll };
}

describe('shmget, shmat, shmdt, shmctl', () => {
  it('ids, IPC_STAT field by field, nattch from the VMAs, /proc/sysvipc/shm', () => {
    const s = setup();
    expect(s.call('shmget', IPC_PRIVATE, 3 * PAGE + 100, 0o600)).toBe(0);
    const key = 0x1234;
    expect(s.call('shmget', key, PAGE, IPC_CREAT | IPC_EXCL | 0o640)).toBe(1);
    expect(s.call('shmget', key, PAGE, IPC_CREAT | IPC_EXCL | 0o640)).toBe(-EEXIST);
    expect(s.call('shmget', key, 2 * PAGE, 0)).toBe(-EINVAL);
    expect(s.call('shmget', key + 1, PAGE, 0)).toBe(-ENOENT);
    expect(s.call('shmget', key, 0, 0)).toBe(1);
    const mmaps = s.k.mmStats.mmap_calls;
    const a = s.call('shmat', 0, 0, 0);
    const b = s.call('shmat', 0, 0, SHM_RDONLY);
    expect(a).toBeGreaterThan(0);
    expect(s.k.mmStats.mmap_calls - mmaps).toBe(2);
    const ds = s.stat(0) as DataView;
    expect({
      key: ds.getInt32(0, true), uid: ds.getUint32(4, true), gid: ds.getUint32(8, true), cuid: ds.getUint32(12, true),
      mode: ds.getUint32(20, true), seq: ds.getUint16(24, true), segsz: Number(ds.getBigUint64(48, true)),
      cpid: ds.getInt32(80, true), lpid: ds.getInt32(84, true), nattch: Number(ds.getBigUint64(88, true)),
    }).toEqual({ key: 0, uid: 1000, gid: 1000, cuid: 1000, mode: 0o600, seq: 0, segsz: 3 * PAGE + 100, cpid: 1000, lpid: 1000, nattch: 2 });
    expect(s.mm.copyToUser(a + 4 * PAGE - 1, Uint8Array.of(7))).toBe(1);
    expect(s.mm.copyFromUser(b + 4 * PAGE - 1, 1)).toEqual(Uint8Array.of(7));
    const lines = s.readAll('/proc/sysvipc/shm').split('\n');
    expect(lines[0]).toBe('       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap');
    const row1 = '         0          0   600                 12388  1000  1000      2  1000  1000  1000  1000';
    expect(lines[1]!.slice(0, row1.length)).toBe(row1);
    expect(lines[1]!.slice(-43)).toBe(`${'4096'.padStart(21)} ${'0'.padStart(21)}`);
    const row2 = `      4660          1   640                  4096  1000     0      0  1000  1000  1000  1000 ${'0'.padStart(10)} ${'0'.padStart(10)}`;
    expect(lines[2]!.slice(0, row2.length)).toBe(row2);
    const munmaps = s.k.mmStats.munmap_calls;
    expect(s.call('shmdt', b)).toBe(0);
    expect(s.call('shmdt', b)).toBe(-EINVAL);
    expect(s.k.mmStats.munmap_calls).toBe(munmaps);
    expect(((s.stat(0) as DataView).getBigUint64(88, true))).toBe(1n);
  });

  it('IPC_RMID frees the pages at the last detach; exit detaches', () => {
    const s = setup();
    const id = s.call('shmget', IPC_PRIVATE, 4 * PAGE, 0o600);
    const a = s.call('shmat', id, 0, 0);
    expect(s.mm.copyToUser(a, new Uint8Array(4 * PAGE).fill(1))).toBe(4 * PAGE);
    expect(s.stat(id)).not.toBe(-EINVAL);
    const free0 = s.k.buddy.freePages;
    expect(s.call('shmctl', id, IPC_RMID, 0)).toBe(0);
    expect(((s.stat(id) as DataView).getUint32(20, true))).toBe(0o1600);
    expect(s.k.buddy.freePages).toBe(free0);
    expect(s.call('shmdt', a)).toBe(0);
    expect(s.stat(id)).toBe(-EINVAL);
    // The four shmem pages went back (the PTE table stays until the region's tables are freed).
    expect(s.k.buddy.freePages - free0).toBe(4);
    const id2 = s.call('shmget', IPC_PRIVATE, PAGE, 0o600);
    expect(id2).toBe(1);
    s.call('shmat', id2, 0, 0);
    s.call('shmctl', id2, IPC_RMID, 0);
    expect(s.stat(id2)).not.toBe(-EINVAL);
    s.mm.exitMmap();
    // exit_mmap closed the last attach: the segment is gone.
    expect(existingShmNamespace(s.p.procHost)!.segments()).toEqual([]);
  });

  it('IPC_INFO, SHM_INFO, SHM_LOCK against RLIMIT_MEMLOCK, SHM_HUGETLB and bad sizes', () => {
    const s = setup();
    expect(s.call('shmget', IPC_PRIVATE, 0, 0o600)).toBe(-EINVAL);
    expect(s.call('shmget', IPC_PRIVATE, PAGE, SHM_HUGETLB | 0o600)).toBe(-ENOMEM);
    const big = s.call('shmget', IPC_PRIVATE, 16 << 20, 0o600);
    const small = s.call('shmget', IPC_PRIVATE, 1 << 20, 0o600);
    expect(s.call('shmctl', small, IPC_INFO, s.scratch)).toBe(1);
    const info = new DataView(s.mm.copyFromUser(s.scratch, 72)!.buffer);
    expect([info.getBigUint64(8, true), info.getBigUint64(16, true)]).toEqual([1n, 4096n]);
    expect(s.call('shmctl', 0, SHM_INFO, s.scratch)).toBe(1);
    const si = new DataView(s.mm.copyFromUser(s.scratch, 48)!.buffer);
    expect([si.getInt32(0, true), Number(si.getBigUint64(8, true)), Number(si.getBigUint64(16, true))]).toEqual([2, 4096 + 256, 0]);
    // The default RLIMIT_MEMLOCK is 8 MiB: 16 MiB cannot be locked by a user, 1 MiB can.
    expect(s.call('shmctl', big, SHM_LOCK, 0)).toBe(-ENOMEM);
    expect(s.call('shmctl', small, SHM_LOCK, 0)).toBe(0);
    expect(((s.stat(small) as DataView).getUint32(20, true))).toBe(0o2600);
  });

  it('ipcperms: owner, group and other bits; CAP_IPC_OWNER passes', () => {
    const seg = { uid: 1000, gid: 100, cuid: 1000, cgid: 100, mode: 0o640 } as ShmSegment;
    const who = (uid: number, gid: number, ipcOwner = false) => ({ uid, gid, ipcOwner, sysAdmin: false, ipcLock: false });
    expect(ipcPermits(seg, who(1000, 1000), 6)).toBe(true);
    expect(ipcPermits(seg, who(1001, 100), 4)).toBe(true);
    expect(ipcPermits(seg, who(1001, 100), 2)).toBe(false);
    expect(ipcPermits(seg, who(1001, 1001), 4)).toBe(false);
    expect(ipcPermits(seg, who(1001, 1001, true), 6)).toBe(true);
  });
});
