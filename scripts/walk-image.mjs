#!/usr/bin/env node
/**
 * A page-table image for `contpte-lab walk`, made by running a `ptep` script on the page-table
 * model: the image is the model's physical memory from its base (0x40000000) up to the last
 * page-table page, raw and little-endian, as `walk --image` reads it. Prints the `walk` options
 * that go with it. Run after a build (dist/):
 *
 *   node scripts/walk-image.mjs traces/walk/sample.ptep traces/walk/sample.bin
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { PtepScript, parseScript } from '../dist/src/cli/ptep/index.js';

const [scriptPath, imagePath] = process.argv.slice(2);
if (scriptPath === undefined || imagePath === undefined) {
  console.error('usage: node scripts/walk-image.mjs <script.ptep> <image.bin>');
  process.exit(2);
}
const script = new PtepScript(scriptPath);
script.run(parseScript(readFileSync(scriptPath, 'utf8'), scriptPath), () => {});
const wb = script.workbench;
if (wb === undefined) {
  console.error(`${scriptPath}: the script made no page table`);
  process.exit(1);
}
const base = wb.mem.base;
const ttbr = wb.mm.pgd;
// The tables reachable from the root: a table descriptor has bits[1:0] = 0b11 above level 3;
// its next-level address is bits[47:12].
let end = ttbr + 4096;
const visit = (table, level) => {
  end = Math.max(end, table + 4096);
  if (level === 3) return;
  for (let i = 0; i < 512; i++) {
    const lo = wb.mem.read64Lo(table + i * 8);
    const hi = wb.mem.read64Hi(table + i * 8);
    if ((lo & 3) === 3) visit(((lo & ~0xfff) >>> 0) + (hi & 0xffff) * 2 ** 32, level + 1);
  }
};
visit(ttbr, 0);
writeFileSync(imagePath, wb.mem.u8.subarray(0, end - base));
console.log(`--image ${imagePath} --pa-base 0x${base.toString(16)} --ttbr 0x${ttbr.toString(16)}`);
