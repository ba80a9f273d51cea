/**
 * The machine: one Linux process running on the Unicorn engine, with every translation decided by
 * the mmu model and every page table kept by the memory-manager model.
 *
 * The joins (DESIGN.md, data flow):
 * - the engine's guest-physical pool is the kernel model's PhysMem, so what the model writes
 *   (page cache, zeroed anonymous pages) is what the guest reads;
 * - the model TLB announces fills and removals to `ShadowSync`, which keeps the engine's shadow
 *   tables (what QEMU walks) equal to it, so no guest access can bypass the model;
 * - a guest access the shadow refuses arrives as an abort: the machine asks the mmu to translate
 *   it (a TLB hit, or a walk and a fill), hands a translation fault to the memory manager's
 *   fault handler, and retries the instruction;
 * - `svc` goes to the process layer's syscall dispatcher; the guest markers come back here.
 */
import { Engine, ShadowSync, type AbortInfo, type EngineHooks, type StopReason } from '../engine/index.js';
import { readElfFile, type ElfImage } from '../linux/elf.js';
import { loadElfBinary, type ExecResult } from '../linux/exec.js';
import { LinuxProcess, releaseForProfile, type Markers } from '../linux/process.js';
import { exceptionSignalMessage, signalForException, type ExceptionSignal } from '../linux/exception-signals.js';
import { fatalFault, forcedSignal, SIGKILL } from '../linux/signals.js';
import { syncExceptionOf } from './exceptions.js';
import { syscallNumberFromX8, returnRegister } from '../linux/syscalls/args.js';
import { MmKernel, type MmPolicy, type Process } from '../mm/index.js';
import { formatPolicy } from '../mm/knobs.js';
import { resolvePolicy, type ProfileName } from '../mm/profiles.js';
import { walk } from '../mmu/walker.js';
import { checkerSummary } from '../report/checker-summary.js';
import { buildSummary, MarkerCounts, type EndReason, type Summary } from '../report/summary.js';
import type { Disassembler } from '../trace/disasm.js';
import type { FaultKind } from '../trace/events.js';
import { Telemetry } from '../trace/telemetry.js';
import { GuestOutOfMemory, UsageError } from '../util/errors.js';
import { u64FromBigInt, u64ToBigInt } from '../util/u64.js';

export interface MachineOptions {
  /** The static arm64 ELF on the host. */
  elf: string;
  /** Arguments after argv[0]. */
  args?: readonly string[];
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
  /** Seed of the guest's getrandom and AT_RANDOM. */
  seed?: number;
  /** Where the guest's stdout and stderr go (default: the tool's own). */
  stdout?: (bytes: Uint8Array) => void;
  stderr?: (bytes: Uint8Array) => void;
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
  private loaded: ExecResult | undefined;
  private readonly dis: Disassembler | null;
  private closed = false;

