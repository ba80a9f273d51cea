/**
 * The registers an `svc` hands the kernel (x0..x5, x8 and the PC), fetched in one native call.
 *
 * Why: a syscall-bound guest (will-it-scale's brk1, read1) makes millions of calls, and eight
 * single-register reads cost eight koffi calls and eight bigints each; one uc_reg_read_batch
 * over arrays kept in host memory costs about one (abort-regs.ts gives the measurements).
 *
 * Slots: value k of the batch lands in the 16-byte slot k of one host page (x0..x5, x8, PC).
 */
import type { U64 } from '../util/u64.js';
import { HostRegion } from './hostmem.js';
import { UC_ARM64_REG_PC, ucArm64RegX } from './unicorn-const.js';
import type { Unicorn } from './unicorn.js';

const TWO32 = 4294967296;
const REGS = [0, 1, 2, 3, 4, 5, 8].map((n) => ucArm64RegX(n)).concat([UC_ARM64_REG_PC]);
/** Values at +0 (16 bytes each), ids at +256, value pointers at +512. */
const IDS_AT = 256;
const PTRS_AT = 512;
const SLOT_X8 = 6;
const SLOT_PC = 7;

export interface SyscallRegisterValues {
  /** x0..x5 as the guest's registers hold them. */
  readonly args: U64[];
  readonly x8: U64;
  /** The PC after the `svc`. */
  readonly pc: number;
}

export class SyscallRegisters {
  private readonly region: HostRegion;
  private readonly values: Uint32Array;
  private readonly ids: bigint;
  private readonly ptrs: bigint;

  constructor(private readonly uc: Unicorn) {
    this.region = HostRegion.reserve(4096, 'rw');
    const buf = this.region.view();
    this.values = new Uint32Array(buf);
    const i32 = new Int32Array(buf);
    const u64 = new BigUint64Array(buf);
    REGS.forEach((id, k) => {
      i32[IDS_AT / 4 + k] = id;
      u64[PTRS_AT / 8 + k] = this.region.ptr + BigInt(16 * k);
    });
    this.ids = this.region.ptr + BigInt(IDS_AT);
    this.ptrs = this.region.ptr + BigInt(PTRS_AT);
  }

  read(): SyscallRegisterValues {
    this.uc.readBatchRaw(this.ids, this.ptrs, REGS.length);
    const v = this.values;
    const at = (k: number): U64 => ({ lo: v[4 * k]!, hi: v[4 * k + 1]! });
    return {
      args: [at(0), at(1), at(2), at(3), at(4), at(5)],
      x8: at(SLOT_X8),
      pc: v[4 * SLOT_PC + 1]! * TWO32 + v[4 * SLOT_PC]!,
    };
  }

  close(): void {
    this.region.release();
  }
}
