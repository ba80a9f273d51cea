/**
 * Signals: the numbers and default actions (include/uapi/asm-generic/signal.h, kernel/signal.c
 * sig_kernel_* masks), struct sigaction's flags, and how a signal that ends the process is
 * reported. The state (handlers, pending sets, masks) lives in sigstate.ts and task.ts; sending
 * in sigsend.ts; delivery on the way back to user space in sigdeliver.ts; the arm64 frame a
 * handler runs on in sigframe.ts.
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

export const DEFAULT_ACTION: SigAction = Object.freeze({ handler: SIG_DFL, flags: 0n, restorer: 0n, mask: 0n });
/** SIGKILL and SIGSTOP: never blocked, caught or ignored. */
export const UNBLOCKABLE = (1n << BigInt(SIGKILL - 1)) | (1n << BigInt(SIGSTOP - 1));
export const SIGSET_MASK = (1n << 64n) - 1n;
/** The stop signals (sig_kernel_stop). */
export const STOP_MASK = (1n << BigInt(SIGSTOP - 1)) | (1n << BigInt(SIGTSTP - 1)) | (1n << BigInt(SIGTTIN - 1)) | (1n << BigInt(SIGTTOU - 1));

export function sigBit(sig: number): bigint {
  return 1n << BigInt(sig - 1);
}

/** Whether a signal the handler table says nothing about is dropped on arrival (sig_kernel_ignore). */
export function kernelIgnores(sig: number): boolean {
  const d = defaultAction(sig);
  return d === 'ignore' || d === 'continue';
}

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
  /**
   * The top byte of the pointer the guest used, when not zero (TBI: the MMU ignored it). The
   * report names the address as the guest wrote it; si_addr is `addr`, without the tag, as Linux
   * gives it to a handler that did not ask for SA_EXPOSE_TAGBITS.
   */
  readonly tag?: number;
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
  /** do_coredump said it dumped: wait status bit 0x80 (WCOREDUMP). */
  readonly coreDumped?: boolean;
}

/** The wait4 status of a process that ended this way: the signal, and 0x80 if it dumped core. */
export function waitStatusOf(end: ProcessEnd): number {
  return (end.signal & 0x7f) | (end.coreDumped === true ? 0x80 : 0);
}

/** wait4 statuses (include/uapi/linux/wait.h's W* macros read them). */
export const waitStatusExited = (code: number): number => (code & 0xff) << 8;
export const waitStatusStopped = (sig: number): number => ((sig & 0xff) << 8) | 0x7f;
export const WAIT_STATUS_CONTINUED = 0xffff;

const hex = (n: number): string => '0x' + n.toString(16);
/** A tagged pointer, all 64 bits, and the address the MMU translated. */
const taggedHex = (addr: number, tag: number): string => `0x${((BigInt(tag) << 56n) | BigInt(addr)).toString(16)} (top byte 0x${tag.toString(16)} ignored: ${hex(addr)})`;

/**
 * The message of a process killed by a fault (force_sig_fault with no handler to run; Linux
 * unblocks and resets a blocked or ignored fault signal before killing). `state` says whether
 * the guest had a handler the caller could not run.
 */
export function fatalFault(f: FatalFault, state?: { hasHandler(sig: number): boolean }): ProcessEnd {
  const sig = signalNumber(f.signal);
  const what = f.access === 'exec' ? 'instruction fetch' : f.access;
  let message = `guest killed by ${f.signal} (${f.code}: ${SI_CODE_TEXT[f.code]}) at address ${f.tag === undefined ? hex(f.addr) : taggedHex(f.addr, f.tag)}: ${what} by the instruction at pc ${hex(f.pc)}`;
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
