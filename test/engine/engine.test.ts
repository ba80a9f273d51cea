import { afterEach, describe, expect, it } from 'vitest';
import { Engine, decodeAccess, uc, unicornVersion, type AbortInfo, type Decoder } from '../../src/engine/index.js';
import { EnvironmentError, UsageError } from '../../src/util/errors.js';
import { Telemetry } from '../../src/trace/telemetry.js';
import { PAGE, RO, RW, TestModel, fixture } from './harness.js';

const CODE = 0x400000;
const DATA = 0x10000000;

let model: TestModel | undefined;
afterEach(() => {
  model?.close();
  model = undefined;
});

function start(tlbEntries = 64, options = {}): TestModel {
  model = new TestModel(tlbEntries, options);
  return model;
}

/**
 * reload.bin (loads from x1 in a loop) with x1 = DATA, mapped and holding 111, and a second page
 * holding 222, not mapped: returns that page's physical address.
 */
function reloadSetup(m: TestModel): number {
  m.loadCode(CODE, fixture('reload.bin'));
  m.mapData(DATA, RW);
  m.writeU64(DATA, 111n);
  const b = m.allocPage();
  m.engine.phys.dv.setBigUint64(b - m.engine.phys.base, 222n, true);
  m.engine.setX(1, DATA);
  return b;
}

describe('bring-up', () => {
  it('runs a tiny EL0 program through the shadow tables', () => {
    const m = start();
    m.loadCode(CODE, fixture('bringup.bin'));
    m.mapData(DATA, RW);
    m.writeU64(DATA, 0x1000n);
    m.engine.setX(3, DATA);
    const stop = m.engine.run(CODE);
    expect(stop).toEqual({ kind: 'exit', code: 55 });
    expect(m.engine.getX(0)).toBe(55n);
    expect(m.engine.getX(8)).toBe(93n);
    expect(m.readU64(DATA + 8)).toBe(0x1000n + 55n);
    // The PC is past the svc.
    expect(m.engine.getPc()).toBe(CODE + 40);
    const expected: AbortInfo[] = [
      {
        kind: 'instruction', pc: CODE, insnWord: undefined, form: '', accesses: [{ va: CODE, size: 4, kind: 'exec' }],
        faults: [{ va: CODE, kind: 'exec', reason: 'translation' }], cause: 'translation',
      },
      {
        kind: 'data', pc: CODE + 0x14, insnWord: 0xf9400062, form: 'LDR (unsigned immediate)', accesses: [{ va: DATA, size: 8, kind: 'read' }],
        faults: [{ va: DATA, kind: 'read', reason: 'translation' }], cause: 'translation',
      },
    ];
    // The store hits the entry the load filled (read-write): two aborts in all.
    expect(m.aborts).toEqual(expected);
    expect(m.engine.stats).toMatchObject({ runs: 1, svc: 1, data_aborts: 1, instruction_aborts: 1, retries: 2 });
    expect(m.engine.shadow.verify(m.tlbContents())).toEqual([]);
  });

  it('reports the start-up state: EL0, the ASID in TTBR0, the pool and the DC ZVA block', () => {
    const m = start(8, { asid: 0x1234 });
    const e = m.engine;
    expect(e.uc.regRead(uc.UC_ARM64_REG_PSTATE) & 0xfn).toBe(0n); // EL0t
    const ttbr0 = e.uc.cpRegRead({ op0: 3, op1: 0, crn: 2, crm: 0, op2: 0 });
    expect(ttbr0 >> 48n).toBe(0x1234n);
    expect(Number(ttbr0 & 0xffffffffffffn)).toBe(e.shadow.rootPa);
    expect(e.phys.base).toBe(2 ** 40);
    expect(e.phys.size).toBe(64 * 2 ** 20);
    expect(e.regionBase).toBe(2 ** 40 + 64 * 2 ** 20);
    expect(e.dczBlockBytes).toBe(64);
    // The start-up probe left nothing behind.
    expect(e.shadow.size).toBe(0);
    expect(e.stats.data_aborts).toBe(0);
  });
});

