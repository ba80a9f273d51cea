/**
 * A comparison as jobs, through the compiled CLI (dist/, built by `npm test` before vitest runs):
 * `compare --emit-jobs` writes a study, GNU parallel runs it (Debian's `parallel`, for real) in a
 * copy of the study elsewhere, and `collect` prints what a local `compare` of the same matrix
 * prints, in every format and in the HTML report. Then the problems collect must name (missing,
 * failed, refused results), and the Kubernetes and Slurm launchers checked with the engines' own
 * client libraries and tools, and run the way each engine runs them.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exec, type Exec } from './exec.js';

const ROOT = process.cwd();
const CLI = join(ROOT, 'dist/src/cli/main.js');
const PF3 = join(ROOT, 'firmware/bin/page_fault3');
const HELLO = join(ROOT, 'firmware/bin/hello');
const MATRIX = 'contpte=on,off cost.cpus=1,8';
const SLOW = 180_000;

let tmp: string;
/** A `contpte-lab` command on PATH, as `npm install -g` would make it. */
let binDir: string;

function cli(args: string[]): Promise<Exec> {
  return exec(process.execPath, [CLI, ...args], { timeoutMs: SLOW });
}

function withCli(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${binDir}:${process.env['PATH'] ?? ''}` };
}

function need(r: Exec, what: string): void {
  if (r.error !== undefined || r.code === null) throw new Error(`${what} does not run (${r.error?.message ?? 'killed'})`);
}

/** A launcher script, with `contpte-lab` on PATH. */
function launch(script: string, args: string[]): Promise<Exec> {
  return exec(script, args, { env: withCli(), timeoutMs: SLOW });
}

/** The comparison's wall-clock seconds differ from run to run; everything else must not. */
function withoutSeconds(json: string): string {
  return json.replace(/"seconds": [0-9.e+-]+/g, '"seconds": 0');
}

/** The report without what differs by nature: the time it was made, and the command that made it. */
function withoutGenerated(html: string): string {
  return html.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z/g, 'TIME').replace(/(<p class="meta">Made by contpte-lab [^ ]+ with <code>)[^<]*(<\/code>)/, '$1COMMAND$2');
}

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with 'npx tsc -p tsconfig.json' (npm test does this)`);
  const p = spawnSync('parallel', ['--version'], { encoding: 'utf8' });
  if (p.error !== undefined || p.status !== 0) throw new Error('GNU parallel is needed to run a study: install the Debian package parallel');
  tmp = mkdtempSync(join(tmpdir(), 'contpte-lab-jobs-'));
  binDir = join(tmp, 'bin');
  mkdirSync(binDir);
  writeFileSync(join(binDir, 'contpte-lab'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  chmodSync(join(binDir, 'contpte-lab'), 0o755);
});

