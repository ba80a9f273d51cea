/**
 * Case expansion: a matrix is the cartesian product in a fixed order, a cases file has one case
 * per line or is JSON, the preset is the thread's four configurations; bad input is a usage
 * error naming the place.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crossCases, expandMatrix, parseCasesText, preset, readCasesFile, shellWords } from '../../src/report/cases.js';
import { UsageError } from '../../src/util/errors.js';

describe('expandMatrix', () => {
  it('gives every combination, the first knob varying slowest, named by its settings', () => {
    expect(expandMatrix('contpte=on,off file_large_folios=on,off')).toEqual([
      { name: 'contpte=on file_large_folios=on', sets: ['contpte=on', 'file_large_folios=on'], costSets: [] },
      { name: 'contpte=on file_large_folios=off', sets: ['contpte=on', 'file_large_folios=off'], costSets: [] },
      { name: 'contpte=off file_large_folios=on', sets: ['contpte=off', 'file_large_folios=on'], costSets: [] },
      { name: 'contpte=off file_large_folios=off', sets: ['contpte=off', 'file_large_folios=off'], costSets: [] },
    ]);
  });

  it('takes profile and cost parameters as axes too', () => {
    expect(expandMatrix('  profile=linux-6.9,linux-7.2   cost.cpus=1,128 ')).toEqual([
      { name: 'profile=linux-6.9 cost.cpus=1', profile: 'linux-6.9', sets: [], costSets: ['cost.cpus=1'] },
      { name: 'profile=linux-6.9 cost.cpus=128', profile: 'linux-6.9', sets: [], costSets: ['cost.cpus=128'] },
      { name: 'profile=linux-7.2 cost.cpus=1', profile: 'linux-7.2', sets: [], costSets: ['cost.cpus=1'] },
      { name: 'profile=linux-7.2 cost.cpus=128', profile: 'linux-7.2', sets: [], costSets: ['cost.cpus=128'] },
    ]);
    expect(expandMatrix('anon_mthp=64K,none')).toHaveLength(2);
  });

  it('rejects what is not knob=a,b with a message naming the problem', () => {
    const bad: [string, string][] = [
      ['', "--matrix: empty (expected 'knob=a,b knob2=c,d')"],
      ['contpte', "--matrix: 'contpte' has no values (expected knob=a,b)"],
      ['contpte=', "--matrix: 'contpte=' has no values (expected knob=a,b)"],
      ['contpte=on,,off', "--matrix: 'contpte=on,,off' has an empty value"],
      ['contpte=on,on', "--matrix: 'contpte' lists 'on' twice"],
      ['contpte=on contpte=off', "--matrix: knob 'contpte' appears twice"],
      ['Contpte=on', "--matrix: 'Contpte' is not a knob name"],
      ['cost.bogus=1', "--matrix: unknown cost parameter 'bogus'"],
      ['cost.cpus=x', "--matrix: cost.cpus: 'x' is not a non-negative number (CPUs)"],
    ];
    for (const [text, message] of bad) {
      expect(() => expandMatrix(text)).toThrow(UsageError);
      expect(() => expandMatrix(text)).toThrow(message);
    }
  });
});

describe('cases files', () => {
  it('one case per line: name, --profile, --set, bare knob=value, and guest arguments after --', () => {
    const text = [
      '# the regression, two ways',
      '',
      'folds: --profile linux-6.9 --set contpte=on --set=cost.cpus=64 file_large_folios=on -- 16M 2',
      "no folds : --profile=linux-6.9 contpte=off -- '16M' \"2\"",
      '  plain: tmp_fs=tmpfs',
    ].join('\n');
    expect(parseCasesText(text, 'c.txt')).toEqual([
      { name: 'folds', profile: 'linux-6.9', sets: ['contpte=on', 'file_large_folios=on'], costSets: ['cost.cpus=64'], args: ['16M', '2'] },
      { name: 'no folds', profile: 'linux-6.9', sets: ['contpte=off'], costSets: [], args: ['16M', '2'] },
      { name: 'plain', sets: ['tmp_fs=tmpfs'], costSets: [] },
    ]);
  });

  it('JSON: an array of cases or {"cases": [...]}, settings as an object or a list', () => {
    const json = JSON.stringify({
      cases: [
        { name: 'a', profile: 'linux-6.12', set: { contpte: 'off', fault_around_kb: 16, 'cost.cpus': 8 }, args: ['2M', 1] },
        { name: 'b', set: ['contpte=on'] },
      ],
    });
    expect(parseCasesText(json, 'c.json')).toEqual([
      { name: 'a', profile: 'linux-6.12', sets: ['contpte=off', 'fault_around_kb=16'], costSets: ['cost.cpus=8'], args: ['2M', '1'] },
      { name: 'b', sets: ['contpte=on'], costSets: [] },
    ]);
  });

  it('names the file and line of a mistake', () => {
    const bad: [string, string][] = [
      ['a: --profile', '--cases: f:1: --profile needs a value'],
      ['\n\nb: --sett x=1', "--cases: f:3: unexpected '--sett'"],
      ['c --set x=1', "--cases: f:1: expected 'name: --profile X --set knob=value ...'"],
      ['d: --set X=1', "--cases: f:1: 'X=1' is not knob=value"],
      ["e: --profile 'linux", '--cases: f:1: unterminated \' quote'],
      ['a: x=1\na: x=2', "--cases: f: case name 'a' is used twice"],
      ['# nothing', '--cases: f: no cases'],
      ['[{"name": "a", "sets": {}}]', '--cases: f: case 1: unknown key "sets" (expected name, profile, set, args)'],
      ['[{"set": {}}]', '--cases: f: case 1: "name" must be a non-empty string'],
      ['{"cases": 3}', '--cases: f: expected a JSON array of cases or {"cases": [...]}'],
      ['[{"name": "a",]', '--cases: f is not valid JSON'],
    ];
    for (const [text, message] of bad) expect(() => parseCasesText(text, 'f'), text).toThrow(message);
  });

  it('reads a file, and names a file it cannot read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cases-'));
    const f = join(dir, 'cases.txt');
    writeFileSync(f, 'x: contpte=off\n');
    expect(readCasesFile(f)).toEqual([{ name: 'x', sets: ['contpte=off'], costSets: [] }]);
    expect(() => readCasesFile(join(dir, 'missing.txt'))).toThrow(`--cases: cannot read '${join(dir, 'missing.txt')}' (ENOENT)`);
  });

  it('shellWords groups quotes and escapes', () => {
    expect(shellWords(` a 'b c' "d \\"e\\"" f\\ g ''`, 'w')).toEqual(['a', 'b c', 'd "e"', 'f g', '']);
  });
});

describe('crossCases', () => {
  it('combines every base case with every matrix case', () => {
    const base = parseCasesText('one: --profile linux-6.9 contpte=on\ntwo: contpte=off -- 2M', 'b');
    expect(crossCases(base, expandMatrix('cost.cpus=1,128'))).toEqual([
      { name: 'one cost.cpus=1', profile: 'linux-6.9', sets: ['contpte=on'], costSets: ['cost.cpus=1'] },
      { name: 'one cost.cpus=128', profile: 'linux-6.9', sets: ['contpte=on'], costSets: ['cost.cpus=128'] },
      { name: 'two cost.cpus=1', sets: ['contpte=off'], costSets: ['cost.cpus=1'], args: ['2M'] },
      { name: 'two cost.cpus=128', sets: ['contpte=off'], costSets: ['cost.cpus=128'], args: ['2M'] },
    ]);
  });
});

describe('the page_fault3-regression preset', () => {
  it("is the report's four configurations on linux-6.9 with /tmp on ext4, 128 busy CPUs in the cost model", () => {
    const p = preset('page_fault3-regression');
    expect(p.elf).toBe('firmware/bin/page_fault3');
    expect(p.args).toEqual([]);
    expect(p.baseline).toBe('1-no-large-folios');
    const common = { profile: 'linux-6.9', costSets: ['cost.cpus=128', 'cost.busy_cpus=128'] };
    expect(p.cases).toEqual([
      { name: '1-no-large-folios', ...common, sets: ['tmp_fs=ext4', 'file_large_folios=off', 'contpte=on', 'finish_fault=page'] },
      { name: '2-large-folios+contpte', ...common, sets: ['tmp_fs=ext4', 'file_large_folios=on', 'contpte=on', 'finish_fault=page'] },
      { name: '3-large-folios,contpte-off', ...common, sets: ['tmp_fs=ext4', 'file_large_folios=on', 'contpte=off', 'finish_fault=page'] },
      { name: '4-large-folios+contpte+folio-map', ...common, sets: ['tmp_fs=ext4', 'file_large_folios=on', 'contpte=on', 'finish_fault=folio'] },
    ]);
    // A copy: changing it does not change the preset.
    p.cases[0]!.sets.push('x=y');
    expect(preset('page_fault3-regression').cases[0]!.sets).toHaveLength(4);
    expect(() => preset('page_fault1')).toThrow("--preset: unknown preset 'page_fault1' (expected one of: page_fault3-regression)");
  });
});
