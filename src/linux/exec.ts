/**
 * Loading an executable into a fresh process: Linux's do_execveat_common + load_elf_binary
 * (fs/exec.c, fs/binfmt_elf.c, v6.9), in the same order so that the same pages fault in the same
 * sequence:
 *
 * 1. the stack VMA, and the argument, environment and program-name strings copied to its top;
 * 2. each PT_LOAD as a MAP_PRIVATE file mapping of the executable with the segment's protections
 *    (elf_load/elf_map): the first with MAP_FIXED_NOREPLACE (ET_EXEC; a PIE, ET_DYN with an
 *    interpreter, at ELF_ET_DYN_BASE aligned down to its largest p_align) or placed by mmap
 *    (static-pie: load_bias 0, so the mmap region decides), the others MAP_FIXED; the partial
 *    page after p_filesz zeroed through the user-copy path (padzero), the rest of the bss mapped
 *    anonymous (vm_brk_flags);
 * 3. the program break just above the highest segment;
 * 4. for a dynamic program, the interpreter (load_elf_interp): its PT_LOADs mapped the same way
 *    from its own file, the first placed by mmap (top-down below mmap_base) with the span of all
 *    of them, so ld.so lands just under the stack gap; execution starts at its entry;
 * 5. create_elf_tables (stack.ts): platform string, AT_RANDOM bytes, argc/argv/envp/auxv, with
 *    AT_BASE the interpreter's load address and AT_ENTRY the program's own entry.
 *
 * Randomisation is off (as under `setarch -R`), so addresses depend only on the binary and the
 * arguments. Deviations, all from the model's address space (docs/internals.md): the stack ends
 * at TASK_SIZE = 2^40, not at arm64's 2^48 STACK_TOP; there is no vDSO, so neither AT_SYSINFO_EHDR nor AT_MINSIGSTKSZ (which
 * arm64's ARCH_DLINFO adds) is in the auxv, as with qemu-user.
 */
import { PROT_EXEC, PROT_READ, PROT_WRITE } from '../mm/api.js';
import { DEFAULT_RLIMIT_STACK, DEFAULT_TASK_SIZE, MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE } from '../mm/vma.js';
import { MAP_GROWSDOWN } from '../mm/process.js';
import { UsageError } from '../util/errors.js';
import { errnoName, isErrorReturn } from '../util/errno.js';
import { PF_X, printablePath, segmentProt, type ElfImage, type ElfSegment } from './elf.js';
import type { RegNode } from './fs.js';
import type { Interpreter } from './interp.js';
import type { LinuxProcess } from './process.js';
import { setExecLayout } from './extras.js';
import { layoutStack, type StackLayout } from './stack.js';
import { RSEQ_ALIGN, RSEQ_FEATURE_SIZE } from './syscalls/process.js';

const PAGE_SIZE = 4096;
/** setup_arg_pages' stack_expand: what the stack VMA gets below the argument pages at exec (fs/exec.c). */
export const STACK_EXPAND = 128 * 1024;
const pageStart = (a: number): number => Math.floor(a / PAGE_SIZE) * PAGE_SIZE;
const pageOffset = (a: number): number => a % PAGE_SIZE;
const pageAlign = (a: number): number => Math.ceil(a / PAGE_SIZE) * PAGE_SIZE;
const hex = (n: number): string => '0x' + n.toString(16);

export interface ExecOptions {
  /** argv, argv[0] included. An empty list gets one empty string, as Linux does since 5.18. */
  readonly argv: readonly string[];
  readonly envp?: readonly string[];
  /**
   * Where the executable appears in the guest's file system (absolute); /proc/self/exe points
   * here. Default: /bin/<the file's base name>.
   */
  readonly exePath?: string;
  /** The name it was executed by (AT_EXECFN, bprm->filename). Default: exePath. */
  readonly execfn?: string;
  /**
   * Honour p_align above the page size for static-pie, as v6.10+ does ("binfmt_elf: Honor
   * PT_LOAD alignment for static PIE"); v6.9 ignores it.
   */
  readonly staticPieAlign?: boolean;
  /**
   * The program's interpreter, found before the point of no return (interp.ts openInterpreter);
   * required when the image has a PT_INTERP.
   */
  readonly interp?: Interpreter;
  /** The file of the guest's tree the image was read from (execve); default: installed at exePath. */
  readonly exeNode?: RegNode;
}

