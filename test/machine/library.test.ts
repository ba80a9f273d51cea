/**
 * The library: `import { run } from 'contpte-lab'` (the package's own export, the built dist)
 * runs the guest in a worker thread and resolves to the JSON summary with its cost: the same
 * document `contpte-lab run --json` prints. The caller's event loop keeps turning meanwhile;
 * knob names and values are typed (library-types.ts is type-checked by `npm test`); bundled
 * programs are found by name or by their path in the package from any directory.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

type Lib = typeof import('../../src/index.js');
// Through the package name, as a user's script imports it (npm test builds dist first).
const load = async (): Promise<Lib> => (await import('contpte-lab' as string)) as Lib;

describe("import { run } from 'contpte-lab'", () => {
  it('returns the summary object with its cost, equal to what run --json prints', async () => {
    const lib = await load();
    const s = await lib.run({ elf: 'firmware/bin/page_fault3', args: ['2M', '2'], profile: 'linux-6.9', sets: ['file_large_folios=on'], stdout: () => {} });
    const cli = JSON.parse(spawnSync('node', ['dist/src/cli/main.js', 'run', 'firmware/bin/page_fault3', '--json', '--profile', 'linux-6.9', '--set', 'file_large_folios=on', '--', '2M', '2'], { encoding: 'utf8' }).stdout);
    expect(s.exit_code).toBe(0);
    expect(s.profile).toBe('linux-6.9');
    expect(s.policy['file_large_folios']).toBe('on');
    expect(s.counts).toEqual(cli.counts);
    expect(s.dumps).toEqual(cli.dumps);
    expect(s.cost).toEqual(cli.cost);
    expect(s.cost.estimate).toBe(true);
    expect(s.cost.source).toBe("dump 'page_fault3'");
    expect(s.dumps[0]!.counts.contpte_convert).toBeGreaterThan(0);
  });

  it('does not block the event loop: a timer keeps firing on this thread while the guest runs', async () => {
    const lib = await load();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const t0 = Date.now();
    const s = await lib.run({ elf: lib.firmwarePath('page_fault3'), args: ['16M', '2'], stdout: () => {} });
    const ms = Date.now() - t0;
    clearInterval(timer);
    expect(s.exit_code).toBe(0);
    // The guest took most of a second or more; a run on this thread would have let no tick through.
    expect(ms).toBeGreaterThan(300);
    expect(ticks).toBeGreaterThan(ms / 10 / 4);
  }, 120_000);

  it('typed knob settings become the knobs, cost settings the cost model', async () => {
    const lib = await load();
    const s = await lib.run({
      elf: 'firmware/bin/hello',
      set: { cpus: 2, contpte: false, anon_mthp: ['16K', '64K'], ra_kb: 'auto', finish_fault: 'folio' },
      cost: { pte_write: 123 },
      stdout: () => {},
    });
    expect(s.policy).toMatchObject({ cpus: '2', contpte: 'off', anon_mthp: '16K,64K', ra_kb: 'auto', finish_fault: 'folio' });
    expect(s.cost.params.pte_write).toBe(123);
  });

  it('passes the guest output to the callbacks; bad input rejects with the CLI\'s one-line UsageError', async () => {
    const lib = await load();
    let out = '';
    const s = await lib.run({ elf: 'firmware/bin/hello', args: ['a b'], stdout: (b) => (out += new TextDecoder().decode(b)) });
    expect(s.exit_code).toBe(0);
    expect(out).toBe('hello, world\nargv[1] = a b\n');
    await expect(lib.run({ elf: 'firmware/bin/hello', sets: ['no_such_knob=1'] })).rejects.toMatchObject({ name: 'UsageError', message: expect.stringContaining('no_such_knob') });
    await expect(lib.run({ elf: '/nonexistent/prog' })).rejects.toMatchObject({ name: 'UsageError' });
    expect(() => lib.firmwarePath('nope' as 'hello')).toThrow(/not a bundled program/);
  });

  it('an AbortSignal stops the guest: the summary so far, ended as interrupted', async () => {
    const lib = await load();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const s = await lib.run({ elf: lib.firmwarePath('page_fault3'), args: ['64M', '50'], stdout: () => {}, signal: ac.signal });
    expect(s.end.reason).toBe('interrupted');
    expect(s.counts.faults.total).toBeGreaterThan(0);
  }, 120_000);
});
