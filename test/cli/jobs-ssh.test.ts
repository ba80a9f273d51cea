/**
 * The GNU parallel launcher over ssh: an sshd started for the test (Debian openssh-server, on
 * 127.0.0.1 and a port of its own, a host key and one authorized key made for it) stands for a
 * remote host that shares the study's file system; launch/parallel.sh --sshlogin runs the study
 * through it, and collect equals a local compare. Needs root, as sshd does.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exec, type Exec } from './exec.js';

const ROOT = process.cwd();
const CLI = join(ROOT, 'dist/src/cli/main.js');
const PF3 = join(ROOT, 'firmware/bin/page_fault3');
const SLOW = 180_000;

const TOOLS: [string, string][] = [
  ['/usr/sbin/sshd', 'openssh-server'],
  ['/usr/bin/ssh', 'openssh-client'],
  ['/usr/bin/ssh-keygen', 'openssh-client'],
  ['/usr/bin/rsync', 'rsync'],
  ['/usr/bin/parallel', 'parallel'],
];

let tmp: string;
let sshd: ChildProcess | null = null;
let sshCommand: string;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with 'npx tsc -p tsconfig.json' (npm test does this)`);
  for (const [path, pkg] of TOOLS) if (!existsSync(path)) throw new Error(`${path} is missing: install the Debian package ${pkg}`);
  if (process.getuid?.() !== 0) throw new Error('an sshd for this test needs root');
  tmp = mkdtempSync(join(tmpdir(), 'contpte-lab-ssh-'));
  chmodSync(tmp, 0o700);
  mkdirSync(join(tmp, 'bin'));
  writeFileSync(join(tmp, 'bin/contpte-lab'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  chmodSync(join(tmp, 'bin/contpte-lab'), 0o755);
  for (const k of ['host', 'user']) {
    const g = spawnSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(tmp, `${k}key`)], { encoding: 'utf8' });
    if (g.status !== 0) throw new Error(`ssh-keygen failed: ${g.stderr}`);
  }
  writeFileSync(join(tmp, 'authorized_keys'), readFileSync(join(tmp, 'userkey.pub')), { mode: 0o600 });
  const port = 40000 + (process.pid % 10000);
  writeFileSync(
    join(tmp, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(tmp, 'hostkey')}`,
      `AuthorizedKeysFile ${join(tmp, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      `PidFile ${join(tmp, 'sshd.pid')}`,
      // The "remote host" has contpte-lab on its PATH, as an npm install -g would put it.
      `SetEnv PATH=${join(tmp, 'bin')}:/usr/local/bin:/usr/bin:/bin`,
      '',
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true }); // sshd's privilege separation directory
  sshd = spawn('/usr/sbin/sshd', ['-D', '-f', join(tmp, 'sshd_config'), '-E', join(tmp, 'sshd.log')], { stdio: 'ignore' });
  sshCommand = `ssh -p ${port} -i ${join(tmp, 'userkey')} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes ${userInfo().username}@127.0.0.1`;
  let up = false;
  for (let i = 0; i < 50 && !up; i++) {
    await sleep(200);
    up = (await exec('sh', ['-c', `${sshCommand} true`], { timeoutMs: 10_000 })).code === 0;
  }
  if (!up) throw new Error(`the test's sshd did not come up: ${existsSync(join(tmp, 'sshd.log')) ? readFileSync(join(tmp, 'sshd.log'), 'utf8') : ''}`);
}, 60_000);

afterAll(async () => {
  if (sshd !== null && sshd.exitCode === null && sshd.signalCode === null) {
    const gone = new Promise<void>((r) => sshd!.once('exit', () => r()));
    sshd.kill('SIGTERM');
    await Promise.race([gone, sleep(10_000)]);
  }
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
}, 30_000);

describe('launch/parallel.sh --sshlogin', () => {
  it('runs every job on the ssh host; collect prints what a local compare prints', async () => {
    const cli = (args: string[]): Promise<Exec> => exec(process.execPath, [CLI, ...args], { timeoutMs: SLOW });
    const study = join(tmp, 'a study');
    expect((await cli(['compare', PF3, '--matrix', 'contpte=on,off', '--emit-jobs', study, '--', '4M', '1'])).code).toBe(0);
    // Only the ssh host's PATH is given the test's contpte-lab; the joblog names the host of each job.
    const r = await exec(join(study, 'launch/parallel.sh'), ['--sshlogin', `2/${sshCommand}`], { timeoutMs: SLOW });
    expect(r.err).toMatch(/contpte-lab job 0000 \([0-9.]+ s\): ok; wrote /);
    expect(r.err).toMatch(/contpte-lab job 0001 \([0-9.]+ s\): ok; wrote /);
    expect(r.code).toBe(0);
    const rows = readFileSync(join(study, 'parallel.joblog'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
    expect(rows.map((f) => [f[1], f[6], f[8]]).sort()).toEqual([
      [sshCommand, '0', `contpte-lab job '${study}' 0000`],
      [sshCommand, '0', `contpte-lab job '${study}' 0001`],
    ]);
    const collected = await cli(['collect', study, '--format', 'json']);
    expect(collected.err).toBe('');
    expect(collected.code).toBe(0);
    const local = await cli(['compare', PF3, '--matrix', 'contpte=on,off', '--jobs', '2', '--format', 'json', '--', '4M', '1']);
    expect(local.code).toBe(0);
    const noSeconds = (s: string): string => s.replace(/"seconds": [0-9.e+-]+/g, '"seconds": 0');
    expect(noSeconds(collected.out)).toBe(noSeconds(local.out));
  }, SLOW);
});
