import { describe, expect, it } from 'vitest';
import { argBig, argInt, argLong, argsFrom, argUint, argUlong, argUntagged, returnRegister, syscallNumberFromX8 } from '../../src/linux/syscalls/args.js';
import { EBADF, EINVAL } from '../../src/util/errno.js';
import { syscallNumber } from '../../src/linux/syscalls/table.js';
import { makeRig } from './harness.js';

const r = (lo: number, hi: number) => ({ lo: lo >>> 0, hi: hi >>> 0 });

describe('argument conversions follow the kernel types', () => {
  it('int: low 32 bits, sign-extended, whatever the upper half holds', () => {
    expect(argInt(r(0xffffff9c, 0))).toBe(-100);
    expect(argInt(r(0xffffff9c, 0xffffffff))).toBe(-100);
    expect(argInt(r(5, 0x12345678))).toBe(5);
    expect(argInt(r(0x7fffffff, 0))).toBe(0x7fffffff);
    expect(argInt(r(0x80000000, 0))).toBe(-0x80000000);
  });

  it('unsigned int: low 32 bits', () => {
    expect(argUint(r(0xffffffff, 0xffffffff))).toBe(0xffffffff);
    expect(argUint(r(1, 7))).toBe(1);
  });

  it('unsigned long and pointers: 64 bits, clamped to 2^53 above it', () => {
    expect(argUlong(r(0, 0x100))).toBe(2 ** 40);
    expect(argUlong(r(0xffffffff, 0x1fffff))).toBe(2 ** 53 - 1);
    expect(argUlong(r(0, 0x200000))).toBe(2 ** 53);
    expect(argUlong(r(0xffffffff, 0xffffffff))).toBe(2 ** 53);
  });

  it('long and off_t: 64 bits signed, clamped to ±2^53', () => {
    expect(argLong(r(0xffffffff, 0xffffffff))).toBe(-1);
    expect(argLong(r(0, 0xffffffff))).toBe(-(2 ** 32));
    expect(argLong(r(1, 0xffe00000))).toBe(-(2 ** 53) + 1);
    expect(argLong(r(0, 0xffe00000))).toBe(-(2 ** 53));
    expect(argLong(r(0, 0x80000000))).toBe(-(2 ** 53));
    expect(argLong(r(0xffffffff, 0x7fffffff))).toBe(2 ** 53);
    expect(argLong(r(0xffffffff, 0))).toBe(0xffffffff);
    expect(argBig(r(0xffffffff, 0x7fffffff))).toBe(2n ** 63n - 1n);
  });

  it('return values become two-complement x0', () => {
    expect(returnRegister(-2)).toEqual(r(0xfffffffe, 0xffffffff));
    expect(returnRegister(-(2 ** 32))).toEqual(r(0, 0xffffffff));
    expect(returnRegister(-(2 ** 32) - 1)).toEqual(r(0xffffffff, 0xfffffffe));
    expect(returnRegister(2 ** 40 + 5)).toEqual(r(5, 0x100));
    expect(returnRegister(0)).toEqual(r(0, 0));
    expect(() => returnRegister(0.5)).toThrow(RangeError);
  });

  it('x8 gives the number from its low 32 bits', () => {
    expect(syscallNumberFromX8(r(0x4c4142, 0xdead))).toBe(0x4c4142);
    expect(syscallNumberFromX8(r(0xffffffff, 0))).toBe(-1);
    expect(argsFrom([-1n, 2 ** 40, -100])).toEqual([r(0xffffffff, 0xffffffff), r(0, 0x100), r(0xffffff9c, 0xffffffff)]);
  });
});

describe('handlers apply the conversions', () => {
  it('an fd of read/write is unsigned int: upper garbage is ignored, -1 is EBADF', () => {
    const rig = makeRig();
    const buf = rig.str('hi\n');
    // fd 1 with all upper bits set: the kernel truncates unsigned int arguments.
    expect(rig.p.syscall(syscallNumber('write'), [r(1, 0xffffffff), ...argsFrom([buf, 3])], 0)).toEqual({ kind: 'return', value: 3 });
    expect(rig.stdout.join('')).toBe('hi\n');
    expect(rig.call('write', -1, buf, 1)).toBe(-EBADF);
  });

  it('AT_FDCWD works whether it arrives sign- or zero-extended', () => {
    const rig = makeRig();
    const path = rig.str('/tmp/a');
    expect(rig.call('openat', 0x00000000ffffff9cn, path, 0o102, 0o600)).toBe(3);
    expect(rig.call('openat', -100, path, 0, 0)).toBe(4);
  });

  it('lseek offsets are off_t: -1 is EINVAL, an int -1 zero-extended is 4 GiB - 1', () => {
    const rig = makeRig();
    const fd = rig.call('openat', -100, rig.str('/tmp/f'), 0o102, 0o600);
    expect(rig.call('lseek', fd, -1, 0)).toBe(-EINVAL);
    expect(rig.call('lseek', fd, 0xffffffff, 0)).toBe(0xffffffff);
  });
});

describe('untagged_addr for the address-space calls', () => {
  it('drops the top byte of a user address, keeps a kernel address, clamps what stays too large', () => {
    expect(argUntagged({ hi: 0x5a000000, lo: 0x00400000 })).toBe(0x400000);
    expect(argUntagged({ hi: 0xff0000ff, lo: 0xf7fe3000 })).toBe(0xfff7fe3000);
    // Bit 55 set: an upper-half address, which untagged_addr sign-extends and leaves huge.
    expect(argUntagged({ hi: 0x5a800000, lo: 0 })).toBe(argUlong({ hi: 0x5a800000, lo: 0 }));
    expect(argUntagged({ hi: 0, lo: 0x1000 })).toBe(0x1000);
  });
});
