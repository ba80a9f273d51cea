/**
 * The firmware against the reference: every case of cases.ts runs under qemu-aarch64 (Debian
 * qemu-user) with exact stdout and exit code; the marker calls are counted and placed with
 * `qemu-aarch64 -strace`; the committed binaries are static arm64 ELF files with symbols, and a
 * rebuild with the cross compiler (Debian gcc-aarch64-linux-gnu) reproduces them byte for byte.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  FIRMWARE_CASES,
  FIRMWARE_DEFAULT_CASES,
  FIRMWARE_DIR,
  FIRMWARE_PROGRAMS,
  FIRMWARE_USAGE_CASES,
  LAB_SYSCALL_NR,
  MULTITASK_PROGRAMS,
  firmwareBinary,
  type FirmwareCase,
} from './cases.js';

const toolChecked = new Map<string, boolean>();

/** Each test that needs a system tool fails (never skips) with the Debian package to install. */
function requireTool(command: string, pkg: string): void {
  if (!toolChecked.has(command)) {
    const r = spawnSync(command, ['--version'], { encoding: 'utf8' });
    toolChecked.set(command, !r.error && r.status === 0);
  }
  if (!toolChecked.get(command)) {
    throw new Error(`${command} is not installed or does not run: install the Debian package '${pkg}' (apt-get install ${pkg})`);
  }
}

