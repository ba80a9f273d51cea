/**
 * A task's register file as the engine saved it at a context switch: the bytes of the batched
 * register read (one copy), turned into a RegisterFile's fields only when something reads them.
 * Most saved files are only ever loaded back (a task sleeping in a syscall and woken), and
 * decoding 31 BigInts and 32 vector arrays per switch was most of a switch's garbage.
 *
 * Once a field has been read (or written) the object holds the decoded fields and forgets the
 * bytes, since the caller may change the arrays it was handed; `Engine.loadRegisters` copies the
 * bytes back unchanged while it still has them.
 */
import type { RegisterFile } from './types.js';

/** Slots of the context batch (Engine.contextBatch): x0..x30 are 0..30, then these. */
export const CTX_SP = 31;
export const CTX_PC = 32;
export const CTX_NZCV = 33;
export const CTX_TPIDR = 34;
export const CTX_FPCR = 35;
export const CTX_FPSR = 36;
export const CTX_V = 37;
/** Slots in all: x0..x30, SP, PC, NZCV, TPIDR_EL0, FPCR, FPSR, v0..v31. */
export const CTX_SLOTS = CTX_V + 32;

/** The RegisterFile that 16-byte slots in the context batch's layout hold. */
export function decodeContext(slots: Uint8Array): RegisterFile {
  const dv = new DataView(slots.buffer, slots.byteOffset, slots.byteLength);
  const u64 = (i: number): bigint => dv.getBigUint64(16 * i, true);
  const x: bigint[] = new Array<bigint>(31);
  for (let n = 0; n <= 30; n++) x[n] = u64(n);
  const v: Uint8Array[] = new Array<Uint8Array>(32);
  for (let n = 0; n < 32; n++) v[n] = slots.slice(16 * (CTX_V + n), 16 * (CTX_V + n) + 16);
  return {
    x,
    sp: u64(CTX_SP),
    // The full 64 bits: a branch to a kernel address leaves a PC above 2^53.
    pc: u64(CTX_PC),
    nzcv: dv.getUint32(16 * CTX_NZCV, true),
    tpidr: u64(CTX_TPIDR),
    v,
    fpcr: dv.getUint32(16 * CTX_FPCR, true),
    fpsr: dv.getUint32(16 * CTX_FPSR, true),
  };
}

export class SavedRegisters implements RegisterFile {
  /** The saved slots, until the fields are decoded. */
  private bytes: Uint8Array | null;
  private f: RegisterFile | null = null;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /** The slots exactly as saved, if no field has been read or written since. */
  get raw(): Uint8Array | null {
    return this.bytes;
  }

  private get fields(): RegisterFile {
    if (this.f === null) {
      this.f = decodeContext(this.bytes!);
      this.bytes = null;
    }
    return this.f;
  }

  get x(): bigint[] { return this.fields.x; }
  set x(v: bigint[]) { this.fields.x = v; }
  get sp(): bigint { return this.fields.sp; }
  set sp(v: bigint) { this.fields.sp = v; }
  get pc(): bigint { return this.fields.pc; }
  set pc(v: bigint) { this.fields.pc = v; }
  get nzcv(): number { return this.fields.nzcv; }
  set nzcv(v: number) { this.fields.nzcv = v; }
  get tpidr(): bigint { return this.fields.tpidr; }
  set tpidr(v: bigint) { this.fields.tpidr = v; }
  get v(): Uint8Array[] { return this.fields.v; }
  set v(v: Uint8Array[]) { this.fields.v = v; }
  get fpcr(): number { return this.fields.fpcr; }
  set fpcr(v: number) { this.fields.fpcr = v; }
  get fpsr(): number { return this.fields.fpsr; }
  set fpsr(v: number) { this.fields.fpsr = v; }
}
