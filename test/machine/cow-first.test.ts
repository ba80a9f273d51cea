/**
 * Issue 14, item 1: a static glibc binary's first copy-on-write fault of a page that fault-around
 * mapped old. firmware/src/cow_data.c reads page 0 of a 64 KiB-aligned .data array (one read
 * fault maps the whole window: page 0 young, the rest old) and writes page 5: do_wp_page copies it,
 * and ptep_clear_flush flushes the old entry it clears, because arm64's pte_accessible() is
 * pte_valid() (5.10+), not valid && young. Before the fix this fault issued no TLBI and the
 * break-before-make checker reported it.
 */
import { describe, expect, it } from 'vitest';
import { firmwareBinary } from '../firmware/cases.js';
import { runCaptured } from './helpers.js';

describe('the first COW fault of cow_data (static glibc): exact TLBIs', () => {
  for (const profile of ['linux-6.9', 'linux-6.12', 'linux-7.2']) {
    it(`${profile}: one VALE1IS from ptep_clear_flush for the old PTE, no checker finding`, async () => {
      const r = await runCaptured({ elf: firmwareBinary('cow_data'), args: [], profile });
      expect(r.end.exitCode).toBe(0);
      expect(r.stdout).toBe('cow_data: read 7, page 5 now holds 8\n');
      const c = r.summary.dumps.find((d) => d.label === 'cow')!.counts;
      expect(c.fault_detail.by_path).toEqual({ do_read_fault: 1, do_wp_page: 1 });
      expect(c.mm.cow_copies).toBe(1);
      // 16 PTEs of fault-around, then the clear and the new entry of the copy.
      expect(c.pte_writes).toBe(18);
      expect(c.tlbi.by_op).toEqual({ VALE1IS: 1 });
      expect(c.tlbi.by_site).toEqual({ ptep_clear_flush: 1 });
      expect(c.tlbi.by_chain).toEqual({ 'do_page_fault > handle_mm_fault > do_wp_page > wp_page_copy > ptep_clear_flush > flush_tlb_page > flush_tlb_page_nosync': 1 });
      expect(c.dsb_by_domain).toMatchObject({ ishst: 1, ish: 1 });
      expect([c.bbm_violations, r.summary.counts.bbm_violations, r.summary.counts.contig_violations]).toEqual([0, 0, 0]);
      // It is the run's first (and only) do_wp_page: start-up's private writes all met none PTEs.
      expect(r.summary.counts.fault_detail.by_path['do_wp_page']).toBe(1);
      expect(r.summary.counts.tlbi.by_site['ptep_clear_flush']).toBe(1);
    });
  }
});
