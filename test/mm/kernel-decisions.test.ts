/**
 * Three decisions the measured kernels make that the source shows only when read to the end
 * (docs/kernel-notes.md §11): an unlinked tmpfs file mapped shared is anonymous shared memory,
 * decided per mapping at mmap time; the ext4 disk's readahead window comes from the block
 * device's limits by a rule that changed in 7.x; and 7.2's fault-around does not widen to a folio
 * ending exactly on the file's last page.
 */
import { describe, expect, it } from 'vitest';
import { filemapWrite, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/mm/index.js';
import { vmaIsAnonShmem } from '../../src/mm/prot.js';
import { alignedHint, folioRuns, KiB, machine, measure, MiB, PAGE, readPages, sparseFile, writePages, type Machine } from './helpers.js';

const SIZE = 16 * MiB;
const PAGES = SIZE / PAGE;

function mapTmpfs(m: Machine, file: ReturnType<typeof sparseFile>, nlink: number, len = SIZE): number {
  const a = m.p.mmap({ addr: alignedHint(m, len), len, prot: PROT_READ | PROT_WRITE, flags: MAP_SHARED, file, fileWritable: true, pgoff: 0, fileNlink: nlink });
  expect(a % (2 * MiB)).toBe(0);
  return a;
}

describe('an unlinked tmpfs file mapped MAP_SHARED is anonymous shared memory (shmem_mmap: shmem_anon_vm_ops when i_nlink is 0)', () => {
  for (const kernel of ['linux-6.12', 'linux-7.2']) {
    it(`${kernel}, shmem_mthp=64K: unlinked, one fault per 64 KiB and the whole folio mapped contiguous; linked, 4 KiB folios`, () => {
      const m = machine(kernel, ['shmem_mthp=64K']);
      const f = sparseFile(m, 'tmpfs', SIZE);
      const a = mapTmpfs(m, f, 0);
      expect(vmaIsAnonShmem(m.p.vmas.vmaLookup(a)!)).toBe(true);
      const c = measure(m, () => writePages(m, a, SIZE));
      expect(c.faults).toBe(PAGES / 16);
      expect(c.contpteSetPtes).toBe(PAGES / 16);
      expect(c.setPtesByNr).toEqual({ 16: PAGES / 16 });
      expect(folioRuns(f)).toBe(`o4x${PAGES / 16}`);
      expect([c.folds, c.converts, c.tlbiTotal, c.bbm, c.contig]).toEqual([0, 0, 0, 0, 0]);

      const m2 = machine(kernel, ['shmem_mthp=64K']);
      const g = sparseFile(m2, 'tmpfs', SIZE);
      const b = mapTmpfs(m2, g, 1);
      expect(vmaIsAnonShmem(m2.p.vmas.vmaLookup(b)!)).toBe(false);
      const d = measure(m2, () => writePages(m2, b, SIZE));
      expect(d.faults).toBe(PAGES);
      expect(folioRuns(g)).toBe(`o0x${PAGES}`);
      expect([d.contpteSetPtes, d.folds, d.tlbiTotal]).toEqual([0, 0, 0]);
    });
  }

  it('decided per mapping at mmap time: a mapping made while the file had a name stays plain tmpfs after the unlink; a new one is anonymous', () => {
    const m = machine('linux-6.12', ['shmem_mthp=64K']);
    const f = sparseFile(m, 'tmpfs', 4 * MiB);
    const linked = mapTmpfs(m, f, 1, 2 * MiB);
    // The file is unlinked now: the old mapping keeps shmem_vm_ops.
    const c = measure(m, () => writePages(m, linked, 64 * KiB));
    expect(c.faults).toBe(16);
    expect(folioRuns(f, 0, 16)).toBe('o0x16');
    const unlinked = m.p.mmap({ addr: alignedHint(m, 2 * MiB), len: 2 * MiB, prot: PROT_READ | PROT_WRITE, flags: MAP_SHARED, file: f, fileWritable: true, pgoff: 512, fileNlink: 0 });
    expect(unlinked % (2 * MiB)).toBe(0);
    const u = measure(m, () => writePages(m, unlinked, 64 * KiB));
    expect(u.faults).toBe(1);
    expect(u.setPtesByNr).toEqual({ 16: 1 });
    expect(folioRuns(f, 512, 528)).toBe('o4x1');
    // An mprotect split keeps the mmap-time choice on both halves (it travels with the VMA, as vm_ops does).
    expect(m.p.mprotect(unlinked, PAGE, PROT_READ)).toBe(0);
    const vmas = m.p.vmas.all().filter((v) => v.file === f);
    expect(vmas).toHaveLength(3);
    for (const v of vmas) expect(vmaIsAnonShmem(v)).toBe(v.start !== linked);
  });

  it('linux-6.12 default shmem (no mTHP): an unlinked file still gets 4 KiB folios, one fault per page', () => {
    const m = machine('linux-6.12');
    const f = sparseFile(m, 'tmpfs', SIZE);
    const a = mapTmpfs(m, f, 0);
    const c = measure(m, () => writePages(m, a, SIZE));
    expect(c.faults).toBe(PAGES);
    expect(folioRuns(f)).toBe(`o0x${PAGES}`);
  });
});

describe('7.2 fault-around and the last page of the file (filemap_map_folio_range compares with file_end, the last page index)', () => {
  function privateReadSweep(fileKb: number, writeKb: number) {
    const m = machine('linux-7.2');
    const f = m.k.newInode({ fsType: 'ext4' });
    for (let off = 0; off < fileKb * KiB; off += writeKb * KiB) {
      expect(filemapWrite(f, off, new Uint8Array(writeKb * KiB).fill(7), 'write_size').kind).toBe('ok');
    }
    const len = fileKb * KiB;
    const a = m.p.mmap({ addr: alignedHint(m, Math.max(len, 2 * MiB)), len, prot: PROT_READ, flags: MAP_PRIVATE, file: f, pgoff: 0 });
    expect(a).toBeGreaterThan(0);
    return { f, c: measure(m, () => readPages(m, a, len)) };
  }

  it('a 128 KiB file written with one write(): one order-5 folio ending on the last page, mapped 16 pages per fault: 2 faults, not 1', () => {
    const { f, c } = privateReadSweep(128, 128);
    expect(folioRuns(f)).toBe('o5x1');
    expect(c.faults).toBe(2);
    expect(c.setPtesByNr).toEqual({ 16: 2 });
  });

  it('1 MiB written in 128 KiB writes: 7 order-5 folios widened whole, the last one in two windows: 9 faults', () => {
    const { f, c } = privateReadSweep(1024, 128);
    expect(folioRuns(f)).toBe('o5x8');
    expect(c.faults).toBe(7 + 2);
    expect(c.setPtesByNr).toEqual({ 32: 7, 16: 2 });
  });
});
