/**
 * Every load/store form faults under Unicorn exactly where and how the decoder says: the first
 * abort names the accesses computed by hand (forms-table.ts); with exactly those pages mapped
 * read-only a load completes, while a store, atomic or DC ZVA faults again as a permission fault
 * and completes once they are writable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyAbortInfo, splitByPage, type AbortInfo } from '../../src/engine/index.js';
import { PAGE, RO, RW, TestModel, fixture } from './harness.js';
import { B, FORMS, FORM_REGS, S, formOffset } from './forms-table.js';

const CODE = 0x400000;
let model: TestModel;

beforeAll(() => {
  model = new TestModel(64);
  model.loadCode(CODE, fixture('forms.bin'));
});
afterAll(() => model?.close());

function pagesOf(accesses: { va: number; size: number }[]): number[] {
  const pages = new Set<number>();
  for (const a of accesses) for (let p = Math.floor(a.va / PAGE); p <= Math.floor((a.va + a.size - 1) / PAGE); p++) pages.add(p * PAGE);
  return [...pages];
}

/** Runs entry i; aborts at the form are answered read-only first, writable on a permission fault. */
function runForm(i: number): { atForm: AbortInfo[]; stop: ReturnType<TestModel['engine']['run']> } {
  const f = FORMS[i]!;
  const formPc = CODE + formOffset(i);
  const want = f.expect(formPc);
  model.resetData();
  for (const page of pagesOf(want)) model.mapData(page, RO);
  const e = model.engine;
  for (let n = 0; n <= 30; n++) e.setX(n, FORM_REGS[n] ?? 0n);
  e.setSp(S);
  const atForm: AbortInfo[] = [];
  model.onAbortHook = (info) => {
    // Fetches and set-up instructions: the model's own handling.
    if (info.pc !== formPc || info.kind !== 'data') return undefined;
    atForm.push(copyAbortInfo(info));
    for (const fault of info.faults) {
      const page = fault.va - (fault.va % PAGE);
      const pte = model.pageTable.get(page)!;
      if (fault.reason === 'permission') {
        model.setPte(page, { pa: pte.pa, perms: RW });
        model.fill(page, { pa: pte.pa, perms: RW }, false);
      } else {
        model.fill(page, pte, false);
      }
    }
    return 'retry';
  };
  const stop = e.run(CODE + 16 * i);
  model.onAbortHook = undefined;
  return { atForm, stop };
}

describe('each load/store form faults with the exact address and kind', () => {
  FORMS.forEach((f, i) => {
    it(f.asm, () => {
      const formPc = CODE + formOffset(i);
      const want = f.expect(formPc);
      const { atForm, stop } = runForm(i);
      expect(stop).toEqual({ kind: 'exit', code: expect.any(Number) });
      expect(model.svcs).toBe(1);
      if (want.length === 0) {
        // Prefetches never fault.
        expect(atForm).toEqual([]);
        return;
      }
      const write = want[0]!.kind === 'write';
      const pieces = want.flatMap((a) => splitByPage(a, PAGE));
      const expected: AbortInfo[] = [];
      const base = { kind: 'data' as const, pc: formPc, insnWord: model.readInsn(formPc), form: atForm[0]?.form ?? '', accesses: want };
      if (!f.pre) expected.push({ ...base, faults: pieces.map((p) => ({ va: p.va, kind: p.kind, reason: 'translation' as const })), cause: 'translation' });
      if (write) expected.push({ ...base, faults: pieces.map((p) => ({ va: p.va, kind: p.kind, reason: 'permission' as const })), cause: 'permission' });
      expect(atForm).toEqual(expected);
      expect(model.engine.shadow.verify(model.tlbContents())).toEqual([]);
    });
  });
});

describe('an access across a page boundary', () => {
  it('faults on the second page only when the first is present', () => {
    const i = FORMS.findIndex((f) => f.asm === 'ldr x0, [x1, #12]');
    const formPc = CODE + formOffset(i);
    model.resetData();
    const first = model.mapData(B - (B % PAGE), RO);
    model.mapData(B - (B % PAGE) + PAGE, RO);
    model.fill(B - (B % PAGE), { pa: first, perms: RO }, false);
    for (let n = 0; n <= 30; n++) model.engine.setX(n, FORM_REGS[n] ?? 0n);
    const stop = model.engine.run(CODE + 16 * i);
    expect(stop.kind).toBe('exit');
    expect(model.aborts).toEqual([{
      kind: 'data', pc: formPc, insnWord: 0xf840c020, form: 'LDR (unscaled immediate)',
      accesses: [{ va: B + 12, size: 8, kind: 'read' }],
      faults: [{ va: B - (B % PAGE) + PAGE, kind: 'read', reason: 'translation' }],
      cause: 'translation',
    }]);
  });

  it('reports both pages of a store, in address order, when neither allows it', () => {
    const i = FORMS.findIndex((f) => f.asm === 'stp x6, x7, [x1, #8]');
    model.resetData();
    const lo = B - (B % PAGE);
    const pa0 = model.mapData(lo, RO);
    const pa1 = model.mapData(lo + PAGE, RW);
    model.fill(lo, { pa: pa0, perms: RO }, false);
    void pa1;
    let first: AbortInfo | undefined;
    model.onAbortHook = (info) => {
      first ??= info;
      return { kind: 'exit', code: 7 };
    };
    for (let n = 0; n <= 30; n++) model.engine.setX(n, FORM_REGS[n] ?? 0n);
    expect(model.engine.run(CODE + 16 * i)).toEqual({ kind: 'exit', code: 7 });
    model.onAbortHook = undefined;
    expect(first!.faults).toEqual([
      { va: B + 8, kind: 'write', reason: 'permission' },
      { va: lo + PAGE, kind: 'write', reason: 'translation' },
    ]);
    expect(first!.cause).toBe('permission');
  });
});

describe('an alignment fault', () => {
  it('arrives with every access permitted, so its cause is alignment', () => {
    const i = FORMS.findIndex((f) => f.asm === 'ldxr x0, [x2]');
    model.resetData();
    const C = Number(FORM_REGS[2]);
    const page = C - (C % PAGE);
    const pa = model.mapData(page, RW);
    model.fill(page, { pa, perms: RW }, false);
    for (let n = 0; n <= 30; n++) model.engine.setX(n, FORM_REGS[n] ?? 0n);
    model.engine.setX(2, C + 1);
    model.onAbortHook = () => ({ kind: 'exit', code: 135 }); // SIGBUS
    expect(model.engine.run(CODE + 16 * i)).toEqual({ kind: 'exit', code: 135 });
    model.onAbortHook = undefined;
    expect(model.aborts).toEqual([{
      kind: 'data', pc: CODE + 16 * i, insnWord: model.readInsn(CODE + 16 * i), form: 'LDXR/LDAXR',
      accesses: [{ va: C + 1, size: 8, kind: 'read' }], faults: [], cause: 'alignment',
    }]);
    expect(model.engine.stats.alignment_aborts).toBe(1);
  });
});
