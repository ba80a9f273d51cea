/**
 * The system call dispatcher: the kernel's el0_svc → invoke_syscall → sys_call_table step. The
 * machine calls it from the engine's svc hook with x8 (the number), x0..x5 and the PC; the result
 * goes back to x0 or ends the run.
 *
 * Each call is counted in the `syscalls` stats group, traced as a `syscall` event when wanted, and
 * runs inside a `sys_<name>` attribution frame, so page-table work a syscall causes (munmap's
 * TLBIs, faults taken by copy_to_user) is charged under the syscall that did it.
 *
 * An unimplemented call returns -ENOSYS, as Linux does for a number it lacks, and is reported
 * once per number on the diagnostics stream with its name, number and PC; with `strict`, the run
 * stops there instead.
 */
import { bump, type Tally, type Telemetry } from '../../trace/index.js';
import type { U64 } from '../../util/u64.js';
import { ENOSYS, isErrorReturn } from '../../util/errno.js';
import type { LinuxProcess } from '../process.js';
import { argLong } from './args.js';
import { fadviseSyscalls } from './fadvise.js';
import { fileSyscalls } from './file.js';
import { ipcSyscalls } from './ipc.js';
import { shmSyscalls } from './shm.js';
import { fallocateSyscalls } from './fallocate.js';
import { markerSyscall } from './markers.js';
import { memorySyscalls } from './memory.js';
import { processSyscalls } from './process.js';
import { signalSyscalls } from './signal.js';
import { taskSyscalls } from './task.js';
import { sysSyscalls } from './sys.js';
import { LAB_MARKER_NR, syscallName, syscallNumber } from './table.js';
import { timeSyscalls } from './time.js';
import { timerSyscalls } from './timer.js';
import type { SyscallHandler, SyscallOutcome } from './outcome.js';

export type { SyscallHandler, SyscallHandlers, SyscallOutcome } from './outcome.js';

/** The `syscalls` stats group. */
export interface SyscallStats {
  [key: string]: number | Tally;
  calls: number;
  /** Calls by name (the marker call is 'lab_marker'). */
  by_name: Tally;
  /** Calls that returned an error. */
  errors: number;
  /** Unimplemented calls by name (or 'nr<N>'). */
  unimplemented: Tally;
}

const ZERO: U64 = Object.freeze({ lo: 0, hi: 0 });

export class SyscallDispatcher {
  readonly stats: SyscallStats;
  private readonly handlers = new Map<number, SyscallHandler>();
  private readonly reported = new Set<number>();

  constructor(private readonly telemetry: Telemetry) {
    // One group per machine: processes that share a Telemetry count together.
    this.stats =
      (telemetry.stats.group('syscalls') as SyscallStats | undefined) ??
      telemetry.stats.register<SyscallStats>('syscalls', { calls: 0, by_name: {}, errors: 0, unimplemented: {} });
    for (const group of [fileSyscalls, fadviseSyscalls, fallocateSyscalls, ipcSyscalls, shmSyscalls, memorySyscalls, processSyscalls, signalSyscalls, sysSyscalls, taskSyscalls, timeSyscalls, timerSyscalls]) {
      for (const [name, handler] of Object.entries(group)) {
        const nr = syscallNumber(name);
        if (this.handlers.has(nr)) throw new Error(`syscall ${name} has two handlers`);
        this.handlers.set(nr, handler);
      }
    }
  }

  /** The attribution frame of each number, built once: a syscall-bound guest makes millions of calls. */
  private readonly frames = new Map<number, string>();

  private frameOf(nr: number, label: string): string {
    let f = this.frames.get(nr);
    if (f === undefined) {
      f = `sys_${label}`;
      this.frames.set(nr, f);
    }
    return f;
  }

  /** Whether a number has a handler (the marker call counts when the machine gave markers). */
  implemented(nr: number): boolean {
    return this.handlers.has(nr);
  }

  dispatch(p: LinuxProcess, nr: number, rawArgs: readonly U64[], pc: number): SyscallOutcome {
    const args = rawArgs.length >= 6 ? rawArgs : [...rawArgs, ...Array<U64>(6 - rawArgs.length).fill(ZERO)];
    const name = syscallName(nr);
    const label = name ?? `nr${nr}`;
    this.stats.calls++;
    bump(this.stats.by_name, label);

    let handler = this.handlers.get(nr);
    if (nr === LAB_MARKER_NR && p.markers !== null) handler = markerSyscall;
    let outcome: SyscallOutcome;
    if (handler === undefined) {
      outcome = this.unimplemented(p, nr, name, pc);
    } else {
      // calls.within without its closure: one allocation less per syscall.
      const calls = this.telemetry.calls;
      calls.enter(this.frameOf(nr, label));
      let r: number | SyscallOutcome;
      try {
        r = handler(p, args, pc);
      } finally {
        calls.leave();
      }
      outcome = typeof r === 'number' ? { kind: 'return', value: r } : r;
    }
    if (outcome.kind === 'return' && isErrorReturn(outcome.value)) this.stats.errors++;
    const tracer = this.telemetry.tracer;
    if (tracer.on.syscall) {
      tracer.emit({
        kind: 'syscall',
        nr,
        name: label,
        args: args.slice(0, 6).map(argLong),
        ret: outcome.kind === 'return' ? outcome.value : outcome.kind === 'exit' ? outcome.status : -1,
        pc: svcAddress(pc),
      });
    }
    return outcome;
  }

  private unimplemented(p: LinuxProcess, nr: number, name: string | null, pc: number): SyscallOutcome {
    const label = name ?? `nr${nr}`;
    bump(this.stats.unimplemented, label);
    const at = svcAddress(pc);
    const insn = p.disassemble?.(at);
    const where = `at pc 0x${at.toString(16)}${insn !== undefined && insn !== '' ? ` (${insn})` : ''}`;
    const what = name !== null ? `unimplemented syscall ${name} (${nr})` : `unknown syscall ${nr}`;
    if (p.strict) return { kind: 'fatal', message: `${what} ${where}: stopping (--strict)` };
    if (!this.reported.has(nr)) {
      this.reported.add(nr);
      p.diagnostics(`contpte-lab: ${what} ${where}: returning -ENOSYS`);
    }
    return { kind: 'return', value: -ENOSYS };
  }
}

/** The engine reports the PC after the `svc`; messages name the `svc` itself. */
function svcAddress(pcAfter: number): number {
  return Math.max(0, pcAfter - 4);
}

