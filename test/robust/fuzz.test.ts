/**
 * Seeded fuzzing (issue 12's "done when", issue 15 item 6): mutated copies of a real static
 * binary and of a small hand-built one, and hostile guests made of random instruction words,
 * each run in-process through the whole machine under an instruction budget. Every outcome must
 * be the guest's own (an exit status, a signal, a budget stop) or a one-line LabError (exit 2
 * for bad input): never another exception (a stack trace), a native crash (which would end the
 * test process) or a hang (the budget and the test timeout bound every run).
 *
 * Where qemu-aarch64 can run the same file, the guest's own outcome must be the one it gives: a
 * mutated ELF both loaders accept, and hostile guests whose system calls touch nothing outside
 * the process (fuzz-gen.ts comparableWords; the random-word guests may make any system call, so
 * they never run on the host).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runMachine } from '../../src/machine/run.js';
import { LabError } from '../../src/util/errors.js';
import { firmwareBinary } from '../firmware/cases.js';
import { codeGuest, COMPARABLE_PROLOGUE, comparableWords, hostileWord, mutate, prng, PROLOGUE } from './fuzz-gen.js';

const SEED = 0x5eed1234;
const dir = mkdtempSync(join(tmpdir(), 'contpte-fuzz-'));

type Outcome = { kind: 'ran'; exit: number | null; reason: string; message?: string } | { kind: 'refused'; exitCode: number; message: string };

async function outcome(bytes: Uint8Array, name: string): Promise<Outcome> {
  const file = join(dir, name);
  writeFileSync(file, bytes, { mode: 0o755 });
  try {
    const r = await runMachine({ elf: file, maxInsns: 3_000_000, stdout: () => {}, stderr: () => {}, diagnostics: () => {} });
    return { kind: 'ran', exit: r.end.exitCode, reason: r.end.reason, ...(r.end.message !== undefined ? { message: r.end.message } : {}) };
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

/**
 * The file under qemu-aarch64 (in the scratch folder, stdin empty): its exit status as a shell
 * reports it, or null when qemu's own loader refused the file.
 */
function qemu(file: string): number | null {
  const r = spawnSync('qemu-aarch64', [file], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw new Error(`qemu-aarch64 does not run (${r.error.message}): apt-get install qemu-user`);
  if (r.stderr.startsWith('qemu-aarch64: ')) return null;
  return r.status ?? 128 + constants.signals[r.signal!];
}

/**
 * A branch (or an entry point) to a misaligned address in an unmapped page: the PC alignment
 * fault comes before the instruction abort (QEMU's translator says so, and Linux sends SIGBUS),
 * but qemu-user looks the page up first and sends SIGSEGV.
 */
function qemuUserOnly(o: Outcome, q: number | null): boolean {
  return o.kind === 'ran' && o.exit === 135 && q === 139 && /misaligned PC/.test(o.message ?? '');
}

describe(`seeded fuzzing (seed 0x${SEED.toString(16)})`, () => {
  const rnd = prng(SEED);

  it('200 mutations of a real static glibc binary and of a small executable', async () => {
    const bases = [new Uint8Array(readFileSync(firmwareBinary('hello'))), codeGuest([0xd503201f])];
    const tally = { ran: 0, refused: 0, compared: 0, qemuUserOnly: 0 };
    for (let i = 0; i < 200; i++) {
      const name = `mut-${i}`;
      const o = await outcome(mutate(bases[i % 2]!, rnd), name);
      check(o, name);
      tally[o.kind]++;
      // Both loaders took it: the same end. (contpte-lab refuses, as a one-line error, some files
      // Linux's execve would start, such as a segment past the end of the file; qemu-aarch64
      // loads more than Linux does: those are not compared.)
      if (o.kind === 'ran') {
        const q = qemu(join(dir, name));
        if (qemuUserOnly(o, q)) tally.qemuUserOnly++;
        else if (q !== null) {
          expect(`${name}: ${o.exit} (${o.message ?? o.reason})`).toBe(`${name}: ${q} (${o.message ?? o.reason})`);
          tally.compared++;
        }
      }
    }
    // Both kinds of outcome are exercised, and most files that ran were compared.
    expect(tally.ran).toBeGreaterThan(10);
    expect(tally.refused).toBeGreaterThan(10);
    expect(tally.compared).toBeGreaterThan(tally.ran * 0.9);
    expect(tally.qemuUserOnly).toBeLessThanOrEqual(8);
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

  it('150 hostile guests that qemu-aarch64 can run end as they do there', async () => {
    const own = prng(SEED + 1);
    const ends = new Map<string, number>();
    let misalignedUnmapped = 0;
    for (let i = 0; i < 150; i++) {
      const name = `comparable-${i}`;
      const words = [...COMPARABLE_PROLOGUE];
      const steps = 2 + Math.floor(own() * 12);
      for (let k = 0; k < steps; k++) words.push(...comparableWords(own));
      const o = await outcome(codeGuest(words), name);
      check(o, name);
      expect(o.kind, name).toBe('ran');
      if (o.kind !== 'ran') continue;
      const q = qemu(join(dir, name));
      if (qemuUserOnly(o, q)) {
        misalignedUnmapped++;
        continue;
      }
      expect(`${name}: ${o.exit} (${o.message ?? o.reason})`).toBe(`${name}: ${q} (${o.message ?? o.reason})`);
      ends.set(String(o.exit), (ends.get(String(o.exit)) ?? 0) + 1);
    }
    // Every end is exercised: exits, SIGILL, SIGTRAP, SIGBUS, SIGSEGV.
    expect([...ends.keys()].sort()).toEqual(expect.arrayContaining(['0', '132', '133', '135', '139']));
    expect(misalignedUnmapped).toBeLessThan(5);
  }, 120_000);
});