  constructor(private readonly opts: MachineOptions) {
    // Everything that can be wrong with the input is checked before the engine starts.
    const resolved = resolvePolicy(opts.profile, opts.sets ?? []);
    this.policy = resolved.policy;
    this.profile = resolved.profile;
    this.image = readElfFile(opts.elf);
    this.telemetry = opts.telemetry ?? new Telemetry();
    this.dis = opts.disassembler ?? null;
    this.markers = new MarkerCounts(this.telemetry.stats);

    this.engine = new Engine({
      memMb: this.policy.mem_mb,
      telemetry: this.telemetry,
      ...(opts.maxInsns !== undefined ? { maxInsns: opts.maxInsns } : {}),
      ...(opts.maxSeconds !== undefined ? { maxSeconds: opts.maxSeconds } : {}),
      ...(opts.sliceMs !== undefined ? { sliceMs: opts.sliceMs } : {}),
    });
    try {
      this.kernel = new MmKernel({ policy: this.policy, profile: this.profile, telemetry: this.telemetry, mem: this.engine.phys });
      this.kernel.mmu.tlb.observer = new ShadowSync(this.engine);
      this.process = this.kernel.newProcess();
      this.kernel.switchTo(this.process);
      this.engine.setAsid(this.process.userAsid);
      this.linux = this.newLinuxProcess();
      this.linux.fs.addProcFile('sys/vm/overcommit_memory', `${this.policy.overcommit_memory}\n`);
    } catch (e) {
      this.engine.close();
      throw e;
    }
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
      unmapMappingRange: (inode, holeBegin) => k.unmapMappingRange(inode, holeBegin),
      stdio: { writeStdout: write(1), writeStderr: write(2) },
      markers,
      utsname: { release: releaseForProfile(this.profile) },
      ...(this.opts.seed !== undefined ? { randomSeed: this.opts.seed } : {}),
      ...(this.opts.strict !== undefined ? { strict: this.opts.strict } : {}),
      ...(this.opts.diagnostics ? { diagnostics: this.opts.diagnostics } : {}),
      disassemble: (pc) => this.disassembleAt(pc),
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
      this.loaded = loadElfBinary(this.linux, this.image, {
        argv: [this.opts.elf, ...(this.opts.args ?? [])],
        envp: this.opts.env ?? [],
        // "binfmt_elf: Honor PT_LOAD alignment for static PIE" arrived in v6.10.
        staticPieAlign: this.profile !== 'linux-6.9',
      });
    }
    return this.loaded;
  }

  /** Runs the program to its end; the machine is closed afterwards. */
  run(): RunEnd {
    try {
      let end: RunEnd;
      try {
        const loaded = this.load();
        this.engine.setSp(loaded.sp);
        end = this.endOf(this.engine.runWith(this.hooks(), loaded.entry));
      } catch (e) {
        end = this.oomEnd(e);
      }
      this.teardown();
      return end;
    } finally {
      this.close();
    }
  }

  /**
   * `run`, returning to the event loop after every time slice (MachineOptions.sliceMs) so that
   * the tool's signal handlers can run; when `interrupted()` names a signal, the guest stops
   * there (a safe point: between translation blocks) and the run ends as 'interrupted'.
   */
  async runInterruptible(interrupted: () => 'SIGINT' | 'SIGTERM' | null): Promise<RunEnd> {
    try {
      let end: RunEnd;
      try {
        const loaded = this.load();
        this.engine.setSp(loaded.sp);
        let stop = this.engine.runWith(this.hooks(), loaded.entry);
        for (;;) {
          if (stop.kind !== 'yield') {
            end = this.endOf(stop);
            break;
          }
          await new Promise<void>((resolve) => setImmediate(resolve));
          const sig = interrupted();
          if (sig !== null) {
            end = { exitCode: null, reason: 'interrupted', message: `interrupted by ${sig} at pc 0x${this.engine.getPc().toString(16)}: the counts are partial` };
            break;
          }
          stop = this.engine.runWith(this.hooks());
        }
      } catch (e) {
        end = this.oomEnd(e);
      }
      this.teardown();
      return end;
    } finally {
      this.close();
    }
  }

  /** Memory exhausted mid-fault: Linux's OOM killer ends the task with SIGKILL (137). */
  private oomEnd(e: unknown): RunEnd {
    if (!(e instanceof GuestOutOfMemory)) throw e;
    const killed = forcedSignal(SIGKILL, `out of memory (the OOM killer): ${e.message}`);
    this.oomKilled = true;
    return { exitCode: killed.exitStatus, reason: 'signal', message: killed.message };
  }

  /**
   * The process goes away as Linux's exit does it: exit_mmap's teardown is counted. After an OOM
   * kill the fault that ran out may be half done, and the teardown is not counted.
   */
  private teardown(): void {
    if (!this.oomKilled) this.process.exitMmap();
  }

  private oomKilled = false;

  private hooks(): EngineHooks {
    const p = this.linux;
    return {
      onSvc: (e) => {
        const args = [0, 1, 2, 3, 4, 5].map((n) => u64FromBigInt(e.getX(n)));
        const out = p.syscall(syscallNumberFromX8(u64FromBigInt(e.getX(8))), args, e.getPc());
        switch (out.kind) {
          case 'return':
            e.setX(0, u64ToBigInt(returnRegister(out.value)));
            return;
          case 'exit':
            return { kind: 'exit', code: out.status };
          case 'killed':
            return { kind: 'exit', code: out.end.exitStatus, message: out.end.message };
          case 'fatal':
            return { kind: 'error', message: out.message, pc: e.getPc() };
          case 'block':
            // Replaced by the scheduler (many tasks): one task alone has nobody to wake it.
            return { kind: 'error', message: 'the only task blocked with nothing to wake it', pc: e.getPc() };
        }
      },
      onAbort: (info) => this.onAbort(info),
      readInsn: (pc) => this.readInsn(pc),
      onException: (info) => {
        const x = syncExceptionOf(info);
        return x === null ? { kind: 'exception', info, message: `${info.name} at pc 0x${info.pc.toString(16)}` } : this.signalStop(signalForException(x));
      },
    };
  }

  /**
   * A signal forced on the process by a synchronous exception. No handler can run yet (the model
   * builds no signal frames), so the process ends as Linux ends it when the default action runs.
   */
  private signalStop(sig: ExceptionSignal, reason?: string): StopReason {
    const pc = sig.pc < 2n ** 53n ? Number(sig.pc) : undefined;
    const insn = pc !== undefined && sig.code !== 'BUS_ADRALN' ? this.disassembleAt(pc) : undefined;
    let message = exceptionSignalMessage(sig, insn, reason);
    if (this.linux.signals.hasHandler(sig.signo)) message = message.replace(/ \[exit status/, `; the guest's ${sig.signal} handler was not run: contpte-lab does not deliver signals [exit status`);
    return { kind: 'exit', code: 128 + sig.signo, message };
  }

  /**
   * A guest access the shadow refused: translate every refused page through the model (a TLB hit
   * or a walk and a fill, which reaches the shadow), handing faults to the memory manager, then
   * retry the instruction. What Linux turns into a signal ends the run as Linux ends the process.
   */
  private onAbort(info: AbortInfo): 'retry' | StopReason {
    if (info.cause === 'alignment') {
      const a = info.accesses[0]!;
      return this.fatal({ signal: 'SIGBUS', code: 'BUS_ADRALN', addr: a.va, access: a.kind, pc: info.pc, reason: `misaligned ${info.form} access` });
    }
    if (info.cause === 'outside-va-range') {
      const a = info.accesses[0]!;
      const addr = a.vaBig ?? BigInt(a.va);
      const pc = info.pcBig ?? BigInt(info.pc);
      // Beyond TASK_SIZE (2^40 in the model) nothing can be mapped; the kernel half never can.
      const why = addr >= 2n ** 63n ? 'a kernel address' : "outside the 40-bit user address space of contpte-lab's model (a limit of ours; arm64 Linux allows 2^48)";
      return this.signalStop(signalForException({ kind: 'unmappable-address', pc, addr, access: a.kind }), why);
    }
    const mmu = this.kernel.mmu;
    for (const f of info.faults) {
      for (let attempt = 0; ; attempt++) {
        const t = mmu.translate(f.va, f.kind, 0);
        if (t.ok) break;
        const out = this.process.handleFault(f.va, f.kind, t.kind);
        this.traceFault(f.va, f.kind, t.kind, t.level, info.pc, out.kind === 'handled' ? out.path : `${out.signal} ${out.code}`);
        if (out.kind === 'signal') {
          return this.fatal({ signal: out.signal, code: out.code, addr: f.va, access: f.kind, pc: info.pc, reason: out.reason });
        }
        if (attempt >= 16) {
          return { kind: 'error', pc: info.pc, message: `the memory manager handled a ${t.kind} fault at 0x${f.va.toString(16)} 16 times without the translation succeeding (a model bug)` };
        }
      }
    }
    return 'retry';
  }

  private traceFault(va: number, access: 'read' | 'write' | 'exec', fault: FaultKind, level: number, pc: number, handled: string): void {
    const tr = this.telemetry.tracer;
    if (!tr.on.fault) return;
    const insn = this.disassembleAt(pc);
    tr.emit({ kind: 'fault', va, access, fault, level, pc, ...(insn !== undefined ? { insn } : {}), handled });
  }

  private fatal(f: Parameters<typeof fatalFault>[0]): StopReason {
    const insn = this.disassembleAt(f.pc);
    const end = fatalFault({ ...f, ...(insn !== undefined ? { insn } : {}) }, this.linux.signals);
    return { kind: 'exit', code: end.exitStatus, message: end.message };
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
        return { exitCode: null, reason: 'crash', message: 'the engine yielded outside a sliced run (a bug of contpte-lab)' };
    }
  }

  /** The JSON summary of DESIGN.md for a finished run. */
  summary(end: RunEnd): Summary {
    return buildSummary({
      exitCode: end.exitCode,
      end: end.message !== undefined ? { reason: end.reason, detail: end.message } : { reason: end.reason },
      profile: this.profile,
      policy: formatPolicy(this.policy),
      snapshot: this.telemetry.stats.snapshot(),
      ops: this.markers.ops,
      dumps: this.markers.dumps,
      checker: checkerSummary(this.kernel.mmu.checker),
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.engine.close();
  }
}