describe('no guest access bypasses the model', () => {
  it('a page the model remaps is seen by the guest at once', () => {
    const m = start();
    m.loadCode(CODE, fixture('reload.bin'));
    const a = m.mapData(DATA, RW);
    m.writeU64(DATA, 111n);
    const b = m.allocPage();
    m.engine.phys.dv.setBigUint64(b - m.engine.phys.base, 222n, true);
    m.engine.setX(1, DATA);
    const seen: bigint[] = [];
    m.onSvcHook = (mm) => {
      seen.push(mm.engine.getX(0));
      if (seen.length === 1) {
        mm.setPte(DATA, { pa: b, perms: RW }); // page-table change + TLBI
        return;
      }
      return { kind: 'exit', code: 0 };
    };
    expect(m.engine.run(CODE)).toEqual({ kind: 'exit', code: 0 });
    expect(seen).toEqual([111n, 222n]);
    expect(a).not.toBe(b);
    expect(m.engine.stats.data_aborts).toBe(2);
  });

  it('a page-table change without a TLBI is not seen: the guest sees exactly what the TLB holds', () => {
    const m = start();
    const b = reloadSetup(m);
    const seen: bigint[] = [];
    m.onSvcHook = (mm) => {
      seen.push(mm.engine.getX(0));
      if (seen.length === 1) {
        mm.pageTable.set(DATA, { pa: b, perms: RW }); // no invalidation
        return;
      }
      return { kind: 'exit', code: 0 };
    };
    m.engine.run(CODE);
    expect(seen).toEqual([111n, 111n]);
    expect(m.engine.stats.data_aborts).toBe(1);
  });

  it('an entry the model drops makes the next access fault again (no stale QEMU TLB)', () => {
    const m = start();
    m.loadCode(CODE, fixture('reload.bin'));
    m.mapData(DATA, RW);
    m.engine.setX(1, DATA);
    let svcs = 0;
    m.onSvcHook = (mm) => {
      svcs++;
      if (svcs === 5) return { kind: 'exit', code: 0 };
      mm.invalidate(DATA); // TLBI of the unchanged entry
    };
    m.engine.run(CODE);
    // One fault per load: five loads, each after the entry was dropped (the first on a cold TLB).
    expect(m.dataMisses).toBe(5);
    expect(m.engine.stats.data_aborts).toBe(5);
    // Each drop is one QEMU TLB invalidation.
    expect(m.engine.shadow.stats.qemu_tlbi).toBe(4);
  });

  it('dropping the code page makes the next fetch fault, wherever in the page the code runs', () => {
    // QEMU's cache of recently used translated blocks skips its TLB; a TLBI by VA clears that
    // cache only around the VA given, so code 2 KiB into the page would keep running without a
    // fetch fault. The shadow therefore invalidates everything when an executable entry goes.
    const m = start();
    const code = new Uint8Array(0x800 + 12);
    code.set(fixture('reload.bin'), 0x800);
    m.loadCode(CODE, code);
    m.mapData(DATA, RW);
    m.engine.setX(1, DATA);
    let svcs = 0;
    m.onSvcHook = (mm) => {
      svcs++;
      if (svcs === 5) return { kind: 'exit', code: 0 };
      expect(mm.engine.shadow.check(CODE + 0x800, 'exec')).toBe('ok');
      mm.invalidate(CODE);
    };
    expect(m.engine.run(CODE + 0x800)).toEqual({ kind: 'exit', code: 0 });
    expect(m.instructionMisses).toBe(5);
    expect(m.dataMisses).toBe(1);
  });

  it('a TLB of N entries sees exactly the misses a sweep over N+1 pages causes, and none for N pages', () => {
    const N = 8;
    const rounds = 5;
    for (const pages of [N + 1, N]) {
      const m = start(N);
      m.loadCode(CODE, fixture('sweep.bin'));
      for (let i = 0; i < N + 1; i++) m.mapData(DATA + i * PAGE, RO);
      m.engine.setX(0, DATA);
      m.engine.setX(1, pages);
      m.engine.setX(2, rounds);
      m.engine.setX(6, PAGE);
      expect(m.engine.run(CODE).kind).toBe('exit');
      // FIFO over a cyclic sweep: with N+1 pages every access misses; with N only the first round.
      const misses = pages === N + 1 ? rounds * pages : pages;
      expect(m.dataMisses).toBe(misses);
      expect(m.evictions).toBe(Math.max(0, misses - N));
      expect(m.engine.stats.data_aborts).toBe(misses);
      expect(m.instructionMisses).toBe(1);
      expect(m.engine.shadow.verify(m.tlbContents())).toEqual([]);
      m.close();
      model = undefined;
    }
  });

  it('a write to an entry the model holds read-only traps as a permission fault', () => {
    const m = start();
    m.loadCode(CODE, fixture('bringup.bin'));
    m.mapData(DATA, RO);
    m.engine.setX(3, DATA);
    expect(m.engine.run(CODE)).toEqual({ kind: 'exit', code: 139, message: `segfault: write of 0x${(DATA + 8).toString(16)}` });
    expect(m.aborts.at(-1)).toMatchObject({ pc: CODE + 0x1c, form: 'STR (unsigned immediate)', cause: 'permission', faults: [{ va: DATA + 8, kind: 'write', reason: 'permission' }] });
  });
});

