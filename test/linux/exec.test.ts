/**
 * load_elf_binary over the fake memory manager: the exact sequence of mappings and first
 * touches, the bytes that end up in memory, the initial registers and the auxv. These should
 * move to the real ProcessMemory once src/mm has one (the mapping calls will then also show
 * their page-table work).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseElf, readElfFile } from '../../src/linux/elf.js';
import { loadElfBinary } from '../../src/linux/exec.js';
import { DEFAULT_HWCAPS } from '../../src/linux/hwcap.js';
import { AT_ENTRY, AT_EXECFN, AT_HWCAP, AT_HWCAP2, AT_PHDR, AT_PHNUM, AT_PLATFORM, AT_RANDOM } from '../../src/linux/stack.js';
import { GuestRandom } from '../../src/linux/random.js';
import { mmapBase } from '../../src/mm/vma.js';
import { UsageError } from '../../src/util/errors.js';
import { firmwareBinary } from '../firmware/cases.js';
import { buildElf, contentByte, PT_GNU_STACK, PT_LOAD, smallExec, type ElfSpec } from './elfbuild.js';
import { makeRig } from './harness.js';

const TOP = 2 ** 40;
/** The stack VMA at exec: the strings' page and setup_arg_pages' 128 KiB below it, growing down. */
const STACK_LEN = 0x1000 + 128 * 1024;
const STACK = TOP - STACK_LEN;
const MAP_GROWSDOWN = 0x100;
const MAP_PRIVATE = 0x02;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;
const MAP_FIXED_NOREPLACE = 0x100000;

function auxvOf(rig: ReturnType<typeof makeRig>, sp: number): Map<number, bigint> {
  const argc = Number(rig.u64(sp));
  // Past argc, argv and its NULL, then past envp and its NULL.
  let at = sp + 8 * (argc + 2);
  while (rig.u64(at) !== 0n) at += 8;
  at += 8;
  const out = new Map<number, bigint>();
  for (;;) {
    const type = Number(rig.u64(at));
    out.set(type, rig.u64(at + 8));
    if (type === 0) return out;
    at += 16;
  }
}

function cstr(rig: ReturnType<typeof makeRig>, va: number): string {
  const bytes: number[] = [];
  for (let b = rig.read(va, 1)[0]!; b !== 0; b = rig.read(va + bytes.length, 1)[0]!) bytes.push(b);
  return new TextDecoder().decode(new Uint8Array(bytes));
}

