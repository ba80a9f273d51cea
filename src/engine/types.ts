/**
 * What the engine reports to the machine and what it expects back: stop reasons, aborts and the
 * hooks interface. The machine (src/machine) implements `EngineHooks`.
 */
import type { Engine } from './engine.js';

export type GuestAccessKind = 'read' | 'write' | 'exec';

/** One memory access an instruction makes (or, for an instruction abort, the fetch). */
export interface GuestAccess {
  /** First byte (exact below 2^53; beyond that `vaBig` has the exact value). */
  readonly va: number;
  readonly size: number;
  readonly kind: GuestAccessKind;
  readonly vaBig?: bigint;
  /**
   * The top byte (bits 63:56) of the address the instruction formed, when it was not zero: a
   * tagged pointer (TCR_EL1.TBI0). `va` is then the address the MMU translates, without it.
   */
  readonly tag?: number;
}

/**
 * A page the current shadow (that is, the model TLB) does not let the access through: either no
 * entry covers it ('translation') or the entry's EL0 permissions forbid the access ('permission').
 * `va` is the first byte of the access within that page.
 */
export interface PageFault {
  readonly va: number;
  readonly kind: GuestAccessKind;
  readonly reason: 'translation' | 'permission';
  /** The access's pointer tag (GuestAccess.tag), for reports that name the address as the guest wrote it. */
  readonly tag?: number;
}

/**
 * Why the abort happened:
 *  - 'translation' / 'permission': the first entry of `faults`;
 *  - 'alignment': every access is permitted, so QEMU raised an alignment fault (exclusives and
 *    atomics must be aligned; Device memory too);
 *  - 'outside-va-range': the address lies outside the VA range Unicorn's memory map covers
 *    (VA_LIMIT and above, except the window the physical regions occupy); Unicorn stopped before
 *    translating, so the access can never be made to succeed.
 */
export type AbortCause = 'translation' | 'permission' | 'alignment' | 'outside-va-range';

export interface AbortInfo {
  readonly kind: 'data' | 'instruction';
  readonly pc: number;
  /** The exact PC when it is 2^53 or more (a branch to a kernel address); `pc` is then approximate. */
  readonly pcBig?: bigint;
  /** The instruction word (data aborts; undefined for instruction aborts, whose fetch failed). */
  readonly insnWord: number | undefined;
  /** The decoder's name for the instruction form, e.g. 'LDP' or 'DC ZVA' ('' for fetches). */
  readonly form: string;
  /** Every access the instruction makes (a data abort) or the fetch (an instruction abort). */
  readonly accesses: readonly GuestAccess[];
  /** The pieces of `accesses` the shadow refuses, in the order the CPU makes them. */
  readonly faults: readonly PageFault[];
  readonly cause: AbortCause;
}

/** Exceptions other than aborts and `svc` (undefined instruction, BRK, HVC, ...). */
export interface ExceptionInfo {
  /** QEMU's EXCP_* number as UC_HOOK_INTR reported it. */
  readonly intno: number;
  readonly name: string;
  readonly pc: number;
}

export type StopReason =
  /** A hook asked to stop, e.g. the guest called exit_group. */
  | { readonly kind: 'exit'; readonly code: number; readonly message?: string }
  /** A hook asked the engine to give the CPU back (the scheduler switches tasks); resume later. */
  | { readonly kind: 'yield' }
  /** The slice's instruction count (runWith's `count`) ran out: the scheduler's preemption. */
  | { readonly kind: 'quantum'; readonly instructions: number }
  /** The instruction or time budget ran out. */
  | { readonly kind: 'budget'; readonly resource: 'instructions' | 'time'; readonly limit: number; readonly message: string }
  /** The same abort repeated at one PC without the guest getting anywhere. */
  | { readonly kind: 'no-progress'; readonly pc: number; readonly repeats: number; readonly abort: AbortInfo; readonly message: string }
  /** An exception the machine did not handle (undefined instruction, BRK, ...). */
  | { readonly kind: 'exception'; readonly info: ExceptionInfo; readonly message: string }
  /** A time slice (EngineOptions.sliceMs) ended: nothing happened to the guest; run again to resume. */
  | { readonly kind: 'yield' }
  /** Something the engine cannot continue from (undecodable instruction, Unicorn error, ...). */
  | { readonly kind: 'error'; readonly message: string; readonly pc?: number };

export type AbortResponse = 'retry' | StopReason;

export interface EngineHooks {
  /**
   * `svc` was executed; the PC is already past it. Read x8/x0..x5, write x0, and return nothing to
   * continue, or a StopReason to stop.
   */
  onSvc(engine: Engine): StopReason | void;
  /**
   * A data or instruction abort. Make every page in `info.faults` accessible (through the model:
   * the TLB fill then reaches the shadow) and return 'retry' to re-execute the instruction, or
   * change the PC (signal delivery) and return 'retry', or return a StopReason. `info` (a data
   * abort's, with its lists) is the engine's record, rewritten by the next abort: a hook that
   * keeps it keeps `copyAbortInfo(info)`.
   */
  onAbort(info: AbortInfo, engine: Engine): AbortResponse;
  /** The 32-bit instruction word at `pc`, read through the model's translation; undefined if none. */
  readInsn(pc: number): number | undefined;
  /** Other exceptions; without this hook they stop the run. 'retry' resumes at the current PC. */
  onException?(info: ExceptionInfo, engine: Engine): AbortResponse;
}

/** The user-visible register file of an arm64 CPU at EL0, as a context switch saves it. */
export interface RegisterFile {
  /** x0..x30. */
  x: bigint[];
  sp: bigint;
  pc: bigint;
  /** PSTATE.NZCV in bits 31:28. */
  nzcv: number;
  tpidr: bigint;
  /** v0..v31, 16 little-endian bytes each. */
  v: Uint8Array[];
  fpcr: number;
  fpsr: number;
}

