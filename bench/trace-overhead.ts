/**
 * What tracing every event costs on a real run: `contpte-lab run firmware/bin/page_fault3` without
 * a trace, with a JSON-lines trace and with a Perfetto trace of every kind, best of 3 wall times
 * each. Target (issue 6): a traced run takes at most 3 times the untraced one.
 *
 * Needs `contpte-lab run`. Run: npx tsc -p tsconfig.json && node dist/bench/trace-overhead.js [guest args]
 * (default guest args: 16M 2).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '../..');
const cli = join(root, 'dist/src/cli/main.js');
const elf = join(root, 'firmware/bin/page_fault3');
const guest = process.argv.length > 2 ? process.argv.slice(2) : ['16M', '2'];
const dir = mkdtempSync(join(tmpdir(), 'bench-trace-overhead-'));

function timed(label: string, extra: string[]): { ms: number; bytes: number } {
  let best = Infinity;
  let bytes = 0;
  for (let rep = 0; rep < 5; rep++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [cli, 'run', elf, '--json', ...extra, '--', ...guest], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const ms = performance.now() - t0;
    if (r.status !== 0) {
      process.stderr.write(`trace-overhead: '${label}' run failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-2).join(' | ')}\n`);
      process.exit(1);
    }
    best = Math.min(best, ms);
    const file = extra[extra.indexOf('--trace') + 1];
    if (extra.includes('--trace') && file !== undefined) {
      bytes = statSync(file).size;
      rmSync(file);
    }
  }
  return { ms: best, bytes };
}

const base = timed('untraced', []);
const jsonl = timed('jsonl', ['--trace', join(dir, 't.jsonl'), '--trace-format', 'jsonl']);
const perfetto = timed('perfetto', ['--trace', join(dir, 't.json'), '--trace-format', 'perfetto']);
console.log(`page_fault3 ${guest.join(' ')}, best of 5 (wall time of the whole command, start-up included)`);
console.log(`  untraced        ${base.ms.toFixed(0)} ms`);
for (const [name, r] of [['jsonl', jsonl], ['perfetto', perfetto]] as const) {
  const ratio = r.ms / base.ms;
  console.log(`  traced ${name.padEnd(8)} ${r.ms.toFixed(0)} ms  ${ratio.toFixed(2)}x  ${(r.bytes / 1e6).toFixed(1)} MB  ${ratio <= 3 ? 'within' : 'OVER'} the 3x target`);
}
rmSync(dir, { recursive: true, force: true });
