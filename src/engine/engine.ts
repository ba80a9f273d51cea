/**
 * The engine the machine drives: one Unicorn CPU at EL0 with the MMU on, the guest-physical pool
 * shared with the memory manager, the shadow tables kept equal to the model TLB, and dispatch of
 * `svc` and aborts to the machine's hooks.
 *
 * A run is one `uc_emu_start` that returns only when a hook asks to stop, a budget runs out or
 * something fails: every svc, abort and exception is handled inside it by UC_HOOK_INTR, which in
 * Unicorn 2.0.1 replaces exception entry (no EL1 vectors, no ESR/FAR), after which QEMU retries
 * the faulting instruction or continues after the svc.
 *
 * Budgets (measured with bench/engine-compute.ts): Unicorn's `count` argument adds a native
 * per-instruction hook; a register-only loop ran at 0.16 of full speed with it (a load/store loop,
 * already slow in Unicorn, at 0.85), so it is used only when an instruction budget (`maxInsns`) is
 * asked for, and counts exactly. Unicorn's `timeout` argument polls from a thread every 2 us and
 * cost up to a third of the speed on a busy 2-core machine, so the time budget (`maxSeconds`) uses
 * a sleeping watchdog thread instead (watchdog.ts), which costs nothing while the guest runs. With
 * neither, a run has no limit; a CLI default should be a time budget, never an instruction one.
 */
import { Telemetry } from '../trace/telemetry.js';
import { PhysMem } from '../mmu/physmem.js';
import { UsageError } from '../util/errors.js';
import { ADDRESS_UNSET, U64Slot, type U64 } from '../util/u64.js';
import { type DecodeContext, type DecodeResult, type DecodeScratch, type MemAccess, type RegisterReader, decodeAccess, insnHex, newDecodeScratch, splitByPage } from './a64-access.js';
import { AbortRegisters } from './abort-regs.js';
import { bringUp, ttbr0Value } from './cpu.js';
import { HostRegion } from './hostmem.js';
import { DEFAULT_MEM_MB, DEFAULT_SHADOW_BYTES, MAX_MEM_MB, PAGE_SIZE, PA_BITS, PHYS_BASE, VA_LIMIT, shadowBaseFor } from './layout.js';
import { runStartupProbe, PROBE_PAGES } from './probe.js';
import { CTX_FPCR, CTX_FPSR, CTX_NZCV, CTX_PC, CTX_SLOTS, CTX_SP, CTX_TPIDR, CTX_V, SavedRegisters } from './saved-regs.js';
import { ShadowTables, type QemuTlbi } from './shadow.js';
import { TLBI_VALE1, TLBI_VMALLE1, TTBR0_EL1 } from './sysregs.js';
import type { AbortCause, AbortInfo, AbortResponse, EngineHooks, ExceptionInfo, GuestAccess, PageFault, RegisterFile, StopReason } from './types.js';
import {
  EXCP_BKPT, EXCP_DATA_ABORT, EXCP_HVC, EXCP_PREFETCH_ABORT, EXCP_SMC, EXCP_SWI, EXCP_UDEF,
  UC_ARCH_ARM64, UC_ARM64_REG_FPCR, UC_ARM64_REG_FPSR, UC_ARM64_REG_NZCV, UC_ARM64_REG_PC, UC_ARM64_REG_SP, UC_ARM64_REG_TPIDR_EL0,
  UC_CPU_ARM64_MAX, UC_ERR_EXCEPTION, UC_ERR_FETCH_UNMAPPED, UC_ERR_OK, UC_ERR_READ_UNMAPPED, UC_ERR_WRITE_UNMAPPED,
  UC_HOOK_MEM_UNMAPPED, UC_MEM_FETCH_UNMAPPED, UC_MEM_WRITE_UNMAPPED, UC_MODE_ARM, UC_PROT_ALL,
  ucArm64RegQ, ucArm64RegX,
} from './unicorn-const.js';
import { Unicorn, unicornVersion } from './unicorn.js';
import { enterTlbMode, requestedTlbMode, VirtualTlb, type TlbMode, type TlbModeRequest } from './virtual-tlb.js';
import { Watchdog } from './watchdog.js';

export type Decoder = (insn: number, ctx: DecodeContext) => DecodeResult;

export interface EngineOptions {
  /** Guest-physical memory in MiB (the `mem_mb` knob). Default 2048. */
  readonly memMb?: number;
  /** The ASID TTBR0_EL1 carries (the process's ASID in the model). Default 1. */
  readonly asid?: number;
  /**
   * Instruction budget of the whole guest (every run and task): exact within a stretch that keeps
   * the CPU (retried attempts count), a run ended by an svc charged one instruction (insnsLeft);
   * Unicorn's counting hook runs register-only code about 5 times slower. Prefer `maxSeconds` as
   * a default.
   */
  readonly maxInsns?: number;
  /** Wall-clock budget per run, in seconds (cheap); a run resumed after 'yield' keeps its deadline. */
  readonly maxSeconds?: number;
  /**
   * Return { kind: 'yield' } at the first exception (svc, abort) after this many milliseconds of
   * a run, so that a caller can let its event loop run (signals) and resume with
   * `runWith(hooks)`. With Unicorn 2.1 or later a run that makes no svc or abort is also
   * stopped by the watchdog thread when its time is up, between two translated blocks; 2.0.1
   * stopped from another thread and started again does not always resume where it stopped, so
   * there only svc and abort end slices. Ignored with an instruction budget.
   */
  readonly sliceMs?: number;
  /**
   * Test hook: a slice also ends at every `sliceEvery`-th exception (svc, abort) where a
   * `sliceMs` slice could end, as if its time were up, so that a test can prove that where a
   * wall-clock slice ends changes no count. Ignored with an instruction budget, as slices are.
   */
  readonly sliceEvery?: number;
  /** Aborts repeated at one PC without progress before the run stops. Default 8. */
  readonly noProgressLimit?: number;
  /** Size of the engine's own region (shadow tables). Default 256 MiB of address space. */
  readonly shadowBytes?: number;
  /** Where the engine's counters go. Default: a private Telemetry. */
  readonly telemetry?: Telemetry;
  /** The machine's hooks; may also be given later with setHooks(). */
  readonly hooks?: EngineHooks;
  /**
   * Test hook: the decoder that turns a faulting instruction into accesses. Replacing it lets a
   * test prove that the start-up verification rejects a wrong decoder.
   */
  readonly decoder?: Decoder;
  /**
   * How QEMU learns the model TLB's translations (virtual-tlb.ts): by walking the shadow tables
   * ('shadow'), or through Unicorn 2.1.x's TLB-fill hook answered from them ('virtual', refused
   * on 2.0.1). Default: the CONTPTE_LAB_TLB_MODE environment variable, else 'auto'.
   */
  readonly tlbMode?: TlbModeRequest;
}

export interface EngineStats {
  [k: string]: number;
  runs: number;
  svc: number;
  data_aborts: number;
  instruction_aborts: number;
  outside_aborts: number;
  alignment_aborts: number;
  exceptions: number;
  retries: number;
}

/**
 * A VA the engine may map for an instant: translatable (below 2^48), inside Unicorn's memory map
 * (the pool's window), and above every guest VA (VA_LIMIT), so no model entry can be there.
 */
const CODE_SCRATCH_VA = PHYS_BASE;


/** An `until` address no guest reaches: TTBR1 space, beyond Unicorn's memory map. */
const UNTIL_NEVER = 0xffff_ffff_ffff_fffcn;

const EXCEPTION_NAMES: Record<number, string> = {
  [EXCP_UDEF]: 'undefined instruction',
  [EXCP_BKPT]: 'breakpoint (BRK)',
  [EXCP_HVC]: 'hypervisor call (HVC)',
  [EXCP_SMC]: 'secure monitor call (SMC)',
};

