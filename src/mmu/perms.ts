/**
 * Stage-1 EL1&0 access permissions (ARM ARM D8.4, "Memory access control"): what AP[2:1], UXN and
 * PXN, after the hierarchical APTable/UXNTable/PXNTable of the tables above, allow at EL0 and EL1.
 * Modelled with SCTLR_EL1.WXN = 0, PSTATE.PAN = 0 and TCR_EL1.HPD0 = 0 (Linux's user setting).
 */
import type { Access } from '../trace/events.js';

export const PERM_EL0_R = 1 << 0;
export const PERM_EL0_W = 1 << 1;
export const PERM_EL0_X = 1 << 2;
export const PERM_EL1_R = 1 << 3;
export const PERM_EL1_W = 1 << 4;
export const PERM_EL1_X = 1 << 5;

export const PERM_EL0_ALL = PERM_EL0_R | PERM_EL0_W | PERM_EL0_X;
export const PERM_EL1_ALL = PERM_EL1_R | PERM_EL1_W | PERM_EL1_X;
export const PERM_WRITE = PERM_EL0_W | PERM_EL1_W;

/**
 * Permissions for the effective AP[2:1], UXN and PXN:
 * - AP 00: EL1 RW; 01: EL0 and EL1 RW; 10: EL1 RO; 11: EL0 and EL1 RO.
 * - EL0 may execute unless UXN (even without EL0 read: that is execute-only memory).
 * - EL1 may execute unless PXN, or unless EL0 can write the location (AP 01): the architecture
 *   never lets the kernel execute what user space can write.
 */
export function stage1Perms(ap: number, uxn: boolean, pxn: boolean): number {
  let p = 0;
  if (ap === 0 || ap === 1) p |= PERM_EL1_R | PERM_EL1_W;
  else p |= PERM_EL1_R;
  if (ap === 1) p |= PERM_EL0_R | PERM_EL0_W;
  if (ap === 3) p |= PERM_EL0_R;
  if (!uxn) p |= PERM_EL0_X;
  if (!pxn && ap !== 1) p |= PERM_EL1_X;
  return p;
}

/** stage1Perms for every (AP, UXN, PXN): index ap | uxn << 2 | pxn << 3. The walker's table. */
export const PERM_TABLE: Uint8Array = (() => {
  const t = new Uint8Array(16);
  for (let i = 0; i < 16; i++) t[i] = stage1Perms(i & 3, (i & 4) !== 0, (i & 8) !== 0);
  return t;
})();

/**
 * AP[2:1] after the hierarchical controls: APTable[0] (bit 61) takes EL0 access away, APTable[1]
 * (bit 62) takes write access away. `apTable` is APTable[1:0] ORed over the tables walked.
 */
export function applyApTable(ap: number, apTable: number): number {
  let eff = ap;
  if (apTable & 1) eff &= ~1;
  if (apTable & 2) eff |= 2;
  return eff;
}

/** The permission bit an access needs. */
export function permFor(access: Access, el: 0 | 1): number {
  switch (access) {
    case 'read':
      return el === 0 ? PERM_EL0_R : PERM_EL1_R;
    case 'write':
      return el === 0 ? PERM_EL0_W : PERM_EL1_W;
    case 'exec':
      return el === 0 ? PERM_EL0_X : PERM_EL1_X;
    default: {
      const never: never = access;
      throw new Error(`unknown access ${String(never)}`);
    }
  }
}

/** `rwx` style for one exception level. */
export function formatElPerms(perms: number, el: 0 | 1): string {
  const s = el === 0 ? 0 : 3;
  return ((perms >> s) & 1 ? 'r' : '-') + ((perms >> (s + 1)) & 1 ? 'w' : '-') + ((perms >> (s + 2)) & 1 ? 'x' : '-');
}

/** `EL0 rw- EL1 rw-`. */
export function formatPerms(perms: number): string {
  return `EL0 ${formatElPerms(perms, 0)} EL1 ${formatElPerms(perms, 1)}`;
}
