/**
 * The machine: Linux processes and threads on N modeled CPUs, run one at a time on the Unicorn
 * engine by a deterministic scheduler in virtual time (scheduler.ts), with every translation
 * decided by the mmu model (one TLB and walk cache per CPU) and every page table kept by the
 * memory-manager model.
 *
 * The joins (docs/design.md, data flow):
 * - the engine's guest-physical pool is the kernel model's PhysMem, so what the model writes
 *   (page cache, zeroed anonymous pages) is what the guest reads;
 * - the model TLB announces fills and removals to the engine's `ShadowForest`, which keeps the
 *   shadow tables (what QEMU walks) equal to it, so no guest access can bypass the model;
 * - a guest access the shadow refuses arrives as an abort: the machine asks the mmu to translate
 *   it (a TLB hit, or a walk and a fill), hands a translation fault to the memory manager's
 *   fault handler, and retries the instruction;
 * - `svc` goes to the process layer's syscall dispatcher; the guest markers come back here;
 * - the task layer (linux/system.ts) asks the machine, its TaskHost, for address spaces,
 *   registers and scheduling; a syscall that blocks parks its task and runs again on wake-up;
 * - a context switch saves the task's registers, selects its CPU in the mmu (TLB, walk cache,
 *   TTBR0/ASID) and points the engine at the shadow tree of that CPU and ASID (each kept equal
 *   to its part of that CPU's TLB), so QEMU never sees another CPU's entries.
 *
 * The run ends when the first process has exited; processes still running then are killed (as
 * the tool's end would end them), their teardown counted.
 */
import { Engine, ShadowForest, VA_LIMIT, type AbortInfo, type EngineHooks, type RegisterFile, type StopReason, type TlbModeRequest } from '../engine/index.js';
import { printablePath, readElfFile, type ElfImage } from '../linux/elf.js';
import { loadElfBinary, type ExecResult } from '../linux/exec.js';
import { LinuxProcess, releaseForProfile, type Markers } from '../linux/process.js';
import { applyKnob, type ProcHost } from '../linux/prochost.js';
import { deliverSignals, ERESTARTNOHAND, ERESTARTNOINTR, ERESTARTSYS, ERESTART_RESTARTBLOCK, interruptedReturn, signalPending } from '../linux/sigdeliver.js';
import { execSignals, expireTimers, forceFault, forceSigFault, isLive, sendToProcess, type SignalHost } from '../linux/sigsend.js';
import { userAbortEsr } from '../linux/esr.js';
import { execExtras } from '../linux/extras.js';
import { exceptionSignalMessage, signalForException, type ExceptionSignal } from '../linux/exception-signals.js';
import { fatalFault, forcedSignal, SIGKILL, type ProcessEnd } from '../linux/signals.js';
import { isMisalignedPc, syncExceptionOf } from './exceptions.js';
import { LinuxSystem, type ChildSignalInfo, type ExecRequest, type ExitInfo, type TaskHost } from '../linux/system.js';
import { openInterpreter, type Interpreter } from '../linux/interp.js';
import { guestPathInSysroot } from '../linux/sysroot.js';
import { emptyRegisterFile, type Task } from '../linux/task.js';
import { StructWriter, putUser } from '../linux/uaccess.js';
import type { ProcessMemory } from '../mm/api.js';
import { Mmu } from '../mmu/mmu.js';
import { mmuOptionsFrom } from '../mm/profiles.js';
import { VM_SHARED } from '../mm/vma.js';
import { ClockMeter } from './clock-cost.js';
import type { TlbEntry } from '../mmu/tlb.js';
import { QUANTUM_INSNS, Scheduler, SLACK_NS, TIMESLICE_NS, type SchedCpu } from './scheduler.js';

/**
 * The `sched` stats group: switches of task (and of modeled CPU, which selects that CPU's
 * shadow tables), instruction quanta that ran out, sleepers woken by their deadline. (Not the
 * engine's slices: the CLI's wall-clock slices would make that count differ between runs.)
 */
export interface SchedStats {
  [k: string]: number;
  context_switches: number;
  cpu_switches: number;
  quanta: number;
  timer_wakeups: number;
}

/** A slice count no run reaches: counting continues without preempting. */
const UNBOUNDED_SLICE = 2 ** 52;

/** Syscall returns that mean "restart me, or EINTR if a handler ran" (sigdeliver.ts). */
const RESTART_CODES = new Set([-ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK]);
import type { WakeReason } from '../linux/wait.js';
import { syscallNumberFromX8 } from '../linux/syscalls/args.js';
import type { SyscallOutcome } from '../linux/syscalls/dispatch.js';
import { syscallName } from '../linux/syscalls/table.js';
import { MmKernel, type MmPolicy, type Process } from '../mm/index.js';
import { formatPolicy } from '../mm/knobs.js';
import { resolvePolicy, type ProfileName } from '../mm/profiles.js';
import { walk } from '../mmu/walker.js';
import { checkerSummary } from '../report/checker-summary.js';
import { buildSummary, MarkerCounts, type EndReason, type Summary } from '../report/summary.js';
import type { Disassembler } from '../trace/disasm.js';
import type { FaultKind } from '../trace/events.js';
import type { TraceClock } from '../trace/sinks/timeline.js';
import { Telemetry } from '../trace/telemetry.js';
import { errnoName } from '../util/errno.js';
import { GuestOutOfMemory, UsageError } from '../util/errors.js';
import { u64ToBigInt, type U64 } from '../util/u64.js';

export interface MachineOptions {
  /** The static arm64 ELF on the host. */
  elf: string;
  /** Arguments after argv[0]. */
  args?: readonly string[];
  /** The guest's argv[0] (default: `elf` as given), as the shell's `exec -a` sets it. */
  argv0?: string;
  /** The guest's environment, "NAME=value" strings (default: none). */
  env?: readonly string[];
  /** Kernel profile and knob overrides ("knob=value"). */
  profile?: string;
  sets?: readonly string[];
  /** Instruction budget (exact, but slows compute-bound guests) and time budget (seconds). */
  maxInsns?: number;
  maxSeconds?: number;
  /**
   * An unimplemented syscall ends the run instead of returning -ENOSYS. (The CLI's --strict also
   * fails a run whose summary has checker findings: `summary.checker.total`, report/findings.ts.)
   */
  strict?: boolean;
  /** Time slice of `runInterruptible`, in milliseconds (default 100). */
  sliceMs?: number;
  /** Test hook: a slice also ends at every Nth svc or abort where one could (EngineOptions.sliceEvery). */
  sliceEvery?: number;
  /** How QEMU learns the model TLB's translations (EngineOptions.tlbMode). */
  tlbMode?: TlbModeRequest;
  /** Seed of the guest's getrandom and AT_RANDOM. */
  seed?: number;
  /**
   * The first program's user and group id (default 1000, an ordinary user); 0 runs it as root,
   * as the kernel's selftests expect (writing /sys/kernel/mm, mlock limits, /proc of others).
   */
  uid?: number;
  /** A host directory with an arm64 root file system for the programs the guest executes. */
  sysroot?: string;
  /** Where the guest's stdout and stderr go (default: the tool's own). */
  stdout?: (bytes: Uint8Array) => void;
  stderr?: (bytes: Uint8Array) => void;
  /** The guest's stdin: up to `max` bytes, empty at its end (default: the tool's own stdin). */
  stdin?: (max: number) => Uint8Array;
  /** One-line diagnostics of the tool (unimplemented syscalls, ...): default the tool's stderr. */
  diagnostics?: (line: string) => void;
  telemetry?: Telemetry;
  /** Disassembler for fault events and crash messages (capstone; created by `run`). */
  disassembler?: Disassembler | null;
  /**
   * Called on every guest marker after the machine has handled it (for experiments and
   * benchmarks that time or inspect a program's phases; the engine's registers are readable).
   */
  onMarker?: (action: 'mark' | 'reset' | 'dump' | 'ops', name: string, machine: Machine) => void;
}

