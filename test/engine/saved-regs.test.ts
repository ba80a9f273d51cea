/**
 * Engine.saveRegisters keeps the batched read's bytes (SavedRegisters) and decodes them on first
 * use: a file loaded back untouched restores every register; one read and changed loads the change.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { SavedRegisters } from '../../src/engine/saved-regs.js';

let engine: Engine | undefined;
afterEach(() => {
  engine?.close();
  engine = undefined;
});

describe('saved register files', () => {
  it('round-trips untouched, decodes exactly, and loads what was changed after decoding', () => {
    const e = (engine = new Engine({ memMb: 16 }));
    for (let n = 0; n <= 30; n++) e.setX(n, (BigInt(n) << 56n) | 0x1234n);
    e.setSp(0x7fff_0000n);
    e.setPc(0x40_1000);
    e.setNzcv(0x6000_0000);
    e.setTpidrEl0(0xffff_0000_dead_beefn);
    e.setV(7, Uint8Array.from({ length: 16 }, (_, i) => i + 1));
    const saved = e.saveRegisters();
    expect(saved).toBeInstanceOf(SavedRegisters);
    expect((saved as SavedRegisters).raw).not.toBeNull();

    for (let n = 0; n <= 30; n++) e.setX(n, 0);
    e.setSp(0);
    e.setPc(0x1000);
    e.setV(7, new Uint8Array(16));
    e.loadRegisters(saved);
    expect(e.getX(30)).toBe((30n << 56n) | 0x1234n);
    expect(e.getSp()).toBe(0x7fff_0000);
    expect(e.getPc()).toBe(0x40_1000);
    expect(e.getNzcv()).toBe(0x6000_0000);
    expect(e.getTpidrEl0()).toBe(0xffff_0000_dead_beefn);
    expect([...e.getV(7)]).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));

    // Reading decodes (and forgets the bytes); a change made then is what loads.
    expect(saved.x[29]).toBe((29n << 56n) | 0x1234n);
    expect(saved.pc).toBe(0x40_1000n);
    expect(saved.nzcv).toBe(0x6000_0000);
    expect((saved as SavedRegisters).raw).toBeNull();
    saved.x[3] = 77n;
    saved.pc = 0x40_2000n;
    e.loadRegisters(saved);
    expect(e.getX(3)).toBe(77n);
    expect(e.getX(4)).toBe((4n << 56n) | 0x1234n);
    expect(e.getPc()).toBe(0x40_2000);
  });

  it('a save given the previous untouched save of the task overwrites it in place; a decoded one is not reused', () => {
    const e = (engine = new Engine({ memMb: 16 }));
    e.setX(5, 0x55n);
    e.setPc(0x40_1000);
    const first = e.saveRegisters() as SavedRegisters;
    const bytes = first.raw!;
    e.loadRegisters(first);
    e.setX(5, 0x66n);
    e.setPc(0x40_3000);
    const second = e.saveRegisters(first) as SavedRegisters;
    expect(second).toBe(first);
    expect(second.raw).toBe(bytes);
    e.setX(5, 0);
    e.loadRegisters(second);
    expect(e.getX(5)).toBe(0x66n);
    expect(e.getPc()).toBe(0x40_3000);
    // Decoded (its fields may be held and changed): a new save leaves it alone.
    expect(second.x[5]).toBe(0x66n);
    e.setX(5, 0x77n);
    const third = e.saveRegisters(second);
    expect(third).not.toBe(second);
    expect(second.x[5]).toBe(0x66n);
    expect(third.x[5]).toBe(0x77n);
    // Not a saved file at all (one built by the kernel model): a new save.
    expect(e.saveRegisters(null)).toBeInstanceOf(SavedRegisters);
  });
});
