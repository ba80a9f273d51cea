/**
 * The user-access primitive and the kernel's copies: accessUser plays an EL0 access through the
 * translation model, faulting pages in on the way; copy_to_user/copy_from_user/strncpy_from_user
 * go page by page with EL0 permissions and stop (or fail) where Linux's fix-ups would.
 */
import { describe, expect, it } from 'vitest';
import { accessUser, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/index.js';
import { alignedHint, machine, measure, MiB, PAGE } from './helpers.js';

function twoPages(m: ReturnType<typeof machine>, prot = PROT_READ | PROT_WRITE): number {
  const a = m.p.mmap({ addr: alignedHint(m, 2 * MiB), len: 2 * PAGE, prot, flags: MAP_PRIVATE | MAP_ANONYMOUS, file: null, pgoff: 0 });
  expect(a).toBeGreaterThan(0);
  return a;
}

describe('accessUser', () => {
  it('translates, takes the fault, translates again: walks and fills counted as in a run', () => {
    const m = machine('linux-6.12', ['hw_dirty=off']);
    const a = twoPages(m);
    const c = measure(m, () => {
      const t = accessUser(m.p, a + 12, 'read');
      expect(t.ok && t.pa === m.k.zeroPfn * PAGE + 12).toBe(true);
    });
    expect(c.faults).toBe(1);
    const tlb = m.k.telemetry.stats.snapshot()['tlb']!;
    expect([tlb['walks'], tlb['walk_faults'], tlb['fills']]).toEqual([2, 1, 1]);
    // A write to the zero page: the TLB entry refuses it (permission fault without a walk),
    // do_wp_page copies, the next walk fills the new page.
    const w = measure(m, () => expect(accessUser(m.p, a + 12, 'write').ok).toBe(true));
    expect(w.faults).toBe(1);
    expect(m.k.faultStats.by_hw_kind).toEqual({ permission: 1 });
  });

  it('without hardware dirty, a write to a writable-clean PTE is a permission fault that marks it dirty', () => {
    const m = machine('linux-6.12', ['hw_dirty=off', 'hw_af=off']);
    const f = m.k.newInode({ fsType: 'tmpfs', size: PAGE });
    const a = m.p.mmap({ addr: 0, len: PAGE, prot: PROT_READ | PROT_WRITE, flags: 1, file: f, fileWritable: true, pgoff: 0 });
    expect(accessUser(m.p, a, 'read').ok).toBe(true);
    const c = measure(m, () => expect(accessUser(m.p, a, 'write').ok).toBe(true));
    // shmem has no write-notify: the read mapped it writable-clean (DBM, AP[2] set).
    expect(c.byPath).toEqual({ handle_pte_fault: 1 });
    expect(c.tlbi).toEqual({ VALE1IS: 1 });
  });

  it('refuses to run with another address space loaded', () => {
    const m = machine('linux-6.12');
    const other = m.k.newProcess();
    m.k.switchTo(other);
    expect(() => accessUser(m.p, 0x1000, 'read')).toThrow(/switch to it first/);
  });
});

describe('copy_to_user / copy_from_user / strncpy_from_user', () => {
  it('copy across a page boundary, faulting both pages in', () => {
    const m = machine('linux-6.12');
    const a = twoPages(m);
    const bytes = Uint8Array.from({ length: 100 }, (_, i) => i + 1);
    const c = measure(m, () => expect(m.p.copyToUser(a + PAGE - 50, bytes)).toBe(100));
    expect(c.faults).toBe(2);
    expect(m.p.copyFromUser(a + PAGE - 50, 100)).toEqual(bytes);
    // Into a caller's buffer: the bytes land there and a view of it comes back; too small a
    // buffer is not used.
    const into = new Uint8Array(256).fill(0xee);
    const got = m.p.copyFromUser(a + PAGE - 50, 100, into)!;
    expect(got).toEqual(bytes);
    expect(got.buffer).toBe(into.buffer);
    expect(into[100]).toBe(0xee);
    const small = new Uint8Array(10);
    expect(m.p.copyFromUser(a + PAGE - 50, 100, small)!.buffer).not.toBe(small.buffer);
  });

  it('stops at the first page it cannot write, returns null when it cannot read', () => {
    const m = machine('linux-6.12');
    const a = twoPages(m);
    expect(m.p.copyToUser(a + 2 * PAGE - 10, new Uint8Array(30))).toBe(10);
    expect(m.p.copyFromUser(a + 2 * PAGE - 10, 30)).toBeNull();
    const ro = twoPages(m, PROT_READ);
    expect(m.p.copyToUser(ro, new Uint8Array(4))).toBe(0);
    expect(m.k.faultStats.signals).toEqual({ 'SIGSEGV/SEGV_MAPERR': 2, 'SIGSEGV/SEGV_ACCERR': 1 });
  });

  it('reads a NUL-terminated string across pages; null without a terminator within max', () => {
    const m = machine('linux-6.12');
    const a = twoPages(m);
    const s = 'x'.repeat(20) + '/tmp/willitscale';
    m.p.copyToUser(a + PAGE - 20, new TextEncoder().encode(s + '\0'));
    expect(m.p.strncpyFromUser(a + PAGE - 20, 256)).toBe(s);
    expect(m.p.strncpyFromUser(a + PAGE - 20, 10)).toBeNull();
  });
});
