/**
 * AT_HWCAP and AT_HWCAP2: what the kernel tells user space about the CPU.
 *
 * Linux derives each bit from a field of an ID register (arch/arm64/kernel/cpufeature.c, v6.9,
 * arm64_elf_hwcaps), and some only when the kernel has switched the feature on for EL0. We do the
 * same from the ID registers of the CPU the engine emulates: Unicorn 2.0.1's "max" CPU
 * (src/engine/engine.ts opens UC_CPU_ARM64_MAX; QEMU 5.0's aarch64 max, a Cortex-A57 with most
 * v8.x features added). `UNICORN_MAX_ID_REGISTERS` records what that CPU reports, and a test
 * reads them again from the installed library so the record cannot go stale silently.
 *
 * A bit is advertised only when the instruction really works for the guest as the engine sets
 * the CPU up. Left out on purpose, although the ID registers list them:
 * - SVE (and every SVE2/SME bit): CPACR_EL1.ZEN stays trapped (src/engine/cpu.ts), so SVE
 *   instructions would fault.
 * - PACA, PACG: the kernel advertises pointer authentication only after installing keys and
 *   setting SCTLR_EL1.EnIA/EnIB/EnDA/EnDB; the engine does neither.
 * - BTI: needs guarded pages (the GP bit, PROT_BTI), which the page-table model does not have.
 * - RNG: RNDR draws host entropy the tool cannot seed; runs must be deterministic.
 * - CPUID: Linux traps and emulates EL0 reads of ID registers; here they would be undefined.
 * - EVTSTRM: no timer event stream is configured.
 */
import { u64, u64Bits, type U64 } from '../util/u64.js';

/** AT_HWCAP bits (arch/arm64/include/uapi/asm/hwcap.h). */
export const HWCAP = {
  FP: 1 << 0,
  ASIMD: 1 << 1,
  EVTSTRM: 1 << 2,
  AES: 1 << 3,
  PMULL: 1 << 4,
  SHA1: 1 << 5,
  SHA2: 1 << 6,
  CRC32: 1 << 7,
  ATOMICS: 1 << 8,
  FPHP: 1 << 9,
  ASIMDHP: 1 << 10,
  CPUID: 1 << 11,
  ASIMDRDM: 1 << 12,
  JSCVT: 1 << 13,
  FCMA: 1 << 14,
  LRCPC: 1 << 15,
  DCPOP: 1 << 16,
  SHA3: 1 << 17,
  SM3: 1 << 18,
  SM4: 1 << 19,
  ASIMDDP: 1 << 20,
  SHA512: 1 << 21,
  SVE: 1 << 22,
  ASIMDFHM: 1 << 23,
  DIT: 1 << 24,
  USCAT: 1 << 25,
  ILRCPC: 1 << 26,
  FLAGM: 1 << 27,
  SSBS: 1 << 28,
  SB: 1 << 29,
  PACA: 1 << 30,
  PACG: 2 ** 31,
} as const;

/** AT_HWCAP2 bits below 32 (the ones a v8.0-v8.5 CPU can have). */
export const HWCAP2 = {
  DCPODP: 1 << 0,
  SVE2: 1 << 1,
  SVEAES: 1 << 2,
  SVEPMULL: 1 << 3,
  SVEBITPERM: 1 << 4,
  SVESHA3: 1 << 5,
  SVESM4: 1 << 6,
  FLAGM2: 1 << 7,
  FRINT: 1 << 8,
  SVEI8MM: 1 << 9,
  SVEF32MM: 1 << 10,
  SVEF64MM: 1 << 11,
  SVEBF16: 1 << 12,
  I8MM: 1 << 13,
  BF16: 1 << 14,
  DGH: 1 << 15,
  RNG: 1 << 16,
  BTI: 1 << 17,
  MTE: 1 << 18,
  ECV: 1 << 19,
  AFP: 1 << 20,
  RPRES: 1 << 21,
} as const;

/** The ID registers the hwcaps are computed from. */
export interface IdRegisters {
  readonly ID_AA64PFR0_EL1: U64;
  readonly ID_AA64PFR1_EL1: U64;
  readonly ID_AA64ISAR0_EL1: U64;
  readonly ID_AA64ISAR1_EL1: U64;
  readonly ID_AA64ISAR2_EL1: U64;
  readonly ID_AA64MMFR0_EL1: U64;
  readonly ID_AA64MMFR1_EL1: U64;
  readonly ID_AA64MMFR2_EL1: U64;
}

/** System-register encodings (op0, op1, CRn, CRm, op2) of the ID registers, for reading them. */
export const ID_REGISTER_ENCODINGS: Readonly<Record<keyof IdRegisters, readonly [number, number, number, number, number]>> = {
  ID_AA64PFR0_EL1: [3, 0, 0, 4, 0],
  ID_AA64PFR1_EL1: [3, 0, 0, 4, 1],
  ID_AA64ISAR0_EL1: [3, 0, 0, 6, 0],
  ID_AA64ISAR1_EL1: [3, 0, 0, 6, 1],
  ID_AA64ISAR2_EL1: [3, 0, 0, 6, 2],
  ID_AA64MMFR0_EL1: [3, 0, 0, 7, 0],
  ID_AA64MMFR1_EL1: [3, 0, 0, 7, 1],
  ID_AA64MMFR2_EL1: [3, 0, 0, 7, 2],
};

/**
 * What Unicorn 2.0.1's UC_CPU_ARM64_MAX reports (read with uc_reg_read of the system registers
 * at reset; test/linux/hwcap.test.ts reads them again).
 */
