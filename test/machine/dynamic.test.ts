/**
 * Dynamically linked programs (PT_INTERP): the firmware's hello built without -static runs with
 * `--sysroot` pointing at the cross toolchain's arm64 C library (/usr/aarch64-linux-gnu, whose
 * lib/ holds ld-linux-aarch64.so.1 and libc.so.6) and prints what qemu-aarch64 -L prints; the
 * loader puts the program at ELF_ET_DYN_BASE and the interpreter just under mmap_base, and the
 * auxv says so; the libraries' pages are page-cache pages every process shares; a missing or
 * broken interpreter fails as execve fails on Linux.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseElf } from '../../src/linux/elf.js';
import { elfEtDynBase, maximumAlignment } from '../../src/linux/exec.js';
import { DEFAULT_TASK_SIZE, mmapBase } from '../../src/mm/vma.js';
import { busyboxArm64, debianSysroot } from '../../src/validate/setup.js';
import { FIRMWARE_DIR, firmwareBinary } from '../firmware/cases.js';
import { runCaptured } from './helpers.js';

/** The cross toolchain's arm64 C library: the simplest sysroot a dynamic program can use. */
const CROSS_ROOT = '/usr/aarch64-linux-gnu';
const LD_SO = '/lib/ld-linux-aarch64.so.1';

function crossRoot(): string {
  if (!existsSync(join(CROSS_ROOT, 'lib', 'ld-linux-aarch64.so.1')) || !existsSync(join(CROSS_ROOT, 'lib', 'libc.so.6'))) {
    throw new Error(`${CROSS_ROOT}/lib has no ld-linux-aarch64.so.1 or libc.so.6: apt-get install libc6-arm64-cross (gcc-aarch64-linux-gnu brings it)`);
  }
  return CROSS_ROOT;
}

const work = mkdtempSync(join(tmpdir(), 'cl-dynamic-'));

/** Builds C sources with aarch64-linux-gnu-gcc, dynamically linked (a PIE, Debian's default). */
function buildDynamic(name: string, sources: readonly string[]): string {
  const out = join(work, name);
  const r = spawnSync('aarch64-linux-gnu-gcc', ['-O2', '-Wall', `-I${join(FIRMWARE_DIR, 'include')}`, `-I${join(FIRMWARE_DIR, 'src')}`, '-o', out, ...sources], { encoding: 'utf8' });
  if (r.error !== undefined) throw new Error('aarch64-linux-gnu-gcc is not installed: apt-get install gcc-aarch64-linux-gnu');
  if (r.status !== 0) throw new Error(`aarch64-linux-gnu-gcc failed: ${r.stderr}`);
  return out;
}

function qemu(root: string, elf: string, args: readonly string[]): { stdout: string; status: number | null } {
  const r = spawnSync('qemu-aarch64', ['-L', root, elf, ...args], { encoding: 'utf8', env: {} });
  if (r.error !== undefined) throw new Error('qemu-aarch64 is not installed: apt-get install qemu-user');
  return { stdout: r.stdout, status: r.status };
}

const helloDyn = (): string => buildDynamic('hello', [join(FIRMWARE_DIR, 'src', 'hello.c'), join(FIRMWARE_DIR, 'src', 'common.c')]);

const AUXV_SOURCE = `
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
int main(void)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	printf("%#lx %#lx %#lx %lu %lu %lu %lu %lu %#lx\\n", getauxval(AT_BASE), getauxval(AT_ENTRY), getauxval(AT_PHDR),
	       getauxval(AT_PHENT), getauxval(AT_PHNUM), getauxval(AT_PAGESZ), getauxval(AT_SECURE),
	       getauxval(AT_SYSINFO_EHDR), (unsigned long)main);
	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (strstr(line, "ld-linux") != NULL)
			fputs(line, stdout);
	return 0;
}
`;

