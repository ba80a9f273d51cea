/**
 * The koffi binding of Unicorn 2.0.1 and the host-memory helpers, used bare (no engine), the way
 * a differential test of the walker against QEMU's would use them.
 */
import { describe, expect, it } from 'vitest';
import {
  Engine, HostRegion, Unicorn, UnicornError, openUnicornLibrary, sysregs, uc, unicornVersion,
} from '../../src/engine/index.js';
import { EnvironmentError } from '../../src/util/errors.js';

describe('constants', () => {
  it('match the 2.0.1 headers at known anchors', () => {
    expect(uc.UC_ARCH_ARM64).toBe(2);
    expect(uc.UC_ARM64_REG_X29).toBe(1);
    expect(uc.UC_ARM64_REG_SP).toBe(4);
    expect(uc.UC_ARM64_REG_B0).toBe(8);
    expect(uc.UC_ARM64_REG_Q0).toBe(104);
    expect(uc.UC_ARM64_REG_X0).toBe(199);
    expect(uc.UC_ARM64_REG_V0).toBe(228);
    expect(uc.UC_ARM64_REG_PC).toBe(260);
    expect(uc.UC_ARM64_REG_TPIDR_EL0).toBe(262);
    expect(uc.UC_ARM64_REG_PSTATE).toBe(265);
    expect(uc.UC_ARM64_REG_CP_REG).toBe(290);
    expect(uc.UC_ARM64_REG_ENDING).toBe(293);
    expect(uc.UC_ARM64_REG_LR).toBe(uc.UC_ARM64_REG_X30);
    expect(uc.UC_HOOK_MEM_UNMAPPED).toBe(112);
    expect(uc.UC_HOOK_MEM_INVALID).toBe(1008);
    expect(uc.UC_ERR_EXCEPTION).toBe(21);
    expect(uc.UC_CTL(uc.UC_CTL_CPU_MODEL, 1, uc.UC_CTL_IO_WRITE)).toBe(0x44000007);
    expect(uc.ucArm64RegX(0)).toBe(199);
    expect(uc.ucArm64RegX(28)).toBe(227);
    expect(uc.ucArm64RegX(29)).toBe(1);
    expect(uc.ucArm64RegX(30)).toBe(2);
  });
});

describe('the library', () => {
  it('is Unicorn 2.0 or 2.1', () => {
    expect([[2, 0], [2, 1]]).toContainEqual(unicornVersion());
  });

  it('when missing, the error names the package to install', () => {
    expect(() => openUnicornLibrary('libunicorn-missing.so.9')).toThrow(EnvironmentError);
    expect(() => openUnicornLibrary('libunicorn-missing.so.9')).toThrow(/cannot load libunicorn-missing\.so\.9 .*'apt-get install libunicorn2'/);
  });
});

