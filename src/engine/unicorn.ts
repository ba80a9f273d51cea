/**
 * Unicorn 2.0.1 (Debian `libunicorn2`, `libunicorn.so.2`) through koffi: a small typed class over
 * the C API of `include/unicorn/unicorn.h` and `arm64.h` (tag 2.0.1.post1). Nothing here knows
 * about the project's MMU model; `cpu.ts` and `engine.ts` build on it, and so may tests that want
 * QEMU's own answers (e.g. `AT S1E0R` through `cpRegWrite`, then PAR_EL1).
 *
 * Values: addresses and sizes are `number`s (or `bigint`s where a full 64-bit value is wanted);
 * register contents come back as `bigint` (`regRead`) or, on hot paths, as a `number` that must
 * be below 2^53 (`regReadNumber`) or as two 32-bit halves (`regReadHalves`). Pointers are koffi 3
 * BigInts.
 *
 * Callbacks: a JavaScript exception inside a hook cannot cross the C frames of the emulator, so
 * every hook is wrapped: the first exception is kept, emulation is stopped, and `emuStart` throws
 * it once `uc_emu_start` has returned.
 */
import koffi, { type LibraryHandle, type TypeObject } from 'koffi';
import { EnvironmentError, LabError } from '../util/errors.js';
import { HostRegion } from './hostmem.js';
import {
  UC_ARCH_ARM64, UC_ARM64_REG_CP_REG, UC_CTL, UC_CTL_CPU_MODEL, UC_CTL_IO_WRITE, UC_CTL_TB_FLUSH,
  UC_CTL_TB_REMOVE_CACHE, UC_CTL_TLB_TYPE, UC_CTL_UC_PAGE_SIZE, UC_ERR_OK, UC_HOOK_BLOCK, UC_HOOK_CODE, UC_HOOK_INTR,
  UC_HOOK_TLB_FILL, UC_MODE_ARM,
} from './unicorn-const.js';

export const UNICORN_LIBRARY = 'libunicorn.so.2';
export const UNICORN_PACKAGE = 'libunicorn2';

/** A system register or system instruction as (op0, op1, CRn, CRm, op2), the Arm ARM's order. */
export interface SysReg {
  readonly op0: number;
  readonly op1: number;
  readonly crn: number;
  readonly crm: number;
  readonly op2: number;
}

/** A failed Unicorn call: which function, the uc_err code and Unicorn's own text for it. */
export class UnicornError extends LabError {
  constructor(
    readonly fn: string,
    readonly code: number,
    detail: string,
  ) {
    super(`${fn} failed: ${detail} (uc_err ${code})`, 70);
  }
}

type Ptr = bigint;

interface UcApi {
  uc_version(major: number[] | null, minor: number[] | null): number;
  uc_open(arch: number, mode: number, out: (Ptr | null)[]): number;
  uc_close(uc: Ptr): number;
  uc_errno(uc: Ptr): number;
  uc_strerror(code: number): string;
  uc_ctl(uc: Ptr, control: number, ...rest: unknown[]): number;
  uc_reg_write(uc: Ptr, regid: number, value: ArrayBufferView): number;
  uc_reg_read(uc: Ptr, regid: number, value: ArrayBufferView): number;
  uc_reg_read_batch(uc: Ptr, regs: Int32Array, vals: BigUint64Array, count: number): number;
  uc_reg_write_batch(uc: Ptr, regs: Int32Array, vals: BigUint64Array, count: number): number;
  /** The same function with both arrays given as host addresses: koffi converts nothing. */
  uc_reg_read_batch_raw(uc: Ptr, regs: Ptr, vals: Ptr, count: number): number;
  uc_reg_write_batch_raw(uc: Ptr, regs: Ptr, vals: Ptr, count: number): number;
  /** uc_reg_write/uc_reg_read with the value's host address (the CP_REG scratch). */
  uc_reg_write_raw(uc: Ptr, regid: number, value: Ptr): number;
  uc_reg_read_raw(uc: Ptr, regid: number, value: Ptr): number;
  uc_mem_write(uc: Ptr, address: number | bigint, bytes: Uint8Array, size: number): number;
  uc_mem_read(uc: Ptr, address: number | bigint, bytes: Uint8Array, size: number): number;
  uc_mem_map(uc: Ptr, address: number | bigint, size: number, perms: number): number;
  uc_mem_map_ptr(uc: Ptr, address: number | bigint, size: number, perms: number, ptr: Ptr): number;
  uc_mem_unmap(uc: Ptr, address: number | bigint, size: number): number;
  uc_mem_protect(uc: Ptr, address: number | bigint, size: number, perms: number): number;
  uc_emu_start(uc: Ptr, begin: number | bigint, until: number | bigint, timeout: number | bigint, count: number): number;
  uc_emu_stop(uc: Ptr): number;
  uc_hook_add(uc: Ptr, hh: (number | bigint)[], type: number, callback: Ptr, userData: Ptr | null, begin: number | bigint, end: number | bigint, ...rest: unknown[]): number;
  uc_hook_del(uc: Ptr, hh: number | bigint): number;
  uc_query(uc: Ptr, type: number, result: (number | bigint)[]): number;
}

