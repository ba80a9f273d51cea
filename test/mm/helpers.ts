/**
 * Helpers for the memory-manager tests: a kernel with one process whose address space looks like
 * a real one's (a small mapping near the top, so large mappings share their upper page tables with
 * a neighbour), guest accesses played through accessUser, and the counters the tests assert.
 */
import { expect } from 'vitest';
import {
  accessUser,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  MmKernel,
  PROT_READ,
  PROT_WRITE,
  type Inode,
  type Process,
} from '../../src/mm/index.js';
import type { Tally } from '../../src/trace/stats.js';

export const KiB = 1024;
export const MiB = 1024 * 1024;
export const PAGE = 4096;

export interface Machine {
  k: MmKernel;
  p: Process;
}

/** A kernel for `profile` with `sets`, one process switched to, and its neighbour mapping. */
export function machine(profile: string, sets: readonly string[] = [], memMb = 256): Machine {
  const k = new MmKernel({ profile, sets: [...sets, `mem_mb=${memMb}`] });
  const p = k.newProcess();
  k.switchTo(p);
  // Like the libraries and stack of a real process: something mapped near mmap_base, so the
  // PMD table above a test mapping is shared and only PTE tables are freed by munmap.
  const n = p.mmap({ addr: 0, len: 64 * KiB, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS, file: null, pgoff: 0 });
  expect(n).toBeGreaterThan(0);
  return { k, p };
}

/** A sparse file of `size` bytes (created, then ftruncate'd, as page_fault3 does). */
export function sparseFile(m: Machine, fsType: 'ext4' | 'tmpfs', size: number): Inode {
  const f = m.k.newInode({ fsType });
  expect(m.k.truncate(f, size).kind).toBe('ok');
  return f;
}

/**
 * A 2 MiB-aligned address for a mapping of `len` bytes just below the lowest mapping, so it shares
 * the upper page tables with its neighbours (the measurements used 2 MiB-aligned regions).
 */
export function alignedHint(m: Machine, len: number): number {
  const lowest = m.p.vmas.all()[0]!.start;
  const a = lowest - len - 2 * MiB;
  return a - (a % (2 * MiB));
}

export function mmapShared(m: Machine, file: Inode, len: number, addr = 0, fixed = false): number {
  const a = m.p.mmap({ addr, len, prot: PROT_READ | PROT_WRITE, flags: MAP_SHARED | (fixed ? 0x10 : 0), file, fileWritable: true, pgoff: 0 });
  expect(a).toBeGreaterThan(0);
  return a;
}

export function mmapAnon(m: Machine, len: number, flags = MAP_PRIVATE): number {
  const a = m.p.mmap({ addr: 0, len, prot: PROT_READ | PROT_WRITE, flags: flags | MAP_ANONYMOUS, file: null, pgoff: 0 });
  expect(a).toBeGreaterThan(0);
  return a;
}

/**
 * Runs `fn` with the mmu switched to process `p` (accessUser needs its context loaded), e.g. to
 * touch a forked child's memory, then switches back to the machine's own process.
 */
export function asProcess<T>(m: Machine, p: Process, fn: (mm: Machine) => T): T {
  m.k.switchTo(p);
  try {
    return fn({ k: m.k, p });
  } finally {
    m.k.switchTo(m.p);
  }
}

/** One guest store per page of [addr, addr + len), as the guest would do it. */
export function writePages(m: Machine, addr: number, len: number, step = PAGE): void {
  for (let off = 0; off < len; off += step) {
    const t = accessUser(m.p, addr + off, 'write');
    if (!t.ok) throw new Error(`write at 0x${(addr + off).toString(16)}: ${t.outcome.signal} ${t.outcome.code} (${t.outcome.reason})`);
  }
}

export function readPages(m: Machine, addr: number, len: number, step = PAGE): void {
  for (let off = 0; off < len; off += step) {
    const t = accessUser(m.p, addr + off, 'read');
    if (!t.ok) throw new Error(`read at 0x${(addr + off).toString(16)}: ${t.outcome.signal} ${t.outcome.code}`);
  }
}

/** The counters the tests assert, from the stats registry. */
export interface Counts {
  faults: number;
  byPath: Tally;
  retries: number;
  major: number;
  pteWrites: number;
  folds: number;
  unfolds: number;
  converts: number;
  foldAttempts: number;
  contpteSetPtes: number;
  tlbi: Tally;
  tlbiBySite: Tally;
  tlbiTotal: number;
  dsb: number;
  bbm: number;
  contig: number;
  setPtesByNr: Tally;
  /** Page-table API calls by name. */
  api: Tally;
}

export function counts(m: Machine): Counts {
  const s = m.k.telemetry.stats.snapshot();
  const fault = s['fault']!;
  const pg = s['pgtable']!;
  const tlbi = s['tlbi']!;
  const checker = s['checker']!;
  return {
    faults: fault['total'] as number,
    byPath: fault['by_path'] as Tally,
    retries: fault['fault_retries'] as number,
    major: fault['major'] as number,
    pteWrites: pg['pte_writes'] as number,
    folds: pg['folds'] as number,
    unfolds: pg['unfolds'] as number,
    converts: pg['contpte_convert'] as number,
    foldAttempts: pg['fold_attempts'] as number,
    contpteSetPtes: pg['contpte_set_ptes'] as number,
    tlbi: tlbi['by_op'] as Tally,
    tlbiBySite: tlbi['by_site'] as Tally,
    tlbiTotal: tlbi['total'] as number,
    dsb: s['dsb']!['total'] as number,
    bbm: checker['bbm_violations'] as number,
    contig: checker['contig_violations'] as number,
    setPtesByNr: s['mm']!['set_ptes_by_nr'] as Tally,
    api: pg['api_calls'] as Tally,
  };
}

/** Runs `fn` with fresh counters and returns what it did. */
export function measure(m: Machine, fn: () => void): Counts {
  m.k.telemetry.stats.reset();
  fn();
  return counts(m);
}

/** Folio orders of a file's page cache, in index order, run-length encoded: "o0x32 o2x8 ...". */
export function folioRuns(file: Inode, from = 0, to = Math.ceil(file.size / PAGE)): string {
  const runs: string[] = [];
  let last = -1;
  let n = 0;
  for (const f of file.mapping.foliosInRange(from, to)) {
    if (f.order === last) n++;
    else {
      if (n > 0) runs.push(`o${last}x${n}`);
      last = f.order;
      n = 1;
    }
  }
  if (n > 0) runs.push(`o${last}x${n}`);
  return runs.join(' ');
}

/** The indices of the cached folios carrying PG_readahead. */
export function markers(file: Inode): number[] {
  return file.mapping.foliosInRange(0, Math.ceil(file.size / PAGE)).filter((f) => f.readahead).map((f) => f.index);
}
