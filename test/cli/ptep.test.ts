/**
 * `contpte-lab ptep`: every example in traces/ptep/ reproduces its expected output exactly, the
 * JSON form agrees with the text, and script errors name the line and what was expected.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPtepScript } from '../../src/cli/commands/ptep.js';

const DIR = 'traces/ptep';
const CLI = 'dist/src/cli/main.js';

function run(source: string, file: string, json = false, verbose = true): string {
  let out = '';
  runPtepScript(source, file, { json, verbose }, (s) => (out += s));
  return out;
}

describe('traces/ptep examples', () => {
  const scripts = readdirSync(DIR).filter((f) => f.endsWith('.ptep'));
  it('there are examples', () => expect(scripts.length).toBeGreaterThanOrEqual(7));
  for (const f of scripts) {
    it(`${f} gives exactly ${f.replace('.ptep', '.out')}`, () => {
      const path = join(DIR, f);
      expect(run(readFileSync(path, 'utf8'), path)).toBe(readFileSync(path.replace(/\.ptep$/, '.out'), 'utf8'));
    });
  }

  it('the fold example costs one fold, one RVALE1IS, on its last line only', () => {
    const lines = run(readFileSync(join(DIR, 'fold-on-16th.ptep'), 'utf8'), 'x', true)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { cost: { folds: number; tlbi: Record<string, number>; pte_writes: number } });
    expect(lines).toHaveLength(16);
    expect(lines.slice(0, 15).every((l) => l.cost.folds === 0 && Object.keys(l.cost.tlbi).length === 0 && l.cost.pte_writes === 1)).toBe(true);
    expect(lines[15]!.cost).toMatchObject({ folds: 1, tlbi: { RVALE1IS: 1 }, pte_writes: 33 });
  });

  it('the mprotect page-15 example: every protect and every restore costs one convert and two TLBIs', () => {
    const steps = run(readFileSync(join(DIR, 'mprotect-page15.ptep'), 'utf8'), 'x', true)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { op: string; cost: { contpte_convert: number; tlbi: Record<string, number> } });
    for (const s of steps.filter((s) => s.op === 'mprotect')) expect(s.cost).toMatchObject({ contpte_convert: 1, tlbi: { RVALE1IS: 1, VALE1IS: 1 } });
  });
});

describe('ptep script errors', () => {
  const bad: [string, RegExp][] = [
    ['set_pts va=0x1000 pfn=1\n', /s\.ptep:1: unknown operation 'set_pts' \(expected one of: policy, folio, set_ptes/],
    ['folio A order=4\nset_ptes va=0x1000\n', /s\.ptep:2: set_ptes needs pfn=/],
    ['set_ptes va=0x1001 pfn=5\n', /s\.ptep:1: va=0x1001 is not page aligned/],
    ['set_ptes va=zz pfn=5\n', /s\.ptep:1: va: 'zz' is not a number/],
    ['set_ptes va=0x1000 pfn=B\n', /s\.ptep:1: no folio named 'B'/],
    ['folio A order=4\npolicy kpti=on\n', /s\.ptep:2: policy must come before any other statement/],
    ['policy kpti=maybe\n', /s\.ptep:1: kpti=maybe: expected on or off/],
    ['policy turbo=on\n', /s\.ptep:1: unknown switch 'turbo'/],
    ['set_ptes va=0x1ff000 pfn=5 nr=2\n', /crosses a 2 MiB page-table boundary/],
    ['set_ptes va=0x1000 pfn=5 prot=rwz\n', /prot=rwz: expected one of rw, rw-clean, ro/],
    ['wrprotect_ptes va=0x1000 nr=2 bogus\n', /unexpected word 'bogus'/],
  ];
  for (const [src, msg] of bad) {
    it(`rejects ${JSON.stringify(src.trim().split('\n').pop())}`, () => expect(() => run(src, 's.ptep')).toThrow(msg));
  }

  it('the command exits 2 with one line naming the line, and 0 on success', () => {
    const r = spawnSync('node', [CLI, 'ptep', '-'], { input: 'folio A order=4\nset_ptes va=0x400000 pfn=A nr=16\nset_pte va=0x401000\n', encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('contpte-lab: -:3: set_pte needs pfn= (a folio name, name+k, or a number)');
    const ok = spawnSync('node', [CLI, 'ptep', join(DIR, 'whole-folio.ptep')], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('CONT');
    const missing = spawnSync('node', [CLI, 'ptep', 'no/such.ptep'], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim()).toBe("contpte-lab: cannot read script 'no/such.ptep': ENOENT");
  });
});
