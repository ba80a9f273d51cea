/**
 * compare's thread pool in a process of its own (report/pool-process.ts): results as the threads
 * give them, and a native crash (here a worker that aborts the whole process, as a crash inside
 * Unicorn would) costing only the cases that process had in progress, which come back `lost`;
 * the next case gets a new process. End to end, compare's results with the pool process equal
 * those of one child per case (--isolate).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaseProcessPool, isLost } from '../../src/report/pool-process.js';
import type { RunSpec } from '../../src/report/runner.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist/src/cli/main.js');
const spec = (args: string[]): RunSpec => ({ elf: join(ROOT, 'firmware/bin/hello'), args, sets: [], extra: [] });

/** The pids whose command line (NUL-separated, as /proc gives it) contains `needle`. */
function processesRunning(needle: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'latin1').includes(needle)) found.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

describe("compare's pool in a process of its own", () => {
  it('a native crash in one case loses only the cases of that process, and the next case gets a new process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pool-process-'));
    // A worker that answers at once, except on 'slow' (after 300 ms) and 'crash' (the whole
    // process gets SIGSEGV, as from a segfault inside Unicorn).
    const file = join(dir, 'crashing-worker.mjs');
    writeFileSync(
      file,
      `import { parentPort } from 'node:worker_threads';
parentPort.on('message', (m) => {
  const a = m.spec.args[0];
  if (a === 'crash') setTimeout(() => process.kill(process.pid, 'SIGSEGV'), 100);
  else setTimeout(() => parentPort.postMessage({ kind: 'done', id: m.id, output: { stdout: '', stderr: 'contpte-lab: ran ' + a + '\\n', exitCode: 2 } }), a === 'slow' ? 300 : 0);
});
parentPort.postMessage({ kind: 'ready' });
`,
    );
    const pool = new CaseProcessPool(2, { workerFile: file });
    try {
      const first = await pool.run(spec(['one']));
      expect(first).toMatchObject({ ok: false, error: 'exit code 2: contpte-lab: ran one', exitCode: 2 });
      // Two threads: 'slow' is still running when 'crash' takes the process down.
      const [slow, crash] = await Promise.all([pool.run(spec(['slow'])), pool.run(spec(['crash']))]);
      expect(isLost(slow) && isLost(crash)).toBe(true);
      expect(crash).toEqual({ lost: "the pool's process ended (signal SIGSEGV)" });
      const after = await pool.run(spec(['two']));
      expect(after).toMatchObject({ ok: false, error: 'exit code 2: contpte-lab: ran two', exitCode: 2 });
    } finally {
      await pool.close();
    }
  }, 60_000);

  it('compare gives the same table with its pool process as with a process per case (--isolate), and leaves no process behind', async () => {
    const args = ['compare', '--preset', 'page_fault3-regression', '--format', 'csv', '--', '16M', '2'];
    const child = spawn('node', [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(status, err).toBe(0);
    const isolated = spawnSync('node', [CLI, 'compare', '--isolate', ...args.slice(1)], { encoding: 'utf8' });
    expect(isolated.status, isolated.stderr).toBe(0);
    const counts = (csv: string): string => csv.split('\n').map((l) => l.split(',').slice(0, 11).join(',')).join('\n');
    expect(counts(out)).toBe(counts(isolated.stdout));
    expect(out.split('\n').length).toBe(6);
    // The pool's process names its compare on its command line; none is left for this one.
    expect(processesRunning(`pool-host.js\0--for-pid\0${child.pid}\0`)).toEqual([]);
  }, 120_000);
});
