/**
 * `contpte-lab walk` end to end: the compiled CLI (dist/, built by `npm test` before vitest runs)
 * spawned on an image built here with the mmu's own descriptor builders.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { blockDescriptor, pageDescriptor, PhysMem, tableDescriptor } from '../../src/mmu/index.js';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');
const BASE = 0x4000_0000;
let dir = '';
let image = '';

function run(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, 'walk', ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const common = () => ['--image', image, '--pa-base', '0x40000000', '--ttbr', '0x40000000'];

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with 'npx tsc -p tsconfig.json' (npm test does this)`);
  dir = mkdtempSync(join(tmpdir(), 'walk-cli-'));
  image = join(dir, 'mem.bin');
  // L0 -> L1 -> L2 (PXNTable) -> L3: 16 contiguous user pages at VA 0x40400000, one page without
  // AF at 0x40410000, a read-only 2 MiB block at 0x40600000, and a table pointing outside the image.
  const mem = PhysMem.allocate(BASE, 5 * 4096);
  const [l0, l1, l2, l3] = [BASE, BASE + 0x1000, BASE + 0x2000, BASE + 0x3000];
  mem.write64(l0, tableDescriptor(l1));
  mem.write64(l1 + 8, tableDescriptor(l2, { PXNTable: true }));
  mem.write64(l2 + 2 * 8, tableDescriptor(l3));
  mem.write64(l2 + 3 * 8, blockDescriptor(2, 0x8000_0000, { AF: true, AP: 3, SH: 3 }));
  mem.write64(l2 + 4 * 8, tableDescriptor(0x7000_0000));
  for (let i = 0; i < 16; i++) {
    mem.write64(l3 + i * 8, pageDescriptor(0x9000_0000 + i * 4096, { AF: true, AP: 1, SH: 3, nG: true, contiguous: true, UXN: true, PXN: true, DBM: true }));
  }
  mem.write64(l3 + 16 * 8, pageDescriptor(0x9100_0000, { AP: 1 }));
  writeFileSync(image, mem.u8);
});

describe('contpte-lab walk', () => {
  it('prints every step and the result for each VA', () => {
    const r = run(...common(), '--va', '0x40403123,0x40410000', '--va', '0x1000');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      [
        'VA 0x0000000040403123  EL0 read  (TTBR0 0x40000000, ASID 0, T0SZ 16)',
        '  L0  table 0x40000000 [  0]  desc@0x40000000 = 0x0000000040001003  table -> 0x40001000',
        '  L1  table 0x40001000 [  1]  desc@0x40001008 = 0x0800000040002003  table -> 0x40002000 PXNTable',
        '  L2  table 0x40002000 [  2]  desc@0x40002010 = 0x0000000040003003  table -> 0x40003000',
        '  L3  table 0x40003000 [  3]  desc@0x40003018 = 0x0078000090003f43  page oa=0x90003000 AttrIndx=0 AP=01 SH=11 AF nG DBM Cont PXN UXN',
        '  => PA 0x90003123  level 3 4K page, nG, contiguous: yes (one TLB entry for 64K at 0x40400000 -> 0x90000000), EL0 rw- EL1 rw-',
        'VA 0x0000000040410000  EL0 read  (TTBR0 0x40000000, ASID 0, T0SZ 16)',
        '  L0  table 0x40000000 [  0]  desc@0x40000000 = 0x0000000040001003  table -> 0x40001000',
        '  L1  table 0x40001000 [  1]  desc@0x40001008 = 0x0800000040002003  table -> 0x40002000 PXNTable',
        '  L2  table 0x40002000 [  2]  desc@0x40002010 = 0x0000000040003003  table -> 0x40003000',
        '  L3  table 0x40003000 [ 16]  desc@0x40003080 = 0x0000000091000043  page oa=0x91000000 AttrIndx=0 AP=01 SH=00',
        '  => fault: access flag at level 3',
        'VA 0x0000000000001000  EL0 read  (TTBR0 0x40000000, ASID 0, T0SZ 16)',
        '  L0  table 0x40000000 [  0]  desc@0x40000000 = 0x0000000040001003  table -> 0x40001000',
        '  L1  table 0x40001000 [  0]  desc@0x40001000 = 0x0000000000000000  invalid',
        '  => fault: translation at level 1',
        '',
      ].join('\n'),
    );
  });

  it('--json prints one object per VA with pa, level, size, contiguous, perms or fault', () => {
    const r = run(...common(), '--va', '0x40400010,0x40600000,0x40600000', '--json', '--access', 'w', '--el', '1');
    expect(r.code).toBe(0);
    const objs = r.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objs).toHaveLength(3);
    expect(objs[0]).toMatchObject({ va: '0x40400010', pa: '0x90000010', level: 3, size: 4096, contiguous: true, perms: { el0: 'rw-', el1: 'rw-' } });
    expect((objs[0]!.steps as unknown[]).length).toBe(4);
    expect(objs[1]).toMatchObject({ va: '0x40600000', fault: { kind: 'permission', level: 2 } });
    expect(objs[1]).not.toHaveProperty('pa');
    const r2 = run(...common(), '--va', '0x40600000', '--json', '--access', 'x');
    expect(JSON.parse(r2.out)).toMatchObject({ pa: '0x80000000', level: 2, size: 2097152, contiguous: false, perms: { el0: 'r-x', el1: 'r--' } });
  });

  it('takes the ASID from a full TTBR value and honours --tcr (T0SZ=25 starts at level 1)', () => {
    const r = run('--image', image, '--pa-base', '0x40000000', '--ttbr', '0x0007000040001001', '--tcr', '0x19', '--va', '0x40400000');
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe('VA 0x0000000040400000  EL0 read  (TTBR0 0x40001000, ASID 7, T0SZ 25)');
    expect(r.out.split('\n')[1]).toMatch(/^ {2}L1 {2}table 0x40001000 \[ {2}1\]/);
    expect(r.out).toMatch(/=> PA 0x90000000 /);
    const over = run('--image', image, '--pa-base', '0x40000000', '--ttbr', '0x40001000', '--tcr', '0x19', '--va', '0x8000000000');
    expect(over.out).toMatch(/=> fault: translation at level 0\n$/);
  });

  const bad: [string, string[], RegExp][] = [
    ['a missing image', ['--image', '/nonexistent/mem.bin', '--pa-base', '0x40000000', '--ttbr', '0x40000000', '--va', '0'], /^contpte-lab: --image: cannot read '\/nonexistent\/mem.bin' \(ENOENT\)/],
    ['a TTBR outside the image', ['--ttbr', '0x50000000'], /^contpte-lab: --ttbr: the level-0 table at 0x50000000 \(4096 bytes\) is outside the image \[0x40000000, 0x40005000\)\n$/],
    ['a malformed VA', ['--va', '0x10,0xg'], /^contpte-lab: --va: '0xg' is not a number/],
    ['a malformed PA base', ['--pa-base', 'forty'], /^contpte-lab: --pa-base: 'forty' is not a number/],
    ['an unaligned PA base', ['--pa-base', '0x40000800'], /^contpte-lab: --pa-base: 0x40000800 is not 4 KiB aligned\n$/],
    ['a TCR with another granule', ['--tcr', '0x4010'], /^contpte-lab: --tcr: 0x0000000000004010: TG0=1 selects a 64 KiB granule; only 4 KiB \(TG0=0\) is modelled\n$/],
    ['an ASID above 16 bits', ['--asid', '0x10000'], /^contpte-lab: --asid: 65536 is not a 16-bit ASID/],
    ['a table pointing outside the image', ['--va', '0x40800000'], /^contpte-lab: --image: walk of VA 0x40800000: level 3 descriptor at PA 0x70000000 is outside the image \[0x40000000, 0x40005000\)\n$/],
  ];
  for (const [name, args, message] of bad) {
    it(`rejects ${name} with one line and exit code 2`, () => {
      // Later options override the common ones (yargs keeps the last value of a string option).
      const merged = [...common(), '--va', '0'];
      for (let i = 0; i < args.length; i += 2) {
        const k = merged.indexOf(args[i]!);
        if (k >= 0) merged[k + 1] = args[i + 1]!;
        else merged.push(args[i]!, args[i + 1]!);
      }
      const r = run(...merged);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    });
  }
});
