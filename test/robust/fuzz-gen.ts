/**
 * Seeded generators of hostile inputs for the fuzzing tests: mutated ELF images and small
 * executables made of random or chosen instructions.
 */
import { buildElf, PT_GNU_STACK, PT_LOAD } from '../linux/elfbuild.js';

/** mulberry32: small, fast, and the same sequence everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Interesting values for 64-bit fields: edges of the number types and of the address space. */
const EDGES = [0n, 1n, 0xfffn, 0x1000n, 0x7fffffffn, 0xffffffffn, 2n ** 40n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n - 0x1000n];

export function mutate(base: Uint8Array, rnd: () => number): Uint8Array {
  const b = base.slice();
  const dv = new DataView(b.buffer);
  const phoff = Number(dv.getBigUint64(32, true));
  const phnum = dv.getUint16(56, true);
  const n = 1 + Math.floor(rnd() * 3);
  for (let k = 0; k < n; k++) {
    const r = rnd();
    if (r < 0.35) {
      // A random byte of the ELF header or the program headers.
      const span = Math.min(b.length, phoff + phnum * 56);
      b[Math.floor(rnd() * span)] = Math.floor(rnd() * 256);
    } else if (r < 0.8 && phnum > 0) {
      // An edge value in a 64-bit program header field (p_offset .. p_align) or the type/flags.
      const at = phoff + Math.floor(rnd() * phnum) * 56;
      if (rnd() < 0.2) dv.setUint32(at + (rnd() < 0.5 ? 0 : 4), Math.floor(rnd() * 8), true);
      else dv.setBigUint64(at + 8 + 8 * Math.floor(rnd() * 6), EDGES[Math.floor(rnd() * EDGES.length)]!, true);
    } else if (r < 0.9) {
      // An edge value in e_entry, e_phoff, or e_phnum / e_phentsize.
      if (rnd() < 0.5) dv.setBigUint64(24 + 8 * Math.floor(rnd() * 2), EDGES[Math.floor(rnd() * EDGES.length)]!, true);
      else dv.setUint16(54 + 2 * Math.floor(rnd() * 2), Math.floor(rnd() * 0x10000), true);
    } else {
      return b.subarray(0, Math.floor(rnd() * b.length));
    }
  }
  return b;
}

/** A static executable whose code is `words` followed by exit_group(0). */
export function codeGuest(words: readonly number[]): Uint8Array {
  const exit = [0xd2800000, 0xd2800bc8, 0xd4000001]; // mov x0, #0; mov x8, #94; svc #0
  const code = [...words, ...exit];
  const b = buildElf({
    entry: 0x400100,
    size: 0x2000,
    phdrs: [
      { type: PT_LOAD, flags: 5, offset: 0, vaddr: 0x400000, filesz: 0x1000, memsz: 0x1000, align: 0x1000 },
      { type: PT_LOAD, flags: 6, offset: 0x1000, vaddr: 0x411000, filesz: 0x1000, memsz: 0x3000, align: 0x1000 },
      { type: PT_GNU_STACK, flags: 6, offset: 0, vaddr: 0, filesz: 0, memsz: 0, align: 16 },
    ],
  });
  const dv = new DataView(b.buffer);
  code.forEach((w, i) => dv.setUint32(0x100 + 4 * i, w >>> 0, true));
  return b;
}

/**
 * A random instruction, biased to what stresses the machine: loads and stores through registers
 * holding edge addresses, svc with random numbers, branches through registers, and raw words.
 */
export function hostileWord(rnd: () => number): number {
  const reg = (): number => Math.floor(rnd() * 31);
  // Half the memory accesses go through x1 (the stack) or x2 (the data segment): they succeed.
  const base = (): number => (rnd() < 0.8 ? 1 + Math.floor(rnd() * 2) : reg());
  const r = rnd();
  if (r < 0.22) return (0xf9400000 | (Math.floor(rnd() * 64) << 10) | (base() << 5) | reg()) >>> 0; // ldr xt, [xn, #imm]
  if (r < 0.36) return (0xf9000000 | (Math.floor(rnd() * 64) << 10) | (base() << 5) | (3 + Math.floor(rnd() * 28))) >>> 0; // str xt, [xn, #imm]
  if (r < 0.48) return (0xd2800000 | (Math.floor(rnd() * 4) << 21) | (Math.floor(rnd() * 0x10000) << 5) | (3 + Math.floor(rnd() * 28))) >>> 0; // movz
  if (r < 0.55) return (0xd2800000 | (Math.floor(rnd() * 0x1000) << 5) | Math.floor(rnd() * 3)) >>> 0; // mov x0..x2, #small
  if (r < 0.68) return (0xd2800008 | (SYSCALLS[Math.floor(rnd() * SYSCALLS.length)]! << 5)) >>> 0; // mov x8, #nr
  if (r < 0.8) return 0xd4000001; // svc #0
  if (r < 0.82) return (0xd61f0000 | (reg() << 5)) >>> 0; // br xn
  if (r < 0.9) return Math.floor(rnd() * 4294967296) >>> 0;
  return 0xd503201f; // nop
}

