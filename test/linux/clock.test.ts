import { describe, expect, it } from 'vitest';
import { DEFAULT_BOOT_NS, VirtualClock } from '../../src/linux/clock.js';

describe('VirtualClock.chargeNs (charges as numbers, the clock as a bigint)', () => {
  it('reads exactly what the same charges made with charge() read, at every step', () => {
    const byNumber = new VirtualClock();
    const byBigint = new VirtualClock();
    const charges = [1731, 0, 1, 2 ** 31 + 5, 1731, 96, 2 ** 40 + 3];
    for (const ns of charges) {
      byNumber.chargeNs(ns);
      byBigint.charge(BigInt(ns));
      expect(byNumber.peekMonotonicNs()).toBe(byBigint.peekMonotonicNs());
    }
    expect(byNumber.peekMonotonicNs()).toBe(DEFAULT_BOOT_NS + 1101659114991n);
  });

  it('keeps pending charges through every kind of read and advance', () => {
    const c = new VirtualClock({ bootNs: 1000n, tickNs: 10n });
    c.chargeNs(5);
    expect(c.read('cputime')).toBe(5n);
    c.chargeNs(7);
    expect(c.peekCputimeNs()).toBe(22n); // 5 + one tick of 10 + 7
    c.chargeNs(3);
    c.advance(100n);
    expect(c.peekMonotonicNs()).toBe(1125n);
    expect(c.sleptNs).toBe(100n);
    c.chargeNs(50);
    c.advanceTo('monotonic', 1200n);
    expect(c.peekMonotonicNs()).toBe(1200n);
    expect(c.sleptNs).toBe(125n);
  });

  it('drops what was pending when the scheduler loads another CPU time, as charge() then setNow() did', () => {
    const c = new VirtualClock({ bootNs: 0n });
    c.chargeNs(40);
    c.setNow(500n);
    expect(c.peekMonotonicNs()).toBe(500n);
  });

  it('ignores charges that are not positive and refuses fractions', () => {
    const c = new VirtualClock({ bootNs: 0n });
    c.chargeNs(0);
    c.chargeNs(-3);
    expect(c.peekMonotonicNs()).toBe(0n);
    expect(() => c.chargeNs(1.5)).toThrow(/not a whole number/);
  });
});
