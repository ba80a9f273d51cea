/**
 * The README's examples say what the tool prints: each block marked `<!-- readme-example: MODE -->`
 * whose first line is `$ contpte-lab ...` is run, and its shown output checked against the real
 * output. Modes: `lines` (every shown line appears in the output, in order; `...` stands for
 * lines left out), `columns` (an abridged table: every shown column, found by its title, has the
 * shown value in every shown row), `exact`. `input` marks a block that is input (a script), and
 * `unchecked (why)` one that cannot run here; every bare fenced block must carry a marker, so a
 * new example cannot go unchecked by accident.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { exec } from './cli/exec.js';

interface Example {
  mode: string;
  line: number;
  command: string;
  shown: string[];
}

function parseReadme(text: string): { examples: Example[]; unchecked: string[]; unmarked: number[] } {
  const lines = text.split('\n');
  const examples: Example[] = [];
  const unchecked: string[] = [];
  const unmarked: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('```')) continue;
    const open = i;
    let close = i + 1;
    while (close < lines.length && lines[close] !== '```') close++;
    const body = lines.slice(open + 1, close);
    const marker = /^<!-- readme-example: (\w+)(?: (.*))? -->$/.exec(lines[open - 1] ?? '');
    i = close;
    if (marker === null) {
      if (lines[open] === '```') unmarked.push(open + 1);
      continue;
    }
    const mode = marker[1]!;
    if (mode === 'input') continue;
    if (mode === 'unchecked') {
      unchecked.push(marker[2] ?? '');
      continue;
    }
    expect(body[0], `README line ${open + 2}: an example starts with '$ contpte-lab ...'`).toMatch(/^\$ (npx )?contpte-lab /);
    examples.push({ mode, line: open + 2, command: body[0]!.replace(/^\$ (npx )?contpte-lab /, ''), shown: body.slice(1) });
  }
  return { examples, unchecked, unmarked };
}

/** Shell words: spaces separate, single quotes group (all the README's commands need). */
function words(cmd: string): string[] {
  return [...cmd.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

/** The cells of an aligned text table, by column title: titles end where their column ends. */
function tableByTitle(lines: string[]): Map<string, Map<string, string>> {
  const header = lines[0]!;
  const titles = [...header.matchAll(/\S+(?: \S+)*/g)].map((m) => ({ title: m[0], end: m.index + m[0].length }));
  const out = new Map<string, Map<string, string>>();
  for (const row of lines.slice(1)) {
    if (/^-+( +-+)*$/.test(row.trim()) || row.trim() === '') continue;
    if (!/^\S/.test(row)) break;
    const name = row.split(/\s+/)[0]!;
    const cells = new Map<string, string>();
    for (const t of titles.slice(1)) {
      const upto = row.slice(0, t.end);
      cells.set(t.title, upto.length < t.end || upto.endsWith(' ') ? '' : upto.split(/\s+/).pop()!);
    }
    out.set(name, cells);
  }
  return out;
}

const readme = parseReadme(readFileSync('README.md', 'utf8'));

describe('README examples', () => {
  it('every output block is marked; the only unchecked one is the validate excerpt', () => {
    expect(readme.unmarked, 'README lines of fenced blocks without a readme-example marker').toEqual([]);
    expect(readme.unchecked).toEqual(['(the real kernels under QEMU; test/validate/suite.test.ts checks these counts)']);
    expect(readme.examples.map((e) => e.mode)).toEqual(['lines', 'columns', 'lines']);
    // The first example shows the finding: folds and their contpte_convert TLBIs.
    expect(readme.examples[0]!.command).toContain('--profile linux-6.9');
    expect(readme.examples[0]!.shown.join('\n')).toMatch(/contpte_convert +508/);
  });

  for (const ex of readme.examples) {
    it(`line ${ex.line}: contpte-lab ${ex.command}`, async () => {
      const r = await exec('node', ['dist/src/cli/main.js', ...words(ex.command)], { timeoutMs: 300_000 });
      const out = (r.out + r.err).split('\n').map((l) => l.trimEnd());
      switch (ex.mode) {
        case 'exact':
          expect(out.join('\n').trim()).toBe(ex.shown.join('\n').trim());
          break;
        case 'lines': {
          let at = 0;
          for (const want of ex.shown.filter((l) => l !== '...').map((l) => l.trimEnd())) {
            const found = out.indexOf(want, at);
            expect(found, `README line ${ex.line}: '${want}' is not in the output after line ${at}:\n${out.join('\n')}`).toBeGreaterThanOrEqual(0);
            at = found + 1;
          }
          break;
        }
        case 'columns': {
          const shown = tableByTitle(ex.shown);
          const start = out.findIndex((l) => l.startsWith('case '));
          const real = tableByTitle(out.slice(start));
          expect(shown.size).toBeGreaterThan(0);
          for (const [name, cells] of shown) {
            expect(real.has(name), `row ${name}`).toBe(true);
            for (const [title, value] of cells) expect(`${name} ${title}: ${real.get(name)!.get(title)}`).toBe(`${name} ${title}: ${value}`);
          }
          break;
        }
        default:
          throw new Error(`README line ${ex.line}: unknown mode '${ex.mode}'`);
      }
      expect(r.code, r.err).toBe(0);
    }, 300_000);
  }
});

describe("README's library example", () => {
  const text = readFileSync('README.md', 'utf8');
  const block = /\n```ts\n([\s\S]*?)\n```\n/.exec(text);

  it('type-checks under strict TypeScript and runs as written: contpte_convert 508 on the linux-6.9 profile', async () => {
    expect(block, 'a ```ts block in README.md').not.toBeNull();
    const code = block![1]!;
    // Inside the package, so that `import ... from 'contpte-lab'` finds this checkout (dist/ is built).
    const mts = `dist/readme-library-example-${process.pid}.mts`;
    const mjs = mts.replace(/\.mts$/, '.mjs');
    writeFileSync(mts, code + '\n');
    writeFileSync(mjs, code + '\n');
    try {
      const tsc = await exec('node', ['node_modules/typescript/bin/tsc', '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', mts], { timeoutMs: 120_000 });
      expect(tsc.code, tsc.out + tsc.err).toBe(0);
      const r = await exec('node', [mjs], { timeoutMs: 120_000 });
      expect(r.code, r.err).toBe(0);
      // console.log(contpte_convert, tlbi.by_site, cycles_per_op), after the guest's own line.
      const last = r.out.trim().split('\n').pop()!;
      expect(last).toMatch(/^508 \{ contpte_convert: 508, zap_pte_range: \d+, tlb_finish_mmu: \d+ \} \d+(\.\d+)?$/);
    } finally {
      rmSync(mts, { force: true });
      rmSync(mjs, { force: true });
    }
  }, 240_000);
});
