/**
 * The arm64 signal frame (arch/arm64/kernel/signal.c and uapi/asm/sigcontext.h, v6.9), written
 * and read through the user-copy path so that it faults pages in as the kernel's put_user does.
 *
 *   frame + 0     struct siginfo (128 bytes), written only with SA_SIGINFO
 *   frame + 128   struct ucontext: uc_flags, uc_link, uc_stack (ss_sp, ss_flags, ss_size),
 *                 uc_sigmask (8 bytes, in a 128-byte sigset area), then at +176 (16-aligned)
 *   frame + 304   struct sigcontext: fault_address, regs[31], sp, pc, pstate, then at +288
 *   frame + 592   __reserved[4096]: fpsimd_context (528 bytes), esr_context (16, after a fault),
 *                 a null record; the rest is left as it was
 *   frame + 4688  (rounded down to 16) the frame record {x29, x30} the handler's x29 points to
 *
 * The frame is sizeof(struct rt_sigframe) = 4688 bytes: the records fit in __reserved (no SVE,
 * SME or extra_context: the model's CPU has no SVE). The handler starts with x0 = signal,
 * x1 = &siginfo and x2 = &ucontext (only with SA_SIGINFO, as in Linux), sp = the frame,
 * x29 = the frame record, x30 = sa_restorer with SA_RESTORER, else the process's sigreturn
 * trampoline (Linux's is in the vDSO; sigtramp.ts).
 */
import { EINVAL, ENOMEM, EPERM } from '../util/errno.js';
import { DEFAULT_TASK_SIZE } from '../mm/vma.js';
import type { SigInfo } from './siginfo.js';
import { encodeSigInfo } from './siginfo.js';
import { SA_ONSTACK, SA_RESTORER, SA_SIGINFO, type SigAction } from './signals.js';
import { sigreturnTrampoline } from './sigtramp.js';
import { setBlocked } from './sigsend.js';
import { cloneRegisterFile, type RegisterFile, type Task } from './task.js';
import { StructReader, StructWriter, accessOk, getUser, putUser } from './uaccess.js';

export const SS_ONSTACK = 1;
export const SS_DISABLE = 2;
export const SS_AUTODISARM = 1 << 31;
/** arm64's MINSIGSTKSZ: the smallest alternate stack sigaltstack accepts. */
export const MINSIGSTKSZ = 5120;

export const FRAME = {
  info: 0,
  uc: 128,
  ucFlags: 128,
  ucLink: 136,
  ucStack: 144,
  ucSigmask: 168,
  mcontext: 304,
  faultAddress: 304,
  regs: 312,
  sp: 560,
  pc: 568,
  pstate: 576,
  reserved: 592,
  size: 4688,
} as const;
export const RESERVED_SIZE = 4096;
export const FPSIMD_MAGIC = 0x46508001;
export const FPSIMD_CONTEXT_SIZE = 528;
export const ESR_MAGIC = 0x45535201;
export const ESR_CONTEXT_SIZE = 16;
/** struct frame_record: fp, lr. */
export const FRAME_RECORD_SIZE = 16;

const STACK_T_SIZE = 24;

/** on_sig_stack: an SS_AUTODISARM stack is never "on" (the handler may nest on it). */
export function onSigStack(t: Task, sp: bigint): boolean {
  const a = t.altStack;
  if ((a.flags & SS_AUTODISARM) !== 0) return false;
  return sp > a.sp && sp - a.sp <= a.size;
}

/** sas_ss_flags: what sigaltstack reports for the current SP. */
export function sasSsFlags(t: Task, sp: bigint): number {
  if (t.altStack.size === 0n) return SS_DISABLE;
  return onSigStack(t, sp) ? SS_ONSTACK : 0;
}

export interface StackT {
  readonly sp: bigint;
  readonly flags: number;
  readonly size: bigint;
}

export function encodeStackT(s: StackT): Uint8Array {
  return new StructWriter(STACK_T_SIZE).u64(0, s.sp).i32(8, s.flags).u64(16, s.size).bytes;
}

export function decodeStackT(b: Uint8Array): StackT {
  const r = new StructReader(b);
  return { sp: r.u64(0), flags: r.i32(8), size: r.u64(16) };
}

/** do_sigaltstack: the old setting, and 0 or -errno for the new one (applied only on success). */
export function doSigaltstack(t: Task, ss: StackT | null, sp: bigint): { old: StackT; err: number } {
  const a = t.altStack;
  const old: StackT = { sp: a.sp, size: a.size, flags: sasSsFlags(t, sp) | (a.flags & SS_AUTODISARM) };
  if (ss === null) return { old, err: 0 };
  if (onSigStack(t, sp)) return { old, err: -EPERM };
  const mode = ss.flags & ~SS_AUTODISARM;
  if (mode !== SS_DISABLE && mode !== SS_ONSTACK && mode !== 0) return { old, err: -EINVAL };
  if (a.sp === ss.sp && a.size === ss.size && a.flags === ss.flags) return { old, err: 0 };
  if (mode === SS_DISABLE) {
    t.altStack = { sp: 0n, size: 0n, flags: ss.flags };
  } else {
    if (ss.size < BigInt(MINSIGSTKSZ)) return { old, err: -ENOMEM };
    t.altStack = { sp: ss.sp, size: ss.size, flags: ss.flags };
  }
  return { old, err: 0 };
}