/** How the guest's run ended, in Linux terms. */
export interface RunEnd {
  /** The process exit status (0-255; 128+signal for a fatal signal); null when the tool stopped it. */
  exitCode: number | null;
  reason: EndReason;
  /** A message for the user (signal description, budget, error); absent for a normal exit. */
  message?: string;
}

export class Machine {
  readonly telemetry: Telemetry;
  readonly policy: MmPolicy;
  readonly profile: ProfileName;
  readonly image: ElfImage;
  readonly engine: Engine;
  readonly kernel: MmKernel;
  readonly process: Process;
  readonly linux: LinuxProcess;
  readonly markers: MarkerCounts;
  readonly system: LinuxSystem;
  readonly sched: Scheduler;
  private readonly shadows: ShadowForest;
  private readonly meter: ClockMeter;
  private loaded: ExecResult | undefined;
  /** The program's interpreter (PT_INTERP), found when the machine is made. */
  private readonly interp: Interpreter | undefined;
  private readonly dis: Disassembler | null;
  private closed = false;
  /** The task on the engine now, and the CPU and ASID the engine's shadow holds. */
  private running: Task | null = null;
  private engineCpu = 0;
  /** The clocks' value when the machine started (progress reports time since). */
  private bootNs = 0n;
  private engineAsid = -1;
  /** A hook's request to stop the slice after the current event (yield, block, exit, wake-up). */
  private yieldRequested = false;
  /** The running CPU's clock value at which it must give the engine back. */
  private preemptAtNs = -1n;
  /** How the first process ended (the run's end), once it has. */
  private initEnd: RunEnd | null = null;
  private runStart = 0;

  constructor(private readonly opts: MachineOptions) {
    // Everything that can be wrong with the input is checked before the engine starts.
    const resolved = resolvePolicy(opts.profile, opts.sets ?? []);
    this.policy = resolved.policy;
    this.profile = resolved.profile;
    this.image = readElfFile(opts.elf);
    this.telemetry = opts.telemetry ?? new Telemetry();
    this.dis = opts.disassembler ?? null;
    this.wallClockSlice = (opts.sliceMs ?? 0) > 0;
    this.markers = new MarkerCounts(this.telemetry.stats);

    this.engine = new Engine({
      memMb: this.policy.mem_mb,
      telemetry: this.telemetry,
      ...(opts.maxInsns !== undefined ? { maxInsns: opts.maxInsns } : {}),
      ...(opts.maxSeconds !== undefined ? { maxSeconds: opts.maxSeconds } : {}),
      ...(opts.sliceMs !== undefined ? { sliceMs: opts.sliceMs } : {}),
      ...(opts.sliceEvery !== undefined ? { sliceEvery: opts.sliceEvery } : {}),
      ...(opts.tlbMode !== undefined ? { tlbMode: opts.tlbMode } : {}),
    });
    try {
      const mmu = new Mmu(this.engine.phys, this.telemetry, mmuOptionsFrom(this.policy));
      this.kernel = new MmKernel({ policy: this.policy, profile: this.profile, telemetry: this.telemetry, mem: this.engine.phys, mmu });
      this.shadows = new ShadowForest(this.engine, mmu.cpus.length);
      mmu.cpus.forEach((c, i) => {
        c.tlbObserver = this.shadows.observer(i);
      });
      this.process = this.kernel.newProcess();
      this.kernel.switchTo(this.process);
      this.shadows.select(0, this.process.userAsid, () => mmu.tlb.residentEntries());
      this.engineAsid = this.process.userAsid;
      this.linux = this.newLinuxProcess();
      this.interp = this.findInterpreter();
      this.system = new LinuxSystem(this.taskHost(), this.linux.pid);
      this.linux.system = this.system;
      this.linux.signalHost = this.signalHost();
      this.system.addProcess(this.linux);
      this.bootNs = this.linux.clock.peekMonotonicNs();
      this.sched = new Scheduler(mmu.cpus.length, this.bootNs);
      this.meter = new ClockMeter({
        faults: this.kernel.faultStats,
        syscalls: this.linux.dispatcher.stats,
        tlbi: mmu.tlbiStats,
        tlbiLocal: mmu,
        tlb: mmu.tlbStats,
        pagecache: this.kernel.pageCache.stats,
        cpus: mmu.cpus.length,
      });
      mmu.onBroadcastReceived = (receiver) => this.chargeReceiver(receiver.index);
      this.schedStats = this.telemetry.stats.register<SchedStats>('sched', { context_switches: 0, cpu_switches: 0, quanta: 0, timer_wakeups: 0 });
    } catch (e) {
      this.engine.close();
      throw e;
    }
  }

  /** A dynamic program's interpreter, looked up in the guest's tree (--sysroot) as execve would. */
  private findInterpreter(): Interpreter | undefined {
    const image = this.image;
    if (image.interp === null) return undefined;
    const r = openInterpreter(this.linux.fs, image);
    if (r.kind === 'ok') return r.interp;
    const where = this.opts.sysroot === undefined
      ? 'the guest has no such file without --sysroot DIR (an arm64 root file system holding it, see the README)'
      : `${r.why} in the arm64 root ${this.opts.sysroot}`;
    throw new UsageError(`${image.name}: dynamically linked, and its interpreter ${printablePath(image.interp)} cannot be used (${errnoName(r.errno)}): ${where}`);
  }

