/**
 * `contpte-lab compare` through the compiled CLI (dist/, built by `npm test` before vitest runs):
 * usage errors with exit code 2, the runs a preset or a matrix makes (--dry-run), and failed
 * cases reported in their rows with exit code 1, problems found before any run. Comparisons that need `contpte-lab run` to
 * succeed are in test/report/e2e.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { COST_PARAM_NAMES } from '../../src/report/cost.js';
import { largeComparisonVerdict } from '../../src/report/precheck.js';

const ROOT = process.cwd();
const CLI = join(ROOT, 'dist/src/cli/main.js');
const HELLO = join(ROOT, 'firmware/bin/hello');
const PF3 = join(ROOT, 'firmware/bin/page_fault3');

function compare(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, 'compare', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with 'npx tsc -p tsconfig.json' (npm test does this)`);
});

describe('contpte-lab compare: usage errors (exit code 2, one line)', () => {
  const cases: [string[], string][] = [
    [[HELLO], "contpte-lab: compare: give --matrix 'knob=a,b ...', --cases FILE or --preset NAME (presets: page_fault3-regression)\n"],
    [[HELLO, '--matrix', 'contpte=on,on'], "contpte-lab: --matrix: 'contpte' lists 'on' twice\n"],
    [[HELLO, '--matrix', 'contpte=on', '--set', 'cost.bogus=1'], `contpte-lab: --set: unknown cost parameter 'bogus' (expected one of: ${COST_PARAM_NAMES.join(', ')})\n`],
    [[HELLO, '--matrix', 'contpte=on', '--set', 'Contpte'], "contpte-lab: --set: 'Contpte' is not knob=value (e.g. contpte=off, or cost.cpus=64 for the cost model)\n"],
    [['nope/elf', '--matrix', 'contpte=on'], "contpte-lab: compare: 'nope/elf' does not exist (give the path of a static arm64 ELF)\n"],
    [['--matrix', 'contpte=on'], 'contpte-lab: compare: name the program to run (compare <elf> [-- args])\n'],
    [[HELLO, '--matrix', 'contpte=on', '--baseline', 'x'], "contpte-lab: --baseline: no case is named 'x' (cases: contpte=on)\n"],
    [[HELLO, '--matrix', 'contpte=on', '--jobs', 'many'], "contpte-lab: --jobs: 'many' is not a number (expected decimal, 0x hex or 0b binary, optionally with K/M/G)\n"],
    [['--preset', 'page_fault3-regression', '--cases', 'x'], 'contpte-lab: --preset and --cases: give one of them (a --matrix can be added to either)\n'],
    [[HELLO, '--cases', '/no/such/cases.txt'], "contpte-lab: --cases: cannot read '/no/such/cases.txt' (ENOENT)\n"],
  ];
  for (const [args, message] of cases) {
    it(args.join(' ').replace(ROOT + '/', ''), () => {
      const r = compare(...args);
      expect(r.err).toBe(message);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
    });
  }

  it('an unknown preset or format is refused by the option parser', () => {
    const r = compare('--preset', 'page_fault9');
    expect(r.code).toBe(2);
    expect(r.err).toContain('Invalid values');
    expect(compare(HELLO, '--matrix', 'contpte=on', '--format', 'xml').code).toBe(2);
  });
});

describe('contpte-lab compare --dry-run', () => {
  it('shows the four runs of the page_fault3 preset, with the cost settings of each case', () => {
    const r = compare('--preset', 'page_fault3-regression', '--dry-run', '--set', 'cost.cpus=256', '--', '16M', '2');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const run = (ff: string, lf: string, contpte: string): string =>
      `${process.execPath} ${CLI} run ${PF3} --json --profile linux-6.9 --set tmp_fs=ext4 --set file_large_folios=${lf} --set contpte=${contpte} --set finish_fault=${ff} -- 16M 2`;
    expect(r.out).toBe(
      [
        '# 1-no-large-folios (cost.cpus=128 cost.busy_cpus=128 cost.cpus=256)',
        run('page', 'off', 'on'),
        '# 2-large-folios+contpte (cost.cpus=128 cost.busy_cpus=128 cost.cpus=256)',
        run('page', 'on', 'on'),
        '# 3-large-folios,contpte-off (cost.cpus=128 cost.busy_cpus=128 cost.cpus=256)',
        run('page', 'on', 'off'),
        '# 4-large-folios+contpte+folio-map (cost.cpus=128 cost.busy_cpus=128 cost.cpus=256)',
        run('folio', 'on', 'on'),
        '',
      ].join('\n'),
    );
  });

  it("a preset's settings come first and the user's --set after; a matrix's cases come after the user's --set", () => {
    const p = compare('--preset', 'page_fault3-regression', '--dry-run', '--set', 'contpte=off', '--matrix', 'tlbi_range=on');
    expect(p.out.split('\n')[1]).toBe(
      `${process.execPath} ${CLI} run ${PF3} --json --profile linux-6.9 --set tmp_fs=ext4 --set file_large_folios=off --set contpte=on --set finish_fault=page --set tlbi_range=on --set contpte=off`,
    );
    expect(p.out.split('\n')[0]).toBe('# 1-no-large-folios tlbi_range=on (cost.cpus=128 cost.busy_cpus=128)');
    const m = compare(HELLO, '--dry-run', '--set', 'contpte=off', '--profile', 'linux-7.2', '--matrix', 'contpte=on cost.cpus=1,2', '--', '0x30000', 'a b');
    expect(m.out).toBe(
      [
        '# contpte=on cost.cpus=1 (cost.cpus=1)',
        '# contpte=on cost.cpus=2 (cost.cpus=2)',
        `${process.execPath} ${CLI} run ${HELLO} --json --profile linux-7.2 --set contpte=off --set contpte=on -- 0x30000 'a b'`,
        '',
      ].join('\n'),
    );
  });

  it('reads a cases file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'compare-cli-'));
    const f = join(dir, 'cases.txt');
    writeFileSync(f, '# two\nfast: --profile linux-7.2 -- 1\nslow: --set contpte=off\n');
    const r = compare(HELLO, '--cases', f, '--dry-run', '--', 'x');
    expect(r.out).toBe(
      [
        '# fast',
        `${process.execPath} ${CLI} run ${HELLO} --json --profile linux-7.2 -- 1`,
        '# slow',
        `${process.execPath} ${CLI} run ${HELLO} --json --set contpte=off -- x`,
        '',
      ].join('\n'),
    );
  });
});

describe('contpte-lab compare: everything is checked before the first run', () => {
  it('a bad value in any case, an output path that cannot be written, a file execve refuses: exit 2, one line, no run', () => {
    const started = Date.now();
    expect(compare(HELLO, '--matrix', 'contpte=on,off tlb_entries=5,7')).toEqual({ code: 2, out: '', err: 'contpte-lab: case contpte=on tlb_entries=7: --set tlb_entries=7: expected 5..1048576 (multiple of 5)\n' });
    expect(compare(HELLO, '--matrix', 'contpte=on,off', '--html', '/no/such/dir/r.html')).toEqual({ code: 2, out: '', err: "contpte-lab: --html: cannot write '/no/such/dir/r.html': the folder '/no/such/dir' does not exist\n" });
    expect(compare('/dev/zero', '--matrix', 'contpte=on')).toEqual({ code: 2, out: '', err: 'contpte-lab: /dev/zero: permission denied (EACCES): a character device, not a regular file, and execve runs only regular files\n' });
    expect(compare(HELLO, '--matrix', 'contpte=on', '--timeout', 'soon').code).toBe(2);
    // No emulation ran: each refusal takes a process start, not a run.
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('the option parser\'s own errors are one line', () => {
    const r = compare('--preset', 'page_fault9');
    expect(r.err.split('\n')).toEqual(['contpte-lab: Invalid values: Argument: preset, Given: "page_fault9", Choices: "page_fault3-regression" (see \'contpte-lab --help\')', '']);
  });

  it('more than 64 runs through the CLI: on a terminal (script(1) gives one) a refusal before any run; through pipes a warning, then the runs', () => {
    const big = ['--matrix', 'tlb_entries=5,10,15,20,25,30,35,40,45,50,55,60,65 contpte=on,off cpus=1,2,3', '--max-insns', '1000', '--format', 'csv'];
    const cmd = [process.execPath, CLI, 'compare', HELLO, ...big].map((a) => `'${a}'`).join(' ');
    const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 120_000 });
    if (tty.error) throw new Error('script(1) does not run: apt-get install bsdutils');
    expect({ code: tty.status, out: tty.stdout.replace(/\r/g, '') }).toEqual({ code: 2, out: 'contpte-lab: compare: 78 runs (more than 64) would take long: check the matrix, then add --yes to run them\n' });
    const piped = compare(HELLO, ...big);
    expect(piped.err.split('\n')[0]).toBe('contpte-lab: warning: 78 runs (more than 64); this may take long');
    // Each run stopped by its budget of 1000 instructions: a row each, exit 1.
    expect(piped.out.trim().split('\r\n')).toHaveLength(79);
    expect(piped.code).toBe(1);
  }, 150_000);

  it('more than 64 runs: a warning when nobody can answer, a refusal on a terminal without --yes', () => {
    expect(largeComparisonVerdict(64, { tty: true, yes: false })).toEqual({ kind: 'ok' });
    expect(largeComparisonVerdict(65, { tty: false, yes: false })).toEqual({ kind: 'warn', message: 'contpte-lab: warning: 65 runs (more than 64); this may take long' });
    expect(largeComparisonVerdict(65, { tty: true, yes: false })).toEqual({ kind: 'refuse', message: 'compare: 65 runs (more than 64) would take long: check the matrix, then add --yes to run them' });
    expect(largeComparisonVerdict(65, { tty: true, yes: true })).toEqual({ kind: 'ok' });
  });
});

describe('contpte-lab compare: failed cases', () => {
  it('reports each failed run in its row, prints the table anyway and exits 1', () => {
    // Stopped by the instruction budget: found only by running (an unknown knob is refused before).
    const r = compare(HELLO, '--matrix', 'contpte=on,off', '--max-insns', '1000', '--format', 'csv', '--jobs', '2');
    expect(r.code).toBe(1);
    const rows = r.out.trim().split('\r\n');
    expect(rows[0]).toBe('case,faults,pte_writes,folds,unfolds,contpte_convert,tlbi,dsb,walks,mcycles,ratio,error');
    expect(rows).toHaveLength(3);
    for (const [i, row] of rows.slice(1).entries()) {
      expect(row.startsWith(`contpte=${['on', 'off'][i]},,,,,,,,,,,`)).toBe(true);
      expect(row).toMatch(/,"?FAILED: stopped by a budget: the guest ran out of its instruction budget \(1000 instructions\)/);
    }
  });

  it('a guest that rejects its arguments fails every case: no counts, exit 1, its usage quoted', () => {
    const r = compare('--preset', 'page_fault3-regression', '--format', 'csv', '--jobs', '2', '--', '16MB', '2');
    expect(r.code).toBe(1);
    const rows = r.out.trim().split('\r\n');
    expect(rows).toHaveLength(5);
    for (const row of rows.slice(1)) expect(row).toMatch(/^("[^"]+"|[^,]+),,,,,,,,,,,FAILED: the guest exited with status 2$/);
    const err = r.err.split('\n');
    expect(err[0]).toBe('contpte-lab: 4 of 4 cases failed (their counts are not compared):');
    expect(err[1]).toBe('case 1-no-large-folios FAILED: the guest exited with status 2');
    expect(err[2]).toMatch(/^  \| .*size/);
  });

  it('a case stopped by --max-insns is failed, not ok', () => {
    const r = compare(HELLO, '--matrix', 'contpte=on', '--max-insns', '1000', '--format', 'json');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as { cases: { status: string; error: string }[] };
    expect(doc.cases[0]!.status).toBe('failed');
    expect(doc.cases[0]!.error).toMatch(/^stopped by a budget: the guest ran out of its instruction budget \(1000 instructions\)/);
  });
});
