/**
 * JavaScript heap allocated per fault in steady state (issue 11, goal 1: < 256 bytes per fault),
 * and where it is allocated (see fault-alloc-measure.ts for how). The figure does not depend on
 * the machine's load: the script runs itself again with synchronous optimisation if needed.
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/fault-alloc.js [program] [size] [rounds] [top]
 *      (default: page_fault1 64M 4, top 15 sites)
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { measureFaultAllocation } from './fault-alloc-measure.js';

const SYNC_OPT = '--no-concurrent-recompilation';
if (!process.execArgv.includes(SYNC_OPT)) {
  const r = spawnSync(process.execPath, [...process.execArgv, SYNC_OPT, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const program = process.argv[2] ?? 'page_fault1';
const size = process.argv[3] ?? '64M';
const rounds = Number(process.argv[4] ?? 4);
const top = Number(process.argv[5] ?? 15);

const m = await measureFaultAllocation(program, size, rounds);
console.log(`${program} ${size} x ${rounds}: rounds 2..${rounds}, ${m.faults} faults`);
console.log(`  JavaScript heap allocated per fault: ${m.bytesPerFault.toFixed(0)} bytes (target < 256) ${m.bytesPerFault < 256 ? 'met' : 'NOT met'}`);
console.log(`  top allocation sites (bytes per fault, site < caller):`);
for (const [k, v] of m.sites.slice(0, top)) console.log(`  ${v.toFixed(1).padStart(8)}  ${k}`);