interface Binding {
  api: UcApi;
  intrProto: TypeObject;
  codeProto: TypeObject;
  eventMemProto: TypeObject;
  tlbFillProto: TypeObject;
}

let binding: Binding | undefined;

/** Opens a shared library; failure is an EnvironmentError saying to install libunicorn2. */
export function openUnicornLibrary(name: string = UNICORN_LIBRARY): LibraryHandle {
  try {
    return koffi.load(name);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new EnvironmentError(`cannot load ${name} (${why}); install Unicorn 2.0.1 with 'apt-get install ${UNICORN_PACKAGE}'`);
  }
}

/** Loads libunicorn.so.2 once; a missing library is an EnvironmentError naming the package. */
export function loadUnicorn(): Binding {
  if (binding) return binding;
  const lib = openUnicornLibrary();
  const f = (decl: string) => lib.func(decl);
  const api = {
    uc_version: f('unsigned int uc_version(_Out_ unsigned int *major, _Out_ unsigned int *minor)'),
    uc_open: f('int uc_open(int arch, int mode, _Out_ void **uc)'),
    uc_close: f('int uc_close(void *uc)'),
    uc_errno: f('int uc_errno(void *uc)'),
    uc_strerror: f('const char *uc_strerror(int code)'),
    uc_ctl: f('int uc_ctl(void *uc, int control, ...)'),
    uc_reg_write: f('int uc_reg_write(void *uc, int regid, const void *value)'),
    uc_reg_read: f('int uc_reg_read(void *uc, int regid, void *value)'),
    uc_reg_read_batch: f('int uc_reg_read_batch(void *uc, int *regs, void **vals, int count)'),
    uc_reg_write_batch: f('int uc_reg_write_batch(void *uc, int *regs, void **vals, int count)'),
    uc_reg_read_batch_raw: f('int uc_reg_read_batch(void *uc, void *regs, void *vals, int count)'),
    uc_reg_write_batch_raw: f('int uc_reg_write_batch(void *uc, void *regs, void *vals, int count)'),
    uc_reg_write_raw: f('int uc_reg_write(void *uc, int regid, void *value)'),
    uc_reg_read_raw: f('int uc_reg_read(void *uc, int regid, void *value)'),
    uc_mem_write: f('int uc_mem_write(void *uc, uint64_t address, const void *bytes, size_t size)'),
    uc_mem_read: f('int uc_mem_read(void *uc, uint64_t address, void *bytes, size_t size)'),
    uc_mem_map: f('int uc_mem_map(void *uc, uint64_t address, size_t size, uint32_t perms)'),
    uc_mem_map_ptr: f('int uc_mem_map_ptr(void *uc, uint64_t address, size_t size, uint32_t perms, void *ptr)'),
    uc_mem_unmap: f('int uc_mem_unmap(void *uc, uint64_t address, size_t size)'),
    uc_mem_protect: f('int uc_mem_protect(void *uc, uint64_t address, size_t size, uint32_t perms)'),
    uc_emu_start: f('int uc_emu_start(void *uc, uint64_t begin, uint64_t until, uint64_t timeout, size_t count)'),
    uc_emu_stop: f('int uc_emu_stop(void *uc)'),
    uc_hook_add: f('int uc_hook_add(void *uc, _Out_ size_t *hh, int type, void *callback, void *user_data, uint64_t begin, uint64_t end, ...)'),
    uc_hook_del: f('int uc_hook_del(void *uc, size_t hh)'),
    uc_query: f('int uc_query(void *uc, int type, _Out_ size_t *result)'),
  } as unknown as UcApi;
  binding = {
    api,
    // uc_cb_hookintr_t, uc_cb_hookcode_t and uc_cb_eventmem_t of unicorn.h. The interrupt hook
    // (one call per guest abort and svc) never reads its two pointers: declared as 32-bit
    // integers, the low halves of the same registers, they come as small integers, where koffi
    // made a BigInt of the engine's handle (24 bytes per fault).
    intrProto: koffi.proto('void uc_cb_hookintr_t(uint32_t uc, uint32_t intno, uint32_t user_data)'),
    codeProto: koffi.proto('void uc_cb_hookcode_t(void *uc, uint64_t address, uint32_t size, void *user_data)'),
    eventMemProto: koffi.proto('bool uc_cb_eventmem_t(void *uc, int type, uint64_t address, int size, int64_t value, void *user_data)'),
    // uc_cb_tlbevent_t of 2.1.x's unicorn.h; `result` points at a uc_tlb_entry (u64 paddr, int perms).
    // One call per QEMU TLB miss: its unused pointers are 32-bit integers too (see intrProto).
    tlbFillProto: koffi.proto('bool uc_cb_tlbevent_t(uint32_t uc, uint64_t vaddr, int type, void *result, uint32_t user_data)'),
  };
  return binding;
}

