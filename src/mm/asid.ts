/**
 * The arm64 ASID allocator: which ASID an address space runs with on each CPU, and the local TLB
 * flushes that make reusing an ASID safe. Follows arch/arm64/mm/context.c of v6.12 (7.2 differs
 * only in register field names): new_context, flush_context, check_update_reserved_asid,
 * check_and_switch_context, set_reserved_asid_bits / set_kpti_asid_bits and asids_init.
 *
 * How it works, in short:
 * - An mm's context id (mm->context.id) is `generation | asid`: the low 16 bits hold the ASID,
 *   the bits above it the generation it was handed out in. Generations step by 2^16
 *   (ASID_FIRST_VERSION is 1 << 16 whatever the ASID width); the first one is 2^16.
 * - A bitmap of 2^asid_bits bits says which ASIDs the current generation has handed out. ASID 0
 *   is never handed out (the reserved TTBR0 of init_mm uses it). Under KPTI every odd ASID is
 *   marked taken, because an mm owns the pair (2n, 2n+1): the even one for the kernel half, the
 *   odd one (asid | 1, USER_ASID_FLAG in TLBI operands) for EL0. asids_init marks the odd ones
 *   taken even without KPTI when the kernel is built with CONFIG_UNMAP_KERNEL_AT_EL0 (default y,
 *   Debian's configs have it), because KPTI is decided later in boot; so until the first
 *   rollover only even ASIDs are handed out, and afterwards all of them unless KPTI is on.
 * - new_context: an mm that had an ASID in an older generation keeps it if it was live on some
 *   CPU at the rollover (reserved_asids), or if it is still free in the new bitmap; otherwise the
 *   next free ASID from where the last search stopped. When none is left: a new generation
 *   (rollover) and flush_context, which clears the bitmap (back to the KPTI marks), makes every
 *   CPU's active ASID a reserved one (the only ASIDs the new generation cannot give away, since
 *   those CPUs still run them), and marks every CPU as owing a TLB flush.
 * - check_and_switch_context, on a switch to another mm: the fast path when the mm's generation
 *   is current and the CPU's active_asids is non-zero (the kernel's cmpxchg cannot fail here:
 *   the model has one thread); otherwise the slow path under cpu_asid_lock: new_context if the
 *   generation is old, then local_flush_tlb_all (DSB NSHST, TLBI VMALLE1, DSB NSH) if this CPU
 *   owes a flush, then the ASID becomes the CPU's active one.
 * - Not modelled: pinned ASIDs (arm64_mm_context_get, for SVA with an SMMU: no device shares an
 *   address space here; the pinned map Linux always allocates stays empty, so
 *   set_reserved_asid_bits behaves as without it), CnP and the Falkor/Cavium errata.
 *
 * One deviation, and why: Linux gives a new mm context id 0 (init_new_context) and allocates at
 * its first switch_mm; the model allocates when the mm is created (`assign`), so that every mm
 * has its ASID before its page tables are written (the checker keys what a TLB may hold by
 * ASID and VA). The rule is the same new_context; only the moment differs. A rollover there is
 * followed at once by the local flush of the CPU that made the mm, as the CPU that rolls over in
 * check_and_switch_context flushes before it goes on; the other CPUs flush at their next switch.
 */
import type { Mmu } from '../mmu/mmu.js';
import { u64 } from '../util/u64.js';
import { bump, type StatsRegistry, type Tally } from '../trace/stats.js';
import type { CallStack } from '../trace/calls.js';

/** ASID_FIRST_VERSION (v6.12: 1 << 16 whatever asid_bits is): one generation's step. */
export const ASID_FIRST_VERSION = 2 ** 16;

/** The ASID widths ID_AA64MMFR0_EL1.ASIDBits can report. */
export type AsidBits = 8 | 16;

/** What the allocator keeps in an mm: mm->context.id. */
export interface AsidOwner {
  contextId: number;
}

/** The `asid` stats group. */
export interface AsidStats {
  [k: string]: number | Tally;
  /** Generations started because the bitmap was full (flush_context runs). */
  rollovers: number;
  /** ASIDs taken from the bitmap by new_context's search (not kept from an older generation). */
  allocated: number;
  /** Old-generation ASIDs an mm kept into the new generation (reserved, or still free). */
  kept: number;
  /** check_and_switch_context calls that took cpu_asid_lock (the slow path). */
  slow_paths: number;
  /** local_flush_tlb_all owed after a rollover, by the CPU that did it. */
  local_flushes: Tally;
}

