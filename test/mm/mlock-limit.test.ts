/**
 * RLIMIT_MEMLOCK in the memory manager (mm/mlock.c can_do_mlock, do_mlock, do_mlockall,
 * mlock_future_ok, v6.12): a caller without CAP_IPC_LOCK may lock at most its limit; pages
 * already locked are not counted twice; a zero limit is EPERM; MAP_LOCKED and a locked mremap
 * growth past the limit are EAGAIN; a heap that mlockall(MCL_FUTURE) would lock stops at the
 * limit. Root's view (the default) is unlimited.
 */
import { describe, expect, it } from 'vitest';
import { EAGAIN, ENOMEM, EPERM, MAP_ANONYMOUS, MAP_PRIVATE, MCL_CURRENT, MCL_FUTURE, MLOCK_ONFAULT, MREMAP_MAYMOVE, PROT_READ, PROT_WRITE } from '../../src/mm/index.js';
import { lockedVm } from '../../src/mm/mlock.js';
import { machine, mmapAnon, PAGE, type Machine } from './helpers.js';

const MAP_LOCKED = 0x2000;

function limited(pages: number): Machine {
  const m = machine('linux-6.12');
  m.p.memlock = { limit: pages * PAGE, capIpcLock: false };
  return m;
}

describe('RLIMIT_MEMLOCK without CAP_IPC_LOCK', () => {
  it('mlock and mlock2 stop at the limit; pages locked already are subtracted', () => {
    const m = limited(16);
    const a = mmapAnon(m, 64 * PAGE);
    expect(m.p.mlock(a, 16 * PAGE)).toBe(0);
    expect(lockedVm(m.p)).toBe(16);
    expect(m.p.mlock(a + 16 * PAGE, 1)).toBe(-ENOMEM);
    expect(m.p.mlock2(a + 32 * PAGE, PAGE, MLOCK_ONFAULT)).toBe(-ENOMEM);
    // 16 requested + 16 locked > 16, minus the 16 of them already locked: allowed.
    expect(m.p.mlock(a, 16 * PAGE)).toBe(0);
    // The lock-on-fault flavour of pages locked already adds nothing either.
    expect(m.p.mlock2(a, 16 * PAGE, MLOCK_ONFAULT)).toBe(0);
    expect(m.p.mlock(a + PAGE, 16 * PAGE)).toBe(-ENOMEM);
    expect(lockedVm(m.p)).toBe(16);
    expect(m.p.munlock(a, 8 * PAGE)).toBe(0);
    expect(m.p.mlock(a + 40 * PAGE, 8 * PAGE)).toBe(0);
    expect(lockedVm(m.p)).toBe(16);
  });

  it('a failed mlock changes no VMA and populates nothing', () => {
    const m = limited(4);
    const a = mmapAnon(m, 8 * PAGE);
    const before = m.p.vmas.all().length;
    const faults = m.k.faultStats.total;
    expect(m.p.mlock(a, 8 * PAGE)).toBe(-ENOMEM);
    expect(m.p.vmas.all().length).toBe(before);
    expect(m.k.faultStats.total).toBe(faults);
  });

  it('mmap(MAP_LOCKED) and mremap growth of a locked mapping: EAGAIN past the limit', () => {
    const m = limited(8);
    const req = { addr: 0, len: 8 * PAGE, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, file: null, pgoff: 0 };
    const b = m.p.mmap(req);
    expect(b).toBeGreaterThan(0);
    // Locked mappings are populated: 8 write faults.
    expect(m.k.faultStats.total).toBe(8);
    expect(m.p.mmap({ ...req, len: PAGE })).toBe(-EAGAIN);
    expect(m.p.mremap(b, 8 * PAGE, 9 * PAGE, MREMAP_MAYMOVE, 0)).toBe(-EAGAIN);
    expect(m.p.munmap(b, 8 * PAGE)).toBe(0);
    expect(lockedVm(m.p)).toBe(0);
    expect(m.p.mmap({ ...req, len: PAGE })).toBeGreaterThan(0);
  });

  it('mlockall(MCL_CURRENT) needs the whole address space within the limit; MCL_FUTURE bounds brk', () => {
    const m = limited(64);
    mmapAnon(m, 128 * PAGE);
    expect(m.p.mlockall(MCL_CURRENT)).toBe(-ENOMEM);
    expect(m.p.mlockall(MCL_FUTURE)).toBe(0);
    m.p.setBrkBase(0x10000000);
    expect(m.p.brk(0x10000000 + 32 * PAGE)).toBe(0x10000000 + 32 * PAGE);
    // 32 locked; 33 more would pass 64.
    expect(m.p.brk(0x10000000 + 65 * PAGE)).toBe(0x10000000 + 32 * PAGE);
    expect(lockedVm(m.p)).toBe(32);
  });

  it('a zero limit is EPERM for mlock, mlock2, mlockall and MAP_LOCKED; munlock still works', () => {
    const m = limited(0);
    const a = mmapAnon(m, 4 * PAGE);
    expect(m.p.mlock(a, PAGE)).toBe(-EPERM);
    expect(m.p.mlock(a, 0)).toBe(-EPERM);
    expect(m.p.mlock2(a, PAGE, 0)).toBe(-EPERM);
    expect(m.p.mlockall(MCL_CURRENT)).toBe(-EPERM);
    expect(m.p.mmap({ addr: 0, len: PAGE, prot: PROT_READ, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, file: null, pgoff: 0 })).toBe(-EPERM);
    expect(m.p.munlock(a, PAGE)).toBe(0);
    expect(m.p.munlockall()).toBe(0);
  });

  it('CAP_IPC_LOCK (and the default) ignore the limit', () => {
    const m = machine('linux-6.12');
    m.p.memlock = { limit: 0, capIpcLock: true };
    const a = mmapAnon(m, 32 * PAGE);
    expect(m.p.mlock(a, 32 * PAGE)).toBe(0);
    expect(lockedVm(m.p)).toBe(32);
  });
});
