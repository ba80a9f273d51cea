/**
 * The parts of `validate` that need no emulator: the initramfs archive (checked by listing and
 * extracting it with busybox cpio, Debian busybox-static), the TLBI names of the plugin's
 * encodings, the --cases file syntax, and the two C helpers compiling cleanly with the host gcc
 * and the cross compiler.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseCasesFile } from '../../src/cli/commands/validate.js';
import { cpioNewcGz } from '../../src/validate/cpio.js';
import { helperSourceDir } from '../../src/validate/setup.js';
import { tlbiName } from '../../src/validate/tlbi.js';

function requireTool(cmd: string, pkg: string): void {
  const r = spawnSync(cmd, ['--help'], { encoding: 'utf8' });
  if (r.error) throw new Error(`this test needs ${cmd}: apt-get install ${pkg}`);
}

describe('the initramfs archive (newc cpio, gzip)', () => {
  it('lists and extracts with busybox cpio: directories, a file with its bytes and mode, a symlink', () => {
    requireTool('busybox', 'busybox-static');
    const data = Buffer.from('#!/bin/sh\necho hi\n');
    const gz = cpioNewcGz([
      { kind: 'dir', path: 'bin' },
      { kind: 'file', path: 'init', data, mode: 0o755 },
      { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
      { kind: 'file', path: 'bin/odd', data: Buffer.from('abc') },
    ]);
    const raw = gunzipSync(gz);
    expect(raw.subarray(0, 6).toString('ascii')).toBe('070701');
    expect(raw.length % 4).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'cpio-test-'));
    try {
      writeFileSync(join(dir, 'a.cpio'), raw);
      const list = spawnSync('busybox', ['cpio', '-t', '-F', join(dir, 'a.cpio')], { encoding: 'utf8' });
      expect(list.stdout.trim().split('\n')).toEqual(['bin', 'init', 'bin/sh', 'bin/odd']);
      const x = spawnSync('busybox', ['cpio', '-i', '-d', '-F', join(dir, 'a.cpio')], { cwd: dir, encoding: 'utf8' });
      expect(x.status).toBe(0);
      expect(readFileSync(join(dir, 'init'))).toEqual(data);
      expect(readFileSync(join(dir, 'bin/odd'), 'utf8')).toBe('abc');
      const ls = spawnSync('busybox', ['ls', '-l', join(dir, 'init'), join(dir, 'bin/sh')], { encoding: 'utf8' }).stdout;
      expect(ls).toMatch(/^-rwxr-xr-x .*\/init$/m);
      expect(ls).toMatch(/sh -> busybox/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('TLBI names from SYS encodings (op1, CRm, op2)', () => {
  it('the EL1 operations the model issues, their outer-shareable forms, and others by field', () => {
    expect(tlbiName(0, 3, 5)).toBe('VALE1IS');
    expect(tlbiName(0, 3, 1)).toBe('VAE1IS');
    expect(tlbiName(0, 3, 2)).toBe('ASIDE1IS');
    expect(tlbiName(0, 3, 0)).toBe('VMALLE1IS');
    expect(tlbiName(0, 2, 5)).toBe('RVALE1IS');
    expect(tlbiName(0, 2, 1)).toBe('RVAE1IS');
    expect(tlbiName(0, 7, 5)).toBe('VALE1');
    expect(tlbiName(0, 6, 5)).toBe('RVALE1');
    expect(tlbiName(0, 1, 5)).toBe('VALE1OS');
    expect(tlbiName(0, 5, 1)).toBe('RVAE1OS');
    expect(tlbiName(4, 3, 0)).toBe('TLBI(op1=4,CRm=3,op2=0)');
    expect(tlbiName(0, 2, 0)).toBe('TLBI(op1=0,CRm=2,op2=0)');
  });
});

describe('--cases files', () => {
  it('one case per line with its own --set knobs on top of the command line ones, paths relative to the file, comments ignored', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cases-test-'));
    try {
      const f = join(dir, 'c.txt');
      writeFileSync(f, '# a comment\n\nbin/a 16M 2   # trailing\n--set anon_mthp=64K --set tmp_fs=tmpfs /abs/b\n');
      expect(parseCasesFile(f, ['contpte=on'])).toEqual([
        { name: 'a 16M 2', elf: resolve(dir, 'bin/a'), args: ['16M', '2'], sets: ['contpte=on'] },
        { name: 'b [anon_mthp=64K] [tmp_fs=tmpfs]', elf: '/abs/b', args: [], sets: ['contpte=on', 'anon_mthp=64K', 'tmp_fs=tmpfs'] },
      ]);
      writeFileSync(f, '--set\n');
      expect(() => parseCasesFile(f, [])).toThrow(/c.txt:1: --set needs knob=value/);
      expect(() => parseCasesFile(join(dir, 'none.txt'), [])).toThrow(/cannot read it/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the suite file names only existing programs', () => {
    for (const c of parseCasesFile(join(helperSourceDir(), 'cases.txt'), [])) expect(readFileSync(c.elf).subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  });
});

describe('the C helpers', () => {
  it('tlbi-count.c builds as a shared object with the host gcc, warning-free, exporting the plugin entry points', () => {
    requireTool('gcc', 'gcc');
    const dir = mkdtempSync(join(tmpdir(), 'plugin-test-'));
    try {
      const so = join(dir, 'p.so');
      const r = spawnSync('gcc', ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-Werror', '-o', so, join(helperSourceDir(), 'tlbi-count.c')], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const nm = spawnSync('nm', ['-D', '--defined-only', so], { encoding: 'utf8' }).stdout;
      expect(nm).toMatch(/ qemu_plugin_install$/m);
      expect(nm).toMatch(/ qemu_plugin_version$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('labtrace.c builds as a static arm64 program with aarch64-linux-gnu-gcc, warning-free', () => {
    requireTool('aarch64-linux-gnu-gcc', 'gcc-aarch64-linux-gnu');
    const dir = mkdtempSync(join(tmpdir(), 'labtrace-test-'));
    try {
      const r = spawnSync('aarch64-linux-gnu-gcc', ['-static', '-O2', '-Wall', '-Wextra', '-Werror', '-o', join(dir, 'lt'), join(helperSourceDir(), 'labtrace.c')], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('what validate needs', () => {
  it('names every missing tool with its Debian package', async () => {
    const { checkTools } = await import('../../src/validate/setup.js');
    const path = process.env['PATH'];
    process.env['PATH'] = '/nonexistent';
    try {
      expect(() => checkTools()).toThrow(
        /qemu-system-aarch64 \(Debian package qemu-system-arm .*\); gcc \(Debian package gcc\); aarch64-linux-gnu-gcc \(Debian package gcc-aarch64-linux-gnu\); mkfs.ext4 \(Debian package e2fsprogs\); xz \(Debian package xz-utils\)/,
      );
    } finally {
      process.env['PATH'] = path;
    }
  });

  it('--kernel PATH: a folder with an unpacked kernel, or a one-line error naming what it lacks', async () => {
    const { resolveKernel } = await import('../../src/validate/setup.js');
    const dir = mkdtempSync(join(tmpdir(), 'kernel-dir-'));
    try {
      expect(() => resolveKernel(join(dir, 'none'))).toThrow(/^--kernel .*none: expected 6\.12, 7\.2 or a folder with an unpacked arm64 kernel/);
      expect(() => resolveKernel(dir)).toThrow(/^--kernel .*: no vmlinuz or Image under /);
      writeFileSync(join(dir, 'vmlinuz-6.99.0-test'), 'x');
      expect(() => resolveKernel(dir)).toThrow(/no virtio_blk\.ko\(\.xz\) under .*unpack the modules package there too/);
      const mod = join(dir, 'lib', 'modules', '6.99.0-test', 'kernel', 'drivers', 'block');
      mkdirSync(mod, { recursive: true });
      writeFileSync(join(mod, 'virtio_blk.ko.xz'), 'x');
      expect(resolveKernel(dir)).toEqual({ name: dir, release: '6.99.0-test', image: join(dir, 'vmlinuz-6.99.0-test'), virtioBlk: join(mod, 'virtio_blk.ko.xz') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('marks the knobs of a case that the real kernel cannot follow', async () => {
    const { modelOnlySets } = await import('../../src/validate/index.js');
    expect(modelOnlySets(['anon_mthp=64K', 'contpte=off', 'tmp_fs=tmpfs', 'tlbi_range=off', 'ra_kb=256', 'blk_ra_rule=v6.12'])).toEqual(['contpte=off', 'tlbi_range=off']);
  });
});

describe('how the real side starts a program', () => {
  it('under env -i with the given environment, as uid 1000 unless told, with argv[0] the ELF name unless told', async () => {
    const { caseCommand } = await import('../../src/validate/real.js');
    const c = { name: 'pf3', elf: '/x/firmware/bin/page_fault3', args: ['16M', "it's"], sets: [] };
    expect(caseCommand(0, c, undefined)).toBe("env -i /lab/labtrace -u 1000 /run/r0 /run/bin0 page_fault3 16M 'it'\\''s'");
    expect(caseCommand(3, c, { env: ['A=b c'], uid: 0, argv0: 'pf' })).toBe("env -i 'A=b c' /lab/labtrace -u 0 /run/r3 /run/bin3 pf 16M 'it'\\''s'");
  });
});
