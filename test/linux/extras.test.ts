/**
 * prctl state across fork and exec (extras.ts): what copy_process, mm_init and begin_new_exec keep.
 */
import { describe, expect, it } from 'vitest';
import { execExtras, inheritExtras, pdeathSignal, processFlags, taskComm } from '../../src/linux/extras.js';
import type { LinuxProcess } from '../../src/linux/process.js';
import type { ProcHost } from '../../src/linux/prochost.js';
import { makeRig, OUT } from './harness.js';

describe('prctl state across fork and exec', () => {
  it('fork keeps comm, THP disable and MDWE but not the parent-death signal', () => {
    const a = makeRig();
    const b = makeRig();
    expect(a.call('prctl', 15, a.str('parent'), 0, 0, 0)).toBe(0);
    expect(a.call('prctl', 41, 1, 0, 0, 0)).toBe(0);
    expect(a.call('prctl', 65, 1, 0, 0, 0)).toBe(0);
    expect(a.call('prctl', 1, 9, 0, 0, 0)).toBe(0);
    expect(a.call('prctl', 2, a.scratch + OUT, 0, 0, 0)).toBe(0);
    expect(new DataView(a.read(a.scratch + OUT, 4).buffer).getInt32(0, true)).toBe(9);
    inheritExtras(a.p.current, b.p.current, true);
    expect(taskComm(b.p.current)).toBe('parent');
    expect(processFlags(b.p).thpDisable).toBe(true);
    expect(processFlags(b.p).mdwe).toBe(1);
    expect(pdeathSignal(b.p.current)).toBe(0);
    // exec: the thread takes the program's name; MDWE stays (no NO_INHERIT), pdeath_signal too.
    execExtras(a.p.current);
    expect(taskComm(a.p.current)).toBe('');
    expect(processFlags(a.p).mdwe).toBe(1);
    expect(pdeathSignal(a.p.current)).toBe(9);
  });

  it('PR_MDWE_NO_INHERIT: a forked child and an exec start without MDWE', () => {
    const a = makeRig();
    const b = makeRig();
    expect(a.call('prctl', 65, 3, 0, 0, 0)).toBe(0);
    expect(a.call('prctl', 66, 0, 0, 0, 0)).toBe(3);
    inheritExtras(a.p.current, b.p.current, true);
    expect(processFlags(b.p).mdwe).toBe(0);
    execExtras(a.p.current);
    expect(processFlags(a.p).mdwe).toBe(0);
  });
});

describe('/proc with several processes (a ProcHost of the machine)', () => {
  it('lists every pid, /proc/self follows the caller, and another process reads as itself', () => {
    const procs: LinuxProcess[] = [];
    let current: LinuxProcess | null = null;
    const host: ProcHost = {
      processes: () => procs,
      current: () => current!,
      cpus: 8,
      kernel: null,
      setKnob: () => -22,
      sysctl: new Map(),
    };
    const a = makeRig({ procHost: host, ids: { pid: 1000, ppid: 1, uid: 1000, gid: 1000 } });
    const b = makeRig({ procHost: host, ids: { pid: 1001, ppid: 1000, uid: 1000, gid: 1000 } });
    procs.push(a.p, b.p);
    const read = (r: typeof a, path: string): string => {
      current = r.p;
      const fd = r.call('openat', -100, r.str(path), 0, 0);
      if (fd < 0) return `error ${fd}`;
      const n = r.call('read', fd, r.scratch + 8192, 4096);
      r.call('close', fd);
      return new TextDecoder().decode(r.read(r.scratch + 8192, n));
    };
    const link = (r: typeof a, path: string): string => {
      current = r.p;
      const n = r.call('readlinkat', -100, r.str(path), r.scratch + 8192, 64);
      return new TextDecoder().decode(r.read(r.scratch + 8192, n));
    };
    expect(link(a, '/proc/self')).toBe('1000');
    expect(link(b, '/proc/self')).toBe('1001');
    expect(read(a, '/proc/1001/status')).toMatch(/^Name:\t\nUmask:\t0022\nState:\tR \(running\)\nTgid:\t1001\nNgid:\t0\nPid:\t1001\nPPid:\t1000\n/);
    expect(read(a, '/proc/1001/stat').split(' ').slice(0, 5)).toEqual(['1001', '()', 'R', '1000', '1001']);
    expect(read(b, '/proc/self/status')).toContain('Cpus_allowed:\tff\nCpus_allowed_list:\t0-7\n');
    procs.pop();
    expect(read(a, '/proc/1001/status')).toBe('error -2');
  });
});
