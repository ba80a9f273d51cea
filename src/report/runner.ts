/**
 * Running cases as child processes: `node <package>/dist/src/cli/main.js run <elf> --json
 * --profile P --set k=v ... -- args`, a pool of at most `jobs` at a time (a child is one
 * single-threaded emulator, so one per CPU), results returned in the cases' order whatever order
 * they finish in. A child that fails (no summary on its output) is a failed result carrying its
 * error, never an exception.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvironmentError } from '../util/errors.js';
import { summaryFromJson, type Summary } from './summary.js';

/** One child run: everything that decides what the emulator does (cost settings are not here). */
export interface RunSpec {
  elf: string;
  args: readonly string[];
  profile?: string;
  sets: readonly string[];
  /** Extra `run` options, e.g. ['--max-insns', '1e9'] or a trace. */
  extra: readonly string[];
}

export type RunResult =
  | { ok: true; summary: Summary; seconds: number; stderr: string }
  /** `summary`: the child finished but its guest did not (report/outcome.ts); never compared. */
  | { ok: false; error: string; exitCode: number | null; seconds: number; stderr: string; summary?: Summary };

/** The package root: the nearest folder above this module whose package.json names contpte-lab. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'contpte-lab') return dir;
      } catch {
        // not ours; keep climbing
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new EnvironmentError('cannot find the contpte-lab package root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** The compiled CLI the children run. */
export function cliPath(): string {
  return builtModulePath('dist/src/cli/main.js');
}

/** A compiled module of the package (`rel` from its root); missing until `npm run build`. */
export function builtModulePath(rel: string): string {
  const p = join(packageRoot(), rel);
  if (!existsSync(p)) throw new EnvironmentError(`${p} is missing: build the package first ('npm run build')`);
  return p;
}

/** The child's command line after `node <cli>`. */
export function runArgv(r: RunSpec): string[] {
  const argv = ['run', r.elf, '--json'];
  if (r.profile !== undefined) argv.push('--profile', r.profile);
  for (const s of r.sets) argv.push('--set', s);
  argv.push(...r.extra);
  if (r.args.length > 0) argv.push('--', ...r.args);
  return argv;
}

/**
 * The summary in a child's output: the last JSON object that starts a line (the guest's own
 * output may come before it) or that starts with `{"exit_code"` (after guest output without a
 * final newline), in stdout, else in stderr.
 */
export function findSummary(stdout: string, stderr: string): Summary | string {
  let lastError = 'no JSON summary in the output';
  for (const text of [stdout, stderr]) {
    const starts: number[] = [];
    for (let i = text.indexOf('{'); i >= 0; i = text.indexOf('{', i + 1)) {
      if (i === 0 || text[i - 1] === '\n' || text.startsWith('{"exit_code"', i)) starts.push(i);
    }
    for (let k = starts.length - 1; k >= 0; k--) {
      const candidate = text.slice(starts[k]).trim();
      let v: unknown;
      try {
        v = JSON.parse(candidate);
      } catch {
        continue;
      }
      try {
        return summaryFromJson(v);
      } catch (e) {
        lastError = `the JSON output is not a summary (${e instanceof Error ? e.message : String(e)})`;
      }
    }
  }
  return lastError;
}

/** One line saying why a child failed: its last 'contpte-lab: ...' error line, else its last line. */
function errorLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i]!.startsWith('contpte-lab:')) return lines[i]!;
  return lines[lines.length - 1] ?? '';
}

/**
 * A finished run's result from what it printed and its exit status: its summary when it printed
 * one, else a failure naming its error line. The same for a child and for a case run in a thread
 * (case-run.ts), so both read alike.
 */
export function resultOfOutput(stdout: string, stderr: string, code: number | null, seconds: number): RunResult {
  const found = findSummary(stdout, stderr);
  if (typeof found !== 'string') return { ok: true, summary: found, seconds, stderr };
  const why = errorLine(stderr) || found;
  return { ok: false, error: `exit code ${code ?? 'none'}: ${why}`, exitCode: code, seconds, stderr };
}

export interface ChildOptions {
  /** The CLI script to run (default: this package's compiled CLI). */
  cli?: string;
  /** Kill a child after this many seconds (default: no limit). */
  timeoutSeconds?: number;
}

/** Children still running, so that a signal to the parent can end them too. */
const liveChildren = new Set<ChildProcess>();

/** Sends `signal` to every child run still going (compare's SIGINT/SIGTERM); returns how many. */
export function stopChildren(signal: NodeJS.Signals): number {
  let n = 0;
  for (const c of liveChildren) if (c.kill(signal)) n++;
  return n;
}

/** Runs one case as a child process and reads its summary. */
export function runChild(r: RunSpec, opts: ChildOptions = {}): Promise<RunResult> {
  const cli = opts.cli ?? cliPath();
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...runArgv(r)], { stdio: ['ignore', 'pipe', 'pipe'] });
    liveChildren.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer =
      opts.timeoutSeconds !== undefined
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutSeconds * 1000)
        : null;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const finish = (code: number | null, spawnError?: Error): void => {
      liveChildren.delete(child);
      if (timer !== null) clearTimeout(timer);
      const seconds = (performance.now() - t0) / 1000;
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (spawnError !== undefined) {
        resolve({ ok: false, error: `cannot start ${process.execPath}: ${spawnError.message}`, exitCode: null, seconds, stderr });
        return;
      }
      if (timedOut) {
        resolve({ ok: false, error: `killed after ${opts.timeoutSeconds} s`, exitCode: code, seconds, stderr });
        return;
      }
      resolve(resultOfOutput(stdout, stderr, code, seconds));
    };
    child.on('error', (e) => finish(null, e));
    child.on('close', (code) => finish(code));
  });
}

/** Progress of a pool: called when a task starts and when it ends. */
export interface PoolProgress {
  started(index: number): void;
  finished(index: number, ok: boolean): void;
}

/**
 * Runs `tasks` with at most `jobs` in flight; results come back in the tasks' order.
 */
export async function runPool<T>(tasks: readonly (() => Promise<T>)[], jobs: number, ok: (t: T) => boolean, progress?: PoolProgress): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      progress?.started(i);
      const r = await tasks[i]!();
      results[i] = r;
      progress?.finished(i, ok(r));
    }
  };
  const n = Math.max(1, Math.min(jobs, tasks.length));
  await Promise.all(Array.from({ length: n }, worker));
  return results;
}
