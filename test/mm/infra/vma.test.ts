import { describe, expect, it } from 'vitest';
import { Inode, type FsType } from '../../../src/mm/inode.js';
import {
  AnonVma,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  mmapBase,
  VM_GROWSDOWN,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  VmaSet,
  type AnonThpAlign,
  type Vma,
} from '../../../src/mm/vma.js';
import { PAGE_SIZE } from '../../../src/mmu/physmem.js';
import { Telemetry } from '../../../src/trace/index.js';
import { makeMm, MiB } from './fixture.js';

const P = PAGE_SIZE;
const T = 2 ** 40;
const RW = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE;
const RO = VM_READ | VM_MAYREAD | VM_MAYWRITE;
const SHARED_RW = RW | VM_SHARED | VM_MAYSHARE;

/** [start, end, flags, pgoff] of every VMA, for exact comparisons. */
function layout(vs: VmaSet): Array<[number, number, number, number]> {
  return vs.all().map((v) => [v.start, v.end, v.flags, v.pgoff]);
}

function addrOf(vs: VmaSet, req: Parameters<VmaSet['getUnmappedArea']>[0]): number {
  const r = vs.getUnmappedArea(req);
  if (r.kind !== 'ok') throw new Error(`unexpected ${r.errno}`);
  return r.addr;
}

/** mmap(NULL or hint, len, flags) of private anonymous memory, as do_mmap would link it. */
function mmapAnon(vs: VmaSet, len: number, flags = RW, hint = 0): { addr: number; vma: Vma; merged: string } {
  const addr = addrOf(vs, { len, hint, flags: MAP_PRIVATE | MAP_ANONYMOUS });
  const r = vs.mapRange({ start: addr, end: addr + len, flags, pgoff: addr / P, file: null });
  if (r.kind !== 'ok') throw new Error('overlap');
  return { addr, vma: r.vma, merged: r.merged };
}

function inode(fsType: FsType, ino = 1): Inode {
  return new Inode(makeMm(1 * MiB).cache, { ino, fsType, size: 256 * MiB });
}

describe('mmap_base', () => {
  it('leaves at least MIN_GAP (128 MiB) below the stack top with randomisation off', () => {
    expect(mmapBase(T)).toBe(0xfff8000000);
    expect(new VmaSet().mmapBase).toBe(0xfff8000000);
    // A stack rlimit above 128 MiB widens the gap by the rlimit plus the 1 MiB guard gap.
    expect(mmapBase(T, 256 * MiB)).toBe(T - 257 * MiB);
    // The gap is capped at 5/6 of the stack top.
    // (2^30 - floor(2^30 / 6) * 5 = 0xaaaaaae, rounded up to a page.)
    expect(mmapBase(2 ** 30, 2 ** 30)).toBe(0xaaab000);
  });
});