afterAll(() => {
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

describe('compare --emit-jobs, GNU parallel, collect', () => {
  let study: string;

  it('writes one job per distinct run, the program under its hash, and the launchers; runs nothing', async () => {
    const emitted = join(tmp, 'emitted');
    const r = await cli(['compare', PF3, '--matrix', MATRIX, '--emit-jobs', emitted, '--', '4M', '1']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^wrote study [0-9a-f]{12}: 2 jobs for 4 cases in /);
    const m = readJson(join(emitted, 'manifest.json'));
    const sha = spawnSync('sha256sum', [PF3], { encoding: 'utf8' }).stdout.split(' ')[0]!;
    expect(m['elf']).toEqual({ path: PF3, file: `elf/${sha}/page_fault3`, sha256: sha });
    expect((m['jobs'] as { cases: string[] }[]).map((j) => j.cases)).toEqual([
      ['contpte=on cost.cpus=1', 'contpte=on cost.cpus=8'],
      ['contpte=off cost.cpus=1', 'contpte=off cost.cpus=8'],
    ]);
    const job = readJson(join(emitted, 'jobs/0001.json'));
    expect(job['command']).toEqual(['contpte-lab', 'run', `elf/${sha}/page_fault3`, '--json', '--set', 'contpte=off', '--argv0', PF3, '--', '4M', '1']);
    expect(job['profile']).toBe('linux-6.12');
    expect((job['policy'] as Record<string, string>)['contpte']).toBe('off');
    expect(job['output']).toBe('results/0001.json');
    expect(readFileSync(join(emitted, 'launch/job-ids.txt'), 'utf8')).toBe('0000\n0001\n');
    expect(readFileSync(join(emitted, `elf/${sha}/page_fault3`)).equals(readFileSync(PF3))).toBe(true);
    expect(existsSync(join(emitted, 'results/0000.json'))).toBe(false);
    // The study holds no path of this machine but the program's name as compare gives it: a copy
    // anywhere else runs the same jobs (here, at a path the shell must quote).
    study = join(tmp, 'another machine', 'study');
    cpSync(emitted, study, { recursive: true });
  });

  it('GNU parallel runs every job; its joblog records them', async () => {
    const r = await launch(join(study, 'launch/parallel.sh'), ['-j', '2']);
    need(r, 'launch/parallel.sh');
    expect(r.err).toMatch(/contpte-lab job 0000 \([0-9.]+ s\): ok; wrote /);
    expect(r.err).toMatch(/contpte-lab job 0001 \([0-9.]+ s\): ok; wrote /);
    expect(r.code).toBe(0);
    const log = readFileSync(join(study, 'parallel.joblog'), 'utf8').trim().split('\n');
    expect(log[0]!.split('\t')).toEqual(['Seq', 'Host', 'Starttime', 'JobRuntime', 'Send', 'Receive', 'Exitval', 'Signal', 'Command']);
    const rows = log.slice(1).map((l) => l.split('\t'));
    // The command as parallel ran it, the study's path quoted for the shell.
    expect(rows.map((f) => f[8]).sort()).toEqual([`contpte-lab job '${study}' 0000`, `contpte-lab job '${study}' 0001`]);
    expect(rows.map((f) => [f[6], f[7]])).toEqual([
      ['0', '0'],
      ['0', '0'],
    ]);
    const res = readJson(join(study, 'results/0000.json'));
    expect(res['elf_sha256']).toBe((readJson(join(study, 'manifest.json'))['elf'] as { sha256: string }).sha256);
    expect((res['result'] as { ok: boolean }).ok).toBe(true);
  }, SLOW);

  it('collect prints what compare prints, in every format and in the HTML report', async () => {
    const localHtml = join(tmp, 'local.html');
    const collectedHtml = join(tmp, 'collected.html');
    for (const format of ['json', 'text', 'markdown', 'csv']) {
      const html = format === 'json' ? ['--html', localHtml] : [];
      const local = await cli(['compare', PF3, '--matrix', MATRIX, '--jobs', '2', '--format', format, ...html, '--', '4M', '1']);
      expect(local.code).toBe(0);
      const collected = await cli(['collect', study, '--format', format, ...(format === 'json' ? ['--html', collectedHtml] : [])]);
      expect(collected.err).toBe('');
      expect(collected.code).toBe(0);
      if (format === 'json') {
        expect(withoutSeconds(collected.out)).toBe(withoutSeconds(local.out));
        const doc = JSON.parse(collected.out) as { elf: string; cases: { name: string; status: string; measured_from: string; summary: { dumps: { counts: { faults: { total: number } } }[] } }[] };
        expect(doc.elf).toBe(PF3);
        expect(doc.cases.map((c) => [c.name, c.status])).toEqual([
          ['contpte=on cost.cpus=1', 'ok'],
          ['contpte=on cost.cpus=8', 'ok'],
          ['contpte=off cost.cpus=1', 'ok'],
          ['contpte=off cost.cpus=8', 'ok'],
        ]);
        // 4 MiB of a file touched once, page by page: one fault per page in the measured region.
        expect(doc.cases[0]!.measured_from).toBe("dump 'page_fault3'");
        expect(doc.cases[0]!.summary.dumps[0]!.counts.faults.total).toBe(1024);
      } else {
        expect(collected.out).toBe(local.out);
      }
    }
    expect(withoutGenerated(readFileSync(collectedHtml, 'utf8'))).toBe(withoutGenerated(readFileSync(localHtml, 'utf8')));
  }, SLOW);
});

describe('collect names every job without a good result', () => {
  let study: string;
  const bad = 'bad-args';

  beforeAll(async () => {
    // Two runs of page_fault3: one good, one the guest rejects (too many arguments: exit code 2).
    study = join(tmp, 'problems');
    const cases = join(tmp, 'problems.cases');
    writeFileSync(cases, `good: contpte=on -- 4M 1\n${bad}: contpte=off -- a b c d e\n`);
    const r = await cli(['compare', PF3, '--cases', cases, '--emit-jobs', study]);
    expect(r.code).toBe(0);
    const p = await launch(join(study, 'launch/parallel.sh'), []);
    need(p, 'launch/parallel.sh');
    expect(p.code).toBe(0);
  }, SLOW);

  async function collect(): Promise<Exec & { doc: { cases: { name: string; status: string; error?: string }[] } }> {
    const r = await cli(['collect', study, '--format', 'json']);
    return { ...r, doc: JSON.parse(r.out) as { cases: { name: string; status: string; error?: string }[] } };
  }

  it('a non-zero guest exit: named as failed, exit code 1', async () => {
    const r = await collect();
    // Whether the run itself counts a non-zero exit as a failure (the row's error) or only
    // collect does (its own message), the job is named as failed.
    const lines = r.err.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^contpte-lab collect: failed: job 0001 failed: .*\\b2\\b.* \\[${bad}\\]$`));
    if (r.doc.cases[1]!.status === 'ok') expect(lines[0]).toBe(`contpte-lab collect: failed: job 0001 failed: the guest exited with 2 [${bad}]`);
    expect(lines.slice(1)).toEqual(['contpte-lab collect: 1 of 2 jobs are not good (0 missing, 1 failed, 0 refused, 0 unreadable)', '']);
    expect(r.doc.cases[0]!.status).toBe('ok');
    expect(r.code).toBe(1);
  }, SLOW);

  it('a missing result: named, and its case failed in the document', async () => {
    const file = join(study, 'results/0001.json');
    const saved = readFileSync(file);
    rmSync(file);
    const r = await collect();
    expect(r.err.split('\n')[0]).toBe(`contpte-lab collect: missing: job 0001 has no result (results/0001.json is missing) [${bad}]`);
    expect(r.doc.cases.map((c) => [c.name, c.status, c.error ?? null])).toEqual([
      ['good', 'ok', null],
      [bad, 'failed', 'job 0001 has no result (results/0001.json is missing)'],
    ]);
    expect(r.code).toBe(1);
    writeFileSync(file, saved);
  }, SLOW);

  it('a result whose ELF hash, command or policy differs from its job is refused', async () => {
    const file = join(study, 'results/0000.json');
    const saved = readFileSync(file, 'utf8');
    const res = JSON.parse(saved) as { elf_sha256: string; result: { summary: { policy: Record<string, string> } } };
    writeFileSync(file, JSON.stringify({ ...res, elf_sha256: '0'.repeat(64) }));
    let r = await collect();
    const sha = (readJson(join(study, 'manifest.json'))['elf'] as { sha256: string }).sha256;
    expect(r.err.split('\n')[0]).toBe(`contpte-lab collect: refused: job 0000: result refused: it ran a program with SHA-256 ${'0'.repeat(64)}, the job's is ${sha} [good]`);
    expect(r.doc.cases[0]!.status).toBe('failed');
    expect(r.code).toBe(1);

    writeFileSync(file, JSON.stringify({ ...res, command: ['contpte-lab', 'run', 'x'] }));
    r = await collect();
    expect(r.err.split('\n')[0]).toBe("contpte-lab collect: refused: job 0000: result refused: it ran 'contpte-lab run x', not the job's command [good]");
    expect(r.code).toBe(1);

    res.result.summary.policy['contpte'] = 'off';
    writeFileSync(file, JSON.stringify(res));
    r = await collect();
    expect(r.err.split('\n')[0]).toBe('contpte-lab collect: refused: job 0000: result refused: its policy has contpte=off where the job wants contpte=on [good]');
    expect(r.code).toBe(1);
    writeFileSync(file, saved);
  }, SLOW);

  it('job refuses a program that is not the one the job names, and writes nothing', async () => {
    const job = readJson(join(study, 'jobs/0000.json')) as { elf: { file: string; sha256: string } };
    const elf = join(study, job.elf.file);
    const saved = readFileSync(elf);
    const changed = Buffer.from(saved);
    changed[changed.length - 1] ^= 1;
    writeFileSync(elf, changed);
    rmSync(join(study, 'results/0000.json'));
    const r = await cli(['job', study, '0']);
    expect(r.err).toMatch(new RegExp(`^contpte-lab: job 0000: '.*page_fault3' has SHA-256 [0-9a-f]{64}, the job wants ${job.elf.sha256}\\n$`));
    expect(r.code).toBe(2);
    expect(existsSync(join(study, 'results/0000.json'))).toBe(false);
    writeFileSync(elf, saved);
  }, SLOW);
});

describe('compare --timeout reaches the jobs', () => {
  it('a run killed after the timeout is a written, failed result; collect names it', async () => {
    const study = join(tmp, 'timeout');
    expect((await cli(['compare', PF3, '--matrix', 'contpte=on', '--timeout', '1', '--emit-jobs', study, '--', '256M', '8'])).code).toBe(0);
    const job = await cli(['job', study, '0']);
    expect(job.err.replace(/\([0-9.]+ s\)/, '(T s)')).toBe(`contpte-lab job 0000 (T s): failed: killed after 1 s; wrote ${study}/results/0000.json\n`);
    expect(job.code).toBe(0); // a result was written: nothing for an engine to retry
    const r = await cli(['collect', study, '--format', 'csv']);
    expect(r.out.split('\r\n').slice(0, 2)).toEqual(['case,faults,pte_writes,folds,unfolds,contpte_convert,tlbi,dsb,walks,mcycles,ratio,error', 'contpte=on,,,,,,,,,,,FAILED: killed after 1 s']);
    expect(r.err).toBe('contpte-lab collect: failed: job 0000 failed: killed after 1 s [contpte=on]\ncontpte-lab collect: 1 of 1 jobs are not good (0 missing, 1 failed, 0 refused, 0 unreadable)\n');
    expect(r.code).toBe(1);
  }, SLOW);
});

describe('run --argv0', () => {
  it("is part of what a run does: a 5000-byte argv[0] spills the stack's strings onto a second page", async () => {
    const counts = async (extra: string[]): Promise<[number, number]> => {
      const r = await cli(['run', HELLO, ...extra, '--json']);
      expect(r.code).toBe(0);
      const s = JSON.parse(r.out) as { counts: { faults: { total: number }; pte_writes: number } };
      return [s.counts.faults.total, s.counts.pte_writes];
    };
    expect(await counts([])).toEqual([20, 250]);
    expect(await counts(['--argv0', HELLO])).toEqual([20, 250]);
    expect(await counts(['--argv0', '/' + 'a'.repeat(5000)])).toEqual([21, 252]);
  }, SLOW);
});

describe('usage errors (exit code 2, one line)', () => {
  it('emit into a non-empty directory, --html with --emit-jobs, collect of a directory that is no study, a job index out of range', async () => {
    const dir = join(tmp, 'full');
    mkdirSync(dir);
    writeFileSync(join(dir, 'x'), '');
    let r = await cli(['compare', HELLO, '--matrix', 'contpte=on', '--emit-jobs', dir]);
    expect(r.err).toBe(`contpte-lab: --emit-jobs: '${dir}' is not empty (give a new directory, so that no result of another study is collected)\n`);
    expect(r.code).toBe(2);
    r = await cli(['compare', HELLO, '--matrix', 'contpte=on', '--emit-jobs', join(dir, 'x')]);
    expect(r.err).toBe(`contpte-lab: --emit-jobs: '${join(dir, 'x')}' is not a directory (give a new directory)\n`);
    expect(r.code).toBe(2);
    r = await cli(['compare', HELLO, '--matrix', 'contpte=on', '--emit-jobs', join(tmp, 'h'), '--html', 'x.html']);
    expect(r.err).toBe('contpte-lab: --emit-jobs runs nothing: give --html to contpte-lab collect DIR\n');
    expect(r.code).toBe(2);
    r = await cli(['compare', HELLO, '--matrix', 'contpte=maybe', '--emit-jobs', join(tmp, 'k')]);
    expect(r.err).toBe('contpte-lab: case contpte=maybe: --set contpte=maybe: expected on|off\n');
    expect(r.code).toBe(2);
    // The program is checked as compare checks it before running: /dev/zero was read until node
    // was killed for lack of memory, a script made a study whose every job failed.
    const script = join(tmp, 'script.sh');
    writeFileSync(script, '#!/bin/sh\necho hi\n', { mode: 0o755 });
    for (const [elf, err] of [
      ['/dev/zero', 'contpte-lab: /dev/zero: permission denied (EACCES): a character device, not a regular file, and execve runs only regular files\n'],
      [script, `contpte-lab: ${script}: not an ELF file (starts with '#!/bi')\n`],
    ] as const) {
      const study = join(tmp, `s-${elf.length}`);
      expect(await cli(['compare', elf, '--matrix', 'contpte=on', '--emit-jobs', study])).toMatchObject({ code: 2, err });
      expect(existsSync(study)).toBe(false);
    }
    r = await cli(['collect', dir]);
    expect(r.err).toBe(`contpte-lab: '${dir}' is not a study directory (no manifest.json; make one with compare --emit-jobs DIR)\n`);
    expect(r.code).toBe(2);
    const hello = join(tmp, 'hello');
    expect((await cli(['compare', HELLO, '--matrix', 'contpte=on,off', '--emit-jobs', hello])).code).toBe(0);
    r = await cli(['job', hello, '2']);
    expect(r.err).toBe('contpte-lab: job: index 2 is out of range (the study has 2 jobs, 0 to 1)\n');
    expect(r.code).toBe(2);
  }, SLOW);
});