/** The library's version as [major, minor] (2.0.1 reports [2, 0]; the patch level is not exposed). */
export function unicornVersion(): [number, number] {
  const { api } = loadUnicorn();
  const major = [0];
  const minor = [0];
  api.uc_version(major, minor);
  return [major[0]!, minor[0]!];
}

export function ucStrerror(code: number): string {
  return loadUnicorn().api.uc_strerror(code);
}

/** A registered hook: its uc_hook handle and the koffi trampoline to release with it. */
interface Hook {
  handle: number | bigint;
  trampoline: bigint;
}

export type IntrCallback = (intno: number) => void;
export type CodeCallback = (address: number, size: number) => void;
/** Memory event hooks (unmapped/protection): return true if handled and the access may retry. */
export type EventMemCallback = (type: number, address: number | bigint, size: number, value: number | bigint) => boolean;
/**
 * UC_HOOK_TLB_FILL (Unicorn 2.1.x, UC_TLB_VIRTUAL): QEMU's TLB misses on the page at `vaddr`
 * (UC_MEM_READ/WRITE/FETCH); return true after writing the uc_tlb_entry at `result` (the host
 * address of its u64 paddr, then its int UC_PROT_* perms), false to refuse the access.
 */
export type TlbFillCallback = (vaddr: number | bigint, type: number, result: bigint) => boolean;

const TWO32 = 4294967296;

export class Unicorn {
  private readonly api: UcApi;
  private readonly hooks = new Map<number | bigint, Hook>();
  private closed = false;
  /** Scratch for register transfers: 16 bytes, enough for a Q register. */
  private readonly regBuf = new Uint32Array(4);
  /**
   * Scratch uc_arm64_cp_reg (u32 crn, crm, op0, op1, op2; pad; u64 val at byte 24) in host
   * memory: a CP_REG access passes its address and koffi converts nothing, about 35 ns less per
   * call than a typed array (a TLBI per model-TLB miss goes through here).
   */
  private readonly cpRegion: HostRegion;
  private readonly cpBuf: Uint32Array;
  /** The first exception thrown inside a hook since the last emuStart. */
  private hookError: unknown = undefined;
  /** Host pages holding the values of batch readers (uc_reg_read_batch wants stable pointers). */
  private readonly batchPages: HostRegion[] = [];

