/**
 * What a syscall handler returns and how signal deliveries become outcomes; shared by the
 * dispatcher and the handler modules.
 */
import type { U64 } from '../../util/u64.js';
import type { LinuxProcess } from '../process.js';
import type { ProcessEnd } from '../signals.js';
import type { RegisterFile } from '../task.js';
import type { WaitQueue } from '../wait.js';

export type SyscallOutcome =
  /** Write `value` to x0 and go on (see returnRegister). */
  | { readonly kind: 'return'; readonly value: number }
  /** exit or exit_group: the run ends with this status (0..255). */
  | { readonly kind: 'exit'; readonly status: number; readonly group: boolean }
  /** A signal's default action ended the process (a guest sending itself SIGABRT ...). */
  | { readonly kind: 'killed'; readonly end: ProcessEnd }
  /** The run must stop: an unimplemented call under --strict, or a state the model cannot follow. */
  | { readonly kind: 'fatal'; readonly message: string }
  /**
   * The calling task must sleep until one of `on` is woken, or until virtual CLOCK_MONOTONIC
   * reaches `deadlineNs`, or a signal arrives; then the same syscall runs again (wait.ts).
   * A signal with a handler makes the syscall return -EINTR, or restart after the handler under
   * SA_RESTART when `restartable` (the ERESTARTSYS calls); without it -EINTR always.
   */
  | {
      readonly kind: 'block';
      readonly on: readonly WaitQueue[];
      readonly deadlineNs?: bigint;
      readonly restartable?: boolean;
      /**
       * What a signal wake-up does: 'interrupt' (the default) returns sigdeliver.ts
       * interruptedReturn(restartable) without running the handler again; 'retry' runs it again,
       * for the calls that wait for signals themselves (rt_sigtimedwait, rt_sigsuspend).
       */
      readonly onSignal?: 'interrupt' | 'retry';
    }
  /**
   * rt_sigreturn: load every user register from `regs` (x0 included: nothing is written as a
   * return value), then go on.
   */
  | { readonly kind: 'setRegisters'; readonly regs: RegisterFile };

/** A handler gets the raw registers and converts each by its kernel type (args.ts). */
export type SyscallHandler = (p: LinuxProcess, a: readonly U64[], pc: number) => number | SyscallOutcome;
export type SyscallHandlers = Readonly<Record<string, SyscallHandler>>;
