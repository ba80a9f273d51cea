/**
 * A private file mapping written: copy-on-write. A write to a none PTE takes do_cow_fault (the
 * file page read through the page cache, copied to a new anonymous page, mapped writable); a
 * write to a page first read takes do_wp_page → wp_page_copy (ptep_clear_flush: one page flush).
 * The file itself never changes.
 */
import { describe, expect, it } from 'vitest';
import { filemapRead, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/index.js';
import { alignedHint, KiB, machine, measure, MiB, PAGE, readPages, writePages } from './helpers.js';

function setup(kernel = 'linux-6.12') {
  const m = machine(kernel);
  const content = new Uint8Array(1 * MiB);
  for (let i = 0; i < content.length; i++) content[i] = (i * 7 + 3) & 0xff;
  const file = m.k.newInode({ fsType: 'ext4', content });
  const a = m.p.mmap({ addr: alignedHint(m, 1 * MiB), len: 1 * MiB, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE, file, pgoff: 0 });
  expect(a).toBeGreaterThan(0);
  return { m, file, a, content };
}

describe('copy-on-write of a private file mapping', () => {
  it('a write to an unmapped page copies the file page into a new anonymous page (do_cow_fault), no TLBI', () => {
    const { m, file, a, content } = setup();
    const c = measure(m, () => writePages(m, a, 64 * KiB));
    expect(c.faults).toBe(16);
    expect(c.byPath).toEqual({ do_cow_fault: 16 });
    // The first fault missed the page cache: read-around and one retry (the copy allocated
    // before ->fault is dropped and allocated again on the retry).
    expect(c.retries).toBe(1);
    expect(m.k.mmStats.cow_copies).toBe(16);
    expect(c.setPtesByNr).toEqual({ 1: 16 });
    expect([c.tlbiTotal, c.bbm]).toEqual([0, 0]);
    // The process sees the file's bytes; its own write goes to its copy only.
    expect(m.p.copyFromUser(a + 5, 4)).toEqual(content.subarray(5, 9));
    expect(m.p.copyToUser(a + 5, new Uint8Array([0xee]))).toBe(1);
    expect(m.p.copyFromUser(a + 5, 1)).toEqual(new Uint8Array([0xee]));
    expect(filemapRead(file, 5, 1)).toEqual(content.subarray(5, 6));
    const pc = m.k.telemetry.stats.snapshot()['folio']!['allocs_by_order'];
    // 32 page-cache folios from read-around, 16 copies and the first copy again after the retry
    // (page tables are not folios).
    expect(pc).toEqual({ 0: 32 + 16 + 1 });
  });

  it('a write to a page read before copies it in do_wp_page: ptep_clear_flush flushes the stale read-only entry', () => {
    const { m, file, a, content } = setup();
    readPages(m, a, 64 * KiB);
    const c = measure(m, () => writePages(m, a, 64 * KiB));
    expect(c.byPath).toEqual({ do_wp_page: 16 });
    expect(c.tlbi).toEqual({ VALE1IS: 16 });
    expect(c.tlbiBySite).toEqual({ ptep_clear_flush: 16 });
    expect(m.k.mmStats.cow_copies).toBe(16);
    expect(m.p.copyToUser(a + PAGE, new Uint8Array([1, 2, 3]))).toBe(3);
    expect(filemapRead(file, PAGE, 3)).toEqual(content.subarray(PAGE, PAGE + 3));
    // The copies are anonymous: a second write to them reuses them without a fault.
    const again = measure(m, () => writePages(m, a, 64 * KiB));
    expect(again.faults).toBe(0);
    expect(c.bbm + again.bbm).toBe(0);
  });

  it('with large page-cache folios (linux-6.9) a copy never folds: each copy is its own order-0 folio', () => {
    const { m, a } = setup('linux-6.9');
    readPages(m, a, 64 * KiB);
    const c = measure(m, () => writePages(m, a, 64 * KiB));
    // The read mapped [0,16) from order-2 folios (no block); each write copies one page.
    expect(c.byPath).toEqual({ do_wp_page: 16 });
    expect([c.folds, c.converts]).toEqual([0, 0]);
  });
});
