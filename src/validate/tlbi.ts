/**
 * Names of TLBI instructions from their SYS encoding (ARM ARM C5.5, TLBI aliases of SYS with
 * CRn = 8): op1 picks the exception level, CRm the shareability and range form, op2 the kind.
 * The model's operations (src/mmu/tlbi.ts) are the EL1 ones; others are named by their fields.
 */

const KIND_BY_OP2: Readonly<Record<number, string>> = { 0: 'VMALLE1', 1: 'VAE1', 2: 'ASIDE1', 3: 'VAAE1', 5: 'VALE1', 7: 'VAALE1' };
const RANGE_BY_OP2: Readonly<Record<number, string>> = { 1: 'RVAE1', 3: 'RVAAE1', 5: 'RVALE1', 7: 'RVAALE1' };

/** The EL1 TLBI `op1 = 0, CRm, op2` (e.g. 3, 5 → VALE1IS), or a field description otherwise. */
export function tlbiName(op1: number, crm: number, op2: number): string {
  if (op1 === 0) {
    // CRm: 1 outer shareable, 3 inner shareable, 7 non-shareable; 2, 5, 6 their range forms
    // (2 inner shareable, 5 outer shareable, 6 non-shareable).
    const plain = KIND_BY_OP2[op2];
    const range = RANGE_BY_OP2[op2];
    switch (crm) {
      case 1:
        if (plain !== undefined) return `${plain}OS`;
        break;
      case 3:
        if (plain !== undefined) return `${plain}IS`;
        break;
      case 7:
        if (plain !== undefined) return plain;
        break;
      case 2:
        if (range !== undefined) return `${range}IS`;
        break;
      case 5:
        if (range !== undefined) return `${range}OS`;
        break;
      case 6:
        if (range !== undefined) return range;
        break;
      default:
        break;
    }
  }
  return `TLBI(op1=${op1},CRm=${crm},op2=${op2})`;
}