export class Engine {
  readonly uc: Unicorn;
  /** The guest-physical pool, [PHYS_BASE, PHYS_BASE + memMb MiB): the model allocates from it. */
  readonly phys: PhysMem;
  readonly memMb: number;
  /** Physical address of the engine's own region (shadow tables, stub, probe pages). */
  readonly regionBase: number;
  readonly dczBlockBytes: number;
  readonly stats: EngineStats;
  /** QEMU's target page: 1 KiB under Unicorn 2.0.1, 4 KiB where the library accepts it. */
  readonly qemuPageBytes: number;
  /** How QEMU's TLB is filled: walks of the shadow tables, or the virtual TLB's fill hook. */
  readonly tlbMode: TlbMode;
  /** The fill hook's state in the virtual mode. */
  readonly virtualTlb: VirtualTlb | undefined;
  /** A fill hook ended uc_emu_start so that the guest goes on at a new PC (virtual mode). */
  private fillRestart = false;

  private readonly vaRegion: HostRegion;
  private readonly poolRegion: HostRegion;
  private readonly engineRegion: HostRegion;
  private readonly engineU32: Uint32Array;
  private maxInsns: number;
  /**
   * What is left of the instruction budget for the whole guest (every run and task). Unicorn
   * counts only within one uc_emu_start and does not say how far it got when a hook stopped it,
   * so a run that an svc ended is charged one instruction (the svc): a lower bound, which makes
   * the budget exact for code that keeps the CPU, and still ends a guest that gives it back in a
   * loop (sched_yield, a blocking call, a task switch) after at most `maxInsns` such stops.
   */
  private insnsLeft = 0;
  /** The hook that stopped the current run was the svc hook (the svc instruction completed). */
  private svcStopped = false;
  private maxSeconds: number;
  /** When the current run's time budget runs out (ms since the epoch); 0 without one. */
  private deadline = 0;
  /** The deadline the watchdog is armed for (0: disarmed). */
  private armedFor = 0;
  /** The next run resumes one that yielded. */
  private resuming = false;
  /** Whether the watchdog ends wall-clock slices too (see the constructor), and when it does next (Date.now() ms). */
  private sliceTimer = false;
  private sliceTimerAt = 0;
  /** When the current slice ends (Date.now() ms; 0: no slices), and whether a stop ended one. */
  private sliceEnd = 0;
  private sliceYield = false;
  /** Milliseconds after which a run returns 'yield' so the caller can react (signals); 0: never. */
  private sliceMs = 0;
  /** EngineOptions.sliceEvery (0: off), and the exceptions seen where a slice could end. */
  private sliceEvery = 0;
  private sliceEvents = 0;
  private readonly decoder: Decoder;
  private readonly guard: AbortLoopGuard;
  /** The PC and the registers a decode reads, for each data abort. */
  private readonly abortRegs: AbortRegisters;
  /** The decoder's context, reused by every abort (only `pc` changes). */
  private readonly decodeCtx: { regs: RegisterReader; pc: number; dczBlockBytes: number; into: DecodeScratch };
  /**
   * The record of the data abort in progress, rewritten by each one (the hooks read it during
   * the call: EngineHooks.onAbort), with the one-fault list of the common case: a TLB miss
   * builds no object.
   */
  private readonly dataAbortInfo: Writable<AbortInfo> = {
    kind: 'data', pc: Number.NaN, pcBig: undefined, insnWord: undefined, form: '', accesses: NONE, faults: NONE, cause: 'translation',
  };
  private readonly oneFault: [Writable<PageFault>] = [{ va: ADDRESS_UNSET, kind: 'read', reason: 'translation', tag: undefined }];
  private hooks: EngineHooks | undefined;
  private activeHooks: EngineHooks | undefined;
  private stopReason: StopReason | undefined;
  /** A PC written while a hook asked to stop, applied once emulation has returned. */
  private pendingPc: number | undefined;
  private inHook = false;
  private running = false;
  /**
   * The first access of this slice Unicorn refused as outside its memory map, with the PC of the
   * instruction that made it (found while the registers are still that instruction's).
   */
  private unmapped: { type: number; address: bigint; size: number; pc: bigint } | undefined;
  /** Pointer tags whose memory-map window is mapped (mapTagWindow). */
  private readonly tagWindows = new Set<number>();
  private readonly watchdog: Watchdog | undefined;
  private closed = false;
  private currentAsid: number;
  /** The shadow tables TTBR0_EL1 points at (selectShadow switches between trees). */
  private curShadow: ShadowTables;

