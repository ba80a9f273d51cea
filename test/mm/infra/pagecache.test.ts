import { describe, expect, it } from 'vitest';
import type { Folio } from '../../../src/mm/folio.js';
import { Inode, type InodeInit } from '../../../src/mm/inode.js';
import {
  filemapGetOrder,
  filemapRead,
  filemapReadTransient,
  filemapWrite,
  truncateSetsize,
  type AddFolioResult,
  type WriteResult,
} from '../../../src/mm/pagecache.js';
import { PAGE_SIZE } from '../../../src/mmu/physmem.js';
import { BASE_PFN, makeMm, MiB, type Mm } from './fixture.js';

const P = PAGE_SIZE;

function ok(r: AddFolioResult): Folio {
  if (r.kind !== 'ok') throw new Error(`unexpected ${r.kind}`);
  return r.folio;
}

function written(r: WriteResult): number {
  if (r.kind !== 'ok') throw new Error(`unexpected ${r.kind}`);
  return r.written;
}

/** [index, order] of every cached folio. */
function folios(ino: Inode): Array<[number, number]> {
  return ino.mapping.foliosInRange(0, Number.MAX_SAFE_INTEGER).map((f) => [f.index, f.order]);
}

function pattern(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function ext4(mm: Mm, extra: Partial<InodeInit> = {}): Inode {
  return new Inode(mm.cache, { ino: 10, fsType: 'ext4', largeFolios: true, ...extra });
}

describe('AddressSpace', () => {
  it('caches a folio at an aligned index and finds it from every page', () => {
    const mm = makeMm(64 * MiB);
    const ino = ext4(mm, { size: 1 * MiB });
    expect(ino.mapping.maxOrder).toBe(9);
    const f = ok(ino.mapping.addFolioAt(16, 4));
    expect(f.firstPfn).toBe(BASE_PFN);
    expect(f.index).toBe(16);
    expect(f.mapping).toBe(ino.mapping);
    expect(f.uptodate).toBe(true);
    // Only the cache's references are left: one per page.
    expect(f.refcount).toBe(16);
    for (let i = 16; i < 32; i++) expect(ino.mapping.lookup(i)).toBe(f);
    expect(ino.mapping.lookup(15)).toBeNull();
    expect(ino.mapping.lookup(32)).toBeNull();
    expect(ino.mapping.nrpages).toBe(16);
    expect(ino.mapping.nrFolios).toBe(1);
    expect(mm.memmap.folioBytes(f).every((b) => b === 0)).toBe(true);
    expect(mm.buddy.stats.zeroed_pages).toBe(16);
  });

  it('refuses misaligned, overlapping and too large folios with typed results', () => {
    const mm = makeMm(64 * MiB);
    const ino = ext4(mm);
    ok(ino.mapping.addFolioAt(8, 3));
    expect(ino.mapping.addFolioAt(0, 4)).toEqual({ kind: 'exists', index: 8 });
    expect(ino.mapping.addFolioAt(12, 2)).toEqual({ kind: 'exists', index: 12 });
    expect(ino.mapping.addFolioAt(3, 2)).toEqual({ kind: 'misaligned', index: 3, order: 2 });
    expect(ino.mapping.addFolioAt(0, 10)).toEqual({ kind: 'order_too_large', order: 10, maxOrder: 9 });
    const tmp = new Inode(mm.cache, { ino: 11, fsType: 'tmpfs' });
    expect(tmp.mapping.largeFolios).toBe(false);
    expect(tmp.mapping.addFolioAt(0, 1)).toEqual({ kind: 'order_too_large', order: 1, maxOrder: 0 });
    // Refusals allocate nothing.
    expect(mm.buddy.stats.allocs).toBe(1);
    expect(() => ino.mapping.addFolioAt(-1, 0)).toThrow(/outside the largest file/);
  });

  it('reports out of memory from the allocator', () => {
    const mm = makeMm(4 * MiB);
    const ino = ext4(mm);
    ok(ino.mapping.addFolioAt(0, 9));
    ok(ino.mapping.addFolioAt(512, 9));
    expect(ino.mapping.addFolioAt(1024, 0)).toEqual({ kind: 'oom', order: 0, freePages: 0, poolPages: 1024 });
  });

  it('takes a folio the caller allocated, with its reference kept', () => {
    const mm = makeMm(16 * MiB);
    const ino = ext4(mm);
    const r = mm.memmap.folioAlloc(2);
    if (r.kind !== 'ok') throw new Error('oom');
    expect(ino.mapping.addFolio(r.folio, 4)).toEqual({ kind: 'ok', folio: r.folio });
    expect(r.folio.refcount).toBe(5);
    expect(() => ino.mapping.addFolio(r.folio, 8)).toThrow(/already belongs/);
  });

  it('iterates folios once each, also over a wide sparse range', () => {
    const mm = makeMm(16 * MiB);
    const ino = ext4(mm);
    ok(ino.mapping.addFolioAt(0, 4));
    ok(ino.mapping.addFolioAt(16, 0));
    ok(ino.mapping.addFolioAt(2 ** 30, 9));
    expect(ino.mapping.foliosInRange(5, 17).map((f) => f.index)).toEqual([0, 16]);
    expect(ino.mapping.foliosInRange(17, 2 ** 30).map((f) => f.index)).toEqual([]);
    expect(ino.mapping.foliosInRange(0, 2 ** 35).map((f) => f.index)).toEqual([0, 16, 2 ** 30]);
    expect(ino.mapping.lookup(2 ** 30 + 511)?.index).toBe(2 ** 30);
  });

  it('removes a folio, freeing it when no one else holds it, and refuses a mapped one', () => {
    const mm = makeMm(16 * MiB);
    const ino = ext4(mm);
    const f = ok(ino.mapping.addFolioAt(0, 2));
    const g = ok(ino.mapping.addFolioAt(4, 0));
    mm.memmap.folioRefAdd(g, 1);
    mm.memmap.folioAddRmapPtes(g, g.firstPfn, 1);
    expect(() => ino.mapping.removeFolio(g)).toThrow(/removed while mapped 1 times/);
    ino.mapping.removeFolio(f);
    expect(f.live).toBe(false);
    expect(ino.mapping.lookup(0)).toBeNull();
    expect(ino.mapping.nrpages).toBe(1);
    expect(() => ino.mapping.removeFolio(f)).toThrow(/not in the page cache/);
  });
});

describe('filemapRead / filemapWrite', () => {
  it('round-trips bytes through folios in physical memory', () => {
    const mm = makeMm(16 * MiB);
    const ino = new Inode(mm.cache, { ino: 1, fsType: 'tmpfs' });
    const data = pattern(10000);
    expect(written(filemapWrite(ino, 5000, data, 'order0'))).toBe(10000);
    expect(ino.size).toBe(15000);
    expect(folios(ino)).toEqual([
      [1, 0],
      [2, 0],
      [3, 0],
    ]);
    const back = filemapRead(ino, 0, 20000);
    expect(back.length).toBe(15000);
    expect(back.subarray(0, 5000).every((b) => b === 0)).toBe(true);
    expect(back.subarray(5000)).toEqual(data);
    // The bytes really are in the folio's frames.
    const f = ino.mapping.lookup(2)!;
    expect(mm.mem.read(f.pa, 1)[0]).toBe(data[8192 - 5000]);
    expect(f.dirty).toBe(true);
    expect(filemapRead(ino, 15000, 10).length).toBe(0);
    expect(filemapRead(ino, 14998, 10)).toEqual(data.subarray(9998));
    expect(mm.telemetry.stats.snapshot()['pagecache']).toEqual({
      folios_added: { '0': 3 },
      folios_removed: 0,
      // Pages 1-3 of the first read (15000 - 4096 bytes), then 2 bytes.
      read_bytes: 10904 + 2,
      read_uncached_bytes: 4096,
      write_bytes: 10000,
      write_miss_folios: { '0': 3 },
      truncate_partial: 0,
    });
  });

  it('filemapReadTransient: a view of the folio inside one folio, else filemapRead; the same bytes and counts', () => {
    const mm = makeMm(16 * MiB);
    const ino = new Inode(mm.cache, { ino: 1, fsType: 'tmpfs' });
    const data = pattern(10000);
    filemapWrite(ino, 0, data, 'order0');
    const inside = filemapReadTransient(ino, 4096 + 100, 1000);
    expect(inside).toEqual(data.subarray(4196, 5196));
    // A view: it shares the folio's frame, so a later write shows through.
    const f = ino.mapping.lookup(1)!;
    expect(inside.buffer).toBe(mm.mem.u8.buffer);
    expect(inside.byteOffset).toBe(f.pa + 100 - mm.mem.base);
    // Across a folio boundary, past end of file, or at it: a copy, as filemapRead gives.
    const across = filemapReadTransient(ino, 4000, 200);
    expect(across).toEqual(data.subarray(4000, 4200));
    expect(across.buffer).not.toBe(mm.mem.u8.buffer);
    expect(filemapReadTransient(ino, 9990, 100)).toEqual(data.subarray(9990));
    expect(filemapReadTransient(ino, 10000, 100).length).toBe(0);
    const pc = mm.telemetry.stats.snapshot()['pagecache']!;
    expect([pc['read_bytes'], pc['read_uncached_bytes']]).toEqual([1000 + 200 + 10, 0]);
  });

  it('reads a sparse file as zeros without allocating', () => {
    const mm = makeMm(16 * MiB);
    const ino = new Inode(mm.cache, { ino: 1, fsType: 'ext4', largeFolios: true });
    expect(truncateSetsize(ino, 128 * MiB)).toEqual({ kind: 'ok', removed: [] });
    const got = filemapRead(ino, 64 * MiB, 3 * P);
    expect(got.length).toBe(3 * P);
    expect(got.every((b) => b === 0)).toBe(true);
    expect(ino.mapping.nrpages).toBe(0);
    expect(mm.buddy.stats.allocs).toBe(0);
  });

  it('sizes write-miss folios from the write length (fgf_set_order), capped and aligned', () => {
    const mm = makeMm(64 * MiB);
    const ino = ext4(mm);
    expect(written(filemapWrite(ino, 0, pattern(64 * 1024), 'write_size'))).toBe(65536);
    // 100 KiB at 1 MiB: 64 KiB, then 32 KiB for the remaining 36 KiB, then one page.
    expect(written(filemapWrite(ino, 1 * MiB, pattern(100 * 1024), 'write_size'))).toBe(102400);
    expect(folios(ino)).toEqual([
      [0, 4],
      [256, 4],
      [272, 3],
      [280, 0],
    ]);
    expect(filemapRead(ino, 1 * MiB, 100 * 1024)).toEqual(pattern(100 * 1024));
    expect(mm.cache.stats.write_miss_folios).toEqual({ '4': 2, '3': 1, '0': 1 });
  });

  it('lowers the order to the index alignment of each piece', () => {
    const mm = makeMm(64 * MiB);
    const ino = ext4(mm);
    written(filemapWrite(ino, P, pattern(64 * 1024), 'write_size'));
    expect(folios(ino)).toEqual([
      [1, 0],
      [2, 1],
      [4, 2],
      [8, 3],
      [16, 0],
    ]);
  });

  it('falls back to smaller orders around cached pages', () => {
    const mm = makeMm(64 * MiB);
    const ino = ext4(mm);
    ok(ino.mapping.addFolioAt(8, 0));
    written(filemapWrite(ino, 0, pattern(64 * 1024), 'write_size'));
    expect(folios(ino)).toEqual([
      [0, 3],
      [8, 0],
      [9, 0],
      [10, 1],
      [12, 2],
    ]);
    expect(filemapRead(ino, 0, 64 * 1024)).toEqual(pattern(64 * 1024));
  });

  it('creates one-page folios when the mapping has no large folios, whatever the policy', () => {
    const mm = makeMm(16 * MiB);
    const ino = new Inode(mm.cache, { ino: 1, fsType: 'ext4' });
    written(filemapWrite(ino, 0, pattern(3 * P), 'write_size'));
    expect(folios(ino)).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
    ]);
  });

  it('reads host content on misses and fills new folios from it', () => {
    const mm = makeMm(16 * MiB);
    const content = pattern(10000, 7);
    const ino = ext4(mm, { content });
    expect(ino.size).toBe(10000);
    expect(filemapRead(ino, 100, 200)).toEqual(content.subarray(100, 300));
    expect(mm.buddy.stats.allocs).toBe(0);
    const f = ok(ino.mapping.addFolioAt(0, 2));
    const bytes = mm.memmap.folioBytes(f);
    expect(bytes.subarray(0, 10000)).toEqual(content);
    expect(bytes.subarray(10000).every((b) => b === 0)).toBe(true);
    // Only the last page, wholly past the content, counts as a zeroed page.
    expect(mm.buddy.stats.zeroed_pages).toBe(1);
    // A write into the middle keeps the content around it.
    written(filemapWrite(ino, 5000, new Uint8Array([1, 2, 3]), 'order0'));
    const after = filemapRead(ino, 4990, 20);
    expect(Array.from(after)).toEqual([...content.subarray(4990, 5000), 1, 2, 3, ...content.subarray(5003, 5010)]);
  });

  it('refuses writes at or past the largest file size', () => {
    const mm = makeMm(16 * MiB);
    const ino = ext4(mm);
    expect(filemapWrite(ino, 2 ** 52, new Uint8Array(1), 'order0')).toEqual({ kind: 'efbig' });
    expect(filemapWrite(ino, 0, new Uint8Array(0), 'order0')).toEqual({ kind: 'ok', written: 0 });
  });

  it('stops at out of memory and says how much was written', () => {
    const mm = makeMm(1 * MiB);
    const ino = ext4(mm);
    expect(filemapWrite(ino, 0, pattern(2 * MiB), 'write_size')).toEqual({ kind: 'oom', written: 1 * MiB, order: 0 });
    expect(ino.size).toBe(1 * MiB);
  });

  it('maps the write length to an order like fgf_set_order', () => {
    expect([1, 4096, 8191, 8192, 65536, 102400, 2 * MiB, 4 * MiB].map(filemapGetOrder)).toEqual([0, 0, 0, 1, 4, 4, 9, 10]);
  });
});

