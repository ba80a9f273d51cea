import { describe, expect, it } from 'vitest';
import { ENOSYS, EINVAL, EFAULT } from '../../src/util/errno.js';
import { argsFrom } from '../../src/linux/syscalls/args.js';
import { allSyscalls, LAB_MARKER_NR, syscallName, syscallNumber } from '../../src/linux/syscalls/table.js';
import type { SyscallEvent, TraceRecord } from '../../src/trace/events.js';
import { makeRig } from './harness.js';

describe('the syscall table', () => {
  it('names every generic arm64 number, with the reserved arch-specific gap', () => {
    const table = allSyscalls();
    expect(table.length).toBe(325);
    expect(syscallName(63)).toBe('read');
    expect(syscallName(64)).toBe('write');
    expect(syscallName(222)).toBe('mmap');
    expect(syscallName(293)).toBe('rseq');
    expect(syscallName(435)).toBe('clone3');
    expect(syscallName(462)).toBe('mseal');
    expect(syscallName(469)).toBe('file_setattr');
    for (let nr = 244; nr <= 259; nr++) expect(syscallName(nr)).toBeNull();
    for (let nr = 295; nr <= 423; nr++) expect(syscallName(nr)).toBeNull();
    expect(syscallName(LAB_MARKER_NR)).toBe('lab_marker');
    expect(syscallNumber('exit_group')).toBe(94);
    expect(syscallNumber('newfstatat')).toBe(79);
    expect(() => syscallNumber('fork')).toThrow("no arm64 syscall named 'fork'");
    // Numbers are unique and ascending.
    expect(table.every(([nr], i) => i === 0 || nr > table[i - 1]![0])).toBe(true);
  });
});

describe('dispatch', () => {
  it('an unimplemented call is ENOSYS, named once with its number and the svc address', () => {
    const rig = makeRig({ disassemble: (pc) => (pc === 0x400100 ? 'svc #0x0' : undefined) });
    const unimpl = syscallNumber('remap_file_pages');
    expect(rig.p.syscall(unimpl, argsFrom([0, 0, 0]), 0x400104)).toEqual({ kind: 'return', value: -ENOSYS });
    expect(rig.p.syscall(unimpl, argsFrom([0, 0, 0]), 0x400204)).toEqual({ kind: 'return', value: -ENOSYS });
    expect(rig.p.syscall(1234, [], 0x400304)).toEqual({ kind: 'return', value: -ENOSYS });
    expect(rig.diagnostics).toEqual([
      'contpte-lab: unimplemented syscall remap_file_pages (234) at pc 0x400100 (svc #0x0): returning -ENOSYS',
      'contpte-lab: unknown syscall 1234 at pc 0x400300: returning -ENOSYS',
    ]);
    const stats = rig.p.dispatcher.stats;
    expect(stats.calls).toBe(3);
    expect(stats.errors).toBe(3);
    expect(stats.by_name).toEqual({ remap_file_pages: 2, nr1234: 1 });
    expect(stats.unimplemented).toEqual({ remap_file_pages: 2, nr1234: 1 });
  });

  it('strict mode stops at the first unimplemented call', () => {
    const rig = makeRig({ strict: true });
    expect(rig.p.syscall(syscallNumber('io_setup'), [], 0x400104)).toEqual({
      kind: 'fatal',
      message: 'unimplemented syscall io_setup (0) at pc 0x400100: stopping (--strict)',
    });
    expect(rig.diagnostics).toEqual([]);
  });

  it('exit and exit_group end the run with the low 8 bits of an int status', () => {
    const rig = makeRig();
    expect(rig.sys('exit_group', 0)).toEqual({ kind: 'exit', status: 0, group: true });
    expect(rig.sys('exit_group', 0x1_0000_0103n)).toEqual({ kind: 'exit', status: 3, group: true });
    expect(rig.sys('exit', -1)).toEqual({ kind: 'exit', status: 255, group: false });
  });

  it('traces each call as a syscall event and attributes its work to sys_<name>', () => {
    const rig = makeRig();
    const events: TraceRecord[] = [];
    rig.telemetry.tracer.attach({ write: (e) => events.push(e), close: () => undefined }, ['syscall']);
    let chain = '';
    const realMmap = rig.mm.mmap.bind(rig.mm);
    rig.mm.mmap = (req) => {
      chain = rig.telemetry.calls.chain();
      return realMmap(req);
    };
    rig.call('getpid');
    rig.call('mmap', 0, 4096, 3, 0x22, -1, 0);
    expect(chain).toBe('sys_mmap');
    const sys = events as unknown as (SyscallEvent & { seq: number })[];
    expect(sys.map((e) => [e.name, e.nr, e.ret > 0, e.pc])).toEqual([
      ['getpid', 172, true, 0x400100],
      ['mmap', 222, true, 0x400100],
    ]);
    expect(sys[1]!.args).toEqual([0, 4096, 3, 0x22, -1, 0]);
  });
});

describe('guest markers', () => {
  it('reach the machine with their names and counts, returning 0', () => {
    const rig = makeRig();
    const mark = (op: number, arg: number | bigint) => rig.p.syscall(LAB_MARKER_NR, argsFrom([op, arg]), 0x400104);
    expect(mark(1, rig.str('setup'))).toEqual({ kind: 'return', value: 0 });
    expect(mark(2, 0)).toEqual({ kind: 'return', value: 0 });
    expect(mark(4, 8192)).toEqual({ kind: 'return', value: 0 });
    expect(mark(3, rig.str('page_fault3'))).toEqual({ kind: 'return', value: 0 });
    expect(mark(9, 0)).toEqual({ kind: 'return', value: -EINVAL });
    expect(mark(1, 0x1000)).toEqual({ kind: 'return', value: -EFAULT });
    expect(mark(4, 2n ** 60n)).toEqual({ kind: 'return', value: -EINVAL });
    expect(rig.markers).toEqual(['mark setup', 'reset', 'ops 8192', 'dump page_fault3']);
    expect(rig.p.dispatcher.stats.by_name).toEqual({ lab_marker: 7 });
  });

  it('without a marker implementation the call is ENOSYS, as on Linux, and says so once', () => {
    const rig = makeRig({ markers: null });
    expect(rig.p.syscall(LAB_MARKER_NR, argsFrom([2, 0]), 0x400104)).toEqual({ kind: 'return', value: -ENOSYS });
    expect(rig.diagnostics).toEqual(['contpte-lab: unimplemented syscall lab_marker (4997442) at pc 0x400100: returning -ENOSYS']);
  });
});
