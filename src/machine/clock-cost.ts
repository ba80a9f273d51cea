/**
 * What a CPU's virtual clock is charged for: the cost model's cycles (src/report/cost.ts, its
 * parameters and their bases in docs/cost-model.md) turned into nanoseconds at the nominal clock,
 * for the kernel events that happen on the running CPU, plus guest instructions counted in whole
 * scheduler quanta (Unicorn does not tell how many instructions ran before a hook stopped it, so
 * the time of guest code between two kernel events is not charged; kernel work dominates the
 * workloads this tool is for).
 *
 * The meter reads the machine's counters at each charge point and charges the difference since
 * the previous one to the CPU that was running in between, so counting stays where it is (the
 * components' stats groups) and the clock costs a few loads per event.
 */
import type { TlbiStats, TlbStats } from '../mmu/stats.js';
import type { FaultStats } from '../mm/stats.js';
import { COST_PARAMS } from '../report/cost.js';
import type { SyscallStats } from '../linux/syscalls/dispatch.js';
import type { TraceRecord } from '../trace/events.js';
import type { PageCacheStats } from '../mm/pagecache.js';
import { syscallNumber } from '../linux/syscalls/table.js';

const c = (k: keyof typeof COST_PARAMS): number => COST_PARAMS[k].default;

/** Cycles per guest instruction when quanta are charged (an in-order estimate, IPC 1). */
export const CYCLES_PER_INSN = 1;
/** A context switch: the scheduler, switch_mm and the register save/restore (cycles). */
export const CONTEXT_SWITCH_CYCLES = 3000;

/**
 * The work of a syscall beyond its entry and return (the cost model's `syscall`), for the calls
 * whose work no other count prices, in cycles per call. Without it a virtual second of brk or
 * read(2) held several times the calls a real one does (docs/tasks.md, will-it-scale). All are
 * estimates, like the cost model's parameters:
 * - the address-space calls change the VMA tree under the mmap lock taken for writing: the VMA
 *   lookup, a maple-tree store or two (node allocation, RCU free), a vm_area_struct allocated or
 *   freed, the commit accounting, and for munmap the mmu_gather set-up; about 0.4 µs. Their
 *   faults, PTE work and TLBIs are charged as counted.
 * - read and write: the descriptor lookup, the position lock, rw_verify_area and the file's
 *   read_iter or write_iter set-up (the page-cache walk, or the pipe's mutex and wake-ups); the
 *   bytes copied to or from the page cache are charged apart (COPY_CYCLES_PER_BYTE).
 */
export const SYSCALL_WORK_CYCLES: Readonly<Record<string, number>> = {
  brk: 1000,
  mmap: 1000,
  munmap: 1000,
  mprotect: 1000,
  mremap: 1000,
  read: 600,
  write: 600,
  pread64: 600,
  pwrite64: 600,
  readv: 600,
  writev: 600,
};

/** Copying file data between the page cache and user memory: 8 bytes per cycle (cache-hot). */
export const COPY_CYCLES_PER_BYTE = 1 / 8;

export interface ClockCostSources {
  readonly faults: FaultStats;
  readonly syscalls: SyscallStats;
  readonly tlbi: TlbiStats;
  /** The non-broadcast TLBIs so far (Mmu.localTlbis). */
  readonly tlbiLocal: { readonly localTlbis: number };
  readonly tlb: TlbStats;
  readonly pagecache: PageCacheStats;
  readonly cpus: number;
}

/** SYSCALL_WORK_CYCLES by syscall number (every number the table knows is below this). */
const WORK_BY_NR = new Float64Array(512);
for (const [name, cycles] of Object.entries(SYSCALL_WORK_CYCLES)) WORK_BY_NR[syscallNumber(name)] = cycles;

/** A broadcast TLBI with `cpus` CPUs in the Inner Shareable domain (cycles). */
function broadcastCycles(cpus: number): number {
  return c('tlbi_broadcast') + c('tlbi_broadcast_per_cpu') * (cpus - 1);
}

export class ClockMeter {
  private readonly nsPerCycle = 1 / c('clock_ghz');
  private faults = 0;
  private syscalls = 0;
  private tlbis = 0;
  private localTlbis = 0;
  private walkLevels = 0;
  private copiedBytes = 0;
  /** SYSCALL_WORK_CYCLES of the calls made since the last take(). */
  private work = 0;
  /**
   * The prices take() charges, read once: take() runs at every fault, and a look-up by parameter
   * name there was a megamorphic keyed load each (profiled on page_fault3).
   */
  private readonly faultCycles = c('fault_entry_exit');
  private readonly syscallCycles = c('syscall');
  private readonly broadcastTlbiCycles: number;
  private readonly localTlbiCycles = c('tlbi_local');
  private readonly dsbCycles = c('dsb');
  private readonly walkLevelCycles = c('walk_level');

