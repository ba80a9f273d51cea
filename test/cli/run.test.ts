/**
 * `contpte-lab run` as a user meets it: bad input gets one clear line and exit code 2; a guest
 * that crashes ends as Linux would end it (128 + signal, with the address, PC and instruction); a
 * runaway guest stops at its budget; unimplemented syscalls are named; results are deterministic;
 * `--json` is one JSON document with the docs/design.md keys.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildElf, PT_INTERP, PT_LOAD } from '../linux/elfbuild.js';
import { unicornVersion } from '../../src/engine/index.js';

const CLI = 'dist/src/cli/main.js';
const dir = mkdtempSync(join(tmpdir(), 'contpte-run-'));

function cli(args: string[], input?: string) {
  return spawnSync('node', [CLI, ...args], { encoding: 'utf8', input, timeout: 120_000 });
}

/** A minimal static executable whose code is `words` at its entry point. */
function program(name: string, words: number[]): string {
  const codeOff = 0x78; // after the ELF header and one program header
  const size = codeOff + words.length * 4;
  const b = buildElf({ entry: 0x400000 + codeOff, size, phdrs: [{ type: PT_LOAD, flags: 5, offset: 0, vaddr: 0x400000, filesz: size, memsz: size, align: 0x10000 }] });
  const dv = new DataView(b.buffer);
  words.forEach((w, i) => dv.setUint32(codeOff + i * 4, w, true));
  const path = join(dir, name);
  writeFileSync(path, b, { mode: 0o755 });
  return path;
}

const MOV_X0_0 = 0xd2800000;
const MOV_X0_7 = 0xd28000e0;
const STR_X0_X0 = 0xf9000000;
const MOV_X8_999 = 0xd2807ce8;
const MOV_X8_EXIT = 0xd2800ba8; // exit = 93
const SVC0 = 0xd4000001;
const B_SELF = 0x14000000;

describe('bad input: a clear one-line error and exit code 2', () => {
  const truncated = join(dir, 'truncated');
  writeFileSync(truncated, readFileSync('firmware/bin/hello').subarray(0, 100), { mode: 0o755 });
  const text = join(dir, 'script.sh');
  writeFileSync(text, '#!/bin/sh\necho hi\n', { mode: 0o755 });
  // A dynamically linked program: its PT_INTERP names the usual arm64 glibc loader.
  const dynamic = join(dir, 'dynamic');
  const dyn = buildElf({
    entry: 0x400100,
    size: 0x200,
    phdrs: [
      { type: PT_INTERP, flags: 4, offset: 0x100, vaddr: 0x400100, filesz: 27, memsz: 27, align: 1 },
      { type: PT_LOAD, flags: 5, offset: 0, vaddr: 0x400000, filesz: 0x200, memsz: 0x200, align: 0x10000 },
    ],
  });
  dyn.set(new TextEncoder().encode('/lib/ld-linux-aarch64.so.1\0'), 0x100);
  writeFileSync(dynamic, dyn, { mode: 0o755 });
  const cases: [string, string[], RegExp][] = [
    ['a missing file', ['run', join(dir, 'nope')], /nope.*(no such file|ENOENT|does not exist)/i],
    ['a text file', ['run', text], /not an ELF file/],
    ['an x86-64 ELF', ['run', '/bin/ls'], /x86-64.*AArch64|AArch64.*x86-64/],
    ['a truncated ELF', ['run', truncated], /truncated/],
    ['an unknown profile', ['run', 'firmware/bin/hello', '--profile', 'linux-5.4'], /linux-5\.4.*linux-6\.9/],
    ['an unknown knob', ['run', 'firmware/bin/hello', '--set', 'turbo=on'], /turbo/],
    ['a bad knob value', ['run', 'firmware/bin/hello', '--set', 'contpte=maybe'], /contpte.*maybe|maybe.*contpte/],
    ['a malformed --set', ['run', 'firmware/bin/hello', '--set', 'contpte'], /knob=value/],
    ['a bad --timeout', ['run', 'firmware/bin/hello', '--timeout', 'soon'], /--timeout/],
    ['a bad --tlb-mode', ['run', 'firmware/bin/hello', '--tlb-mode', 'fast'], /--tlb-mode: 'fast' is not one of auto, shadow, virtual/],
    // Unicorn 2.0.1 (Debian 12's) has no TLB-fill hook; under 2.1.x the same run succeeds.
    ...(unicornVersion()[1] === 0 ? [['--tlb-mode virtual under Unicorn 2.0', ['run', 'firmware/bin/hello', '--tlb-mode', 'virtual'], /tlb mode 'virtual' needs Unicorn 2\.1\.x/] as [string, string[], RegExp]] : []),
    ['an unknown option', ['run', 'firmware/bin/hello', '--turbo'], /turbo/],
    ['a dynamic program without --sysroot', ['run', dynamic], /dynamic: dynamically linked, and its interpreter \/lib\/ld-linux-aarch64\.so\.1 cannot be used \(ENOENT\): .*--sysroot DIR/],
    ['a dynamic program whose --sysroot lacks the interpreter', ['run', '--sysroot', dir, dynamic], /interpreter \/lib\/ld-linux-aarch64\.so\.1 cannot be used \(ENOENT\): cannot open it in the arm64 root /],
  ];
  for (const [what, args, msg] of cases) {
    it(what, () => {
      const r = cli(args);
      expect(r.status).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines[0]).toMatch(/^contpte-lab: /);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    });
  }
});

