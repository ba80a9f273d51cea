/**
 * AbortRegisters: the PC and the decoder's registers read for each data abort, on a bare Unicorn
 * (needs Debian's libunicorn2). Values must be exactly the registers'; the native calls made are
 * counted, since reading few registers in one call is the point.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AbortRegisters } from '../../src/engine/abort-regs.js';
import { Unicorn, uc } from '../../src/engine/index.js';

const PC = 0x40_1234;
/** Xn = a distinct 64-bit value with both halves above 2^31 for odd n. */
const xValue = (n: number): bigint => (BigInt(0x8000_0000 * (n & 1) + n) << 32n) | BigInt(0x8000_0000 * (n & 1) + 0x1000 * n + 7);
const SP = 0xffff_8000_0000_0010n;

function halves(v: bigint): { lo: number; hi: number } {
  return { lo: Number(v & 0xffff_ffffn), hi: Number(v >> 32n) };
}

let cpu: Unicorn | undefined;
let regs: AbortRegisters | undefined;
afterEach(() => {
  regs?.close();
  cpu?.close();
  regs = cpu = undefined;
});

/** A CPU with known registers, and counters of the batch and single reads made through it. */
function setup(): { regs: AbortRegisters; u: Unicorn; calls: { batch: number; single: number } } {
  const u = (cpu = Unicorn.open(uc.UC_ARCH_ARM64, uc.UC_MODE_ARM, uc.UC_CPU_ARM64_MAX));
  u.regWrite(uc.UC_ARM64_REG_PC, PC);
  for (let n = 0; n <= 30; n++) u.regWrite(uc.ucArm64RegX(n), xValue(n));
  u.regWrite(uc.UC_ARM64_REG_SP, SP);
  const calls = { batch: 0, single: 0 };
  const batch = u.readBatchRaw.bind(u);
  const single = u.regReadHalves.bind(u);
  u.readBatchRaw = (ids, vals, count) => {
    calls.batch++;
    batch(ids, vals, count);
  };
  u.regReadHalves = (id, out) => {
    calls.single++;
    single(id, out);
  };
  return { regs: (regs = new AbortRegisters(u)), u, calls };
}

describe('AbortRegisters', () => {
  it('reads the PC, every X register and SP exactly', () => {
    const { regs: r } = setup();
    expect(r.snapshot()).toBe(PC);
    for (let n = 0; n <= 30; n++) expect(r.x(n), `x${n}`).toEqual(halves(xValue(n)));
    expect(r.sp()).toEqual(halves(SP));
  });

  it('reads the PC and the previous decode\'s registers in one call, others on demand, once', () => {
    const { regs: r, u, calls } = setup();
    r.snapshot(); // nothing guessed yet: the PC alone
    r.x(3);
    r.x(3);
    r.sp();
    r.settle();
    expect(calls).toEqual({ batch: 1, single: 2 });

    u.regWrite(uc.ucArm64RegX(3), 0x1234_5678_9abc_def0n); // the next abort sees new values
    u.regWrite(uc.UC_ARM64_REG_PC, PC + 4);
    expect(r.snapshot()).toBe(PC + 4);
    expect(r.x(3)).toEqual({ lo: 0x9abc_def0, hi: 0x1234_5678 });
    expect(r.sp()).toEqual(halves(SP));
    r.settle();
    expect(calls).toEqual({ batch: 2, single: 2 }); // x3 and SP came with the PC

    r.snapshot();
    r.x(5); // another instruction: x5 alone
    r.settle();
    r.snapshot();
    r.x(3); // x3 is no longer guessed
    expect(calls).toEqual({ batch: 4, single: 4 });
  });

  it('reads everything once it has laid out as many register sets as it has room for', () => {
    const { regs: r, calls } = setup();
    // Distinct register sets: each X register alone, SP alone, then pairs.
    const sets: number[][] = [...Array.from({ length: 32 }, (_, n) => [n]), ...Array.from({ length: 31 }, (_, n) => [n, (n + 1) % 31])];
    for (const set of sets) {
      r.snapshot();
      for (const n of set) (n === 31 ? r.sp() : r.x(n));
      r.settle();
    }
    const before = { ...calls };
    r.snapshot();
    for (let n = 0; n <= 30; n++) expect(r.x(n)).toEqual(halves(xValue(n)));
    expect(r.sp()).toEqual(halves(SP));
    expect(calls).toEqual({ batch: before.batch + 1, single: before.single });
  });
});