describe('loading an ET_EXEC', () => {
  it('maps stack, strings, segments, padzero and bss in Linux order', () => {
    const rig = makeRig();
    const image = parseElf(buildElf(smallExec()), 'small');
    rig.mm.log.length = 0;
    const r = loadElfBinary(rig.p, image, { argv: ['small', 'x'], envp: ['A=b'] });
    const exeIno = r.exe.inode.ino;
    expect(rig.mm.log).toEqual([
      { op: 'mmap', addr: STACK, len: STACK_LEN, prot: 3, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN, file: null, pgoff: 0, ret: STACK },
      { op: 'touch', page: TOP - 4096, access: 'write' },
      { op: 'mmap', addr: 0x400000, len: 0x2000, prot: 5, flags: MAP_PRIVATE | MAP_FIXED_NOREPLACE, file: exeIno, pgoff: 0, ret: 0x400000 },
      { op: 'mmap', addr: 0x411000, len: 0x2000, prot: 3, flags: MAP_PRIVATE | MAP_FIXED, file: exeIno, pgoff: 1, ret: 0x411000 },
      // padzero: the rest of the page after p_filesz, written like a user copy.
      { op: 'touch', page: 0x412000, access: 'write' },
      // vm_brk_flags for the bss pages past the file's.
      { op: 'mmap', addr: 0x413000, len: 0x2000, prot: 3, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, file: null, pgoff: 0, ret: 0x413000 },
      { op: 'setBrkBase', addr: 0x415000 },
    ]);
    expect(r.entry).toBe(0x400100);
    expect(r.loadBias).toBe(0);
    expect(r.brk).toBe(0x415000);
    expect(r.phdr).toBe(0x400040);
    expect(r.stack).toEqual({ start: STACK, end: TOP });
    expect(r.segments).toEqual([
      { index: 0, start: 0x400000, end: 0x402000, prot: 5 },
      { index: 1, start: 0x411000, end: 0x415000, prot: 3 },
    ]);
    expect(r.sp % 16).toBe(0);
  });

  it('puts the file bytes, zeroed tail and bss where the program expects them', () => {
    const rig = makeRig();
    loadElfBinary(rig.p, parseElf(buildElf(smallExec()), 'small'), { argv: ['small'] });
    const file = (off: number, n: number): number[] => Array.from({ length: n }, (_, i) => contentByte(off + i));
    expect([...rig.read(0x400100, 8)]).toEqual(file(0x100, 8));
    expect([...rig.read(0x411f00, 16)]).toEqual(file(0x1f00, 16));
    expect([...rig.read(0x4120f8, 8)]).toEqual(file(0x20f8, 8));
    // The file has bytes past p_filesz (0x2100..0x2200): padzero must have cleared them.
    expect(contentByte(0x2100)).not.toBe(0);
    expect([...rig.read(0x412100, 0xf00)].every((b) => b === 0)).toBe(true);
    expect([...rig.read(0x413000, 0x1800)].every((b) => b === 0)).toBe(true);
  });

  it('writes argc, argv, envp and an auxv the C library can read', () => {
    const rig = makeRig();
    const r = loadElfBinary(rig.p, parseElf(buildElf(smallExec()), 'small'), {
      argv: ['./small', 'one', 'two words'],
      envp: ['HOME=/tmp', 'LANG=C'],
      exePath: '/opt/lab/small',
      execfn: './small',
    });
    expect(rig.u64(r.sp)).toBe(3n);
    const argv = [1, 2, 3].map((i) => cstr(rig, Number(rig.u64(r.sp + 8 * i))));
    expect(argv).toEqual(['./small', 'one', 'two words']);
    expect(rig.u64(r.sp + 32)).toBe(0n);
    expect([5, 6].map((i) => cstr(rig, Number(rig.u64(r.sp + 8 * i))))).toEqual(['HOME=/tmp', 'LANG=C']);
    const aux = auxvOf(rig, r.sp);
    expect(aux.get(AT_ENTRY)).toBe(0x400100n);
    expect(aux.get(AT_PHDR)).toBe(0x400040n);
    expect(aux.get(AT_PHNUM)).toBe(3n);
    expect(aux.get(AT_HWCAP)).toBe(BigInt(DEFAULT_HWCAPS.hwcap));
    expect(aux.get(AT_HWCAP2)).toBe(BigInt(DEFAULT_HWCAPS.hwcap2));
    expect(cstr(rig, Number(aux.get(AT_EXECFN)))).toBe('./small');
    expect(cstr(rig, Number(aux.get(AT_PLATFORM)))).toBe('aarch64');
    // AT_RANDOM: the generator's first 16 bytes for the default seed.
    expect([...rig.read(Number(aux.get(AT_RANDOM)), 16)]).toEqual([...new GuestRandom().bytes(16)]);
    // /proc/self/exe names the executable where exec put it.
    const n = rig.call('readlinkat', -100, rig.str('/proc/self/exe'), rig.scratch + 1024, 4096);
    expect(new TextDecoder().decode(rig.read(rig.scratch + 1024, n))).toBe('/opt/lab/small');
  });

  it('gives an executable stack when PT_GNU_STACK asks for one, and none without', () => {
    const exec = smallExec();
    exec.phdrs[2] = { type: PT_GNU_STACK, flags: 7, offset: 0, vaddr: 0, filesz: 0, memsz: 0, align: 16 };
    const rig = makeRig();
    rig.mm.log.length = 0;
    loadElfBinary(rig.p, parseElf(buildElf(exec), 'small'), { argv: ['small'] });
    expect(rig.mm.log[0]).toMatchObject({ op: 'mmap', addr: STACK, prot: 7 });
  });

  it('refuses segments beyond the model address space', () => {
    const far = smallExec();
    far.phdrs[1]!.vaddr = 2 ** 40 + 0x1f00;
    const rig = makeRig();
    expect(() => loadElfBinary(rig.p, parseElf(buildElf(far), 'far'), { argv: ['far'] })).toThrow(
      new UsageError("far: segment 1 (PT_LOAD) [0x10000001f00, 0x10000004800) lies beyond the 1 TiB user address space (TASK_SIZE 2^40) of contpte-lab's model, a limit of ours: arm64 Linux allows up to 2^48 or 2^52"),
    );
  });

  it('an empty argv becomes one empty string (Linux 5.18+)', () => {
    const rig = makeRig();
    const r = loadElfBinary(rig.p, parseElf(buildElf(smallExec()), 'small'), { argv: [] });
    expect(rig.u64(r.sp)).toBe(1n);
    expect(cstr(rig, Number(rig.u64(r.sp + 8)))).toBe('');
  });

  it('loads the firmware hello with the addresses readelf gives', () => {
    const rig = makeRig();
    const image = readElfFile(firmwareBinary('hello'));
    rig.mm.log.length = 0;
    const r = loadElfBinary(rig.p, image, { argv: ['hello'] });
    const maps = rig.mm.log.filter((e) => e.op === 'mmap').map((e) => e.op === 'mmap' && [e.addr, e.len, e.prot, e.flags, e.pgoff]);
    expect(maps).toEqual([
      [STACK, STACK_LEN, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN, 0],
      [0x400000, 0x7f000, 5, MAP_PRIVATE | MAP_FIXED_NOREPLACE, 0],
      // p_vaddr 0x48c660, p_offset 0x8c660: from page 0x48c000 (file page 0x8c), 0x5a78 + 0x660 bytes.
      [0x48c000, 0x7000, 3, MAP_PRIVATE | MAP_FIXED, 0x8c],
      // bss pages after the file's last page (0x492000 .. PAGE_ALIGN(0x4975f8)).
      [0x493000, 0x5000, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0],
    ]);
    expect(r.entry).toBe(0x400600);
    expect(r.brk).toBe(0x498000);
    expect(r.phdr).toBe(0x400040);
    // The first instruction is what the file holds at the entry point's offset.
    const file = image.bytes;
    expect([...rig.read(0x400600, 8)]).toEqual([...file.subarray(0x600, 0x608)]);
  });
});