  private newLinuxProcess(): LinuxProcess {
    const k = this.kernel;
    const tmpFs = k.tmpFsType;
    if (tmpFs !== 'tmpfs' && tmpFs !== 'ext4') throw new UsageError(`tmp_fs: '${tmpFs}' cannot hold /tmp (expected tmpfs or ext4)`);
    const after = (action: 'mark' | 'reset' | 'dump' | 'ops', name: string, value?: number): void => {
      const tr = this.telemetry.tracer;
      if (tr.on.marker) tr.emit({ kind: 'marker', action, name, ...(value !== undefined ? { value } : {}) });
      this.opts.onMarker?.(action, name, this);
    };
    const markers: Markers = {
      mark: (name) => after('mark', name),
      reset: () => {
        this.markers.reset();
        this.meter.sync();
        after('reset', 'reset');
      },
      dump: (label) => {
        this.markers.dump(label);
        after('dump', label);
      },
      ops: (n) => {
        this.markers.addOps(n);
        after('ops', 'ops', n);
      },
    };
    const write = (fd: 1 | 2) => (bytes: Uint8Array) => {
      const sink = fd === 1 ? this.opts.stdout : this.opts.stderr;
      if (sink) sink(bytes);
      else (fd === 1 ? process.stdout : process.stderr).write(bytes);
    };
    return new LinuxProcess({
      mm: this.process,
      pageCache: k.pageCache,
      telemetry: this.telemetry,
      fsPolicy: { tmpFs, tmpfs: k.fsTraits('tmpfs'), ext4: k.fsTraits('ext4') },
      unmapMappingRange: k.unmapMappingRange,
      stdio: { writeStdout: write(1), writeStderr: write(2), ...(this.opts.stdin ? { readStdin: this.opts.stdin } : {}) },
      markers,
      utsname: { release: releaseForProfile(this.profile) },
      ...(this.opts.seed !== undefined ? { randomSeed: this.opts.seed } : {}),
      ...(this.opts.uid !== undefined ? { ids: { uid: this.opts.uid, gid: this.opts.uid } } : {}),
      ...(this.opts.sysroot !== undefined ? { sysroot: this.opts.sysroot } : {}),
      ...(this.opts.strict !== undefined ? { strict: this.opts.strict } : {}),
      ...(this.opts.diagnostics ? { diagnostics: this.opts.diagnostics } : {}),
      disassemble: (pc) => this.disassembleAt(pc),
      procHost: this.procHost(),
    });
  }

  /** The instruction at a guest PC, disassembled (for messages), if it can be read. */
  disassembleAt(pc: number): string | undefined {
    const word = this.readInsn(pc);
    if (word === undefined) return undefined;
    return this.dis ? this.dis.disasm(word, pc) : `.inst 0x${word.toString(16).padStart(8, '0')}`;
  }

  /**
   * The instruction word at `pc`, without disturbing the model: from the shadow if QEMU has the
   * page (it just fetched from it), else by walking the page tables without filling the TLB.
   */
  readInsn(pc: number): number | undefined {
    const phys = this.engine.phys;
    // Every data abort reads its instruction: the shadow's answer allocates nothing.
    let pa = this.engine.shadow.paOf(pc);
    if (pa < 0) {
      const t = walk(this.kernel.mem, this.kernel.mmu.regs, pc, 'exec', 0);
      if (!t.ok) return undefined;
      pa = t.pa;
    }
    if (!phys.contains(pa, 4)) return undefined;
    return phys.dv.getUint32(pa - phys.base, true);
  }

  /** Loads the program: maps it, builds the stack (the exec itself faults, as on Linux). */
  load(): ExecResult {
    if (!this.loaded) {
      const exePath = this.opts.sysroot !== undefined ? guestPathInSysroot(this.opts.sysroot, this.opts.elf) : null;
      this.loaded = loadElfBinary(this.linux, this.image, {
        argv: [this.opts.argv0 ?? this.opts.elf, ...(this.opts.args ?? [])],
        envp: this.opts.env ?? [],
        ...(exePath !== null ? { exePath } : {}),
        ...(this.interp !== undefined ? { interp: this.interp } : {}),
        // "binfmt_elf: Honor PT_LOAD alignment for static PIE" arrived in v6.10.
        staticPieAlign: this.profile !== 'linux-6.9',
      });
    }
    return this.loaded;
  }

  /** Runs the program to its end; the machine is closed afterwards. */
  run(): RunEnd {
    try {
      const steps = this.start();
      let r = steps.next();
      while (!r.done) r = steps.next();
      return this.finish(r.value);
    } finally {
      this.close();
    }
  }