  constructor(options: EngineOptions = {}) {
    const memMb = options.memMb ?? DEFAULT_MEM_MB;
    if (!Number.isInteger(memMb) || memMb < 1 || memMb > MAX_MEM_MB) {
      throw new UsageError(`mem_mb: ${memMb} is not a whole number of MiB between 1 and ${MAX_MEM_MB}`);
    }
    const asid = options.asid ?? 1;
    if (!Number.isInteger(asid) || asid < 0 || asid > 0xffff) throw new UsageError(`asid: ${asid} is not 0..65535`);
    const maxInsns = options.maxInsns ?? 0;
    if (!Number.isSafeInteger(maxInsns) || maxInsns < 0) throw new UsageError(`max-insns: ${maxInsns} is not a non-negative whole number`);
    const maxSeconds = options.maxSeconds ?? 0;
    if (!Number.isFinite(maxSeconds) || maxSeconds < 0) throw new UsageError(`max-seconds: ${maxSeconds} is not a non-negative number`);
    const limit = options.noProgressLimit ?? 8;
    if (!Number.isInteger(limit) || limit < 2) throw new UsageError(`no-progress limit: ${limit} is not a whole number of at least 2`);
    const shadowBytes = options.shadowBytes ?? DEFAULT_SHADOW_BYTES;
    if (!Number.isInteger(shadowBytes) || shadowBytes % PAGE_SIZE !== 0 || shadowBytes < 64 * PAGE_SIZE) {
      throw new UsageError(`shadow region: ${shadowBytes} bytes is not a multiple of 4 KiB of at least 256 KiB`);
    }
    this.memMb = memMb;
    this.currentAsid = asid;
    // The guest's budgets start with the guest: the start-up probe runs without them.
    this.maxInsns = 0;
    this.maxSeconds = 0;
    this.decoder = options.decoder ?? decodeAccess;
    this.hooks = options.hooks;
    this.regionBase = shadowBaseFor(memMb);
    if (this.regionBase + shadowBytes > 2 ** PA_BITS) throw new UsageError(`mem_mb: ${memMb} MiB leaves no room for the engine's region below 2^${PA_BITS}`);

    this.stats = { runs: 0, svc: 0, data_aborts: 0, instruction_aborts: 0, outside_aborts: 0, alignment_aborts: 0, exceptions: 0, retries: 0 };

    this.uc = Unicorn.open(UC_ARCH_ARM64, UC_MODE_ARM, UC_CPU_ARM64_MAX);
    // 4 KiB target pages where the library allows it (Unicorn 2.1.4): a shadow page is then one
    // QEMU page, so a TLBI by VA drops one page instead of QEMU's whole TLB.
    this.qemuPageBytes = this.uc.trySetPageSize(PAGE_SIZE) ? PAGE_SIZE : 1024;
    const regions: HostRegion[] = [];
    let abortRegs: AbortRegisters | undefined;
    try {
      // Guest VAs: covered, never touched (see layout.ts).
      this.vaRegion = HostRegion.reserve(VA_LIMIT, 'none');
      regions.push(this.vaRegion);
      this.uc.memMapPtr(0, VA_LIMIT, UC_PROT_ALL, this.vaRegion.ptr);
      const poolBytes = memMb * 2 ** 20;
      this.poolRegion = HostRegion.reserve(poolBytes, 'rw');
      regions.push(this.poolRegion);
      this.uc.memMapPtr(PHYS_BASE, poolBytes, UC_PROT_ALL, this.poolRegion.ptr);
      this.phys = new PhysMem(this.poolRegion.view(), PHYS_BASE);
      const pool = this.poolRegion;
      this.phys.setBacker((offset, len) => pool.populate(offset, len));
      this.phys.watchCode((framePa) => this.invalidateCode(framePa, PAGE_SIZE));
      this.engineRegion = HostRegion.reserve(shadowBytes, 'rw');
      regions.push(this.engineRegion);
      this.uc.memMapPtr(this.regionBase, shadowBytes, UC_PROT_ALL, this.engineRegion.ptr);
      this.engineU32 = new Uint32Array(this.engineRegion.view());

      this.curShadow = new ShadowTables(
        { u32: this.engineU32, base: this.regionBase, firstPage: PROBE_PAGES.firstTablePage, endPage: shadowBytes / PAGE_SIZE },
        this.invalidateQemuTlb,
      );

      const cpu = bringUp(this.uc, {
        ttbr0Base: this.shadow.rootPa,
        asid,
        stubPa: this.regionBase + PROBE_PAGES.stub * PAGE_SIZE,
        writeStubWord: (pa, word) => this.writeRegionWord(pa, word),
      });
      this.dczBlockBytes = cpu.dczBlockBytes;

      this.abortRegs = abortRegs = new AbortRegisters(this.uc);
      this.decodeCtx = { regs: this.abortRegs, pc: 0, dczBlockBytes: this.dczBlockBytes, into: newDecodeScratch() };
      const batch = this.uc.batchReader([...Array.from({ length: 31 }, (_, n) => ucArm64RegX(n)), UC_ARM64_REG_SP, UC_ARM64_REG_NZCV]);
      this.guard = new AbortLoopGuard(limit, () => {
        const r = batch();
        let f = '';
        for (let i = 0; i < 33; i++) f += `${r[4 * i]},${r[4 * i + 1]},`;
        return f;
      });
      this.uc.hookIntr((intno) => this.onIntr(intno));
      // Bounded to the addresses above the pool, the only ones that can be unmapped (VAs below
      // VA_LIMIT and the pool always are): Unicorn 2.1.x keeps every store to a page that any
      // memory hook covers on its slow path (cputlb.c notdirty_write, uc_mem_hook_installed),
      // so a hook over all addresses made each guest store cost ~80 ns there.
      this.uc.hookMemEvent(UC_HOOK_MEM_UNMAPPED, (type, address, size) => {
        // The address as the guest's 64-bit register held it (koffi may hand it over signed).
        const at = BigInt.asUintN(64, BigInt(address));
        if (type !== UC_MEM_FETCH_UNMAPPED && this.mapTagWindow(at)) return true;
        // Unicorn 2.0.1 ends the block at once after a refused load, but after a refused store
        // only skips it (cputlb.c store_helper: cpu_exit, no longjmp), and DC ZVA's helper then
        // tries every byte of its block: the first refusal is the fault, and the rest of the
        // block must have no effect the model sees (dispatchException).
        if (this.unmapped === undefined) this.unmapped = { type, address: at, size, pc: this.unmappedPc(type, at) };
        return false;
      }, PHYS_BASE + poolBytes, 0xffff_ffff_ffff_ffffn);

      // After bring-up, whose stub runs at EL1 with the MMU off (VA = PA), which no fill hook
      // answering from the shadow would allow.
      this.tlbMode = enterTlbMode(this.uc, requestedTlbMode(options.tlbMode), unicornVersion());
      if (this.tlbMode === 'virtual') {
        this.virtualTlb = new VirtualTlb(this.uc, { shadow: () => this.curShadow, abort: (exec, vaddr) => this.abortInFill(exec, vaddr) });
        this.uc.cpRegWriteHalves(TLBI_VMALLE1, 0, 0);
      }

      const sliceMs = options.sliceMs ?? 0;
      if (!Number.isFinite(sliceMs) || sliceMs < 0) throw new UsageError(`slice: ${sliceMs} is not a non-negative number of milliseconds`);
      // Slices count time, so an instruction budget (exact, per uc_emu_start) turns them off.
      // With Unicorn 2.1 or later the watchdog also ends wall-clock slices of a run that makes
      // no svc or abort (a compute loop), so that a signal to the tool is seen within a slice.
      // 2.0.1 does not resume correctly after a stop from another thread (stopped and restarted
      // every millisecond, glibc's rand() loop returned to a data value or deadlocked in its
      // lock), so there a slice ends only at an svc or abort.
      const [major, minor] = unicornVersion();
      this.sliceTimer = maxInsns === 0 && sliceMs > 0 && (major > 2 || (major === 2 && minor >= 1));
      if (maxSeconds > 0 || this.sliceTimer) this.watchdog = new Watchdog(this.uc.handle);
      runStartupProbe(this, {
        pagePa: (page) => this.regionBase + page * PAGE_SIZE,
        writeWord: (pa, word) => this.writeRegionWord(pa, word),
      });
      this.maxInsns = maxInsns;
      this.insnsLeft = maxInsns;
      this.maxSeconds = maxSeconds;
      this.sliceMs = maxInsns === 0 ? sliceMs : 0;
      const sliceEvery = options.sliceEvery ?? 0;
      if (!Number.isSafeInteger(sliceEvery) || sliceEvery < 0) throw new UsageError(`slice-every: ${sliceEvery} is not a non-negative whole number`);
      this.sliceEvery = maxInsns === 0 ? sliceEvery : 0;
      this.resetAfterProbe();
      const telemetry = options.telemetry ?? new Telemetry();
      telemetry.stats.register('engine', this.stats);
      telemetry.stats.register('shadow', this.shadow.stats);
    } catch (e) {
      this.watchdog?.close();
      this.uc.close();
      abortRegs?.close();
      for (const r of regions) r.release();
      this.closed = true;
      throw e;
    }
  }

  setHooks(hooks: EngineHooks): void {
    this.hooks = hooks;
  }

  /** The shadow tables the guest translates through now. */
  get shadow(): ShadowTables {
    return this.curShadow;
  }

  /** What a shadow flush does to QEMU's TLB (only the current tree is ever flushed). */
  private readonly invalidateQemuTlb = (op: QemuTlbi): void => {
    const vt = this.virtualTlb;
    if (op.kind === 'all' || vt?.taggedFilled === true) {
      // QEMU keeps a virtual-mode fill made through a tagged pointer under the tagged address.
      this.uc.cpRegWriteHalves(TLBI_VMALLE1, 0, 0);
      if (vt !== undefined) vt.taggedFilled = false;
    }
    else this.uc.cpRegWriteHalves(TLBI_VALE1, (op.va / PAGE_SIZE) >>> 0, Math.floor(op.va / PAGE_SIZE / 2 ** 32) | (this.currentAsid << 16));
  };

  /**
   * A new, empty tree of shadow tables in the engine's region (its pages and counters shared
   * with the others), for `selectShadow`.
   */
  newShadowTables(): ShadowTables {
    return new ShadowTables(this.curShadow.pagePool, this.invalidateQemuTlb);
  }

  /**
   * Points TTBR0_EL1 at another tree of shadow tables, with `asid`, and empties QEMU's TLB (a
   * context switch that keeps each CPU's and address space's shadow instead of rebuilding one).
   * Invalidations either tree still owed QEMU are covered by that.
   */
  selectShadow(tables: ShadowTables, asid: number): void {
    if (!Number.isInteger(asid) || asid < 0 || asid > 0xffff) throw new RangeError(`ASID ${asid} is not 0..65535`);
    this.curShadow.discardStale();
    this.curShadow = tables;
    const asidChanged = asid !== this.currentAsid;
    this.currentAsid = asid;
    // As ttbr0Value, in halves: the BASE is below 2^48 and the ASID fills bits 63:48.
    this.uc.cpRegWriteHalves(TTBR0_EL1, tables.rootPa >>> 0, Math.floor(tables.rootPa / 2 ** 32) | (asid << 16));
    // A write that changes TTBR0_EL1's ASID already empties QEMU's whole TLB (target/arm
    // helper.c vmsa_ttbr_write, QEMU 5.0 and 8.x): a TLBI after it would only clear QEMU's
    // translated-block jump cache a second time, one more native call per context switch.
    // The same ASID with another tree (a thread moving to another CPU) needs the TLBI.
    if (!asidChanged) this.uc.cpRegWriteHalves(TLBI_VMALLE1, 0, 0);
    tables.discardStale();
  }

