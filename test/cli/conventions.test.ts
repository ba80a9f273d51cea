/**
 * What a user expects of a command-line tool: `-h`, shell completion for bash and zsh, `--json` on
 * every command that prints results, tables that fit the terminal, output paths checked before
 * the work, progress lines (with an ETA in compare) only on a terminal's stderr, never in a pipe,
 * and NO_COLOR. The terminal is a real pseudo-terminal (`script`, Debian bsdutils) where the CLI
 * must see one, and a stand-in stream for the pure parts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TtyProgress } from '../../src/cli/commands/compare.js';
import { profileDetail, profilesListing, wrapWords } from '../../src/cli/commands/profiles.js';
import { commandLine, etaMs, formatDuration, RunProgress, runProgressText, showsProgress, tableWidth, usesColour, type TermStream } from '../../src/cli/tty.js';
import { columnBlocks, renderText, wrapProse, type Table } from '../../src/report/table.js';
import { exec } from './exec.js';

const CLI = 'dist/src/cli/main.js';
const dir = mkdtempSync(join(tmpdir(), 'contpte-conventions-'));
const cli = (...args: string[]) => exec('node', [CLI, ...args], { timeoutMs: 120_000 });

/** Runs a shell command line on a pseudo-terminal; what the terminal showed. */
function onTerminal(command: string, env: NodeJS.ProcessEnv = {}): { out: string; code: number | null } {
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', env: { ...process.env, TERM: 'xterm', ...env }, timeout: 120_000 });
  if (r.error !== undefined) throw new Error(`script (Debian package bsdutils) is needed for the terminal tests: ${r.error.message}`);
  return { out: r.stdout, code: r.status };
}

class FakeTerm implements TermStream {
  text = '';
  constructor(
    readonly isTTY: boolean,
    readonly columns = 80,
  ) {}
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

describe('help and completion', () => {
  it('-h is --help, at the top and for a command', async () => {
    const top = await cli('-h');
    expect(top.code).toBe(0);
    expect(top.out).toContain('contpte-lab <command> [options]');
    expect(top.out).toMatch(/^\s+-h, --help\s+Show help/m);
    const run = await cli('run', '-h');
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/^contpte-lab run <elf> \[args\.\.\]/);
    expect(run.out).toContain('--trace-time');
  });

  it('completion prints a bash script that completes commands and options, and a zsh one when asked', async () => {
    const bash = await cli('completion', 'bash');
    expect(bash.code).toBe(0);
    expect(bash.out).toContain('complete -o bashdefault -o default -F _contpte-lab_yargs_completions contpte-lab');
    const zsh = await cli('completion', 'zsh');
    expect(zsh.out.split('\n')[0]).toBe('#compdef contpte-lab');
    const fish = await cli('completion', 'fish');
    expect(fish.code).toBe(2);
    expect(fish.err).toBe("contpte-lab: completion: 'fish' is not a shell this can complete (expected bash or zsh)\n");
    // The script itself, in bash, with contpte-lab on the PATH: `contpte-lab com<TAB>` and `contpte-lab run --trace-<TAB>`.
    const bin = join(dir, 'bin');
    spawnSync('mkdir', ['-p', bin]);
    writeFileSync(join(bin, 'contpte-lab'), `#!/bin/sh\nexec node ${join(process.cwd(), CLI)} "$@"\n`, { mode: 0o755 });
    writeFileSync(join(dir, 'completion.bash'), bash.out);
    const complete = (words: string[]): string[] => {
      const script = `source ${join(dir, 'completion.bash')}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _contpte-lab_yargs_completions; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env['PATH']}`, SHELL: '/bin/bash' } });
      if (r.error !== undefined) throw new Error(`bash (Debian package bash) is needed: ${r.error.message}`);
      return r.stdout.split('\n').filter((l) => l !== '');
    };
    expect(complete(['contpte-lab', 'com'])).toEqual(['completion', 'compare']);
    expect(complete(['contpte-lab', 'run', '--trace-'])).toEqual(['--trace-format', '--trace-events', '--trace-time', '--trace-limit']);
  }, 60_000);
});

