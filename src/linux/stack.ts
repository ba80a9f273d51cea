/**
 * The initial stack of a new program, laid out byte for byte as Linux lays it out (v6.9):
 *
 *   stack top ─┐  8 bytes of zero                      (bprm->p starts one pointer below the top)
 *              │  AT_EXECFN string                      copy_string_kernel(bprm->filename)
 *              │  envp strings, last one highest        copy_strings(envc, envp)
 *              │  argv strings, argv[0] lowest          copy_strings(argc, argv) → arg_start
 *              │  (down to a 16-byte boundary)          arch_align_stack (no randomisation)
 *              │  "aarch64\0"                           AT_PLATFORM          ┐
 *              │  16 random bytes                       AT_RANDOM            │ create_elf_tables
 *              │  auxv pairs, AT_NULL last              (fs/binfmt_elf.c)    │
 *              │  envp pointers, NULL                                        │
 *              │  argv pointers, NULL                                        │
 *   sp ────────┘  argc                                  sp 16-byte aligned   ┘
 *
 * Only the auxv/envp/argv/argc block moves down to keep sp aligned (STACK_ROUND), so there can
 * be up to 15 bytes between the end of the auxv and the random bytes, as on Linux.
 */
import { UsageError } from '../util/errors.js';

export const AT_NULL = 0;
export const AT_IGNORE = 1;
export const AT_EXECFD = 2;
export const AT_PHDR = 3;
export const AT_PHENT = 4;
export const AT_PHNUM = 5;
export const AT_PAGESZ = 6;
export const AT_BASE = 7;
export const AT_FLAGS = 8;
export const AT_ENTRY = 9;
export const AT_NOTELF = 10;
export const AT_UID = 11;
export const AT_EUID = 12;
export const AT_GID = 13;
export const AT_EGID = 14;
export const AT_PLATFORM = 15;
export const AT_HWCAP = 16;
export const AT_CLKTCK = 17;
export const AT_SECURE = 23;
export const AT_BASE_PLATFORM = 24;
export const AT_RANDOM = 25;
export const AT_HWCAP2 = 26;
export const AT_RSEQ_FEATURE_SIZE = 27;
export const AT_RSEQ_ALIGN = 28;
export const AT_EXECFN = 31;
export const AT_SYSINFO_EHDR = 33;
export const AT_MINSIGSTKSZ = 51;

const AT_NAMES: Readonly<Record<number, string>> = {
  [AT_NULL]: 'AT_NULL', [AT_IGNORE]: 'AT_IGNORE', [AT_EXECFD]: 'AT_EXECFD', [AT_PHDR]: 'AT_PHDR', [AT_PHENT]: 'AT_PHENT',
  [AT_PHNUM]: 'AT_PHNUM', [AT_PAGESZ]: 'AT_PAGESZ', [AT_BASE]: 'AT_BASE', [AT_FLAGS]: 'AT_FLAGS', [AT_ENTRY]: 'AT_ENTRY',
  [AT_NOTELF]: 'AT_NOTELF', [AT_UID]: 'AT_UID', [AT_EUID]: 'AT_EUID', [AT_GID]: 'AT_GID', [AT_EGID]: 'AT_EGID',
  [AT_PLATFORM]: 'AT_PLATFORM', [AT_HWCAP]: 'AT_HWCAP', [AT_CLKTCK]: 'AT_CLKTCK', [AT_SECURE]: 'AT_SECURE',
  [AT_BASE_PLATFORM]: 'AT_BASE_PLATFORM', [AT_RANDOM]: 'AT_RANDOM', [AT_HWCAP2]: 'AT_HWCAP2',
  [AT_RSEQ_FEATURE_SIZE]: 'AT_RSEQ_FEATURE_SIZE', [AT_RSEQ_ALIGN]: 'AT_RSEQ_ALIGN', [AT_EXECFN]: 'AT_EXECFN',
  [AT_SYSINFO_EHDR]: 'AT_SYSINFO_EHDR', [AT_MINSIGSTKSZ]: 'AT_MINSIGSTKSZ',
};

export function auxvName(type: number): string {
  return AT_NAMES[type] ?? `AT_${type}`;
}

/** ELF_PLATFORM on little-endian arm64. */
export const ELF_PLATFORM = 'aarch64';
/** MAX_ARG_STRLEN: 32 pages per argument or environment string. */
export const MAX_ARG_STRLEN = 32 * 4096;
/**
 * What arguments, environment and program name may take together (bprm_stack_limits with the
 * default 8 MiB RLIMIT_STACK: a quarter of it), less a pointer for each string.
 */
export const ARG_SPACE = 2 * 1024 * 1024;
/** CLOCKS_PER_SEC as AT_CLKTCK reports it (USER_HZ). */
export const USER_HZ = 100;
/** sizeof(struct elf64_phdr). */
export const PHENT_SIZE = 56;

/** The values of the auxiliary vector that are not addresses on the stack. */
export interface AuxValues {
  readonly hwcap: number;
  readonly hwcap2: number;
  readonly phdr: number;
  readonly phnum: number;
  readonly entry: number;
  /** AT_BASE: where the interpreter was loaded (0, the default, for a static program). */
  readonly base?: number;
  readonly uid: number;
  readonly gid: number;
  /** struct rseq's feature size and alignment (v6.3+), or null to leave the entries out. */
  readonly rseq: { readonly featureSize: number; readonly align: number } | null;
}

export interface StackInput {
  /** The end of the stack VMA (STACK_TOP). */
  readonly top: number;
  readonly argv: readonly string[];
  readonly envp: readonly string[];
  /** The name the program was executed by (AT_EXECFN). */
  readonly execfn: string;
  readonly random: Uint8Array;
  readonly aux: AuxValues;
}

