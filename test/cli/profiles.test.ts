/**
 * `contpte-lab profiles` end to end: the compiled CLI (dist/, built by `npm test` before vitest
 * runs), its table, its JSON, one profile resolved with overrides, and its errors (exit code 2).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { KNOBS } from '../../src/mm/index.js';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');

function run(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, 'profiles', ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with 'npx tsc -p tsconfig.json' (npm test does this)`);
});

describe('contpte-lab profiles', () => {
  it('lists every knob with its value in each profile and what it means', () => {
    const r = run();
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('Profiles (default linux-6.12):');
    const header = lines.find((l) => l.startsWith('knob '))!;
    expect(header.split(/\s{2,}/)).toEqual(['knob', 'linux-6.9', 'linux-6.12', 'linux-7.2', 'read by', 'description']);
    const row = (k: string) => lines.find((l) => l.startsWith(k + ' '))!.split(/\s{2,}/).slice(0, 5);
    expect(row('finish_fault')).toEqual(['finish_fault', 'page', 'anon_shmem_folio', 'folio', 'mm']);
    expect(row('file_large_folios')).toEqual(['file_large_folios', 'on', 'off', 'on', 'linux/fs']);
    expect(row('readahead')).toEqual(['readahead', 'v69', 'v612', 'v72', 'mm/readahead']);
    for (const k of KNOBS) expect(lines.some((l) => l.startsWith(k.name + ' '))).toBe(true);
  });

  it('--json gives the profiles with values and reasons, and the knob table', () => {
    const r = run('--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.default_profile).toBe('linux-6.12');
    expect(j.profiles.map((p: { name: string }) => p.name)).toEqual(['linux-6.9', 'linux-6.12', 'linux-7.2']);
    expect(j.profiles[0].values.finish_fault.value).toBe('page');
    expect(j.profiles[2].values.mprotect_batch).toEqual({ value: 'on', reason: "Dev Jain's batched mprotect is in 7.2" });
    expect(j.knobs.find((k: { name: string }) => k.name === 'tmp_fs')).toMatchObject({ accepts: 'tmpfs|ext4', reader: 'linux/fs' });
    expect(j.knobs).toHaveLength(KNOBS.length);
  });

  it('--profile NAME --set resolves one profile, marking the overrides', () => {
    const r = run('--profile', 'linux-6.9', '--set', 'finish_fault=folio', '--set', 'anon_mthp=64K');
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/^linux-6\.9: /);
    expect(lines.find((l) => l.startsWith('finish_fault '))!.split(/\s{2,}/)).toEqual(['finish_fault', 'folio', 'set (profile: page)']);
    expect(lines.find((l) => l.startsWith('contpte '))!.split(/\s{2,}/)[1]).toBe('on');
    const j = JSON.parse(run('--profile', 'linux-7.2', '--set', 'kpti=on', '--json').out);
    expect(j).toMatchObject({ profile: 'linux-7.2', overridden: ['kpti'] });
    expect(j.policy.kpti).toBe('on');
    expect(j.policy.readahead).toBe('v72');
  });

  it('bad input: one line naming the problem, exit code 2', () => {
    const unknown = run('--profile', 'linux-9');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toBe('contpte-lab: --profile linux-9: unknown profile; known profiles: linux-6.9, linux-6.12, linux-7.2\n');
    const knob = run('--set', 'tlbi=on');
    expect(knob.code).toBe(2);
    expect(knob.err).toMatch(/^contpte-lab: --set tlbi=on: unknown knob 'tlbi'; known knobs: contpte, .*\bmem_mb, .*\bcpus\b.*\n$/);
    expect(knob.err.split('\n').length).toBe(2);
    const value = run('--set', 'hw_af=maybe');
    expect(value.code).toBe(2);
    expect(value.err).toBe('contpte-lab: --set hw_af=maybe: expected on|off\n');
  });
});