describe('VmaSet placement', () => {
  it('places mmaps top-down from mmap_base and merges adjacent anonymous ones', () => {
    const vs = new VmaSet();
    const a = mmapAnon(vs, P);
    expect(a.addr).toBe(0xfff7fff000);
    expect(a.merged).toBe('none');
    const b = mmapAnon(vs, 2 * P);
    expect(b.addr).toBe(0xfff7ffd000);
    expect(b.merged).toBe('next');
    expect(layout(vs)).toEqual([[0xfff7ffd000, 0xfff8000000, RW, 0xfff7ffd000 / P]]);

    // A tmpfs file goes right below; an ext4 file is PMD-aligned (thp_get_unmapped_area).
    const tmp = inode('tmpfs');
    const t = addrOf(vs, { len: 128 * MiB, flags: MAP_SHARED, file: tmp, pgoff: 0 });
    expect(t).toBe(0xffefffd000);
    expect(vs.mapRange({ start: t, end: t + 128 * MiB, flags: SHARED_RW, pgoff: 0, file: tmp })).toMatchObject({ kind: 'ok', merged: 'none' });
    const ext = inode('ext4', 2);
    const e = addrOf(vs, { len: 128 * MiB, flags: MAP_SHARED, file: ext, pgoff: 0 });
    expect(e).toBe(0xffe7e00000);
  });

  it('aligns a file mapping to its offset modulo 2 MiB', () => {
    const vs = new VmaSet();
    const ext = inode('ext4');
    expect(addrOf(vs, { len: 4 * MiB, flags: MAP_SHARED, file: ext, pgoff: 1 })).toBe(0xfff7a01000);
    // Less than one whole aligned 2 MiB in the file range: no alignment.
    expect(addrOf(vs, { len: 2 * MiB, flags: MAP_SHARED, file: ext, pgoff: 1 })).toBe(0xfff7e00000);
  });

  it('reuses a hole left by munmap and merges across it', () => {
    const vs = new VmaSet();
    mmapAnon(vs, 3 * P);
    const d = vs.detachRange(0xfff7ffe000, 0xfff7fff000);
    expect(d.removed.map((v) => [v.start, v.end, v.pgoff])).toEqual([[0xfff7ffe000, 0xfff7fff000, 0xfff7ffe000 / P]]);
    expect([d.prev?.start, d.prev?.end, d.next?.start, d.next?.end]).toEqual([0xfff7ffd000, 0xfff7ffe000, 0xfff7fff000, 0xfff8000000]);
    expect(layout(vs)).toEqual([
      [0xfff7ffd000, 0xfff7ffe000, RW, 0xfff7ffd000 / P],
      [0xfff7fff000, 0xfff8000000, RW, 0xfff7fff000 / P],
    ]);
    const again = mmapAnon(vs, P);
    expect(again.addr).toBe(0xfff7ffe000);
    expect(again.merged).toBe('both');
    expect(layout(vs)).toEqual([[0xfff7ffd000, 0xfff8000000, RW, 0xfff7ffd000 / P]]);
    // One mmap, two splits (each links a VMA), the hole's VMA and the merged-away one removed.
    expect(vs.stats).toEqual({ find_vma: 0, find_vma_cached: 0, inserts: 3, removes: 2, splits: 2, merges: 1 });
  });

  it('MAP_FIXED takes the address; unmapping first splits what was there', () => {
    const vs = new VmaSet();
    mmapAnon(vs, 3 * P);
    const start = 0xfff7fff000;
    const end = 0xfff8002000;
    expect(addrOf(vs, { len: end - start, hint: start, flags: MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS })).toBe(start);
    const d = vs.detachRange(start, end);
    expect(d.removed.map((v) => [v.start, v.end])).toEqual([[0xfff7fff000, 0xfff8000000]]);
    expect(d.prev?.end).toBe(start);
    expect(d.next).toBeNull();
    expect(vs.mapRange({ start, end, flags: RO, pgoff: start / P, file: null })).toMatchObject({ kind: 'ok', merged: 'none' });
    expect(layout(vs)).toEqual([
      [0xfff7ffd000, 0xfff7fff000, RW, 0xfff7ffd000 / P],
      [0xfff7fff000, 0xfff8002000, RO, 0xfff7fff000 / P],
    ]);
    // Unmapping across both and a hole removes both pieces whole.
    const all = vs.detachRange(0xfff0000000, 0xfff9000000);
    expect(all.removed.length).toBe(2);
    expect(vs.count).toBe(0);
    expect(vs.mapRange({ start, end: start + P, flags: RW, pgoff: 0, file: null })).toMatchObject({ kind: 'ok' });
    expect(vs.mapRange({ start, end: start + 2 * P, flags: RW, pgoff: 0, file: null })).toMatchObject({ kind: 'overlap' });
  });

  it('honours a free hint, aligned up to a page, and searches when it is taken', () => {
    const vs = new VmaSet();
    expect(addrOf(vs, { len: P, hint: 0x100000000, flags: MAP_PRIVATE | MAP_ANONYMOUS })).toBe(0x100000000);
    expect(addrOf(vs, { len: P, hint: 0x100000123, flags: MAP_PRIVATE | MAP_ANONYMOUS })).toBe(0x100001000);
    mmapAnon(vs, 2 * P, RW, 0x100000000);
    expect(layout(vs)).toEqual([[0x100000000, 0x100002000, RW, 0x100000]]);
    expect(addrOf(vs, { len: P, hint: 0x100001000, flags: MAP_PRIVATE | MAP_ANONYMOUS })).toBe(0xfff7fff000);
    // A hint whose range would pass TASK_SIZE is ignored.
    expect(addrOf(vs, { len: 2 * P, hint: T - P, flags: MAP_PRIVATE | MAP_ANONYMOUS })).toBe(0xfff7ffe000);
  });

  it('keeps the stack guard gap free', () => {
    const vs = new VmaSet();
    const stackStart = T - 0x21000;
    vs.insert({ start: stackStart, end: T, flags: RW | VM_GROWSDOWN, pgoff: stackStart / P, file: null, name: '[stack]' });
    const req = { len: P, flags: MAP_PRIVATE | MAP_ANONYMOUS };
    expect(addrOf(vs, { ...req, hint: stackStart - P })).toBe(0xfff7fff000);
    expect(addrOf(vs, { ...req, hint: stackStart - MiB - P })).toBe(stackStart - MiB - P);
    // A growing-down VMA right below mmap_base pushes the top-down search under its guard gap.
    vs.insert({ start: 0xfff7ff0000, end: 0xfff8000000, flags: RW | VM_GROWSDOWN, pgoff: 0, file: null });
    expect(addrOf(vs, req)).toBe(0xfff7eef000);
  });

  it('falls back to a bottom-up search from TASK_UNMAPPED_BASE', () => {
    const vs = new VmaSet({ taskSize: 2 ** 30 });
    expect(vs.mmapBase).toBe(0x38000000);
    expect(vs.unmappedBase).toBe(0x10000000);
    vs.insert({ start: 0x100000, end: 0x30000000, flags: RW, pgoff: 0, file: null });
    expect(addrOf(vs, { len: 0x9000000, flags: MAP_PRIVATE | MAP_ANONYMOUS })).toBe(0x30000000);
    expect(vs.getUnmappedArea({ len: 0x11000000, flags: MAP_PRIVATE | MAP_ANONYMOUS })).toEqual({ kind: 'error', errno: 'ENOMEM' });
  });

  it('rejects bad lengths and fixed addresses as Linux does', () => {
    const vs = new VmaSet();
    const anon = MAP_PRIVATE | MAP_ANONYMOUS;
    expect(vs.getUnmappedArea({ len: 0, flags: anon })).toEqual({ kind: 'error', errno: 'EINVAL' });
    expect(vs.getUnmappedArea({ len: T + P, flags: anon })).toEqual({ kind: 'error', errno: 'ENOMEM' });
    expect(vs.getUnmappedArea({ len: 2 * P, hint: T - P, flags: anon | MAP_FIXED })).toEqual({ kind: 'error', errno: 'ENOMEM' });
    expect(vs.getUnmappedArea({ len: P, hint: 0x1234, flags: anon | MAP_FIXED })).toEqual({ kind: 'error', errno: 'EINVAL' });
    expect(vs.getUnmappedArea({ len: P, hint: 0, flags: anon | MAP_FIXED })).toEqual({ kind: 'error', errno: 'EPERM' });
    expect(vs.getUnmappedArea({ len: P, hint: P, flags: anon | MAP_FIXED })).toEqual({ kind: 'ok', addr: P });
    // The length is rounded up to pages.
    expect(vs.getUnmappedArea({ len: 10, flags: anon })).toEqual({ kind: 'ok', addr: 0xfff7fff000 });
  });
});

