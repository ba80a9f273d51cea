import { describe, expect, it } from 'vitest';
import { decodeAccess, splitByPage, type DecodeContext, type MemAccess } from '../../src/engine/index.js';
import { u64FromBigInt } from '../../src/util/u64.js';
import { fixture, fixtureText } from './harness.js';
import { FORMS, FORM_REGS, S, formOffset } from './forms-table.js';

const CODE = 0x400000;
const bin = fixture('forms.bin');
const words = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);

function ctxWith(regs: Record<number, bigint>, sp: bigint, pc: number): DecodeContext {
  return {
    pc,
    dczBlockBytes: 64,
    regs: {
      x: (n) => u64FromBigInt(regs[n] ?? 0n),
      sp: () => u64FromBigInt(sp),
    },
  };
}

function decodeForm(i: number): { got: MemAccess[]; want: MemAccess[]; form: string } {
  const off = formOffset(i);
  const pc = CODE + off;
  const r = decodeAccess(words.getUint32(off, true), ctxWith(FORM_REGS as Record<number, bigint>, BigInt(S), pc));
  if (r.kind !== 'access') throw new Error(`${FORMS[i]!.asm}: ${r.reason}`);
  return { got: [...r.accesses], want: FORMS[i]!.expect(pc), form: r.form };
}

describe('the forms fixture', () => {
  it('matches the table entry for entry (fixtures/forms.S assembled into forms.bin)', () => {
    const blocks = fixtureText('forms.S').split('  .balign 16\n').slice(1);
    expect(blocks.length).toBe(FORMS.length);
    blocks.forEach((b, i) => {
      const lines = b.trim().split('\n').map((l) => l.trim());
      expect(lines.at(-1)).toBe('svc #0');
      expect(lines.at(-2)).toBe(FORMS[i]!.asm);
      expect(lines.slice(0, -2)).toEqual(FORMS[i]!.pre ?? []);
      // The word after the form is svc #0, so the bin lines up with the source.
      expect(words.getUint32(formOffset(i) + 4, true)).toBe(0xd4000001);
    });
  });
});

describe('decodeAccess', () => {
  FORMS.forEach((f, i) => {
    it(`${f.asm}`, () => {
      const { got, want } = decodeForm(i);
      expect(got).toEqual(want);
    });
  });

  it('names the forms', () => {
    const names = FORMS.map((_, i) => decodeForm(i).form);
    expect(names.slice(0, 3)).toEqual(['LDR (unsigned immediate)', 'LDR (unsigned immediate)', 'LDR (unsigned immediate)']);
    expect(names[20]).toBe('PRFM/PRFUM (unscaled immediate)');
    expect(names[46]).toBe('STP');
    expect(names[50]).toBe('LDNP');
    expect(names[97]).toBe('CASP');
    expect(names[119]).toBe('DC ZVA');
  });

  it('computes addresses modulo 2^64 and reports those beyond 2^53 exactly', () => {
    // ldr x0, [x2, #16] with x2 = 2^64 - 8: the address wraps to 8.
    const wrap = decodeAccess(0xf9400840, ctxWith({ 2: 0xfffffffffffffff8n }, 0n, CODE));
    expect(wrap).toEqual({ kind: 'access', form: 'LDR (unsigned immediate)', accesses: [{ va: 8, size: 8, kind: 'read' }] });
    // ldr x0, [x2] with a kernel-half pointer.
    const high = decodeAccess(0xf9400040, ctxWith({ 2: 0xffff000012345678n }, 0n, CODE));
    expect(high.kind === 'access' && high.accesses[0]!.vaBig).toBe(0xffff000012345678n);
  });

  it('gives each decode of one word the addresses of its own registers (the plan is per word)', () => {
    // ldr x0, [x2, x3, lsl #3], then the same word as a negative int32 (as DataView.getInt32 gives it)
    const word = 0xf8637840;
    const a = decodeAccess(word, ctxWith({ 2: 0x1000n, 3: 2n }, 0n, CODE));
    const b = decodeAccess(word | 0, ctxWith({ 2: 0xfffffff000n, 3: 0xffffffffffffffffn }, 0n, CODE));
    expect(a).toEqual({ kind: 'access', form: 'LDR (register offset)', accesses: [{ va: 0x1010, size: 8, kind: 'read' }] });
    expect(b).toEqual({ kind: 'access', form: 'LDR (register offset)', accesses: [{ va: 0xffffffeff8, size: 8, kind: 'read' }] });
    // sxtw of a negative W index, and the SP as base
    const c = decodeAccess(0xb863dbe0, ctxWith({ 3: 0x1_ffff_fffen }, 0x8000n, CODE)); // ldr w0, [sp, w3, sxtw #2]
    expect(c).toEqual({ kind: 'access', form: 'LDR (register offset)', accesses: [{ va: 0x7ff8, size: 4, kind: 'read' }] });
  });

  it('uses the base before write-back for post-indexed forms', () => {
    // ldr x0, [x2], #16 with x2 = 0x5000: reads 0x5000, not 0x5010.
    const r = decodeAccess(0xf8410440, ctxWith({ 2: 0x5000n }, 0n, CODE));
    expect(r).toEqual({ kind: 'access', form: 'LDR (immediate post-indexed)', accesses: [{ va: 0x5000, size: 8, kind: 'read' }] });
  });

  it('rounds DC ZVA down to the block size it is given', () => {
    const r = decodeAccess(0xd50b7422, ctxWith({ 2: 0x12345n }, 0n, CODE));
    expect(r).toEqual({ kind: 'access', form: 'DC ZVA', accesses: [{ va: 0x12340, size: 64, kind: 'write' }] });
    const r2 = decodeAccess(0xd50b7422, { ...ctxWith({ 2: 0x12345n }, 0n, CODE), dczBlockBytes: 256 });
    expect(r2.kind === 'access' && r2.accesses[0]).toEqual({ va: 0x12300, size: 256, kind: 'write' });
  });

  it('rejects what is not a memory access, naming why', () => {
    const cases: [number, RegExp][] = [
      [0x91000400, /not a load\/store/], // add x0, x0, #1
      [0xd503201f, /not a load\/store/], // nop
      [0xd508751f, /system instruction without a memory operand/], // ic iallu
      [0xdc000000, /unallocated encoding in class 'load register \(literal\)'/], // LDR literal, V=1 opc=11
      [0xa540a000, /not handled|not a load/], // SVE ld1w
      [0x69000000, /unallocated encoding in class 'load\/store pair'/], // STGP (memory tagging)
      [0x38e08000 | (0b001 << 12), /unallocated encoding in class 'atomic/], // o3=1 opc=001
    ];
    for (const [word, why] of cases) {
      const r = decodeAccess(word, ctxWith({}, 0n, CODE));
      expect(r.kind, `0x${word.toString(16)}`).toBe('unknown');
      if (r.kind === 'unknown') expect(r.reason).toMatch(why);
    }
  });
});

describe('splitByPage', () => {
  it('splits an access at page boundaries, in address order', () => {
    expect(splitByPage({ va: 0x1ff8, size: 16, kind: 'write' }, 4096)).toEqual([
      { va: 0x1ff8, size: 8, kind: 'write' },
      { va: 0x2000, size: 8, kind: 'write' },
    ]);
    expect(splitByPage({ va: 0x1000, size: 4096, kind: 'read' }, 4096)).toEqual([{ va: 0x1000, size: 4096, kind: 'read' }]);
  });
});
