/**
 * The multi-task firmware (fork, threads, signals, pipes) against the reference: each case runs
 * under qemu-aarch64 (Debian qemu-user) and must print exactly firmware/expected/<case>.out and
 * exit with the code below. The programs print only what does not depend on timing or
 * scheduling, so a second run of each case must give the same bytes too. A case whose
 * `notUnderQemu` says why qemu-aarch64 gets it wrong is left to the tool's own test
 * (test/machine/multitask.test.ts); the expected file then holds what Linux prints.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { FIRMWARE_DIR, LINUX_REFERENCE_PROGRAMS, MULTITASK_CASES, MULTITASK_PROGRAMS, type MultitaskCase } from './cases.js';

const EXPECTED_DIR = path.join(FIRMWARE_DIR, 'expected');

let qemuChecked: boolean | undefined;

function runQemu(c: MultitaskCase) {
  if (qemuChecked === undefined) {
    const v = spawnSync('qemu-aarch64', ['--version'], { encoding: 'utf8' });
    qemuChecked = !v.error && v.status === 0;
  }
  if (!qemuChecked) {
    throw new Error("qemu-aarch64 is not installed or does not run: install the Debian package 'qemu-user' (apt-get install qemu-user)");
  }
  const r = spawnSync('qemu-aarch64', [path.join(FIRMWARE_DIR, 'bin', c.program), ...c.args], {
    encoding: 'utf8',
    timeout: 30_000,
    // Page-cache files of page_fault2/3 go to /tmp like will-it-scale's.
    cwd: '/tmp',
  });
  if (r.error) throw r.error;
  return r;
}

/** Lines the program wrote to stderr about itself: a failure explains itself there. */
function ownDiagnostics(program: string, stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith(`${program}:`));
}

describe('multi-task firmware under qemu-aarch64', () => {
  for (const c of MULTITASK_CASES.filter((m) => m.notUnderQemu === undefined)) {
    it(`${c.name} (${[c.program, ...c.args].join(' ')}) prints expected/${c.name}.out and exits ${c.exitCode}`, () => {
      const expected = readFileSync(path.join(EXPECTED_DIR, `${c.name}.out`), 'utf8');
      const first = runQemu(c);
      expect({ stdout: first.stdout, status: first.status, signal: first.signal }, first.stderr).toEqual({
        stdout: expected,
        status: c.exitCode,
        signal: null,
      });
      if (c.exitCode === 0) expect(ownDiagnostics(c.program, first.stderr)).toEqual([]);
      else expect(ownDiagnostics(c.program, first.stderr).length).toBeGreaterThan(0);
      const second = runQemu(c);
      expect(second.stdout, 'a second run prints the same bytes').toBe(first.stdout);
      expect(second.status).toBe(first.status);
    });
  }

  it('every multi-task program has a case and every expected file a case', () => {
    expect(new Set(MULTITASK_CASES.map((c) => c.program))).toEqual(new Set(MULTITASK_PROGRAMS.filter((p) => !LINUX_REFERENCE_PROGRAMS.includes(p))));
    for (const c of MULTITASK_CASES) expect(c.name.startsWith(c.program), c.name).toBe(true);
    expect(readdirSync(EXPECTED_DIR).sort()).toEqual(MULTITASK_CASES.map((c) => `${c.name}.out`).sort());
  });
});
