/**
 * Depending on contpte-lab from another project: `npm pack` makes a tarball holding what the
 * library needs (dist with its types, the run worker, the bundled firmware), and a project that
 * installs it imports `contpte-lab`, runs a bundled program by its package path and by
 * firmwarePath, from its own directory. The install is `npm install --offline` of the tarball
 * (npm's cache must hold the dependencies, as after `npm ci`); when the cache does not, the
 * tarball is unpacked into the project's node_modules with this checkout's dependencies beside it.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIRMWARE } from '../../src/library/package.js';
import { FIRMWARE_PROGRAMS, MULTITASK_PROGRAMS } from '../firmware/cases.js';

const ROOT = process.cwd();
const dir = mkdtempSync(join(tmpdir(), 'contpte-lab-pack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sh(cmd: string, args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 180_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const SCRIPT = `
import { run, firmwarePath } from 'contpte-lab';
let out = '';
const a = await run({ elf: 'firmware/bin/hello', args: ['packed'], stdout: (b) => (out += new TextDecoder().decode(b)) });
const b = await run({ elf: firmwarePath('page_fault3'), args: ['1M', '1'], stdout: () => {} });
console.log(JSON.stringify({ out, a: a.exit_code, b: b.exit_code, dumps: b.dumps.length, faults: b.dumps[0].counts.faults.total, cost: typeof b.cost.cycles }));
`;

describe('npm pack, then a project that depends on the tarball', () => {
  let tarball = '';

  it('firmwarePath knows exactly the programs of firmware/Makefile', () => {
    expect([...FIRMWARE].sort()).toEqual([...FIRMWARE_PROGRAMS, ...MULTITASK_PROGRAMS].sort());
  });

  it('the tarball holds the library, its types, the run worker and every bundled program', () => {
    const r = sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT);
    expect(r.status, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as { filename: string; files: { path: string }[] }[];
    tarball = join(dir, info[0]!.filename);
    const files = new Set(info[0]!.files.map((f) => f.path));
    for (const f of ['package.json', 'README.md', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/library/worker.js', 'dist/src/library/run.d.ts', 'dist/src/cli/main.js']) {
      expect(files.has(f), f).toBe(true);
    }
    for (const p of FIRMWARE) expect(files.has(`firmware/bin/${p}`), p).toBe(true);
    expect([...files].filter((f) => f.startsWith('test/') || (f.startsWith('src/') && f.endsWith('.ts')))).toEqual([]);
  }, 180_000);

  it('installs and runs from the project directory', () => {
    const proj = join(dir, 'proj');
    mkdirSync(proj);
    writeFileSync(join(proj, 'package.json'), JSON.stringify({ name: 'uses-contpte-lab', version: '1.0.0', type: 'module', private: true }));
    const install = sh('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], proj);
    if (install.status !== 0) {
      // npm's cache lacks a dependency (ENOTCACHED): the same package, unpacked by hand.
      expect(install.stderr).toMatch(/ENOTCACHED|only-if-cached/);
      const modules = join(proj, 'node_modules');
      mkdirSync(modules, { recursive: true });
      expect(sh('tar', ['xzf', tarball, '-C', modules], proj).status).toBe(0);
      const pkg = join(modules, 'contpte-lab');
      rmSync(pkg, { recursive: true, force: true });
      spawnSync('mv', [join(modules, 'package'), pkg]);
      symlinkSync(resolve(ROOT, 'node_modules'), join(pkg, 'node_modules'));
    }
    expect(readdirSync(join(proj, 'node_modules', 'contpte-lab', 'firmware', 'bin')).sort()).toEqual([...FIRMWARE].sort());
    writeFileSync(join(proj, 'use.mjs'), SCRIPT);
    const r = sh(process.execPath, ['use.mjs'], proj);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ out: 'hello, world\nargv[1] = packed\n', a: 0, b: 0, dumps: 1, faults: 256, cost: 'number' });
  }, 180_000);
});