describe('Unicorn', () => {
  it('maps memory, reads and writes registers and memory, runs code and reports svc', () => {
    const u = Unicorn.open(uc.UC_ARCH_ARM64, uc.UC_MODE_ARM, uc.UC_CPU_ARM64_MAX);
    try {
      u.memMap(0x10000, 0x1000, uc.UC_PROT_ALL);
      // mov x0, #42; add x1, x0, x2; svc #0
      u.memWrite(0x10000, Uint8Array.from([0x40, 0x05, 0x80, 0xd2, 0x01, 0x00, 0x02, 0x8b, 0x01, 0x00, 0x00, 0xd4]));
      expect([...u.memRead(0x10000, 4)]).toEqual([0x40, 0x05, 0x80, 0xd2]);
      u.regWrite(uc.UC_ARM64_REG_X2, 0xffffffff00000000n);
      const seen: number[] = [];
      let steps = 0;
      u.hookIntr((intno) => {
        seen.push(intno);
        u.emuStop();
      });
      u.hookCode(() => steps++);
      expect(u.emuStart(0x10000, 0x20000)).toBe(uc.UC_ERR_OK);
      expect(seen).toEqual([uc.EXCP_SWI]);
      expect(steps).toBe(3);
      expect(u.regRead(uc.UC_ARM64_REG_X0)).toBe(42n);
      expect(u.regRead(uc.UC_ARM64_REG_X1)).toBe(0xffffffff0000002an);
      expect(u.regReadNumber(uc.UC_ARM64_REG_PC)).toBe(0x1000c);
      expect(() => u.regReadNumber(uc.UC_ARM64_REG_X1)).toThrow(/not below 2\^53/);
      const halves = new Uint32Array(2);
      u.regReadHalves(uc.UC_ARM64_REG_X1, halves);
      expect([...halves]).toEqual([42, 0xffffffff]);
      const batch = u.batchReader([uc.UC_ARM64_REG_X0, uc.UC_ARM64_REG_X1, uc.UC_ARM64_REG_PC]);
      const b = batch();
      expect([b[0], b[1], b[4], b[5], b[8], b[9]]).toEqual([42, 0, 42, 0xffffffff, 0x1000c, 0]);
    } finally {
      u.close();
    }
  });

  it('reads and writes system registers through CP_REG', () => {
    const u = Unicorn.open(uc.UC_ARCH_ARM64, uc.UC_MODE_ARM, uc.UC_CPU_ARM64_MAX);
    try {
      u.cpRegWrite(sysregs.MAIR_EL1, 0x04_00_44_ff_ffn);
      expect(u.cpRegRead(sysregs.MAIR_EL1)).toBe(0x04_00_44_ff_ffn);
      expect(u.regRead(uc.UC_ARM64_REG_MAIR_EL1)).toBe(0x04_00_44_ff_ffn);
      expect(u.cpRegRead(sysregs.DCZID_EL0) & 0xfn).toBe(4n); // 64-byte DC ZVA blocks
    } finally {
      u.close();
    }
  });

  it('reports bad arguments as UnicornError with Unicorn\'s message', () => {
    const u = Unicorn.open();
    try {
      expect(() => u.memMap(0x10001, 0x1000, uc.UC_PROT_ALL)).toThrow(UnicornError);
      expect(() => u.memMap(0x10001, 0x1000, uc.UC_PROT_ALL)).toThrow(/^uc_mem_map\(0x10001, 0x1000\) failed: Invalid argument \(UC_ERR_ARG\) \(uc_err 15\)$/);
      // 2.0.1 refuses a system register it does not implement; 2.1 reads it as 0 (with a warning).
      if (unicornVersion()[1] === 0) expect(() => u.cpRegRead({ op0: 3, op1: 7, crn: 15, crm: 15, op2: 7 })).toThrow(/uc_reg_read\(CP_REG S3_7_C15_C15_7\) failed/);
      else expect(u.cpRegRead({ op0: 3, op1: 7, crn: 15, crm: 15, op2: 7 })).toBe(0n);
    } finally {
      u.close();
    }
    expect(() => u.regRead(uc.UC_ARM64_REG_X0)).toThrow(/after close/);
  });

  it('a hook that throws stops emulation and the exception surfaces from emuStart', () => {
    const u = Unicorn.open();
    try {
      u.memMap(0x10000, 0x1000, uc.UC_PROT_ALL);
      u.memWrite(0x10000, Uint8Array.from([0x01, 0x00, 0x00, 0xd4])); // svc #0
      u.hookIntr(() => {
        throw new Error('boom');
      });
      expect(() => u.emuStart(0x10000, 0x20000)).toThrow('boom');
    } finally {
      u.close();
    }
  });
});

describe('QEMU\'s walker through AT, over the engine\'s shadow tables', () => {
  it('translates what the shadow maps and faults where it does not', () => {
    const e = new Engine({ memMb: 16 });
    try {
      const pa = e.phys.base + 0x5000;
      e.shadow.map(0x7000, 4096, pa, { r: true, w: false, x: false });
      const at = (op: typeof sysregs.AT_S1E0R, va: number): bigint => {
        e.uc.cpRegWrite(op, va);
        return e.uc.cpRegRead(sysregs.PAR_EL1);
      };
      const ok = at(sysregs.AT_S1E0R, 0x7123);
      expect(ok & 1n).toBe(0n);
      expect(Number(ok & 0xfffffffff000n)).toBe(pa);
      // A write to the read-only entry: permission fault, level 3 (FST = 0b001111).
      const w = at(sysregs.AT_S1E0W, 0x7123);
      expect(w & 1n).toBe(1n);
      expect((w >> 1n) & 0x3fn).toBe(0b001111n);
      // Nothing mapped: translation fault (FST = 0b0001LL).
      const t = at(sysregs.AT_S1E0R, 0x9000);
      expect(t & 1n).toBe(1n);
      expect(((t >> 1n) & 0x3cn)).toBe(0b000100n);
    } finally {
      e.close();
    }
  });
});

describe('HostRegion', () => {
  it('reserves lazily, views, discards and releases', () => {
    const r = HostRegion.reserve(1 << 30, 'rw'); // 1 GiB, untouched
    const u8 = new Uint8Array(r.view());
    u8[12345] = 7;
    expect(u8[12345]).toBe(7);
    r.discard(0, 4096 * 4);
    expect(u8[12345]).toBe(0);
    r.release();
    expect(r.isReleased).toBe(true);
    expect(() => r.view()).toThrow(/after release/);
    const none = HostRegion.reserve(1 << 20, 'none');
    expect(() => none.view()).toThrow(/PROT_NONE/);
    none.release();
  });
});
