/**
 * The user-access primitive: one EL0 access played through the translation model the way the
 * machine plays a guest's, translate, and on a fault let the process's fault handler fix it up,
 * then translate again. Tests use it to replay a guest's accesses (so TLB fills, walks and
 * hardware access/dirty updates are counted exactly as in a run); copy_to_user and
 * copy_from_user use it with EL0 permissions, as LDTR/STTR do.
 *
 * The loop is bounded: a handler that reports success while the same fault comes back is a
 * model bug (a livelock in the real kernel), and is thrown as such rather than spun on.
 */
import type { FaultOutcome } from './api.js';
import type { Translation } from '../mmu/walker.js';
import type { Access, FaultKind } from '../trace/events.js';
import { LabError } from '../util/errors.js';
import type { Process } from './process.js';

/** The signal an access ends in instead of a translation. */
export interface UserAccessSignal {
  readonly ok: false;
  readonly outcome: Extract<FaultOutcome, { kind: 'signal' }>;
  /** The hardware fault that led to it. */
  readonly fault: FaultKind;
}

export type UserAccess = Translation | UserAccessSignal;

/** Faults one access may take: e.g. translation, then (no hardware dirty) permission for the dirty bit. */
const MAX_FAULTS = 4;

/**
 * Translate `va` for an EL0 `access` in `mm`, handling faults; the translation (with its PA) or
 * the signal Linux would deliver. The mmu must have this process's context loaded (ttbr0 and
 * ASID: MmKernel.switchTo).
 */
export function accessUser(mm: Process, va: number, access: Access): UserAccess {
  const mmu = mm.kernel.mmu;
  if (mmu.regs.ttbr0 !== mm.pgd || mmu.regs.asid !== mm.userAsid) {
    throw new Error(`accessUser: the mmu holds ttbr0 0x${mmu.regs.ttbr0.toString(16)} ASID ${mmu.regs.asid}, not this process (pgd 0x${mm.pgd.toString(16)}, ASID ${mm.userAsid}): switch to it first`);
  }
  let last: FaultKind | null = null;
  for (let n = 0; n <= MAX_FAULTS; n++) {
    const t = mmu.translate(va, access, 0);
    if (t.ok) return t;
    if (n === MAX_FAULTS) {
      throw new LabError(`model bug: ${access} at 0x${va.toString(16)} still faults (${t.kind} at level ${t.level}) after ${MAX_FAULTS} handled faults (last: ${last})`);
    }
    const outcome = mm.handleFault(va, access, t.kind);
    if (outcome.kind === 'signal') return { ok: false, outcome, fault: t.kind };
    last = t.kind;
  }
  throw new Error('unreachable');
}