describe('--json everywhere results are printed', () => {
  it('compare --json is --format json; with another --format it is refused', async () => {
    const r = await cli('compare', 'firmware/bin/hello', '--matrix', 'contpte=on,off', '--json');
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(r.out) as { cases: { name: string; status: string }[] };
    expect(doc.cases.map((c) => [c.name, c.status])).toEqual([
      ['contpte=on', 'ok'],
      ['contpte=off', 'ok'],
    ]);
    const both = await cli('compare', 'firmware/bin/hello', '--matrix', 'contpte=on,off', '--json', '--format', 'csv');
    expect(both.code).toBe(2);
    expect(both.err).toBe('contpte-lab: --json and --format csv: give one of them\n');
  }, 60_000);

  it('compare --dry-run --json lists the runs; --emit-jobs --json describes the study', async () => {
    const dry = await cli('compare', 'firmware/bin/hello', '--matrix', 'contpte=on,off', '--dry-run', '--json');
    expect(dry.code, dry.err).toBe(0);
    const runs = (JSON.parse(dry.out) as { runs: { cases: { name: string }[]; argv: string[] }[] }).runs;
    expect(runs.map((r) => r.cases.map((c) => c.name))).toEqual([['contpte=on'], ['contpte=off']]);
    expect(runs[0]!.argv.slice(2, 3)).toEqual(['run']);
    const study = join(dir, 'study');
    const emit = await cli('compare', 'firmware/bin/hello', '--matrix', 'contpte=on,off', '--emit-jobs', study, '--json');
    expect(emit.code, emit.err).toBe(0);
    expect(JSON.parse(emit.out)).toMatchObject({ dir: study, jobs: 2, cases: 2 });
  }, 60_000);

  it('every command that prints results has --json', async () => {
    for (const c of ['run', 'compare', 'collect', 'job', 'profiles', 'ptep', 'walk', 'validate']) {
      const r = await cli(c, '--help');
      expect(r.out, c).toMatch(/^\s+--json\s/m);
    }
  }, 60_000);
});

