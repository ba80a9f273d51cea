/**
 * The sample image of traces/walk: scripts/walk-image.mjs rebuilds it byte for byte from its
 * ptep script, and `contpte-lab walk` on it prints traces/walk/sample.out.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');
const DIR = join(process.cwd(), 'traces/walk');

describe('traces/walk/sample.bin', () => {
  it('scripts/walk-image.mjs makes it from sample.ptep, byte for byte', () => {
    const out = mkdtempSync(join(tmpdir(), 'walk-image-'));
    try {
      const image = join(out, 'sample.bin');
      const r = spawnSync(process.execPath, ['scripts/walk-image.mjs', join(DIR, 'sample.ptep'), image], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe(`--image ${image} --pa-base 0x40000000 --ttbr 0x40000000\n`);
      expect(readFileSync(image).equals(readFileSync(join(DIR, 'sample.bin')))).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('walk on it prints sample.out', () => {
    const r = spawnSync(process.execPath, [CLI, 'walk', '--image', join(DIR, 'sample.bin'), '--pa-base', '0x40000000', '--ttbr', '0x40000000', '--va', '0x400123,0x41f008,0x420000,0x7fff0010', '--access', 'w'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(DIR, 'sample.out'), 'utf8'));
    // The folded block is one contiguous TLB entry; the unfolded block's read-only page refuses the write.
    expect(r.stdout).toContain('contiguous: yes (one TLB entry for 64K at 0x400000 -> 0x40010000)');
    expect(r.stdout).toContain('=> fault: permission at level 3');
  });
});
