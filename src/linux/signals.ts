/**
 * Signals: the numbers and default actions (include/uapi/asm-generic/signal.h, kernel/signal.c
 * sig_kernel_* masks), the per-process state rt_sigaction and rt_sigprocmask keep, and how a
 * signal that ends the process is reported.
 *
 * Nothing is ever delivered to a handler: the model runs no signal frames. A signal whose
 * default action is to terminate ends the run the way Linux ends the process (exit status
 * 128 + signal, as a shell reports it); one that is ignored does nothing; one the guest has a
 * handler for cannot be honoured, and the message says so.
 */

export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGILL = 4;
export const SIGTRAP = 5;
export const SIGABRT = 6;
export const SIGBUS = 7;
export const SIGFPE = 8;
export const SIGKILL = 9;
export const SIGUSR1 = 10;
export const SIGSEGV = 11;
export const SIGUSR2 = 12;
export const SIGPIPE = 13;
export const SIGALRM = 14;
export const SIGTERM = 15;
export const SIGSTKFLT = 16;
export const SIGCHLD = 17;
export const SIGCONT = 18;
export const SIGSTOP = 19;
export const SIGTSTP = 20;
export const SIGTTIN = 21;
export const SIGTTOU = 22;
export const SIGURG = 23;
export const SIGXCPU = 24;
export const SIGXFSZ = 25;
export const SIGVTALRM = 26;
export const SIGPROF = 27;
export const SIGWINCH = 28;
export const SIGIO = 29;
export const SIGPWR = 30;
export const SIGSYS = 31;
export const SIGRTMIN = 32;
/** _NSIG: signals are 1..64. */
export const NSIG = 64;

const NAMES = [
  '', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL', 'SIGUSR1',
  'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCHLD', 'SIGCONT', 'SIGSTOP', 'SIGTSTP',
  'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPWR', 'SIGSYS',
];

export function signalName(sig: number): string {
  if (sig >= 1 && sig < SIGRTMIN) return NAMES[sig]!;
  if (sig >= SIGRTMIN && sig <= NSIG) return sig === SIGRTMIN ? 'SIGRTMIN' : `SIGRTMIN+${sig - SIGRTMIN}`;
  return `signal ${sig}`;
}

export function signalNumber(name: string): number {
  const i = NAMES.indexOf(name);
  if (i <= 0) throw new Error(`unknown signal ${name}`);
  return i;
}

export type DefaultAction = 'terminate' | 'core' | 'ignore' | 'stop' | 'continue';

/** What SIG_DFL does with a signal (the sig_kernel_only/coredump/ignore/stop masks). */
export function defaultAction(sig: number): DefaultAction {
  switch (sig) {
    case SIGCHLD:
    case SIGURG:
    case SIGWINCH:
      return 'ignore';
    case SIGCONT:
      return 'continue';
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
      return 'stop';
    case SIGQUIT:
    case SIGILL:
    case SIGTRAP:
    case SIGABRT:
    case SIGBUS:
    case SIGFPE:
    case SIGSEGV:
    case SIGXCPU:
    case SIGXFSZ:
    case SIGSYS:
      return 'core';
    default:
      return 'terminate';
  }
}

export const SIG_DFL = 0n;
export const SIG_IGN = 1n;

export const SIG_BLOCK = 0;
export const SIG_UNBLOCK = 1;
export const SIG_SETMASK = 2;

/** sa_flags bits the kernel keeps (UAPI_SA_FLAGS with arm64's SA_RESTORER); others are cleared. */
export const SA_NOCLDSTOP = 0x1n;
export const SA_NOCLDWAIT = 0x2n;
export const SA_SIGINFO = 0x4n;
export const SA_UNSUPPORTED = 0x400n;
export const SA_EXPOSE_TAGBITS = 0x800n;
export const SA_RESTORER = 0x04000000n;
export const SA_ONSTACK = 0x08000000n;
export const SA_RESTART = 0x10000000n;
export const SA_NODEFER = 0x40000000n;
export const SA_RESETHAND = 0x80000000n;
export const UAPI_SA_FLAGS =
  SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | SA_ONSTACK | SA_RESTART | SA_NODEFER | SA_RESETHAND | SA_EXPOSE_TAGBITS | SA_RESTORER;