  /** The ASID in TTBR0_EL1. */
  get asid(): number {
    return this.currentAsid;
  }

  /**
   * Switches TTBR0_EL1 to another ASID (a context switch in the model) and empties QEMU's TLB.
   * The shadow holds one address space: the machine replaces its entries with the new ASID's
   * (e.g. unmapAll, then fills as they come).
   */
  setAsid(asid: number): void {
    if (!Number.isInteger(asid) || asid < 0 || asid > 0xffff) throw new RangeError(`ASID ${asid} is not 0..65535`);
    this.currentAsid = asid;
    this.uc.cpRegWrite(TTBR0_EL1, ttbr0Value(this.shadow.rootPa, asid));
    this.uc.cpRegWriteHalves(TLBI_VMALLE1, 0, 0);
  }

  // ---- registers (for syscalls, signals and TLS) ----

  /** Xn (n = 0..30) as an unsigned 64-bit value. */
  getX(n: number): bigint {
    return this.uc.regRead(ucArm64RegX(n));
  }

  /** Xn as a number; throws if the value is 2^53 or more (use for addresses and small values). */
  getXNumber(n: number): number {
    return this.uc.regReadNumber(ucArm64RegX(n));
  }

  /** Writes Xn; negative numbers are stored as two's complement (`setX(0, -38)` is -ENOSYS). */
  setX(n: number, value: bigint | number): void {
    this.uc.regWrite(ucArm64RegX(n), value);
  }

  getPc(): number {
    return this.pendingPc ?? this.knownPc ?? this.uc.regReadNumber(UC_ARM64_REG_PC);
  }

  /**
   * The PC Unicorn holds, when the engine itself wrote it since the last emulation (a register
   * file loaded, setPc, a hook's pending PC), so that a run started after a context switch does
   * not read it back (one native call per switch). Undefined while the guest may move it.
   */
  private knownPc: number | undefined;

  /**
   * What an `svc` hands the kernel: x0..x5, x8 and the PC, in one batched read (a syscall's
   * arguments read one by one cost seven native calls and seven BigInts). The objects are the
   * engine's own, rewritten by the next call (three syscalls a context switch made nine objects
   * each): a caller that keeps an argument past its syscall copies it.
   */
  svcRegisters(): { readonly args: readonly U64[]; readonly x8: U64; readonly pc: number } {
    this.svcBatch ??= this.uc.batchReader([...[0, 1, 2, 3, 4, 5, 8].map(ucArm64RegX), UC_ARM64_REG_PC]);
    const r = this.svcBatch();
    const pc = this.pendingPc ?? r[29]! * 2 ** 32 + r[28]!;
    if (this.pendingPc === undefined && r[29]! >= 0x200000) throw new RangeError(`the PC 0x${r[29]!.toString(16)}${r[28]!.toString(16).padStart(8, '0')} is not below 2^53`);
    const out = this.svcOut;
    for (let n = 0; n < 6; n++) {
      const a = out.args[n]!;
      a.lo = r[4 * n]!;
      a.hi = r[4 * n + 1]!;
    }
    out.x8.lo = r[24]!;
    out.x8.hi = r[25]!;
    out.pc = pc;
    return out;
  }

  private svcBatch: (() => Uint32Array) | undefined;
  private readonly svcOut: { args: { lo: number; hi: number }[]; x8: { lo: number; hi: number }; pc: number } = {
    args: Array.from({ length: 6 }, () => new U64Slot()),
    x8: new U64Slot(),
    pc: 0,
  };

  /** Sets the PC. Inside a hook the guest continues there (or, if the hook stops, the next run does). */
  setPc(pc: number): void {
    if (this.inHook) {
      this.pendingPc = pc;
      return;
    }
    this.uc.regWrite(UC_ARM64_REG_PC, pc);
    this.knownPc = Number.isSafeInteger(pc) && pc >= 0 ? pc : undefined;
  }

  getSp(): number {
    return this.uc.regReadNumber(UC_ARM64_REG_SP);
  }

  setSp(sp: number | bigint): void {
    this.uc.regWrite(UC_ARM64_REG_SP, sp);
  }

  getTpidrEl0(): bigint {
    return this.uc.regRead(UC_ARM64_REG_TPIDR_EL0);
  }

  setTpidrEl0(v: bigint | number): void {
    this.uc.regWrite(UC_ARM64_REG_TPIDR_EL0, v);
  }

  /** NZCV in bits 31:28. */
  getNzcv(): number {
    return Number(this.uc.regRead(UC_ARM64_REG_NZCV));
  }

  setNzcv(v: number): void {
    this.uc.regWrite(UC_ARM64_REG_NZCV, v);
  }

  /** Vn (Qn) as 16 little-endian bytes. */
  getV(n: number): Uint8Array {
    return this.uc.regReadVector(ucArm64RegQ(n));
  }

  setV(n: number, bytes: Uint8Array): void {
    this.uc.regWriteVector(ucArm64RegQ(n), bytes);
  }

  /**
   * Drops QEMU's translations of code in physical [pa, pa + len) (or, without arguments, of all
   * code). Call after the model rewrites from JavaScript physical memory that may hold code QEMU
   * has executed: QEMU notices the guest's own stores to code pages, but Unicorn 2.0.1 tracks no
   * writes from outside. A range costs a few microseconds per page (the page is mapped for an
   * instant at a VA no guest uses, and QEMU invalidates by the physical address it translates
   * to); dropping everything costs about 150 ms.
   */
  invalidateCode(pa?: number, len = PAGE_SIZE): void {
    if (pa === undefined) {
      this.uc.flushTranslationBlocks();
      return;
    }
    if (!this.phys.contains(pa, len)) throw new RangeError(`invalidateCode: [0x${pa.toString(16)}, +0x${len.toString(16)}) is outside guest-physical memory`);
    let p = pa;
    const end = pa + len;
    while (p < end) {
      const page = p - (p % PAGE_SIZE);
      const stop = Math.min(end, page + PAGE_SIZE);
      this.shadow.map(CODE_SCRATCH_VA, PAGE_SIZE, page, { r: true, w: false, x: true });
      try {
        this.uc.removeCache(CODE_SCRATCH_VA + (p - page), CODE_SCRATCH_VA + (stop - page));
      } finally {
        this.shadow.unmap(CODE_SCRATCH_VA, PAGE_SIZE);
      }
      p = stop;
    }
    if (!this.inHook) this.shadow.flush();
  }

  // ---- context switches ----

  /**
   * The user-visible register file, for a task going off the CPU: x0..x30, SP, PC, NZCV,
   * TPIDR_EL0, FPCR, FPSR and v0..v31 in one batched read, kept as its bytes until something
   * reads a field (saved-regs.ts).
   */
  saveRegisters(reuse?: RegisterFile | null): RegisterFile {
    const b = this.contextBatch();
    b.read();
    // The task's previous save, still bytes nobody decoded, is overwritten rather than copied
    // into a new buffer (a switch allocated 1,104 bytes outside the heap for it): the caller
    // replaces its only reference to it (Task.regs) with the result.
    const old = reuse instanceof SavedRegisters ? reuse.raw : null;
    const bytes = old !== null ? old : b.slots.slice(0, 16 * CTX_SLOTS);
    if (old !== null) old.set(b.slots.subarray(0, 16 * CTX_SLOTS));
    if (this.pendingPc !== undefined) {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      dv.setUint32(16 * CTX_PC, this.pendingPc >>> 0, true);
      dv.setUint32(16 * CTX_PC + 4, Math.floor(this.pendingPc / 2 ** 32), true);
    }
    return old !== null ? reuse! : new SavedRegisters(bytes);
  }

