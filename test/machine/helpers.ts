/** Running firmware in-process through the real machine, capturing the guest's output. */
import { spawnSync } from 'node:child_process';
import { runMachine, type RunOptions, type RunOutcome } from '../../src/machine/run.js';

export interface CapturedRun extends RunOutcome {
  stdout: string;
  stderr: string;
  diagnostics: string[];
}

export async function runCaptured(opts: RunOptions): Promise<CapturedRun> {
  let stdout = '';
  let stderr = '';
  const diagnostics: string[] = [];
  const dec = new TextDecoder();
  const r = await runMachine({
    ...opts,
    stdout: (b) => (stdout += dec.decode(b)),
    stderr: (b) => (stderr += dec.decode(b)),
    diagnostics: (l) => diagnostics.push(l),
  });
  return { ...r, stdout, stderr, diagnostics };
}

/** qemu-aarch64's stdout and exit code for the same program (the reference). */
export function runQemu(elf: string, args: readonly string[]): { stdout: string; status: number | null } {
  const r = spawnSync('qemu-aarch64', [elf, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error('qemu-aarch64 is not installed: apt-get install qemu-user');
  }
  return { stdout: r.stdout, status: r.status };
}
