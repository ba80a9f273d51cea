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

const c = (k: keyof typeof COST_PARAMS): number => COST_PARAMS[k].default;

/** Cycles per guest instruction when quanta are charged (an in-order estimate, IPC 1). */
export const CYCLES_PER_INSN = 1;
/** A context switch: the scheduler, switch_mm and the register save/restore (cycles). */
export const CONTEXT_SWITCH_CYCLES = 3000;

export interface ClockCostSources {
  readonly faults: FaultStats;
  readonly syscalls: SyscallStats;
  readonly tlbi: TlbiStats;
  readonly tlb: TlbStats;
  readonly cpus: number;
}

export class ClockMeter {
  private readonly nsPerCycle = 1 / c('clock_ghz');
  private faults = 0;
  private syscalls = 0;
  private tlbis = 0;
  private walkLevels = 0;

  constructor(private readonly src: ClockCostSources) {
    this.sync();
  }

  /** Forgets what happened so far (after a marker reset). */
  sync(): void {
    this.faults = this.src.faults.total;
    this.syscalls = this.src.syscalls.calls;
    this.tlbis = this.src.tlbi.total;
    this.walkLevels = this.src.tlb.walk_levels_read;
  }

  /** Nanoseconds of modeled work since the last call. */
  take(): bigint {
    const s = this.src;
    const faults = s.faults.total - this.faults;
    const syscalls = s.syscalls.calls - this.syscalls;
    const tlbis = s.tlbi.total - this.tlbis;
    const levels = s.tlb.walk_levels_read - this.walkLevels;
    if (faults === 0 && syscalls === 0 && tlbis === 0 && levels === 0) return 0n;
    this.sync();
    // A TLBI is priced as a broadcast one reaching the machine's other CPUs: the kernel's user
    // TLB maintenance is broadcast except 7.2's few local forms.
    const tlbiCycles = c('tlbi_broadcast') + c('tlbi_broadcast_per_cpu') * (s.cpus - 1);
    const cycles = faults * c('fault_entry_exit') + syscalls * c('syscall') + tlbis * (tlbiCycles + c('dsb')) + levels * c('walk_level');
    return BigInt(Math.round(cycles * this.nsPerCycle));
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
 * What one traced event costs its CPU's clock, in ns, at the prices `ClockMeter.take` charges (a
 * DSB apart from its TLBI, so a timeline shows both): a trace's slices then add up to the clock.
 */
export function eventNs(cpus: number): (r: TraceRecord) => number {
  const ns = 1 / c('clock_ghz');
  const tlbi = (c('tlbi_broadcast') + c('tlbi_broadcast_per_cpu') * (cpus - 1)) * ns;
  const fault = c('fault_entry_exit') * ns;
  const syscall = c('syscall') * ns;
  const dsb = c('dsb') * ns;
  const level = c('walk_level') * ns;
  return (r) => {
    switch (r.kind) {
      case 'fault':
        return fault;
      case 'syscall':
        return syscall;
      case 'tlbi':
        return tlbi;
      case 'dsb':
        return dsb;
      case 'walk':
        return r.levels * level;
      default:
        return 0;
    }
  };
}