describe('checks before work', () => {
  it('collect checks --html before reading the study', async () => {
    const r = await cli('collect', join(dir, 'no-study'), '--html', join(dir, 'missing-dir', 'r.html'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^contpte-lab: --html: /);
    expect(r.err).toContain('missing-dir');
  });
});

describe('tables that fit the terminal', () => {
  const table: Table = {
    columns: [
      { key: 'case', title: 'case', kind: 'text' },
      ...Array.from({ length: 8 }, (_, i) => ({ key: `c${i}`, title: `column ${i}`, kind: 'int' as const })),
    ],
    rows: [['a-long-case-name', ...Array.from({ length: 8 }, (_, i) => 1000 * i)]],
    notes: ['a note'],
  };

  it('are cut into blocks of columns no wider than the terminal, each naming its rows', () => {
    const full = renderText(table);
    expect(full.split('\n')[0]!.length).toBe(16 + 8 * (2 + 8));
    const cut = renderText(table, 60);
    for (const line of cut.split('\n')) expect(line.length).toBeLessThanOrEqual(60);
    const blocks = cut.split('\n\n');
    // 16 + 4 × (2 + 8) = 56 columns fit in 60: two blocks of four, then the notes.
    expect(blocks).toHaveLength(3);
    expect(blocks.slice(0, 2).map((b) => b.split('\n')[2]!.split(/\s+/)[0])).toEqual(['a-long-case-name', 'a-long-case-name']);
    expect(blocks[0]!.split('\n')[0]).toBe('case              column 0  column 1  column 2  column 3');
    expect(blocks[1]!.split('\n')[0]).toBe('case              column 4  column 5  column 6  column 7');
    expect(blocks[2]).toBe('a note\n');
    expect(columnBlocks([10, 50, 50], 40)).toEqual([[0, 1], [0, 2]]);
  });

  it("cut their notes (prose) at spaces to the terminal's width, never in a pipe", () => {
    const note = 'cost parameters: clock_ghz=2.6 cpus=128 busy_cpus=128 fault_entry_exit=4500 fault_retry=1000 page_cache_lookup=250 folio_alloc=400';
    const lines = renderText({ ...table, notes: [note] }, 60).split('\n\n').pop()!.trimEnd().split('\n');
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(60);
    expect(lines).toEqual([
      'cost parameters: clock_ghz=2.6 cpus=128 busy_cpus=128',
      '  fault_entry_exit=4500 fault_retry=1000',
      '  page_cache_lookup=250 folio_alloc=400',
    ]);
    expect(renderText({ ...table, notes: [note] })).toContain(`\n${note}\n`);
    expect(wrapProse('  note: a-very-long-word b c', 12)).toEqual(['  note:', '    a-very-long-word', '    b c']);
  });

  it('profiles wraps its descriptions to the terminal (under the row when they do not fit beside it)', () => {
    for (const out of [profilesListing(false, 100), profileDetail('linux-6.9', [], false, 100)]) {
      for (const line of out.split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
    }
    expect(profilesListing(false).split('\n').some((l) => l.length > 200)).toBe(true);
    // Narrower than the table's value columns: one block per knob, every value still there.
    const narrow = profilesListing(false, 80);
    for (const line of narrow.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    expect(narrow).toContain('contpte  (read by pgtable)\n    on in every profile\n');
    expect(narrow).toMatch(/\nthp_pmd  \(read by [a-z]+\)\n    never in every profile\n/);
    expect(narrow).toMatch(/\nhuge_zero_wp  \(read by [a-z]+\)\n    linux-6\.9: split, linux-6\.12: split, linux-7\.2: alloc\n/);
    expect(wrapWords('aa bb cc dd', 5)).toEqual(['aa bb', 'cc dd']);
    expect(wrapWords('a-very-long-word b', 4)).toEqual(['a-very-long-word', 'b']);
  });

  it('are never cut in a pipe or a file', () => {
    expect(tableWidth(new FakeTerm(false, 60))).toBe(Infinity);
    expect(tableWidth(new FakeTerm(true, 60))).toBe(60);
  });
});

describe('progress and colour only on a terminal', () => {
  it('decides from the stream and the environment: NO_COLOR and TERM=dumb', () => {
    const tty = new FakeTerm(true);
    const pipe = new FakeTerm(false);
    expect([showsProgress(tty, {}), showsProgress(pipe, {}), showsProgress(tty, { TERM: 'dumb' })]).toEqual([true, false, false]);
    expect([usesColour(tty, {}), usesColour(tty, { NO_COLOR: '1' }), usesColour(tty, { NO_COLOR: '' }), usesColour(pipe, {})]).toEqual([true, false, true, false]);
  });

  it("run's line: faults, virtual time, rate; shown after a second, redrawn at most every 250 ms", () => {
    expect(runProgressText({ faults: 12345, virtualNs: 2_500_000_000, elapsedMs: 5000 })).toBe('running: 12,345 faults, 2.500 s virtual, 2,469 faults/s, 5 s');
    let now = 0;
    const term = new FakeTerm(true, 40);
    const p = new RunProgress(term, () => now);
    p.update({ faults: 1, virtualNs: 0 });
    expect(term.text).toBe('');
    now = 1000;
    p.update({ faults: 10, virtualNs: 1e6 });
    now = 1100;
    p.update({ faults: 20, virtualNs: 2e6 });
    // One draw (the second update came too soon), cut to the terminal's 40 columns less one.
    expect(term.text).toBe('\r\x1b[2K' + 'running: 10 faults, 0.001 s virtual, 10 faults/s, 1 s'.slice(0, 39));
    p.clear();
    expect(term.text.endsWith('\r\x1b[2K')).toBe(true);
  });

  it("compare's bar has an ETA once a run has finished", () => {
    expect(etaMs(0, 8, 1000, 2)).toBeNull();
    expect(etaMs(2, 8, 10_000, 2)).toBe(30_000);
    expect(etaMs(8, 8, 10_000, 2)).toBe(0);
    expect([formatDuration(12_400), formatDuration(65_000), formatDuration(3_725_000)]).toEqual(['12 s', '1:05', '1:02:05']);
    let now = 0;
    const term = new FakeTerm(true, 200);
    const p = new TtyProgress(['a', 'b', 'c', 'd'], term, 2, () => now);
    p.started(0);
    p.started(1);
    expect(p.text()).toBe('[........................] 0/4  running: a, b');
    now = 4000;
    p.finished(0, true);
    expect(p.text()).toBe('[######..................] 1/4  ETA 12 s  running: b');
  });

  it('a long run draws its progress line on a terminal, and nothing of it in a pipe', async () => {
    const tty = onTerminal(`node ${CLI} run firmware/bin/page_fault3 -- 512M 4 >/dev/null`);
    expect(tty.code).toBe(0);
    expect(tty.out).toMatch(/\r\x1b\[2Krunning: [\d,]+ faults, [\d.]+ s virtual, [\d,]+ faults\/s, \d+ s/);
    const piped = await cli('run', 'firmware/bin/page_fault3', '--', '512M', '4');
    expect(piped.code).toBe(0);
    expect(piped.err).not.toContain('running:');
    expect(piped.err).not.toContain('\x1b');
  }, 120_000);

  it('compare marks FAILED in red on a terminal, not with NO_COLOR, never in a pipe', async () => {
    const cmd = `node ${CLI} compare firmware/bin/hello --matrix contpte=on --max-insns 100 2>/dev/null`;
    expect(onTerminal(cmd).out).toContain('\x1b[31mFAILED\x1b[0m');
    const plain = onTerminal(cmd, { NO_COLOR: '1' }).out;
    expect(plain).toContain('FAILED');
    expect(plain).not.toContain('\x1b[');
    // The failure report on stderr too.
    expect(onTerminal(`node ${CLI} compare firmware/bin/hello --matrix contpte=on --max-insns 100 >/dev/null`).out).toContain('case contpte=on \x1b[31mFAILED\x1b[0m: stopped by a budget');
    const piped = await cli('compare', 'firmware/bin/hello', '--matrix', 'contpte=on', '--max-insns', '100');
    expect(piped.out).toContain('FAILED');
    expect(piped.out).not.toContain('\x1b');
    expect(piped.err).toContain('case contpte=on FAILED: stopped by a budget');
    expect(piped.err).not.toContain('\x1b');
  }, 120_000);

  it('the report names the command as typed, quoted for a shell', () => {
    expect(commandLine(['compare', 'x', '--matrix', "contpte=on,off tlbi_range=on"])).toBe("contpte-lab compare x --matrix 'contpte=on,off tlbi_range=on'");
  });
});