/** The kernel's struct sigaction on arm64: handler, flags, restorer, mask (32 bytes). */
export interface SigAction {
  readonly handler: bigint;
  readonly flags: bigint;
  readonly restorer: bigint;
  readonly mask: bigint;
}

export const SIGACTION_SIZE = 32;
/** The kernel's sigset_t is one 64-bit word; rt_sig* calls must pass 8. */
export const SIGSET_SIZE = 8;

const DEFAULT_ACTION: SigAction = Object.freeze({ handler: SIG_DFL, flags: 0n, restorer: 0n, mask: 0n });
const UNBLOCKABLE = (1n << BigInt(SIGKILL - 1)) | (1n << BigInt(SIGSTOP - 1));

export function sigBit(sig: number): bigint {
  return 1n << BigInt(sig - 1);
}

/** A process's signal dispositions and blocked mask (sighand_struct + task->blocked). */
export class SignalState {
  private readonly actions: SigAction[] = Array.from({ length: NSIG + 1 }, () => DEFAULT_ACTION);
  blocked = 0n;
  /** Signals sent while blocked: delivered (their default action runs) once unblocked. */
  pending = 0n;

  /** fork: the child inherits dispositions and mask; nothing is pending in it. */
  copyFrom(other: SignalState): void {
    for (let sig = 0; sig <= NSIG; sig++) this.actions[sig] = other.actions[sig]!;
    this.blocked = other.blocked;
  }

  /** exec: handled signals go back to their default action; ignored ones stay ignored. */
  resetHandlersForExec(): void {
    for (let sig = 1; sig <= NSIG; sig++) if (this.hasHandler(sig)) this.actions[sig] = DEFAULT_ACTION;
  }

  action(sig: number): SigAction {
    return this.actions[sig] ?? DEFAULT_ACTION;
  }

  /** do_sigaction: returns the old action; the caller has checked the signal number. */
  setAction(sig: number, act: SigAction): SigAction {
    const old = this.actions[sig]!;
    this.actions[sig] = { handler: act.handler, flags: act.flags & UAPI_SA_FLAGS, restorer: act.restorer, mask: act.mask & ~UNBLOCKABLE };
    return old;
  }

  /** sigprocmask: SIGKILL and SIGSTOP can never be blocked. */
  setBlocked(mask: bigint): void {
    this.blocked = mask & ~UNBLOCKABLE & ((1n << 64n) - 1n);
  }

  /**
   * The lowest pending signal that is no longer blocked, taken off the pending set (the
   * dequeue of get_signal on the way back to user space), or 0.
   */
  takeDeliverable(): number {
    const ready = this.pending & ~this.blocked;
    if (ready === 0n) return 0;
    for (let sig = 1; sig <= NSIG; sig++) {
      if ((ready & sigBit(sig)) !== 0n) {
        this.pending &= ~sigBit(sig);
        return sig;
      }
    }
    return 0;
  }

  /**
   * A signal sent to the process (kill, tgkill ...): blocked ones wait in `pending`, ignored ones
   * vanish, a default action that ends the process ends it.
   */
  send(sig: number, how: string): Delivery {
    switch (this.disposition(sig)) {
      case 'blocked':
        this.pending |= sigBit(sig);
        return { kind: 'none' };
      case 'ignore':
        return { kind: 'none' };
      default:
        return this.act(sig, how);
    }
  }

  /** What happens on the way back to user space after the mask changed: pending signals arrive. */
  deliverPending(): Delivery {
    for (let sig = this.takeDeliverable(); sig !== 0; sig = this.takeDeliverable()) {
      if (this.disposition(sig) === 'ignore') continue;
      return this.act(sig, 'a signal that was pending until unblocked');
    }
    return { kind: 'none' };
  }

  private act(sig: number, how: string): Delivery {
    switch (this.disposition(sig)) {
      case 'terminate':
        return { kind: 'end', end: killedBySignal(sig, how) };
      case 'stop':
        return { kind: 'unsupported', message: `the guest stopped itself with ${signalName(sig)} (${how}); nothing would ever continue it` };
      case 'handler':
        return { kind: 'unsupported', message: `the guest has a handler for ${signalName(sig)} (${how}): contpte-lab does not deliver signals to handlers` };
      case 'blocked':
      case 'ignore':
        return { kind: 'none' };
    }
  }