  /** Loads a task's register file (its PC included) onto the CPU, in one batched write. */
  loadRegisters(r: RegisterFile): void {
    // Inside a hook the new PC takes effect when the hook returns (setPc), or after the run
    // stopped: a PC written now (even the same value) makes Unicorn go on emulating after the
    // hook, whatever stop the hook asked for (its quit request clears the stop request). So the
    // batch there writes SP a second time in the PC's slot.
    const inHook = this.inHook;
    const b = this.contextBatch(!inHook);
    const dv = b.dv;
    const put = putSlot;
    const raw = r instanceof SavedRegisters ? r.raw : null;
    let pc: number;
    if (raw !== null) {
      // Saved and untouched since: the bytes go back as they came.
      b.slots.set(raw);
      pc = dv.getUint32(16 * CTX_PC + 4, true) * 2 ** 32 + dv.getUint32(16 * CTX_PC, true);
    } else {
      for (let n = 0; n <= 30; n++) put(dv, n, r.x[n]!);
      put(dv, CTX_SP, r.sp);
      put(dv, CTX_NZCV, BigInt(r.nzcv >>> 0));
      put(dv, CTX_TPIDR, r.tpidr);
      put(dv, CTX_FPCR, BigInt(r.fpcr >>> 0));
      put(dv, CTX_FPSR, BigInt(r.fpsr >>> 0));
      for (let n = 0; n < 32; n++) b.slots.set(r.v[n]!, 16 * (CTX_V + n));
      put(dv, CTX_PC, r.pc);
      pc = Number(r.pc);
    }
    // The batch without the PC has SP in the PC's slot.
    if (inHook) b.slots.copyWithin(16 * CTX_PC, 16 * CTX_SP, 16 * CTX_SP + 16);
    b.write();
    this.pendingPc = inHook ? pc : undefined;
    if (!inHook) this.knownPc = pc < 2 ** 53 ? pc : undefined;
  }

  private ctxBatch: ContextBatch | undefined;
  private ctxBatchNoPc: ContextBatch | undefined;

  /** The register file's batch; without the PC, SP is in the PC's slot (same layout). */
  private contextBatch(withPc = true): ContextBatch {
    const made = withPc ? this.ctxBatch : this.ctxBatchNoPc;
    if (made !== undefined) return made;
    const ids = (pc: number): number[] => [
      ...Array.from({ length: 31 }, (_, n) => ucArm64RegX(n)),
      UC_ARM64_REG_SP, pc, UC_ARM64_REG_NZCV, UC_ARM64_REG_TPIDR_EL0, UC_ARM64_REG_FPCR, UC_ARM64_REG_FPSR,
      ...Array.from({ length: 32 }, (_, n) => ucArm64RegQ(n)),
    ];
    if (!withPc) return (this.ctxBatchNoPc ??= withView(this.uc.batchAccess(ids(UC_ARM64_REG_SP))));
    return (this.ctxBatch ??= withView(this.uc.batchAccess(ids(UC_ARM64_REG_PC))));
  }

  // ---- running ----

  /**
   * The last run stopped only because its slice ended ('yield' with nothing else to do): the
   * next `runWith` resumes that run, and must be given the same slice to change nothing.
   */
  get sliceEnded(): boolean {
    return this.resuming;
  }

  /**
   * Runs the guest from `entryPc` (or from the current PC) until a hook stops it, a budget runs
   * out, or the engine cannot continue.
   */
  run(entryPc?: number): StopReason {
    if (!this.hooks) throw new Error('Engine.run: no hooks; give them in the options or with setHooks()');
    return this.runWith(this.hooks, entryPc);
  }

  /**
   * `run` with a given set of hooks (the start-up probe uses its own). `slice.count` limits this
   * call to that many instructions (the scheduler's quantum; the instruction budget still
   * applies when it is smaller), after which the run stops with 'quantum'.
   */
  runWith(hooks: EngineHooks, entryPc?: number, slice?: { count?: number; deadlineMs?: number }): StopReason {
    if (this.closed) throw new Error('Engine used after close()');
    if (this.running) throw new Error('Engine.run is not re-entrant (called from inside a hook?)');
    this.running = true;
    this.activeHooks = hooks;
    // A run resumed after a 'yield' is the same run: counts must not depend on wall-clock slices.
    if (!this.resuming) {
      this.stats.runs++;
      this.guard.reset();
    }
    try {
      let pc = entryPc ?? this.getPc();
      this.pendingPc = undefined;
      // The time budget is per run (the machine's scheduler gives its own, for all its slices); a
      // run resumed after a wall-clock 'yield' keeps its deadline.
      if (!this.resuming) this.deadline = slice?.deadlineMs ?? (this.maxSeconds > 0 ? Date.now() + this.maxSeconds * 1000 : 0);
      this.resuming = false;
      const deadline = this.deadline;
      // Wall-clock slices would move the scheduler's instruction quanta: not with a count.
      const slicing = slice?.count === undefined && (this.sliceMs > 0 || this.sliceEvery > 0);
      this.sliceEnd = !slicing ? 0 : this.sliceMs > 0 ? Date.now() + this.sliceMs : Infinity;
      const timed = slicing && this.sliceTimer;
      for (;;) {
        this.stopReason = undefined;
        this.svcStopped = false;
        this.sliceYield = false;
        this.unmapped = undefined;
        this.fillRestart = false;
        this.shadow.flush();
        this.armWatchdog(deadline, timed);
        switch (this.watchdogWoke(deadline)) {
          case 'budget':
            // The deadline passed between slices.
            return this.endedWithoutRequest(true);
          case 'slice':
            this.resuming = true;
            return { kind: 'yield' };
          case null:
        }
        let err: number;
        let woke: 'budget' | 'slice' | null = null;
        const quantum = slice?.count ?? 0;
        // The whole guest's budget, spent by earlier runs (0: none).
        const budget = this.maxInsns > 0 ? this.insnsLeft : 0;
        if (this.maxInsns > 0 && budget <= 0) return this.endedWithoutRequest(false);
        const count = quantum > 0 && (budget === 0 || quantum < budget) ? quantum : budget;
        this.knownPc = undefined;
        try {
          err = this.uc.emuStart(pc, UNTIL_NEVER, 0, count);
        } finally {
          woke = this.watchdogWoke(deadline);
        }
        const timedOut = woke === 'budget';
        if (this.pendingPc !== undefined) {
          this.uc.regWrite(UC_ARM64_REG_PC, this.pendingPc);
          this.knownPc = this.pendingPc;
          this.pendingPc = undefined;
        }
        if (this.stopReason) {
          // A slice ended, not the budget: the caller may look at the world and resume.
          if (this.sliceYield) this.resuming = true;
          if (this.svcStopped && this.maxInsns > 0) this.insnsLeft -= 1;
          return this.stopReason;
        }
        if (err === UC_ERR_OK && this.unmapped) {
          // A refused store whose block went on to its end (see the unmapped-access hook).
          const r = this.outsideRangeAbort(this.unmapped);
          this.shadow.flush();
          if (r !== 'retry') return r;
          pc = this.getPc();
          continue;
        }
        if (err === UC_ERR_OK && woke === 'slice') {
          // The slice timer stopped the guest between two translated blocks, where it resumes
          // exactly: nothing of the model's happens there.
          this.resuming = true;
          return { kind: 'yield' };
        }
        if (err === UC_ERR_OK && !timedOut && count === quantum && quantum > 0 && this.uc.regRead(UC_ARM64_REG_PC) !== UNTIL_NEVER) {
          if (this.maxInsns > 0) this.insnsLeft -= quantum;
          return { kind: 'quantum', instructions: quantum };
        }
        if (err === UC_ERR_OK) return this.endedWithoutRequest(timedOut);
        if (err === UC_ERR_EXCEPTION && this.fillRestart) {
          // The virtual TLB's fill hook handled an abort that moved the PC (a signal handler).
          if (timedOut) return this.endedWithoutRequest(true);
          pc = this.getPc();
          continue;
        }
        if ((err === UC_ERR_READ_UNMAPPED || err === UC_ERR_WRITE_UNMAPPED || err === UC_ERR_FETCH_UNMAPPED || err === UC_ERR_OK) && this.unmapped) {
          const r = this.outsideRangeAbort(this.unmapped);
          this.shadow.flush();
          if (r !== 'retry') return r;
          pc = this.getPc();
          continue;
        }
        const stopPc = this.uc.regRead(UC_ARM64_REG_PC);
        return { kind: 'error', message: `Unicorn stopped the guest: ${this.uc.strerror(err)} (uc_err ${err}) at pc 0x${stopPc.toString(16)}`, pc: Number(stopPc) };
      }
    } finally {
      this.running = false;
      this.activeHooks = undefined;
    }
  }

