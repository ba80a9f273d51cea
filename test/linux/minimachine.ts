/**
 * Test scaffolding: runs a real arm64 program on the engine with the process layer and the fake
 * memory manager (fakemm.ts), so the system calls, the loader and the file system meet static
 * glibc as it really behaves. Translations are the fake's pages, installed in the engine's shadow
 * tables when the guest faults on them (no TLB model, no page tables). Not the machine: the lead
 * wires src/machine with the real mm; these runs should move there.
 */
import { Engine, type AbortInfo, type EngineHooks, type StopReason } from '../../src/engine/index.js';
import { readElfFile } from '../../src/linux/elf.js';
import { loadElfBinary, type ExecOptions } from '../../src/linux/exec.js';
import { LinuxProcess, type LinuxProcessOptions } from '../../src/linux/process.js';
import { fatalFault } from '../../src/linux/signals.js';
import { u64FromBigInt } from '../../src/util/u64.js';
import { FakeMemory, vmaPerms } from './fakemm.js';
import { makeCache } from './harness.js';

const PAGE = 4096;

export interface GuestRun {
  readonly stop: StopReason;
  readonly stdout: string;
  readonly stderr: string;
  readonly diagnostics: string[];
  readonly markers: string[];
  readonly process: LinuxProcess;
  readonly mm: FakeMemory;
  readonly faults: number;
}

export function runGuest(
  file: string,
  args: readonly string[],
  opts: Partial<Omit<LinuxProcessOptions, 'mm' | 'pageCache' | 'telemetry'>> & { exec?: Partial<ExecOptions> } = {},
): GuestRun {
  const engine = new Engine({ memMb: 256, maxSeconds: 60 });
  try {
    const { cache, memmap, telemetry } = makeCache(undefined, engine.phys);
    const mm = new FakeMemory(memmap);
    const mapped = new Set<number>();
    mm.onPageGone = (va) => {
      if (mapped.delete(va)) engine.shadow.unmap(va, PAGE);
    };
    let stdout = '';
    let stderr = '';
    const diagnostics: string[] = [];
    const markers: string[] = [];
    const dec = new TextDecoder();
    const { exec, ...processOpts } = opts;
    const p = new LinuxProcess({
      mm,
      pageCache: cache,
      telemetry,
      stdio: {
        readStdin: () => new Uint8Array(0),
        writeStdout: (b) => (stdout += dec.decode(b)),
        writeStderr: (b) => (stderr += dec.decode(b)),
        isatty: false,
      },
      diagnostics: (line) => diagnostics.push(line),
      markers: {
        mark: (name) => markers.push(`mark ${name}`),
        reset: () => markers.push('reset'),
        dump: (label) => markers.push(`dump ${label}`),
        ops: (n) => markers.push(`ops ${n}`),
      },
      unmapMappingRange: (inode, hole) => mm.unmapMappingRange(inode, hole),
      ...processOpts,
    });
    const image = readElfFile(file);
    const loaded = loadElfBinary(p, image, { argv: [file, ...args], ...exec });
    let faults = 0;

    const hooks: EngineHooks = {
      onSvc(e) {
        const a = [0, 1, 2, 3, 4, 5].map((n) => u64FromBigInt(e.getX(n)));
        const nr = Number(BigInt.asIntN(32, e.getX(8)));
        const out = p.syscall(nr, a, e.getPc());
        switch (out.kind) {
          case 'return':
            e.setX(0, BigInt.asUintN(64, BigInt(out.value)));
            return;
          case 'exit':
            return { kind: 'exit', code: out.status };
          case 'killed':
            return { kind: 'exit', code: out.end.exitStatus, message: out.end.message };
          case 'fatal':
            return { kind: 'error', message: out.message };
        }
      },
      onAbort(info: AbortInfo) {
        for (const f of info.faults) {
          faults++;
          const page = f.va - (f.va % PAGE);
          const r = mm.handleFault(f.va, f.kind, f.reason);
          if (r.kind === 'signal') {
            const end = fatalFault({ signal: r.signal, code: r.code, addr: f.va, access: f.kind, pc: info.pc, reason: r.reason }, p.signals);
            return { kind: 'exit', code: end.exitStatus, message: end.message };
          }
          if (mapped.has(page)) {
            mapped.delete(page);
            engine.shadow.unmap(page, PAGE);
          }
          const vma = mm.vmas.vmaLookup(page)!;
          engine.shadow.map(page, PAGE, mm.pages.get(page / PAGE)!.pa, vmaPerms(vma));
          mapped.add(page);
        }
        return 'retry';
      },
      readInsn(pc) {
        const vma = mm.vmas.vmaLookup(pc);
        if (vma === null) return undefined;
        return memmap.mem.dv.getUint32(mm.page(pc, vma, 'exec').pa + (pc % PAGE) - engine.phys.base, true);
      },
    };
    engine.setHooks(hooks);
    engine.setSp(loaded.sp);
    const stop = engine.run(loaded.entry);
    return { stop, stdout, stderr, diagnostics, markers, process: p, mm, faults };
  } finally {
    engine.close();
  }
}
