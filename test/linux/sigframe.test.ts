import { describe, expect, it } from 'vitest';
import { Disassembler } from '../../src/trace/disasm.js';
import { userAbortEsr } from '../../src/linux/esr.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE } from '../../src/mm/vma.js';
import { ESR_MAGIC, FPSIMD_MAGIC, FRAME, restoreRtFrame, setupRtFrame, SS_AUTODISARM, SS_DISABLE, SS_ONSTACK } from '../../src/linux/sigframe.js';
import { SIGRETURN_CODE } from '../../src/linux/sigtramp.js';
import { encodeSigInfo, SEGV_MAPERR, SI_USER, type SigInfo } from '../../src/linux/siginfo.js';
import { SA_ONSTACK, SA_RESTORER, SA_SIGINFO, SIGSEGV, SIGUSR1, type SigAction } from '../../src/linux/signals.js';
import { cloneRegisterFile, emptyRegisterFile, type RegisterFile } from '../../src/linux/task.js';
import { makeRig, type Rig } from './harness.js';

const STACK = 0x20000000;
const STACK_LEN = 0x10000;
/** An unaligned SP: the frame record goes 16 bytes below it, rounded down. */
const SP = BigInt(STACK + 0x8000 - 8);
const FRAME_RECORD = (SP - 16n) & ~15n;
const FRAME_AT = FRAME_RECORD - 4688n;

function stackRig(): Rig {
  const rig = makeRig();
  rig.mm.mmap({ addr: STACK, len: STACK_LEN, prot: 3, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, file: null, pgoff: 0 });
  rig.mm.poke(STACK, new Uint8Array(STACK_LEN).fill(0xaa));
  return rig;
}

function sampleRegs(): RegisterFile {
  const r = emptyRegisterFile();
  for (let i = 0; i < 31; i++) r.x[i] = 0x1111_0000_0000_0000n + BigInt(i);
  r.sp = SP;
  r.pc = 0x400abcn;
  r.nzcv = 0x60000000; // Z and C
  r.tpidr = 0x77000n;
  for (let i = 0; i < 32; i++) r.v[i] = Uint8Array.from({ length: 16 }, (_, j) => (i * 16 + j) & 0xff);
  r.fpcr = 0x03000000;
  r.fpsr = 0x8000001f;
  return r;
}

const u32 = (rig: Rig, va: bigint): number => new DataView(rig.read(Number(va), 4).buffer).getUint32(0, true);
const u64 = (rig: Rig, va: bigint): bigint => rig.u64(Number(va));
const act = (flags: bigint, extra: Partial<SigAction> = {}): SigAction => ({ handler: 0x401000n, flags, restorer: 0x402000n, mask: 0n, ...extra });
const info: SigInfo = { kind: 'kill', signo: SIGUSR1, code: SI_USER, pid: 1234, uid: 1000 };

