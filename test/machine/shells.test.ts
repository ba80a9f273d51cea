/**
 * Debian's static busybox shell (busybox-static:arm64, the package `validate` fetches with
 * `apt-get download` into the user's cache) under contpte-lab: pipelines, subshells, command
 * substitution, redirections, /proc reads and exit statuses print what Linux prints, and the
 * model's checker finds nothing (a finding would be a bug of the kernel model). The expected output
 * is what qemu-aarch64 prints for the same script.
 */
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { firmwareBinary } from '../firmware/cases.js';
import { busyboxArm64 } from '../../src/validate/setup.js';
import { runCaptured } from './helpers.js';

const SCRIPT = [
  'echo hello | tr a-z A-Z',
  'x=$(echo sub | sed s/sub/substituted/); echo "got $x"',
  '(echo in a subshell; exit 3); echo "status $?"',
  'for i in 1 2 3; do echo $i; done | wc -l',
  'echo abc > /tmp/f; cat /tmp/f /tmp/f | sort | uniq -c',
  'grep -c "^Name:" /proc/self/status',
  'sh -c "exit 7"; echo "child $?"',
  'sh -c "kill -TERM \\$\\$"; echo "killed $?"',
  'sleep 1 & wait $!; echo "slept $?"',
].join('; ');

const EXPECTED = ['HELLO', 'got substituted', 'in a subshell', 'status 3', '3', '      2 abc', '1', 'child 7', 'killed 143', 'slept 0', ''].join('\n');

describe('busybox sh', () => {
  it('runs pipelines, subshells and command substitution, with a clean checker', async () => {
    const bb = busyboxArm64();
    const r = await runCaptured({ elf: bb, args: ['sh', '-c', SCRIPT], strict: true, maxSeconds: 120 });
    expect(r.stdout).toBe(EXPECTED);
    expect(r.end.exitCode, r.end.message).toBe(0);
    expect(r.summary.checker.total).toBe(0);
    expect(r.summary.counts.syscalls.unimplemented).toEqual({});
    // The shell forked for the pipelines and subshells: other CPUs received its broadcasts.
    expect(r.summary.counts.cpus.some((c) => c.cpu > 0 && c.tlbi_received > 0)).toBe(true);
  }, 180_000);
});

describe('--sysroot', () => {
  it('programs the shell executes come from the arm64 root given, never from above it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cl-sysroot-'));
    mkdirSync(join(root, 'bin'));
    copyFileSync(firmwareBinary('hello'), join(root, 'bin', 'hello'));
    const script = '/bin/hello; echo "rc $?"; /../../bin/hello; echo "rc $?"; /bin/missing 2>/dev/null; echo "rc $?"';
    const withRoot = await runCaptured({ elf: busyboxArm64(), args: ['sh', '-c', script], sysroot: root });
    expect(withRoot.stdout).toBe('hello, world\nrc 0\nhello, world\nrc 0\nrc 127\n');
    // Without it, /bin/hello is the host's (there is none): the shell's "not found".
    const without = await runCaptured({ elf: busyboxArm64(), args: ['sh', '-c', '/bin/hello 2>/dev/null; echo "rc $?"'] });
    expect(without.stdout).toBe('rc 127\n');
  }, 180_000);
});