export interface LoadedSegment {
  readonly index: number;
  readonly start: number;
  readonly end: number;
  readonly prot: number;
}

export interface ExecResult {
  /**
   * Where execution starts (the interpreter's entry for a dynamic program); every register but
   * PC and SP is zero (x0 = 0: no rtld_fini).
   */
  readonly entry: number;
  /** The program's own entry point (AT_ENTRY). */
  readonly programEntry: number;
  /** Where the interpreter was loaded (AT_BASE), 0 without one. */
  readonly interpBase: number;
  readonly sp: number;
  /** Added to every p_vaddr: 0 for ET_EXEC. */
  readonly loadBias: number;
  /** The initial program break (mm->start_brk). */
  readonly brk: number;
  readonly phdr: number;
  readonly stack: { readonly start: number; readonly end: number };
  readonly segments: readonly LoadedSegment[];
  readonly layout: StackLayout;
  readonly exe: RegNode;
}

function basename(path: string): string {
  const parts = path.split('/').filter((c) => c !== '');
  return parts[parts.length - 1] ?? 'a.out';
}

/** Loads `image` into `p` (whose address space must be empty) and lays out its stack. */
export function loadElfBinary(p: LinuxProcess, image: ElfImage, opts: ExecOptions): ExecResult {
  return p.telemetry.calls.within('load_elf_binary', () => load(p, image, opts));
}

