/**
 * ELF64 AArch64 executables: parsing and validation.
 *
 * Accepts what Linux's load_elf_binary (fs/binfmt_elf.c, v6.12) would run: ET_EXEC or ET_DYN,
 * with or without a PT_INTERP (the interpreter, e.g. /lib/ld-linux-aarch64.so.1, is found and
 * loaded by exec.ts / interp.ts), e_machine EM_AARCH64, 64-bit little-endian,
 * program headers of the Elf64_Phdr size that fit in one 4 KiB page. As execve does first, the
 * file must be a regular file with an execute bit (EACCES otherwise, before anything is read:
 * a fifo or /dev/zero never blocks the tool). Like the kernel, it reads only the fields it uses:
 * PT_LOADs may come in any order (they are sorted by address), and p_align values that are not a
 * power of two, or any value of a header it does not interpret (PT_TLS, PT_NOTE ...), are
 * ignored however large (a power-of-two p_align is honoured as the kernel honours it). What it
 * refuses that Linux would start, only to kill it later (file bytes beyond the end of the file;
 * p_memsz below p_filesz, which load_elf_binary fails past its point of no return; overlapping
 * PT_LOADs), is refused with a message saying what Linux does. Every refusal is a UsageError
 * naming the file.
 *
 * PT_TLS, PT_GNU_RELRO, PT_GNU_EH_FRAME, PT_NOTE, PT_PHDR and PT_DYNAMIC are kept but not
 * interpreted: the kernel leaves them to the C library too. PT_GNU_STACK gives the stack's
 * executability. PT_GNU_PROPERTY (arm64 BTI) is ignored, as Linux does on a CPU whose BTI it
 * does not advertise (see hwcap.ts).
 */
import { readFileSync, statSync, type Stats } from 'node:fs';
import { UsageError } from '../util/errors.js';

export const ELF_HEADER_SIZE = 64;
/** sizeof(Elf64_Phdr). */
export const ELF64_PHDR_SIZE = 56;
/** load_elf_phdrs reads the program headers only if they fit in ELF_MIN_ALIGN bytes. */
export const MAX_PHDR_BYTES = 4096;
const PAGE_SIZE = 4096;

export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;

export const EM_AARCH64 = 183;

export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PT_SHLIB = 5;
export const PT_PHDR = 6;
export const PT_TLS = 7;
export const PT_GNU_EH_FRAME = 0x6474e550;
export const PT_GNU_STACK = 0x6474e551;
export const PT_GNU_RELRO = 0x6474e552;
export const PT_GNU_PROPERTY = 0x6474e553;

export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

/** One program header, with 64-bit fields as numbers (they are checked to fit). */
export interface ElfSegment {
  /** Position in the program header table. */
  readonly index: number;
  readonly type: number;
  /** PF_R | PF_W | PF_X. */
  readonly flags: number;
  readonly offset: number;
  readonly vaddr: number;
  readonly filesz: number;
  readonly memsz: number;
  readonly align: number;
}

/**
 * 'exec': ET_EXEC; 'static-pie': ET_DYN without an interpreter (also what an interpreter such as
 * ld.so is); 'pie': ET_DYN with one, loaded at ELF_ET_DYN_BASE.
 */
export type ElfKind = 'exec' | 'static-pie' | 'pie';

/** PATH_MAX: load_elf_binary refuses a longer PT_INTERP (ENOEXEC). */
export const PATH_MAX = 4096;

/** A validated AArch64 executable. */
export interface ElfImage {
  /** The name used in messages (the path given by the user). */
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly kind: ElfKind;
  /** The PT_INTERP path (the program interpreter), or null for a static program. */
  readonly interp: string | null;
  readonly entry: number;
  readonly phoff: number;
  readonly phnum: number;
  readonly segments: readonly ElfSegment[];
  /** The PT_LOAD segments, in ascending address order. */
  readonly loads: readonly ElfSegment[];
  /** PT_GNU_STACK's flags, or null without one (the stack is then not executable on arm64). */
  readonly stackFlags: number | null;
  readonly tls: ElfSegment | null;
}