function runQemu(c: FirmwareCase, extra: readonly string[] = []) {
  requireTool('qemu-aarch64', 'qemu-user');
  const r = spawnSync('qemu-aarch64', [...extra, firmwareBinary(c.program), ...c.args], {
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return r;
}

function expectRun(c: FirmwareCase): void {
  const r = runQemu(c);
  expect({ stdout: r.stdout, status: r.status, signal: r.signal }, r.stderr).toEqual({
    stdout: c.stdout,
    status: c.exitCode,
    signal: null,
  });
  if (c.stderrIncludes !== undefined) expect(r.stderr).toContain(c.stderrIncludes);
  else expect(r.stderr).toBe('');
}

/** Syscall names in the order qemu -strace reports them; a marker call is 'LAB'. */
function straceNames(stderr: string): string[] {
  const names: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^\d+ (?:Unknown syscall (\d+)|([a-z_0-9]+)\()/.exec(line);
    if (!m) continue;
    names.push(m[1] !== undefined ? (Number(m[1]) === LAB_SYSCALL_NR ? 'LAB' : `nr${m[1]}`) : m[2]!);
  }
  return names;
}

/** After these marks the program's next real syscall is the one named. */
const NEXT_SYSCALL_AFTER_MARK: Readonly<Record<string, string>> = { mmap: 'mmap', munmap: 'munmap' };

describe('firmware under qemu-aarch64', () => {
  for (const c of FIRMWARE_CASES) it(`${c.title} prints exactly what cases.ts says`, () => expectRun(c));
  for (const c of FIRMWARE_USAGE_CASES) it(`${c.title} is a usage error (exit 2)`, () => expectRun(c));
  for (const c of FIRMWARE_DEFAULT_CASES) it(`${c.program} with its default arguments`, () => expectRun(c));

  it('every program has small cases and every failing case says why', () => {
    expect(new Set(FIRMWARE_CASES.map((c) => c.program))).toEqual(new Set(FIRMWARE_PROGRAMS));
    expect(new Set(FIRMWARE_CASES.map((c) => c.title)).size).toBe(FIRMWARE_CASES.length);
    for (const c of FIRMWARE_USAGE_CASES) expect(c.stderrIncludes, c.title).toBeTruthy();
  });
});

describe('marker calls under qemu-aarch64 -strace', () => {
  for (const c of FIRMWARE_CASES) {
    it(`${c.title}: ${c.markers.length} marker calls, each failing harmlessly, in place`, () => {
      const r = runQemu(c, ['-strace']);
      expect(r.status).toBe(0);
      const names = straceNames(r.stderr);
      const labs = names.filter((n) => n === 'LAB');
      expect(labs.length).toBe(c.markers.length);

      // Walk the trace and the declared markers together: each mark is where cases.ts says.
      let k = 0;
      for (let i = 0; i < names.length; i++) {
        if (names[i] !== 'LAB') continue;
        const m = c.markers[k++]!;
        if (m.op !== 'mark' || !(m.name in NEXT_SYSCALL_AFTER_MARK)) continue;
        const next = names.slice(i + 1).find((n) => n !== 'LAB');
        expect(next, `syscall after mark '${m.name}' (marker ${k})`).toBe(NEXT_SYSCALL_AFTER_MARK[m.name]);
      }
      // The last syscalls are always the result line and the exit.
      expect(names.slice(-2)).toEqual(['write', 'exit_group']);
    });
  }

  it('page_fault3 makes will-it-scale\'s setup and loop syscalls between its markers', () => {
    const c = FIRMWARE_CASES.find((x) => x.title === 'page_fault3 2M 2')!;
    const names = straceNames(runQemu(c, ['-strace']).stderr);
    const afterSetup = names.slice(names.indexOf('ftruncate') + 1);
    // reserve and release the aligned window, then: reset, 2 × (mark mmap, mmap, mark touch, mark munmap, munmap), ops, dump, done
    expect(afterSetup).toEqual([
      'mmap', 'munmap',
      'LAB',
      'LAB', 'mmap', 'LAB', 'LAB', 'munmap',
      'LAB', 'mmap', 'LAB', 'LAB', 'munmap',
      'LAB', 'LAB', 'LAB',
      'write', 'exit_group',
    ]);
    // mark setup, then mkstemp (its clock_gettime/getrandom calls vary), unlink, ftruncate.
    const setup = names.slice(names.indexOf('LAB'), names.indexOf('ftruncate') + 1);
    expect(setup.filter((n) => n !== 'clock_gettime' && n !== 'getrandom')).toEqual(['LAB', 'openat', 'unlinkat', 'ftruncate']);
  });
});

/** Reads the ELF header fields the engine relies on; returns a description of what is wrong, or ''. */
function elfProblem(file: string): string {
  const b = readFileSync(file);
  if (b.readUInt32BE(0) !== 0x7f454c46) return 'not an ELF file';
  if (b[4] !== 2 || b[5] !== 1) return 'not ELF64 little-endian';
  if (b.readUInt16LE(16) !== 2) return `e_type ${b.readUInt16LE(16)}, expected ET_EXEC (static, not PIE)`;
  if (b.readUInt16LE(18) !== 183) return `e_machine ${b.readUInt16LE(18)}, expected EM_AARCH64 (183)`;
  const phoff = Number(b.readBigUInt64LE(32));
  const phentsize = b.readUInt16LE(54);
  for (let i = 0; i < b.readUInt16LE(56); i++) {
    const type = b.readUInt32LE(phoff + i * phentsize);
    if (type === 3) return 'has PT_INTERP (dynamically linked)';
    if (type === 2) return 'has PT_DYNAMIC';
  }
  const shoff = Number(b.readBigUInt64LE(40));
  const shentsize = b.readUInt16LE(58);
  let symtab = false;
  for (let i = 0; i < b.readUInt16LE(60); i++) if (b.readUInt32LE(shoff + i * shentsize + 4) === 2) symtab = true;
  return symtab ? '' : 'stripped (no .symtab): the tool names guest code from symbols';
}

describe('committed binaries', () => {
  it('firmware/bin holds exactly the programs of cases.ts and the Makefile', () => {
    expect(readdirSync(path.join(FIRMWARE_DIR, 'bin')).sort()).toEqual([...FIRMWARE_PROGRAMS, ...MULTITASK_PROGRAMS].sort());
    const makefile = readFileSync(path.join(FIRMWARE_DIR, 'Makefile'), 'utf8');
    const m = /^PROGRAMS := ((?:.*\\\n)*.*)$/m.exec(makefile);
    expect(m, 'PROGRAMS line in firmware/Makefile').not.toBeNull();
    expect(m![1]!.replace(/\\\n/g, ' ').trim().split(/\s+/)).toEqual([...FIRMWARE_PROGRAMS]);
    expect(/^MULTITASK := (.*)$/m.exec(makefile)?.[1]?.trim().split(/\s+/), 'MULTITASK line in firmware/Makefile').toEqual([...MULTITASK_PROGRAMS]);
  });

  it('each is a static arm64 executable that keeps its symbols', () => {
    for (const p of [...FIRMWARE_PROGRAMS, ...MULTITASK_PROGRAMS]) expect(elfProblem(path.join(FIRMWARE_DIR, 'bin', p)), p).toBe('');
  });

  it('each is documented in firmware/README.md', () => {
    const readme = readFileSync(path.join(FIRMWARE_DIR, 'README.md'), 'utf8');
    for (const p of [...FIRMWARE_PROGRAMS, ...MULTITASK_PROGRAMS]) expect(readme, p).toContain(`### \`${p}\``);
  });
});

describe('rebuild with aarch64-linux-gnu-gcc', () => {
  const requireToolchain = () => {
    requireTool('make', 'make');
    requireTool('aarch64-linux-gnu-gcc', 'gcc-aarch64-linux-gnu');
  };
  let out = '';
  beforeAll(() => {
    out = mkdtempSync(path.join(tmpdir(), 'contpte-lab-firmware-'));
  });
  afterAll(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('make -C firmware reproduces firmware/bin byte for byte', () => {
    requireToolchain();
    const r = spawnSync('make', ['-C', FIRMWARE_DIR, `BIN=${out}`, '-j2'], { encoding: 'utf8', timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr, 'compiler warnings (the build uses -Wall -Wextra)').not.toMatch(/warning:/);
    for (const p of [...FIRMWARE_PROGRAMS, ...MULTITASK_PROGRAMS]) {
      const same = readFileSync(path.join(out, p)).equals(readFileSync(path.join(FIRMWARE_DIR, 'bin', p)));
      expect(same, `firmware/bin/${p} differs from a rebuild of its sources: run 'make -C firmware' and commit firmware/bin`).toBe(true);
    }
  });

  it('make -C firmware -n plans one -static -O2 -Wall -Wextra build per program', () => {
    requireTool('make', 'make');
    const empty = mkdtempSync(path.join(tmpdir(), 'contpte-lab-firmware-n-'));
    try {
      const r = spawnSync('make', ['-C', FIRMWARE_DIR, '-n', `BIN=${empty}`], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const builds = r.stdout.split('\n').filter((l) => l.startsWith('aarch64-linux-gnu-gcc '));
      expect(builds.map((l) => /-o (\S+)/.exec(l)?.[1])).toEqual([...FIRMWARE_PROGRAMS, ...MULTITASK_PROGRAMS].map((p) => path.join(empty, p)));
      for (const l of builds) expect(l).toMatch(/^aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra /);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('after the rebuild, make has nothing left to do', () => {
    requireToolchain();
    const r = spawnSync('make', ['-C', FIRMWARE_DIR, '-q', `BIN=${out}`], { encoding: 'utf8' });
    expect(r.status, 'make -q exits 0 only when every target is up to date').toBe(0);
  });
});
