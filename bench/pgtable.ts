/**
 * Page-table layer throughput, with the checker on (as in every run):
 * - set_ptes of one page with the fold check (the per-page fault path; every 16th call folds),
 *   target >= 1,000,000 per second;
 * - contpte_convert (a fold and an unfold per round, each a whole-block repaint with its range
 *   TLBI), target >= 200,000 per second.
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/pgtable.js
 */
import { PAGE_SHARED, PAGE_SIZE, pfnPte, pteMkdirty, pteMkwrite } from '../src/pgtable/index.js';
import { Workbench } from '../src/pgtable/workbench.js';

const RW = pteMkwrite(pteMkdirty(PAGE_SHARED));
const VA = 0x4000_0000;

function setPtesPerPage(): number {
  const wb = new Workbench({ memBytes: 256 * 1024 * 1024 });
  const api = wb.pgtable.ptep;
  const pages = 32768; // 128 MiB of order-4 folios, 64 page tables
  const pfns: number[] = [];
  for (let i = 0; i < pages / 16; i++) pfns.push(wb.allocFolio(4).firstPfn);
  const pteps: number[] = [];
  for (let i = 0; i < pages; i++) pteps.push(wb.ptep(VA + i * PAGE_SIZE));
  let calls = 0;
  let ms = 0;
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    for (let i = 0; i < pages; i++) {
      api.setPtes(wb.mm, VA + i * PAGE_SIZE, pteps[i]!, pfnPte(pfns[i >> 4]! + (i & 15), RW), 1);
      calls++;
    }
    ms += performance.now() - t0;
    // Tear down (not timed) so the next round maps over none entries again, as after munmap.
    for (let t = 0; t < pages; t += 512) api.clearFullPtes(wb.mm, VA + t * PAGE_SIZE, pteps[t]!, 512);
    wb.pgtable.flush.flushTlbMm(wb.mm);
  }
  const s = ms / 1000;
  if (wb.pgtable.stats.folds !== (5 * pages) / 16) throw new Error(`expected ${(5 * pages) / 16} folds, got ${wb.pgtable.stats.folds}`);
  return calls / s;
}

function converts(): number {
  const wb = new Workbench();
  const api = wb.pgtable.ptep;
  const f = wb.allocFolio(4);
  api.setPtes(wb.mm, VA, wb.ptep(VA), pfnPte(f.firstPfn, RW), 16);
  const p15 = wb.ptep(VA + 15 * PAGE_SIZE);
  const rounds = 100_000;
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) {
    const old = api.ptepModifyProtStart(wb.mm, VA + 15 * PAGE_SIZE, p15); // unfold
    api.ptepModifyProtCommit(wb.mm, VA + 15 * PAGE_SIZE, p15, old, old); // refold
  }
  const s = (performance.now() - t0) / 1000;
  const n = wb.pgtable.stats.contpte_convert;
  if (n !== 2 * rounds) throw new Error(`expected ${2 * rounds} converts, got ${n}`);
  return n / s;
}

const fmt = (n: number): string => `${(n / 1e6).toFixed(2)} M/s`;
const sp = setPtesPerPage();
const cv = converts();
console.log(`set_ptes(nr=1) with fold check: ${fmt(sp)} (target >= 1 M/s) ${sp >= 1e6 ? 'OK' : 'BELOW TARGET'}`);
console.log(`contpte_convert:                ${fmt(cv)} (target >= 0.2 M/s) ${cv >= 2e5 ? 'OK' : 'BELOW TARGET'}`);