const MACHINES: Readonly<Record<number, string>> = {
  2: 'SPARC',
  3: 'x86 (i386)',
  8: 'MIPS',
  20: 'PowerPC',
  21: 'PowerPC64',
  22: 'S/390',
  40: 'ARM (AArch32)',
  43: 'SPARC64',
  62: 'x86-64',
  183: 'AArch64',
  243: 'RISC-V',
  258: 'LoongArch',
};

function machineName(m: number): string {
  return MACHINES[m] ?? `machine ${m}`;
}

const hexn = (n: number | bigint): string => '0x' + n.toString(16);

/** The first bytes of a non-ELF file, printable, for the message. */
function preview(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes.subarray(0, 5)) {
    if (b === 0x27 || b === 0x5c) s += '\\' + String.fromCharCode(b);
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += '\\x' + b.toString(16).padStart(2, '0');
  }
  return s;
}

/**
 * A path from a file (PT_INTERP) as a message shows it: on one line, with control characters,
 * backslashes and anything beyond ASCII escaped, so that no byte of the file reaches a terminal.
 */
export function printablePath(path: string): string {
  let s = '';
  for (const ch of path) {
    const c = ch.codePointAt(0)!;
    if (c === 0x5c) s += '\\\\';
    else if (c >= 0x20 && c < 0x7f) s += ch;
    else if (c < 0x100) s += '\\x' + c.toString(16).padStart(2, '0');
    else s += '\\u{' + c.toString(16) + '}';
  }
  return s;
}

/**
 * Reads the executable named by the user and validates it. A missing file, a directory or an
 * unreadable file is a UsageError like any malformed one.
 */
