/**
 * The translation registers the walker needs, and TCR_EL1/TTBR0_EL1 decoding (ARM ARM D19.2,
 * TCR_EL1 and TTBR0_EL1). Only TTBR0 (the user half) is modelled: VAs are below 2^(64-T0SZ).
 */
import { POW2, T0SZ_MAX, T0SZ_MIN } from './geometry.js';
import { u64Bits, u64ToBigInt, type U64 } from '../util/u64.js';

export interface TranslationRegs {
  /** Physical address of the start-level table (TTBR0_EL1.BADDR). */
  ttbr0: number;
  /** The current ASID (TTBR0_EL1[63:48], 16-bit ASIDs). */
  asid: number;
  /** TCR_EL1.T0SZ: VAs have 64 - t0sz bits. */
  t0sz: number;
  /** TCR_EL1.HA: hardware sets the access flag (FEAT_HAFDBS). */
  ha: boolean;
  /** TCR_EL1.HD: hardware clears AP[2] on a write to a DBM entry; only effective with `ha`. */
  hd: boolean;
  /** Effective output address size in bits: min(TCR_EL1.IPS, the CPU's PARange). Default 44. */
  paBits?: number;
}

/** The PARange of the CPU under Unicorn 2.0.1 (Cortex-A72 model: 44 bits), our default. */
export const DEFAULT_PA_BITS = 44;

/** TCR_EL1 fields this model reads or reports. */
export interface TcrFields {
  T0SZ: number;
  EPD0: boolean;
  IRGN0: number;
  ORGN0: number;
  SH0: number;
  /** 0 = 4 KiB, 1 = 64 KiB, 2 = 16 KiB. */
  TG0: number;
  T1SZ: number;
  A1: boolean;
  EPD1: boolean;
  /** 1 = 16 KiB, 2 = 4 KiB, 3 = 64 KiB. */
  TG1: number;
  IPS: number;
  /** ASID size: false = 8 bits, true = 16 bits. */
  AS: boolean;
  TBI0: boolean;
  TBI1: boolean;
  HA: boolean;
  HD: boolean;
  HPD0: boolean;
  HPD1: boolean;
}

export function decodeTcr(tcr: U64): TcrFields {
  const b = (n: number): boolean => u64Bits(tcr, n, n) === 1;
  return {
    T0SZ: u64Bits(tcr, 5, 0),
    EPD0: b(7),
    IRGN0: u64Bits(tcr, 9, 8),
    ORGN0: u64Bits(tcr, 11, 10),
    SH0: u64Bits(tcr, 13, 12),
    TG0: u64Bits(tcr, 15, 14),
    T1SZ: u64Bits(tcr, 21, 16),
    A1: b(22),
    EPD1: b(23),
    TG1: u64Bits(tcr, 31, 30),
    IPS: u64Bits(tcr, 34, 32),
    AS: b(36),
    TBI0: b(37),
    TBI1: b(38),
    HA: b(39),
    HD: b(40),
    HPD0: b(41),
    HPD1: b(42),
  };
}

/** TCR_EL1.IPS (and ID_AA64MMFR0_EL1.PARange) to bits: 32, 36, 40, 42, 44, 48, 52. */
export function ipsBits(ips: number): number {
  const table = [32, 36, 40, 42, 44, 48, 52];
  const bits = table[ips];
  if (bits === undefined) throw new RangeError(`IPS/PARange value ${ips} is reserved`);
  return bits;
}

/**
 * Why this TCR cannot be modelled, or null: only the 4 KiB granule, T0SZ 16..39, HPD0 = 0,
 * EPD0 = 0 and output sizes up to 48 bits (no LPA2).
 */
export function unsupportedTcr(f: TcrFields): string | null {
  if (f.TG0 !== 0) return `TG0=${f.TG0} selects a ${f.TG0 === 1 ? '64' : f.TG0 === 2 ? '16' : '?'} KiB granule; only 4 KiB (TG0=0) is modelled`;
  if (f.T0SZ < T0SZ_MIN || f.T0SZ > T0SZ_MAX) return `T0SZ=${f.T0SZ} is outside ${T0SZ_MIN}..${T0SZ_MAX} (48- to 25-bit VAs)`;
  if (f.EPD0) return 'EPD0=1 disables TTBR0 walks; not modelled';
  if (f.HPD0) return 'HPD0=1 (hierarchical permissions disabled) is not modelled';
  if (f.IPS > 5) return `IPS=${f.IPS} (52-bit PA) needs LPA/LPA2; not modelled`;
  return null;
}

/**
 * TranslationRegs from TCR_EL1 and TTBR0_EL1 values. The ASID comes from TTBR0[63:48] (TCR.A1 = 0
 * is assumed), BADDR from TTBR0[47:1] (CnP, bit 0, is dropped). Throws RangeError naming the
 * problem for a TCR outside the model (see unsupportedTcr).
 */
export function regsFromTcr(tcr: U64, ttbr0: U64, paRangeBits = DEFAULT_PA_BITS): TranslationRegs {
  const f = decodeTcr(tcr);
  const why = unsupportedTcr(f);
  if (why !== null) throw new RangeError(`TCR 0x${u64ToBigInt(tcr).toString(16)}: ${why}`);
  const baddr = (ttbr0.hi & 0xffff) * POW2[32]! + ((ttbr0.lo & ~1) >>> 0);
  return {
    ttbr0: baddr,
    asid: ttbr0.hi >>> 16,
    t0sz: f.T0SZ,
    ha: f.HA,
    hd: f.HD,
    paBits: Math.min(ipsBits(f.IPS), paRangeBits),
  };
}

/** The TCR_EL1 value the Unicorn prototype used: T0SZ 16, 4 KiB, inner shareable WBWA, EPD1, IPS 48 bits. */
export const DEFAULT_TCR: U64 = Object.freeze({ lo: 0x80903510, hi: 0x5 });
