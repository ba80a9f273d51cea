/**
 * The system registers and system instructions the engine touches, as (op0, op1, CRn, CRm, op2)
 * encodings from the Arm ARM (DDI 0487, "AArch64 System Register Descriptions" and the TLBI/AT/DC
 * instruction encodings). Written through Unicorn's UC_ARM64_REG_CP_REG.
 */
import type { SysReg } from './unicorn.js';

function sys(op0: number, op1: number, crn: number, crm: number, op2: number): SysReg {
  return Object.freeze({ op0, op1, crn, crm, op2 });
}

// Registers
export const SCTLR_EL1 = sys(3, 0, 1, 0, 0);
export const CPACR_EL1 = sys(3, 0, 1, 0, 2);
export const TTBR0_EL1 = sys(3, 0, 2, 0, 0);
export const TTBR1_EL1 = sys(3, 0, 2, 0, 1);
export const TCR_EL1 = sys(3, 0, 2, 0, 2);
export const SPSR_EL1 = sys(3, 0, 4, 0, 0);
export const ELR_EL1 = sys(3, 0, 4, 0, 1);
export const ESR_EL1 = sys(3, 0, 5, 2, 0);
export const FAR_EL1 = sys(3, 0, 6, 0, 0);
export const PAR_EL1 = sys(3, 0, 7, 4, 0);
export const MAIR_EL1 = sys(3, 0, 10, 2, 0);
export const CNTKCTL_EL1 = sys(3, 0, 14, 1, 0);
export const DCZID_EL0 = sys(3, 3, 0, 0, 7);
export const TPIDR_EL0 = sys(3, 3, 13, 0, 2);
export const TPIDRRO_EL0 = sys(3, 3, 13, 0, 3);
export const HCR_EL2 = sys(3, 4, 1, 1, 0);
export const CNTHCTL_EL2 = sys(3, 4, 14, 1, 0);
export const SCTLR_EL3 = sys(3, 6, 1, 0, 0);
export const SCR_EL3 = sys(3, 6, 1, 1, 0);
export const SPSR_EL3 = sys(3, 6, 4, 0, 0);
export const ELR_EL3 = sys(3, 6, 4, 0, 1);

// TLB maintenance (operand: VA[55:12] in bits 43:0, ASID in bits 63:48)
export const TLBI_VMALLE1IS = sys(1, 0, 8, 3, 0);
export const TLBI_VAE1IS = sys(1, 0, 8, 3, 1);
export const TLBI_VMALLE1 = sys(1, 0, 8, 7, 0);
export const TLBI_VAE1 = sys(1, 0, 8, 7, 1);
export const TLBI_ASIDE1 = sys(1, 0, 8, 7, 2);
export const TLBI_VAAE1 = sys(1, 0, 8, 7, 3);
export const TLBI_VALE1 = sys(1, 0, 8, 7, 5);

// Address translation (result in PAR_EL1)
export const AT_S1E1R = sys(1, 0, 7, 8, 0);
export const AT_S1E1W = sys(1, 0, 7, 8, 1);
export const AT_S1E0R = sys(1, 0, 7, 8, 2);
export const AT_S1E0W = sys(1, 0, 7, 8, 3);
