/**
 * Real static glibc programs (the firmware) through the process layer on the engine, with the
 * fake memory manager: the same stdout and exit code as under qemu-aarch64 (cases.ts).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIRMWARE_CASES, SYSCALLS_STDOUT, firmwareBinary } from '../firmware/cases.js';
import { buildElf, PT_LOAD } from './elfbuild.js';
import { runGuest } from './minimachine.js';

/** A static executable whose code is `words` at 0x400100. */
function tinyProgram(words: readonly number[]): string {
  const bytes = buildElf({
    entry: 0x400100,
    size: 0x1000,
    phdrs: [{ type: PT_LOAD, flags: 5, offset: 0, vaddr: 0x400000, filesz: 0x1000, memsz: 0x1000, align: 0x1000 }],
  });
  const dv = new DataView(bytes.buffer);
  words.forEach((w, i) => dv.setUint32(0x100 + 4 * i, w, true));
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'contpte-tiny-')), 'tiny');
  writeFileSync(file, bytes);
  return file;
}

const MOVZ_X8 = (imm: number): number => (0xd2800008 | (imm << 5)) >>> 0;
const SVC0 = 0xd4000001;

describe('firmware through the process layer', () => {
  it('hello prints its arguments and exits 0', () => {
    const r = runGuest(firmwareBinary('hello'), ['one', 'two words', '']);
    expect(r.stop).toEqual({ kind: 'exit', code: 0 });
    expect(r.stdout).toBe('hello, world\nargv[1] = one\nargv[2] = two words\nargv[3] = \n');
    expect(r.stderr).toBe('');
    expect(r.diagnostics).toEqual([]);
  });

  it('syscalls prints exactly what Linux prints', () => {
    const r = runGuest(firmwareBinary('syscalls'), []);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(SYSCALLS_STDOUT);
    expect(r.stop).toEqual({ kind: 'exit', code: 0 });
    expect(r.diagnostics).toEqual([]);
  });
});

describe('every small firmware case: stdout, exit code and marker calls', () => {
  for (const c of FIRMWARE_CASES) {
    it(c.title, () => {
      const r = runGuest(firmwareBinary(c.program), c.args);
      expect({ stdout: r.stdout, stop: r.stop }, r.stderr).toEqual({ stdout: c.stdout, stop: { kind: 'exit', code: c.exitCode } });
      if (c.stderrIncludes !== undefined) expect(r.stderr).toContain(c.stderrIncludes);
      expect(r.markers).toEqual(
        c.markers.map((m) => (m.op === 'mark' ? `mark ${m.name}` : m.op === 'dump' ? `dump ${m.label}` : m.op === 'ops' ? `ops ${m.n}` : 'reset')),
      );
      expect(r.diagnostics).toEqual([]);
    });
  }
});

describe('hand-written guests', () => {
  it('an unimplemented syscall returns -ENOSYS in x0, reported once', () => {
    // mremap (216) twice, then exit_group(x0): the status is -38 & 0xff.
    const r = runGuest(tinyProgram([MOVZ_X8(216), SVC0, MOVZ_X8(216), SVC0, MOVZ_X8(94), SVC0]), []);
    expect(r.stop).toEqual({ kind: 'exit', code: 218 });
    expect(r.diagnostics).toEqual(['contpte-lab: unimplemented syscall mremap (216) at pc 0x400104: returning -ENOSYS']);
  });

  it('a store to an unmapped address ends the run as SIGSEGV does', () => {
    // movz x0, #0x10; str w1, [x0]
    const r = runGuest(tinyProgram([0xd2800200, 0xb9000001]), []);
    expect(r.stop).toEqual({
      kind: 'exit',
      code: 139,
      message: 'guest killed by SIGSEGV (SEGV_MAPERR: address not mapped to object) at address 0x10: write by the instruction at pc 0x400104; no VMA covers the address [exit status 139]',
    });
  });

  it('a store to the read-only text is SEGV_ACCERR', () => {
    // adr x0, . ; str w1, [x0]
    const r = runGuest(tinyProgram([0x10000000, 0xb9000001]), []);
    expect(r.stop).toMatchObject({ kind: 'exit', code: 139 });
    expect((r.stop as { message: string }).message).toContain('SIGSEGV (SEGV_ACCERR: invalid permissions for mapped object) at address 0x400100: write');
  });
});
