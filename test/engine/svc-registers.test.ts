/** The batched read of a syscall's registers (Engine.svcRegisters) against one-by-one reads. */
import { afterEach, describe, expect, it } from 'vitest';
import { u64ToBigInt } from '../../src/util/u64.js';
import { TestModel } from './harness.js';

const CODE = 0x400000;

let model: TestModel | undefined;
afterEach(() => {
  model?.close();
  model = undefined;
});

function le32(w: number): number[] {
  return [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24];
}

describe('svcRegisters', () => {
  it('reads x0..x5, x8 and the PC after the svc, all 64 bits, as getX and getPc do', () => {
    const m = (model = new TestModel());
    // nop; svc #0; svc #0
    m.loadCode(CODE, Uint8Array.from([...le32(0xd503201f), ...le32(0xd4000001), ...le32(0xd4000001)]));
    const values = [0xffff_ffff_ffff_ffdan, 0x8000_0000_0000_0001n, 0x1234_5678_9abc_def0n, 0n, 0xffff_ffffn, 0x1_0000_0000n];
    values.forEach((v, n) => m.engine.setX(n, v));
    m.engine.setX(8, 0xffff_ffff_0000_00d6n);
    const seen: { args: bigint[]; x8: bigint; pc: number; single: bigint[] }[] = [];
    m.onSvcHook = (mm) => {
      const r = mm.engine.svcRegisters();
      seen.push({ args: r.args.map(u64ToBigInt), x8: u64ToBigInt(r.x8), pc: r.pc, single: [0, 1, 2, 3, 4, 5, 8].map((n) => mm.engine.getX(n)) });
      if (seen.length === 2) return { kind: 'exit', code: 0 };
      mm.engine.setX(0, -22);
      mm.engine.setX(8, 93);
    };
    expect(m.engine.run(CODE)).toEqual({ kind: 'exit', code: 0 });
    expect(seen[0]).toEqual({ args: values, x8: 0xffff_ffff_0000_00d6n, pc: CODE + 8, single: [...values, 0xffff_ffff_0000_00d6n] });
    // A negative number written to x0 is its two's complement; the second svc sees the new x0 and x8.
    expect(seen[1]).toEqual({ args: [0xffff_ffff_ffff_ffean, ...values.slice(1)], x8: 93n, pc: CODE + 12, single: [0xffff_ffff_ffff_ffean, ...values.slice(1), 93n] });
  });
});