describe('the arm64 rt_sigframe', () => {
  it('lays out siginfo, ucontext, sigcontext, fpsimd_context, the terminator and the frame record at the kernel offsets', () => {
    const rig = stackRig();
    const t = rig.p.current;
    const regs = sampleRegs();
    const out = setupRtFrame(t, regs, SIGUSR1, info, act(SA_SIGINFO | SA_RESTORER), 0x5000n);
    if (out === 'SIGSEGV') throw new Error('setup failed');
    const f = FRAME_AT;
    expect(f % 16n).toBe(0n);
    // siginfo
    expect(rig.read(Number(f), 128)).toEqual(encodeSigInfo(info));
    // ucontext: uc_flags, uc_link, uc_stack (a disabled alternate stack), uc_sigmask
    expect(u64(rig, f + 128n)).toBe(0n);
    expect(u64(rig, f + 136n)).toBe(0n);
    expect([u64(rig, f + 144n), u32(rig, f + 152n), u64(rig, f + 160n)]).toEqual([0n, SS_DISABLE, 0n]);
    expect(u64(rig, f + 168n)).toBe(0x5000n);
    // The rest of the 128-byte sigset area and the padding to the mcontext are not written.
    expect(rig.read(Number(f) + 176, 304 - 176).every((b) => b === 0xaa)).toBe(true);
    // sigcontext
    expect(u64(rig, f + 304n)).toBe(0n); // fault_address
    for (let i = 0; i < 31; i++) expect(u64(rig, f + 312n + BigInt(i * 8))).toBe(regs.x[i]);
    expect(u64(rig, f + 560n)).toBe(SP);
    expect(u64(rig, f + 568n)).toBe(0x400abcn);
    expect(u64(rig, f + 576n)).toBe(0x60000000n);
    // fpsimd_context at __reserved (f + 592): magic, size, fpsr, fpcr, vregs at +16
    expect([u32(rig, f + 592n), u32(rig, f + 596n), u32(rig, f + 600n), u32(rig, f + 604n)]).toEqual([FPSIMD_MAGIC, 528, 0x8000001f, 0x03000000]);
    for (let i = 0; i < 32; i++) expect(rig.read(Number(f) + 608 + i * 16, 16)).toEqual(regs.v[i]);
    // The null record right after it; the rest of __reserved is left alone.
    expect(rig.read(Number(f) + 1120, 8)).toEqual(new Uint8Array(8));
    expect(rig.read(Number(f) + 1128, 4688 - 1128).every((b) => b === 0xaa)).toBe(true);
    // The frame record above the frame: the interrupted x29 and x30.
    expect(FRAME_RECORD).toBe(f + 4688n);
    expect([u64(rig, FRAME_RECORD), u64(rig, FRAME_RECORD + 8n)]).toEqual([regs.x[29], regs.x[30]]);
    // The handler's registers.
    expect(out.x[0]).toBe(BigInt(SIGUSR1));
    expect(out.x[1]).toBe(f);
    expect(out.x[2]).toBe(f + 128n);
    expect(out.sp).toBe(f);
    expect(out.x[29]).toBe(FRAME_RECORD);
    expect(out.x[30]).toBe(0x402000n);
    expect(out.pc).toBe(0x401000n);
    expect(out.x[3]).toBe(regs.x[3]);
    expect(FRAME).toMatchObject({ uc: 128, ucSigmask: 168, mcontext: 304, regs: 312, sp: 560, pc: 568, pstate: 576, reserved: 592, size: 4688 });
  });

  it('after a fault: fault_address and an esr_context before the terminator', () => {
    const rig = stackRig();
    const t = rig.p.current;
    t.faultAddress = 0xdead000n;
    t.faultCode = 0x92000046n;
    const out = setupRtFrame(t, sampleRegs(), SIGSEGV, { kind: 'fault', signo: SIGSEGV, code: SEGV_MAPERR, addr: 0xdead000n }, act(SA_SIGINFO | SA_RESTORER), 0n);
    expect(out).not.toBe('SIGSEGV');
    const f = FRAME_AT;
    expect(u64(rig, f + 304n)).toBe(0xdead000n);
    expect([u32(rig, f + 1120n), u32(rig, f + 1124n), u64(rig, f + 1128n)]).toEqual([ESR_MAGIC, 16, 0x92000046n]);
    expect(rig.read(Number(f) + 1136, 8)).toEqual(new Uint8Array(8));
    // si_addr
    expect(u64(rig, f + 16n)).toBe(0xdead000n);
  });

  it('without SA_SIGINFO: no siginfo written, x1 and x2 as they were', () => {
    const rig = stackRig();
    const regs = sampleRegs();
    const out = setupRtFrame(rig.p.current, regs, SIGUSR1, info, act(SA_RESTORER), 0n);
    if (out === 'SIGSEGV') throw new Error('setup failed');
    expect(rig.read(Number(FRAME_AT), 128).every((b) => b === 0xaa)).toBe(true);
    expect([out.x[1], out.x[2]]).toEqual([regs.x[1], regs.x[2]]);
  });

  it('without SA_RESTORER: returns through a mapped sigreturn trampoline (mov x8, #139; svc #0), mapped once', async () => {
    const rig = stackRig();
    const out = setupRtFrame(rig.p.current, sampleRegs(), SIGUSR1, info, act(0n), 0n);
    if (out === 'SIGSEGV') throw new Error('setup failed');
    const tramp = out.x[30]!;
    expect(rig.read(Number(tramp), 8)).toEqual(SIGRETURN_CODE);
    const dis = await Disassembler.create();
    const dv = new DataView(SIGRETURN_CODE.buffer);
    expect([dis.disasm(dv.getUint32(0, true), 0x1000), dis.disasm(dv.getUint32(4, true), 0x1004)]).toEqual(['mov x8, #0x8b', 'svc #0']);
    const vma = rig.mm.vmas.vmaLookup(Number(tramp));
    expect(vma?.flags !== undefined && (vma.flags & 0x7)).toBe(0x5); // VM_READ | VM_EXEC
    const again = setupRtFrame(rig.p.current, sampleRegs(), SIGUSR1, info, act(0n), 0n);
    expect(again !== 'SIGSEGV' && again.x[30]).toBe(tramp);
  });

  it('SA_ONSTACK runs on the alternate stack; SS_AUTODISARM disarms it, and sigreturn re-arms it', () => {
    const rig = stackRig();
    const t = rig.p.current;
    const alt = BigInt(STACK + 0xa000);
    t.altStack = { sp: alt, size: 0x4000n, flags: SS_ONSTACK | SS_AUTODISARM };
    const regs = sampleRegs();
    const out = setupRtFrame(t, regs, SIGUSR1, info, act(SA_ONSTACK | SA_RESTORER), 0n);
    if (out === 'SIGSEGV') throw new Error('setup failed');
    const top = alt + 0x4000n;
    expect(out.x[29]).toBe(top - 16n);
    expect(out.sp).toBe(top - 16n - 4688n);
    // uc_stack keeps the stored flags.
    expect([u64(rig, out.sp + 144n), u32(rig, out.sp + 152n) >>> 0, u64(rig, out.sp + 160n)]).toEqual([alt, (SS_ONSTACK | SS_AUTODISARM) >>> 0, 0x4000n]);
    // The delivery path disarms (signal_delivered); sigreturn restores from uc_stack.
    t.altStack = { sp: 0n, size: 0n, flags: SS_DISABLE };
    const back = restoreRtFrame(t, out);
    expect(back).not.toBe('SIGSEGV');
    expect(t.altStack).toEqual({ sp: alt, size: 0x4000n, flags: SS_ONSTACK | SS_AUTODISARM });
  });

  it('a frame that does not fit is a SIGSEGV', () => {
    const rig = stackRig();
    const regs = sampleRegs();
    regs.sp = BigInt(STACK + 0x100); // the frame would start below the mapping
    expect(setupRtFrame(rig.p.current, regs, SIGUSR1, info, act(SA_SIGINFO | SA_RESTORER), 0n)).toBe('SIGSEGV');
  });

  it('round trip: setup then rt_sigreturn gives back every register and the saved mask', () => {
    const rig = stackRig();
    const t = rig.p.current;
    const regs = sampleRegs();
    t.blocked = 0x200n;
    const out = setupRtFrame(t, regs, SIGUSR1, info, act(SA_SIGINFO | SA_RESTORER), 0x4n);
    if (out === 'SIGSEGV') throw new Error('setup failed');
    t.blocked = 0xffffn;
    const handlerRegs = cloneRegisterFile(out);
    handlerRegs.x[0] = 99n; // the handler clobbers registers
    handlerRegs.v[3] = new Uint8Array(16);
    handlerRegs.nzcv = 0;
    const back = restoreRtFrame(t, handlerRegs);
    expect(back).toEqual(regs);
    expect(t.blocked).toBe(0x4n);
  });

  it('rejects bad frames: misaligned, a missing or bad fpsimd record, an unknown record, a non-EL0 pstate', () => {
    const setup = (): { rig: Rig; out: RegisterFile } => {
      const rig = stackRig();
      const out = setupRtFrame(rig.p.current, sampleRegs(), SIGUSR1, info, act(SA_SIGINFO | SA_RESTORER), 0n);
      if (out === 'SIGSEGV') throw new Error('setup failed');
      return { rig, out };
    };
    const poke32 = (rig: Rig, va: bigint, v: number): void => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, v, true);
      rig.mm.poke(Number(va), b);
    };
    {
      const { rig, out } = setup();
      expect(restoreRtFrame(rig.p.current, { ...out, sp: out.sp + 8n })).toBe('SIGSEGV');
    }
    {
      const { rig, out } = setup();
      poke32(rig, out.sp + 592n, 0x12345678);
      expect(restoreRtFrame(rig.p.current, out)).toBe('SIGSEGV');
    }
    {
      const { rig, out } = setup();
      poke32(rig, out.sp + 596n, 512); // fpsimd size too small
      expect(restoreRtFrame(rig.p.current, out)).toBe('SIGSEGV');
    }
    {
      const { rig, out } = setup();
      poke32(rig, out.sp + 1120n, 0x53564501); // an SVE record on a CPU without SVE
      poke32(rig, out.sp + 1124n, 16);
      expect(restoreRtFrame(rig.p.current, out)).toBe('SIGSEGV');
    }
    {
      const { rig, out } = setup();
      poke32(rig, out.sp + 1124n, 8); // a terminator with a size
      expect(restoreRtFrame(rig.p.current, out)).toBe('SIGSEGV');
    }
    {
      const { rig, out } = setup();
      poke32(rig, out.sp + 576n, 0x3c5); // EL1h with DAIF masked
      expect(restoreRtFrame(rig.p.current, out)).toBe('SIGSEGV');
    }
    {
      // An esr_context is skipped.
      const { rig, out } = setup();
      poke32(rig, out.sp + 1120n, ESR_MAGIC);
      poke32(rig, out.sp + 1124n, 16);
      rig.mm.poke(Number(out.sp) + 1136, new Uint8Array(8));
      expect(restoreRtFrame(rig.p.current, out)).not.toBe('SIGSEGV');
    }
  });

  it('rt_sigreturn as a syscall: the registers come back whole; a bad frame forces SIGSEGV at SP', () => {
    const rig = stackRig();
    const t = rig.p.current;
    const regs = sampleRegs();
    const out = setupRtFrame(t, regs, SIGUSR1, info, act(SA_SIGINFO | SA_RESTORER), 0n);
    if (out === 'SIGSEGV') throw new Error('setup failed');
    t.userRegs = () => out;
    expect(rig.sys('rt_sigreturn')).toEqual({ kind: 'setRegisters', regs });
    t.userRegs = () => ({ ...out, sp: out.sp + 4n });
    const r = rig.sys('rt_sigreturn');
    expect(r.kind).toBe('killed');
    if (r.kind === 'killed') {
      expect(r.end.signal).toBe(SIGSEGV);
      expect(r.end.message).toBe(`guest killed by SIGSEGV (rt_sigreturn found no valid signal frame at sp 0x${(out.sp + 4n).toString(16)}) [exit status 139]`);
    }
  });
});

describe('the ESR a fault frame reports', () => {
  it('encodes EC, IL, WnR and the fault status code as the CPU does', () => {
    expect(userAbortEsr('write', 'translation', 2)).toBe(0x92000046n);
    expect(userAbortEsr('read', 'permission', 3)).toBe(0x9200000fn);
    expect(userAbortEsr('exec', 'translation', 3)).toBe(0x82000007n);
    expect(userAbortEsr('read', 'access_flag', 3)).toBe(0x9200000bn);
    expect(userAbortEsr('write', 'alignment', 0)).toBe(0x92000061n);
  });
});

describe('rt_sigreturn without registers', () => {
  it('is a one-line fatal outcome, not a crash', () => {
    const rig = makeRig();
    expect(rig.sys('rt_sigreturn')).toEqual({ kind: 'fatal', message: 'rt_sigreturn: this machine does not give the kernel model the registers of the calling thread' });
  });
});
