/**
 * The registers a data abort's decode reads (the PC and the base and index registers of the
 * faulting instruction), fetched in one native call in the common case.
 *
 * Why not read them all: a uc_reg_read_batch call costs a fixed ~70 ns plus ~2 ns a register
 * when its arrays live in host memory, and about 100 ns more when koffi converts JavaScript
 * arrays (measured, bench/engine-regs.ts); a TLB-miss-heavy guest takes one abort per miss. So
 * each abort reads the PC together with the registers the previous decode asked for (a loop
 * faults at the same instruction again and again), and any other register the decoder asks for
 * is read on demand, once. Every read happens inside the same hook, before anything changes a
 * register, so the values are those of the faulting instruction whichever way they were read.
 *
 * Slots: 0 is the PC, 1 + n is Xn (n = 0..30), 32 is SP; each value lands in its own 16-byte slot
 * of one host page whatever the register set, so one view serves every set. Register masks (the
 * decode's registers besides the PC) use bit n for Xn and bit 31 for SP.
 */
import { U64Slot, type U64 } from '../util/u64.js';
import type { RegisterReader } from './a64-access.js';
import { HostRegion } from './hostmem.js';
import { UC_ARM64_REG_PC, UC_ARM64_REG_SP, ucArm64RegX } from './unicorn-const.js';
import type { Unicorn } from './unicorn.js';

const TWO32 = 4294967296;
const SP_BIT = 31;
/** Host memory: the value slots, then one chunk per register set (ids at +0, pointers at +256). */
const VALUES_BYTES = 1024;
const CHUNK_BYTES = 1024;
const REGION_BYTES = 64 * 1024;
const MAX_SETS = (REGION_BYTES - VALUES_BYTES) / CHUNK_BYTES;
/** Every register: the set used once MAX_SETS distinct sets exist. */
const ALL = 0xffffffff;

/** The Unicorn register id and value slot of mask bit `b`. */
function regOfBit(b: number): { id: number; slot: number } {
  return b === SP_BIT ? { id: UC_ARM64_REG_SP, slot: 32 } : { id: ucArm64RegX(b), slot: 1 + b };
}

interface RegisterSet {
  readonly ids: bigint;
  readonly vals: bigint;
  readonly count: number;
  /** The registers besides the PC it reads. */
  readonly mask: number;
}

export class AbortRegisters implements RegisterReader {
  private readonly region: HostRegion;
  private readonly values: Uint32Array;
  private readonly i32: Int32Array;
  private readonly u64: BigUint64Array;
  private readonly sets = new Map<number, RegisterSet>();
  /** Every register, once MAX_SETS sets exist. */
  private readonly all: RegisterSet;
  /** The set read up front: the previous decode's registers. */
  private guess: RegisterSet;
  /** Registers in the current snapshot, and those the current decode asked for. */
  private have = 0;
  private used = 0;
  private readonly one = new Uint32Array(2);
  /** What x() and sp() return: one object rewritten by each read (RegisterReader allows it). */
  private readonly value = new U64Slot();

  constructor(private readonly uc: Unicorn) {
    this.region = HostRegion.reserve(REGION_BYTES, 'rw');
    const buf = this.region.view();
    this.values = new Uint32Array(buf);
    this.i32 = new Int32Array(buf);
    this.u64 = new BigUint64Array(buf);
    this.all = this.setFor(ALL);
    this.guess = this.setFor(0);
  }

  /** Reads the PC and the guessed registers (one native call); returns the PC. */
  snapshot(): number {
    const g = this.guess;
    this.uc.readBatchRaw(g.ids, g.vals, g.count);
    this.have = g.mask;
    this.used = 0;
    return this.values[1]! * TWO32 + this.values[0]!;
  }

  x(n: number): U64 {
    return this.slot(n, 1 + n);
  }

  sp(): U64 {
    return this.slot(SP_BIT, 32);
  }

  /** The decode is over: the registers it asked for are the next snapshot's guess. */
  settle(): void {
    if (this.used === this.guess.mask) return;
    this.guess = this.sets.get(this.used) ?? (this.sets.size < MAX_SETS ? this.setFor(this.used) : this.all);
  }

  close(): void {
    this.region.release();
  }

  private slot(bit: number, slot: number): U64 {
    const b = (1 << bit) >>> 0;
    if ((this.have & b) === 0) {
      // Not guessed: read it alone, once.
      this.uc.regReadHalves(regOfBit(bit).id, this.one);
      this.values[4 * slot] = this.one[0]!;
      this.values[4 * slot + 1] = this.one[1]!;
      this.have = (this.have | b) >>> 0;
    }
    this.used = (this.used | b) >>> 0;
    const v = this.value;
    v.lo = this.values[4 * slot]!;
    v.hi = this.values[4 * slot + 1]!;
    return v;
  }

  /** A new set reading the PC and the registers of `mask`, laid out in host memory. */
  private setFor(mask: number): RegisterSet {
    const chunk = VALUES_BYTES + this.sets.size * CHUNK_BYTES;
    const regs = [{ id: UC_ARM64_REG_PC, slot: 0 }];
    for (let b = 0; b < 32; b++) if ((mask >>> b) & 1) regs.push(regOfBit(b));
    regs.forEach((r, k) => {
      this.i32[chunk / 4 + k] = r.id;
      this.u64[(chunk + 256) / 8 + k] = this.region.ptr + BigInt(16 * r.slot);
    });
    const set: RegisterSet = { ids: this.region.ptr + BigInt(chunk), vals: this.region.ptr + BigInt(chunk + 256), count: regs.length, mask };
    this.sets.set(mask, set);
    return set;
  }
}
