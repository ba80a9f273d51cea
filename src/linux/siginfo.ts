/**
 * siginfo_t as the kernel fills it for the signals the model sends (include/uapi/asm-generic/
 * siginfo.h, kernel/signal.c copy_siginfo_to_user, v6.9), on a 64-bit task:
 *
 *   0  si_signo  4  si_errno  8  si_code  12 (padding)  16 the union, by kind:
 *   kill/tkill  16 si_pid, 20 si_uid
 *   rt/queue    16 si_pid, 20 si_uid, 24 si_value (sigval, 8 bytes)
 *   timer       16 si_tid (the timer's id), 20 si_overrun, 24 si_value
 *   sigchld     16 si_pid, 20 si_uid, 24 si_status, 32 si_utime, 40 si_stime
 *   fault       16 si_addr
 *
 * Everything else of the 128 bytes is zero. What the kernel keeps of a siginfo is the first 48
 * bytes (kernel_siginfo); a user-supplied one (rt_sigqueueinfo) is kept as those raw bytes.
 */

export const SIGINFO_SIZE = 128;
/** sizeof(kernel_siginfo_t): the part of a user-supplied siginfo the kernel keeps. */
export const KERNEL_SIGINFO_SIZE = 48;

/** si_code values for signals not tied to a fault (negative: sent from user space). */
export const SI_USER = 0;
export const SI_KERNEL = 0x80;
export const SI_QUEUE = -1;
export const SI_TIMER = -2;
export const SI_MESGQ = -3;
export const SI_ASYNCIO = -4;
export const SI_SIGIO = -5;
export const SI_TKILL = -6;

export const CLD_EXITED = 1;
export const CLD_KILLED = 2;
export const CLD_DUMPED = 3;
export const CLD_TRAPPED = 4;
export const CLD_STOPPED = 5;
export const CLD_CONTINUED = 6;

export const SEGV_MAPERR = 1;
export const SEGV_ACCERR = 2;
export const BUS_ADRALN = 1;
export const BUS_ADRERR = 2;
export const ILL_ILLOPC = 1;
export const TRAP_BRKPT = 1;

export type CldCode = typeof CLD_EXITED | typeof CLD_KILLED | typeof CLD_DUMPED | typeof CLD_STOPPED | typeof CLD_CONTINUED;

/** The siginfo of one queued signal, by the union member its si_code selects. */
export type SigInfo =
  /** kill (SI_USER) and tkill/tgkill (SI_TKILL): who sent it. */
  | { readonly kind: 'kill'; readonly signo: number; readonly code: typeof SI_USER | typeof SI_TKILL; readonly pid: number; readonly uid: number }
  /** SEND_SIG_PRIV: the kernel's own (ITIMER signals, SIGKILL of a group exit). */
  | { readonly kind: 'kernel'; readonly signo: number }
  | {
      readonly kind: 'chld';
      readonly signo: number;
      readonly code: CldCode;
      readonly pid: number;
      readonly uid: number;
      /** The exit code (CLD_EXITED) or the signal. */
      readonly status: number;
      readonly utime: bigint;
      readonly stime: bigint;
    }
  /** A fault (SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE): si_addr. */
  | {
      readonly kind: 'fault';
      readonly signo: number;
      readonly code: number;
      readonly addr: bigint;
      /** The message of the process's end if the fault kills it (not part of the siginfo). */
      readonly message?: string;
    }
  /** A POSIX timer's expiry (SI_TIMER). */
  | { readonly kind: 'timer'; readonly signo: number; readonly timerId: number; readonly overrun: number; readonly value: bigint }
  /** sigqueue (SI_QUEUE) or another code with the rt layout. */
  | { readonly kind: 'queue'; readonly signo: number; readonly code: number; readonly pid: number; readonly uid: number; readonly value: bigint }
  /** A siginfo the guest supplied (rt_sigqueueinfo): kernel_siginfo's bytes, si_signo replaced. */
  | { readonly kind: 'raw'; readonly signo: number; readonly bytes: Uint8Array };

export function siCode(info: SigInfo): number {
  switch (info.kind) {
    case 'kill':
    case 'chld':
    case 'fault':
    case 'queue':
      return info.code;
    case 'kernel':
      return SI_KERNEL;
    case 'timer':
      return SI_TIMER;
    case 'raw':
      return new DataView(info.bytes.buffer, info.bytes.byteOffset, info.bytes.byteLength).getInt32(8, true);
  }
}

/** SI_FROMUSER: a code ≤ 0 was sent by a process, not the kernel. */
export function fromUser(info: SigInfo): boolean {
  return siCode(info) <= 0;
}

/** The 128 bytes copy_siginfo_to_user writes. */
export function encodeSigInfo(info: SigInfo): Uint8Array {
  const b = new Uint8Array(SIGINFO_SIZE);
  const dv = new DataView(b.buffer);
  if (info.kind === 'raw') {
    b.set(info.bytes.subarray(0, KERNEL_SIGINFO_SIZE));
    dv.setInt32(0, info.signo, true);
    return b;
  }
  dv.setInt32(0, info.signo, true);
  dv.setInt32(8, siCode(info), true);
  switch (info.kind) {
    case 'kill':
      dv.setInt32(16, info.pid, true);
      dv.setUint32(20, info.uid >>> 0, true);
      break;
    case 'kernel':
      break;
    case 'chld':
      dv.setInt32(16, info.pid, true);
      dv.setUint32(20, info.uid >>> 0, true);
      dv.setInt32(24, info.status, true);
      dv.setBigInt64(32, info.utime, true);
      dv.setBigInt64(40, info.stime, true);
      break;
    case 'fault':
      dv.setBigUint64(16, BigInt.asUintN(64, info.addr), true);
      break;
    case 'timer':
      dv.setInt32(16, info.timerId, true);
      dv.setInt32(20, info.overrun, true);
      dv.setBigUint64(24, BigInt.asUintN(64, info.value), true);
      break;
    case 'queue':
      dv.setInt32(16, info.pid, true);
      dv.setUint32(20, info.uid >>> 0, true);
      dv.setBigUint64(24, BigInt.asUintN(64, info.value), true);
      break;
  }
  return b;
}

/** A siginfo read from the guest (rt_sigqueueinfo): kept as raw bytes with si_signo forced. */
export function userSigInfo(signo: number, bytes: Uint8Array): SigInfo {
  const kept = new Uint8Array(KERNEL_SIGINFO_SIZE);
  kept.set(bytes.subarray(0, KERNEL_SIGINFO_SIZE));
  new DataView(kept.buffer).setInt32(0, signo, true);
  return { kind: 'raw', signo, bytes: kept };
}

/** The siginfo of a signal that was pending without a queue entry (collect_signal's fallback). */
export function anonymousInfo(signo: number): SigInfo {
  return { kind: 'kill', signo, code: SI_USER, pid: 0, uid: 0 };
}