/** A block of bytes to write at an address. */
export interface StackWrite {
  readonly addr: number;
  readonly bytes: Uint8Array;
}

export interface StackLayout {
  /** The initial stack pointer: argc is there. */
  readonly sp: number;
  /** Lowest address written (the page the stack reaches down to at start). */
  readonly low: number;
  /** mm->arg_start/arg_end/env_start/env_end. */
  readonly argStart: number;
  readonly argEnd: number;
  readonly envEnd: number;
  readonly execfnAddr: number;
  readonly platformAddr: number;
  readonly randomAddr: number;
  readonly argvAddrs: readonly number[];
  readonly envpAddrs: readonly number[];
  /** The auxiliary vector as written, AT_NULL last. */
  readonly auxv: readonly (readonly [number, number])[];
  /** The strings, in the order exec copies them (execfn, envp last to first, argv last to first). */
  readonly strings: readonly StackWrite[];
  /** create_elf_tables' writes: platform, random bytes, then argc … AT_NULL. */
  readonly tables: readonly StackWrite[];
}

function cString(s: string, what: string): Uint8Array {
  const b = new TextEncoder().encode(s + '\0');
  if (b.indexOf(0) !== b.length - 1) throw new UsageError(`${what} contains a NUL byte`);
  if (b.length > MAX_ARG_STRLEN) throw new UsageError(`${what} is ${b.length} bytes long; Linux takes at most ${MAX_ARG_STRLEN} (MAX_ARG_STRLEN)`);
  return b;
}

export function layoutStack(input: StackInput): StackLayout {
  if (input.random.length !== 16) throw new RangeError('AT_RANDOM needs 16 bytes');
  const strings: StackWrite[] = [];
  // bprm->p: one pointer below the top, strings copied downwards from there.
  let p = input.top - 8;
  const put = (s: string, what: string): number => {
    const b = cString(s, what);
    p -= b.length;
    strings.push({ addr: p, bytes: b });
    return p;
  };
  const execfnAddr = put(input.execfn, 'the program name');
  const envpAddrs: number[] = new Array<number>(input.envp.length);
  for (let i = input.envp.length - 1; i >= 0; i--) envpAddrs[i] = put(input.envp[i]!, `environment string ${i}`);
  const argvAddrs: number[] = new Array<number>(input.argv.length);
  for (let i = input.argv.length - 1; i >= 0; i--) argvAddrs[i] = put(input.argv[i]!, `argument ${i}`);
  const argStart = p;
  const ptrBytes = (Math.max(input.argv.length, 1) + input.envp.length) * 8;
  const used = input.top - 8 - argStart;
  if (used > ARG_SPACE - ptrBytes) {
    throw new UsageError(`arguments, environment and program name take ${used} bytes; Linux allows ${ARG_SPACE - ptrBytes} here (E2BIG)`);
  }
  const argEnd = input.envp.length > 0 ? envpAddrs[0]! : execfnAddr;
  const envEnd = execfnAddr;

  p = Math.floor(argStart / 16) * 16;
  const platform = new TextEncoder().encode(ELF_PLATFORM + '\0');
  p -= platform.length;
  const platformAddr = p;
  p -= 16;
  const randomAddr = p;

  const a = input.aux;
  const auxv: [number, number][] = [
    [AT_HWCAP, a.hwcap],
    [AT_PAGESZ, 4096],
    [AT_CLKTCK, USER_HZ],
    [AT_PHDR, a.phdr],
    [AT_PHENT, PHENT_SIZE],
    [AT_PHNUM, a.phnum],
    [AT_BASE, a.base ?? 0],
    [AT_FLAGS, 0],
    [AT_ENTRY, a.entry],
    [AT_UID, a.uid],
    [AT_EUID, a.uid],
    [AT_GID, a.gid],
    [AT_EGID, a.gid],
    [AT_SECURE, 0],
    [AT_RANDOM, randomAddr],
    [AT_HWCAP2, a.hwcap2],
    [AT_EXECFN, execfnAddr],
    [AT_PLATFORM, platformAddr],
  ];
  if (a.rseq !== null) auxv.push([AT_RSEQ_FEATURE_SIZE, a.rseq.featureSize], [AT_RSEQ_ALIGN, a.rseq.align]);
  auxv.push([AT_NULL, 0]);

  const eiWords = auxv.length * 2;
  const argc = input.argv.length;
  const envc = input.envp.length;
  const items = argc + 1 + (envc + 1) + 1;
  const sp = Math.floor((p - eiWords * 8 - items * 8) / 16) * 16;

  const words = items + eiWords;
  const table = new DataView(new ArrayBuffer(words * 8));
  let w = 0;
  const word = (v: number): void => {
    table.setBigUint64(w * 8, BigInt(v), true);
    w++;
  };
  word(argc);
  for (const addr of argvAddrs) word(addr);
  word(0);
  for (const addr of envpAddrs) word(addr);
  word(0);
  for (const [type, value] of auxv) {
    word(type);
    word(value);
  }

  return {
    sp,
    low: sp,
    argStart,
    argEnd,
    envEnd,
    execfnAddr,
    platformAddr,
    randomAddr,
    argvAddrs,
    envpAddrs,
    auxv,
    strings,
    tables: [
      { addr: platformAddr, bytes: platform },
      { addr: randomAddr, bytes: input.random },
      { addr: sp, bytes: new Uint8Array(table.buffer) },
    ],
  };
}