  private constructor(
    /** The uc_engine pointer. */
    readonly handle: Ptr,
    readonly arch: number,
  ) {
    this.api = loadUnicorn().api;
    this.cpRegion = HostRegion.reserve(4096, 'rw');
    this.cpBuf = new Uint32Array(this.cpRegion.view(), 0, 8);
  }

  /**
   * uc_open. For ARM64, `cpuModel` (a UC_CPU_ARM64_* value) is set right after opening, before any
   * call that initialises the CPU; omit it to keep Unicorn's default (Cortex-A72).
   */
  static open(arch = UC_ARCH_ARM64, mode = UC_MODE_ARM, cpuModel?: number): Unicorn {
    const { api } = loadUnicorn();
    const out: (Ptr | null)[] = [null];
    const err = api.uc_open(arch, mode, out);
    if (err !== UC_ERR_OK || out[0] === null) throw new UnicornError('uc_open', err, api.uc_strerror(err));
    const uc = new Unicorn(BigInt(out[0]!), arch);
    if (cpuModel !== undefined) uc.ctl('uc_ctl(UC_CTL_CPU_MODEL)', UC_CTL(UC_CTL_CPU_MODEL, 1, UC_CTL_IO_WRITE), 'int', cpuModel);
    return uc;
  }

  private check(fn: string, err: number): void {
    if (err !== UC_ERR_OK) throw new UnicornError(fn, err, this.api.uc_strerror(err));
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('Unicorn instance used after close()');
  }

  /** uc_ctl with its variadic arguments given as koffi (type, value) pairs. */
  ctl(what: string, control: number, ...typedArgs: unknown[]): void {
    this.assertOpen();
    this.check(what, this.api.uc_ctl(this.handle, control, ...typedArgs));
  }

  /**
   * uc_ctl_set_page_size: QEMU's target page size, before anything initialises the CPU. Unicorn
   * 2.1.4 accepts it for ARM64; 2.0.1 and 2.1.1 refuse it (UC_ERR_ARG) and keep 1 KiB. Returns
   * whether the library took it.
   */
  trySetPageSize(bytes: number): boolean {
    this.assertOpen();
    return this.api.uc_ctl(this.handle, UC_CTL(UC_CTL_UC_PAGE_SIZE, 1, UC_CTL_IO_WRITE), 'uint32_t', bytes) === UC_ERR_OK;
  }

  /**
   * uc_ctl_tlb_mode (Unicorn 2.1.x): UC_TLB_CPU (QEMU walks the guest's tables) or UC_TLB_VIRTUAL
   * (every QEMU TLB fill asks the UC_HOOK_TLB_FILL hooks). Returns whether the library took it
   * (2.0.1 has no such control and refuses it).
   */
  trySetTlbMode(mode: number): boolean {
    this.assertOpen();
    return this.api.uc_ctl(this.handle, UC_CTL(UC_CTL_TLB_TYPE, 1, UC_CTL_IO_WRITE), 'int', mode) === UC_ERR_OK;
  }

  /** uc_ctl_flush_tlb: despite its name, drops every translated block (not QEMU's TLB). */
  flushTranslationBlocks(): void {
    this.ctl('uc_ctl(UC_CTL_TB_FLUSH)', UC_CTL(UC_CTL_TB_FLUSH, 0, UC_CTL_IO_WRITE));
  }

  /** uc_ctl_remove_cache: drops translated blocks in [begin, end) (guest virtual addresses). */
  removeCache(begin: number | bigint, end: number | bigint): void {
    this.ctl('uc_ctl(UC_CTL_TB_REMOVE_CACHE)', UC_CTL(UC_CTL_TB_REMOVE_CACHE, 2, UC_CTL_IO_WRITE), 'uint64_t', begin, 'uint64_t', end);
  }

