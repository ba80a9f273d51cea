/**
 * The sigreturn trampoline a handler returns to when it did not pass SA_RESTORER: Linux uses
 * the vDSO's __kernel_rt_sigreturn (arch/arm64/kernel/vdso/sigreturn.S), and glibc and musl on
 * arm64 rely on it. The model has no vDSO (exec.ts), so it maps one page holding the same two
 * instructions, `mov x8, #139` (__NR_rt_sigreturn) and `svc #0`, the first time a handler needs
 * it. The page is an ordinary private anonymous mapping, read and execute only; no auxv entry
 * announces it. It goes at mmap_base, just above everything top-down mmap hands out: as the
 * vDSO mapped at exec does, it stays out of the way of a program that unmaps and remaps its own
 * regions at fixed addresses (the mm selftests do). Only if something sits there already does
 * it go where mmap puts it.
 */
import { PROT_EXEC, PROT_READ, PROT_WRITE } from '../mm/api.js';
import { DEFAULT_TASK_SIZE, MAP_ANONYMOUS, MAP_FIXED_NOREPLACE, MAP_PRIVATE, mmapBase } from '../mm/vma.js';
import { isErrorReturn } from '../util/errno.js';
import type { LinuxProcess } from './process.js';

const PAGE_SIZE = 4096;
/** movz x8, #139 ; svc #0 (little-endian words). */
export const SIGRETURN_CODE = new Uint8Array([0x68, 0x11, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4]);

/** The trampoline's address in `p`, mapping it on first use; null if it cannot be mapped. */
export function sigreturnTrampoline(p: LinuxProcess): number | null {
  const s = p.signals;
  if (s.trampoline !== null) return s.trampoline;
  const flags = MAP_PRIVATE | MAP_ANONYMOUS;
  let va = p.mm.mmap({ addr: mmapBase(DEFAULT_TASK_SIZE), len: PAGE_SIZE, prot: PROT_READ | PROT_WRITE, flags: flags | MAP_FIXED_NOREPLACE, file: null, pgoff: 0 });
  if (isErrorReturn(va)) va = p.mm.mmap({ addr: 0, len: PAGE_SIZE, prot: PROT_READ | PROT_WRITE, flags, file: null, pgoff: 0 });
  if (isErrorReturn(va)) return null;
  if (p.mm.copyToUser(va, SIGRETURN_CODE) !== SIGRETURN_CODE.length || p.mm.mprotect(va, PAGE_SIZE, PROT_READ | PROT_EXEC) !== 0) {
    p.mm.munmap(va, PAGE_SIZE);
    return null;
  }
  s.trampoline = va;
  return va;
}