describe('how a guest run can end', () => {
  it('a guest segfault ends with 139 and names the address, the PC and the instruction', () => {
    const elf = program('segv', [MOV_X0_0, STR_X0_X0]);
    const r = cli(['run', elf]);
    expect(r.status).toBe(139);
    expect(r.stderr).toMatch(/SIGSEGV/);
    expect(r.stderr).toMatch(/0x0\b/);
    expect(r.stderr).toMatch(/0x40007c/);
    expect(r.stderr).toMatch(/str\s+x0, \[x0\]/);
  });

  it('a store to the read-only text is SEGV_ACCERR', () => {
    const ADR_X0_SELF = 0x10000000; // adr x0, .
    const STR_W1_X0 = 0xb9000001; // str w1, [x0]
    const elf = program('rotext', [ADR_X0_SELF, STR_W1_X0]);
    const r = cli(['run', elf]);
    expect(r.status).toBe(139);
    expect(r.stderr).toContain('SIGSEGV (SEGV_ACCERR: invalid permissions for mapped object) at address 0x400078: write by the instruction at pc 0x40007c (str w1, [x0])');
  });

  it('an unimplemented syscall returns -ENOSYS in x0, reported once per syscall', () => {
    const REMAP_FILE_PAGES = 0xd2801d48; // movz x8, #234
    const EXIT_GROUP = 0xd2800bc8; // movz x8, #94
    const elf = program('remap_file_pages', [REMAP_FILE_PAGES, SVC0, REMAP_FILE_PAGES, SVC0, EXIT_GROUP, SVC0]);
    const r = cli(['run', elf]);
    expect(r.status).toBe(218); // exit_group(-38) & 0xff
    expect(r.stderr.match(/unimplemented syscall remap_file_pages \(234\) at pc 0x40007c/g)).toHaveLength(1);
  });

  it('a runaway guest stops at the time budget with a clear message (exit 124)', () => {
    const elf = program('spin', [B_SELF]);
    const r = cli(['run', elf, '--timeout', '1']);
    expect(r.status).toBe(124);
    expect(r.stderr).toMatch(/budget|time/i);
  });

  it('a runaway guest stops at the instruction budget', () => {
    const elf = program('spin2', [B_SELF]);
    const r = cli(['run', elf, '--max-insns', '100000', '--json']);
    expect(r.status).toBe(124);
    expect(JSON.parse(r.stdout).end.reason).toBe('budget');
  });

  it('an unimplemented syscall returns -ENOSYS and is named once with its PC and instruction; --strict makes it an error', () => {
    const elf = program('nosys', [MOV_X8_999, SVC0, MOV_X0_7, MOV_X8_EXIT, SVC0]);
    const r = cli(['run', elf]);
    expect(r.status).toBe(7);
    expect(r.stderr).toMatch(/999/);
    expect(r.stderr).toMatch(/0x40007c/);
    const s = cli(['run', elf, '--strict']);
    expect(s.status).not.toBe(7);
    expect(s.status).not.toBe(0);
    expect(s.stderr).toMatch(/999/);
  });
});

describe('the summary', () => {
  it('--json is one JSON document with the keys docs/design.md promises, and the guest stdout goes to stderr', () => {
    const r = cli(['run', 'firmware/bin/hello', '--json', '--', 'x']);
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ exit_code: 0, profile: 'linux-6.12' });
    for (const k of ['contpte', 'contpte_fold', 'tlbi_range', 'tlbi_ttl', 'kpti', 'bbml2_noabort', 'hw_af', 'hw_dirty', 'anon_mthp', 'shmem_mthp', 'tmp_fs', 'file_large_folios', 'finish_fault', 'fault_around_kb', 'tlb_entries', 'tlb_contig', 'mem_mb']) {
      expect(s.policy).toHaveProperty(k);
    }
    expect(Object.keys(s.counts)).toEqual(expect.arrayContaining(['faults', 'pte_writes', 'folds', 'unfolds', 'contpte_convert', 'tlbi', 'dsb', 'tlb', 'bbm_violations']));
    expect(Object.keys(s.counts.tlbi)).toEqual(expect.arrayContaining(['total', 'by_op', 'by_site']));
    expect(Object.keys(s.counts.tlb)).toEqual(expect.arrayContaining(['walks', 'fills', 'evictions', 'invalidated_entries', 'contiguous_fills']));
    expect(s.counts.faults.total).toBeGreaterThan(0);
    expect(r.stderr).toContain('hello, world');
  });

  it('guest arguments pass through untouched (no number parsing)', () => {
    const r = cli(['run', 'firmware/bin/hello', '--', '0x30000', '007', '--set']);
    expect(r.stdout).toBe('hello, world\nargv[1] = 0x30000\nargv[2] = 007\nargv[3] = --set\n');
  });

  it('the same binary, arguments and policy give the same counts', () => {
    const a = JSON.parse(cli(['run', 'firmware/bin/page_fault3', '--json', '--profile', 'linux-6.9', '--', '2M', '2']).stdout);
    const b = JSON.parse(cli(['run', 'firmware/bin/page_fault3', '--json', '--profile', 'linux-6.9', '--', '2M', '2']).stdout);
    expect(a.counts).toEqual(b.counts);
    expect(a.dumps).toEqual(b.dumps);
  });
});

describe('long runs under the CLI (100 ms slices, so that SIGINT/SIGTERM are seen)', () => {
  it('a second of glibc rand() calls ends exactly as under qemu-aarch64: slices resume where they stopped', () => {
    const ref = spawnSync('qemu-aarch64', ['firmware/bin/calls', 'rand', '1000000'], { encoding: 'utf8' });
    if (ref.error) throw new Error("qemu-aarch64 is missing: install the Debian package 'qemu-user'");
    expect(ref.stdout).toBe('calls kind=rand ops=1000000 checksum=0x654042fb15d639c3\n');
    const r = cli(['run', 'firmware/bin/calls', '--', 'rand', '1000000']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(ref.stdout);
  }, 120_000);
});