/** A static-pie shaped like smallExec, linked at 0. */
function smallPie(): ElfSpec {
  return {
    type: 3,
    entry: 0x100,
    size: 0x2200,
    phdrs: [
      { type: PT_LOAD, flags: 5, offset: 0, vaddr: 0, filesz: 0x1800, memsz: 0x1800, align: 0x10000 },
      { type: PT_LOAD, flags: 6, offset: 0x1f00, vaddr: 0x11f00, filesz: 0x200, memsz: 0x2900, align: 0x10000 },
      { type: PT_GNU_STACK, flags: 6, offset: 0, vaddr: 0, filesz: 0, memsz: 0, align: 16 },
    ],
  };
}

describe('loading a static-pie', () => {
  const base = mmapBase(TOP);

  it('v6.9: the mmap region places the whole image, then the first segment is trimmed', () => {
    const rig = makeRig();
    rig.mm.log.length = 0;
    const r = loadElfBinary(rig.p, parseElf(buildElf(smallPie()), 'pie'), { argv: ['pie'] });
    const bias = base - 0x15000;
    const ino = r.exe.inode.ino;
    expect(rig.mm.log.filter((e) => e.op !== 'touch')).toEqual([
      { op: 'mmap', addr: STACK, len: STACK_LEN, prot: 3, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN, file: null, pgoff: 0, ret: STACK },
      // total_mapping_size = 0x11f00 + 0x2900 → 0x15000, placed top-down below mmap_base.
      { op: 'mmap', addr: 0, len: 0x15000, prot: 5, flags: MAP_PRIVATE, file: ino, pgoff: 0, ret: bias },
      { op: 'munmap', addr: bias + 0x2000, len: 0x13000, ret: 0 },
      { op: 'mmap', addr: bias + 0x11000, len: 0x2000, prot: 3, flags: MAP_PRIVATE | MAP_FIXED, file: ino, pgoff: 1, ret: bias + 0x11000 },
      { op: 'mmap', addr: bias + 0x13000, len: 0x2000, prot: 3, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, file: null, pgoff: 0, ret: bias + 0x13000 },
      { op: 'setBrkBase', addr: bias + 0x15000 },
    ]);
    expect(r.loadBias).toBe(bias);
    expect(r.entry).toBe(bias + 0x100);
    expect(r.phdr).toBe(bias + 0x40);
    expect(auxvOf(rig, r.sp).get(AT_ENTRY)).toBe(BigInt(bias + 0x100));
  });

  it('v6.10+: p_align is honoured by loading once, unmapping, and loading again aligned', () => {
    const rig = makeRig();
    rig.mm.log.length = 0;
    const r = loadElfBinary(rig.p, parseElf(buildElf(smallPie()), 'pie'), { argv: ['pie'], staticPieAlign: true });
    const probe = base - 0x15000;
    const bias = Math.floor(probe / 0x10000) * 0x10000;
    expect(bias).toBe(base - 0x20000);
    const maps = rig.mm.log.filter((e) => e.op === 'mmap' || e.op === 'munmap').map((e) => [e.op, e.addr, e.len, e.op === 'mmap' ? e.flags : 0, e.ret]);
    expect(maps).toEqual([
      ['mmap', STACK, STACK_LEN, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN, STACK],
      ['mmap', 0, 0x15000, MAP_PRIVATE, probe],
      ['munmap', probe + 0x2000, 0x13000, 0, 0],
      // The probe loaded only the first segment (no bss), and goes away whole.
      ['munmap', probe, 0x15000, 0, 0],
      ['mmap', bias, 0x15000, MAP_PRIVATE | MAP_FIXED_NOREPLACE, bias],
      ['munmap', bias + 0x2000, 0x13000, 0, 0],
      ['mmap', bias + 0x11000, 0x2000, MAP_PRIVATE | MAP_FIXED, bias + 0x11000],
      ['mmap', bias + 0x13000, 0x2000, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, bias + 0x13000],
    ]);
    expect(r.loadBias).toBe(bias);
    expect(r.entry).toBe(bias + 0x100);
  });

  it('a real static-pie from the cross compiler loads at a page-aligned bias with its entry moved', () => {
    const gcc = spawnSync('aarch64-linux-gnu-gcc', ['--version']);
    if (gcc.error || gcc.status !== 0) throw new Error('aarch64-linux-gnu-gcc does not run: install the Debian package gcc-aarch64-linux-gnu');
    const dir = mkdtempSync(path.join(tmpdir(), 'contpte-pie-'));
    writeFileSync(path.join(dir, 'p.c'), 'int main(void) { return 3; }\n');
    const out = path.join(dir, 'p');
    const cc = spawnSync('aarch64-linux-gnu-gcc', ['-static-pie', '-O2', '-o', out, path.join(dir, 'p.c')], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).toBe(0);
    const image = readElfFile(out);
    expect(image.kind).toBe('static-pie');
    const rig = makeRig();
    const r = loadElfBinary(rig.p, image, { argv: ['p'] });
    expect(r.loadBias % 4096).toBe(0);
    expect(r.loadBias).toBeGreaterThan(0);
    expect(r.loadBias + image.loads[image.loads.length - 1]!.vaddr + image.loads[image.loads.length - 1]!.memsz).toBeLessThanOrEqual(base);
    expect(r.entry).toBe(r.loadBias + image.entry);
    expect([...rig.read(r.entry, 8)]).toEqual([...image.bytes.subarray(image.entry, image.entry + 8)]);
  });
});

describe('a static-pie linked above address 0', () => {
  it('still lands where mmap puts it, with its bias computed from the mapped address', () => {
    const pie = smallPie();
    pie.entry = 0x1100;
    pie.phdrs[0] = { ...pie.phdrs[0]!, vaddr: 0x1100, offset: 0x100, filesz: 0x1700, memsz: 0x1700, align: 0x1000 };
    const rig = makeRig();
    const r = loadElfBinary(rig.p, parseElf(buildElf(pie), 'pie'), { argv: ['pie'] });
    // total_mapping_size = 0x11f00 + 0x2900 - 0x1000 = 0x13800 → 0x14000 mapped top-down.
    const mapped = mmapBase(TOP) - 0x14000;
    expect(r.loadBias).toBe(mapped - 0x1000);
    expect(r.entry).toBe(mapped + 0x100);
    expect([...rig.read(r.entry, 4)]).toEqual([0x100, 0x101, 0x102, 0x103].map(contentByte));
  });
});
