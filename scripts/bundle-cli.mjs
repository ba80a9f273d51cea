#!/usr/bin/env node
/**
 * Start-up: replaces tsc's dist/src/cli/main.js by one ES module holding the CLI and everything
 * it imports (koffi and capstone stay outside: a native addon, and WebAssembly found next to its
 * loader). Node 20 loads each of the ~190 modules of an unbundled run separately (resolve, open,
 * read, compile, link), which costs about a third of `contpte-lab run`'s start-up CPU; one file
 * costs a fraction of that. Run after `tsc -p tsconfig.json` (npm run build does both).
 *
 * esbuild comes with the test tooling (vitest's vite); without it the unbundled output stays and
 * only start-up is slower. The library entry (dist/src/index.js) is not bundled.
 */
import { renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// compare's pool process (dist/src/report/pool-host.js) and its case workers
// (dist/src/report/case-worker.js) are entries of their own: each loads once per process or
// thread, and bundled loads as fast as the CLI does.
const entries = ['../dist/src/cli/main.js', '../dist/src/report/case-worker.js', '../dist/src/report/pool-host.js'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.error('bundle-cli: esbuild is not installed; dist/src/cli/main.js and the case worker stay unbundled (slower start-up)');
  process.exit(0);
}
for (const entry of entries) {
  const tmp = `${entry}.bundle.tmp`;
  await esbuild.build({
    entryPoints: [entry],
    outfile: tmp,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['koffi', '@alexaltea/capstone-js'],
    sourcemap: true,
    logLevel: 'warning',
    // CommonJS dependencies bundled into an ES module still call require().
    banner: { js: "import { createRequire as __contpteLabRequire } from 'node:module'; const require = __contpteLabRequire(import.meta.url);" },
  });
  renameSync(tmp, entry);
  renameSync(`${tmp}.map`, `${entry}.map`);
}
