/**
 * Tagged pointers (TCR_EL1.TBI0 = 1, as arm64 Linux runs user space): loads and stores through
 * pointers with a non-zero top byte reach the untagged page, the first fault of a page taken
 * through a tagged pointer is handled as the untagged address's, and a tagged access to an
 * unmapped page is a SIGSEGV whose si_addr has no tag while contpte-lab's report names the whole
 * 64-bit tagged address. firmware/bin/tagged_ptr against qemu-aarch64 and through the CLI.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIRMWARE_DIR, firmwareBinary } from '../firmware/cases.js';
import { runCaptured, runQemu } from './helpers.js';

const ELF = firmwareBinary('tagged_ptr');
const EXPECTED = readFileSync(join(FIRMWARE_DIR, 'expected', 'tagged_ptr.out'), 'utf8');
const CLI = join(process.cwd(), 'dist/src/cli/main.js');

/** The faulting address of the report: the tagged 64-bit value and the one translated. */
function reportedAddress(message: string): { tagged: bigint; untagged: bigint; tag: number } {
  const m = /at address (0x[0-9a-f]{16}) \(top byte (0x[0-9a-f]+) ignored: (0x[0-9a-f]+)\)/.exec(message);
  expect(m, message).not.toBeNull();
  return { tagged: BigInt(m![1]!), tag: Number(m![2]!), untagged: BigInt(m![3]!) };
}

describe('tagged pointers (TBI)', () => {
  it('tagged loads and stores, a tagged buffer refused by write(2), SIGSEGV without the tag: as qemu-aarch64', async () => {
    const q = runQemu(ELF, []);
    expect(q).toEqual({ stdout: EXPECTED, status: 0 });
    const r = await runCaptured({ elf: ELF, args: [], strict: true });
    expect(r.stdout).toBe(EXPECTED);
    expect(r.end.exitCode, r.end.message).toBe(0);
    expect(r.summary.checker.total).toBe(0);
    // 32 pages first touched through tagged pointers, each a fault handled by do_anonymous_page.
    expect(r.summary.counts.fault_detail['by_path']?.['do_anonymous_page']).toBeGreaterThanOrEqual(32);
  }, 120_000);

  // Linux untags the start of munmap, mprotect, madvise, mremap, msync, mlock and mincore whether
  // or not the task enabled the tagged address ABI (untagged_addr in each, v6.12); qemu-user 7.2
  // does so only after PR_SET_TAGGED_ADDR_CTRL, so here Linux is the reference.
  it('address-space calls take a tagged start as Linux does', async () => {
    const r = await runCaptured({ elf: ELF, args: ['space'] });
    const lines = EXPECTED.split('\n');
    lines.splice(2, 0, 'space mprotect=0 - mprotect_back=0 madvise=0 page4=0 mincore=0 resident=1111');
    expect(r.stdout).toBe(lines.join('\n'));
    expect(r.end.exitCode).toBe(0);
    expect(r.summary.counts.syscalls.by_name['mprotect']).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('a tagged store to an unmapped page kills the guest with SIGSEGV; the report names the tagged address', async () => {
    const q = spawnSync('qemu-aarch64', [ELF, 'fault'], { encoding: 'utf8' });
    expect({ stdout: q.stdout, signal: q.signal }).toEqual({ stdout: EXPECTED, signal: 'SIGSEGV' });
    const r = await runCaptured({ elf: ELF, args: ['fault'] });
    expect(r.stdout).toBe(EXPECTED);
    expect(r.end.exitCode).toBe(139);
    const a = reportedAddress(r.end.message ?? '');
    expect(a.tag).toBe(0xa5);
    expect(a.tagged).toBe((0xa5n << 56n) | a.untagged);
    // The hole is page 3 of the program's region, 0x10 into it.
    expect(a.untagged % 4096n).toBe(0x10n);
  }, 120_000);

  it('through the CLI (wall-clock slices, which may end at the fault that enters the handler)', () => {
    const r = spawnSync(process.execPath, [CLI, 'run', ELF, '--', 'fault'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stdout).toBe(EXPECTED);
    expect(r.status).toBe(139);
    expect(reportedAddress(r.stderr).tag).toBe(0xa5);
  }, 120_000);
});
