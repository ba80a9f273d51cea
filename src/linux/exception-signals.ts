/**
 * Which signal Linux sends for a synchronous exception taken from EL0, with its si_code and
 * si_addr: a pure mapping, so that the machine can end the process with it today and deliver it
 * to the guest's handler once signal frames exist.
 *
 * Followed (arm64, v6.12): traps.c do_el0_undef (an undefined instruction, and HVC/SMC, which are
 * undefined at EL0: SIGILL ILL_ILLOPC at the PC); debug-monitors.c brk_handler (BRK:
 * SIGTRAP TRAP_BRKPT at the PC); entry-common.c el0_pc / el0_sp and fault.c do_sp_pc_abort (PC or
 * SP misaligned: SIGBUS BUS_ADRALN at the misaligned value); fault.c do_translation_fault and
 * do_bad_area (an access or a branch to an address no user mapping can cover, a kernel address
 * included: SIGSEGV SEGV_MAPERR at the faulting address, tag bits included in what we print).
 */
import { signalNumber } from './signals.js';

/** A synchronous exception from EL0, as the machine saw it. Addresses are 64-bit, as the guest saw them. */
export type SyncException =
  | { readonly kind: 'undefined-instruction'; readonly pc: bigint }
  /** HVC or SMC executed at EL0. */
  | { readonly kind: 'hypervisor-call'; readonly pc: bigint }
  | { readonly kind: 'breakpoint'; readonly pc: bigint }
  | { readonly kind: 'pc-alignment'; readonly pc: bigint }
  | { readonly kind: 'sp-alignment'; readonly pc: bigint; readonly sp: bigint }
  /** An access or fetch at an address no user mapping can cover (beyond TASK_SIZE, kernel half). */
  | { readonly kind: 'unmappable-address'; readonly pc: bigint; readonly addr: bigint; readonly access: 'read' | 'write' | 'exec' };

export type ExceptionSignalName = 'SIGILL' | 'SIGTRAP' | 'SIGBUS' | 'SIGSEGV';
export type ExceptionSiCode = 'ILL_ILLOPC' | 'TRAP_BRKPT' | 'BUS_ADRALN' | 'SEGV_MAPERR';

/** "This signal, this si_code, this address": what force_sig_fault would queue. */
export interface ExceptionSignal {
  readonly signal: ExceptionSignalName;
  readonly signo: number;
  readonly code: ExceptionSiCode;
  /** si_addr. */
  readonly addr: bigint;
  /** The PC of the instruction that took the exception. */
  readonly pc: bigint;
  /** What happened, in words. */
  readonly what: string;
}

const CODE_TEXT: Readonly<Record<ExceptionSiCode, string>> = {
  ILL_ILLOPC: 'illegal opcode',
  TRAP_BRKPT: 'process breakpoint',
  BUS_ADRALN: 'invalid address alignment',
  SEGV_MAPERR: 'address not mapped to object',
};

function make(signal: ExceptionSignalName, code: ExceptionSiCode, addr: bigint, pc: bigint, what: string): ExceptionSignal {
  return { signal, signo: signalNumber(signal), code, addr, pc, what };
}

export function signalForException(e: SyncException): ExceptionSignal {
  switch (e.kind) {
    case 'undefined-instruction':
      return make('SIGILL', 'ILL_ILLOPC', e.pc, e.pc, 'undefined instruction');
    case 'hypervisor-call':
      return make('SIGILL', 'ILL_ILLOPC', e.pc, e.pc, 'HVC/SMC, undefined at EL0');
    case 'breakpoint':
      return make('SIGTRAP', 'TRAP_BRKPT', e.pc, e.pc, 'breakpoint instruction (BRK)');
    case 'pc-alignment':
      return make('SIGBUS', 'BUS_ADRALN', e.pc, e.pc, 'instruction fetch from a misaligned PC');
    case 'sp-alignment':
      return make('SIGBUS', 'BUS_ADRALN', e.sp, e.pc, 'misaligned SP');
    case 'unmappable-address':
      return make('SIGSEGV', 'SEGV_MAPERR', e.addr, e.pc, e.access === 'exec' ? 'instruction fetch' : e.access);
  }
}

/** A 64-bit value as the guest sees it: 0x and 16 hex digits at most, never negative. */
export function hex64(v: bigint): string {
  return '0x' + BigInt.asUintN(64, v).toString(16);
}

/**
 * The one-line message of a process killed by the signal (no handler can run yet), ending with
 * the exit status a shell reports.
 */
export function exceptionSignalMessage(s: ExceptionSignal, insn?: string, reason?: string): string {
  const by = s.code === 'BUS_ADRALN' && s.addr === s.pc ? '' : ` by the instruction at pc ${hex64(s.pc)}`;
  let m = `guest killed by ${s.signal} (${s.code}: ${CODE_TEXT[s.code]}) at address ${hex64(s.addr)}: ${s.what}${by}`;
  if (insn !== undefined && insn !== '') m += ` (${insn})`;
  if (reason !== undefined && reason !== '') m += `; ${reason}`;
  return `${m} [exit status ${128 + s.signo}]`;
}
