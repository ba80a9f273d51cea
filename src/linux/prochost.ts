/**
 * What /proc and /sys need from the machine beyond one process: every process (for /proc/<pid>
 * and /proc/stat), the one whose system call runs (/proc/self), the CPU count, the memory
 * manager (meminfo, pagemap, the THP knobs) and a hook to change a knob when the guest writes one
 * of its files, as root would change the running kernel's.
 *
 * `singleProcessHost` is the machine of today: one process on `cpus` CPUs. A machine with many
 * tasks supplies its own.
 */
import { knobDef, parseKnobValue, type KnobName } from '../mm/knobs.js';
import type { MmKernel } from '../mm/kernel.js';
import { EINVAL } from '../util/errno.js';
import type { LinuxProcess } from './process.js';

export interface ProcHost {
  /** Every live process (zombies included), by pid ascending. */
  processes(): readonly LinuxProcess[];
  /** The process whose system call is running: what /proc/self names. */
  current(): LinuxProcess;
  /** CPUs of the machine (nr_cpu_ids, all online). */
  readonly cpus: number;
  /** The memory manager; null under a test double of the mm (meminfo then shows what it can). */
  readonly kernel: MmKernel | null;
  /**
   * A knob written through /sys or /proc/sys (`text` in the knob's own syntax, as `--set` takes
   * it): 0 when the change is made, or -errno (EINVAL for a value the model cannot follow, EBUSY
   * for a knob that cannot change once the run started). The policy-update hook.
   */
  setKnob(name: KnobName, text: string): number;
  /** /proc/sys values the guest wrote that change nothing in the model (path → text). */
  readonly sysctl: Map<string, string>;
}

/**
 * Sets `kernel.policy[name]`. Only knobs the model reads from the live policy at each use take
 * effect mid-run (anon_mthp, shmem_mthp, shmem_mthp_scope, fault_around_kb ...); the others were
 * copied into components at boot, and the machine's own hook decides about them.
 */
export function applyKnob(kernel: MmKernel | null, name: KnobName, text: string): number {
  const def = knobDef(name);
  if (def === undefined || kernel === null) return -EINVAL;
  let value;
  try {
    value = parseKnobValue(def, text);
  } catch {
    return -EINVAL;
  }
  (kernel.policy as unknown as Record<string, unknown>)[name] = value;
  return 0;
}

export function singleProcessHost(proc: () => LinuxProcess, kernel: MmKernel | null = null, cpus = 1): ProcHost {
  return {
    processes: () => [proc()],
    current: proc,
    cpus,
    kernel,
    setKnob: (name, text) => applyKnob(kernel, name, text),
    sysctl: new Map(),
  };
}