  errno(): number {
    return this.api.uc_errno(this.handle);
  }

  query(type: number): number {
    const out: (number | bigint)[] = [0];
    this.check('uc_query', this.api.uc_query(this.handle, type, out));
    return Number(out[0]);
  }

  // ---- memory ----

  memMap(address: number | bigint, size: number, perms: number): void {
    this.assertOpen();
    this.check(`uc_mem_map(0x${address.toString(16)}, 0x${size.toString(16)})`, this.api.uc_mem_map(this.handle, address, size, perms));
  }

  /** Maps host memory at `ptr` (which must outlive the mapping) as guest memory. */
  memMapPtr(address: number | bigint, size: number, perms: number, ptr: bigint): void {
    this.assertOpen();
    this.check(`uc_mem_map_ptr(0x${address.toString(16)}, 0x${size.toString(16)})`, this.api.uc_mem_map_ptr(this.handle, address, size, perms, ptr));
  }

  memUnmap(address: number | bigint, size: number): void {
    this.assertOpen();
    this.check(`uc_mem_unmap(0x${address.toString(16)}, 0x${size.toString(16)})`, this.api.uc_mem_unmap(this.handle, address, size));
  }

  memProtect(address: number | bigint, size: number, perms: number): void {
    this.assertOpen();
    this.check('uc_mem_protect', this.api.uc_mem_protect(this.handle, address, size, perms));
  }

  /**
   * uc_mem_read/uc_mem_write: by Unicorn *memory-map* address, which with the MMU off is physical.
   * (With the MMU on, 2.0.1 still looks the address up in its memory map without translating.)
   */
  memRead(address: number | bigint, size: number): Uint8Array {
    this.assertOpen();
    const out = new Uint8Array(size);
    this.check('uc_mem_read', this.api.uc_mem_read(this.handle, address, out, size));
    return out;
  }

  memWrite(address: number | bigint, bytes: Uint8Array): void {
    this.assertOpen();
    this.check('uc_mem_write', this.api.uc_mem_write(this.handle, address, bytes, bytes.length));
  }

  // ---- registers ----

  /** The register as an unsigned 64-bit value (for 32-bit registers, zero-extended). */
  regRead(regid: number): bigint {
    this.regReadRaw(regid);
    return (BigInt(this.regBuf[1]!) << 32n) | BigInt(this.regBuf[0]!);
  }

  /** The register as a number; throws if its value is 2^53 or more (use for PC, SP, addresses). */
  regReadNumber(regid: number): number {
    this.regReadRaw(regid);
    const hi = this.regBuf[1]!;
    if (hi >= 0x200000) throw new RangeError(`register ${regid} holds 0x${hi.toString(16)}${this.regBuf[0]!.toString(16).padStart(8, '0')}, not below 2^53`);
    return hi * TWO32 + this.regBuf[0]!;
  }

  /** Reads the register into `out[0]` (bits 31:0) and `out[1]` (bits 63:32) without allocating. */
  regReadHalves(regid: number, out: Uint32Array | number[]): void {
    this.regReadRaw(regid);
    out[0] = this.regBuf[0]!;
    out[1] = this.regBuf[1]!;
  }

  /**
   * Writes a 64-bit register. A negative `number` is written as its two's complement (so
   * `regWrite(X0, -38)` stores -ENOSYS); a number must be a safe integer.
   */
  regWrite(regid: number, value: bigint | number): void {
    this.assertOpen();
    const b = this.regBuf;
    if (typeof value === 'bigint') {
      const v = BigInt.asUintN(64, value);
      b[0] = Number(v & 0xffffffffn);
      b[1] = Number(v >> 32n);
    } else {
      if (!Number.isSafeInteger(value)) throw new RangeError(`register value ${value} is not a safe integer`);
      b[0] = value >>> 0;
      b[1] = Math.floor(value / TWO32) >>> 0;
    }
    b[2] = 0;
    b[3] = 0;
    // The message is built only on failure: a syscall's return value comes through here.
    const err = this.api.uc_reg_write(this.handle, regid, b);
    if (err !== UC_ERR_OK) this.check(`uc_reg_write(${regid})`, err);
  }