export function readElfFile(path: string): ElfImage {
  let bytes: Uint8Array;
  try {
    // do_open_execat and may_open: only a regular file with an execute bit can be run, and the
    // check comes before any read, so a fifo or a device is refused at once.
    const st = statSync(path);
    if (!st.isFile()) throw new UsageError(`${path}: permission denied (EACCES): ${fileKind(st)}, not a regular file, and execve runs only regular files`);
    if ((st.mode & 0o111) === 0) throw new UsageError(`${path}: permission denied (EACCES): no execute permission (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}), which execve requires (chmod +x)`);
    bytes = readFileSync(path);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'ENOTDIR' ? 'a component of the path is not a directory' : (code ?? firstLine((e as Error).message ?? String(e)));
    throw new UsageError(`${path}: cannot read the executable: ${why}`);
  }
  return parseElf(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a fifo';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}

/** Parses and validates an ELF image; throws a UsageError naming `name` and the problem. */
export function parseElf(bytes: Uint8Array, name: string): ElfImage {
  const fail = (what: string): never => {
    throw new UsageError(`${name}: ${what}`);
  };
  const size = bytes.length;
  if (size === 0) fail('not an ELF file (it is empty)');
  const magicOk = bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
  if (!magicOk) {
    // A prefix of the magic is an ELF file cut short, anything else is not ELF at all.
    const prefix = size < 4 && [0x7f, 0x45, 0x4c, 0x46].slice(0, size).every((b, i) => bytes[i] === b);
    if (prefix) fail(`truncated: the ELF header needs ${ELF_HEADER_SIZE} bytes, the file has ${size}`);
    fail(`not an ELF file (starts with '${preview(bytes)}')`);
  }
  if (size < 20) fail(`truncated: the ELF header needs ${ELF_HEADER_SIZE} bytes, the file has ${size}`);
  const eiClass = bytes[4]!;
  const eiData = bytes[5]!;
  if (eiData !== 1 && eiData !== 2) fail(`invalid ELF data encoding (EI_DATA ${eiData}): expected 1, little-endian`);
  if (eiClass !== 1 && eiClass !== 2) fail(`invalid ELF class (EI_CLASS ${eiClass}): expected 2, 64-bit`);
  const little = eiData === 1;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const machine = dv.getUint16(18, little);
  if (machine !== EM_AARCH64) {
    const bits = eiClass === 1 ? '32-bit ' : '';
    fail(`${bits}${machineName(machine)} ELF (e_machine ${machine}): contpte-lab runs arm64 (AArch64) binaries`);
  }
  if (eiClass !== 2) fail('32-bit AArch64 (ILP32) ELF (EI_CLASS 1): contpte-lab runs 64-bit arm64 (LP64) binaries');
  if (!little) fail('big-endian AArch64 ELF (EI_DATA 2): contpte-lab runs little-endian arm64 binaries');
  if (size < ELF_HEADER_SIZE) fail(`truncated: the ELF header needs ${ELF_HEADER_SIZE} bytes, the file has ${size}`);

  const u64 = (off: number, what: string): number => {
    const v = dv.getBigUint64(off, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} ${hexn(v)} is beyond any address or offset the loader can use`);
    return Number(v);
  };

  const type = dv.getUint16(16, true);
  switch (type) {
    case ET_EXEC:
    case ET_DYN:
      break;
    case ET_REL:
      fail('a relocatable object file (ET_REL), not an executable: link it first (static, e.g. gcc -static)');
      break;
    case ET_CORE:
      fail('a core dump (ET_CORE), not an executable');
      break;
    default:
      fail(`unknown ELF type (e_type ${type}): expected ET_EXEC (2) or ET_DYN (3)`);
  }
  const entry = u64(24, 'e_entry');
  const phoff = u64(32, 'e_phoff');
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  if (phentsize !== ELF64_PHDR_SIZE) fail(`e_phentsize is ${phentsize}, expected ${ELF64_PHDR_SIZE} (sizeof Elf64_Phdr)`);
  if (phnum === 0) fail('no program headers (e_phnum 0): nothing to load');
  if (phnum * ELF64_PHDR_SIZE > MAX_PHDR_BYTES) {
    fail(`${phnum} program headers (${phnum * ELF64_PHDR_SIZE} bytes) exceed the ${MAX_PHDR_BYTES} bytes Linux reads`);
  }
  for (let i = 0; i < phnum; i++) {
    const end = phoff + (i + 1) * ELF64_PHDR_SIZE;
    if (end > size) fail(`truncated: program header ${i} ends at byte ${end}, beyond the file's ${size} bytes`);
  }

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * ELF64_PHDR_SIZE;
    const what = (field: string): string => `program header ${i}: ${field}`;
    const type = dv.getUint32(at, true);
    // Only PT_LOAD's placement fields are used: others (PT_TLS, PT_NOTE, unused entries) may
    // hold anything, as the kernel never reads them. A p_align that is a power of two is kept
    // exactly however large (a double holds 2^63): maximum_alignment uses it, and for an ET_DYN
    // it then aligns the load address down to 0, which fails as on Linux; any other value is
    // skipped there, so 0 stands for it beyond 2^53.
    const field = type === PT_LOAD ? u64 : (off: number): number => Number(dv.getBigUint64(off, true));
    const rawAlign = dv.getBigUint64(at + 48, true);
    const hugePow2 = rawAlign > BigInt(Number.MAX_SAFE_INTEGER) && (rawAlign & (rawAlign - 1n)) === 0n;
    segments.push({
      index: i,
      type,
      flags: dv.getUint32(at + 4, true),
      offset: field(at + 8, what('p_offset')),
      vaddr: field(at + 16, what('p_vaddr')),
      filesz: field(at + 32, what('p_filesz')),
      memsz: field(at + 40, what('p_memsz')),
      align: rawAlign > BigInt(Number.MAX_SAFE_INTEGER) && type === PT_LOAD && !hugePow2 ? 0 : Number(rawAlign),
    });
  }

  // The first PT_INTERP names the interpreter (load_elf_binary stops at it): a NUL-terminated
  // path of at most PATH_MAX bytes, or execve fails with ENOEXEC.
  const interpSeg = segments.find((s) => s.type === PT_INTERP);
  let interp: string | null = null;
  if (interpSeg !== undefined) {
    const label = `segment ${interpSeg.index} (PT_INTERP)`;
    if (interpSeg.filesz > PATH_MAX || interpSeg.filesz < 2) fail(`${label}: an interpreter path of ${interpSeg.filesz} bytes (Linux takes 2 to ${PATH_MAX}: ENOEXEC)`);
    if (interpSeg.offset + interpSeg.filesz > size) fail(`truncated: ${label} needs file bytes [${hexn(interpSeg.offset)}, ${hexn(interpSeg.offset + interpSeg.filesz)}) beyond the file's ${size} bytes`);
    const raw = bytes.subarray(interpSeg.offset, interpSeg.offset + interpSeg.filesz);
    if (raw[raw.length - 1] !== 0) fail(`${label}: the interpreter path is not NUL-terminated (ENOEXEC)`);
    const nul = raw.indexOf(0);
    interp = new TextDecoder().decode(raw.subarray(0, nul));
  }

  // load_elf_binary maps them in header order at their own addresses; sorted, the same mappings.
  const loads = segments.filter((s) => s.type === PT_LOAD).sort((a, b) => a.vaddr - b.vaddr || a.index - b.index);
  if (loads.length === 0) fail('no PT_LOAD segment: nothing to load');
  let prev: ElfSegment | null = null;
  for (const s of loads) {
    const label = `segment ${s.index} (PT_LOAD)`;
    if (s.offset + s.filesz > size) {
      // Linux maps past the end of the file; the process then dies when it touches such a page.
      fail(`truncated: ${label} needs file bytes [${hexn(s.offset)}, ${hexn(s.offset + s.filesz)}) beyond the file's ${size} bytes (refused by contpte-lab: Linux maps them, and the process dies of SIGBUS or SIGSEGV once it touches them)`);
    }
    if (s.memsz < s.filesz) fail(`${label}: p_memsz ${hexn(s.memsz)} is smaller than p_filesz ${hexn(s.filesz)} (load_elf_binary fails with EINVAL past the point of no return: the process dies of SIGSEGV)`);
    if (s.vaddr + s.memsz > Number.MAX_SAFE_INTEGER) fail(`${label}: [${hexn(s.vaddr)}, +${hexn(s.memsz)}) runs past the end of the address space`);
    // mmap maps whole pages from page-aligned file offsets: address and offset must agree in
    // their page offset, or the segment's bytes would land at the wrong place.
    if ((s.offset - s.vaddr) % PAGE_SIZE !== 0) {
      fail(`${label}: p_offset ${hexn(s.offset)} and p_vaddr ${hexn(s.vaddr)} differ modulo the ${PAGE_SIZE}-byte page size, so it cannot be mapped from the file`);
    }
    // p_align: the kernel neither requires a power of two nor congruence with it (it skips such
    // values in maximum_alignment), so neither does this loader.
    if (prev !== null && s.vaddr < prev.vaddr + prev.memsz) {
      fail(`${label} [${hexn(s.vaddr)}, ${hexn(s.vaddr + s.memsz)}) overlaps segment ${prev.index} [${hexn(prev.vaddr)}, ${hexn(prev.vaddr + prev.memsz)}): contpte-lab does not load overlapping PT_LOADs (Linux maps the later one over the earlier)`);
    }
    prev = s;
  }

  const stack = segments.find((s) => s.type === PT_GNU_STACK);
  const tls = segments.find((s) => s.type === PT_TLS) ?? null;
  return {
    name,
    bytes,
    kind: type === ET_EXEC ? 'exec' : interp === null ? 'static-pie' : 'pie',
    interp,
    entry,
    phoff,
    phnum,
    segments,
    loads,
    stackFlags: stack === undefined ? null : stack.flags,
    tls,
  };
}

/** The protections of a PT_LOAD segment as PROT_* bits (make_prot without BTI). */
export function segmentProt(flags: number): number {
  let prot = 0;
  if (flags & PF_R) prot |= 0x1;
  if (flags & PF_W) prot |= 0x2;
  if (flags & PF_X) prot |= 0x4;
  return prot;
}
