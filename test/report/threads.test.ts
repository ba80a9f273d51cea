/**
 * compare's cases in worker threads (src/report/threads.ts) against the same cases in child
 * processes (`--isolate`, runner.ts): the same JSON document and HTML report byte for byte apart
 * from the run times, the same result for each way a case can fail, twice the same output, a
 * timeout and a failure that leave the pool running the next case, guest memory given back after
 * each case, and SIGINT ending everything with its exit status. Runs the compiled CLI and worker
 * (dist/, built by `npm test` before vitest runs).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runChild, type RunResult, type RunSpec } from '../../src/report/runner.js';
import { caseWorkerPath, CaseThreadPool } from '../../src/report/threads.js';
import { asmGuest } from '../robust/guests.js';

const ROOT = process.cwd();
const CLI = join(ROOT, 'dist/src/cli/main.js');
const PF3 = join(ROOT, 'firmware/bin/page_fault3');
const HELLO = join(ROOT, 'firmware/bin/hello');
/** A register-only loop: no system call or fault for seconds, so nothing calls back into JavaScript. */
const COMPUTE = join(ROOT, 'firmware/bin/compute');
let dir = '';

beforeAll(() => {
  for (const f of [CLI, caseWorkerPath()]) if (!existsSync(f)) throw new Error(`${f} is missing: build first with 'npm run build' (npm test does this)`);
  dir = mkdtempSync(join(tmpdir(), 'compare-threads-'));
});

