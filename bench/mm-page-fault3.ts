/**
 * will-it-scale page_fault3 through the memory manager alone (no emulator): a sparse 128 MiB
 * ext4 file, mmap(MAP_SHARED, PROT_READ|PROT_WRITE), one byte written per 4 KiB page (each write
 * played through accessUser: TLB lookup, walk, fault, walk again), munmap; repeated.
 *
 * Prints:
 * - faults per second in configuration (1) (linux-6.9, file_large_folios=off), warm page cache,
 *   i.e. the steady state of the benchmark loop (target: at least 500,000), measured two ways:
 *   through the mm API alone (mmap, handleFault for every page as the machine calls it on each
 *   guest abort, munmap), and through accessUser (the same plus the mmu's translate before and
 *   after each fault, as a run plays it: TLB lookup, faulting walk, walk and fill);
 * - the time of the four-configuration matrix of the 2024 report on 128 MiB, one cold pass each
 *   from a fresh kernel (target: under 5 s).
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/mm-page-fault3.js
 */
import { accessUser, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, MmKernel, PROT_READ, PROT_WRITE, type Process } from '../src/mm/index.js';
import type { Inode } from '../src/mm/inode.js';

const MiB = 1024 * 1024;
const SIZE = 128 * MiB;

interface Setup {
  k: MmKernel;
  p: Process;
  file: Inode;
}

function setup(sets: string[]): Setup {
  const k = new MmKernel({ profile: 'linux-6.9', sets: [...sets, 'mem_mb=512'] });
  const p = k.newProcess();
  k.switchTo(p);
  // A neighbour mapping, as a real process has, so the PMD table above the file stays.
  p.mmap({ addr: 0, len: 64 * 1024, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS, file: null, pgoff: 0 });
  const file = k.newInode({ fsType: 'ext4' });
  k.truncate(file, SIZE);
  return { k, p, file };
}

type Drive = 'handleFault' | 'accessUser';

/** One page_fault3 iteration; returns the faults it took. */
function iteration(s: Setup, drive: Drive = 'accessUser'): number {
  const before = s.k.faultStats.total;
  const a = s.p.mmap({ addr: 0, len: SIZE, prot: PROT_READ | PROT_WRITE, flags: MAP_SHARED, file: s.file, fileWritable: true, pgoff: 0 });
  if (drive === 'accessUser') {
    for (let off = 0; off < SIZE; off += 4096) {
      const t = accessUser(s.p, a + off, 'write');
      if (!t.ok) throw new Error(`unexpected signal at +0x${off.toString(16)}`);
    }
  } else {
    for (let off = 0; off < SIZE; off += 4096) {
      const r = s.p.handleFault(a + off, 'write', 'translation');
      if (r.kind !== 'handled') throw new Error(`unexpected signal at +0x${off.toString(16)}`);
    }
  }
  s.p.munmap(a, SIZE);
  return s.k.faultStats.total - before;
}

function faultRate(drive: Drive): void {
  const s = setup(['file_large_folios=off']);
  iteration(s, drive); // cold: readahead fills the page cache
  iteration(s, drive); // and the JIT warms up
  const rounds = 8;
  let faults = 0;
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) faults += iteration(s, drive);
  const ms = performance.now() - t0;
  const rate = Math.round(faults / (ms / 1000));
  console.log(`configuration (1), warm page cache, via ${drive}: ${faults} faults in ${ms.toFixed(0)} ms = ${rate.toLocaleString('en-US')} faults/s (mmap + one write per page + munmap; target >= 500,000)`);
}

function matrix(): void {
  const configs: Array<[string, string[]]> = [
    ['(1) large folios off', ['file_large_folios=off']],
    ['(2) large folios, contpte on', []],
    ['(3) large folios, contpte off', ['contpte=off']],
    ['(4) large folios, contpte, finish_fault=folio', ['finish_fault=folio']],
  ];
  const t0 = performance.now();
  for (const [name, sets] of configs) {
    const c0 = performance.now();
    const s = setup(sets);
    const faults = iteration(s);
    const pg = s.k.pgtable.stats;
    console.log(`  ${name}: ${faults} faults, ${pg.pte_writes} PTE writes, ${pg.contpte_convert} contpte_convert, ${s.k.mmu.tlbiStats.total} TLBIs, ${(performance.now() - c0).toFixed(0)} ms`);
  }
  const ms = performance.now() - t0;
  console.log(`four-configuration matrix on 128 MiB (fresh kernel and cold page cache each): ${ms.toFixed(0)} ms (target < 5000)`);
}

faultRate('handleFault');
faultRate('accessUser');
matrix();
