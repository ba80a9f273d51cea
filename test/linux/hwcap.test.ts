import { describe, expect, it } from 'vitest';
import { Unicorn } from '../../src/engine/unicorn.js';
import { UC_ARCH_ARM64, UC_CPU_ARM64_MAX, UC_MODE_ARM } from '../../src/engine/unicorn-const.js';
import {
  DEFAULT_HWCAPS, HWCAP, HWCAP2, ID_REGISTER_ENCODINGS, UNICORN_MAX_ID_REGISTERS, elfHwcaps, hwcapNames, type IdRegisters,
} from '../../src/linux/hwcap.js';
import { u64, u64FromBigInt } from '../../src/util/u64.js';

describe('AT_HWCAP / AT_HWCAP2', () => {
  it('for the engine CPU: the v8.x features it executes at EL0, and nothing the set-up leaves off', () => {
    expect(hwcapNames(DEFAULT_HWCAPS)).toEqual([
      'FP', 'ASIMD', 'AES', 'PMULL', 'SHA1', 'SHA2', 'CRC32', 'ATOMICS', 'FPHP', 'ASIMDHP', 'ASIMDRDM', 'JSCVT', 'FCMA',
      'LRCPC', 'DCPOP', 'SHA3', 'SM3', 'SM4', 'ASIMDDP', 'SHA512', 'ASIMDFHM', 'ILRCPC', 'FLAGM', 'SB',
      'DCPODP', 'FLAGM2', 'FRINT',
    ]);
    expect(DEFAULT_HWCAPS).toEqual({ hwcap: 0x2cbff7fb, hwcap2: 0x181 });
    for (const off of [HWCAP.SVE, HWCAP.PACA, HWCAP.PACG, HWCAP.CPUID, HWCAP.EVTSTRM]) expect(DEFAULT_HWCAPS.hwcap & off).toBe(0);
    for (const off of [HWCAP2.SVE2, HWCAP2.BTI, HWCAP2.RNG, HWCAP2.MTE]) expect(DEFAULT_HWCAPS.hwcap2 & off).toBe(0);
  });

  it('follows the ID register fields, signed ones included', () => {
    const zero = u64(0, 0);
    const base: IdRegisters = {
      ID_AA64PFR0_EL1: zero, ID_AA64PFR1_EL1: zero, ID_AA64ISAR0_EL1: zero, ID_AA64ISAR1_EL1: zero,
      ID_AA64ISAR2_EL1: zero, ID_AA64MMFR0_EL1: zero, ID_AA64MMFR1_EL1: zero, ID_AA64MMFR2_EL1: zero,
    };
    // FP and AdvSIMD 0 mean "implemented" (ARMv8.0); 0xf means absent.
    expect(hwcapNames(elfHwcaps(base))).toEqual(['FP', 'ASIMD']);
    expect(hwcapNames(elfHwcaps({ ...base, ID_AA64PFR0_EL1: u64(0xff << 16, 0) }))).toEqual([]);
    // ATOMIC = 2 is LSE; AES = 1 without PMULL.
    expect(hwcapNames(elfHwcaps({ ...base, ID_AA64ISAR0_EL1: u64((2 << 20) | (1 << 4), 0) }))).toEqual(['FP', 'ASIMD', 'AES', 'ATOMICS']);
    // LRCPC = 1 is LRCPC only; SSBS needs PFR1.SSBS = 2; USCAT is MMFR2.AT.
    expect(hwcapNames(elfHwcaps({ ...base, ID_AA64ISAR1_EL1: u64(1 << 20, 0), ID_AA64PFR1_EL1: u64(2 << 4, 0), ID_AA64MMFR2_EL1: u64(0, 1) }))).toEqual([
      'FP', 'ASIMD', 'LRCPC', 'USCAT', 'SSBS',
    ]);
  });

  it('the recorded ID registers are what libunicorn 2.0.1 reports for UC_CPU_ARM64_MAX', () => {
    let uc: Unicorn;
    try {
      uc = Unicorn.open(UC_ARCH_ARM64, UC_MODE_ARM, UC_CPU_ARM64_MAX);
    } catch (e) {
      throw new Error(`libunicorn is needed to read the CPU's ID registers: install the Debian package libunicorn2 (${(e as Error).message})`);
    }
    try {
      const read = {} as Record<keyof IdRegisters, unknown>;
      for (const [name, [op0, op1, crn, crm, op2]] of Object.entries(ID_REGISTER_ENCODINGS)) {
        read[name as keyof IdRegisters] = u64FromBigInt(uc.cpRegRead({ op0, op1, crn, crm, op2 }));
      }
      expect(read).toEqual(UNICORN_MAX_ID_REGISTERS);
    } finally {
      uc.close();
    }
  });
});