function compare(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, 'compare', ...args], { encoding: 'utf8', timeout: 300_000, maxBuffer: 1 << 28 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A case's run time is the only field that differs between two runs of the same comparison. */
const untimed = (text: string): string => text.replace(/^ {6}"seconds": [0-9.e-]+/gm, '      "seconds": 0');

/** A result without its run time, to compare a thread's with a child's. */
const sameFields = (r: RunResult): RunResult => ({ ...r, seconds: 0 });

const spec = (elf: string, args: string[], sets: string[] = [], extra: string[] = []): RunSpec => ({ elf, args, sets, extra });

describe('compare in threads and in processes', () => {
  it('the page_fault3 preset gives the same JSON and HTML as one process per case, and the same twice', () => {
    // One HTML path for all three: the report quotes its command line (less --isolate here) and its date.
    const html = join(dir, 'report.html');
    const outs = [[], [], ['--isolate']].map((more) => {
      const r = compare('--preset', 'page_fault3-regression', '--format', 'json', '--html', html, '--jobs', '2', ...more, '--', '4M', '1');
      expect(r.code, r.err).toBe(0);
      const page = readFileSync(html, 'utf8').replace(' --isolate', '').replace(/generated \d{4}-\d\d-\d\dT[0-9:.]+Z/, 'generated (date)');
      return { json: untimed(r.out), html: page, err: r.err };
    });
    const [a, b, iso] = outs as [(typeof outs)[0], (typeof outs)[0], (typeof outs)[0]];
    const doc = JSON.parse(a.json) as { cases: { name: string; status: string; summary: { dumps: { counts: { faults: { total: number } } }[] } }[] };
    // Real counts, not four empty rows: page_fault3 4M 1 writes 1024 pages, one fault each but
    // under folio-map, one per folio there (8 order-2, 2 order-4 and 30 order-5 folios).
    expect(doc.cases.map((c) => [c.status, c.summary.dumps[0]!.counts.faults.total])).toEqual([['ok', 1024], ['ok', 1024], ['ok', 1024], ['ok', 40]]);
    expect(a.json).toBe(iso.json);
    expect(a.html).toBe(iso.html);
    expect(a.err).toBe(iso.err);
    expect(b.json).toBe(a.json);
    expect(b.html).toBe(a.html);
  });

  it('failed cases (a guest usage error, a budget) are reported as with one process per case', () => {
    const run = (...more: string[]) => compare(HELLO, '--matrix', 'contpte=on,off', '--max-insns', '1000', '--format', 'json', ...more);
    const t = run();
    const p = run('--isolate');
    expect(t.code).toBe(1);
    expect(p.code).toBe(1);
    expect(untimed(t.out)).toBe(untimed(p.out));
    expect(t.err).toBe(p.err);
    expect(t.err).toContain('case contpte=off FAILED: stopped by a budget: the guest ran out of its instruction budget (1000 instructions)');
  });

  it("a guest's stdin is empty, as a child's was, whatever compare's own stdin holds", () => {
    // read(0, sp, 16), then exit with what it returned: 0 at end of file.
    const reader = asmGuest('sub sp, sp, #16\nmov x0, #0\nmov x1, sp\nmov x2, #16\nmov x8, #63\nsvc #0\nmov x8, #93\nsvc #0');
    const r = spawnSync(process.execPath, [CLI, 'compare', reader, '--matrix', 'contpte=on', '--format', 'json'], { encoding: 'utf8', input: 'bytes for nobody\n', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { cases: { summary: { exit_code: number } }[] }).cases[0]!.summary.exit_code).toBe(0);
  });
});

describe('the thread pool', () => {
  it('gives each kind of failure the result a child gives, and keeps running cases in the same worker', async () => {
    const notElf = join(ROOT, 'package.json');
    // Guests that crash: a load from address 0 (SIGSEGV), an undefined instruction (SIGILL).
    const segv = asmGuest('mov x0, #0\nldr x1, [x0]');
    const sigill = asmGuest('.inst 0x00000000');
    const specs = [
      spec(notElf, []),
      spec(segv, []),
      spec(sigill, []),
      spec(HELLO, [], [], ['--max-insns', '1000']),
      spec(PF3, ['16MB', '2']),
      spec(PF3, ['2M', '1'], ['contpte=off', 'cost.cpus=64']),
      spec(HELLO, [], ['no_such_knob=1']),
      spec(HELLO, []),
    ];
    const pool = new CaseThreadPool(1);
    try {
      const threads: RunResult[] = [];
      for (const s of specs) threads.push(await pool.run(s));
      expect(pool.threads).toBe(1);
      const children = await Promise.all(specs.map((s) => runChild(s)));
      expect(threads.map(sameFields)).toEqual(children.map(sameFields));
      expect(threads.map((r) => r.ok)).toEqual([false, true, true, true, true, true, false, true]);
      expect(threads[0]).toMatchObject({ exitCode: 2 });
      expect(threads[0]!.ok ? '' : threads[0]!.error).toMatch(/^exit code 2: contpte-lab: .*package\.json/);
      const ends = threads.map((r) => (r.ok ? r.summary.end.reason : null));
      expect(ends).toEqual([null, 'signal', 'signal', 'budget', 'exit', 'exit', null, 'exit']);
      expect(threads[6]!.ok ? '' : threads[6]!.error).toMatch(/^exit code 2: contpte-lab: .*no_such_knob/);
    } finally {
      await pool.close();
    }
  }, 120_000);

  it("a worker that dies fails its own case only: the next case gets a new worker", async () => {
    // A worker module that ends its thread on the case named 'die' and answers any other with a summary-less run.
    const file = join(dir, 'dying-worker.mjs');
    writeFileSync(
      file,
      `import { parentPort } from 'node:worker_threads';
parentPort.on('message', (m) => {
  if (m.spec.args[0] === 'die') throw new Error('worker died on purpose');
  parentPort.postMessage({ kind: 'done', id: m.id, output: { stdout: '', stderr: 'contpte-lab: ran ' + m.spec.args[0] + '\\n', exitCode: 2 } });
});
parentPort.postMessage({ kind: 'ready' });
`,
    );
    const pool = new CaseThreadPool(1, { workerFile: file });
    try {
      const results = [];
      for (const a of ['one', 'die', 'two']) results.push(sameFields(await pool.run(spec(HELLO, [a]))));
      expect(results).toEqual([
        { ok: false, error: 'exit code 2: contpte-lab: ran one', exitCode: 2, seconds: 0, stderr: 'contpte-lab: ran one\n' },
        { ok: false, error: "exit code none: the case's worker thread ended (worker died on purpose)", exitCode: null, seconds: 0, stderr: '' },
        { ok: false, error: 'exit code 2: contpte-lab: ran two', exitCode: 2, seconds: 0, stderr: 'contpte-lab: ran two\n' },
      ]);
      expect(pool.threads).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('a case past its timeout, even in a loop without system calls, is stopped and reported as a killed child; the next case runs', async () => {
    const pool = new CaseThreadPool(1, { timeoutSeconds: 0.5 });
    try {
      const long = await pool.run(spec(COMPUTE, ['2000000000']));
      expect(long).toMatchObject({ ok: false, error: 'killed after 0.5 s', exitCode: null });
      expect(long.seconds).toBeLessThan(5);
      const next = await pool.run(spec(HELLO, []));
      expect(next.ok).toBe(true);
    } finally {
      await pool.close();
    }
  }, 60_000);

  it("gives a case's guest memory back: RSS does not grow with cases, nor stay up after a 2 GiB machine", async () => {
    const pool = new CaseThreadPool(1);
    const rssMiB = (): number => process.memoryUsage.rss() / 2 ** 20;
    try {
      const small = spec(PF3, ['2M', '1']);
      for (let i = 0; i < 2; i++) expect((await pool.run(small)).ok).toBe(true);
      const before = rssMiB();
      // 128 MiB of page cache touched in a 2 GiB machine: RSS rises by about that during the case.
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, rssMiB())), 10);
      const big = await pool.run(spec(PF3, ['128M', '1'], ['mem_mb=2048']));
      clearInterval(sampler);
      expect(big.ok).toBe(true);
      expect(peak - before).toBeGreaterThan(100);
      for (let i = 0; i < 6; i++) expect((await pool.run(small)).ok).toBe(true);
      const after = rssMiB();
      expect(after - before, `RSS ${before.toFixed(0)} MiB before, ${peak.toFixed(0)} MiB at most, ${after.toFixed(0)} MiB after`).toBeLessThan(48);
    } finally {
      await pool.close();
    }
  }, 120_000);
});

describe('SIGINT during a threaded compare', () => {
  for (const [what, elf, args] of [
    ['guests that fault all the time', PF3, ['256M', '1000']],
    ['guest loops that never return to JavaScript', COMPUTE, ['2000000000']],
  ] as const) {
    it(`stops every run, prints no table and exits 130, promptly: ${what}`, async () => {
      const child = spawn(process.execPath, [CLI, 'compare', elf, '--matrix', 'contpte=on,off', '--jobs', '2', '--', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      const closed = new Promise<number | null>((r) => child.on('close', r));
      await new Promise((r) => setTimeout(r, 2500));
      const t0 = performance.now();
      child.kill('SIGINT');
      const code = await closed;
      expect(performance.now() - t0).toBeLessThan(4000);
      expect(code).toBe(130);
      expect(out).toBe('');
      expect(err).toBe('\ncontpte-lab: compare interrupted by SIGINT: 2 runs stopped, no table\n');
    }, 60_000);
  }
});
