/**
 * PhysMem.setBacker: host memory is backed a 256 KiB chunk at a time, at the first zeroing of a
 * page in the chunk, once per chunk; a backer that cannot is not asked again. The bytes are the
 * same either way.
 */
import { describe, expect, it } from 'vitest';
import { PhysMem } from '../../src/mmu/physmem.js';

const BASE = 2 ** 40;
const PAGE = 4096;
const CHUNK = 64 * PAGE;

describe('PhysMem backing', () => {
  it('asks once per chunk, before zeroing, for every chunk a zeroing touches', () => {
    const m = PhysMem.allocate(BASE, 4 * CHUNK + 8 * PAGE);
    const calls: [number, number][] = [];
    m.setBacker((off, len) => {
      calls.push([off, len]);
      return true;
    });
    m.u8.fill(0xaa, 0, PAGE);
    m.zero(BASE, PAGE);
    expect([...m.u8.subarray(0, PAGE)].every((b) => b === 0)).toBe(true);
    m.zero(BASE + PAGE, PAGE); // same chunk
    m.zero(BASE + CHUNK - PAGE, 2 * PAGE); // the end of chunk 0 and the start of chunk 1
    m.zero(BASE + 4 * CHUNK, PAGE); // the last, short chunk
    expect(calls).toEqual([[0, CHUNK], [CHUNK, CHUNK], [4 * CHUNK, 8 * PAGE]]);
  });

  it('stops asking a backer that cannot back memory, and still zeroes', () => {
    const m = PhysMem.allocate(BASE, 2 * CHUNK);
    let calls = 0;
    m.setBacker(() => {
      calls++;
      return false;
    });
    m.u8.fill(0xaa);
    m.zero(BASE, PAGE);
    m.zero(BASE + CHUNK, PAGE);
    expect(calls).toBe(1);
    expect(m.u8[0]).toBe(0);
    expect(m.u8[CHUNK]).toBe(0);
    expect(m.u8[PAGE]).toBe(0xaa);
  });
});