  /**
   * Arms the watchdog for the budget's `deadline` or, in a `timed` (sliced) run, the slice
   * timer's, which keeps its phase across runs: re-armed once per deadline or slice, not once per
   * svc (arming wakes the worker, ~15 us of CPU on a busy machine).
   */
  private armWatchdog(deadline: number, timed: boolean): void {
    if (timed && this.sliceTimerAt <= Date.now()) this.sliceTimerAt = Date.now() + this.sliceMs;
    const wake = timed && (deadline === 0 || this.sliceTimerAt < deadline) ? this.sliceTimerAt : deadline;
    if (wake === this.armedFor) return;
    if (this.armedFor !== 0) this.watchdog!.disarm();
    if (wake) this.watchdog!.arm(wake - Date.now());
    this.armedFor = wake;
  }

  /**
   * Whether the watchdog stopped the guest, acknowledging it: at the budget's `deadline`, or at
   * the slice timer (the time budget wins when both are due).
   */
  private watchdogWoke(deadline: number): 'budget' | 'slice' | null {
    if (this.armedFor === 0 || !this.watchdog!.fired()) return null;
    const armedFor = this.armedFor;
    this.watchdog!.disarm();
    this.armedFor = 0;
    return deadline !== 0 && (armedFor === deadline || Date.now() >= deadline) ? 'budget' : 'slice';
  }

  /** uc_emu_start returned normally without a hook asking: a budget, or the guest reached `until`. */
  private endedWithoutRequest(timedOut: boolean): StopReason {
    const pc = this.uc.regRead(UC_ARM64_REG_PC);
    if (timedOut) {
      return { kind: 'budget', resource: 'time', limit: this.maxSeconds, message: `the guest ran out of its time budget (${this.maxSeconds} s) at pc 0x${pc.toString(16)}` };
    }
    if (pc === UNTIL_NEVER) return { kind: 'error', message: `the guest jumped to 0x${pc.toString(16)}, outside the user address space`, pc: Number(pc) };
    if (this.maxInsns > 0) {
      return { kind: 'budget', resource: 'instructions', limit: this.maxInsns, message: `the guest ran out of its instruction budget (${this.maxInsns} instructions) at pc 0x${pc.toString(16)}` };
    }
    return { kind: 'error', message: `Unicorn returned without a stop request at pc 0x${pc.toString(16)}`, pc: Number(pc) };
  }

  // ---- exception dispatch (inside uc_emu_start) ----

  private onIntr(intno: number): void {
    this.dispatchException(intno);
    if (this.stopReason) {
      this.uc.emuStop();
      return;
    }
    this.shadow.flush();
    if (this.pendingPc !== undefined) {
      const pc = this.pendingPc;
      this.pendingPc = undefined;
      this.uc.regWrite(UC_ARM64_REG_PC, pc);
    }
  }

  /**
   * The virtual mode's fill hook found the shadow refusing an access: the abort QEMU's walk would
   * have raised, handled as onIntr handles it: 'retry' when the guest goes on with the
   * instruction, 'stop' when the emulation must end (a stop, or a new PC: runWith then starts it
   * again there), 'not-guest' for a lookup no guest instruction made (VirtualTlbHost).
   */
  private abortInFill(exec: boolean, vaddr: number | bigint): 'retry' | 'stop' | 'not-guest' {
    if (exec && BigInt.asUintN(64, BigInt(vaddr)) !== (this.uc.regRead(UC_ARM64_REG_PC) & ~BigInt(this.qemuPageBytes - 1))) return 'not-guest';
    // Outside a run (a code invalidation's lookup) nothing is handled: the caller maps first.
    if (!this.activeHooks) return 'stop';
    // The run already ends (the guest was killed by an earlier lookup of the same instruction:
    // DC ZVA probes its block without faulting, then stores, and QEMU asks again after the mm is
    // gone): QEMU only needs the refusal. A slice's end is no such stop.
    if (this.stopReason !== undefined && !this.sliceYield) return 'stop';
    let intno = exec ? EXCP_PREFETCH_ABORT : EXCP_DATA_ABORT;
    for (;;) {
      this.dispatchException(intno);
      if (this.stopReason) return 'stop';
      this.shadow.flush();
      if (this.pendingPc !== undefined) {
        this.fillRestart = true;
        return 'stop';
      }
      // The shadow mode retries a data abort through QEMU's block lookup, which fetches through
      // the shadow again: with the instruction's own page gone from the model TLB (whose removal
      // emptied QEMU's TLB and block cache), that is an instruction abort first. Here the block
      // would go on running, so that abort is taken now, in the same order.
      if (intno === EXCP_PREFETCH_ABORT || this.shadow.check(this.decodeCtx.pc, 'exec') === 'ok') return 'retry';
      intno = EXCP_PREFETCH_ABORT;
    }
  }

  /** An exception's handling, up to what it leaves to do (stopReason, pendingPc). */
  private dispatchException(intno: number): void {
    const hooks = this.activeHooks;
    if (!hooks) throw new Error(`exception ${intno} outside a run`);
    if (this.unmapped !== undefined) {
      // An instruction after a refused store of the same block (a system call, a fault): the
      // guest never got there, so nothing of it is handled; the run stops, and the refused
      // access is its fault.
      this.uc.emuStop();
      return;
    }
    // Unicorn went on after a stop was asked (a PC written in a hook cancels the request): what
    // this event does is the run's, so the stop is no longer one that only ended a slice.
    if (this.stopReason !== undefined) this.sliceYield = false;
    this.inHook = true;
    try {
      switch (intno) {
        case EXCP_SWI: {
          this.stats.svc++;
          this.guard.progress();
          const r = hooks.onSvc(this) ?? 'retry';
          this.settle(r);
          if (r !== 'retry') this.svcStopped = true;
          break;
        }
        case EXCP_DATA_ABORT:
          this.stats.data_aborts++;
          this.settleAbort(hooks, this.dataAbort(hooks));
          break;
        case EXCP_PREFETCH_ABORT:
          this.stats.instruction_aborts++;
          this.settleAbort(hooks, this.instructionAbort());
          break;
        default:
          this.stats.exceptions++;
          this.otherException(hooks, intno);
      }
    } finally {
      this.inHook = false;
    }
    if (!this.stopReason && this.sliceEnd > 0 && (Date.now() >= this.sliceEnd || this.sliceEvery > 0 && ++this.sliceEvents % this.sliceEvery === 0)) {
      // The slice is over: stop here, where the next run resumes exactly.
      this.stopReason = { kind: 'yield' };
      this.sliceYield = true;
    }
  }

