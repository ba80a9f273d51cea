/**
 * The ESR_EL1 value a user fault's signal frame reports in its esr_context (arm64
 * set_thread_esr, v6.9: a fault on a user address keeps the syndrome as the CPU gave it).
 * The model's faults carry their kind and level, not the CPU's syndrome, so the value is built
 * from them as the architecture encodes it (ARM ARM D17.2.37 ESR_EL1): EC in bits 31:26, IL in
 * bit 25, and for aborts WnR in bit 6 and the fault status code in bits 5:0.
 */
import type { FaultKind } from '../trace/events.js';

/** Exception classes of aborts taken from EL0. */
export const ESR_EC_IABT_LOW = 0x20;
export const ESR_EC_DABT_LOW = 0x24;
const ESR_IL = 1 << 25;
const ESR_WNR = 1 << 6;

/** The fault status code (DFSC/IFSC) of a fault kind at a lookup level. */
export function faultStatusCode(kind: FaultKind, level: number): number {
  switch (kind) {
    case 'address_size':
      return 0b000000 | (level & 3);
    case 'translation':
      return 0b000100 | (level & 3);
    case 'access_flag':
      return 0b001000 | (level & 3);
    case 'permission':
      return 0b001100 | (level & 3);
    case 'alignment':
      return 0b100001;
  }
}

/** ESR_EL1 of an EL0 data or instruction abort. */
export function userAbortEsr(access: 'read' | 'write' | 'exec', kind: FaultKind, level: number): bigint {
  const ec = access === 'exec' ? ESR_EC_IABT_LOW : ESR_EC_DABT_LOW;
  let esr = (ec << 26) | ESR_IL | faultStatusCode(kind, level);
  if (access === 'write') esr |= ESR_WNR;
  return BigInt(esr >>> 0);
}