export const UNICORN_MAX_ID_REGISTERS: IdRegisters = {
  ID_AA64PFR0_EL1: u64(0x00112222, 0x1),
  ID_AA64PFR1_EL1: u64(0x1, 0),
  ID_AA64ISAR0_EL1: u64(0x10212120, 0x10211111),
  ID_AA64ISAR1_EL1: u64(0x01211012, 0x111),
  ID_AA64ISAR2_EL1: u64(0, 0),
  ID_AA64MMFR0_EL1: u64(0x1124, 0),
  ID_AA64MMFR1_EL1: u64(0x211120, 0),
  ID_AA64MMFR2_EL1: u64(0x11, 0),
};

export interface Hwcaps {
  readonly hwcap: number;
  readonly hwcap2: number;
}

/** A 4-bit ID field at bit `lsb`, unsigned. */
function field(reg: U64, lsb: number): number {
  return u64Bits(reg, lsb + 3, lsb);
}

/** A 4-bit ID field that is signed (FP, AdvSIMD: 0xf means "not implemented"). */
function signedField(reg: U64, lsb: number): number {
  const v = field(reg, lsb);
  return v >= 8 ? v - 16 : v;
}

/**
 * The hwcaps Linux would advertise for a CPU with these ID registers, less the features the
 * model's CPU set-up does not enable for EL0 (see the module comment). Each test is the
 * cpufeature.c HWCAP_CAP entry: register, field, minimum value.
 */
export function elfHwcaps(r: IdRegisters): Hwcaps {
  const pfr0 = r.ID_AA64PFR0_EL1;
  const isar0 = r.ID_AA64ISAR0_EL1;
  const isar1 = r.ID_AA64ISAR1_EL1;
  const mmfr2 = r.ID_AA64MMFR2_EL1;
  let hwcap = 0;
  let hwcap2 = 0;
  const cap = (present: boolean, bit: number): void => {
    if (present) hwcap |= bit;
  };
  const cap2 = (present: boolean, bit: number): void => {
    if (present) hwcap2 |= bit;
  };

  const fp = signedField(pfr0, 16);
  const asimd = signedField(pfr0, 20);
  cap(fp >= 0, HWCAP.FP);
  cap(fp >= 1, HWCAP.FPHP);
  cap(asimd >= 0, HWCAP.ASIMD);
  cap(asimd >= 1, HWCAP.ASIMDHP);
  cap(field(pfr0, 48) >= 1, HWCAP.DIT);

  const aes = field(isar0, 4);
  cap(aes >= 1, HWCAP.AES);
  cap(aes >= 2, HWCAP.PMULL);
  cap(field(isar0, 8) >= 1, HWCAP.SHA1);
  const sha2 = field(isar0, 12);
  cap(sha2 >= 1, HWCAP.SHA2);
  cap(sha2 >= 2, HWCAP.SHA512);
  cap(field(isar0, 16) >= 1, HWCAP.CRC32);
  cap(field(isar0, 20) >= 2, HWCAP.ATOMICS);
  cap(field(isar0, 28) >= 1, HWCAP.ASIMDRDM);
  cap(field(isar0, 32) >= 1, HWCAP.SHA3);
  cap(field(isar0, 36) >= 1, HWCAP.SM3);
  cap(field(isar0, 40) >= 1, HWCAP.SM4);
  cap(field(isar0, 44) >= 1, HWCAP.ASIMDDP);
  cap(field(isar0, 48) >= 1, HWCAP.ASIMDFHM);
  const ts = field(isar0, 52);
  cap(ts >= 1, HWCAP.FLAGM);
  cap2(ts >= 2, HWCAP2.FLAGM2);

  const dpb = field(isar1, 0);
  cap(dpb >= 1, HWCAP.DCPOP);
  cap2(dpb >= 2, HWCAP2.DCPODP);
  cap(field(isar1, 12) >= 1, HWCAP.JSCVT);
  cap(field(isar1, 16) >= 1, HWCAP.FCMA);
  const lrcpc = field(isar1, 20);
  cap(lrcpc >= 1, HWCAP.LRCPC);
  cap(lrcpc >= 2, HWCAP.ILRCPC);
  cap2(field(isar1, 32) >= 1, HWCAP2.FRINT);
  cap(field(isar1, 36) >= 1, HWCAP.SB);
  cap2(field(isar1, 44) >= 1, HWCAP2.BF16);
  cap2(field(isar1, 48) >= 1, HWCAP2.DGH);
  cap2(field(isar1, 52) >= 1, HWCAP2.I8MM);

  cap(field(mmfr2, 32) >= 1, HWCAP.USCAT);
  // SSBS needs the PSTATE.SSBS control (ID_AA64PFR1_EL1.SSBS >= 2).
  cap(field(r.ID_AA64PFR1_EL1, 4) >= 2, HWCAP.SSBS);

  return { hwcap: hwcap >>> 0, hwcap2: hwcap2 >>> 0 };
}

/** The hwcaps of the CPU the engine emulates. */
export const DEFAULT_HWCAPS: Hwcaps = elfHwcaps(UNICORN_MAX_ID_REGISTERS);

/** Names of the bits set, in bit order, for messages and tests. */
export function hwcapNames(caps: Hwcaps): string[] {
  const names: string[] = [];
  for (const [name, bit] of Object.entries(HWCAP)) if ((caps.hwcap & bit) !== 0) names.push(name);
  for (const [name, bit] of Object.entries(HWCAP2)) if ((caps.hwcap2 & bit) !== 0) names.push(name);
  return names;
}
