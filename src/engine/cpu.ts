/**
 * CPU bring-up: from Unicorn's reset state to a guest at EL0 with the MMU on, translating through
 * the shadow tables. Values were measured on Unicorn 2.0.1 and follow the Arm ARM's register
 * descriptions; MAIR_EL1 uses Linux's attribute layout
 * (arch/arm64/include/asm/memory.h, v6.9: MT_NORMAL = 0 ... MT_DEVICE_nGnRE = 4) so that the
 * model's AttrIndx values mean the same here.
 *
 * Why a stub: writing PSTATE through uc_reg_write does not change the exception level QEMU has
 * cached, so the only reliable way down to EL0 is an `eret`, executed once at EL1 (where Unicorn's
 * CPU starts) with the MMU still off, so the stub is fetched from its physical address.
 */
import { EnvironmentError } from '../util/errors.js';
import { PA_BITS } from './layout.js';
import {
  CNTHCTL_EL2, CNTKCTL_EL1, CPACR_EL1, DCZID_EL0, ELR_EL1, HCR_EL2, MAIR_EL1, SCR_EL3, SCTLR_EL1,
  SPSR_EL1, TCR_EL1, TLBI_VMALLE1, TTBR0_EL1,
} from './sysregs.js';
import { UC_ARM64_REG_PSTATE, UC_ERR_OK } from './unicorn-const.js';
import type { Unicorn } from './unicorn.js';

const BIT = (n: number): bigint => 1n << BigInt(n);

/** SCR_EL3: NS (lower levels non-secure) and RW (EL2 is AArch64). */
export const SCR_EL3_VALUE = BIT(0) | BIT(10);
/** HCR_EL2: RW (EL1 is AArch64); nothing trapped to EL2. */
export const HCR_EL2_VALUE = BIT(31);
/** MAIR_EL1 in Linux's layout: Normal WB, Normal (tagged, here plain WB), Normal NC, Device-nGnRnE, Device-nGnRE. */
export const MAIR_EL1_VALUE = 0x04_00_44_ff_ffn;
/** The MAIR index of Normal write-back memory. */
export const MT_NORMAL = 0;

/**
 * TCR_EL1: T0SZ = 16 (48-bit VA, walks start at level 0), 4K granule (TG0 = 0), walks
 * inner/outer write-back cacheable, inner shareable; TTBR1 walks disabled (EPD1, T1SZ = 16,
 * TG1 = 4K); IPS = 44 bits (the CPU's PARange); AS = 16-bit ASIDs; TBI0 = 1, as Linux sets it
 * for user space: EL0 may use pointers with a tag in bits 63:56 (the kernel's
 * Documentation/arch/arm64/tagged-address-abi.rst), which QEMU's table walk then ignores. TBID0
 * stays 0 as in Linux, so a branch to a tagged address lands on the untagged one. Unicorn 2.0.1
 * still checks the tagged address against its memory map first: see Engine.mapTagWindow.
 */
export const TCR_EL1_VALUE =
  16n | (1n << 8n) | (1n << 10n) | (3n << 12n) | (16n << 16n) | BIT(23) | (2n << 30n) | (4n << 32n) | BIT(36) | BIT(37);

/**
 * SCTLR_EL1 bits set on top of the reset value: C and I (no effect in QEMU, set as Linux does),
 * DZE (EL0 may use DC ZVA), UCT (EL0 may read CTR_EL0), UCI (EL0 cache maintenance by VA),
 * nTWI/nTWE (WFI/WFE do not trap). glibc's static start-up needs DZE, UCT and UCI.
 */
export const SCTLR_EL1_SET = BIT(2) | BIT(12) | BIT(14) | BIT(15) | BIT(16) | BIT(18) | BIT(26);
export const SCTLR_EL1_M = BIT(0);
/** CPACR_EL1.FPEN = 11: FP/SIMD at EL0 and EL1 without traps. SVE (ZEN) stays trapped. */
export const CPACR_EL1_VALUE = 3n << 20n;
/** EL0 may read the physical and virtual counters (CNTKCTL_EL1.EL0PCTEN/EL0VCTEN). */
export const CNTKCTL_EL1_VALUE = 3n;
/** EL1/EL0 counter and timer accesses are not trapped to EL2. */
export const CNTHCTL_EL2_VALUE = 3n;