  constructor(private readonly src: ClockCostSources) {
    this.broadcastTlbiCycles = broadcastCycles(src.cpus);
    this.sync();
  }

  /** Forgets what happened so far (after a marker reset). */
  sync(): void {
    this.faults = this.src.faults.total;
    this.syscalls = this.src.syscalls.calls;
    this.tlbis = this.src.tlbi.total;
    this.localTlbis = this.src.tlbiLocal.localTlbis;
    this.walkLevels = this.src.tlb.walk_levels_read;
    this.copiedBytes = this.copied();
    this.work = 0;
  }

  /**
   * A syscall (number `nr`) was dispatched: its work joins the next charge. The machine calls it
   * for every dispatch the `syscalls` count sees, the run again of a call that slept included.
   */
  syscall(nr: number): void {
    if (nr >= 0 && nr < WORK_BY_NR.length) this.work += WORK_BY_NR[nr]!;
  }

  private copied(): number {
    const p = this.src.pagecache;
    return p.read_bytes + p.read_uncached_bytes + p.write_bytes;
  }

  /** Whole nanoseconds of modeled work since the last call (for VirtualClock.chargeNs). */
  takeNs(): number {
    const s = this.src;
    const faults = s.faults.total - this.faults;
    const syscalls = s.syscalls.calls - this.syscalls;
    const tlbis = s.tlbi.total - this.tlbis;
    const local = s.tlbiLocal.localTlbis - this.localTlbis;
    const levels = s.tlb.walk_levels_read - this.walkLevels;
    if (faults === 0 && syscalls === 0 && tlbis === 0 && levels === 0) return 0;
    const copiedNow = this.copied();
    const copied = copiedNow - this.copiedBytes;
    const work = this.work;
    this.work = 0;
    this.faults = s.faults.total;
    this.syscalls = s.syscalls.calls;
    this.tlbis = s.tlbi.total;
    this.localTlbis = s.tlbiLocal.localTlbis;
    this.walkLevels = s.tlb.walk_levels_read;
    this.copiedBytes = copiedNow;
    // A broadcast TLBI reaches the machine's other CPUs; a local one (7.2's few local forms, the
    // VMALLE1 a CPU owes after an ASID rollover) only its own TLB. Each comes with its DSB.
    const tlbiCycles = (tlbis - local) * this.broadcastTlbiCycles + local * this.localTlbiCycles + tlbis * this.dsbCycles;
    const cycles = faults * this.faultCycles + syscalls * this.syscallCycles + tlbiCycles + levels * this.walkLevelCycles + work + copied * COPY_CYCLES_PER_BYTE;
    return Math.round(cycles * this.nsPerCycle);
  }

  /** Nanoseconds for `n` guest instructions. */
  instructions(n: number): bigint {
    return BigInt(Math.round(n * CYCLES_PER_INSN * this.nsPerCycle));
  }

  /** What a received broadcast TLBI costs the CPU that receives it. */
  receivedTlbi(): bigint {
    return BigInt(Math.round(c('tlbi_received') * this.nsPerCycle));
  }

  contextSwitch(): bigint {
    return BigInt(Math.round(CONTEXT_SWITCH_CYCLES * this.nsPerCycle));
  }
}

/**
 * What one traced event costs its CPU's clock, in ns, at the prices `ClockMeter.takeNs` charges (a
 * DSB apart from its TLBI, so a timeline shows both; a syscall with its SYSCALL_WORK_CYCLES): a
 * trace's slices then add up to the clock, except the page-cache copies of read and write, which
 * no event carries (COPY_CYCLES_PER_BYTE).
 */
export function eventNs(cpus: number): (r: TraceRecord) => number {
  const ns = 1 / c('clock_ghz');
  const tlbi = broadcastCycles(cpus) * ns;
  const tlbiLocal = c('tlbi_local') * ns;
  const fault = c('fault_entry_exit') * ns;
  const syscall = c('syscall') * ns;
  const dsb = c('dsb') * ns;
  const level = c('walk_level') * ns;
  return (r) => {
    switch (r.kind) {
      case 'fault':
        return fault;
      case 'syscall':
        return syscall + (r.nr >= 0 && r.nr < WORK_BY_NR.length ? WORK_BY_NR[r.nr]! * ns : 0);
      case 'tlbi':
        return r.op.endsWith('IS') ? tlbi : tlbiLocal;
      case 'dsb':
        return dsb;
      case 'walk':
        return r.levels * level;
      default:
        return 0;
    }
  };
}
