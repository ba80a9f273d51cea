/**
 * mprotect beyond the one-page observations (those are in observations.test.ts): a whole range of
 * contiguous 64 KiB folios per PTE (6.12: every block unfolds at its first PTE and refolds at its
 * last) and batched (7.2: whole blocks keep the bit), VMA split and merge, and the errors.
 */
import { describe, expect, it } from 'vitest';
import { accessUser, EACCES, EINVAL, ENOMEM, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_NONE, PROT_READ, PROT_WRITE } from '../../src/mm/index.js';
import { pteCont, pteWrite } from '../../src/pgtable/pte.js';
import { alignedHint, machine, measure, MiB, PAGE, writePages, type Machine } from './helpers.js';

function anon64k(kernel: string): { m: Machine; a: number } {
  const m = machine(kernel, ['anon_mthp=64K']);
  const a = m.p.mmap({ addr: alignedHint(m, 2 * MiB), len: 2 * MiB, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS, file: null, pgoff: 0 });
  writePages(m, a, 2 * MiB);
  return { m, a };
}

const raw = (m: Machine, va: number) => m.k.pgtable.raw.__ptepGet(m.k.pgtable.tables.pteOffsetMap(m.p, va)!);

describe('mprotect of 2 MiB of contiguous 64 KiB folios', () => {
  it('linux-6.12, per PTE: each of the 32 blocks unfolds at its first PTE and folds again at its last', () => {
    const { m, a } = anon64k('linux-6.12');
    for (const prot of [PROT_READ, PROT_READ | PROT_WRITE]) {
      const c = measure(m, () => expect(m.p.mprotect(a, 2 * MiB, prot)).toBe(0));
      expect([c.unfolds, c.folds]).toEqual([32, 32]);
      // 64 converts (one RVALE1IS each) plus the VMA's flush at tlb_end_vma: 512 pages, one op.
      expect(c.tlbi).toEqual({ RVALE1IS: 65 });
      expect(c.tlbiBySite).toEqual({ contpte_convert: 64, tlb_end_vma: 1 });
      // 512 start/commit pairs, plus 16 clears and 16 writes per convert.
      expect(c.pteWrites).toBe(1024 + 64 * 32);
      expect(c.api['ptep_modify_prot_start']).toBe(512);
      expect([c.bbm, c.contig]).toEqual([0, 0]);
      expect(pteCont(raw(m, a))).toBe(true);
      expect(pteWrite(raw(m, a))).toBe(prot !== PROT_READ);
    }
  });

  it('linux-7.2, batched: one start/commit per folio, whole blocks stay contiguous without a convert', () => {
    const { m, a } = anon64k('linux-7.2');
    for (const prot of [PROT_READ, PROT_READ | PROT_WRITE]) {
      const c = measure(m, () => expect(m.p.mprotect(a, 2 * MiB, prot)).toBe(0));
      expect(c.converts).toBe(0);
      expect(c.tlbi).toEqual({ RVALE1IS: 1 });
      expect(c.pteWrites).toBe(1024);
      expect(c.api['modify_prot_start_ptes']).toBe(32);
      expect(c.contpteSetPtes).toBe(32);
      expect([c.bbm, c.contig]).toEqual([0, 0]);
      expect(pteCont(raw(m, a + 17 * PAGE))).toBe(true);
    }
  });
});

describe('mprotect and the VMAs', () => {
  it('splits the VMA around the page and merges it back on restore; PROT_NONE refuses every access', () => {
    const m = machine('linux-6.12');
    const a = m.p.mmap({ addr: alignedHint(m, 2 * MiB), len: 2 * MiB, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS, file: null, pgoff: 0 });
    writePages(m, a, 64 * 1024);
    const before = m.p.vmas.count;
    expect(m.p.mprotect(a + 4 * PAGE, PAGE, PROT_NONE)).toBe(0);
    expect(m.p.vmas.count).toBe(before + 2);
    const t = accessUser(m.p, a + 4 * PAGE, 'read');
    expect(t.ok ? 'ok' : t.outcome.code).toBe('SEGV_ACCERR');
    expect(accessUser(m.p, a + 5 * PAGE, 'write').ok).toBe(true);
    expect(m.p.mprotect(a + 4 * PAGE, PAGE, PROT_READ | PROT_WRITE)).toBe(0);
    expect(m.p.vmas.count).toBe(before);
    // The page kept its contents and is writable again without a fault (anonymous, exclusive).
    const w = measure(m, () => writePages(m, a + 4 * PAGE, PAGE));
    expect(w.faults).toBe(0);
  });

  it('errors: unaligned start (EINVAL), a hole in the range (ENOMEM), write on a file opened read-only (EACCES)', () => {
    const m = machine('linux-6.12');
    const a = m.p.mmap({ addr: alignedHint(m, 2 * MiB), len: 64 * 1024, prot: PROT_READ, flags: MAP_PRIVATE | MAP_ANONYMOUS, file: null, pgoff: 0 });
    expect(m.p.mprotect(a + 1, PAGE, PROT_READ)).toBe(-EINVAL);
    expect(m.p.mprotect(a, 128 * 1024, PROT_READ)).toBe(-ENOMEM);
    const f = m.k.newInode({ fsType: 'ext4', size: 64 * 1024 });
    const b = m.p.mmap({ addr: 0, len: 64 * 1024, prot: PROT_READ, flags: MAP_SHARED, file: f, fileWritable: false, pgoff: 0 });
    expect(b).toBeGreaterThan(0);
    expect(m.p.mprotect(b, PAGE, PROT_READ | PROT_WRITE)).toBe(-EACCES);
    expect(m.p.mprotect(a, 0, PROT_READ)).toBe(0);
  });
});