  /**
   * A data access through a tagged user pointer (bits 63:56 not zero, bit 55 clear, the rest
   * below VA_LIMIT). Unicorn 2.0.1 checks the address against its memory map *with* the tag,
   * before QEMU's walk (which ignores the tag: TCR_EL1.TBI0), so each tag gets its own window
   * over the same never-touched reservation as the untagged VAs, mapped at its first use (this is
   * Unicorn's on-demand mapping: the hook maps and says handled). The access then goes through
   * the shadow tables like an untagged one. QEMU's TLB keeps such entries under the tagged
   * address; a TLBI by VA still removes them, because every shadow page is a large page to
   * QEMU's 1 KiB target pages and it then flushes the whole TLB of that regime (README.md of
   * this directory). Returns false for any other address.
   */
  private mapTagWindow(address: bigint): boolean {
    const tag = Number(address >> 56n);
    if (tag === 0 || ((address >> 55n) & 1n) === 1n || (address & ((1n << 56n) - 1n)) >= BigInt(VA_LIMIT)) return false;
    if (this.tagWindows.has(tag)) return false;
    this.uc.memMapPtr(BigInt(tag) << 56n, VA_LIMIT, UC_PROT_ALL, this.vaRegion.ptr);
    this.tagWindows.add(tag);
    return true;
  }

  private settle(r: AbortResponse): void {
    if (r !== 'retry') this.stopReason = r;
  }

  private settleAbort(hooks: EngineHooks, info: AbortInfo | StopReason): void {
    if ('faults' in info) {
      const stuck = this.guard.abort(info);
      if (stuck) {
        this.stopReason = stuck;
        return;
      }
      const r = hooks.onAbort(info, this);
      if (r === 'retry') this.stats.retries++;
      this.settle(r);
      return;
    }
    this.stopReason = info;
  }

  private dataAbort(hooks: EngineHooks): AbortInfo | StopReason {
    const pc = this.abortRegs.snapshot();
    const word = hooks.readInsn(pc);
    if (word === undefined) {
      return { kind: 'error', message: `data abort at pc 0x${pc.toString(16)}: the instruction there cannot be read through the model`, pc };
    }
    this.decodeCtx.pc = pc;
    const d = this.decoder(word, this.decodeCtx);
    this.abortRegs.settle();
    if (d.kind === 'unknown') {
      return { kind: 'error', message: `data abort at pc 0x${pc.toString(16)}: cannot tell what instruction ${insnHex(word)} accesses (${d.reason})`, pc };
    }
    if (d.accesses.length === 0) {
      return { kind: 'error', message: `data abort at pc 0x${pc.toString(16)} on ${d.form} (${insnHex(word)}), which accesses no memory`, pc };
    }
    const accesses = anyVaBig(d.accesses) ? d.accesses.map(withoutTag) : d.accesses;
    const faults = this.refusedPieces(accesses);
    const cause = faults.length > 0 ? faults[0]!.reason : 'alignment';
    if (cause === 'alignment') this.stats.alignment_aborts++;
    const info = this.dataAbortInfo;
    info.pc = pc;
    info.insnWord = word;
    info.form = d.form;
    info.accesses = accesses;
    info.faults = faults;
    info.cause = cause;
    return info;
  }

  /** The page pieces of `accesses` the shadow refuses, in the order the CPU makes them. */
  private refusedPieces(accesses: readonly TaggedAccess[]): readonly PageFault[] {
    const first = accesses[0]!;
    if (accesses.length === 1 && withinPage(first)) {
      // The common case (one access, one page), built without growing an array.
      const c = this.shadow.check(first.va, first.kind);
      if (c === 'ok') return NONE;
      const f = this.oneFault[0];
      f.va = first.va;
      f.kind = first.kind;
      f.reason = c;
      f.tag = first.tag;
      return this.oneFault;
    }
    const faults: PageFault[] = [];
    for (const a of accesses) {
      for (const piece of withinPage(a) ? [a] : splitByPage(a, PAGE_SIZE)) {
        const c = this.shadow.check(piece.va, piece.kind);
        if (c !== 'ok') faults.push(a.tag === undefined ? { va: piece.va, kind: piece.kind, reason: c } : { va: piece.va, kind: piece.kind, reason: c, tag: a.tag });
      }
    }
    return faults;
  }

  private instructionAbort(): AbortInfo {
    const pcBig = this.uc.regRead(UC_ARM64_REG_PC);
    if (pcBig >= 2n ** 53n) {
      // A branch to a kernel (or otherwise huge) address: nothing the model maps can be there.
      const va = Number(pcBig);
      return { kind: 'instruction', pc: va, pcBig, insnWord: undefined, form: '', accesses: [{ va, size: 4, kind: 'exec', vaBig: pcBig }], faults: [{ va, kind: 'exec', reason: 'translation' }], cause: 'outside-va-range' };
    }
    const pc = Number(pcBig);
    const c = this.shadow.check(pc, 'exec');
    const access: GuestAccess = { va: pc, size: 4, kind: 'exec' };
    const faults: PageFault[] = c === 'ok' ? [] : [{ va: pc, kind: 'exec', reason: c }];
    return { kind: 'instruction', pc, insnWord: undefined, form: '', accesses: [access], faults, cause: c === 'ok' ? 'alignment' : c };
  }

  /** An access Unicorn refused before translation (outside every mapped region). */
  private outsideRangeAbort(u: { type: number; address: bigint; size: number; pc: bigint }): AbortResponse {
    this.stats.outside_aborts++;
    const hooks = this.activeHooks!;
    const kind = u.type === UC_MEM_FETCH_UNMAPPED ? 'exec' : u.type === UC_MEM_WRITE_UNMAPPED ? 'write' : 'read';
    const exact = u.address < 2n ** 53n;
    const va = Number(u.address);
    const access: GuestAccess = exact ? { va, size: u.size, kind } : { va, size: u.size, kind, vaBig: u.address };
    // A branch to a kernel address leaves a PC beyond 2^53: keep it exact in pcBig.
    const pcBig = u.pc;
    const pc = Number(pcBig);
    const info: AbortInfo = {
      kind: kind === 'exec' ? 'instruction' : 'data', pc, ...(pcBig >= 2n ** 53n ? { pcBig } : {}),
      insnWord: kind === 'exec' || pcBig >= 2n ** 53n ? undefined : hooks.readInsn(pc),
      form: '', accesses: [access], faults: [{ va, kind, reason: 'translation' }], cause: 'outside-va-range',
    };
    const stuck = this.guard.abort(info);
    if (stuck) return stuck;
    this.inHook = true;
    try {
      return hooks.onAbort(info, this);
    } finally {
      this.inHook = false;
      if (this.pendingPc !== undefined) {
        this.uc.regWrite(UC_ARM64_REG_PC, this.pendingPc);
        this.pendingPc = undefined;
      }
    }
  }

  /**
   * The PC of the instruction in the translation block starting at `blockPc` that accesses
   * `address`, or `blockPc` when none can be found. A block ends at its first branch, so the
   * instructions are consecutive; at most 512 are looked at (QEMU's own limit per block).
   */
  /**
   * The PC of the instruction whose access Unicorn refuses now (in its unmapped-access hook).
   * Unicorn stops before syncing the PC: it holds the translation block's first instruction,
   * or the target of a branch to a kernel address for a fetch. The faulting one is the first
   * memory instruction from there whose access, computed from the registers now (nothing after
   * it has run yet), covers the address.
   */
  private unmappedPc(type: number, address: bigint): bigint {
    const pcBig = this.uc.regRead(UC_ARM64_REG_PC);
    const hooks = this.activeHooks;
    if (type === UC_MEM_FETCH_UNMAPPED || pcBig >= 2n ** 53n || hooks === undefined) return pcBig;
    return BigInt(this.faultingPcInBlock(Number(pcBig), address, hooks));
  }

  private faultingPcInBlock(blockPc: number, address: bigint, hooks: EngineHooks): number {
    this.abortRegs.snapshot();
    for (let i = 0, at = blockPc; i < 512; i++, at += 4) {
      const word = hooks.readInsn(at);
      if (word === undefined) break;
      this.decodeCtx.pc = at;
      const d = this.decoder(word, this.decodeCtx);
      if (d.kind !== 'access') continue;
      for (const a of d.accesses) {
        const first = a.vaBig ?? BigInt(a.va);
        if (address >= first && address < first + BigInt(a.size)) return at;
      }
    }
    return blockPc;
  }

