import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseElf, readElfFile } from '../../src/linux/elf.js';
import { UsageError } from '../../src/util/errors.js';
import { FIRMWARE_PROGRAMS, firmwareBinary } from '../firmware/cases.js';
import { buildElf, PT_GNU_STACK, PT_INTERP, PT_LOAD, PT_NOTE, PT_TLS, smallExec, type ElfSpec } from './elfbuild.js';

function refusal(bytes: Uint8Array, name = 'prog'): string {
  try {
    parseElf(bytes, name);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).exitCode).toBe(2);
    return (e as Error).message;
  }
  throw new Error('the file was accepted');
}

function variant(change: (s: ElfSpec) => void): Uint8Array {
  const s = smallExec();
  change(s);
  return buildElf(s);
}

describe('ELF validation: each malformed file gets its own message', () => {
  it('accepts the well-formed small executable and reads its headers', () => {
    const img = parseElf(buildElf(smallExec()), 'prog');
    expect(img.kind).toBe('exec');
    expect(img.entry).toBe(0x400100);
    expect(img.phoff).toBe(64);
    expect(img.phnum).toBe(3);
    expect(img.loads.map((s) => [s.index, s.vaddr, s.filesz, s.memsz, s.flags])).toEqual([
      [0, 0x400000, 0x1800, 0x1800, 5],
      [1, 0x411f00, 0x200, 0x2900, 6],
    ]);
    expect(img.stackFlags).toBe(6);
    expect(img.tls).toBeNull();
  });

  it('an empty file', () => {
    expect(refusal(new Uint8Array(0))).toBe('prog: not an ELF file (it is empty)');
  });

  it('a script', () => {
    expect(refusal(new TextEncoder().encode('#!/bin/sh\necho hi\n'))).toBe("prog: not an ELF file (starts with '#!/bi')");
  });

  it('binary junk is shown escaped', () => {
    expect(refusal(new Uint8Array([0, 1, 0x27, 0x5c, 0x41, 0x42]))).toBe("prog: not an ELF file (starts with '\\x00\\x01\\'\\\\A')");
  });

  it('a file cut inside the magic or the header', () => {
    expect(refusal(new Uint8Array([0x7f, 0x45]))).toBe('prog: truncated: the ELF header needs 64 bytes, the file has 2');
    const full = buildElf(smallExec());
    expect(refusal(full.subarray(0, 40))).toBe('prog: truncated: the ELF header needs 64 bytes, the file has 40');
    expect(refusal(full.subarray(0, 10))).toBe('prog: truncated: the ELF header needs 64 bytes, the file has 10');
  });

  it('a bad class or data encoding', () => {
    expect(refusal(variant((s) => (s.eiClass = 3)))).toBe('prog: invalid ELF class (EI_CLASS 3): expected 2, 64-bit');
    expect(refusal(variant((s) => (s.eiData = 0)))).toBe('prog: invalid ELF data encoding (EI_DATA 0): expected 1, little-endian');
  });

  it('other architectures, named', () => {
    expect(refusal(variant((s) => (s.machine = 62)))).toBe('prog: x86-64 ELF (e_machine 62): contpte-lab runs arm64 (AArch64) binaries');
    expect(refusal(variant((s) => (s.machine = 243)))).toBe('prog: RISC-V ELF (e_machine 243): contpte-lab runs arm64 (AArch64) binaries');
    expect(refusal(variant((s) => ((s.machine = 40), (s.eiClass = 1))))).toBe(
      'prog: 32-bit ARM (AArch32) ELF (e_machine 40): contpte-lab runs arm64 (AArch64) binaries',
    );
    expect(refusal(variant((s) => (s.machine = 9999)))).toBe('prog: machine 9999 ELF (e_machine 9999): contpte-lab runs arm64 (AArch64) binaries');
  });

  it('AArch64 that is ILP32 or big-endian', () => {
    expect(refusal(variant((s) => (s.eiClass = 1)))).toBe('prog: 32-bit AArch64 (ILP32) ELF (EI_CLASS 1): contpte-lab runs 64-bit arm64 (LP64) binaries');
    // A big-endian header stores e_machine big-endian: 183 is 0x00b7.
    const be = buildElf(smallExec());
    be[5] = 2;
    be[18] = 0;
    be[19] = 183;
    expect(refusal(be)).toBe('prog: big-endian AArch64 ELF (EI_DATA 2): contpte-lab runs little-endian arm64 binaries');
  });

  it('object files, core dumps and unknown types', () => {
    expect(refusal(variant((s) => (s.type = 1)))).toBe('prog: a relocatable object file (ET_REL), not an executable: link it first (static, e.g. gcc -static)');
    expect(refusal(variant((s) => (s.type = 4)))).toBe('prog: a core dump (ET_CORE), not an executable');
    expect(refusal(variant((s) => (s.type = 7)))).toBe('prog: unknown ELF type (e_type 7): expected ET_EXEC (2) or ET_DYN (3)');
  });

  it('program header table problems', () => {
    expect(refusal(variant((s) => (s.phentsize = 32)))).toBe('prog: e_phentsize is 32, expected 56 (sizeof Elf64_Phdr)');
    expect(refusal(variant((s) => (s.phnum = 0)))).toBe('prog: no program headers (e_phnum 0): nothing to load');
    expect(refusal(variant((s) => (s.phnum = 74)))).toBe('prog: 74 program headers (4144 bytes) exceed the 4096 bytes Linux reads');
    // Header 3 of 4 would end at 64 + 4 * 56 = 288 in a file of 250 bytes.
    const cut = variant((s) => {
      s.size = 250;
      s.phdrs.push({ type: PT_NOTE, flags: 4, offset: 0, vaddr: 0, filesz: 0, memsz: 0, align: 4 });
    });
    expect(refusal(cut)).toBe("prog: truncated: program header 3 ends at byte 288, beyond the file's 250 bytes");
    expect(refusal(variant((s) => (s.phoff = 0x3000)))).toBe("prog: truncated: program header 0 ends at byte 12344, beyond the file's 8704 bytes");
  });

  it('dynamically linked programs: the PT_INTERP path, checked as load_elf_binary checks it', () => {
    const withInterp = (text: string, filesz: number): Uint8Array => {
      const f = variant((s) => {
        s.phdrs.unshift({ type: PT_INTERP, flags: 4, offset: 0x1000, vaddr: 0x401000, filesz, memsz: filesz, align: 1 });
      });
      f.fill(0x41, 0x1000, 0x1000 + filesz);
      new TextEncoder().encodeInto(text, f.subarray(0x1000));
      return f;
    };
    const dyn = parseElf(withInterp('/lib/ld-linux-aarch64.so.1\0\0', 28), 'prog');
    expect(dyn.interp).toBe('/lib/ld-linux-aarch64.so.1');
    expect(dyn.kind).toBe('exec');
    expect(parseElf(buildElf(smallExec()), 'prog').interp).toBeNull();
    // ENOEXEC cases: no terminating NUL, an empty path, one longer than PATH_MAX.
    expect(refusal(withInterp('/lib/ld.so', 10))).toBe('prog: segment 0 (PT_INTERP): the interpreter path is not NUL-terminated (ENOEXEC)');
    expect(refusal(withInterp('\0', 1))).toBe('prog: segment 0 (PT_INTERP): an interpreter path of 1 bytes (Linux takes 2 to 4096: ENOEXEC)');
    expect(refusal(withInterp('/x\0', 0x1000 + 1))).toBe('prog: segment 0 (PT_INTERP): an interpreter path of 4097 bytes (Linux takes 2 to 4096: ENOEXEC)');
  });

  it('segment problems', () => {
    expect(refusal(variant((s) => (s.phdrs = s.phdrs.filter((p) => p.type !== PT_LOAD))))).toBe('prog: no PT_LOAD segment: nothing to load');
    expect(refusal(variant((s) => (s.phdrs[1]!.filesz = 0x400)))).toBe(
      "prog: truncated: segment 1 (PT_LOAD) needs file bytes [0x1f00, 0x2300) beyond the file's 8704 bytes (refused by contpte-lab: Linux maps them, and the process dies of SIGBUS or SIGSEGV once it touches them)",
    );
    expect(refusal(variant((s) => (s.phdrs[1]!.memsz = 0x100)))).toBe('prog: segment 1 (PT_LOAD): p_memsz 0x100 is smaller than p_filesz 0x200 (load_elf_binary fails with EINVAL past the point of no return: the process dies of SIGSEGV)');
    expect(refusal(variant((s) => (s.phdrs[1]!.vaddr = 0x411f80)))).toBe(
      'prog: segment 1 (PT_LOAD): p_offset 0x1f00 and p_vaddr 0x411f80 differ modulo the 4096-byte page size, so it cannot be mapped from the file',
    );
    expect(refusal(variant((s) => ((s.phdrs[1]!.vaddr = 0x400f00), (s.phdrs[1]!.align = 0x1000))))).toBe(
      'prog: segment 1 (PT_LOAD) [0x400f00, 0x403800) overlaps segment 0 [0x400000, 0x401800): contpte-lab does not load overlapping PT_LOADs (Linux maps the later one over the earlier)',
    );
  });

  it('what load_elf_binary ignores is ignored: p_align not a power of two or not congruent, unsorted PT_LOADs', () => {
    // Linux skips such p_align values (maximum_alignment) and checks no congruence with them.
    expect(parseElf(variant((s) => (s.phdrs[1]!.vaddr = 0x412f00)), 'prog').loads[1]!.vaddr).toBe(0x412f00);
    expect(parseElf(variant((s) => (s.phdrs[1]!.align = 0x3000)), 'prog').loads[1]!.align).toBe(0x3000);
    // Headers in any order: the loads come back sorted by address, the same mappings.
    const swapped = parseElf(variant((s) => s.phdrs.reverse()), 'prog');
    expect(swapped.loads.map((l) => l.vaddr)).toEqual([0x400000, 0x411f00]);
    expect(swapped.loads.map((l) => l.index)).toEqual([2, 1]);
  });

  it('values at or above 2^53 in fields Linux never reads are accepted', () => {
    const b = variant((s) => s.phdrs.push({ type: PT_TLS, flags: 4, offset: 0x1f00, vaddr: 0x411f00, filesz: 0, memsz: 0, align: 8 }));
    const dv = new DataView(b.buffer);
    const tls = 64 + 3 * 56;
    for (const off of [8, 16, 32, 40, 48]) dv.setBigUint64(tls + off, 0xffff_ffff_ffff_fff0n, true);
    // p_align of a PT_LOAD too: beyond 2^53, one that is not a power of two is ignored (0), as
    // maximum_alignment skips it; a power of two is kept exactly, as the kernel uses it (an
    // ET_DYN then aligns its load address down to 0 and fails, as under qemu-aarch64).
    dv.setBigUint64(64 + 56 + 48, 0x8000_0000_0000_0001n, true);
    dv.setBigUint64(64 + 48, 0x8000_0000_0000_0000n, true);
    const img = parseElf(b, 'prog');
    expect(img.loads).toHaveLength(2);
    expect(img.loads.map((l) => l.align)).toEqual([2 ** 63, 0]);
    expect(img.tls).not.toBeNull();
  });

  it('values beyond 2^53', () => {
    const b = buildElf(smallExec());
    new DataView(b.buffer).setBigUint64(24, 0xffff_ffff_ffff_0000n, true);
    expect(refusal(b)).toBe('prog: e_entry 0xffffffffffff0000 is beyond any address or offset the loader can use');
  });

  it('PT_TLS, PT_NOTE and PT_GNU_STACK are kept, not interpreted', () => {
    const img = parseElf(
      variant((s) => {
        s.phdrs.push({ type: PT_TLS, flags: 4, offset: 0x1f00, vaddr: 0x411f00, filesz: 0x18, memsz: 0x60, align: 8 });
        s.phdrs.push({ type: PT_NOTE, flags: 4, offset: 0x190, vaddr: 0x400190, filesz: 0x44, memsz: 0x44, align: 4 });
        s.phdrs[2] = { type: PT_GNU_STACK, flags: 7, offset: 0, vaddr: 0, filesz: 0, memsz: 0, align: 16 };
      }),
      'prog',
    );
    expect(img.tls?.memsz).toBe(0x60);
    expect(img.stackFlags).toBe(7);
    expect(img.segments.map((s) => s.type)).toEqual([PT_LOAD, PT_LOAD, PT_GNU_STACK, PT_TLS, PT_NOTE]);
  });
});