describe('code rewritten from JavaScript', () => {
  const program = (imm: number) => Uint8Array.from([...le32(0xd2800000 | (imm << 5)), ...le32(0xd4000001)]); // mov x0, #imm; svc #0
  function le32(w: number): number[] {
    return [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24];
  }

  it('runs stale translations until invalidateCode drops them (by physical range, or all)', () => {
    const m = start();
    m.loadCode(CODE, program(1));
    expect(m.engine.run(CODE)).toEqual({ kind: 'exit', code: 1 });
    const pa = m.pageTable.get(CODE)!.pa;
    m.engine.phys.write(pa, program(2));
    // QEMU cannot see writes made from outside: the old translation runs.
    expect(m.engine.run(CODE)).toEqual({ kind: 'exit', code: 1 });
    m.engine.invalidateCode(pa, 8);
    expect(m.engine.run(CODE)).toEqual({ kind: 'exit', code: 2 });
    m.engine.phys.write(pa, program(3));
    m.engine.invalidateCode();
    expect(m.engine.run(CODE)).toEqual({ kind: 'exit', code: 3 });
    // The scratch mapping is gone again.
    expect(m.engine.shadow.verify(m.tlbContents())).toEqual([]);
  });

  it('invalidateCode works from inside a hook, and the guest runs the new code at once', () => {
    const m = start();
    // 1: mov x0, #1; svc #0; b 1b
    m.loadCode(CODE, Uint8Array.from([...le32(0xd2800020), ...le32(0xd4000001), ...le32(0x17fffffe)]));
    const pa = m.pageTable.get(CODE)!.pa;
    const seen: bigint[] = [];
    m.onSvcHook = (mm) => {
      seen.push(mm.engine.getX(0));
      if (seen.length === 2) return { kind: 'exit', code: 0 };
      mm.engine.phys.write(pa, Uint8Array.from(le32(0xd2800040))); // mov x0, #2
      mm.engine.invalidateCode(pa, 4);
    };
    expect(m.engine.run(CODE)).toEqual({ kind: 'exit', code: 0 });
    expect(seen).toEqual([1n, 2n]);
  });
});

describe('shadow/TLB equality check', () => {
  it('fails when the TLB and the shadow differ', () => {
    const m = start();
    m.loadCode(CODE, fixture('bringup.bin'));
    m.mapData(DATA, RW);
    m.engine.setX(3, DATA);
    m.engine.run(CODE);
    const tlb = m.tlbContents();
    expect(m.engine.shadow.verify(tlb)).toEqual([]);
    expect(m.engine.shadow.verify(tlb.slice(1))).toEqual([`shadow entry [0x${DATA.toString(16)}, +0x1000) is not in the TLB`]);
    expect(m.engine.shadow.verify(tlb.map((e) => ({ ...e, perms: RO })))).toEqual([
      `entry [0x${DATA.toString(16)}, +0x1000): TLB has pa 0x${tlb[0]!.paBase.toString(16)} r--, shadow has pa 0x${tlb[0]!.paBase.toString(16)} rw-`,
      `entry [0x${CODE.toString(16)}, +0x1000): TLB has pa 0x${tlb[1]!.paBase.toString(16)} r--, shadow has pa 0x${tlb[1]!.paBase.toString(16)} r-x`,
    ]);
  });
});

