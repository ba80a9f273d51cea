/**
 * page_fault3 end to end: `contpte-lab run firmware/bin/page_fault3 -- 128M 10` (327,680 shared
 * write faults on a sparse 128 MiB ext4 file, with munmap after each of the 10 mappings) on the
 * default profile and on the regression configuration. Reports faults per second over the
 * measured region (between the firmware's reset and dump markers), the whole run's wall time,
 * and the peak RSS of the run's process. Targets (issue 5): >= 100,000 faults/s, RSS < 1 GiB.
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/run-page-fault3.js
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '../..');
const cli = join(root, 'dist/src/cli/main.js');
const elf = join(root, 'firmware/bin/page_fault3');

// Time the measured region from inside the run: a tiny driver script using the library.
const driver = `
import { runMachine } from ${JSON.stringify(join(root, 'dist/src/machine/run.js'))};
let t0 = 0n, t1 = 0n;
const t = process.hrtime.bigint();
const r = await runMachine({ elf: ${JSON.stringify(elf)}, args: ['128M', '10'], sets: JSON.parse(process.argv.at(-1)), profile: 'linux-6.9', stdout: () => {},
  onMarker: (a) => { if (a === 'reset') t0 = process.hrtime.bigint(); if (a === 'dump') t1 = process.hrtime.bigint(); } });
const wall = Number(process.hrtime.bigint() - t) / 1e9;
const d = r.summary.dumps.at(-1);
console.log(JSON.stringify({ faults: d.counts.faults.total, converts: d.counts.contpte_convert, region: Number(t1 - t0) / 1e9, wall, rss: process.resourceUsage().maxRSS * 1024 }));
`;

for (const [name, sets] of [
  ['(1) large folios off', ['file_large_folios=off']],
  ['(2) large folios + contpte (the regression)', ['file_large_folios=on']],
] as const) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', driver, JSON.stringify(sets)], { encoding: 'utf8', cwd: root });
  if (r.status !== 0) throw new Error(`run failed: ${r.stderr}`);
  const m = JSON.parse(r.stdout.trim().split('\n').pop()!) as { faults: number; converts: number; region: number; wall: number; rss: number };
  const rate = m.faults / m.region;
  console.log(`page_fault3 128M x 10, linux-6.9, ${name}`);
  console.log(`  ${m.faults} faults, ${m.converts} contpte_convert in ${m.region.toFixed(2)} s: ${Math.round(rate).toLocaleString('en')} faults/s (target >= 100,000) ${rate >= 1e5 ? 'met' : 'NOT met'}`);
  console.log(`  whole run ${m.wall.toFixed(2)} s; peak RSS ${(m.rss / 2 ** 20).toFixed(0)} MiB (target < 1024 MiB) ${m.rss < 2 ** 30 ? 'met' : 'NOT met'}`);
}
void cli;