function load(p: LinuxProcess, image: ElfImage, opts: ExecOptions): ExecResult {
  const exePath = opts.exePath ?? `/bin/${basename(image.name)}`;
  if (!exePath.startsWith('/')) throw new UsageError(`executable path in the guest '${exePath}' is not absolute`);
  const argv = opts.argv.length > 0 ? opts.argv : [''];
  const envp = opts.envp ?? [];
  const execfn = opts.execfn ?? exePath;
  const fail = (what: string): never => {
    throw new UsageError(`${image.name}: ${what}`);
  };
  const taskSize = DEFAULT_TASK_SIZE;

  // The kernel's checks on every PT_LOAD before anything is mapped (its "set_brk can never work").
  for (const s of image.loads) {
    if (s.vaddr >= taskSize || s.memsz > taskSize || taskSize - s.memsz < s.vaddr) {
      fail(`segment ${s.index} (PT_LOAD) [${hex(s.vaddr)}, ${hex(s.vaddr + s.memsz)}) lies beyond the 1 TiB user address space (TASK_SIZE 2^40) of contpte-lab's model, a limit of ours: arm64 Linux allows up to 2^48 or 2^52`);
    }
  }

  if (image.interp !== null && opts.interp === undefined) fail(`dynamically linked (PT_INTERP '${printablePath(image.interp)}'), and no interpreter was given to the loader`);
  const exe = opts.exeNode !== undefined ? p.fs.setExecutable(opts.exeNode, exePath) : p.fs.installExecutable(exePath, image.bytes);
  const mm = p.mm;

  // 1. The stack and the strings (bprm_mm_init, copy_strings, setup_arg_pages): a VM_GROWSDOWN
  // VMA ending at the stack top over the pages the strings take, grown by stack_expand below
  // them (within RLIMIT_STACK); faults below it grow it further (Process.findVmaForFault).
  const stackEnd = taskSize;
  const stackExec = image.stackFlags !== null && (image.stackFlags & PF_X) !== 0;
  const layout = layoutStack({
    top: stackEnd,
    argv,
    envp,
    execfn,
    random: new Uint8Array(16), // replaced below: AT_RANDOM is drawn in create_elf_tables
    aux: { hwcap: 0, hwcap2: 0, phdr: 0, phnum: 0, entry: 0, uid: 0, gid: 0, rseq: null },
  });
  // argv's strings are copied last, so they are the lowest: argStart is bprm->p.
  const stackStart = Math.max(stackEnd - DEFAULT_RLIMIT_STACK, pageStart(layout.argStart) - STACK_EXPAND);
  const stackAddr = mm.mmap({
    addr: stackStart,
    len: stackEnd - stackStart,
    prot: PROT_READ | PROT_WRITE | (stackExec ? PROT_EXEC : 0),
    flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN,
    file: null,
    pgoff: 0,
  });
  if (stackAddr !== stackStart) fail(`cannot map the stack at ${hex(stackStart)}: ${describe(stackAddr)}`);
  p.telemetry.calls.within('copy_strings', () => {
    for (const s of layout.strings) writeOrFail(p, s.addr, s.bytes, fail, 'the argument strings');
  });

  // 2. The segments.
  const segments: LoadedSegment[] = [];
  let loadBias = 0;
  let first = true;
  let phdr = 0;
  let elfBrk = 0;
  const totalSize = image.loads[image.loads.length - 1]!.vaddr + image.loads[image.loads.length - 1]!.memsz - pageStart(image.loads[0]!.vaddr);
  for (const seg of image.loads) {
    const prot = segmentProt(seg.flags);
    let flags = MAP_PRIVATE;
    let total = 0;
    if (!first) {
      flags |= MAP_FIXED;
    } else if (image.kind === 'exec') {
      flags |= MAP_FIXED_NOREPLACE;
    } else if (image.kind === 'pie') {
      // A program with an interpreter goes at ELF_ET_DYN_BASE, away from the mmap region where
      // the interpreter (and, for ld.so run directly, its program) will go.
      total = totalSize;
      const alignment = maximumAlignment(image.loads);
      loadBias = elfEtDynBase(taskSize);
      if (alignment > 0) loadBias = Math.floor(loadBias / alignment) * alignment;
      flags |= MAP_FIXED_NOREPLACE;
      loadBias = pageStart(loadBias - seg.vaddr);
    } else {
      total = totalSize;
      const alignment = maximumAlignment(image.loads);
      if (opts.staticPieAlign === true && alignment > PAGE_SIZE) {
        // v6.10+: load once wherever mmap puts it, then again at that address aligned down.
        const probe = elfLoad(p, exe, 0, seg, prot, flags, total, fail);
        mm.munmap(probe, pageAlign(total));
        loadBias = Math.floor(probe / alignment) * alignment;
        flags |= MAP_FIXED_NOREPLACE;
      }
      loadBias = pageStart(loadBias - seg.vaddr);
    }
    const mapped = elfLoad(p, exe, loadBias + seg.vaddr, seg, prot, flags, total, fail);
    if (first) {
      first = false;
      if (image.kind !== 'exec') loadBias += mapped - pageStart(loadBias + seg.vaddr);
    }
    if (seg.offset <= image.phoff && image.phoff < seg.offset + seg.filesz) phdr = image.phoff - seg.offset + seg.vaddr;
    elfBrk = Math.max(elfBrk, seg.vaddr + seg.memsz);
    segments.push({ index: seg.index, start: pageStart(loadBias + seg.vaddr), end: pageAlign(loadBias + seg.vaddr + seg.memsz), prot });
  }

  // 3. The break.
  const brk = pageAlign(elfBrk + loadBias);
  mm.setBrkBase(brk);

  // 4. The interpreter.
  const entry = image.entry + loadBias;
  let interpBase = 0;
  let start = entry;
  if (opts.interp !== undefined) {
    const interp = opts.interp;
    interpBase = p.telemetry.calls.within('load_elf_interp', () => loadElfInterp(p, interp, loadBias));
    start = interpBase + interp.image.entry;
  }

  // 5. create_elf_tables, now that the entry points and AT_PHDR are known.
  const phdrAddr = phdr === 0 ? 0 : phdr + loadBias;
  const finalLayout = p.telemetry.calls.within('create_elf_tables', () => {
    const l = layoutStack({
      top: stackEnd,
      argv,
      envp,
      execfn,
      random: p.random.bytes(16),
      aux: {
        hwcap: p.hwcaps.hwcap,
        hwcap2: p.hwcaps.hwcap2,
        phdr: phdrAddr,
        phnum: image.phnum,
        entry,
        base: interpBase,
        uid: p.ids.uid,
        gid: p.ids.gid,
        rseq: { featureSize: RSEQ_FEATURE_SIZE, align: RSEQ_ALIGN },
      },
    });
    for (const t of l.tables) writeOrFail(p, t.addr, t.bytes, fail, 'the initial stack');
    return l;
  });

  recordLayout(p, image.loads, loadBias, finalLayout);
  return {
    entry: start,
    programEntry: entry,
    interpBase,
    sp: finalLayout.sp,
    loadBias,
    brk,
    phdr: phdrAddr,
    stack: { start: stackStart, end: stackEnd },
    segments,
    layout: finalLayout,
    exe,
  };
}