/** sas_ss_reset (SS_AUTODISARM at delivery, and a new thread). */
export function sasSsReset(t: Task): void {
  t.altStack = { sp: 0n, size: 0n, flags: SS_DISABLE };
}

/** sigsp: the alternate stack's top for an SA_ONSTACK handler when it is enabled and not in use. */
function sigsp(t: Task, sp: bigint, action: SigAction): bigint {
  if ((action.flags & SA_ONSTACK) !== 0n && sasSsFlags(t, sp) === 0) return t.altStack.sp + t.altStack.size;
  return sp;
}

const align16 = (v: bigint): bigint => v & ~15n;
const toNumber = (v: bigint): number => (v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v));

/** Where setup put things, for tests and traces. */
export interface FrameLayout {
  readonly frame: bigint;
  readonly frameRecord: bigint;
  readonly esr: boolean;
}

/** The layout get_sigframe chooses for a signal taken at `regs` with `action`, or null if it cannot fit below TASK_SIZE. */
export function frameLayout(t: Task, regs: RegisterFile, action: SigAction): (FrameLayout & { readonly top: bigint }) | null {
  const top = sigsp(t, regs.sp, action);
  const frameRecord = align16(top - BigInt(FRAME_RECORD_SIZE));
  const frame = align16(frameRecord) - BigInt(FRAME.size);
  if (frame < 0n || !accessOk(toNumber(frame), toNumber(top - frame))) return null;
  return { top, frame, frameRecord, esr: t.faultCode !== 0n };
}

/**
 * setup_rt_frame + setup_return: writes the frame for `sig` below the interrupted registers and
 * returns the registers the handler starts with; 'SIGSEGV' if the frame cannot be written (the
 * caller forces SIGSEGV, force_sigsegv). `savedMask` is what sigreturn will restore.
 */
export function setupRtFrame(t: Task, regs: RegisterFile, sig: number, info: SigInfo, action: SigAction, savedMask: bigint): RegisterFile | 'SIGSEGV' {
  const mm = t.process.mm;
  const layout = frameLayout(t, regs, action);
  if (layout === null) return 'SIGSEGV';
  const f = layout.frame;
  const at = (off: number): number => toNumber(f + BigInt(off));
  const put = (va: number, bytes: Uint8Array): boolean => putUser(mm, va, bytes) === 0;

  // uc_flags, uc_link, uc_stack (__save_altstack writes the stored flags as they are).
  const head = new StructWriter(40).u64(0, 0).u64(8, 0).u64(16, t.altStack.sp).i32(24, t.altStack.flags).u64(32, t.altStack.size);
  if (!put(at(FRAME.ucFlags), head.bytes)) return 'SIGSEGV';
  // setup_sigframe: the frame record, the registers, the mask, the records.
  if (!put(toNumber(layout.frameRecord), new StructWriter(16).u64(0, regs.x[29]!).u64(8, regs.x[30]!).bytes)) return 'SIGSEGV';
  const mc = new StructWriter(FRAME.reserved - FRAME.mcontext);
  mc.u64(0, t.faultAddress);
  for (let i = 0; i < 31; i++) mc.u64(8 + i * 8, regs.x[i]!);
  mc.u64(FRAME.sp - FRAME.mcontext, regs.sp).u64(FRAME.pc - FRAME.mcontext, regs.pc).u64(FRAME.pstate - FRAME.mcontext, BigInt(regs.nzcv >>> 0) & 0xf0000000n);
  if (!put(at(FRAME.mcontext), mc.bytes.subarray(0, FRAME.pstate + 8 - FRAME.mcontext))) return 'SIGSEGV';
  if (!put(at(FRAME.ucSigmask), new StructWriter(8).u64(0, savedMask).bytes)) return 'SIGSEGV';
  const fp = new StructWriter(FPSIMD_CONTEXT_SIZE).u32(0, FPSIMD_MAGIC).u32(4, FPSIMD_CONTEXT_SIZE).u32(8, regs.fpsr).u32(12, regs.fpcr);
  for (let i = 0; i < 32; i++) fp.bytes.set(regs.v[i]!, 16 + i * 16);
  let rec = FRAME.reserved;
  if (!put(at(rec), fp.bytes)) return 'SIGSEGV';
  rec += FPSIMD_CONTEXT_SIZE;
  if (layout.esr) {
    if (!put(at(rec), new StructWriter(ESR_CONTEXT_SIZE).u32(0, ESR_MAGIC).u32(4, ESR_CONTEXT_SIZE).u64(8, t.faultCode).bytes)) return 'SIGSEGV';
    rec += ESR_CONTEXT_SIZE;
  }
  if (!put(at(rec), new Uint8Array(8))) return 'SIGSEGV';

  let tramp: bigint;
  if ((action.flags & SA_RESTORER) !== 0n) {
    tramp = action.restorer;
  } else {
    const va = sigreturnTrampoline(t.process);
    if (va === null) return 'SIGSEGV';
    tramp = BigInt(va);
  }
  const out = cloneRegisterFile(regs);
  out.x[0] = BigInt(sig);
  out.sp = f;
  out.x[29] = layout.frameRecord;
  out.x[30] = tramp;
  out.pc = action.handler;
  if ((action.flags & SA_SIGINFO) !== 0n) {
    if (!put(at(FRAME.info), encodeSigInfo(info))) return 'SIGSEGV';
    out.x[1] = f + BigInt(FRAME.info);
    out.x[2] = f + BigInt(FRAME.uc);
  }
  return out;
}

