/**
 * Per-thread and per-process state that prctl sets and /proc shows, kept beside the Task and
 * LinuxProcess objects (which other work is reshaping) until it moves into them:
 *
 * - per thread (task_struct): comm (PR_SET_NAME, /proc/<pid>/task/<tid>/comm), pdeath_signal;
 * - per process (mm and signal_struct flags): MMF_DISABLE_THP (PR_SET_THP_DISABLE), the
 *   memory-deny-write-execute flags (PR_SET_MDWE), no_new_privs, dumpable, child_subreaper;
 * - what exec left in the mm (start_code ... env_end, start_stack) for /proc/<pid>/stat and maps;
 * - the capability sets (effective, permitted, inheritable): root's are full and anyone else's
 *   empty, until capset drops some; fork copies them, exec recomputes them from the uid
 *   (cap_bprm_creds_from_file for a file with no capabilities: root regains everything).
 *
 * fork copies the thread's comm and the process flags, with pdeath_signal 0 in the child; the new
 * mm of fork and of exec keeps MMF_DISABLE_THP and the MDWE bits unless PR_MDWE_NO_INHERIT was
 * set (mmf_init_flags, include/linux/sched/coredump.h, v6.12); exec names the thread after the new
 * program (pdeath_signal is cleared only for a set-id exec). `inheritExtras` and `execExtras` do
 * that.
 */
import type { LinuxProcess } from './process.js';
import type { Task } from './task.js';

/** TASK_COMM_LEN: 16 bytes with the NUL. */
export const TASK_COMM_LEN = 16;

export const PR_MDWE_REFUSE_EXEC_GAIN = 1;
export const PR_MDWE_NO_INHERIT = 2;

export interface ProcessFlags {
  /** MMF_DISABLE_THP. */
  thpDisable: boolean;
  /** MMF_HAS_MDWE and MMF_HAS_MDWE_NO_INHERIT as PR_GET_MDWE reports them. */
  mdwe: number;
  noNewPrivs: boolean;
  /** SUID_DUMP_USER (1) by default. */
  dumpable: number;
  childSubreaper: boolean;
}

/** mm->start_code ... env_end and start_stack, as exec set them. */
export interface ExecLayout {
  readonly startCode: number;
  readonly endCode: number;
  readonly startData: number;
  readonly endData: number;
  readonly startStack: number;
  readonly argStart: number;
  readonly argEnd: number;
  readonly envStart: number;
  readonly envEnd: number;
}

interface TaskExtras {
  comm: string | null;
  pdeathSignal: number;
}

const tasks = new WeakMap<Task, TaskExtras>();
const processes = new WeakMap<LinuxProcess, ProcessFlags>();
const layouts = new WeakMap<LinuxProcess, ExecLayout>();
const capSets = new WeakMap<LinuxProcess, CapSets>();

/** CAP_LAST_CAP is 40 (v6.12): bits 0..40. */
export const CAP_FULL_SET = (1n << 41n) - 1n;
export const CAP_IPC_LOCK = 14;
export const CAP_SYS_RESOURCE = 24;

export interface CapSets {
  eff: bigint;
  prm: bigint;
  inh: bigint;
}

function initialCaps(p: LinuxProcess): CapSets {
  const all = p.ids.uid === 0 ? CAP_FULL_SET : 0n;
  return { eff: all, prm: all, inh: 0n };
}

/** The process's capability sets (one set for all its threads in this model). */
export function capabilities(p: LinuxProcess): CapSets {
  let c = capSets.get(p);
  if (c === undefined) {
    c = initialCaps(p);
    capSets.set(p, c);
  }
  return c;
}

/** capable(cap): the bit is in the effective set. */
export function capable(p: LinuxProcess, cap: number): boolean {
  return (capabilities(p).eff & (1n << BigInt(cap))) !== 0n;
}

function taskExtras(t: Task): TaskExtras {
  let e = tasks.get(t);
  if (e === undefined) {
    e = { comm: null, pdeathSignal: 0 };
    tasks.set(t, e);
  }
  return e;
}

/** The executable's name as comm: the last component of its path, cut to 15 bytes. */
function exeComm(p: LinuxProcess): string {
  const path = p.fs.exePath ?? '';
  const base = path.split('/').filter((c) => c !== '').pop() ?? '';
  return truncateComm(base);
}

export function truncateComm(name: string): string {
  const b = new TextEncoder().encode(name);
  if (b.length < TASK_COMM_LEN) return name;
  return new TextDecoder().decode(b.subarray(0, TASK_COMM_LEN - 1)).replace(/\uFFFD+$/, '');
}

export function taskComm(t: Task): string {
  return taskExtras(t).comm ?? exeComm(t.process);
}

export function setTaskComm(t: Task, name: string): void {
  taskExtras(t).comm = truncateComm(name);
}

export function pdeathSignal(t: Task): number {
  return taskExtras(t).pdeathSignal;
}

export function setPdeathSignal(t: Task, sig: number): void {
  taskExtras(t).pdeathSignal = sig;
}

export function processFlags(p: LinuxProcess): ProcessFlags {
  let f = processes.get(p);
  if (f === undefined) {
    f = { thpDisable: false, mdwe: 0, noNewPrivs: false, dumpable: 1, childSubreaper: false };
    processes.set(p, f);
  }
  return f;
}

export function execLayout(p: LinuxProcess): ExecLayout | null {
  return layouts.get(p) ?? null;
}

export function setExecLayout(p: LinuxProcess, l: ExecLayout): void {
  layouts.set(p, l);
}

/** fork/clone: the child thread's comm, and for a new process the parent's flags. */
export function inheritExtras(parentTask: Task, childTask: Task, newProcess: boolean): void {
  taskExtras(childTask).comm = taskComm(parentTask);
  if (!newProcess) return;
  const pf = processFlags(parentTask.process);
  const cf = processFlags(childTask.process);
  cf.thpDisable = pf.thpDisable;
  cf.mdwe = (pf.mdwe & PR_MDWE_NO_INHERIT) !== 0 ? 0 : pf.mdwe;
  cf.noNewPrivs = pf.noNewPrivs;
  cf.dumpable = pf.dumpable;
  const layout = layouts.get(parentTask.process);
  if (layout !== undefined) layouts.set(childTask.process, layout);
  capSets.set(childTask.process, { ...capabilities(parentTask.process) });
}

/** exec (begin_new_exec, mm_init): comm from the new file name; MDWE dropped under NO_INHERIT. */
export function execExtras(t: Task): void {
  taskExtras(t).comm = null;
  const f = processFlags(t.process);
  if ((f.mdwe & PR_MDWE_NO_INHERIT) !== 0) f.mdwe = 0;
  capSets.set(t.process, initialCaps(t.process));
}