  hasHandler(sig: number): boolean {
    const h = this.action(sig).handler;
    return h !== SIG_DFL && h !== SIG_IGN;
  }

  /** What a signal sent to this process does, given dispositions and mask. */
  disposition(sig: number): 'terminate' | 'ignore' | 'handler' | 'blocked' | 'stop' {
    if (sig === SIGKILL) return 'terminate';
    if ((this.blocked & sigBit(sig)) !== 0n) return 'blocked';
    const h = this.action(sig).handler;
    if (h === SIG_IGN) return 'ignore';
    if (h !== SIG_DFL) return 'handler';
    switch (defaultAction(sig)) {
      case 'terminate':
      case 'core':
        return 'terminate';
      case 'stop':
        return 'stop';
      case 'ignore':
      case 'continue':
        return 'ignore';
    }
  }
}

/** What sending or unblocking a signal did. */
export type Delivery =
  | { readonly kind: 'none' }
  /** The signal's default action ended the process. */
  | { readonly kind: 'end'; readonly end: ProcessEnd }
  /** Linux would run a handler or stop the process, which the model cannot do. */
  | { readonly kind: 'unsupported'; readonly message: string };

/** si_codes of the faults the memory manager reports (include/uapi/asm-generic/siginfo.h). */
export type FaultSiCode = 'SEGV_MAPERR' | 'SEGV_ACCERR' | 'BUS_ADRALN' | 'BUS_ADRERR';

const SI_CODE_TEXT: Readonly<Record<FaultSiCode, string>> = {
  SEGV_MAPERR: 'address not mapped to object',
  SEGV_ACCERR: 'invalid permissions for mapped object',
  BUS_ADRALN: 'invalid address alignment',
  BUS_ADRERR: 'nonexistent physical address',
};

/** A fault Linux turns into a signal, as the machine knows it. */
export interface FatalFault {
  readonly signal: 'SIGSEGV' | 'SIGBUS';
  readonly code: FaultSiCode;
  /** The faulting data address (or the PC for an instruction fetch). */
  readonly addr: number;
  readonly access: 'read' | 'write' | 'exec';
  readonly pc: number;
  /** The disassembled instruction at the PC, when the machine has it. */
  readonly insn?: string;
  /** The memory manager's explanation ("no VMA", "beyond end of file" ...). */
  readonly reason?: string;
}

export interface ProcessEnd {
  readonly signal: number;
  /** The exit status a shell reports: 128 + signal. */
  readonly exitStatus: number;
  readonly message: string;
}

const hex = (n: number): string => '0x' + n.toString(16);

/**
 * force_sig_fault's outcome: the process dies of the signal (a handler cannot run in the model,
 * and Linux unblocks and resets a blocked or ignored fault signal before killing).
 */
export function fatalFault(f: FatalFault, state?: SignalState): ProcessEnd {
  const sig = signalNumber(f.signal);
  const what = f.access === 'exec' ? 'instruction fetch' : f.access;
  let message = `guest killed by ${f.signal} (${f.code}: ${SI_CODE_TEXT[f.code]}) at address ${hex(f.addr)}: ${what} by the instruction at pc ${hex(f.pc)}`;
  if (f.insn !== undefined && f.insn !== '') message += ` (${f.insn})`;
  if (f.reason !== undefined && f.reason !== '') message += `; ${f.reason}`;
  if (state?.hasHandler(sig)) message += `; the guest's ${f.signal} handler was not run: contpte-lab does not deliver signals`;
  return { signal: sig, exitStatus: 128 + sig, message: `${message} [exit status ${128 + sig}]` };
}

/** A signal the process sent itself (kill, tgkill, raise, abort) whose default action ends it. */
export function killedBySignal(sig: number, how: string): ProcessEnd {
  return {
    signal: sig,
    exitStatus: 128 + sig,
    message: `guest killed by ${signalName(sig)} (${how}) [exit status ${128 + sig}]`,
  };
}

/** A signal the kernel forces on the process for something it cannot do on its behalf. */
export function forcedSignal(sig: number, reason: string): ProcessEnd {
  return { signal: sig, exitStatus: 128 + sig, message: `guest killed by ${signalName(sig)}: ${reason} [exit status ${128 + sig}]` };
}