/**
 * ELF_ET_DYN_BASE: arm64 puts a PIE two thirds up its 48-bit default address-space window
 * (0xaaaaaaaaaaaa, so 0xaaaaaaaa0000 with 64 KiB alignment under `setarch -R`); in the model's
 * 2^40 address space the same fraction is 0xaaaaaaaaaa.
 */
export function elfEtDynBase(taskSize: number): number {
  return Math.floor((2 * taskSize) / 3);
}

/**
 * load_elf_interp: maps the interpreter's PT_LOADs from its file and returns its load address
 * (AT_BASE). An ET_DYN interpreter's first segment is placed by mmap with the span of all of them
 * (no_base set: the hint is 0 once its p_vaddr is taken off), the others follow it MAP_FIXED; an
 * ET_EXEC one goes at its own addresses.
 */
function loadElfInterp(p: LinuxProcess, interp: Interpreter, noBase: number): number {
  const image = interp.image;
  const fail = (what: string): never => {
    throw new UsageError(`${interp.path} (the program interpreter): ${what}`);
  };
  const taskSize = DEFAULT_TASK_SIZE;
  const dyn = image.kind !== 'exec';
  let total = image.loads[image.loads.length - 1]!.vaddr + image.loads[image.loads.length - 1]!.memsz - pageStart(image.loads[0]!.vaddr);
  let loadAddr = 0;
  let loadAddrSet = false;
  for (const seg of image.loads) {
    let flags = MAP_PRIVATE;
    if (!dyn || loadAddrSet) flags |= MAP_FIXED;
    else if (noBase !== 0) loadAddr = -seg.vaddr;
    const mapped = elfLoad(p, interp.node, loadAddr + seg.vaddr, seg, segmentProt(seg.flags), flags, total, fail);
    total = 0;
    if (!loadAddrSet && dyn) {
      loadAddr = mapped - pageStart(seg.vaddr);
      loadAddrSet = true;
    }
    const k = loadAddr + seg.vaddr;
    if (k >= taskSize || seg.memsz > taskSize || taskSize - seg.memsz < k) fail(`segment ${seg.index} (PT_LOAD) does not fit below TASK_SIZE (ENOMEM)`);
  }
  return loadAddr;
}

/** mm->start_code ... env_end as load_elf_binary computes them, for /proc (extras.ts). */
function recordLayout(p: LinuxProcess, loads: readonly ElfSegment[], bias: number, l: StackLayout): void {
  let startCode = Infinity;
  let startData = 0;
  let endCode = 0;
  let endData = 0;
  for (const s of loads) {
    startCode = Math.min(startCode, s.vaddr);
    startData = Math.max(startData, s.vaddr);
    const end = s.vaddr + s.filesz;
    if ((s.flags & PF_X) !== 0) endCode = Math.max(endCode, end);
    endData = Math.max(endData, end);
  }
  setExecLayout(p, {
    startCode: startCode + bias,
    endCode: endCode + bias,
    startData: startData + bias,
    endData: endData + bias,
    startStack: l.sp,
    argStart: l.argStart,
    argEnd: l.argEnd,
    envStart: l.argEnd,
    envEnd: l.envEnd,
  });
}

