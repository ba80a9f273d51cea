/**
 * A read-fault sweep over a sparse 16 MiB ext4 file mapped shared read-only: do_read_fault with
 * fault-around (fault_around_bytes 64 KiB: the naturally aligned 16-page window, mapping only
 * cached, uptodate folios that are not readahead markers, one set_ptes per run inside a folio),
 * per kernel version; then writes to the read-faulted pages (write-notify: do_wp_page).
 *
 * Readahead is the same as for page_fault3 (see page-fault3.test.ts): a miss at 0 reads [0,32)
 * marked at 24, and each marker starts the next window. A fault whose target is a marker is not
 * mapped by fault-around (the marker must be faulted on), so it goes to filemap_fault, which starts
 * the async window and retries; the retry's fault-around maps it.
 */
import { describe, expect, it } from 'vitest';
import { PROT_READ, PROT_WRITE, MAP_SHARED } from '../../src/mm/index.js';
import { pteCont, pteYoung } from '../../src/pgtable/pte.js';
import { alignedHint, folioRuns, machine, measure, MiB, readPages, sparseFile, writePages, type Machine } from './helpers.js';

const SIZE = 16 * MiB;

function sweep(kernel: string, sets: string[] = [], prot = PROT_READ) {
  const m = machine(kernel, sets);
  const file = sparseFile(m, 'ext4', SIZE);
  const a = m.p.mmap({ addr: alignedHint(m, SIZE), len: SIZE, prot, flags: MAP_SHARED, file, fileWritable: true, pgoff: 0 });
  const c = measure(m, () => readPages(m, a, SIZE));
  return { m, a, file, c };
}

function tlbStat(m: Machine, name: string): number {
  return m.k.telemetry.stats.snapshot()['tlb']![name] as number;
}

describe('read-fault sweep with fault-around', () => {
  it('linux-6.12 (order-0 folios): one fault per 16-page window, one set_ptes(1) per page', () => {
    const { m, a, c } = sweep('linux-6.12');
    // Faults at 0 (miss: read-around, retry, then fault-around maps [0,16)), 16 (maps [16,32)
    // except the marker at 24), 24 (the marker: async readahead, retry, mapped), and then at
    // every 16th page: the window starts at 32, 64, ... are markers and take their retry inside
    // the same fault. 256 + 1 faults; 1 + 1 + 127 retries.
    expect(c.faults).toBe(257);
    expect(c.byPath).toEqual({ do_read_fault: 257 });
    expect(c.retries).toBe(129);
    expect(c.setPtesByNr).toEqual({ 1: 4096 });
    expect(m.k.mmStats.fault_around_pages).toBe(4096 - 257);
    // With hardware AF, prefaulted PTEs are installed old (arch_wants_old_prefaulted_pte): the
    // walk that later reaches each of them sets AF, once per prefaulted page.
    expect(tlbStat(m, 'hw_af_updates')).toBe(4096 - 257);
    expect(pteYoung(m.k.pgtable.raw.__ptepGet(m.k.pgtable.tables.pteOffsetMap(m.p, a)!))).toBe(true);
    expect([c.contpteSetPtes, c.folds, c.tlbiTotal, c.bbm]).toEqual([0, 0, 0, 0]);
    const again = measure(m, () => readPages(m, a, SIZE));
    expect(again.faults).toBe(0);
  });

  it('linux-6.12 without hardware AF: prefaulted PTEs are young, no access-flag faults', () => {
    const { m, c } = sweep('linux-6.12', ['hw_af=off', 'hw_dirty=off']);
    expect(c.faults).toBe(257);
    expect(tlbStat(m, 'hw_af_updates')).toBe(0);
    expect(m.k.faultStats.by_hw_kind).toEqual({ translation: 257 });
  });

  it('linux-6.9 (large folios): runs inside order-4/5 folios are mapped contiguous with one set_ptes(16)', () => {
    const { m, a, c, file } = sweep('linux-6.9');
    expect(folioRuns(file)).toBe('o2x8 o4x2 o5x126');
    // [0,32): order-2 folios, set_ptes(4) each (the marker folio at 24 on the retry); beyond, every
    // 16-page window lies in one folio: 254 x set_ptes(16), each an aligned block with CONT set
    // by contpte_set_ptes, no fold and no TLBI.
    expect(c.faults).toBe(257);
    expect(c.setPtesByNr).toEqual({ 4: 8, 16: 254 });
    expect(c.contpteSetPtes).toBe(262);
    expect([c.folds, c.converts, c.tlbiTotal, c.bbm, c.contig]).toEqual([0, 0, 0, 0, 0]);
    // Contiguous TLB entries: 32 page entries and 254 block entries cover the 16 MiB, well within
    // the 1,280-entry TLB, so a second sweep hits for every page (the 6.12 sweep's 4,096 page
    // entries do not fit).
    const again = measure(m, () => readPages(m, a, SIZE));
    expect(again.faults).toBe(0);
    expect([tlbStat(m, 'hits'), tlbStat(m, 'walks')]).toEqual([4096, 0]);
  });

  it('linux-7.2 (its 8 MiB device window): 2,048 order-0 pages then 512 order-2 folios, one fault per 16-page window', () => {
    const { c, file } = sweep('linux-7.2');
    expect(folioRuns(file)).toBe('o0x2048 o2x512');
    // A miss at 0 (read-around of 2,048 pages, retry), then one fault per 16-page window; the
    // window at 1536 holds the marker, which fault-around skips: filemap_fault starts the async
    // window [2048, 4096) of order-2 folios and retries. Each later window maps 4 folios of 4.
    expect(c.faults).toBe(256);
    expect(c.setPtesByNr).toEqual({ 1: 2048, 4: 512 });
    expect(c.retries).toBe(2);
    expect([c.folds, c.tlbiTotal, c.bbm]).toEqual([0, 0, 0]);
  });

  it('linux-7.2 with ra_kb=128: whole folios (fault_around_whole_folio), so one fault per order-5 folio', () => {
    const { c, file } = sweep('linux-7.2', ['ra_kb=128']);
    expect(folioRuns(file)).toBe('o0x32 o2x8 o4x2 o5x125');
    // [0,32) order 0: faults at 0, 16, 24; [32,64) order 2: at 32 (marker) and 48; [64,96)
    // order 4: at 64 (marker) and 80; then each order-5 folio is a marker whose retry maps all
    // 32 pages at once: 124 faults. The last folio [4064, 4096) ends exactly on the file's last
    // page: 7.2's widening test (file_end >= folio_next_index, file_end being the last page's
    // index) fails for it, so fault-around maps it 16 pages at a time: 2 faults.
    expect(c.faults).toBe(3 + 2 + 2 + 124 + 2);
    expect(c.setPtesByNr).toEqual({ 1: 32, 4: 8, 16: 4, 32: 124 });
    expect(c.retries).toBe(128);
    expect([c.folds, c.tlbiTotal, c.bbm]).toEqual([0, 0, 0]);
  });
});