  /** A 128-bit SIMD&FP register (UC_ARM64_REG_Qn / Vn) as 16 little-endian bytes. */
  regReadVector(regid: number): Uint8Array {
    this.regReadRaw(regid);
    return new Uint8Array(this.regBuf.buffer.slice(0));
  }

  regWriteVector(regid: number, bytes: Uint8Array): void {
    this.assertOpen();
    if (bytes.length !== 16) throw new RangeError('a vector register is 16 bytes');
    new Uint8Array(this.regBuf.buffer).set(bytes);
    this.check(`uc_reg_write(${regid})`, this.api.uc_reg_write(this.handle, regid, this.regBuf));
  }

  private regReadRaw(regid: number): void {
    this.assertOpen();
    const b = this.regBuf;
    b[0] = 0;
    b[1] = 0;
    b[2] = 0;
    b[3] = 0;
    const err = this.api.uc_reg_read(this.handle, regid, b);
    if (err !== UC_ERR_OK) this.check(`uc_reg_read(${regid})`, err);
  }

  /**
   * A reader of several registers in one uc_reg_read_batch call. Each call of the returned
   * function refreshes and returns a view holding register i's bits 31:0 at word 4i and bits 63:32
   * at word 4i + 1 (16 bytes per register, so vector registers fit), valid until the next call.
   */
  batchReader(regids: readonly number[]): () => Uint32Array {
    const b = this.batchAccess(regids);
    const raw = new Uint32Array(b.slots.buffer, b.slots.byteOffset, b.slots.byteLength / 4);
    return () => {
      b.read();
      return raw;
    };
  }

  /**
   * Several registers read and written in one call each (uc_reg_read_batch / uc_reg_write_batch),
   * through 16-byte slots in host memory (vector registers fit): `slots` holds slot i at bytes
   * 16i..16i+15; `read()` fills them, `write()` stores them into the CPU. For a context switch,
   * which moves the whole register file. The register ids and the slot pointers lie in host
   * memory beside the slots, so a call converts nothing (about half the cost of passing arrays).
   */
  batchAccess(regids: readonly number[]): { slots: Uint8Array; read(): void; write(): void } {
    this.assertOpen();
    const n = regids.length;
    if (n === 0 || n > 256) throw new RangeError(`batchAccess: ${n} registers (1..256)`);
    // [slots: 16n][ids: 4n, padded to 8][pointers: 8n]
    const idsAt = 16 * n;
    const ptrsAt = idsAt + 8 * Math.ceil(n / 2);
    const region = HostRegion.reserve(Math.ceil((ptrsAt + 8 * n) / 4096) * 4096, 'rw');
    this.batchPages.push(region);
    const buf = region.view();
    new Int32Array(buf, idsAt, n).set(regids);
    const ptrs = new BigUint64Array(buf, ptrsAt, n);
    for (let i = 0; i < n; i++) ptrs[i] = region.ptr + BigInt(16 * i);
    const slots = new Uint8Array(buf, 0, 16 * n);
    const ids = region.ptr + BigInt(idsAt);
    const vals = region.ptr + BigInt(ptrsAt);
    return {
      slots,
      read: () => {
        const err = this.api.uc_reg_read_batch_raw(this.handle, ids, vals, n);
        if (err !== UC_ERR_OK) this.check('uc_reg_read_batch', err);
      },
      write: () => {
        const err = this.api.uc_reg_write_batch_raw(this.handle, ids, vals, n);
        if (err !== UC_ERR_OK) this.check('uc_reg_write_batch', err);
      },
    };
  }

