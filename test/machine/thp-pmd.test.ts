/**
 * PMD-size THP through the whole emulator (engine, shadow tables, model TLB): the counts the real
 * 6.12.117 and 7.2.13 kernels gave for the same programs under `contpte-lab validate` (docs/
 * kernel-notes.md §12.4; the real side's one extra anonymous fault aside), the model TLB holding
 * one 2 MiB entry per huge PMD, and the guest's output equal to qemu-aarch64's.
 */
import { describe, expect, it } from 'vitest';
import { firmwareBinary } from '../firmware/cases.js';
import { runCaptured, runQemu } from './helpers.js';

const PROFILES = ['linux-6.12', 'linux-7.2'] as const;

describe('PMD THP under contpte-lab run', () => {
  for (const profile of PROFILES) {
    it(`${profile}: page_fault1 16M x 2 takes one fault per 2 MiB and one TLB fill per huge page`, async () => {
      const args = ['16M', '2'];
      const thp = await runCaptured({ elf: firmwareBinary('page_fault1'), args, profile, sets: ['thp_pmd=always'], stdout: () => {} });
      expect(thp.end.exitCode).toBe(0);
      const c = thp.summary.dumps.at(-1)!.counts;
      expect(c.faults.total).toBe(16);
      expect(c.fault_detail['by_path']).toEqual({ do_huge_pmd_anonymous_page: 16 });
      expect(c.mm['thp_fault_alloc']).toBe(16);
      expect(c.pte_writes).toBe(0);
      // One set_pmd_at per fault, one pmdp_huge_get_and_clear per huge PMD at munmap.
      expect(c.pmd_writes).toBe(32);
      // munmap: zap_huge_pmd x 8, one VMA-end flush of 16 MiB at PMD stride (a range op), twice.
      expect(c.tlbi.by_op).toEqual({ RVALE1IS: 2 });
      expect(c.bbm_violations).toBe(0);
      const base = await runCaptured({ elf: firmwareBinary('page_fault1'), args, profile, stdout: () => {} });
      const b = base.summary.dumps.at(-1)!.counts;
      expect(b.faults.total).toBe(2 * 4096);
      // One fill per 2 MiB block (8 a pass) instead of one per 4 KiB page (plus code and stack
      // entries the 4 KiB run evicts and refills): the TLB holds the block as one entry.
      expect(c.tlb.fills).toBe(16);
      expect(c.tlb.evictions).toBe(0);
      expect(b.tlb.fills).toBeGreaterThan(2 * 4096);
      expect(thp.stdout).toBe(runQemu(firmwareBinary('page_fault1'), args).stdout);
    });

    it(`${profile}: mprotect_page 15 16 splits the huge PMD once, then runs on contiguous PTEs (as the real kernel)`, async () => {
      const args = ['15', '16'];
      const run = await runCaptured({ elf: firmwareBinary('mprotect_page'), args, profile, sets: ['thp_pmd=always'], stdout: () => {} });
      expect(run.end.exitCode).toBe(0);
      const c = run.summary.dumps.at(-1)!.counts;
      expect(c.mm['thp_split_pmd']).toBe(1);
      expect(c.faults.total).toBe(0);
      expect(c.contpte_set_ptes).toBe(1);
      expect(c.contpte_convert).toBe(32);
      expect(c.fold_attempts).toBe(32);
      expect(c.unfolds).toBe(16);
      expect(c.tlbi.by_op).toEqual({ RVAE1IS: 1, RVALE1IS: 32, VALE1IS: 32 });
      expect(c.bbm_violations).toBe(0);
      expect(c.contig_violations).toBe(0);
      expect(run.stdout).toBe(runQemu(firmwareBinary('mprotect_page'), args).stdout);
    });
  }
});
