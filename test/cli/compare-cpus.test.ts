/**
 * `cpus` as a comparison axis, through the compiled CLI: every broadcast TLBI reaches the other
 * CPUs of the modeled machine, and the per-CPU counts are in the JSON document and the HTML report.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = process.cwd();
const CLI = join(ROOT, 'dist/src/cli/main.js');

interface CpuRow {
  cpu: number;
  tlbi_issued: number;
  tlbi_received: number;
  invalidated_entries: number;
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with 'npm run build' (npm test does this)`);
});

describe('compare with cpus on an axis', () => {
  it('the regression preset at cpus=128: each CPU receives every broadcast TLBI the others issue', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cl-cpus-'));
    const html = join(dir, 'report.html');
    const r = spawnSync(
      process.execPath,
      [CLI, 'compare', '--preset', 'page_fault3-regression', '--set', 'cpus=128', '--set', 'cost.cpus=128', '--set', 'cost.busy_cpus=128', '--format', 'json', '--html', html, '--', '16M', '2'],
      { encoding: 'utf8', timeout: 300_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { cases: { name: string; summary: { counts: { tlbi: { total: number; by_op: Record<string, number> }; cpus: CpuRow[] } } }[] };
    expect(doc.cases.map((c) => c.name)).toEqual(['1-no-large-folios', '2-large-folios+contpte', '3-large-folios,contpte-off', '4-large-folios+contpte+folio-map']);
    for (const c of doc.cases) {
      const { tlbi, cpus } = c.summary.counts;
      expect(cpus.length).toBe(128);
      const broadcasts = Object.entries(tlbi.by_op).filter(([op]) => op.endsWith('IS')).reduce((n, [, v]) => n + v, 0);
      // One process on CPU 0 issues everything; each of the 127 others receives each broadcast.
      expect(cpus[0]!.tlbi_issued).toBe(tlbi.total);
      for (const x of cpus.slice(1)) expect([x.tlbi_issued, x.tlbi_received]).toEqual([0, broadcasts]);
    }
    // The fold regression is 127 times as many broadcasts received as the issuing CPU made.
    const received = (i: number): number => doc.cases[i]!.summary.counts.cpus[1]!.tlbi_received;
    expect(received(1)).toBeGreaterThan(20 * received(0));
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<h2>TLBIs by CPU</h2>');
    expect(page).toContain(`<td class="num">128</td>`);
  }, 300_000);

  it('--matrix cpus=1,4 on fork_cow: one CPU receives nothing; with four, three receive every broadcast', () => {
    const r = spawnSync(process.execPath, [CLI, 'compare', join(ROOT, 'firmware/bin/fork_cow'), '--matrix', 'cpus=1,4', '--set', 'anon_mthp=64K', '--format', 'json'], { encoding: 'utf8', timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { cases: { name: string; summary: { counts: { tlbi: { total: number }; cpus: CpuRow[] } } }[] };
    const [one, four] = doc.cases.map((c) => c.summary.counts);
    expect(one!.cpus).toEqual([{ cpu: 0, tlbi_issued: one!.tlbi.total, tlbi_received: 0, invalidated_entries: one!.cpus[0]!.invalidated_entries }]);
    expect(four!.cpus.length).toBe(4);
    expect(four!.cpus.reduce((n, x) => n + x.tlbi_received, 0)).toBe(3 * four!.tlbi.total);
  }, 300_000);
});
