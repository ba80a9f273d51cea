/**
 * Debian's static busybox shell (busybox-static:arm64, the package `validate` fetches with
 * `apt-get download` into the user's cache) under contpte-lab: pipelines, subshells, command
 * substitution, redirections, /proc reads and exit statuses print what Linux prints, and the
 * model's checker finds nothing (a finding would be a bug of the kernel model). The expected output
 * is what qemu-aarch64 prints for the same script.
 *
 * Then Debian's bash-static and zsh-static, and busybox sh again, running a script whose pipelines
 * and subshells go through Debian's dynamically linked coreutils (/usr/bin/tr, sort, wc ...), all
 * from a Debian arm64 root given with --sysroot (debianSysroot(): libc6, coreutils, bash-static,
 * zsh-static, fetched once); the reference is qemu-aarch64 -L with that root running the same
 * shell and script.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { firmwareBinary } from '../firmware/cases.js';
import { busyboxArm64, debianSysroot } from '../../src/validate/setup.js';
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

/** Pipelines, a command substitution and subshells through external (dynamic) commands. */
const USERLAND_SCRIPT = [
  'echo "b a c" | /usr/bin/tr " " "\\n" | /usr/bin/sort | /usr/bin/wc -l',
  'x=$(echo sub | /usr/bin/tr a-z A-Z); echo "got $x"',
  '(echo in a subshell; exit 3); echo "status $?"',
  'for i in 3 1 2; do echo $i; done | /usr/bin/sort -r | /usr/bin/head -n 2',
  'f=/tmp/cl-shell-$$; echo abc > $f; /usr/bin/cat $f $f | /usr/bin/sort | /usr/bin/uniq -c; /usr/bin/rm $f',
  '/usr/bin/printf "%s-%s\\n" a b | /usr/bin/wc -c',
  '/usr/bin/false; echo "false $?"',
  '( /usr/bin/seq 1 5 | /usr/bin/tail -n 1 )',
  'echo done',
].join('\n');

const USERLAND_EXPECTED = ['3', 'got SUB', 'in a subshell', 'status 3', '3', '2', '      2 abc', '4', 'false 1', '5', 'done', ''].join('\n');

/** qemu-aarch64 -L root running the shell: the reference output. */
function qemuShell(root: string, shell: string, args: readonly string[]): string {
  const r = spawnSync('qemu-aarch64', ['-L', root, shell, ...args], { encoding: 'utf8', env: {} });
  if (r.error !== undefined) throw new Error('qemu-aarch64 is not installed: apt-get install qemu-user');
  expect(r.status).toBe(0);
  return r.stdout;
}

describe('bash-static, zsh-static and busybox sh running Debian arm64 coreutils (dynamic) from --sysroot', () => {
  const cases: readonly { name: string; shell: (root: string) => string; args: readonly string[] }[] = [
    { name: 'bash-static', shell: (root) => join(root, 'usr', 'bin', 'bash-static'), args: ['-c', USERLAND_SCRIPT] },
    { name: 'zsh-static', shell: (root) => join(root, 'usr', 'bin', 'zsh-static'), args: ['-c', USERLAND_SCRIPT] },
    { name: 'busybox sh', shell: () => busyboxArm64(), args: ['sh', '-c', USERLAND_SCRIPT] },
  ];
  for (const c of cases) {
    it(`${c.name}: a script with pipelines, command substitution and subshells, as under qemu-aarch64 -L`, async () => {
      const root = debianSysroot();
      const shell = c.shell(root);
      expect(qemuShell(root, shell, c.args)).toBe(USERLAND_EXPECTED);
      const r = await runCaptured({ elf: shell, args: c.args, sysroot: root, strict: true, maxSeconds: 120 });
      expect(r.stdout).toBe(USERLAND_EXPECTED);
      expect(r.stderr).toBe('');
      expect(r.end.exitCode, r.end.message).toBe(0);
      expect(r.summary.checker.total).toBe(0);
      expect(r.summary.counts.syscalls.unimplemented).toEqual({});
      // Fifteen external commands, each a dynamic program mapping libc.so.6 through ld.so.
      expect(r.summary.counts.syscalls.by_name['execve']).toBe(15);
    }, 180_000);
  }
});
