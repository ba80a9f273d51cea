/**
 * Capstone through @alexaltea/capstone-js: known A64 words, PC-relative operands resolved
 * against the PC, undefined encodings, and the per-PC cache (a second call makes no capstone
 * call; a different word at the same PC is decoded again).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Disassembler } from '../../src/trace/disasm.js';

let d: Disassembler;
beforeAll(async () => {
  d = await Disassembler.create();
});

describe('Disassembler', () => {
  it('decodes the instructions a guest faults on', () => {
    expect(d.disasm(0x3821681f, 0x400000)).toBe('strb wzr, [x0, x1]');
    expect(d.disasm(0xf9000020, 0x400004)).toBe('str x0, [x1]');
    expect(d.disasm(0xb9400020, 0x400008)).toBe('ldr w0, [x1]');
    expect(d.disasm(0xa9bf7bfd, 0x40000c)).toBe('stp x29, x30, [sp, #-0x10]!');
    expect(d.disasm(0xd4000001, 0x400010)).toBe('svc #0');
    expect(d.disasm(0xd65f03c0, 0x400014)).toBe('ret');
  });

  it('resolves PC-relative targets against the PC given', () => {
    expect(d.disasm(0x14000001, 0x400000)).toBe('b #0x400004');
    expect(d.disasm(0x94000010, 0x500000)).toBe('bl #0x500040');
  });

  it('names an undefined encoding instead of failing', () => {
    expect(d.disasm(0xffffffff, 0x400100)).toBe('.inst 0xffffffff (undefined)');
    expect(d.disasm(0x00000000, 0x400104)).toBe('udf #0');
  });

  it('caches per PC, and decodes again when the word at a PC changes', () => {
    const pc = 0x7000_0000;
    const before = d.decoded;
    expect(d.disasm(0x3821681f, pc)).toBe('strb wzr, [x0, x1]');
    expect(d.decoded).toBe(before + 1);
    for (let i = 0; i < 100; i++) d.disasm(0x3821681f, pc);
    expect(d.decoded).toBe(before + 1);
    expect(d.disasm(0xd65f03c0, pc)).toBe('ret');
    expect(d.decoded).toBe(before + 2);
  });

  it("decodes page_fault3's loop store from the committed binary", () => {
    // The first strb of a zero register in .text, found by scanning the file's instruction words.
    const elf = readFileSync(join(process.cwd(), 'firmware/bin/page_fault3'));
    let found = '';
    for (let off = 0; off + 4 <= elf.length && found === ''; off += 4) {
      const w = elf.readUInt32LE(off);
      if ((w & 0xffe0fc1f) === 0x3820681f) found = d.disasm(w, 0x400000 + off);
    }
    expect(found).toMatch(/^strb wzr, \[x\d+, x\d+\]$/);
  });

  it('loads capstone lazily (in a worker) and gives the same texts, PC-relative ones included', () => {
    const lazy = Disassembler.lazy();
    const words: [number, number][] = [
      [0x3821681f, 0x400000], [0xa9bf7bfd, 0x40000c], [0x14000001, 0x400000], [0x94000010, 0x500000],
      [0xffffffff, 0x400100], [0x00000000, 0x400104], [0x94000010, 0x1_0000_0000],
    ];
    for (const [w, pc] of words) expect(lazy.disasm(w, pc)).toBe(d.disasm(w, pc));
    expect(lazy.decoded).toBe(words.length);
  });
});
