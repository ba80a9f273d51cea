/**
 * Tiny hostile guests for robustness tests: arm64 assembly assembled and linked by the cross
 * compiler into static executables (no libc), cached per source in one temporary folder.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DIR = join(tmpdir(), `contpte-lab-guests-${process.getuid?.() ?? 0}`);

function gcc(args: string[]): void {
  const r = spawnSync('aarch64-linux-gnu-gcc', args, { encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('aarch64-linux-gnu-gcc is missing: apt-get install gcc-aarch64-linux-gnu');
  if (r.status !== 0) throw new Error(`aarch64-linux-gnu-gcc ${args.join(' ')}: ${r.stderr}`);
}

/** A static executable whose `_start` is `body` (GNU as syntax). */
export function asmGuest(body: string): string {
  const src = `.text\n.globl _start\n.p2align 2\n_start:\n${body}\n`;
  const key = createHash('sha256').update(src).digest('hex').slice(0, 16);
  mkdirSync(DIR, { recursive: true });
  const out = join(DIR, `asm-${key}`);
  if (!existsSync(out)) {
    const s = join(DIR, `asm-${key}.S`);
    writeFileSync(s, src);
    gcc(['-nostdlib', '-static', '-o', out + '.tmp', s]);
    spawnSync('mv', [out + '.tmp', out]);
  }
  return out;
}

/** A static (or static-pie) glibc program from C source. */
export function cGuest(source: string, flags: readonly string[] = ['-static']): string {
  const key = createHash('sha256').update(source + flags.join(' ')).digest('hex').slice(0, 16);
  mkdirSync(DIR, { recursive: true });
  const out = join(DIR, `c-${key}`);
  if (!existsSync(out)) {
    const s = join(DIR, `c-${key}.c`);
    writeFileSync(s, source);
    gcc([...flags, '-O2', '-o', out + '.tmp', s]);
    spawnSync('mv', [out + '.tmp', out]);
  }
  return out;
}
