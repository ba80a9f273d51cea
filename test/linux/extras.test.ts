/**
 * prctl state across fork and exec (extras.ts): what copy_process, mm_init and begin_new_exec keep.
 */
import { describe, expect, it } from 'vitest';
import { execExtras, inheritExtras, pdeathSignal, processFlags, taskComm } from '../../src/linux/extras.js';
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