/** valid_user_regs for a 64-bit task: EL0t, AArch64, DAIF clear. */
function validPstate(pstate: bigint): boolean {
  return (pstate & 0x1fn) === 0n && (pstate & 0x3c0n) === 0n;
}

/**
 * sys_rt_sigreturn: the registers, mask and alternate stack saved in the frame at SP, or
 * 'SIGSEGV' if the frame is misaligned, unreadable or malformed (the caller forces SIGSEGV,
 * arm64_notify_segfault). The mask is restored first, as the kernel does, even if a later check
 * fails. Any restart of an interrupted syscall is cancelled (restart_syscall gives -EINTR).
 */
export function restoreRtFrame(t: Task, regs: RegisterFile): RegisterFile | 'SIGSEGV' {
  const mm = t.process.mm;
  t.restartBlock = null;
  const f = regs.sp;
  if ((f & 15n) !== 0n || !accessOk(toNumber(f), FRAME.size)) return 'SIGSEGV';
  const at = (off: number): number => toNumber(f + BigInt(off));
  const mask = getUser(mm, at(FRAME.ucSigmask), 8);
  if (mask === null) return 'SIGSEGV';
  setBlocked(t, new StructReader(mask).u64(0));
  const raw = getUser(mm, at(FRAME.regs), FRAME.pstate + 8 - FRAME.regs);
  if (raw === null) return 'SIGSEGV';
  const r = new StructReader(raw);
  const out = cloneRegisterFile(regs);
  for (let i = 0; i < 31; i++) out.x[i] = r.u64(i * 8);
  out.sp = r.u64(FRAME.sp - FRAME.regs);
  out.pc = r.u64(FRAME.pc - FRAME.regs);
  const pstate = r.u64(FRAME.pstate - FRAME.regs);
  if (!validPstate(pstate)) return 'SIGSEGV';
  out.nzcv = Number(pstate & 0xf0000000n);

  // parse_user_sigframe: walk the records; the FP/SIMD one is required.
  let offset = 0;
  let fpsimdAt = -1;
  for (;;) {
    if (RESERVED_SIZE - offset < 8 || offset % 16 !== 0) return 'SIGSEGV';
    const h = getUser(mm, at(FRAME.reserved + offset), 8);
    if (h === null) return 'SIGSEGV';
    const hr = new StructReader(h);
    const magic = hr.u32(0);
    const size = hr.u32(4);
    if (magic === 0) {
      if (size !== 0) return 'SIGSEGV';
      break;
    }
    if (magic === FPSIMD_MAGIC) {
      if (fpsimdAt >= 0 || size < FPSIMD_CONTEXT_SIZE) return 'SIGSEGV';
      fpsimdAt = offset;
    } else if (magic !== ESR_MAGIC) {
      // SVE, SME, extra_context and unknown records: this CPU has none of those features.
      return 'SIGSEGV';
    }
    if (size < 8 || RESERVED_SIZE - offset < size) return 'SIGSEGV';
    offset += size;
  }
  if (fpsimdAt < 0) return 'SIGSEGV';
  const fp = getUser(mm, at(FRAME.reserved + fpsimdAt), FPSIMD_CONTEXT_SIZE);
  if (fp === null) return 'SIGSEGV';
  const fr = new StructReader(fp);
  if (fr.u32(4) !== FPSIMD_CONTEXT_SIZE) return 'SIGSEGV';
  out.fpsr = fr.u32(8);
  out.fpcr = fr.u32(12);
  out.v = Array.from({ length: 32 }, (_, i) => fp.slice(16 + i * 16, 32 + i * 16));

  // restore_altstack: only a fault reading it is an error.
  const st = getUser(mm, at(FRAME.ucStack), STACK_T_SIZE);
  if (st === null) return 'SIGSEGV';
  doSigaltstack(t, decodeStackT(st), out.sp);
  return out;
}

/** arm64_notify_segfault's si_code for a bad frame at `sp`: nearly every address has a VMA above it. */
export function badFrameCode(sp: bigint): 'SEGV_MAPERR' | 'SEGV_ACCERR' {
  return sp >= BigInt(DEFAULT_TASK_SIZE) ? 'SEGV_MAPERR' : 'SEGV_ACCERR';
}
