/**
 * SIGINT and SIGTERM during a run: the guest stops at the next time slice, the summary so far is
 * printed (end reason 'interrupted'), every trace is closed validly and says so, the exit status
 * is 130/143; compare stops the cases of its threads, or with --isolate its child runs, leaving
 * none behind, and prints the cases that had finished as a partial table.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');
// page_fault3 faults all the time, and faults are where a slice ends on every Unicorn version:
// with 2.0.1, a loop that makes no svc or abort (compute) sees the signal only when it ends.
const PAGE_FAULT3 = join(process.cwd(), 'firmware/bin/page_fault3');
const dir = mkdtempSync(join(tmpdir(), 'contpte-interrupt-'));
/** Iterations of a 1 MiB region that take hours: only a signal ends the run in time. */
const FOREVER = '4000000000';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Starts the CLI, waits until `ready()` holds (the guest is running), sends `sig`, collects the result. */
async function interrupt(args: string[], ready: () => boolean, sig: NodeJS.Signals): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  for (let i = 0; i < 300 && !ready(); i++) await sleep(100);
  await sleep(1000);
  child.kill(sig);
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await done;
  clearTimeout(timer);
  return { code, out, err };
}

/** The trace file is opened once the signal handlers are in place and the machine is built. */
const opened = (file: string): (() => boolean) => () => existsSync(file);

describe('a signal during run', () => {
  it('SIGINT: exit 130, the partial summary marked interrupted, the JSONL trace ends with its end record', async () => {
    const trace = join(dir, 't.jsonl');
    const r = await interrupt(['run', PAGE_FAULT3, '--json', '--trace', trace, '--', '1M', FOREVER], opened(trace), 'SIGINT');
    expect(r.code).toBe(130);
    const s = JSON.parse(r.out) as { exit_code: number | null; end: { reason: string; detail: string }; counts: { syscalls: { total: number } } };
    expect(s.exit_code).toBeNull();
    expect(s.end.reason).toBe('interrupted');
    expect(s.end.detail).toMatch(/^interrupted by SIGINT at pc 0x[0-9a-f]+: the counts are partial$/);
    // The counts so far: the program's start-up made system calls before its loop.
    expect(s.counts.syscalls.total).toBeGreaterThan(0);
    const lines = readFileSync(trace, 'utf8').trim().split('\n');
    const last = JSON.parse(lines[lines.length - 1]!) as { kind: string; reason: string };
    expect(last).toMatchObject({ kind: 'trace_end', reason: 'interrupted' });
    expect(r.err).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('SIGTERM: exit 143, the text summary says interrupted, the Perfetto trace is valid JSON marked interrupted', async () => {
    const trace = join(dir, 't.json');
    const r = await interrupt(['run', PAGE_FAULT3, '--trace', trace, '--trace-format', 'perfetto', '--', '1M', FOREVER], opened(trace), 'SIGTERM');
    expect(r.code).toBe(143);
    expect(r.err).toMatch(/^contpte-lab: no exit code \(interrupted: interrupted by SIGTERM at pc 0x[0-9a-f]+: the counts are partial\)$/m);
    const doc = JSON.parse(readFileSync(trace, 'utf8')) as { otherData: { reason: string } };
    expect(doc.otherData.reason).toBe('interrupted');
  }, 60_000);
});

describe('a signal to compare', () => {
  it('stops the cases running in its threads and exits 143', async () => {
    const started = Date.now();
    const r = await interrupt(['compare', PAGE_FAULT3, '--matrix', 'contpte=on,off', '--jobs', '2', '--', '1M', FOREVER], () => Date.now() - started > 5000, 'SIGTERM');
    expect(r.code).toBe(143);
    expect(r.err).toMatch(/contpte-lab: compare interrupted by SIGTERM: 2 runs stopped, no table/);
    expect(r.out).toBe('');
  }, 60_000);

  for (const mode of ['threads', '--isolate']) {
    it(`keeps the cases that finished before the signal: a partial table, the stopped case FAILED, exit 130 (${mode})`, async () => {
      const cases = join(dir, 'quick-then-long.txt');
      writeFileSync(cases, `quick: --set contpte=on -- 1M 1\nlong: --set contpte=off -- 1M ${FOREVER}\n`);
      const started = Date.now();
      const more = mode === 'threads' ? [] : [mode];
      const html = join(dir, `partial-${mode}.html`);
      const r = await interrupt(['compare', PAGE_FAULT3, '--cases', cases, '--jobs', '1', '--html', html, ...more], () => Date.now() - started > 6000, 'SIGINT');
      expect(r.code, r.err).toBe(130);
      const rows = r.out.split('\n').filter((l) => /^(quick|long) /.test(l));
      expect(rows).toHaveLength(2);
      // page_fault3 1M 1: 256 write faults in its measured region.
      expect(rows[0]).toMatch(/^quick +256 /);
      expect(rows[1]).toMatch(mode === 'threads' ? /^long +FAILED: interrupted: interrupted by SIGINT at pc 0x[0-9a-f]+: the counts are partial$/ : /^long +FAILED: killed: compare was interrupted by SIGINT$/);
      expect(r.err).toContain('contpte-lab: compare interrupted by SIGINT: 1 run stopped: a PARTIAL table, 1 of 2 cases finished (the others are marked FAILED)\n');
      expect(readFileSync(html, 'utf8')).toMatch(/<h1>[^<]* \(PARTIAL: interrupted by SIGINT\)<\/h1>/);
    }, 60_000);
  }

  it('with --isolate, stops its child runs and leaves none behind', async () => {
    // Unique to this test process, so that no other run matches.
    const marker = String(4_000_000_000 + process.pid);
    const running = (): boolean => spawnSync('pgrep', ['-f', `main.js run .*page_fault3 --json .*${marker}`]).status === 0;
    const r = await interrupt(['compare', PAGE_FAULT3, '--isolate', '--matrix', 'contpte=on,off', '--jobs', '2', '--', '1M', marker], running, 'SIGTERM');
    expect(r.code).toBe(143);
    expect(r.err).toMatch(/contpte-lab: compare interrupted by SIGTERM: 2 runs stopped, no table/);
    for (let i = 0; i < 50 && running(); i++) await sleep(100);
    expect(running()).toBe(false);
  }, 60_000);
});