describe('real files', () => {
  it('every firmware binary parses as a static arm64 ET_EXEC with the layout readelf shows', () => {
    for (const prog of FIRMWARE_PROGRAMS) {
      const img = readElfFile(firmwareBinary(prog));
      expect(img.kind, prog).toBe('exec');
      expect(img.phnum, prog).toBe(6);
      expect(img.loads.length, prog).toBe(2);
      expect(img.loads[0]!.vaddr, prog).toBe(0x400000);
      expect(img.loads[0]!.flags, prog).toBe(5);
      expect(img.loads[1]!.flags, prog).toBe(6);
      expect(img.tls, prog).not.toBeNull();
      expect(img.stackFlags, prog).toBe(6);
    }
    const hello = readElfFile(firmwareBinary('hello'));
    expect(hello.entry).toBe(0x400600);
    expect(hello.loads.map((s) => [s.offset, s.vaddr, s.filesz, s.memsz, s.align])).toEqual([
      [0, 0x400000, 0x7eea8, 0x7eea8, 0x10000],
      [0x8c660, 0x48c660, 0x5a78, 0xaf98, 0x10000],
    ]);
  });

  it('an x86-64 program (/bin/ls) is refused with the x86-64 message', () => {
    if (!existsSync('/bin/ls')) throw new Error('/bin/ls is missing: install the Debian package coreutils');
    const head = readFileSync('/bin/ls').subarray(0, 20);
    expect(head[18], '/bin/ls is expected to be an x86-64 binary on this host').toBe(62);
    expect(() => readElfFile('/bin/ls')).toThrow(new UsageError('/bin/ls: x86-64 ELF (e_machine 62): contpte-lab runs arm64 (AArch64) binaries'));
  });

  it('a missing file, a directory, a text file and a truncated copy of a real binary', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'contpte-elf-'));
    expect(() => readElfFile(path.join(dir, 'nope'))).toThrow(new UsageError(`${path.join(dir, 'nope')}: cannot read the executable: no such file`));
    expect(() => readElfFile(dir)).toThrow(new UsageError(`${dir}: permission denied (EACCES): a directory, not a regular file, and execve runs only regular files`));
    const text = path.join(dir, 'notes.txt');
    writeFileSync(text, 'hello\n', { mode: 0o755 });
    expect(() => readElfFile(text)).toThrow(new UsageError(`${text}: not an ELF file (starts with 'hello')`));
    const cut = path.join(dir, 'hello-cut');
    writeFileSync(cut, readFileSync(firmwareBinary('hello')).subarray(0, 0x80000), { mode: 0o755 });
    expect(() => readElfFile(cut)).toThrow(
      new UsageError(`${cut}: truncated: segment 1 (PT_LOAD) needs file bytes [0x8c660, 0x920d8) beyond the file's 524288 bytes (refused by contpte-lab: Linux maps them, and the process dies of SIGBUS or SIGSEGV once it touches them)`),
    );
  });
});