export function newAsidStats(): AsidStats {
  return { rollovers: 0, allocated: 0, kept: 0, slow_paths: 0, local_flushes: {} };
}

export interface AsidAllocatorOptions {
  bits: AsidBits;
  /** arm64_kernel_unmapped_at_el0(): ASIDs go in (kernel, user) pairs. */
  kpti: boolean;
  /** CONFIG_UNMAP_KERNEL_AT_EL0 (default y): odd ASIDs are held back until the first rollover. Default true. */
  unmapKernelConfig?: boolean;
  /** Possible CPUs (for_each_possible_cpu). */
  cpus: number;
}

const ZERO = u64(0, 0);

export class AsidAllocator {
  readonly bits: AsidBits;
  /** NUM_USER_ASIDS. */
  readonly numAsids: number;
  readonly kpti: boolean;
  readonly stats: AsidStats;
  private generation = ASID_FIRST_VERSION;
  /** asid_map: 1 = taken in this generation. */
  private readonly map: Uint8Array;
  private readonly active: number[];
  private readonly reserved: number[];
  private readonly flushPending: boolean[];
  /** The mm each CPU last switched to (switch_mm only runs the allocator when it changes). */
  private readonly loaded: (AsidOwner | null)[];
  /** new_context's static cur_idx: where the next search starts. */
  private curIdx = 1;

  constructor(
    opts: AsidAllocatorOptions,
    private readonly mmu: Mmu,
    private readonly calls: CallStack,
    stats: StatsRegistry,
  ) {
    if (opts.bits !== 8 && opts.bits !== 16) throw new RangeError(`asid_bits: ${String(opts.bits)} is not 8 or 16`);
    if (!Number.isInteger(opts.cpus) || opts.cpus < 1) throw new RangeError(`cpus: ${opts.cpus} is not a positive whole number`);
    this.bits = opts.bits;
    this.numAsids = 2 ** opts.bits;
    this.kpti = opts.kpti;
    // asids_update_limit warns when there are not more ASIDs than CPUs: allocation after a
    // rollover could then find none.
    const usable = this.kpti ? this.numAsids / 2 : this.numAsids;
    if (usable - 1 <= opts.cpus) throw new RangeError(`asid_bits=${opts.bits}: ${usable - 1} usable ASIDs are not more than the ${opts.cpus} CPUs`);
    this.map = new Uint8Array(this.numAsids);
    if (opts.unmapKernelConfig ?? true) this.markKptiPairs();
    this.active = new Array<number>(opts.cpus).fill(0);
    this.reserved = new Array<number>(opts.cpus).fill(0);
    this.flushPending = new Array<boolean>(opts.cpus).fill(false);
    this.loaded = new Array<AsidOwner | null>(opts.cpus).fill(null);
    this.stats = stats.register<AsidStats>('asid', newAsidStats());
    calls.markHelpers('local_flush_tlb_all');
  }

  /** The ASID (low bits) of a context id: ctxid2asid. */
  static asidOf(contextId: number): number {
    return contextId % ASID_FIRST_VERSION;
  }

  /** asid_gen_match: the id belongs to the current generation. */
  genMatch(contextId: number): boolean {
    return Math.floor(contextId / ASID_FIRST_VERSION) === Math.floor(this.generation / ASID_FIRST_VERSION);
  }

  get currentGeneration(): number {
    return this.generation / ASID_FIRST_VERSION;
  }

  /** The mm CPU `cpu` last switched to. */
  loadedOn(cpu: number): AsidOwner | null {
    return this.loaded[cpu] ?? null;
  }

  /** Whether CPU `cpu` still owes the flush of a rollover. */
  owesFlush(cpu: number): boolean {
    return this.flushPending[cpu] ?? false;
  }

  /** The model's allocation at mm creation (see the header): new_context under the lock. */
  assign(mm: AsidOwner): void {
    this.calls.within('new_context', () => {
      const before = this.stats.rollovers;
      mm.contextId = this.newContext(mm);
      if (this.stats.rollovers !== before) this.flushIfOwed(this.mmu.cpu.index);
    });
  }

