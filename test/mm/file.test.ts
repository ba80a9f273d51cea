/**
 * File mappings beyond the sweeps: finish_fault's rules and fallbacks (kernel-notes §3), SIGBUS
 * past the end of the file, truncation unmapping what it cuts (unmap_mapping_range),
 * MAP_POPULATE, and anonymous shared memory released with its last mapping.
 */
import { describe, expect, it } from 'vitest';
import { accessUser, filemapWrite, MADV_DONTNEED, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/mm/index.js';
import { pteNone } from '../../src/pgtable/pte.js';
import { LabError } from '../../src/util/errors.js';
import { alignedHint, folioRuns, KiB, machine, measure, MiB, PAGE, readPages, sparseFile, writePages, type Machine } from './helpers.js';

function mapShared(m: Machine, file: Parameters<Machine['k']['truncate']>[0], len: number): number {
  const a = m.p.mmap({ addr: alignedHint(m, Math.max(len, 2 * MiB)), len, prot: PROT_READ | PROT_WRITE, flags: MAP_SHARED, file, fileWritable: true, pgoff: 0 });
  expect(a).toBeGreaterThan(0);
  return a;
}

const raw = (m: Machine, va: number) => m.k.pgtable.raw.__ptepGet(m.k.pgtable.tables.pteOffsetMap(m.p, va)!);

describe('finish_fault rules', () => {
  it('folio_capped (Ryan Roberts\' proposal): at most the aligned fault-around window of a folio per fault', () => {
    const m = machine('linux-6.9', ['finish_fault=folio_capped']);
    const f = sparseFile(m, 'ext4', 16 * MiB);
    const a = mapShared(m, f, 16 * MiB);
    const c = measure(m, () => writePages(m, a, 16 * MiB));
    // o2x8, o4x2, o5x126: order-2 folios whole, order-4 folios whole (one window each), order-5
    // folios in two 16-page halves: 8 + 2 + 252 faults, every one a contpte_set_ptes.
    expect(folioRuns(f)).toBe('o2x8 o4x2 o5x126');
    expect(c.faults).toBe(262);
    expect(c.setPtesByNr).toEqual({ 4: 8, 16: 254 });
    expect([c.folds, c.tlbiTotal, c.bbm]).toEqual([0, 0, 0]);
  });

  it('a folio whose range is not all none: one PTE with the Geffon fix, a fault that never resolves without it (6.11.0)', () => {
    for (const fallback of ['on', 'off']) {
      const m = machine('linux-7.2', [`finish_fault_range_fallback=${fallback}`, 'fault_around_kb=4']);
      const f = m.k.newInode({ fsType: 'ext4' });
      // write() of 64 KiB at 0 creates one order-4 folio (write-size orders with large folios).
      expect(filemapWrite(f, 0, new Uint8Array(64 * KiB).fill(1), 'write_size').kind).toBe('ok');
      const a = mapShared(m, f, 64 * KiB);
      const first = measure(m, () => writePages(m, a, PAGE));
      expect(first.setPtesByNr).toEqual({ 16: 1 });
      expect(m.p.madvise(a + 5 * PAGE, PAGE, MADV_DONTNEED)).toBe(0);
      if (fallback === 'on') {
        const c = measure(m, () => writePages(m, a + 5 * PAGE, PAGE));
        expect(c.faults).toBe(1);
        expect(c.setPtesByNr).toEqual({ 1: 1 });
      } else {
        expect(() => accessUser(m.p, a + 5 * PAGE, 'write')).toThrow(LabError);
        expect(pteNone(raw(m, a + 5 * PAGE))).toBe(true);
      }
    }
  });

  it('a file folio reaching past i_size maps one page with the i_size fix, the whole folio without it', () => {
    for (const [fix, nr] of [['on', 1], ['off', 16]] as const) {
      const m = machine('linux-7.2', [`finish_fault_isize_fallback=${fix}`, 'fault_around_kb=4']);
      const f = m.k.newInode({ fsType: 'ext4' });
      filemapWrite(f, 0, new Uint8Array(64 * KiB), 'write_size');
      m.k.truncate(f, 60 * KiB); // the order-4 folio stays, its last page now beyond EOF
      expect(folioRuns(f)).toBe('o4x1');
      const a = mapShared(m, f, 64 * KiB);
      const c = measure(m, () => readPages(m, a, PAGE));
      expect(c.setPtesByNr).toEqual({ [nr]: 1 });
    }
  });
});

describe('the end of the file', () => {
  it('an access beyond i_size is SIGBUS BUS_ADRERR', () => {
    const m = machine('linux-6.12');
    const f = sparseFile(m, 'ext4', 8 * KiB);
    const a = mapShared(m, f, 16 * KiB);
    writePages(m, a, 8 * KiB);
    const t = accessUser(m.p, a + 2 * PAGE, 'write');
    expect(t.ok).toBe(false);
    if (!t.ok) expect([t.outcome.signal, t.outcome.code]).toEqual(['SIGBUS', 'BUS_ADRERR']);
  });

  it('truncation unmaps the pages it cuts from every mapping and drops them from the page cache', () => {
    const m = machine('linux-6.12');
    const f = sparseFile(m, 'tmpfs', 64 * KiB);
    const a = mapShared(m, f, 64 * KiB);
    writePages(m, a, 64 * KiB);
    const c = measure(m, () => expect(m.k.truncate(f, 16 * KiB).kind).toBe('ok'));
    // unmap_mapping_range zaps pages 4..15 (dirty: one forced flush in zap_pte_range; the range
    // starts 16 KiB into a 64 KiB block, and LPA2 range operands need 64 KiB alignment: 12 single
    // ops), then truncate_inode_pages frees them; its second unmap finds nothing.
    expect(c.pteWrites).toBe(12);
    expect(c.tlbi).toEqual({ VALE1IS: 12 });
    expect(c.tlbiBySite).toEqual({ zap_pte_range: 12 });
    expect(pteNone(raw(m, a + 4 * PAGE))).toBe(true);
    expect(f.mapping.nrpages).toBe(4);
    const t = accessUser(m.p, a + 8 * PAGE, 'read');
    expect(t.ok ? 'ok' : t.outcome.signal).toBe('SIGBUS');
    expect(accessUser(m.p, a + 3 * PAGE, 'read').ok).toBe(true);
  });
});

describe('mapping flags and lifetimes', () => {
  it('MAP_POPULATE faults every page in at mmap time (writes for private writable memory)', () => {
    const m = machine('linux-6.12');
    const c = measure(m, () => {
      const a = m.p.mmap({ addr: 0, len: 64 * KiB, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | 0x8000, file: null, pgoff: 0 });
      expect(a).toBeGreaterThan(0);
    });
    expect(c.faults).toBe(16);
    expect(c.byPath).toEqual({ do_anonymous_page: 16 });
    expect(m.k.mmStats.anon_folios_by_order).toEqual({ 0: 16 });
  });

  it('anonymous shared memory is freed with its last mapping', () => {
    const m = machine('linux-6.12', ['shmem_mthp=64K']);
    const before = m.k.buddy.allocatedPages;
    const a = m.p.mmap({ addr: alignedHint(m, 2 * MiB), len: 256 * KiB, prot: PROT_READ | PROT_WRITE, flags: MAP_SHARED | MAP_ANONYMOUS, file: null, pgoff: 0 });
    writePages(m, a, 256 * KiB);
    expect(m.k.mmStats.shmem_folios_by_order).toEqual({ 4: 4 });
    // Part of it unmapped: the rest keeps the shmem file alive.
    expect(m.p.munmap(a, 64 * KiB)).toBe(0);
    expect(m.k.buddy.allocatedPages).toBeGreaterThan(before + 64);
    expect(m.p.munmap(a + 64 * KiB, 192 * KiB)).toBe(0);
    // All 64 pages and the page tables went back (the PMD table stays: the neighbour).
    expect(m.k.buddy.allocatedPages).toBe(before + 2);
  });
});
