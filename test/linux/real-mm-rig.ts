/**
 * A process over the real memory manager (MmKernel with 64 MiB), for the tests that need its
 * page cache, folios and page tables rather than harness.ts's fake one: the kernel, the mm, the
 * process, a syscall helper that expects a plain return, and a scratch area for arguments.
 */
import { readElfFile } from '../../src/linux/elf.js';
import { loadElfBinary } from '../../src/linux/exec.js';
import type { FsPolicy } from '../../src/linux/fs.js';
import { LinuxProcess } from '../../src/linux/process.js';
import { singleProcessHost } from '../../src/linux/prochost.js';
import { argsFrom } from '../../src/linux/syscalls/args.js';
import { syscallNumber } from '../../src/linux/syscalls/table.js';
import { MmKernel, type Process } from '../../src/mm/index.js';
import { firmwareBinary } from '../firmware/cases.js';

export interface RealMmOptions {
  /** Default linux-6.12. */
  readonly profile?: string;
  /** Knob settings; mem_mb=64 is added. */
  readonly sets?: readonly string[];
  /** The process's uid and gid; default the process's own default ids. */
  readonly uid?: number;
  /** CPUs of the /proc view, with the kernel behind it; default: the process's own view (no kernel). */
  readonly cpus?: number;
  /** The program loaded (firmware hello); null: nothing loaded. */
  readonly exec?: { readonly argv: string[]; readonly envp: string[] } | null;
  /** Bytes of the anonymous scratch mapping (made after the load); 0: none. Default 64 KiB. */
  readonly scratchBytes?: number;
  readonly writeStdout?: (b: Uint8Array) => void;
}

export interface RealMmRig {
  readonly k: MmKernel;
  readonly mm: Process;
  readonly p: LinuxProcess;
  /** A syscall by name; throws unless it returns a value. */
  call(name: string, ...a: (number | bigint)[]): number;
  readonly scratch: number;
}

export function realMmRig(opts: RealMmOptions = {}): RealMmRig {
  const k = new MmKernel({ profile: opts.profile ?? 'linux-6.12', sets: [...(opts.sets ?? []), 'mem_mb=64'] });
  const mm = k.newProcess();
  k.switchTo(mm);
  const tmp = k.tmpFsType;
  if (tmp === 'proc') throw new Error('tmp_fs cannot be proc');
  const fsPolicy: FsPolicy = { tmpFs: tmp, tmpfs: k.fsTraits('tmpfs'), ext4: k.fsTraits('ext4') };
  const cpus = opts.cpus;
  const p: LinuxProcess = new LinuxProcess({
    mm,
    pageCache: k.pageCache,
    telemetry: k.telemetry,
    fsPolicy,
    unmapMappingRange: k.unmapMappingRange,
    stdio: { writeStdout: opts.writeStdout ?? (() => undefined) },
    diagnostics: () => undefined,
    ...(opts.uid !== undefined ? { ids: { uid: opts.uid, gid: opts.uid } } : {}),
    ...(cpus !== undefined ? { procHost: singleProcessHost(() => p, k, cpus) } : {}),
  });
  const exec = opts.exec === undefined ? { argv: ['hello'], envp: [] } : opts.exec;
  if (exec !== null) loadElfBinary(p, readElfFile(firmwareBinary('hello')), exec);
  const call = (name: string, ...a: (number | bigint)[]): number => {
    const r = p.syscall(syscallNumber(name), argsFrom(a), 0x400004);
    if (r.kind !== 'return') throw new Error(`${name}: ${JSON.stringify(r)}`);
    return r.value;
  };
  const bytes = opts.scratchBytes ?? 1 << 16;
  const scratch = bytes > 0 ? call('mmap', 0, bytes, 3, 0x22, -1, 0) : 0;
  return { k, mm, p, call, scratch };
}