/** Syscalls worth provoking: memory management, I/O, signals, exit, and numbers nobody implements. */
const SYSCALLS = [63, 64, 93, 94, 129, 131, 134, 135, 172, 214, 215, 216, 222, 226, 233, 260, 278, 293, 435, 999];

/** x1 = sp, x2 = the data segment (0x411000), so that some accesses work. */
export const PROLOGUE = [0x910003e1, 0xd2a00822, 0xf2820002];


/**
 * Guests that can also run under qemu-aarch64 on the host: their system calls are only those
 * that touch nothing outside the process (each `svc` right after the `mov x8` naming it, from
 * SAFE_SYSCALLS, and x8 holds 999 before the first), and their instructions are chosen, not raw
 * words (a raw word may be an instruction one CPU model has and the other lacks). The hostility
 * is in what they do: loads and stores through edge addresses and tagged pointers, misaligned
 * PCs, kernel addresses, system registers, undefined, breakpoint and hypervisor instructions.
 * (Not a misaligned LDXR: the CPU faults, as contpte-lab does, but qemu-user runs it.)
 */
export const COMPARABLE_PROLOGUE = [
  0xd2a00829, // movz x9, #0x41, lsl #16
  0x91400529, // add x9, x9, #1, lsl #12: x9 = 0x411000, the data segment
  0x9120012a, // add x10, x9, #0x800
  0xd2807ce8, // mov x8, #999
];

/** System calls with no effect outside the process: exit, exit_group, sched_yield, munmap, mprotect, rt_sigprocmask, and a number nobody implements. */
export const SAFE_SYSCALLS = [93, 94, 124, 135, 215, 226, 999];

/** One hostile step of a comparable guest: one to three instruction words. */
export function comparableWords(rnd: () => number): number[] {
  const pick = (n: number): number => Math.floor(rnd() * n);
  // Any register but x8 (the syscall number), for results and bases.
  const reg = (): number => {
    const r = pick(30);
    return r >= 8 ? r + 1 : r;
  };
  const base = (): number => (rnd() < 0.8 ? 9 + pick(2) : reg());
  const r = rnd();
  if (r < 0.2) return [(0xf9400000 | (pick(64) << 10) | (base() << 5) | reg()) >>> 0]; // ldr xt, [xn, #imm]
  if (r < 0.32) return [(0xf9000000 | (pick(64) << 10) | (base() << 5) | pick(31)) >>> 0]; // str xt, [xn, #imm]
  if (r < 0.42) return [(0xd2800000 | (pick(4) << 21) | (pick(0x10000) << 5) | reg()) >>> 0]; // movz xd, #imm, lsl #(0..48)
  if (r < 0.48) return [(0xd2800000 | (pick(0x1000) << 5) | pick(3)) >>> 0]; // mov x0..x2, #small
  if (r < 0.58) return [(0xd2800008 | (SAFE_SYSCALLS[pick(SAFE_SYSCALLS.length)]! << 5)) >>> 0, (0xd4000001 | (pick(0x10000) << 5)) >>> 0]; // mov x8, #nr; svc #imm
  if (r < 0.61) return [(0xd61f0000 | (reg() << 5)) >>> 0]; // br xn
  if (r < 0.64) return [[pick(0x10000), (0xd4200000 | (pick(0x10000) << 5)) >>> 0, 0xd4000002, 0xd4000003][pick(4)]!]; // udf, brk, hvc, smc
  if (r < 0.67) return [0xd2a0080b, (0x9100000b | ((0x100 + 1 + pick(3)) << 10) | (11 << 5)) >>> 0, 0xd61f0160]; // br to a misaligned PC in the code
  if (r < 0.71) return [(0xd2800000 | (3 << 21) | ((0x8000 + pick(0x8000)) << 5) | 11) >>> 0, (0xf9400000 | (pick(64) << 10) | (11 << 5) | 12) >>> 0]; // ldr from a kernel address
  if (r < 0.74) return [(0xd2e0000b | (pick(0x100) << 13)) >>> 0, 0x8b09016b, (0xf940016c | (pick(64) << 10)) >>> 0]; // ldr x12 through a tagged pointer to the data (TBI)
  if (r < 0.77) return [[0xd5381000, 0xd50342df][pick(2)]!]; // mrs x0, sctlr_el1; msr daifset, #2
  if (r < 0.8) return [(0xd50b7420 | base()) >>> 0]; // dc zva, xt
  if (r < 0.86) return [(0xb8400000 | ((pick(512) & 0x1ff) << 12) | (base() << 5) | reg()) >>> 0]; // ldur wt, [xn, #-256..255]
  return [0xd503201f]; // nop
}
