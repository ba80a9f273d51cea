/**
 * get_user_pages with FOLL_FORCE (access_remote_vm, /proc/<pid>/mem): a forced write into a
 * read-only private mapping breaks copy-on-write and leaves a PTE that is dirty but not writable,
 * so the program's own store still faults; shared mappings refuse it; nothing goes through the
 * TLB. Counts are the kernel's: one fault per handle_mm_fault GUP makes, none when the PTE
 * already lets the access through.
 */
import { describe, expect, it } from 'vitest';
import { accessUser, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_NONE, PROT_READ, PROT_WRITE } from '../../src/mm/index.js';
import { pteDirty, pteWrite, type Pte } from '../../src/pgtable/pte.js';
import { machine, measure, PAGE, type Machine } from './helpers.js';

function map(m: Machine, prot: number, flags = MAP_PRIVATE): number {
  const a = m.p.mmap({ addr: 0, len: 2 * PAGE, prot, flags: flags | MAP_ANONYMOUS, file: null, pgoff: 0 });
  expect(a).toBeGreaterThan(0);
  return a;
}

function pteAt(m: Machine, va: number): Pte {
  const ptep = m.k.pgtable.tables.pteOffsetMap(m.p, va);
  if (ptep === undefined) throw new Error('no PTE table');
  return m.k.pgtable.ptep.ptepGet(ptep);
}

const tlbFills = (m: Machine): number => m.k.telemetry.stats.snapshot()['tlb']!['fills'] as number;

describe('access_remote_vm with FOLL_FORCE', () => {
  it('a write over the zero page in a read-only mapping: one COW fault, a dirty read-only PTE, the store still faults', () => {
    const m = machine('linux-6.12');
    const a = map(m, PROT_READ);
    expect(accessUser(m.p, a + 5, 'read').ok).toBe(true);
    const c = measure(m, () => expect(m.p.accessRemote(a + 5, 1, Uint8Array.of(0x5a))).toBe(1));
    expect(c.faults).toBe(1);
    expect(m.k.faultStats.gup).toBe(1);
    expect(c.byPath).toEqual({ do_wp_page: 1 });
    // wp_page_copy: the zero page's PTE is cleared and flushed, then the copy installed.
    expect(c.tlbi).toEqual({ VALE1IS: 1 });
    expect(m.k.mmStats.cow_copies).toBe(1);
    expect(tlbFills(m)).toBe(0);
    const pte = pteAt(m, a);
    expect([pteDirty(pte), pteWrite(pte)]).toEqual([true, false]);
    expect(m.p.copyFromUser(a + 4, 3)).toEqual(Uint8Array.of(0, 0x5a, 0));
    const st = accessUser(m.p, a + 5, 'write');
    expect(st.ok ? 'ok' : st.outcome.code).toBe('SEGV_ACCERR');
    // The page is now this mm's own: a second forced write goes straight to it.
    const again = measure(m, () => expect(m.p.accessRemote(a + 6, 1, Uint8Array.of(7))).toBe(1));
    expect(again.faults).toBe(0);
    expect(again.pteWrites).toBe(0);
  });

  it('a write to an untouched read-only page: do_anonymous_page maps a clean read-only page and the write follows it', () => {
    const m = machine('linux-6.12');
    const a = map(m, PROT_READ);
    const c = measure(m, () => expect(m.p.accessRemote(a + PAGE - 2, 4, Uint8Array.of(1, 2, 3, 4))).toBe(4));
    expect(c.faults).toBe(2);
    expect(c.byPath).toEqual({ do_anonymous_page: 2 });
    expect(c.tlbiTotal).toBe(0);
    const pte = pteAt(m, a + PAGE);
    expect([pteDirty(pte), pteWrite(pte)]).toEqual([false, false]);
    expect(m.p.copyFromUser(a + PAGE - 2, 4)).toEqual(Uint8Array.of(1, 2, 3, 4));
  });

  it('a writable mapping takes an ordinary write fault and ends writable and dirty', () => {
    const m = machine('linux-6.12');
    const a = map(m, PROT_READ | PROT_WRITE);
    const c = measure(m, () => expect(m.p.accessRemote(a, 1, Uint8Array.of(9))).toBe(1));
    expect(c.byPath).toEqual({ do_anonymous_page: 1 });
    const pte = pteAt(m, a);
    expect([pteDirty(pte), pteWrite(pte)]).toEqual([true, true]);
  });

  it('reads a PROT_NONE page (FOLL_FORCE with VM_MAYREAD)', () => {
    const m = machine('linux-6.12');
    const a = map(m, PROT_READ | PROT_WRITE);
    expect(m.p.copyToUser(a, Uint8Array.of(1, 2, 3))).toBe(3);
    expect(m.p.mprotect(a, 2 * PAGE, PROT_NONE)).toBe(0);
    const c = measure(m, () => expect(m.p.accessRemote(a, 3, null)).toEqual(Uint8Array.of(1, 2, 3)));
    expect(c.faults).toBe(0);
    // The untouched second page: a read fault maps the zero page (PAGE_NONE), which GUP follows.
    const z = measure(m, () => expect(m.p.accessRemote(a + PAGE, 2, null)).toEqual(Uint8Array.of(0, 0)));
    expect(z.byPath).toEqual({ do_anonymous_page: 1 });
  });

  it('refuses a forced write into a shared mapping, and stops at a hole', () => {
    const m = machine('linux-6.12');
    const s = map(m, PROT_READ, MAP_SHARED);
    const c = measure(m, () => expect(m.p.accessRemote(s, 1, Uint8Array.of(1))).toBe(0));
    expect(c.faults).toBe(0);
    const a = map(m, PROT_READ | PROT_WRITE);
    expect(m.p.munmap(a + PAGE, PAGE)).toBe(0);
    const got = m.p.accessRemote(a + PAGE - 8, 16, null);
    expect(got).toBeInstanceOf(Uint8Array);
    expect((got as Uint8Array).length).toBe(8);
    expect(m.k.faultStats.signals).toEqual({});
  });

  it('reaches a process the mmu is not switched to', () => {
    const m = machine('linux-6.12');
    const other = m.k.newProcess();
    const a = other.mmap({ addr: 0, len: PAGE, prot: PROT_READ, flags: MAP_PRIVATE | MAP_ANONYMOUS, file: null, pgoff: 0 });
    expect(other.accessRemote(a, 2, Uint8Array.of(0xab, 0xcd))).toBe(2);
    expect(other.accessRemote(a, 2, null)).toEqual(Uint8Array.of(0xab, 0xcd));
    // After exit_mmap (mmget_not_zero fails) nothing is transferred.
    other.exitMmap();
    expect(other.accessRemote(a, 2, null)).toEqual(new Uint8Array(0));
    expect(other.accessRemote(a, 2, Uint8Array.of(1, 2))).toBe(0);
  });
});