describe('anonymous THP alignment across kernel versions', () => {
  /** The address of an anonymous mmap made after one 4 KiB mapping, so mmap_base is not 2 MiB below a free top. */
  function place(align: AnonThpAlign, len: number, hint = 0): number {
    const vs = new VmaSet({ anonThpAlign: align });
    mmapAnon(vs, P);
    return addrOf(vs, { len, hint, flags: MAP_PRIVATE | MAP_ANONYMOUS });
  }

  it('matches each variant exactly', () => {
    expect(place('none', 2 * MiB)).toBe(0xfff7dff000);
    expect(place('any_size', 2 * MiB)).toBe(0xfff7c00000);
    expect(place('any_size', 3 * MiB)).toBe(0xfff7c00000);
    expect(place('any_size', 1 * MiB)).toBe(0xfff7eff000);
    expect(place('pmd_multiple', 2 * MiB)).toBe(0xfff7c00000);
    expect(place('pmd_multiple', 3 * MiB)).toBe(0xfff7cff000);
    // A taken hint: v6.12 still aligns (the padded search ignores it); v6.13 does not align at all.
    expect(place('pmd_multiple', 2 * MiB, 0xfff7fff000)).toBe(0xfff7c00000);
    expect(place('pmd_multiple_no_hint', 2 * MiB, 0xfff7fff000)).toBe(0xfff7dff000);
    expect(place('pmd_multiple_no_hint', 2 * MiB)).toBe(0xfff7c00000);
    // A free hint is taken as is, aligned or not.
    expect(place('pmd_multiple', 2 * MiB, 0x100001000)).toBe(0x100001000);
  });

  it('puts an already aligned padded area at its top', () => {
    const vs = new VmaSet({ anonThpAlign: 'any_size' });
    expect(addrOf(vs, { len: 2 * MiB, flags: MAP_PRIVATE | MAP_ANONYMOUS })).toBe(0xfff7e00000);
  });

  it('never aligns shared anonymous memory (shmem without huge pages)', () => {
    const vs = new VmaSet({ anonThpAlign: 'any_size' });
    mmapAnon(vs, P);
    expect(addrOf(vs, { len: 2 * MiB, flags: MAP_SHARED | MAP_ANONYMOUS })).toBe(0xfff7dff000);
  });
});

