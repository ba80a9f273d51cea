/**
 * Finding a dynamic program's interpreter (PT_INTERP, e.g. /lib/ld-linux-aarch64.so.1) before
 * execve's point of no return, as load_elf_binary does (fs/binfmt_elf.c, v6.12): the path is
 * opened like an executable (open_exec: the caller's view of the file system, a regular file with
 * an execute bit), its header read, then checked for the ELF magic, the machine and readable
 * program headers. A failure there is still execve's return value: the open's errno (ENOENT for
 * a missing interpreter), EIO for a file shorter than an ELF header, ELIBBAD for anything that is
 * not an arm64 ELF with usable program headers.
 *
 * Like Linux, the interpreter's own PT_INTERP, if it has one, is ignored: the kernel never chains
 * interpreters, it maps the file and jumps to its entry. One difference: what elf.ts refuses in
 * any executable (an e_type other than ET_EXEC or ET_DYN, segments beyond the file's end ...) is
 * ELIBBAD here, where Linux finds some of it only while mapping, past the point of no return
 * (the process then dies of SIGSEGV).
 *
 * The guest's file system is the one the program sees: with `--sysroot` the arm64 root's files
 * (sysroot.ts), so the interpreter and the libraries it opens come from the same tree.
 */
import { filemapRead } from '../mm/pagecache.js';
import { EACCES, EIO, ELIBBAD } from '../util/errno.js';
import { UsageError } from '../util/errors.js';
import { EM_AARCH64, ELF_HEADER_SIZE, parseElf, printablePath, type ElfImage } from './elf.js';
import type { FileSystem, RegNode } from './fs.js';

/** A program interpreter found in the guest's file system. */
export interface Interpreter {
  /** The path PT_INTERP gives. */
  readonly path: string;
  /** Its file in the guest's tree: its pages are mapped from this inode's page cache. */
  readonly node: RegNode;
  readonly image: ElfImage;
}

export type InterpreterLookup = { readonly kind: 'ok'; readonly interp: Interpreter } | { readonly kind: 'error'; readonly errno: number; readonly why: string };

/** Opens and checks the interpreter `image` names (its PT_INTERP must be set). */
export function openInterpreter(fs: FileSystem, image: ElfImage): InterpreterLookup {
  const path = image.interp;
  if (path === null) throw new Error('openInterpreter: the program has no PT_INTERP');
  // open_exec resolves a relative path from the working directory, as open(2) would.
  const found = fs.lookup(fs.cwd, path, true);
  if (found.kind === 'error') return { kind: 'error', errno: found.errno, why: 'cannot open it' };
  const node = found.node;
  if (node.kind !== 'reg') return { kind: 'error', errno: EACCES, why: 'not a regular file' };
  if ((node.mode & 0o111) === 0 || !fs.permits(node, 1)) return { kind: 'error', errno: EACCES, why: 'no execute permission' };
  const bytes = filemapRead(node.inode, 0, node.inode.size);
  // elf_read of the header: a short read is EIO, before any check of what was read.
  if (bytes.length < ELF_HEADER_SIZE) return { kind: 'error', errno: EIO, why: `${bytes.length} bytes, shorter than an ELF header` };
  const magic = bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
  if (!magic) return { kind: 'error', errno: ELIBBAD, why: 'not an ELF file' };
  const machine = bytes[18]! | (bytes[19]! << 8);
  if (machine !== EM_AARCH64 || bytes[4] !== 2 || bytes[5] !== 1) return { kind: 'error', errno: ELIBBAD, why: 'not a 64-bit little-endian arm64 ELF' };
  try {
    return { kind: 'ok', interp: { path, node, image: parseElf(bytes, printablePath(path)) } };
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return { kind: 'error', errno: ELIBBAD, why: e.message };
  }
}