describe('writes to read-faulted pages of a write-notified (ext4) shared mapping', () => {
  it('linux-6.12: each write is a do_wp_page reuse: ptep_set_access_flags makes the PTE dirty and flushes the page', () => {
    const { m, a } = sweep('linux-6.12', [], PROT_READ | PROT_WRITE);
    const w = measure(m, () => writePages(m, a, 64 * 1024));
    expect(w.byPath).toEqual({ do_wp_page: 16 });
    expect(w.tlbi).toEqual({ VALE1IS: 16 });
    expect(m.k.mmStats.wp_reuses).toBe(16);
    expect(w.bbm).toBe(0);
  });

  it('linux-6.9: the first write to a contiguous block unfolds it (the write permission changes), the rest go page by page', () => {
    const { m, a } = sweep('linux-6.9', [], PROT_READ | PROT_WRITE);
    const block = a + 2 * MiB;
    const ptep = m.k.pgtable.tables.pteOffsetMap(m.p, block)!;
    expect(pteCont(m.k.pgtable.raw.__ptepGet(ptep))).toBe(true);
    const w = measure(m, () => writePages(m, block, 64 * 1024));
    expect(w.faults).toBe(16);
    expect(w.byPath).toEqual({ do_wp_page: 16 });
    // contpte_ptep_set_access_flags: unfold (one convert, one RVALE1IS), then the page's own
    // flush; the other 15 pages are plain PTEs now: one flush_tlb_page each. Nothing refolds
    // (ptep_set_access_flags never folds).
    expect(w.unfolds).toBe(1);
    expect(w.folds).toBe(0);
    expect(w.tlbi).toEqual({ RVALE1IS: 1, VALE1IS: 16 });
    expect(pteCont(m.k.pgtable.raw.__ptepGet(ptep))).toBe(false);
    expect(w.bbm).toBe(0);
  });
});