/** maximum_alignment: the largest power-of-two p_align of the PT_LOADs, at least a page. */
export function maximumAlignment(loads: readonly ElfSegment[]): number {
  let alignment = 0;
  for (const s of loads) {
    if (s.align > 0 && 2 ** Math.round(Math.log2(s.align)) === s.align) alignment = Math.max(alignment, s.align);
  }
  return pageAlign(alignment);
}

/**
 * elf_load: maps a segment's file pages (the whole image span for the first static-pie
 * segment, trimmed back to the segment afterwards), zeroes the tail of its last file page and
 * maps the rest of its bss anonymous. Returns the address of the file mapping.
 */
function elfLoad(p: LinuxProcess, exe: RegNode, addr: number, seg: ElfSegment, prot: number, flags: number, totalSize: number, fail: (what: string) => never): number {
  const mm = p.mm;
  let mapAddr: number;
  let zeroStart: number;
  let zeroEnd: number;
  if (seg.filesz > 0) {
    const size = pageAlign(seg.filesz + pageOffset(seg.vaddr));
    const off = seg.offset - pageOffset(seg.vaddr);
    const len = totalSize > 0 ? pageAlign(totalSize) : size;
    // A static-pie linked above 0 gets a "negative" hint here (unsigned wrap-around in the
    // kernel), which mmap ignores as it ignores any hint beyond TASK_SIZE.
    const hint = Math.max(0, pageStart(addr));
    mapAddr = mm.mmap({ addr: hint, len, prot, flags, file: exe.inode, fileWritable: false, pgoff: off / PAGE_SIZE });
    if (isErrorReturn(mapAddr)) fail(`cannot map segment ${seg.index} (PT_LOAD) at ${hex(pageStart(addr))}: ${describe(mapAddr)}`);
    if (len > size) mm.munmap(mapAddr + size, len - size);
    zeroStart = mapAddr + pageOffset(seg.vaddr) + seg.filesz;
    zeroEnd = mapAddr + pageOffset(seg.vaddr) + seg.memsz;
    if (seg.memsz > seg.filesz) {
      // padzero: a write through the user-copy path, so it faults (and copies on write) as in
      // Linux; a failure only matters if the segment was meant to be writable.
      const nbyte = pageOffset(zeroStart) === 0 ? 0 : PAGE_SIZE - pageOffset(zeroStart);
      if (nbyte > 0) {
        const done = p.telemetry.calls.within('padzero', () => mm.copyToUser(zeroStart, new Uint8Array(nbyte)));
        if (done !== nbyte && (prot & PROT_WRITE) !== 0) fail(`cannot clear the end of segment ${seg.index}'s last file page at ${hex(zeroStart)}`);
      }
    }
  } else {
    mapAddr = pageStart(addr);
    zeroStart = mapAddr;
    zeroEnd = zeroStart + pageOffset(seg.vaddr) + seg.memsz;
  }
  if (seg.memsz > seg.filesz) {
    const zs = pageAlign(zeroStart);
    const ze = pageAlign(zeroEnd);
    if (ze > zs) {
      // vm_brk_flags: anonymous read-write memory, executable if the segment is.
      const r = mm.mmap({ addr: zs, len: ze - zs, prot: PROT_READ | PROT_WRITE | (prot & PROT_EXEC), flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, file: null, pgoff: 0 });
      if (r !== zs) fail(`cannot map the bss of segment ${seg.index} at ${hex(zs)}: ${describe(r)}`);
    }
  }
  return mapAddr;
}

function writeOrFail(p: LinuxProcess, addr: number, bytes: Uint8Array, fail: (what: string) => never, what: string): void {
  const n = p.mm.copyToUser(addr, bytes);
  if (n !== bytes.length) fail(`cannot write ${what} at ${hex(addr)}`);
}

function describe(r: number): string {
  return isErrorReturn(r) ? `-${errnoName(r)}` : `got ${hex(r)}`;
}