  private otherException(hooks: EngineHooks, intno: number): void {
    const pc = this.uc.regReadNumber(UC_ARM64_REG_PC);
    const info: ExceptionInfo = { intno, name: EXCEPTION_NAMES[intno] ?? `exception ${intno}`, pc };
    if (hooks.onException) {
      this.settle(hooks.onException(info, this));
      return;
    }
    this.stopReason = { kind: 'exception', info, message: `${info.name} at pc 0x${pc.toString(16)}` };
  }

  // ---- lifetime ----

  /** Closes Unicorn and returns the host memory. The PhysMem must not be used afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watchdog?.close();
    this.uc.close();
    this.abortRegs.close();
    this.engineRegion.release();
    this.poolRegion.release();
    this.vaRegion.release();
  }

  // ---- internals shared with the probe ----

  private writeRegionWord(pa: number, word: number): void {
    this.engineU32[(pa - this.regionBase) / 4] = word >>> 0;
  }

  /** Leaves the CPU and counters as if the probe had never run. */
  private resetAfterProbe(): void {
    for (let n = 0; n <= 30; n++) this.uc.regWrite(ucArm64RegX(n), 0);
    this.uc.regWrite(UC_ARM64_REG_SP, 0);
    this.uc.regWrite(UC_ARM64_REG_NZCV, 0);
    const zero = new Uint8Array(16);
    for (let n = 0; n < 32; n++) this.uc.regWriteVector(ucArm64RegQ(n), zero);
    for (const k of Object.keys(this.stats)) this.stats[k] = 0;
    for (const k of Object.keys(this.shadow.stats)) if (k !== 'tables_live') this.shadow.stats[k] = 0;
  }
}

/** A batch of the register file, with a view of its slots kept (a load makes no DataView). */
type ContextBatch = { slots: Uint8Array; dv: DataView; read(): void; write(): void };

function withView(b: { slots: Uint8Array; read(): void; write(): void }): ContextBatch {
  return Object.assign(b, { dv: new DataView(b.slots.buffer, b.slots.byteOffset, b.slots.byteLength) });
}

/** A 64-bit register into its 16-byte slot (the upper half zero). */
function putSlot(dv: DataView, i: number, v: bigint): void {
  dv.setBigUint64(16 * i, BigInt.asUintN(64, v), true);
  dv.setBigUint64(16 * i + 8, 0n, true);
}

/** A decoded access with the pointer tag it was made through (GuestAccess.tag). */
type TaggedAccess = MemAccess & { readonly tag?: number };

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** The empty list every abort without faults shares. */
const NONE: readonly never[] = Object.freeze([]);

/** Whether any access has an address of 2^53 or more (a loop: no closure per abort). */
function anyVaBig(accesses: readonly MemAccess[]): boolean {
  for (let i = 0; i < accesses.length; i++) if (accesses[i]!.vaBig !== undefined) return true;
  return false;
}

/**
 * A copy of an abort record that later aborts do not overwrite (the engine reuses its data-abort
 * record: EngineHooks.onAbort), for a hook or a stop reason that keeps it.
 */
export function copyAbortInfo(info: AbortInfo): AbortInfo {
  return { ...info, accesses: info.accesses.map((a) => ({ ...a })), faults: info.faults.map((f) => ({ ...f })) };
}

/**
 * The access as the MMU sees it with TCR_EL1.TBI0 = 1: bits 63:56 of an EL0 data address are
 * ignored, so a user address (bit 55 clear) with a tag is translated as the address without it
 * (ARM ARM D8.8, "Address tagging"); the tag is kept for the fault report. An address with bit 55
 * set is an upper-half (kernel) address whatever its top byte, and is left as it is.
 */
function withoutTag(a: MemAccess): TaggedAccess {
  const big = a.vaBig;
  if (big === undefined || ((big >> 55n) & 1n) === 1n) return a;
  const tag = Number(big >> 56n);
  const va = big & ((1n << 56n) - 1n);
  if (tag === 0) return a;
  return va < 2n ** 53n ? { va: Number(va), size: a.size, kind: a.kind, tag } : { va: Number(va), size: a.size, kind: a.kind, vaBig: va, tag };
}

/**
 * Stops a run that keeps faulting at one PC without getting anywhere. Faulting again at the same
 * PC is normal (a loop sweeping memory through one load, a small TLB evicting the page between
 * iterations), so the test is whether anything changed: an svc or a fault at another PC is
 * progress; the same fault (kind, cause, page) seen again at the same PC is progress only if the
 * general-purpose registers, SP or NZCV differ from its previous occurrence. Registers are read
 * (one batch call) only when a fault repeats, so the common path costs nothing.
 */
class AbortLoopGuard {
  private pc = -1;
  /**
   * The last few fault signatures at this PC (numbers: page, access kind, cause, abort kind) and
   * the register fingerprint at each one's last occurrence ('' until a repeat asks for one).
   */
  private readonly signatures = new Float64Array(RING);
  private readonly fingerprints: string[] = new Array<string>(RING).fill('');
  private count = 0;
  private next = 0;
  private stuck = 0;

  constructor(
    private readonly limit: number,
    private readonly fingerprint: () => string,
  ) {}

  reset(): void {
    this.pc = -1;
    this.count = 0;
    this.next = 0;
    this.stuck = 0;
  }

  progress(): void {
    if (this.pc !== -1) this.reset();
  }

  /** Records an abort; returns a StopReason when it has repeated without progress `limit` times. */
  abort(info: AbortInfo): StopReason | undefined {
    if (info.pc !== this.pc) {
      this.reset();
      this.pc = info.pc;
    }
    const f = info.faults[0];
    const signature = (f ? Math.floor(f.va / PAGE_SIZE) * 64 + kindCode(f.kind) * 16 : 0) + causeCode(info.cause) * 2 + (info.kind === 'data' ? 1 : 0);
    let slot = -1;
    for (let i = 0; i < this.count; i++) {
      if (this.signatures[i] === signature) {
        slot = i;
        break;
      }
    }
    if (slot < 0) {
      // New at this PC (a sweep through one load sees a new page every time).
      this.signatures[this.next] = signature;
      this.fingerprints[this.next] = '';
      this.next = (this.next + 1) % RING;
      if (this.count < RING) this.count++;
      return undefined;
    }
    const before = this.fingerprints[slot]!;
    const now = this.fingerprint();
    this.fingerprints[slot] = now;
    if (before !== now) return undefined;
    this.stuck++;
    if (this.stuck < this.limit) return undefined;
    const what = f ? `${f.reason} fault on ${f.kind} of 0x${f.va.toString(16)}` : `${info.cause} fault`;
    return {
      kind: 'no-progress', pc: info.pc, repeats: this.stuck, abort: copyAbortInfo(info),
      message: `no progress: the ${info.kind} abort at pc 0x${info.pc.toString(16)} (${what}) repeated ${this.stuck} times with no change in the registers although the machine asked to retry`,
    };
  }
}

/** Whether an access stays within one page (floor, not `%`: a remainder above 2^31 is slow). */
function withinPage(a: MemAccess): boolean {
  return a.va - Math.floor(a.va / PAGE_SIZE) * PAGE_SIZE + a.size <= PAGE_SIZE;
}

/** Fault signatures remembered per PC: more than one instruction can fault in turn at one PC. */
const RING = 16;
/**
 * The codes of a fault signature. Switches, not look-ups by name in an object: one keyed load
 * with varying names is megamorphic, and this runs at every abort.
 */
function kindCode(kind: GuestAccess['kind']): number {
  switch (kind) {
    case 'read':
      return 1;
    case 'write':
      return 2;
    case 'exec':
      return 3;
  }
}

function causeCode(cause: AbortCause): number {
  switch (cause) {
    case 'translation':
      return 1;
    case 'permission':
      return 2;
    case 'alignment':
      return 3;
    case 'outside-va-range':
      return 4;
  }
}
