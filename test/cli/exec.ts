/**
 * A child process awaited without blocking the test worker: a long `spawnSync` keeps vitest's
 * worker from answering its runner, which reports a timeout when the machine is busy.
 */
import { spawn } from 'node:child_process';

export interface Exec {
  code: number | null;
  out: string;
  err: string;
  /** Why the child could not start (ENOENT: the tool is missing). */
  error?: Error;
}

export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export function exec(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<Exec> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = opts.timeoutMs !== undefined ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : null;
    let startError: Error | undefined;
    child.on('error', (e) => (startError = e));
    child.on('close', (code) => {
      if (timer !== null) clearTimeout(timer);
      resolve({ code, out: Buffer.concat(out).toString('utf8'), err: Buffer.concat(err).toString('utf8'), ...(startError !== undefined ? { error: startError } : {}) });
    });
  });
}