describe('VmaSet split and merge (mprotect, munmap)', () => {
  const A = 0x200000000;
  const anonAt = (vs: VmaSet, start: number, pages: number, flags: number, anonVma: AnonVma | null = null): Vma => {
    const r = vs.mapRange({ start, end: start + pages * P, flags, pgoff: start / P, file: null, anonVma });
    if (r.kind !== 'ok') throw new Error('overlap');
    return r.vma;
  };

  it('splits off the last page and merges it back', () => {
    const vs = new VmaSet();
    const v = anonAt(vs, A, 16, RW);
    const r = vs.modifyFlags(v, A + 15 * P, A + 16 * P, RO);
    expect(r.merged).toBe('none');
    expect(layout(vs)).toEqual([
      [A, A + 15 * P, RW, A / P],
      [A + 15 * P, A + 16 * P, RO, A / P + 15],
    ]);
    const back = vs.modifyFlags(r.vma, A + 15 * P, A + 16 * P, RW);
    expect(back.merged).toBe('prev');
    expect(back.vma).toBe(v);
    expect(layout(vs)).toEqual([[A, A + 16 * P, RW, A / P]]);
  });

  it('splits a middle range in three and joins all three back', () => {
    const vs = new VmaSet();
    const v = anonAt(vs, A, 16, RW);
    const mid = vs.modifyFlags(v, A + 5 * P, A + 8 * P, RO);
    expect(layout(vs)).toEqual([
      [A, A + 5 * P, RW, A / P],
      [A + 5 * P, A + 8 * P, RO, A / P + 5],
      [A + 8 * P, A + 16 * P, RW, A / P + 8],
    ]);
    expect(vs.modifyFlags(mid.vma, A + 5 * P, A + 8 * P, RW).merged).toBe('both');
    expect(layout(vs)).toEqual([[A, A + 16 * P, RW, A / P]]);
    // Unchanged flags change nothing.
    expect(vs.modifyFlags(v, A, A + P, RW)).toEqual({ vma: v, merged: 'none' });
    expect(vs.count).toBe(1);
  });

  it('moves a boundary when the range touches a compatible neighbour', () => {
    const vs = new VmaSet();
    const x = anonAt(vs, A, 4, RO);
    const y = anonAt(vs, A + 4 * P, 4, RW);
    expect(vs.modifyFlags(y, A + 4 * P, A + 5 * P, RO)).toEqual({ vma: x, merged: 'prev' });
    expect(layout(vs)).toEqual([
      [A, A + 5 * P, RO, A / P],
      [A + 5 * P, A + 8 * P, RW, A / P + 5],
    ]);
    expect(vs.modifyFlags(x, A + 3 * P, A + 5 * P, RW)).toEqual({ vma: y, merged: 'next' });
    expect(layout(vs)).toEqual([
      [A, A + 3 * P, RO, A / P],
      [A + 3 * P, A + 8 * P, RW, A / P + 3],
    ]);
  });

  it('does not merge VMAs with different anon_vmas, and shares one with a neighbour when it can', () => {
    const vs = new VmaSet();
    const y = anonAt(vs, A + 4 * P, 4, RW, new AnonVma());
    anonAt(vs, A, 4, RO, new AnonVma());
    expect(vs.modifyFlags(y, A + 4 * P, A + 8 * P, RO).merged).toBe('none');
    expect(vs.count).toBe(2);

    const ws = new VmaSet();
    const p = anonAt(ws, A, 4, RO);
    const q = anonAt(ws, A + 4 * P, 4, RW);
    const av = ws.anonVmaPrepare(p);
    expect(ws.anonVmaPrepare(q)).toBe(av);
    expect(ws.modifyFlags(q, A + 4 * P, A + 8 * P, RO)).toEqual({ vma: p, merged: 'prev' });
    expect(p.anonVma).toBe(av);
  });

  it('fills a hole between neighbours with different anon_vmas by growing only the lower one', () => {
    const vs = new VmaSet();
    const low = anonAt(vs, A, 4, RW, new AnonVma());
    anonAt(vs, A + 8 * P, 4, RW, new AnonVma());
    const r = vs.mapRange({ start: A + 4 * P, end: A + 8 * P, flags: RW, pgoff: A / P + 4, file: null });
    expect(r).toEqual({ kind: 'ok', vma: low, merged: 'prev' });
    expect(layout(vs)).toEqual([
      [A, A + 8 * P, RW, A / P],
      [A + 8 * P, A + 12 * P, RW, A / P + 8],
    ]);
    // An anonymous range whose offset does not continue its neighbour's stays separate.
    expect(vs.mapRange({ start: A + 12 * P, end: A + 13 * P, flags: RW, pgoff: 7, file: null })).toMatchObject({ merged: 'none' });
  });

  it('merges file mappings only with contiguous offsets of the same file', () => {
    const vs = new VmaSet();
    const f = inode('tmpfs');
    const g = inode('tmpfs', 2);
    expect(vs.mapRange({ start: A, end: A + 4 * P, flags: SHARED_RW, pgoff: 0, file: f })).toMatchObject({ merged: 'none' });
    expect(vs.mapRange({ start: A + 4 * P, end: A + 8 * P, flags: SHARED_RW, pgoff: 4, file: f })).toMatchObject({ merged: 'prev' });
    expect(vs.mapRange({ start: A + 8 * P, end: A + 12 * P, flags: SHARED_RW, pgoff: 100, file: f })).toMatchObject({ merged: 'none' });
    expect(vs.mapRange({ start: A + 12 * P, end: A + 16 * P, flags: SHARED_RW, pgoff: 104, file: g })).toMatchObject({ merged: 'none' });
    expect(layout(vs)).toEqual([
      [A, A + 8 * P, SHARED_RW, 0],
      [A + 8 * P, A + 12 * P, SHARED_RW, 100],
      [A + 12 * P, A + 16 * P, SHARED_RW, 104],
    ]);
  });

  it('finds VMAs by address with a cached last hit', () => {
    const telemetry = new Telemetry();
    const vs = new VmaSet({ telemetry });
    const x = anonAt(vs, A, 4, RO);
    const y = anonAt(vs, A + 8 * P, 4, RW);
    expect(vs.findVma(A + 5 * P)).toBe(y);
    expect(vs.vmaLookup(A + 5 * P)).toBeNull();
    expect(vs.findVma(A + 13 * P)).toBeNull();
    expect(vs.vmaLookup(A + 9 * P)).toBe(y);
    expect(vs.vmaLookup(A + 10 * P)).toBe(y);
    expect(vs.vmaLookup(A)).toBe(x);
    expect(vs.findVmaIntersection(A + 4 * P, A + 8 * P)).toBeNull();
    expect(vs.findVmaIntersection(A + 4 * P, A + 9 * P)).toBe(y);
    expect(vs.intersecting(A, A + 12 * P)).toEqual([x, y]);
    expect(vs.prevOf(y)).toBe(x);
    expect(vs.nextOf(y)).toBeNull();
    expect(telemetry.stats.snapshot()['vma']).toEqual({ find_vma: 6, find_vma_cached: 1, inserts: 2, removes: 0, splits: 0, merges: 0 });
  });

  it('refuses ranges that are not page aligned or not inside the VMA', () => {
    const vs = new VmaSet();
    const v = anonAt(vs, A, 4, RW);
    expect(() => vs.split(v, A)).toThrow(/cannot split/);
    expect(() => vs.split(v, A + 100)).toThrow(/cannot split/);
    expect(() => vs.modifyFlags(v, A, A + 5 * P, RO)).toThrow(/is not inside/);
    expect(() => vs.detachRange(A + 1, A + P)).toThrow(/page-aligned/);
  });
});
