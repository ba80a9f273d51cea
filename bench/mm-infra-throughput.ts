/**
 * Throughput of the mm infrastructure (allocator, memmap, page cache, VMAs) on the operations a
 * page_fault3 run repeats, without page tables: what the fault path will pay before it touches
 * a PTE. Prints one line per figure.
 *
 *   npx vite-node bench/mm-infra-throughput.ts   (or node dist/bench/mm-infra-throughput.js after npm run build)
 */
import { Buddy } from '../src/mm/buddy.js';
import { Memmap } from '../src/mm/folio.js';
import { Inode } from '../src/mm/inode.js';
import { PageCache } from '../src/mm/pagecache.js';
import { MAP_SHARED, VM_MAYREAD, VM_MAYSHARE, VM_MAYWRITE, VM_READ, VM_SHARED, VM_WRITE, VmaSet } from '../src/mm/vma.js';
import { PAGE_SIZE, PhysMem, PHYS_BASE } from '../src/mmu/physmem.js';
import { Telemetry } from '../src/trace/index.js';

const POOL = 2048 * 1024 * 1024;
const FILE = 128 * 1024 * 1024;
const PAGES = FILE / PAGE_SIZE;

function machine(): { buddy: Buddy; memmap: Memmap; cache: PageCache } {
  const telemetry = new Telemetry();
  const buddy = new Buddy(PhysMem.allocate(PHYS_BASE, POOL), telemetry);
  const memmap = new Memmap(buddy, telemetry);
  return { buddy, memmap, cache: new PageCache(memmap, telemetry) };
}

/** Runs `fn` (which performs `ops` operations) until `minMs` have passed; returns ops per second. */
function rate(fn: () => number, minMs = 400): number {
  fn(); // warm-up
  let ops = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < minMs) {
    ops += fn();
    t = performance.now();
  }
  return (ops * 1000) / (t - t0);
}

function report(name: string, perSecond: number, unit: string): void {
  console.log(`${name.padEnd(58)} ${(perSecond / 1e6).toFixed(2).padStart(8)} M${unit}/s`);
}

const m = machine();

for (const order of [0, 4, 9]) {
  const pfns = new Array<number>(1024);
  report(
    `buddy alloc+free, order ${order}, 1024 live`,
    rate(() => {
      for (let i = 0; i < 1024; i++) {
        const r = m.buddy.alloc(order);
        if (r.kind !== 'ok') throw new Error('oom');
        pfns[i] = r.pfn;
      }
      for (let i = 0; i < 1024; i++) m.buddy.free(pfns[i]!, order);
      return 1024;
    }),
    'op',
  );
}

report(
  'folioAlloc+folioPut, order 0, 32768 live',
  rate(() => {
    const live = [];
    for (let i = 0; i < PAGES; i++) {
      const r = m.memmap.folioAlloc(0);
      if (r.kind !== 'ok') throw new Error('oom');
      live.push(r.folio);
    }
    for (const f of live) m.memmap.folioPut(f);
    return PAGES;
  }),
  'op',
);

let ino = 1;
for (const order of [0, 4]) {
  report(
    `page cache cold fill of 128 MiB, order ${order} (zeroing incl.)`,
    rate(() => {
      const file = new Inode(m.cache, { ino: ino++, fsType: 'ext4', largeFolios: true, size: FILE });
      for (let i = 0; i < PAGES; i += 1 << order) {
        if (file.mapping.lookup(i) !== null) continue;
        const r = file.mapping.addFolioAt(i, order);
        if (r.kind !== 'ok') throw new Error(r.kind);
      }
      file.mapping.foliosInRange(0, PAGES).forEach((f) => file.mapping.removeFolio(f));
      return PAGES;
    }, 1000),
    'page',
  );
}

// page_fault3 steady state: the file stays cached across iterations, so every fault is a
// lookup hit plus the rmap and reference bookkeeping, and munmap undoes the bookkeeping.
{
  const file = new Inode(m.cache, { ino: ino++, fsType: 'tmpfs', size: FILE });
  for (let i = 0; i < PAGES; i++) file.mapping.addFolioAt(i, 0);
  const vs = new VmaSet();
  const flags = VM_READ | VM_WRITE | VM_SHARED | VM_MAYREAD | VM_MAYWRITE | VM_MAYSHARE;
  report(
    'pf3 pattern: mmap, find_vma+lookup+rmap per page, munmap',
    rate(() => {
      const a = vs.getUnmappedArea({ len: FILE, flags: MAP_SHARED, file, pgoff: 0 });
      if (a.kind !== 'ok') throw new Error(a.errno);
      vs.mapRange({ start: a.addr, end: a.addr + FILE, flags, pgoff: 0, file });
      for (let va = a.addr; va < a.addr + FILE; va += PAGE_SIZE) {
        const vma = vs.findVma(va)!;
        const folio = file.mapping.lookup(vma.pgoffOf(va))!;
        m.memmap.folioRefAdd(folio, 1);
        m.memmap.folioAddRmapPtes(folio, folio.firstPfn, 1);
        folio.dirty = true;
      }
      const { removed } = vs.detachRange(a.addr, a.addr + FILE);
      for (const vma of removed) {
        for (let va = vma.start; va < vma.end; va += PAGE_SIZE) {
          const folio = file.mapping.lookup(vma.pgoffOf(va))!;
          m.memmap.folioRemoveRmapPtes(folio, folio.firstPfn, 1);
          m.memmap.folioPut(folio);
        }
      }
      return PAGES;
    }, 1000),
    'fault',
  );
}
