/**
 * No guest access bypasses the model: what the guest sees is what the model TLB holds.
 *
 * - A 5-entry TLB (one set of 5 ways, FIFO) and the stride firmware sweeping its buffer one page
 *   at a time. The sweep loop runs from one code page, which must stay resident too. With 4 data
 *   pages the working set (4 + the code page) fits: after the first round no access misses.
 *   With 5 data pages it needs 6 entries: FIFO always evicts the page needed soonest, so every
 *   round misses on all 5 data pages and once on the code page: exactly 6 walks per round. Were
 *   QEMU translating anything on its own, the model would see fewer misses.
 * - A page the model remaps is seen by the guest at once: page_fault2 writes through a private
 *   file mapping (copy-on-write: the PTE moves to a new page while the guest runs) and checks what
 *   it reads back; the firmware tests check its output, this one checks the COW actually happened.
 */
import { describe, expect, it } from 'vitest';
import { firmwareBinary } from '../firmware/cases.js';
import { runCaptured } from './helpers.js';

async function sweepWalks(pages: number, rounds: number): Promise<{ walks: number; fills: number; faults: number }> {
  const r = await runCaptured({ elf: firmwareBinary('stride'), args: [String(pages), '1', String(rounds)], sets: ['tlb_entries=5'] });
  expect(r.end.exitCode).toBe(0);
  const c = r.summary.dumps.at(-1)!.counts;
  return { walks: c.tlb.walks, fills: c.tlb.fills, faults: c.faults.total };
}

describe('a TLB of N entries sees exactly the misses a sweep should cause', () => {
  it('4 data pages + the code page fit 5 entries: no miss in later rounds', async () => {
    const a = await sweepWalks(4, 2);
    const b = await sweepWalks(4, 6);
    expect(b.walks - a.walks).toBe(0);
    expect(b.faults).toBe(0);
  });

  it('5 data pages + the code page need 6: exactly 6 misses per round', async () => {
    const a = await sweepWalks(5, 2);
    const b = await sweepWalks(5, 6);
    expect((b.walks - a.walks) / 4).toBe(6);
    expect(b.fills).toBe(b.walks);
    expect(b.faults).toBe(0);
  });
});

describe('the guest sees what the model maps, at once', () => {
  it('copy-on-write of a private file mapping: the PTE moves to a new page and the guest reads its own writes', async () => {
    const r = await runCaptured({ elf: firmwareBinary('page_fault2'), args: ['256K', '1'] });
    expect(r.end.exitCode).toBe(0);
    const c = r.summary.dumps.at(-1)!.counts;
    expect(c.fault_detail['by_path']?.['do_cow_fault']).toBe(64);
    expect(c.bbm_violations).toBe(0);
  });
});