describe('budgets', () => {
  it('an instruction budget stops a runaway guest after exactly that many instructions', () => {
    const m = start(64, { maxInsns: 1000 });
    m.loadCode(CODE, fixture('spin.bin'));
    const stop = m.engine.run(CODE);
    expect(stop).toEqual({
      kind: 'budget', resource: 'instructions', limit: 1000,
      message: `the guest ran out of its instruction budget (1000 instructions) at pc 0x${CODE.toString(16)}`,
    });
    // Two instructions per iteration.
    expect(m.engine.getX(0)).toBe(500n);
  });

  it('a time budget stops a runaway guest with a clear message', () => {
    const m = start(64, { maxSeconds: 0.3 });
    m.loadCode(CODE, fixture('spin.bin'));
    const t0 = Date.now();
    const stop = m.engine.run(CODE);
    const elapsed = Date.now() - t0;
    expect(stop.kind).toBe('budget');
    if (stop.kind === 'budget') {
      expect(stop.resource).toBe('time');
      expect(stop.message).toMatch(/^the guest ran out of its time budget \(0\.3 s\) at pc 0x40000[04]$/);
    }
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(3000);
    expect(m.engine.getX(0)).toBeGreaterThan(1000n);
  });

  it('a time budget that does not run out changes nothing, run after run', () => {
    const m = start(64, { maxSeconds: 5 });
    m.loadCode(CODE, fixture('bringup.bin'));
    m.mapData(DATA, RW);
    m.engine.setX(3, DATA);
    for (let i = 0; i < 3; i++) {
      m.engine.setX(0, 0);
      expect(m.engine.run(CODE)).toEqual({ kind: 'exit', code: 55 });
    }
  });

  it('an abort the machine retries without progress stops the run', () => {
    const m = start();
    m.loadCode(CODE, fixture('bringup.bin'));
    m.mapData(DATA, RW);
    m.engine.setX(3, DATA);
    m.onAbortHook = (info) => (info.kind === 'data' ? 'retry' : undefined); // never fills
    const stop = m.engine.run(CODE);
    expect(stop.kind).toBe('no-progress');
    if (stop.kind === 'no-progress') {
      expect(stop.pc).toBe(CODE + 0x14);
      expect(stop.repeats).toBe(8);
      expect(stop.message).toBe(`no progress: the data abort at pc 0x400014 (translation fault on read of 0x${DATA.toString(16)}) repeated 8 times with no change in the registers although the machine asked to retry`);
    }
    // First occurrence, one to take the register snapshot, then eight identical repeats.
    expect(m.aborts.filter((a) => a.kind === 'data').length).toBe(9);
  });
});

describe('start-up verification of fault addresses', () => {
  it('stops the engine when the decoder gets an address wrong', () => {
    const wrong: Decoder = (insn, ctx) => {
      const r = decodeAccess(insn, ctx);
      if (r.kind === 'access' && r.form === 'STP') return { ...r, accesses: r.accesses.map((a) => ({ ...a, va: a.va + 8 })) };
      return r;
    };
    expect(() => new Engine({ memMb: 16, decoder: wrong })).toThrow(EnvironmentError);
    expect(() => new Engine({ memMb: 16, decoder: wrong })).toThrow(
      /^start-up verification of fault addresses failed: probe 1 'stp x6, x7, \[x1\]': expected write \[0xffffe10ff8, \+16\), decoded write \[0xffffe11000, \+16\)\. The engine cannot attribute guest faults exactly/,
    );
  });

  it('stops the engine when the decoder gets a direction wrong', () => {
    const wrong: Decoder = (insn, ctx) => {
      const r = decodeAccess(insn, ctx);
      if (r.kind === 'access' && r.form === 'LDADD') return { ...r, accesses: r.accesses.map((a) => ({ ...a, kind: 'read' as const })) };
      return r;
    };
    expect(() => new Engine({ memMb: 16, decoder: wrong })).toThrow(/probe 2 'ldadd x3, x0, \[x5\]': expected write \[0xffffe12800, \+8\), decoded read \[0xffffe12800, \+8\)/);
  });
});