  /**
   * `run`, returning to the event loop after every wall-clock time slice (MachineOptions.sliceMs)
   * so that the tool's signal handlers can run; when `interrupted()` names a signal, the guest
   * stops there (between slices or translation blocks) and the run ends as 'interrupted'.
   */
  async runInterruptible(interrupted: () => 'SIGINT' | 'SIGTERM' | null): Promise<RunEnd> {
    try {
      const steps = this.start();
      let r = steps.next();
      while (!r.done) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        const sig = interrupted();
        if (sig !== null) {
          return this.finish({ exitCode: null, reason: 'interrupted', message: `interrupted by ${sig} at pc 0x${this.engine.getPc().toString(16)}: the counts are partial` });
        }
        r = steps.next();
      }
      return this.finish(r.value);
    } finally {
      this.close();
    }
  }

  /** Loads the program, makes its first task runnable on a CPU, and returns the scheduler loop. */
  private start(): Generator<void, RunEnd, void> {
    const loaded = this.load();
    const regs = emptyRegisterFile();
    regs.pc = BigInt(loaded.entry);
    regs.sp = BigInt(loaded.sp);
    const init = this.linux.current;
    init.regs = regs;
    init.onWake = (t, reason) => this.onWake(t, reason);
    this.sched.add(init, this.linux.clock.peekMonotonicNs());
    this.runStart = Date.now();
    return this.schedule();
  }

  /**
   * What is still running when the first process has gone ends with the run, torn down as exit
   * would do it (their exit_mmap counted); so does the first process's own mm.
   */
  private finish(end: RunEnd): RunEnd {
    this.killAll();
    return end;
  }

  /**
   * The scheduler loop: pick, switch, run a slice, account; until the first process ends. It
   * yields (a pause, nothing changes) when the engine handed back a wall-clock slice, so an
   * asynchronous driver can look at the world.
   */
  private *schedule(): Generator<void, RunEnd, void> {
    const hooks = this.hooks();
    const maxSeconds = this.opts.maxSeconds ?? 0;
    const deadlineMs = maxSeconds > 0 ? this.runStart + maxSeconds * 1000 : 0;
    // The three slices a run gives the engine, made once (not an object per slice).
    const withDeadline = deadlineMs > 0 ? { deadlineMs } : {};
    const sliceNoCount = { ...withDeadline };
    const sliceQuantum = { count: QUANTUM_INSNS, ...withDeadline };
    const sliceUnbounded = { count: UNBOUNDED_SLICE, ...withDeadline };
    for (;;) {
      if (this.initEnd !== null) return this.initEnd;
      const cpu = this.nextRunnableCpu();
      if (cpu === 'deadlock') return this.deadlock();
      const t = cpu.queue[0]!;
      this.switchTo(t);
      if (t.blockedIn !== null && !this.resumeSyscall(t)) continue;
      if (this.initEnd !== null) return this.initEnd;
      if (t.state !== 'runnable') continue;
      if ((signalPending(t) || t.resumedFromStop) && t.regs !== null) {
        // A signal arrived while the task was off the CPU (or it continues after a stop).
        t.resumedFromStop = false;
        t.regs = this.engine.saveRegisters();
        if (this.returnToUser(t, null, null) === 'stop') continue;
        if (this.initEnd !== null) return this.initEnd;
      }
      t.state = 'running';
      this.setPreemptPoint();
      // Unicorn counts instructions with a code hook that, once removed (a run without a count),
      // makes it drop every translated block: so once preemption was needed, every slice counts,
      // with an unreachable count when nothing else could run. A single-task run never counts.
      const others = this.sched.otherRunnableMin(this.sched.cpus[t.cpu]!) !== null || cpu.queue.length > 1 || this.preemptTimer !== null;
      if (others) this.counting = true;
      const slice = !this.counting ? sliceNoCount : others ? sliceQuantum : sliceUnbounded;
      let stop: StopReason;
      try {
        stop = this.engine.runWith(hooks, undefined, slice);
        // A wall-clock slice ended at an svc or abort after which the task went on: the driver
        // may look at the world, then the same run resumes with the same slice, the scheduler
        // not asked. Any decision taken here (a switch, a quantum count, a turn) would depend on
        // where the wall clock ended the slice, and so would the counts.
        while (this.engine.sliceEnded) {
          this.lastPause = Date.now();
          yield;
          stop = this.engine.runWith(hooks, undefined, slice);
        }
      } catch (e) {
        if (!(e instanceof GuestOutOfMemory)) throw e;
        // The OOM killer: the process whose fault found no memory dies of SIGKILL, and its
        // address space is torn down as any dying process's (exit_mmap, counted), so the memory
        // comes back to the others: a parent sees its child killed and goes on. A fault fails
        // at an allocation, before it writes anything, so the tables are whole.
        const p = t.process;
        this.killProcess(p, forcedSignal(SIGKILL, `out of memory (the OOM killer): ${e.message}`));
        continue;
      }
      this.yieldRequested = false;
      this.chargeRunning();
      if (t.state === 'running') {
        if (!this.regsReplaced) t.regs = this.engine.saveRegisters(t.regs);
        t.state = 'runnable';
      }
      this.regsReplaced = false;
      switch (stop.kind) {
        case 'yield':
          break;
        case 'quantum':
          if (stop.instructions === UNBOUNDED_SLICE) return { exitCode: null, reason: 'crash', message: 'the guest ran 2^52 instructions in one slice' };
          this.linux.clock.charge(this.meter.instructions(stop.instructions));
          this.schedStats.quanta++;
          break;
        case 'exit':
          // A stop the machine's own paths do not produce any more (they yield); kept for the probe's hooks.
          return { exitCode: stop.code, reason: 'exit' };
        default:
          return this.endOf(stop);
      }
      this.saveCpuClock();
      this.rotate(t);
      // Between slices the world is consistent: an interruptible run's driver may look at it.
      if (this.wallClockSlice && Date.now() - this.lastPause >= (this.opts.sliceMs ?? 0)) {
        this.lastPause = Date.now();
        yield;
      }
    }
  }

  /** When an interruptible run last handed control to its driver (Date.now() ms). */
  private lastPause = 0;

  /** After its slice: a task whose turn is over goes to the back of its CPU's queue. */
  private rotate(t: Task): void {
    const cpu = this.sched.cpus[t.cpu]!;
    const yielded = this.yieldedVoluntarily;
    this.yieldedVoluntarily = false;
    if (t.state !== 'runnable' || cpu.queue[0] !== t || cpu.queue.length < 2) return;
    if (cpu.clockNs - cpu.turnStartNs < TIMESLICE_NS && !yielded) return;
    cpu.queue.shift();
    cpu.queue.push(t);
    cpu.turnStartNs = cpu.clockNs;
  }

  private yieldedVoluntarily = false;

  /** The CPU to run next; when all are idle, time jumps to the next timer; 'deadlock' if none. */
  private nextRunnableCpu(): SchedCpu | 'deadlock' {
    for (;;) {
      const cpu = this.sched.nextCpu();
      if (cpu !== null) {
        // Timers due before this CPU's time fire first: they may make earlier work runnable.
        const due = this.nextTimer();
        if (due !== null && due <= cpu.clockNs) {
          this.fireTimers(cpu.clockNs);
          continue;
        }
        return cpu;
      }
      const due = this.nextTimer();
      if (due === null) return 'deadlock';
      this.fireTimers(due);
    }
  }

  /** Wakes every sleeper whose deadline is at or before `nowNs` (its CPU's clock catches up). */
  private fireTimers(nowNs: bigint): void {
    this.fireProcessTimers(nowNs);
    for (const t of this.sched.expired(nowNs)) {
      const deadline = this.sched.deadlineOf(t)!;
      const cpu = this.sched.cpus[t.cpu]!;
      if (cpu.clockNs < deadline) cpu.clockNs = deadline;
      this.schedStats.timer_wakeups++;
      t.wake('timeout');
    }
  }

  /** Every task sleeps and nothing will wake any of them. */
  private deadlock(): RunEnd {
    const who = [...this.system.tasks.values()]
      .filter((t) => t.state === 'blocked')
      .map((t) => `task ${t.tid} in ${t.blockedIn !== null ? (syscallName(t.blockedIn.nr) ?? `syscall ${t.blockedIn.nr}`) : '?'}`);
    return { exitCode: null, reason: 'crash', message: `deadlock: every task of the guest is blocked and nothing can wake any of them (${who.join(', ')})` };
  }

  /**
   * Puts `t` on the engine: its CPU (TLB, walk cache, registers of the mmu; that CPU's shadow
   * tree for the address space), its address space (TTBR0/ASID), its registers, and the CPU's clock.
   */
  private switchTo(t: Task): void {
    const prev = this.running;
    if (prev === t && this.engineCpu === t.cpu) {
      this.loadClock(t.cpu);
      if (t.regs !== null) this.engine.loadRegisters(t.regs);
      return;
    }
    const mm = t.process.mm as Process;
    const mmu = this.kernel.mmu;
    const cpuChanged = this.engineCpu !== t.cpu;
    this.schedStats.context_switches++;
    if (cpuChanged) {
      this.schedStats.cpu_switches++;
      this.engineCpu = t.cpu;
      mmu.selectCpu(t.cpu);
    }
    this.kernel.switchTo(mm);
    if (cpuChanged || this.engineAsid !== mm.userAsid) {
      this.engineAsid = mm.userAsid;
      this.shadows.select(t.cpu, mm.userAsid, this.residentOfCpu);
    }
    this.running = t;
    t.process.current = t;
    this.loadClock(t.cpu);
    if (prev !== null && prev !== t) this.linux.clock.charge(this.meter.contextSwitch());
    if (t.regs !== null) this.engine.loadRegisters(t.regs);
    if (t.setChildTid !== 0) {
      // schedule_tail: a fault here is ignored, as put_user's result is there.
      putUser(mm, t.setChildTid, new StructWriter(4).u32(0, t.tid).bytes);
      t.setChildTid = 0;
    }
  }

  private loadClock(cpu: number): void {
    const c = this.sched.cpus[cpu]!;
    this.linux.clock.setNow(c.clockNs);
    if (c.turnStartNs === 0n) c.turnStartNs = c.clockNs;
  }

  /** The running CPU's clock goes back to its scheduler record. */
  private saveCpuClock(): void {
    this.sched.cpus[this.engineCpu]!.clockNs = this.linux.clock.peekMonotonicNs();
  }

  /** Charges the modeled work since the last charge to the running CPU. */
  private chargeRunning(): void {
    this.linux.clock.chargeNs(this.meter.takeNs());
  }

  /** A broadcast TLBI reached another CPU: it loses the time to process it. */
  private chargeReceiver(cpu: number): void {
    if (cpu === this.engineCpu) return;
    const c = this.sched.cpus[cpu]!;
    c.clockNs += this.meter.receivedTlbi();
  }

  /** When the running CPU must stop: the others' progress, its queue's turn, the next timer. */
  private setPreemptPoint(): void {
    const cpu = this.sched.cpus[this.engineCpu]!;
    let at: bigint | null = null;
    const other = this.sched.otherRunnableMin(cpu);
    if (other !== null) at = other + SLACK_NS;
    if (cpu.queue.length > 1) {
      const turnEnd = cpu.turnStartNs + TIMESLICE_NS;
      if (at === null || turnEnd < at) at = turnEnd;
    }
    const due = this.nextTimer();
    this.preemptTimer = due;
    if (due !== null && (at === null || due < at)) at = due;
    this.preemptAtNs = at ?? -1n;
  }

  /** The earliest timer when setPreemptPoint last ran (the scheduler reads it right after). */
  private preemptTimer: bigint | null = null;

  /** At a kernel event of the running task: charge its cost, and say whether to stop the slice. */
  private mustStop(): boolean {
    this.chargeRunning();
    if (this.yieldRequested) return true;
    return this.preemptAtNs >= 0n && this.linux.clock.peekMonotonicNs() >= this.preemptAtNs;
  }

  /** A sleeping task was woken (futex, pipe, child exit, timer): it becomes runnable. */
  private onWake(t: Task, _reason: WakeReason): void {
    const now = this.linux.clock.peekMonotonicNs();
    this.sched.makeRunnable(t, now);
    // Another CPU got work: the running one re-plans when it must stop.
    if (this.running !== null && this.running.state === 'running') {
      this.setPreemptPoint();
      if (t.cpu !== this.engineCpu || this.sched.cpus[t.cpu]!.queue.length > 1) this.yieldRequested = this.yieldRequested || this.preemptAtNs >= 0n && now >= this.preemptAtNs;
    }
  }

  /**
   * A task woken in a blocking syscall runs the syscall again, in its own context (wait.ts).
   * Returns whether the task may now run guest code.
   */
  private resumeSyscall(t: Task): boolean {
    const b = t.blockedIn!;
    t.blockedIn = null;
    t.userRegs = this.liveRegs;
    let out = t.process.syscall(b.nr, b.args, b.pc);
    t.userRegs = null;
    this.meter.syscall(b.nr);
    // A signal ended the sleep: the call returns the restart code (wait.ts, sigdeliver.ts)
    // unless it waits for signals itself. Handlers that keep state got to clean it up above.
    if (out.kind === 'block' && t.wakeReason === 'signal' && b.onSignal !== 'retry') {
      out = { kind: 'return', value: interruptedReturn(b.restartable) };
    }
    this.chargeRunning();
    const r = this.settleSyscall(t, out, b.nr, b.args, b.pc);
    if (r === 'continue' && this.returnToUser(t, out.kind === 'return' ? b.args[0]! : null, out.kind === 'return' ? out.value : null) === 'continue') {
      // The engine holds the task's registers now; the slice that follows saves them.
      this.saveCpuClock();
      return true;
    }
    this.saveCpuClock();
    return false;
  }

  /** What the selected CPU's TLB holds, for a shadow tree built at a switch (one closure for all switches). */
  private readonly residentOfCpu = (): Iterable<TlbEntry> => this.kernel.mmu.tlb.residentEntries();

  /** The running task's registers, read from the engine when a syscall asks (rt_sigreturn, sigaltstack). */
  private readonly liveRegs = (): RegisterFile => this.engine.saveRegisters();

  /**
   * The return to user space (ret_to_user): due timers fire, then pending signals are delivered
   * (a handler's frame, a stop, or the process's end) and an interrupted syscall is restarted or
   * fails with EINTR. `origX0` is the syscall's first argument when returning from one (made a
   * BigInt only when a signal needs it).
   */
  private returnToUser(t: Task, origX0: U64 | null, ret: number | null): 'continue' | 'stop' {
    this.fireProcessTimers(this.linux.clock.peekMonotonicNs());
    if (!signalPending(t) && (ret === null || !RESTART_CODES.has(ret))) return 'continue';
    const d = deliverSignals(t, this.engine.saveRegisters(), origX0 !== null ? { origX0: u64ToBigInt(origX0) } : null);
    switch (d.kind) {
      case 'run':
        this.engine.loadRegisters(d.regs);
        return 'continue';
      case 'stop':
        t.regs = d.regs;
        this.stopTask(t);
        return 'stop';
      case 'exit':
        this.killProcess(t.process, d.end);
        return 'stop';
      case 'exited':
        this.system.exitGroup(t.process, { kind: 'exited', value: d.code, core: false });
        this.noteInitEnd(t.process, { exitCode: d.code, reason: 'exit' });
        return 'stop';
    }
  }

  /** A thread that joined a group stop: off the CPU until SIGCONT (resumeStopped). */
  private stopTask(t: Task): void {
    this.sched.sleep(t, undefined);
    t.state = 'stopped';
  }

  /** Every process's interval and POSIX timers due by `nowNs` send their signals. */
  private fireProcessTimers(nowNs: bigint): void {
    for (const p of this.system.processes.values()) {
      if (p.exit !== null) continue;
      const d = p.signals.timers.nextDeadline();
      if (d !== null && d <= nowNs) expireTimers(p, nowNs);
    }
  }

  /** The earliest timer of any kind: a sleeper's deadline or a process timer. */
  private nextTimer(): bigint | null {
    let best = this.sched.nextDeadline();
    for (const p of this.system.processes.values()) {
      if (p.exit !== null) continue;
      const d = p.signals.timers.nextDeadline();
      if (d !== null && (best === null || d < best)) best = d;
    }
    return best;
  }

  /** How signal code finds processes and threads, and the scheduler's side of job control. */
  private signalHost(): SignalHost {
    const live = (): LinuxProcess[] => [...this.system.processes.values()].filter((p) => p.exit === null).sort((a, b) => a.pid - b.pid);
    return {
      findProcess: (pid) => {
        const p = this.system.processes.get(pid);
        return p !== undefined && p.exit === null ? p : null;
      },
      findThread: (tid) => {
        const t = this.system.tasks.get(tid);
        return t !== undefined && isLive(t) ? t : null;
      },
      processGroup: (pgid) => live().filter((p) => p.pgid === pgid),
      allProcesses: live,
      pgidOf: (p) => p.pgid,
      sidOf: (p) => p.sid,
      parentOf: (p) => (p.parent !== null && p.parent.exit === null ? p.parent : null),
      isOrphanedProcessGroup: (pgid) => {
        // Orphaned: no member has a parent in another group of the same session.
        return !live().some((p) => p.pgid === pgid && p.parent !== null && p.parent.exit === null && p.parent.pgid !== pgid && p.parent.sid === p.sid);
      },
      resumeStopped: (t) => {
        if (t.state !== 'stopped') return;
        t.state = 'blocked';
        this.sched.makeRunnable(t, this.linux.clock.peekMonotonicNs());
        t.resumedFromStop = true;
      },
      jobControlChanged: (p, change) => {
        p.stopEvent = change.kind === 'stopped' ? { kind: 'stopped', sig: change.sig } : { kind: 'continued', sig: 18 };
        this.system.notifyParent(p);
      },
    };
  }

  /**
   * What a syscall's outcome does to its task: a value to x0, a sleep, an exit. 'continue' when
   * the task goes on running; 'stop' when the slice must end (the task sleeps or is gone).
   */
  private settleSyscall(t: Task, out: SyscallOutcome, nr: number, args: readonly U64[], pc: number): 'continue' | 'stop' | StopReason {
    switch (out.kind) {
      case 'return':
        // A number goes to the register as its two's complement (returnRegister's U64).
        this.engine.setX(0, out.value);
        t.blockState = null;
        t.wakeReason = null;
        return 'continue';
      case 'setRegisters':
        // rt_sigreturn: every register from the frame, x0 included.
        this.engine.loadRegisters(out.regs);
        t.blockState = null;
        t.wakeReason = null;
        return 'continue';
      case 'block': {
        // Copies: the arguments of the svc hook are the engine's, rewritten by the next svc.
        const kept = args.map(copyU64);
        const restartable = out.restartable ?? false;
        const onSignal = out.onSignal ?? 'interrupt';
        t.blockedIn = out.deadlineNs !== undefined
          ? { nr, args: kept, pc, on: out.on, deadlineNs: out.deadlineNs, restartable, onSignal }
          : { nr, args: kept, pc, on: out.on, restartable, onSignal };
        t.state = 'blocked';
        t.wakeReason = null;
        if (t.regs === null || this.running === t) t.regs = this.engine.saveRegisters(t.regs);
        for (const q of out.on) q.add(t);
        this.sched.sleep(t, out.deadlineNs);
        return 'stop';
      }
      case 'exit': {
        const info: ExitInfo = { kind: 'exited', value: out.status, core: false };
        if (out.group) this.system.exitGroup(t.process, info);
        else this.system.exitThread(t, info);
        this.noteInitEnd(t.process, { exitCode: out.status, reason: 'exit' });
        return 'stop';
      }
      case 'killed':
        this.killProcess(t.process, out.end);
        return 'stop';
      case 'fatal':
        return { kind: 'error', message: out.message, pc: this.engine.getPc() };
    }
  }

  /** A process ended by a signal: every thread goes, the parent learns of it. */
  private killProcess(p: LinuxProcess, end: ProcessEnd): void {
    const core = end.coreDumped === true;
    this.system.exitGroup(p, { kind: 'killed', value: end.signal, core });
    this.noteInitEnd(p, { exitCode: end.exitStatus, reason: 'signal', message: end.message });
  }

  private noteInitEnd(p: LinuxProcess, end: RunEnd): void {
    if (p === this.linux && p.exit !== null && this.initEnd === null) this.initEnd = end;
  }

  /** The end of the run: processes still alive are torn down (exit_mmap counted). */
  private killAll(): void {
    for (const p of [...this.system.processes.values()]) {
      if (p.exit === null) this.system.exitGroup(p, { kind: 'killed', value: 9, core: false });
    }
  }

  /** What /proc, /sys and sysinfo show of the machine (linux/prochost.ts). */
  private procHost(): ProcHost {
    const sysctl = new Map<string, string>();
    return {
      processes: () => [...this.system.processes.values()].sort((a, b) => a.pid - b.pid),
      current: () => this.running?.process ?? this.linux,
      cpus: this.kernel.mmu.cpus.length,
      kernel: this.kernel,
      setKnob: (name, text) => applyKnob(this.kernel, name, text),
      sysctl,
    };
  }

  /** What the task layer needs from the machine (linux/system.ts). */
  private taskHost(): TaskHost {
    return {
      withMm: (mm, fn) => {
        // kthread_use_mm / kthread_unuse_mm: both switches go through the ASID allocator, so the
        // mm is used with an ASID of the current generation and the CPU's active ASID stays true.
        const k = this.kernel;
        const mmu = k.mmu;
        const saved = mmu.regs;
        if (saved.ttbr0 === mm.pgd) return fn();
        const prev = k.loadedMm(mmu.cpu.index);
        k.switchTo(mm as Process);
        try {
          return fn();
        } finally {
          if (prev !== null && prev.pgd === saved.ttbr0) k.switchTo(prev);
          else mmu.regs = saved;
        }
      },
      currentRegisters: () => this.engine.saveRegisters(),
      forkMm: (mm) => forkAddressSpace(mm),
      newMm: () => this.kernel.newProcess(),
      releaseMm: (mm) => {
        if (!(mm as Process).hasExited) mm.exitMmap();
      },
      taskCreated: (t, regs) => {
        t.regs = regs;
        t.onWake = (task, reason) => this.onWake(task, reason);
        this.sched.add(t, this.linux.clock.peekMonotonicNs());
        if (this.running !== null) this.setPreemptPoint();
      },
      taskExited: (t) => {
        this.sched.remove(t);
      },
      requestReschedule: () => {
        this.yieldRequested = true;
        this.yieldedVoluntarily = true;
      },
      nowNs: () => this.linux.clock.peekMonotonicNs(),
      cpuCount: this.kernel.mmu.cpus.length,
      currentCpu: () => this.running?.cpu ?? 0,
      migrate: (t) => this.sched.migrate(t, this.linux.clock.peekMonotonicNs()),
      futexKey: (mm, va, shared) => futexKey(mm, va, shared),
      signalProcess: (p, sig, info) => this.signalProcess(p, sig, info),
      exec: (p, image, o) => this.execImage(p, image, o),
    };
  }

  /**
   * execve past its point of no return (fs/exec.c begin_new_exec, then load_elf_binary): the
   * other threads end, a fresh mm replaces the old one (released unless a vfork parent still
   * uses it), close-on-exec descriptors close, handled signals reset, and the calling task
   * starts the new image. Its id stays (Linux gives a non-leader the leader's id; not modelled).
   */
  private execImage(p: LinuxProcess, image: ElfImage, o: ExecRequest): string | null {
    const t = p.current;
    this.system.deThread(t);
    const old = p.mm;
    const mm = this.kernel.newProcess();
    p.mm = mm;
    p.execed = true;
    const stillUsed = [...this.system.processes.values()].some((q) => q !== p && q.exit === null && q.mm === old);
    if (!stillUsed) old.exitMmap();
    p.vforkDone?.wake();
    p.vforkDone = null;
    p.fds.closeOnExec();
    execSignals(t);
    execExtras(t);
    t.robustList = null;
    t.rseq = null;
    t.clearChildTid = 0;
    this.kernel.switchTo(mm);
    this.engineAsid = mm.userAsid;
    this.shadows.select(this.engineCpu, mm.userAsid, () => this.kernel.mmu.tlb.residentEntries());
    let loaded: ExecResult;
    try {
      loaded = loadElfBinary(p, image, {
        argv: o.argv,
        envp: o.envp,
        exePath: o.exePath,
        execfn: o.execfn,
        ...(o.interp !== undefined ? { interp: o.interp } : {}),
        ...(o.exeNode !== undefined ? { exeNode: o.exeNode } : {}),
        staticPieAlign: this.profile !== 'linux-6.9',
      });
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
    const regs = emptyRegisterFile();
    regs.pc = BigInt(loaded.entry);
    regs.sp = BigInt(loaded.sp);
    t.regs = regs;
    this.regsReplaced = true;
    return null;
  }

  readonly schedStats!: SchedStats;
  /** Whether slices run with an instruction count (see schedule()). */
  private counting = false;
  /** Whether the engine hands back wall-clock slices (an interruptible run). */
  private readonly wallClockSlice: boolean;

  /** execve replaced the running task's registers: the slice ends without saving the engine's. */
  private regsReplaced = false;

  /** A signal the kernel sends a process: delivered on its next return to user space. */
  private signalProcess(p: LinuxProcess, sig: number, _info: ChildSignalInfo | null): void {
    sendToProcess(p, sig, { kind: 'kernel', signo: sig });
  }

  private hooks(): EngineHooks {
    return {
      onSvc: (e) => {
        const t = this.running!;
        const { args, x8, pc } = e.svcRegisters();
        if (pc % 4 !== 0) {
          // An svc decoded at a misaligned PC (exceptions.ts): the CPU would have faulted there.
          const r = this.signalStop(signalForException({ kind: 'pc-alignment', pc: BigInt(pc - 4) }));
          if (r !== 'retry') return r;
          return this.initEnd !== null || this.mustStop() ? { kind: 'yield' } : undefined;
        }
        const nr = syscallNumberFromX8(x8);
        t.userRegs = this.liveRegs;
        const out = t.process.syscall(nr, args, pc);
        t.userRegs = null;
        this.meter.syscall(nr);
        const r = this.settleSyscall(t, out, nr, args, pc);
        if (r === 'stop' || this.regsReplaced) return { kind: 'yield' };
        if (r !== 'continue') return r;
        const ret = out.kind === 'return' ? out.value : null;
        if (this.returnToUser(t, out.kind === 'return' ? args[0]! : null, ret) === 'stop') return { kind: 'yield' };
        if (this.initEnd !== null || this.mustStop()) return { kind: 'yield' };
        return;
      },
      onAbort: (info) => {
        const r = this.onAbort(info);
        if (r !== 'retry') return r;
        return this.initEnd !== null || this.mustStop() ? { kind: 'yield' } : 'retry';
      },
      readInsn: (pc) => this.readInsn(pc),
      onException: (info) => {
        const x = syncExceptionOf(info);
        if (x === null) return { kind: 'exception', info, message: `${info.name} at pc 0x${info.pc.toString(16)}` };
        const r = this.signalStop(signalForException(x));
        return r === 'retry' && (this.initEnd !== null || this.mustStop()) ? { kind: 'yield' } : r;
      },
    };
  }

  /**
   * A signal forced on the faulting thread by a synchronous exception (force_sig_fault): its
   * handler runs, or the process ends with the exception's description, as the default action.
   */
  private signalStop(sig: ExceptionSignal, reason?: string): StopReason | 'retry' {
    const pc = sig.pc < 2n ** 53n ? Number(sig.pc) : undefined;
    const insn = pc !== undefined && sig.code !== 'BUS_ADRALN' ? this.disassembleAt(pc) : undefined;
    const t = this.running!;
    // Every si_code these exceptions carry (ILL_ILLOPC, TRAP_BRKPT, BUS_ADRALN, SEGV_MAPERR) is 1.
    forceSigFault(t, sig.signo, 1, sig.addr, 0n, exceptionSignalMessage(sig, insn, reason));
    return this.deliverForced(t, sig.pc);
  }

  /**
   * A guest access the shadow refused: translate every refused page through the model (a TLB hit
   * or a walk and a fill, which reaches the shadow), handing faults to the memory manager, then
   * retry the instruction. What Linux turns into a signal ends the run as Linux ends the process.
   */
  private onAbort(info: AbortInfo): 'retry' | StopReason {
    const r = this.handleAbort(info);
    if (r !== 'retry' || !signalPending(this.running!)) return r;
    // A signal sent while the fault was handled (SIGSEGV to another thread, a timer) arrives now.
    return this.returnToUser(this.running!, null, null) === 'stop' ? { kind: 'yield' } : 'retry';
  }

  private handleAbort(info: AbortInfo): 'retry' | StopReason {
    // An access or fetch by an instruction at a misaligned PC (exceptions.ts): the PC alignment
    // fault comes first. (Below 2^53 the PC is exact as a Number: no bigint per abort.)
    if (info.pcBig !== undefined || info.pc % 4 !== 0) {
      const pc = info.pcBig ?? BigInt(info.pc);
      if (isMisalignedPc(pc)) return this.signalStop(signalForException({ kind: 'pc-alignment', pc }));
    }
    if (info.cause === 'alignment') {
      const a = info.accesses[0]!;
      return this.fatal({ signal: 'SIGBUS', code: 'BUS_ADRALN', addr: a.va, access: a.kind, pc: info.pc, reason: `misaligned ${info.form} access` });
    }
    if (info.cause === 'outside-va-range') {
      const a = info.accesses[0]!;
      return this.unmappable(a.vaBig ?? BigInt(a.va), a.kind, info.pcBig ?? BigInt(info.pc));
    }
    const first = info.faults[0];
    if (first !== undefined && first.kind !== 'exec' && first.va >= VA_LIMIT) {
      // Unicorn 2.1.x reports such a data access as a translation fault (2.0.1 refuses it before
      // translating: 'outside-va-range'): the same signal and words, with the address exact (the
      // fault's number has lost the low bits of one beyond 2^53; a page piece's start has not).
      const a = info.accesses.find((x) => x.kind === first.kind && x.va === first.va);
      const untagged = a?.vaBig ?? BigInt(first.va);
      const tag = a?.tag ?? first.tag;
      return this.unmappable(tag === undefined ? untagged : (BigInt(tag) << 56n) | untagged, first.kind, BigInt(info.pc));
    }
    const mmu = this.kernel.mmu;
    const mm = this.running!.process.mm as Process;
    for (const f of info.faults) {
      // Read once: an address above 2^31 becomes a fresh heap number for every call it is passed
      // to after a new read of the field, and one shared number when read once.
      const va = f.va;
      for (let attempt = 0; ; attempt++) {
        const t = mmu.resolve(va, f.kind, 0);
        if (t === null) break;
        const out = mm.handleFault(va, f.kind, t.kind);
        this.traceFault(va, f.kind, t.kind, t.level, info.pc, out.kind === 'handled' ? out.path : `${out.signal} ${out.code}`);
        if (out.kind === 'signal') {
          return this.fatal({ signal: out.signal, code: out.code, addr: va, ...(f.tag !== undefined ? { tag: f.tag } : {}), access: f.kind, pc: info.pc, reason: out.reason }, userAbortEsr(f.kind, t.kind, t.level));
        }
        if (attempt >= 16) {
          return { kind: 'error', pc: info.pc, message: `the memory manager handled a ${t.kind} fault at 0x${va.toString(16)} 16 times without the translation succeeding (a model bug)` };
        }
      }
    }
    return 'retry';
  }

  /** A data access nothing can ever map: beyond TASK_SIZE (2^40 in the model), or the kernel half. */
  private unmappable(addr: bigint, access: 'read' | 'write' | 'exec', pc: bigint): StopReason | 'retry' {
    // The kernel half is bit 55's (TBI: a tag in the top byte does not make a user address one).
    const why = ((addr >> 55n) & 1n) === 1n ? 'a kernel address' : "outside the 40-bit user address space of contpte-lab's model (a limit of ours; arm64 Linux allows 2^48)";
    return this.signalStop(signalForException({ kind: 'unmappable-address', pc, addr, access }), why);
  }

  private traceFault(va: number, access: 'read' | 'write' | 'exec', fault: FaultKind, level: number, pc: number, handled: string): void {
    const tr = this.telemetry.tracer;
    if (!tr.on.fault) return;
    const insn = this.disassembleAt(pc);
    tr.emit({ kind: 'fault', va, access, fault, level, pc, ...(insn !== undefined ? { insn } : {}), handled });
  }

  /**
   * force_sig_fault: the signal goes to the faulting thread, which takes it at once with the
   * faulting instruction as the interrupted PC: a handler runs (its frame records the fault), or
   * the process dies of it with the fault's description.
   */
  private fatal(f: Parameters<typeof fatalFault>[0], esr = 0n): StopReason | 'retry' {
    const insn = this.disassembleAt(f.pc);
    const t = this.running!;
    forceFault(t, { ...f, ...(insn !== undefined ? { insn } : {}) }, esr);
    return this.deliverForced(t, BigInt(f.pc));
  }

  /** The thread takes the signal just forced on it, interrupted at `pc` (the faulting instruction). */
  private deliverForced(t: Task, pc: bigint): StopReason | 'retry' {
    const regs = this.engine.saveRegisters();
    regs.pc = pc;
    const d = deliverSignals(t, regs, null);
    switch (d.kind) {
      case 'run':
        this.engine.loadRegisters(d.regs);
        return 'retry';
      case 'stop':
        t.regs = d.regs;
        this.stopTask(t);
        return { kind: 'yield' };
      case 'exit':
        this.killProcess(t.process, d.end);
        return { kind: 'yield' };
      case 'exited':
        this.system.exitGroup(t.process, { kind: 'exited', value: d.code, core: false });
        this.noteInitEnd(t.process, { exitCode: d.code, reason: 'exit' });
        return { kind: 'yield' };
    }
  }

  private endOf(stop: StopReason): RunEnd {
    switch (stop.kind) {
      case 'exit':
        return stop.code >= 128 && stop.message !== undefined
          ? { exitCode: stop.code, reason: 'signal', message: stop.message }
          : { exitCode: stop.code, reason: 'exit', ...(stop.message !== undefined ? { message: stop.message } : {}) };
      case 'budget':
        return { exitCode: null, reason: 'budget', message: stop.message };
      case 'no-progress':
      case 'exception':
      case 'error':
        return { exitCode: null, reason: 'crash', message: stop.message };
      case 'yield':
      case 'quantum':
        return { exitCode: null, reason: 'crash', message: `the engine stopped for the scheduler (${stop.kind}) outside a run` };
    }
  }

  /** For a progress line: page faults so far, and the virtual time the furthest CPU has reached since boot. */
  progress(): { faults: number; virtualNs: number } {
    let max = this.linux.clock.peekMonotonicNs();
    for (const c of this.sched.cpus) if (c.clockNs > max) max = c.clockNs;
    return { faults: this.kernel.faultStats.total, virtualNs: Number(max - this.bootNs) };
  }

  /** What a timeline trace stamps each event with: the running CPU, guest pid and tid, and its clock. */
  traceClock(): TraceClock {
    return {
      cpus: this.sched.cpus.length,
      now: () => {
        const t = this.running;
        return { cpu: this.engineCpu, pid: t?.process.pid ?? this.linux.pid, tid: t?.tid ?? this.linux.pid, ns: Number(this.linux.clock.peekMonotonicNs()) };
      },
    };
  }

  /** The JSON summary of docs/design.md for a finished run. */
  summary(end: RunEnd): Summary {
    return buildSummary({
      exitCode: end.exitCode,
      end: end.message !== undefined ? { reason: end.reason, detail: end.message } : { reason: end.reason },
      profile: this.profile,
      policy: formatPolicy(this.policy),
      snapshot: this.telemetry.stats.snapshot(),
      ops: this.markers.ops,
      dumps: this.markers.dumps,
      cpus: this.kernel.mmu.cpus.length,
      checker: checkerSummary(this.kernel.mmu.checker),
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.engine.close();
  }
}

function copyU64(a: U64): U64 {
  return { lo: a.lo, hi: a.hi };
}

/** dup_mmap through the memory manager's fork (mm/fork.ts). */
function forkAddressSpace(mm: ProcessMemory): ProcessMemory {
  const f = (mm as { fork?: () => ProcessMemory }).fork;
  if (typeof f !== 'function') throw new Error('fork: the memory manager cannot copy an address space');
  return f.call(mm);
}

/**
 * get_futex_key: a private futex, or one in private memory, is (address space, address); one in
 * a shared mapping is (file, page offset, offset in page), so every process mapping it meets.
 */
function futexKey(mm: ProcessMemory, va: number, shared: boolean): string {
  if (shared) {
    const vma = (mm as Process).vmas.findVma(va);
    if (vma !== null && vma.start <= va && (vma.flags & VM_SHARED) !== 0 && vma.file !== null) {
      return `f${vma.file.ino}:${vma.pgoffOf(va)}:${va % 4096}`;
    }
  }
  // Not the ASID: the allocator may give the mm another one after a rollover.
  return `m${(mm as Process).mmId}:${va}`;
}
