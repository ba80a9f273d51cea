/**
 * The library: `import { run } from 'contpte-lab'` (the package's own export, the built dist)
 * returns the JSON summary's object: the same document `contpte-lab run --json` prints.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe("import { run } from 'contpte-lab'", () => {
  it('returns the summary object, equal to what run --json prints', async () => {
    // Through the package name, as a user's script imports it (npm test builds dist first).
    const lib = (await import('contpte-lab' as string)) as typeof import('../../src/index.js');
    const s = await lib.run({ elf: 'firmware/bin/page_fault3', args: ['2M', '2'], profile: 'linux-6.9', sets: ['file_large_folios=on'], stdout: () => {} });
    const cli = JSON.parse(spawnSync('node', ['dist/src/cli/main.js', 'run', 'firmware/bin/page_fault3', '--json', '--profile', 'linux-6.9', '--set', 'file_large_folios=on', '--', '2M', '2'], { encoding: 'utf8' }).stdout);
    expect(s.exit_code).toBe(0);
    expect(s.profile).toBe('linux-6.9');
    expect(s.policy['file_large_folios']).toBe('on');
    expect(s.counts).toEqual(cli.counts);
    expect(s.dumps).toEqual(cli.dumps);
    expect(s.dumps[0]!.counts.contpte_convert).toBeGreaterThan(0);
  });
});