  /**
   * uc_reg_read_batch over arrays the caller keeps in host memory: `ids` (host address of
   * `count` int32 register ids) and `vals` (host address of `count` pointers, each where one value
   * goes). Nothing is converted per call, so it costs about half of a batchReader call of the
   * same registers (measured, bench/engine-regs.ts): the form for a hook that runs per TLB miss.
   */
  readBatchRaw(ids: bigint, vals: bigint, count: number): void {
    this.assertOpen();
    const err = this.api.uc_reg_read_batch_raw(this.handle, ids, vals, count);
    if (err !== UC_ERR_OK) this.check('uc_reg_read_batch', err);
  }

  /**
   * Reads a system register through UC_ARM64_REG_CP_REG (the raw value QEMU keeps; no access
   * checks, no side effects).
   */
  cpRegRead(reg: SysReg): bigint {
    this.assertOpen();
    const b = this.fillCp(reg, 0, 0);
    this.check(`uc_reg_read(CP_REG ${sysRegName(reg)})`, this.api.uc_reg_read_raw(this.handle, UC_ARM64_REG_CP_REG, this.cpRegion.ptr));
    return (BigInt(b[7]!) << 32n) | BigInt(b[6]!);
  }

  /**
   * Writes a system register, or performs a system instruction (TLBI, AT), through
   * UC_ARM64_REG_CP_REG. 2.0.1 calls the register's raw write function if it has one, else its
   * write function: TLBI and AT take effect; SCTLR/TTBR writes store the value.
   */
  cpRegWrite(reg: SysReg, value: bigint | number): void {
    let lo: number;
    let hi: number;
    if (typeof value === 'bigint') {
      const v = BigInt.asUintN(64, value);
      lo = Number(v & 0xffffffffn);
      hi = Number(v >> 32n);
    } else {
      if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`system register value ${value} is not a non-negative safe integer`);
      lo = value >>> 0;
      hi = Math.floor(value / TWO32);
    }
    this.cpRegWriteHalves(reg, lo, hi);
  }

  /** cpRegWrite with the value as two 32-bit halves: the allocation-free form for hot paths. */
  cpRegWriteHalves(reg: SysReg, lo: number, hi: number): void {
    this.assertOpen();
    this.fillCp(reg, lo, hi);
    const err = this.api.uc_reg_write_raw(this.handle, UC_ARM64_REG_CP_REG, this.cpRegion.ptr);
    if (err !== UC_ERR_OK) this.check(`uc_reg_write(CP_REG ${sysRegName(reg)})`, err);
  }

  private fillCp(reg: SysReg, lo: number, hi: number): Uint32Array {
    const b = this.cpBuf;
    b[0] = reg.crn;
    b[1] = reg.crm;
    b[2] = reg.op0;
    b[3] = reg.op1;
    b[4] = reg.op2;
    b[5] = 0;
    b[6] = lo >>> 0;
    b[7] = hi >>> 0;
    return b;
  }

  // ---- hooks ----

  /** UC_HOOK_INTR: every exception the CPU raises (intno = QEMU's EXCP_* number). */
  hookIntr(cb: IntrCallback): number | bigint {
    const b = loadUnicorn();
    return this.addHook(UC_HOOK_INTR, b.intrProto, (_uc: unknown, intno: number) => cb(intno), 1, 0);
  }

  /** UC_HOOK_CODE over [begin, end] (begin > end means everywhere): one call per instruction. */
  hookCode(cb: CodeCallback, begin: number | bigint = 1, end: number | bigint = 0): number | bigint {
    const b = loadUnicorn();
    return this.addHook(UC_HOOK_CODE, b.codeProto, (_uc: unknown, address: number | bigint, size: number) => cb(Number(address), size), begin, end);
  }

  /** UC_HOOK_BLOCK: one call per translated block entered; `size` is the block's byte length. */
  hookBlock(cb: CodeCallback, begin: number | bigint = 1, end: number | bigint = 0): number | bigint {
    const b = loadUnicorn();
    return this.addHook(UC_HOOK_BLOCK, b.codeProto, (_uc: unknown, address: number | bigint, size: number) => cb(Number(address), size), begin, end);
  }

  /** A memory event hook (UC_HOOK_MEM_*_UNMAPPED / *_PROT combinations). */
  hookMemEvent(type: number, cb: EventMemCallback, begin: number | bigint = 1, end: number | bigint = 0): number | bigint {
    const b = loadUnicorn();
    return this.addHook(type, b.eventMemProto, (_uc: unknown, t: number, address: number | bigint, size: number, value: number | bigint) => cb(t, address, size, value), begin, end, false);
  }

  /**
   * UC_HOOK_TLB_FILL over every address (Unicorn 2.1.x). A hook that throws refuses the fill, which
   * stops the emulation (UC_ERR_EXCEPTION) and `emuStart` rethrows.
   */
  hookTlbFill(cb: TlbFillCallback): number | bigint {
    const b = loadUnicorn();
    return this.addHook(UC_HOOK_TLB_FILL, b.tlbFillProto, (_uc: unknown, vaddr: number | bigint, type: number, result: bigint) => cb(vaddr, type, result), 1, 0, false);
  }

  private addHook(type: number, proto: TypeObject, fn: (...args: never[]) => unknown, begin: number | bigint, end: number | bigint, onError: unknown = undefined): number | bigint {
    this.assertOpen();
    const guarded = (...args: never[]): unknown => {
      try {
        return fn(...args);
      } catch (e) {
        if (this.hookError === undefined) this.hookError = e ?? new Error('hook threw undefined');
        this.api.uc_emu_stop(this.handle);
        return onError;
      }
    };
    const trampoline = koffi.register(guarded, koffi.pointer(proto));
    const hh: (number | bigint)[] = [0];
    const err = this.api.uc_hook_add(this.handle, hh, type, trampoline, null, begin, end);
    if (err !== UC_ERR_OK) {
      koffi.unregister(trampoline);
      this.check('uc_hook_add', err);
    }
    const handle = hh[0]!;
    this.hooks.set(handle, { handle, trampoline });
    return handle;
  }

  hookDel(handle: number | bigint): void {
    const h = this.hooks.get(handle);
    if (!h) throw new Error(`no hook ${handle}`);
    this.check('uc_hook_del', this.api.uc_hook_del(this.handle, handle));
    this.hooks.delete(handle);
    koffi.unregister(h.trampoline);
  }

  // ---- running ----

  /**
   * uc_emu_start. Returns the uc_err code (emulation errors such as UC_ERR_READ_UNMAPPED are
   * results for the caller to interpret); throws if a hook threw, rethrowing that exception.
   * `timeoutUs` > 0 starts Unicorn's timer thread; `count` > 0 adds Unicorn's per-instruction
   * counting hook (both cost speed: see engine.ts).
   */
  emuStart(begin: number | bigint, until: number | bigint, timeoutUs = 0, count = 0): number {
    this.assertOpen();
    this.hookError = undefined;
    const err = this.api.uc_emu_start(this.handle, begin, until, timeoutUs, count);
    if (this.hookError !== undefined) {
      const e = this.hookError;
      this.hookError = undefined;
      throw e;
    }
    return err;
  }

  /** uc_emu_start that throws a UnicornError unless the run ended without error. */
  emuStartChecked(begin: number | bigint, until: number | bigint, timeoutUs = 0, count = 0): void {
    this.check('uc_emu_start', this.emuStart(begin, until, timeoutUs, count));
  }

  /** Requests a stop; safe inside hooks (emulation returns after the current instruction). */
  emuStop(): void {
    this.assertOpen();
    this.api.uc_emu_stop(this.handle);
  }

  strerror(code: number): string {
    return this.api.uc_strerror(code);
  }

  /** Closes the engine and releases every hook trampoline. Not to be called inside a hook. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.api.uc_close(this.handle);
    for (const h of this.hooks.values()) koffi.unregister(h.trampoline);
    this.hooks.clear();
    for (const p of this.batchPages) p.release();
    this.cpRegion.release();
    this.batchPages.length = 0;
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

export function sysRegName(r: SysReg): string {
  return `S${r.op0}_${r.op1}_C${r.crn}_C${r.crm}_${r.op2}`;
}
