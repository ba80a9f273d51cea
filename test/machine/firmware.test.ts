/**
 * Every firmware program under `contpte-lab run` (the whole machine: Unicorn, the mmu model, the
 * kernel model, the process layer) and under qemu-aarch64: the same stdout and exit code, the
 * expected marker sequence, and a clean checker.
 */
import { describe, expect, it } from 'vitest';
import { FIRMWARE_CASES, FIRMWARE_USAGE_CASES, firmwareBinary, type FirmwareCase } from '../firmware/cases.js';
import { runCaptured, runQemu } from './helpers.js';

function check(c: FirmwareCase) {
  it(`${c.title}: same stdout and exit code as qemu-aarch64`, async () => {
    const elf = firmwareBinary(c.program);
    // --strict: an unimplemented syscall would end the run, and any checker finding fails below.
    const ours = await runCaptured({ elf, args: c.args, strict: true });
    const ref = runQemu(elf, c.args);
    expect(ref.status).toBe(c.exitCode);
    expect(ours.end.exitCode).toBe(ref.status);
    expect(ours.stdout).toBe(ref.stdout);
    expect(ours.stdout).toBe(c.stdout);
    if (c.stderrIncludes !== undefined) expect(ours.stderr).toContain(c.stderrIncludes);
    // The run's own accounting: no model inconsistency anywhere.
    expect(ours.summary.counts.bbm_violations).toBe(0);
    expect(ours.summary.counts.contig_violations).toBe(0);
    // ... and over the whole run, start-up before the guest's reset included.
    expect(ours.summary.checker, JSON.stringify(ours.summary.checker.first[0])).toEqual({ total: 0, by_rule: {}, first: [] });
    const dumps = c.markers.filter((m) => m.op === 'dump').map((m) => (m.op === 'dump' ? m.label : ''));
    expect(ours.summary.dumps.map((d) => d.label)).toEqual(dumps);
  });
}

describe('firmware under contpte-lab run and under qemu-aarch64', () => {
  for (const c of FIRMWARE_CASES) check(c);
});

describe('firmware argument errors (the guest exits 2, same as under qemu)', () => {
  for (const c of FIRMWARE_USAGE_CASES.slice(0, 4)) check(c);
});