describe('truncateSetsize', () => {
  it('drops folios beyond the new size, zeroes the straddling one, and grows sparse', () => {
    const mm = makeMm(16 * MiB);
    const ino = new Inode(mm.cache, { ino: 1, fsType: 'tmpfs' });
    const data = pattern(3 * P);
    written(filemapWrite(ino, 0, data, 'order0'));
    const third = ino.mapping.lookup(2)!;
    const calls: number[] = [];
    const r = truncateSetsize(ino, 5000, (inode, holebegin) => {
      expect(inode).toBe(ino);
      calls.push(holebegin);
    });
    expect(r).toEqual({ kind: 'ok', removed: [third] });
    expect(calls).toEqual([8192, 8192]);
    expect(third.live).toBe(false);
    expect(ino.size).toBe(5000);
    expect(ino.mapping.nrpages).toBe(2);
    expect(mm.cache.stats.truncate_partial).toBe(1);
    expect(truncateSetsize(ino, 3 * P)).toEqual({ kind: 'ok', removed: [] });
    const back = filemapRead(ino, 0, 3 * P);
    expect(back.subarray(0, 5000)).toEqual(data.subarray(0, 5000));
    expect(back.subarray(5000).every((b) => b === 0)).toBe(true);
  });

  it('keeps a large folio that straddles the new end, with its tail zeroed', () => {
    const mm = makeMm(16 * MiB);
    const ino = ext4(mm);
    written(filemapWrite(ino, 0, pattern(64 * 1024), 'write_size'));
    expect(truncateSetsize(ino, 10000)).toEqual({ kind: 'ok', removed: [] });
    expect(folios(ino)).toEqual([[0, 4]]);
    truncateSetsize(ino, 64 * 1024);
    const back = filemapRead(ino, 0, 64 * 1024);
    expect(back.subarray(0, 10000)).toEqual(pattern(10000));
    expect(back.subarray(10000).every((b) => b === 0)).toBe(true);
  });

  it('cuts the host content, so that growing again reads zeros', () => {
    const mm = makeMm(16 * MiB);
    const content = pattern(10000, 3);
    const ino = ext4(mm, { content });
    truncateSetsize(ino, 100);
    truncateSetsize(ino, 10000);
    const back = filemapRead(ino, 0, 10000);
    expect(back.subarray(0, 100)).toEqual(content.subarray(0, 100));
    expect(back.subarray(100).every((b) => b === 0)).toBe(true);
  });

  it('refuses to drop a folio that is still mapped', () => {
    const mm = makeMm(16 * MiB);
    const ino = new Inode(mm.cache, { ino: 1, fsType: 'tmpfs' });
    written(filemapWrite(ino, 0, pattern(2 * P), 'order0'));
    const f = ino.mapping.lookup(1)!;
    mm.memmap.folioRefAdd(f, 1);
    mm.memmap.folioAddRmapPtes(f, f.firstPfn, 1);
    expect(() => truncateSetsize(ino, P)).toThrow(/removed while mapped/);
    expect(truncateSetsize(ino, 2 ** 52 + P)).toEqual({ kind: 'efbig' });
  });
});