describe('dynamically linked programs with --sysroot', () => {
  it("the firmware's hello, linked against the cross toolchain's libc, prints what qemu-aarch64 -L prints", async () => {
    const root = crossRoot();
    const elf = helloDyn();
    expect(parseElf(new Uint8Array(readFileSync(elf)), 'hello').interp).toBe(LD_SO);
    const ref = qemu(root, elf, ['one', 'two']);
    expect(ref.stdout).toBe('hello, world\nargv[1] = one\nargv[2] = two\n');
    const r = await runCaptured({ elf, args: ['one', 'two'], sysroot: root, strict: true });
    expect(r.stdout).toBe(ref.stdout);
    expect(r.end.exitCode, r.end.message).toBe(ref.status);
    expect(r.summary.checker.total).toBe(0);
    expect(r.summary.counts.syscalls.unimplemented).toEqual({});
    // ld.so opened and mapped libc.so.6 from the sysroot: file faults, not only anonymous ones.
    expect(r.summary.counts.syscalls.by_name['openat']).toBeGreaterThan(0);
    expect(r.summary.counts.syscalls.by_name['mprotect']).toBeGreaterThan(0);
  }, 120_000);

  it('the program at ELF_ET_DYN_BASE, ld.so just under mmap_base, and the auxv that says so', async () => {
    const root = crossRoot();
    const src = join(work, 'auxv.c');
    writeFileSync(src, AUXV_SOURCE);
    const elf = buildDynamic('auxv', [src]);
    const prog = parseElf(new Uint8Array(readFileSync(elf)), 'auxv');
    const ldso = parseElf(new Uint8Array(readFileSync(join(root, LD_SO))), 'ld.so');
    expect(prog.kind).toBe('pie');
    expect(ldso.kind).toBe('static-pie');
    const page = (n: number): number => Math.ceil(n / 4096) * 4096;
    // 2/3 of TASK_SIZE (0xaaaaaaaaaa), aligned down to the program's largest p_align.
    const align = maximumAlignment(prog.loads);
    const bias = Math.floor(elfEtDynBase(DEFAULT_TASK_SIZE) / align) * align;
    // The interpreter is the first top-down mmap: its whole span right below mmap_base.
    const last = ldso.loads[ldso.loads.length - 1]!;
    const base = mmapBase(DEFAULT_TASK_SIZE) - page(last.vaddr + last.memsz);
    const hex = (n: number): string => '0x' + n.toString(16);
    const mainSym = spawnSync('aarch64-linux-gnu-nm', [elf], { encoding: 'utf8' }).stdout.split('\n').find((l) => / T main$/.test(l));
    expect(mainSym).toBeDefined();
    const mainAddr = parseInt(mainSym!.split(' ')[0]!, 16);
    const r = await runCaptured({ elf, sysroot: root, strict: true });
    expect(r.end.exitCode, r.end.message).toBe(0);
    const [aux, ...maps] = r.stdout.trimEnd().split('\n');
    expect(aux).toBe([hex(base), hex(bias + prog.entry), hex(bias + prog.phoff), 56, prog.phnum, 4096, 0, 0, hex(bias + mainAddr)].join(' '));
    expect(bias).toBe(0xaaaaaa0000);
    // ld.so's segments, from its own file (its inode in the sysroot), RELRO made read-only by it.
    expect(maps[0]).toMatch(new RegExp(`^${base.toString(16)}-[0-9a-f]+ r-xp 00000000 08:01 \\d+ +${LD_SO}$`));
    expect(maps.length).toBe(3);
    expect(r.summary.checker.total).toBe(0);
  }, 120_000);

  it('two runs give the same summary, bit for bit', async () => {
    const root = crossRoot();
    const elf = helloDyn();
    const a = await runCaptured({ elf, sysroot: root });
    const b = await runCaptured({ elf, sysroot: root });
    expect(a.end.exitCode).toBe(0);
    expect(JSON.stringify(b.summary)).toBe(JSON.stringify(a.summary));
  }, 120_000);
});

describe('libraries are page-cache pages, shared by every process that maps them', () => {
  it('executing a dynamic program three times reads ld.so, libc.so.6 and the program from disk once', async () => {
    const root = debianSysroot();
    const runs = async (n: number) => {
      const r = await runCaptured({ elf: busyboxArm64(), args: ['sh', '-c', Array(n).fill('/usr/bin/true').join('; ')], sysroot: root, strict: true });
      expect(r.end.exitCode, r.end.message).toBe(0);
      expect(r.summary.checker.total).toBe(0);
      return r.summary.counts.faults;
    };
    const once = await runs(1);
    const thrice = await runs(3);
    // Later processes fault the same file pages in from the page cache: minor faults only.
    expect(thrice.major).toBe(once.major);
    expect(once.major).toBeGreaterThan(0);
    expect(thrice.total).toBeGreaterThan(once.total);
  }, 180_000);
});

describe('a missing or broken interpreter', () => {
  it('run: a one-line error naming the interpreter', async () => {
    const elf = helloDyn();
    await expect(runCaptured({ elf })).rejects.toThrow(
      `${elf}: dynamically linked, and its interpreter ${LD_SO} cannot be used (ENOENT): the guest has no such file without --sysroot DIR (an arm64 root file system holding it, see the README)`,
    );
    const empty = mkdtempSync(join(tmpdir(), 'cl-empty-root-'));
    await expect(runCaptured({ elf, sysroot: empty })).rejects.toThrow(`${elf}: dynamically linked, and its interpreter ${LD_SO} cannot be used (ENOENT): cannot open it in the arm64 root ${empty}`);
  }, 60_000);

  it('execve: ENOENT without it, EIO for a file shorter than an ELF header, ELIBBAD for one that is not ELF; a static or dynamic ELF is run as it is', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cl-interp-root-'));
    mkdirSync(join(root, 'bin'));
    mkdirSync(join(root, 'lib'));
    copyFileSync(helloDyn(), join(root, 'bin', 'hello'));
    const interp = join(root, 'lib', 'ld-linux-aarch64.so.1');
    const shell = async (): Promise<string> => {
      const r = await runCaptured({ elf: busyboxArm64(), args: ['sh', '-c', '/bin/hello; echo "rc $?"'], sysroot: root });
      expect(r.end.exitCode, r.end.message).toBe(0);
      return r.stderr + r.stdout;
    };
    expect(await shell()).toBe('sh: line 0: /bin/hello: not found\nrc 127\n');
    writeFileSync(interp, 'short\n');
    chmodSync(interp, 0o755);
    expect(await shell()).toBe('sh: line 0: /bin/hello: Input/output error\nrc 126\n');
    writeFileSync(interp, 'not an ELF file, but long enough to hold an ELF header: 64 bytes and more\n');
    expect(await shell()).toBe('sh: line 0: /bin/hello: Accessing a corrupted shared library\nrc 126\n');
    // Linux checks no more than the magic, the machine and the program headers: a static
    // program given as the interpreter simply runs.
    copyFileSync(firmwareBinary('hello'), interp);
    expect(await shell()).toBe('hello, world\nrc 0\n');
    // A dynamic one is loaded too (its own PT_INTERP ignored) and, unrelocated, crashes.
    copyFileSync(helloDyn(), interp);
    expect(await shell()).toBe('Segmentation fault\nrc 139\n');
  }, 120_000);
});