describe('other exceptions and out-of-range accesses', () => {
  const traps = fixture('traps.bin');

  it('an undefined instruction stops the run, naming it', () => {
    const m = start();
    m.loadCode(CODE, traps);
    expect(m.engine.run(CODE)).toEqual({
      kind: 'exception', info: { intno: uc.EXCP_UDEF, name: 'undefined instruction', pc: CODE }, message: 'undefined instruction at pc 0x400000',
    });
  });

  it('BRK stops the run unless the machine handles it', () => {
    const m = start();
    m.loadCode(CODE, traps);
    expect(m.engine.run(CODE + 16)).toMatchObject({ kind: 'exception', info: { intno: uc.EXCP_BKPT, pc: CODE + 16 } });
  });

  // Unicorn 2.0.1 reports a data access beyond the VA range as an unmapped access outside QEMU's
  // MMU (the engine's outside-va-range abort); 2.1 faults it in its own walk, as a translation fault.
  const beyondVaCause = unicornVersion()[1] === 0 ? 'outside-va-range' : 'translation';

  it('a load beyond the emulated VA range reaches the machine as a translation fault (outside-va-range on 2.0.1)', () => {
    const m = start();
    m.loadCode(CODE, traps);
    m.engine.setX(1, 2 ** 41);
    const stop = m.engine.run(CODE + 32);
    expect(stop).toEqual({ kind: 'exit', code: 139, message: 'segfault: read of 0x20000000000' });
    // (The outside-va-range path leaves the instruction's form undecoded; 2.1's fault decodes it.)
    expect(m.aborts.at(-1)).toMatchObject({
      kind: 'data', pc: CODE + 32, insnWord: 0xf9400020, form: beyondVaCause === 'translation' ? 'LDR (unsigned immediate)' : '', accesses: [{ va: 2 ** 41, size: 8, kind: 'read' }],
      faults: [{ va: 2 ** 41, kind: 'read', reason: 'translation' }], cause: beyondVaCause,
    });
  });

  it('a load from the physical window\'s addresses as a VA is an ordinary translation fault', () => {
    const m = start();
    m.loadCode(CODE, traps);
    m.engine.setX(1, 2 ** 40 + 0x1000);
    expect(m.engine.run(CODE + 32)).toEqual({ kind: 'exit', code: 139, message: 'segfault: read of 0x10000001000' });
    expect(m.aborts.at(-1)).toMatchObject({ cause: 'translation', accesses: [{ va: 2 ** 40 + 0x1000, size: 8, kind: 'read' }] });
  });

  it('a jump beyond the VA range is an instruction abort at the target (QEMU translates fetches first)', () => {
    const m = start();
    m.loadCode(CODE, traps);
    m.engine.setX(1, 2 ** 41);
    const stop = m.engine.run(CODE + 48);
    expect(stop).toEqual({ kind: 'exit', code: 139, message: 'segfault: exec of 0x20000000000' });
    expect(m.aborts.at(-1)).toEqual({
      kind: 'instruction', pc: 2 ** 41, insnWord: undefined, form: '', accesses: [{ va: 2 ** 41, size: 4, kind: 'exec' }],
      faults: [{ va: 2 ** 41, kind: 'exec', reason: 'translation' }], cause: 'translation',
    });
  });

  for (const [what, entry, pick] of [
    ['an instruction abort', 48, (i: AbortInfo) => i.kind === 'instruction' && i.pc === 2 ** 41],
    ['a data abort beyond the VA range', 32, (i: AbortInfo) => i.kind === 'data' && i.cause === beyondVaCause && i.accesses[0]?.va === 2 ** 41],
  ] as const) {
    it(`a machine can resume elsewhere after ${what} by setting the PC (signal delivery)`, () => {
      const m = start();
      m.loadCode(CODE, traps);
      m.engine.setX(1, 2 ** 41);
      let handled = 0;
      m.onAbortHook = (info) => {
        if (!pick(info)) return undefined;
        handled++;
        // The "signal handler": the ldr/svc pair at CODE + 32, with x1 now pointing at data.
        m.mapData(DATA, RW);
        m.writeU64(DATA, 77n);
        m.engine.setX(1, DATA);
        m.engine.setPc(CODE + 32);
        return 'retry';
      };
      expect(m.engine.run(CODE + entry)).toEqual({ kind: 'exit', code: 77 });
      expect(handled).toBe(1);
    });
  }
});