  /**
   * switch_mm on CPU `cpu` (the mmu's current CPU): check_and_switch_context when the CPU's mm
   * changes. Returns whether it ran (false: the CPU already had this mm loaded).
   */
  switchMm(mm: AsidOwner, cpu: number): boolean {
    if (this.loaded[cpu] === mm) return false;
    this.loaded[cpu] = mm;
    this.checkAndSwitchContext(mm, cpu);
    return true;
  }

  /** check_and_switch_context. */
  checkAndSwitchContext(mm: AsidOwner, cpu: number): void {
    const old = this.active[cpu]!;
    // Fast path: the kernel's cmpxchg of active_asids from `old` always succeeds here.
    if (old !== 0 && this.genMatch(mm.contextId)) {
      this.active[cpu] = mm.contextId;
      return;
    }
    this.calls.within('check_and_switch_context', () => {
      this.stats.slow_paths++;
      if (!this.genMatch(mm.contextId)) mm.contextId = this.newContext(mm);
      this.flushIfOwed(cpu);
      this.active[cpu] = mm.contextId;
    });
  }

  /** cpumask_test_and_clear_cpu(cpu, &tlb_flush_pending), then local_flush_tlb_all. */
  private flushIfOwed(cpu: number): void {
    if (!this.flushPending[cpu]) return;
    this.flushPending[cpu] = false;
    if (this.mmu.cpu.index !== cpu) throw new Error(`local_flush_tlb_all for CPU ${cpu} while the mmu runs CPU ${this.mmu.cpu.index}`);
    bump(this.stats.local_flushes, String(cpu));
    this.calls.within('local_flush_tlb_all', () => {
      this.mmu.dsb('nshst');
      this.mmu.tlbi('VMALLE1', ZERO);
      this.mmu.dsb('nsh');
    });
  }

  /** new_context. */
  private newContext(mm: AsidOwner): number {
    const id = mm.contextId;
    if (id !== 0) {
      const asid = AsidAllocator.asidOf(id);
      const newId = this.generation + asid;
      // Live on some CPU at the rollover: the ASID is already reserved for this mm.
      if (this.checkUpdateReserved(id, newId)) {
        this.stats.kept++;
        return newId;
      }
      if (this.map[asid] === 0) {
        this.map[asid] = 1;
        this.stats.kept++;
        return newId;
      }
    }
    let asid = this.findNextZero(this.curIdx);
    if (asid === this.numAsids) {
      this.generation += ASID_FIRST_VERSION;
      this.flushContext();
      // More ASIDs than CPUs (checked in the constructor), so this finds one.
      asid = this.findNextZero(1);
    }
    this.map[asid] = 1;
    this.curIdx = asid;
    this.stats.allocated++;
    return this.generation + asid;
  }

  /** flush_context. */
  private flushContext(): void {
    this.stats.rollovers++;
    this.setReservedAsidBits();
    for (let i = 0; i < this.active.length; i++) {
      let id = this.active[i]!;
      this.active[i] = 0;
      // A CPU that has not switched since the last rollover still runs its reserved ASID.
      if (id === 0) id = this.reserved[i]!;
      this.map[AsidAllocator.asidOf(id)] = 1;
      this.reserved[i] = id;
    }
    this.flushPending.fill(true);
  }

  /** check_update_reserved_asid: every CPU's copy is updated (no early exit). */
  private checkUpdateReserved(id: number, newId: number): boolean {
    let hit = false;
    for (let i = 0; i < this.reserved.length; i++) {
      if (this.reserved[i] === id) {
        hit = true;
        this.reserved[i] = newId;
      }
    }
    return hit;
  }

  /** set_reserved_asid_bits (the pinned map, always allocated, holds only the KPTI marks). */
  private setReservedAsidBits(): void {
    this.map.fill(0);
    if (this.kpti) this.markKptiPairs();
  }

  /** set_kpti_asid_bits: every odd ASID is the user half of a pair. */
  private markKptiPairs(): void {
    for (let i = 1; i < this.numAsids; i += 2) this.map[i] = 1;
  }

  /** find_next_zero_bit(asid_map, NUM_USER_ASIDS, from): NUM_USER_ASIDS when none (no wrap). */
  private findNextZero(from: number): number {
    const m = this.map;
    for (let i = from; i < this.numAsids; i++) if (m[i] === 0) return i;
    return this.numAsids;
  }
}