/** A64 `eret`. */
export const ERET = 0xd69f03e0;

export interface BringUpConfig {
  /** Physical address of the level-0 shadow table. */
  readonly ttbr0Base: number;
  readonly asid: number;
  /** Physical address of a page the stub may occupy (4 bytes at its start, then the landing). */
  readonly stubPa: number;
  /** Writes one 32-bit word at a physical address of the stub page. */
  readonly writeStubWord: (pa: number, word: number) => void;
}

export interface CpuState {
  /** DC ZVA block size in bytes, from DCZID_EL0.BS. */
  readonly dczBlockBytes: number;
}

/** PSTATE.M[3:2]: the current exception level. */
function currentEl(uc: Unicorn): number {
  return Number((uc.regRead(UC_ARM64_REG_PSTATE) >> 2n) & 3n);
}

export function ttbr0Value(base: number, asid: number): bigint {
  return BigInt(base) | (BigInt(asid) << 48n);
}

/**
 * Programs the translation regime and drops to EL0. Afterwards the guest runs at EL0 with the MMU
 * on, TTBR0_EL1 = shadow root with `asid`, and QEMU's TLB empty.
 */
export function bringUp(uc: Unicorn, cfg: BringUpConfig): CpuState {
  if (cfg.ttbr0Base % 4096 !== 0 || cfg.ttbr0Base >= 2 ** PA_BITS) throw new RangeError(`shadow root 0x${cfg.ttbr0Base.toString(16)} is not a page of the ${PA_BITS}-bit physical space`);
  if (!Number.isInteger(cfg.asid) || cfg.asid < 0 || cfg.asid > 0xffff) throw new RangeError(`ASID ${cfg.asid} is not 0..65535`);
  const el = currentEl(uc);
  if (el !== 1) {
    throw new EnvironmentError(`libunicorn's ARM64 CPU starts at EL${el}, not EL1 as Unicorn 2.0.1 does; this engine needs the 2.0.1 behaviour ('apt-get install libunicorn2')`);
  }
  uc.cpRegWrite(SCR_EL3, SCR_EL3_VALUE);
  uc.cpRegWrite(HCR_EL2, HCR_EL2_VALUE);
  uc.cpRegWrite(CNTHCTL_EL2, CNTHCTL_EL2_VALUE);
  uc.cpRegWrite(MAIR_EL1, MAIR_EL1_VALUE);
  uc.cpRegWrite(TCR_EL1, TCR_EL1_VALUE);
  uc.cpRegWrite(TTBR0_EL1, ttbr0Value(cfg.ttbr0Base, cfg.asid));
  uc.cpRegWrite(CPACR_EL1, CPACR_EL1_VALUE);
  uc.cpRegWrite(CNTKCTL_EL1, CNTKCTL_EL1_VALUE);
  const sctlr = (uc.cpRegRead(SCTLR_EL1) | SCTLR_EL1_SET) & ~SCTLR_EL1_M;
  uc.cpRegWrite(SCTLR_EL1, sctlr);

  // The stub runs with the MMU off (VA = PA); `until` = the landing address, which is where the
  // eret goes, so emulation ends as soon as the CPU arrives there at EL0.
  const landing = cfg.stubPa + 4;
  cfg.writeStubWord(cfg.stubPa, ERET);
  uc.cpRegWrite(ELR_EL1, landing);
  uc.cpRegWrite(SPSR_EL1, 0); // EL0t, interrupts unmasked (none are ever raised)
  const err = uc.emuStart(cfg.stubPa, landing);
  if (err !== UC_ERR_OK || currentEl(uc) !== 0) {
    throw new EnvironmentError(`could not enter EL0 through the eret stub (uc_err ${err}: ${uc.strerror(err)}, now at EL${currentEl(uc)}); libunicorn does not behave like Unicorn 2.0.1`);
  }

  uc.cpRegWrite(SCTLR_EL1, sctlr | SCTLR_EL1_M);
  // Entries QEMU filled while the MMU was off must go.
  uc.cpRegWrite(TLBI_VMALLE1, 0);
  const bs = Number(uc.cpRegRead(DCZID_EL0) & 0xfn);
  return { dczBlockBytes: 4 << bs };
}