describe('selecting another tree of shadow tables', () => {
  // The same VA maps another page in the second tree: what the guest loads after each switch
  // tells whether QEMU walked the tree TTBR0_EL1 points at or kept a stale translation.
  for (const [name, asidA, asidB] of [['with another ASID', 5, 6], ['with the same ASID', 5, 5]] as const) {
    it(`leaves nothing of the previous tree in QEMU's TLB (${name})`, () => {
      const m = start(64, { asid: asidA });
      const b = reloadSetup(m);
      const first = m.engine.shadow;
      const second = m.engine.newShadowTables();
      second.map(DATA, PAGE, b, RW);
      const seen: bigint[] = [];
      m.onSvcHook = (mm) => {
        seen.push(mm.engine.getX(0));
        if (seen.length === 1) mm.engine.selectShadow(second, asidB);
        else if (seen.length === 2) mm.engine.selectShadow(first, asidA);
        else return { kind: 'exit', code: 0 };
      };
      expect(m.engine.run(CODE)).toEqual({ kind: 'exit', code: 0 });
      expect(seen).toEqual([111n, 222n, 111n]);
      // The first tree still held DATA: one data abort in all (the cold load).
      expect(m.engine.stats.data_aborts).toBe(1);
      expect(m.engine.asid).toBe(asidA);
      expect(m.engine.uc.cpRegRead({ op0: 3, op1: 0, crn: 2, crm: 0, op2: 0 }) >> 48n).toBe(BigInt(asidA));
    });
  }
});

describe('registers and options', () => {
  it('reads and writes the registers syscalls and TLS need', () => {
    const m = start();
    const e = m.engine;
    e.setX(0, -38);
    expect(e.getX(0)).toBe(0xffffffffffffffdan);
    e.setX(30, 0x1234n);
    expect(e.getX(30)).toBe(0x1234n);
    e.setX(29, 7);
    expect(e.getXNumber(29)).toBe(7);
    e.setSp(0x7fff0000);
    expect(e.getSp()).toBe(0x7fff0000);
    e.setTpidrEl0(0xdead0000n);
    expect(e.getTpidrEl0()).toBe(0xdead0000n);
    e.setPc(0x401000);
    expect(e.getPc()).toBe(0x401000);
    e.setNzcv(0x60000000);
    expect(e.getNzcv()).toBe(0x60000000);
    const v = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
    e.setV(31, v);
    expect(e.getV(31)).toEqual(v);
  });

  it('switches the ASID in TTBR0', () => {
    const m = start(8, { asid: 5 });
    expect(m.engine.asid).toBe(5);
    m.engine.setAsid(0x42);
    expect(m.engine.asid).toBe(0x42);
    expect(m.engine.uc.cpRegRead({ op0: 3, op1: 0, crn: 2, crm: 0, op2: 0 }) >> 48n).toBe(0x42n);
    expect(() => m.engine.setAsid(-1)).toThrow(RangeError);
  });

  it('registers its counters with the telemetry it is given', () => {
    const telemetry = new Telemetry();
    const m = start(8, { telemetry });
    m.loadCode(CODE, fixture('bringup.bin'));
    m.mapData(DATA, RW);
    m.engine.setX(3, DATA);
    m.engine.run(CODE);
    const snap = telemetry.stats.snapshot();
    expect(snap.engine).toEqual({ runs: 1, svc: 1, data_aborts: 1, instruction_aborts: 1, outside_aborts: 0, alignment_aborts: 0, exceptions: 0, retries: 2 });
    expect(snap.shadow).toMatchObject({ maps: 2, unmaps: 0, overlaps: 0, qemu_tlbi: 0 });
  });

  it('rejects bad options with a UsageError', () => {
    expect(() => new Engine({ memMb: 0 })).toThrow(UsageError);
    expect(() => new Engine({ memMb: 1.5 })).toThrow(/mem_mb: 1.5 is not a whole number of MiB between 1 and 4096/);
    expect(() => new Engine({ asid: 70000 })).toThrow(/asid: 70000 is not 0..65535/);
    expect(() => new Engine({ maxInsns: -1 })).toThrow(UsageError);
    expect(() => new Engine({ maxSeconds: Number.NaN })).toThrow(UsageError);
  });

  it('refuses to run without hooks, and after close', () => {
    const e = new Engine({ memMb: 16 });
    expect(() => e.run(CODE)).toThrow(/no hooks/);
    e.close();
    expect(() => e.runWith({ onSvc: () => undefined, onAbort: () => 'retry', readInsn: () => undefined })).toThrow(/after close/);
  });
});
