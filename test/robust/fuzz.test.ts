/**
 * Seeded fuzzing (issue 12's "done when", issue 15 item 6): mutated copies of a real static
 * binary and of a small hand-built one, and hostile guests made of random instruction words,
 * each run in-process through the whole machine under an instruction budget. Every outcome must
 * be the guest's own (an exit status, a signal, a budget stop) or a one-line LabError (exit 2
 * for bad input): never another exception (a stack trace), a native crash (which would end the
 * test process) or a hang (the budget and the test timeout bound every run).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runMachine } from '../../src/machine/run.js';
import { LabError } from '../../src/util/errors.js';
import { firmwareBinary } from '../firmware/cases.js';
import { buildElf, PT_GNU_STACK, PT_LOAD } from '../linux/elfbuild.js';

const SEED = 0x5eed1234;
const dir = mkdtempSync(join(tmpdir(), 'contpte-fuzz-'));

/** mulberry32: small, fast, and the same sequence everywhere. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Outcome = { kind: 'ran'; exit: number | null; reason: string } | { kind: 'refused'; exitCode: number; message: string };

async function outcome(bytes: Uint8Array, name: string): Promise<Outcome> {
  const file = join(dir, name);
  writeFileSync(file, bytes, { mode: 0o755 });
  try {
    const r = await runMachine({ elf: file, maxInsns: 3_000_000, stdout: () => {}, stderr: () => {}, diagnostics: () => {} });
    return { kind: 'ran', exit: r.end.exitCode, reason: r.end.reason };
  } catch (e) {
    if (e instanceof LabError) return { kind: 'refused', exitCode: e.exitCode, message: e.message };
    throw new Error(`${name}: not a LabError: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
}

function check(o: Outcome, name: string): void {
  if (o.kind === 'refused') {
    expect(o.message, name).not.toContain('\n');
    expect([2, 137], `${name}: ${o.message}`).toContain(o.exitCode);
  } else {
    // 'crash' is the tool giving up on the guest: a defect whatever the input was.
    expect(o.reason, `${name}: ${JSON.stringify(o)}`).not.toBe('crash');
  }
}

/** Interesting values for 64-bit fields: edges of the number types and of the address space. */
const EDGES = [0n, 1n, 0xfffn, 0x1000n, 0x7fffffffn, 0xffffffffn, 2n ** 40n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n - 0x1000n];

function mutate(base: Uint8Array, rnd: () => number): Uint8Array {
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
function codeGuest(words: readonly number[]): Uint8Array {
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
function hostileWord(rnd: () => number): number {
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
const PROLOGUE = [0x910003e1, 0xd2a00822, 0xf2820002];

describe(`seeded fuzzing (seed 0x${SEED.toString(16)})`, () => {
  const rnd = prng(SEED);

  it('200 mutations of a real static glibc binary and of a small executable', async () => {
    const bases = [new Uint8Array(readFileSync(firmwareBinary('hello'))), codeGuest([0xd503201f])];
    const tally = { ran: 0, refused: 0 };
    for (let i = 0; i < 200; i++) {
      const name = `mut-${i}`;
      const o = await outcome(mutate(bases[i % 2]!, rnd), name);
      check(o, name);
      tally[o.kind]++;
    }
    // Both kinds of outcome are exercised.
    expect(tally.ran).toBeGreaterThan(10);
    expect(tally.refused).toBeGreaterThan(10);
  }, 120_000);

  it('120 hostile guests of random instructions', async () => {
    const ends = new Map<string, number>();
    for (let i = 0; i < 120; i++) {
      const name = `hostile-${i}`;
      const words = [...PROLOGUE, ...Array.from({ length: 2 + Math.floor(rnd() * 10) }, () => hostileWord(rnd))];
      const o = await outcome(codeGuest(words), name);
      check(o, name);
      const key = o.kind === 'ran' ? `${o.reason} ${o.exit}` : `refused ${o.exitCode}`;
      ends.set(key, (ends.get(key) ?? 0) + 1);
    }
    // Several different ends: guests that exit, and guests killed by signals.
    expect(ends.size).toBeGreaterThanOrEqual(3);
    expect([...ends.keys()].some((k) => k.startsWith('exit '))).toBe(true);
    expect([...ends.keys()].some((k) => k.startsWith('signal '))).toBe(true);
  }, 120_000);
});
