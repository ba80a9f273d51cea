/**
 * Runs every benchmark in bench/ (each its own process, one after the other, so they do not
 * compete for the two cores) and prints their output. `npm run bench`; pass names to run some:
 * `node dist/bench/run-all.js pgtable mmu-tlb`.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const benches = readdirSync(here)
  .filter((f) => f.endsWith('.js') && f !== 'run-all.js')
  .map((f) => f.replace(/\.js$/, ''))
  .filter((n) => wanted.length === 0 || wanted.includes(n))
  .sort();
let failed = 0;
for (const name of benches) {
  process.stdout.write(`\n== ${name} ==\n`);
  const r = spawnSync(process.execPath, [join(here, `${name}.js`)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    process.stdout.write(`(${name} exited with ${r.status ?? r.signal})\n`);
  }
}
process.exitCode = failed ? 1 : 0;
