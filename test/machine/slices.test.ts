/**
 * Wall-clock slices (the CLI's interruptible run) must not change what a guest sees. With a slice
 * length that has always run out, every exception ends a slice, so a slice ends right after each
 * fault delivered to a handler: the guest must resume in the handler, not at the faulting
 * instruction with the handler's arguments in its registers.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIRMWARE_DIR, firmwareBinary } from '../firmware/cases.js';
import { runCaptured } from './helpers.js';

const expected = (name: string): string => readFileSync(path.join(FIRMWARE_DIR, 'expected', `${name}.out`), 'utf8');

describe('a slice ending at every exception', () => {
  it('procmem: SIGSEGV handlers entered after each slice still run', async () => {
    const r = await runCaptured({ elf: firmwareBinary('procmem'), interrupted: () => null, sliceMs: Number.MIN_VALUE, maxSeconds: 120 });
    expect(r.stdout).toBe(expected('procmem'));
    expect(r.end.exitCode, r.end.message).toBe(0);
  }, 180_000);

  it('tagged_ptr and signals: handlers entered from faults and signals, with their siginfo, after each slice', async () => {
    const tagged = await runCaptured({ elf: firmwareBinary('tagged_ptr'), interrupted: () => null, sliceMs: Number.MIN_VALUE, maxSeconds: 120 });
    expect(tagged.stdout).toBe(expected('tagged_ptr'));
    const signals = await runCaptured({ elf: firmwareBinary('signals'), interrupted: () => null, sliceMs: Number.MIN_VALUE, maxSeconds: 120 });
    expect(signals.stdout).toBe(expected('signals'));
    expect(signals.end.exitCode, signals.end.message).toBe(0);
  }, 180_000);
});
