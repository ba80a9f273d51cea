/**
 * The Slurm launcher on a real Slurm: a one-node cluster started for the test (Debian's munge,
 * slurmctld and slurmd, private sockets, ports and state in a temporary directory), the study's
 * array submitted with `sbatch --wait`, then `collect` compared with a local `compare` of the
 * same matrix. Needs root, as slurmd does.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exec, type Exec } from '../cli/exec.js';

const ROOT = process.cwd();
const CLI = join(ROOT, 'dist/src/cli/main.js');
const PF3 = join(ROOT, 'firmware/bin/page_fault3');
const MATRIX = 'contpte=on,off file_large_folios=on,off';
const SLOW = 180_000;

const TOOLS: [string, string][] = [
  ['/usr/sbin/munged', 'munge'],
  ['/usr/sbin/mungekey', 'munge'],
  ['/usr/sbin/slurmctld', 'slurmctld'],
  ['/usr/sbin/slurmd', 'slurmd'],
  ['/usr/bin/sbatch', 'slurm-client'],
  ['/usr/bin/sinfo', 'slurm-client'],
];

let tmp: string;
let env: NodeJS.ProcessEnv;
const daemons: ChildProcess[] = [];

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function daemon(argv: string[], log: string): void {
  const out = join(tmp, log);
  const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  child.stdout!.on('data', (b: Buffer) => chunks.push(b));
  child.stderr!.on('data', (b: Buffer) => chunks.push(b));
  child.on('exit', () => writeFileSync(out, Buffer.concat(chunks)));
  daemons.push(child);
}

function daemonLogs(): string {
  return ['munged.log', 'slurmctld.log', 'slurmd.log'].map((f) => (existsSync(join(tmp, f)) ? `${f}:\n${readFileSync(join(tmp, f), 'utf8')}` : '')).join('\n');
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with 'npx tsc -p tsconfig.json' (npm test does this)`);
  for (const [path, pkg] of TOOLS) if (!existsSync(path)) throw new Error(`${path} is missing: install the Debian package ${pkg} (or slurm-wlm, which brings them all)`);
  if (process.getuid?.() !== 0) throw new Error('a Slurm cluster for this test needs root (slurmd starts the jobs)');
  tmp = mkdtempSync(join(tmpdir(), 'contpte-lab-slurm-'));
  chmodSync(tmp, 0o755); // munged wants its socket's directory reachable by everyone
  for (const d of ['state', 'spool', 'bin']) mkdirSync(join(tmp, d));
  writeFileSync(join(tmp, 'bin/contpte-lab'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  chmodSync(join(tmp, 'bin/contpte-lab'), 0o755);
  const key = spawnSync('/usr/sbin/mungekey', ['--create', '--keyfile', join(tmp, 'munge.key')], { encoding: 'utf8' });
  if (key.status !== 0) throw new Error(`mungekey failed: ${key.stderr}`);
  // Ports of our own, away from a system Slurm's 6817/6818.
  const port = 20000 + (process.pid % 5000) * 2;
  const host = hostname().split('.')[0]!;
  const sock = join(tmp, 'munge.sock');
  writeFileSync(
    join(tmp, 'slurm.conf'),
    [
      'ClusterName=contpte-lab-check',
      `SlurmctldHost=${host}`,
      `SlurmctldPort=${port}`,
      `SlurmdPort=${port + 1}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/munge',
      `AuthInfo=socket=${sock}`,
      'CredType=cred/munge',
      `StateSaveLocation=${join(tmp, 'state')}`,
      `SlurmdSpoolDir=${join(tmp, 'spool')}`,
      `SlurmctldPidFile=${join(tmp, 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(tmp, 'slurmd.pid')}`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'SchedulerType=sched/builtin',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'ReturnToService=2',
      'MpiDefault=none',
      'JobAcctGatherType=jobacct_gather/none',
      `NodeName=${host} CPUs=2 RealMemory=4096 State=UNKNOWN`,
      `PartitionName=check Nodes=${host} Default=YES MaxTime=INFINITE State=UP`,
      '',
    ].join('\n'),
  );
  env = { ...process.env, SLURM_CONF: join(tmp, 'slurm.conf'), PATH: `${join(tmp, 'bin')}:${process.env['PATH'] ?? ''}` };
  // munged refuses root unless forced; its files stay in our directory.
  daemon(['/usr/sbin/munged', '--foreground', '--force', `--socket=${sock}`, `--key-file=${join(tmp, 'munge.key')}`, `--log-file=${join(tmp, 'munged.file.log')}`, `--pid-file=${join(tmp, 'munged.pid')}`, `--seed-file=${join(tmp, 'munged.seed')}`], 'munged.log');
  for (let i = 0; i < 50 && !existsSync(sock); i++) await sleep(100);
  daemon(['/usr/sbin/slurmctld', '-D', '-f', join(tmp, 'slurm.conf')], 'slurmctld.log');
  daemon(['/usr/sbin/slurmd', '-D', '-f', join(tmp, 'slurm.conf')], 'slurmd.log');
  let state = '';
  for (let i = 0; i < 60 && state !== 'idle'; i++) {
    await sleep(500);
    state = spawnSync('sinfo', ['--noheader', '--format=%t'], { encoding: 'utf8', env }).stdout.trim();
  }
  if (state !== 'idle') throw new Error(`the test's Slurm node did not come up (state '${state}')`);
}, 60_000);

afterAll(async () => {
  for (const d of daemons.reverse()) {
    if (d.exitCode !== null || d.signalCode !== null) continue;
    const gone = new Promise<void>((r) => d.once('exit', () => r()));
    d.kill('SIGTERM');
    await Promise.race([gone, sleep(10_000)]);
  }
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
}, 60_000);

describe('a study on a Slurm cluster', () => {
  it('sbatch runs the array; collect prints what a local compare prints', async () => {
    const study = join(tmp, 'study');
    const cli = (args: string[]): Promise<Exec> => exec(process.execPath, [CLI, ...args], { env, timeoutMs: SLOW });
    expect((await cli(['compare', PF3, '--matrix', MATRIX, '--emit-jobs', study, '--', '4M', '1'])).code).toBe(0);
    const sb = await exec('sbatch', ['--wait', 'launch/slurm.sbatch'], { cwd: study, env, timeoutMs: SLOW });
    const id = /^Submitted batch job (\d+)$/m.exec(sb.out)?.[1];
    if (sb.code !== 0 || id === undefined) throw new Error(`sbatch --wait: exit ${sb.code}: ${sb.out}${sb.err}\n${daemonLogs()}`);
    expect(readdirSync(join(study, 'logs')).sort()).toEqual([0, 1, 2, 3].map((i) => `slurm-${id}_${i}.out`));
    for (let i = 0; i < 4; i++) {
      expect(readFileSync(join(study, 'logs', `slurm-${id}_${i}.out`), 'utf8')).toMatch(new RegExp(`^contpte-lab job 000${i} \\([0-9.]+ s\\): ok; wrote ${study}/results/000${i}\\.json\\n$`));
    }
    const collected = await cli(['collect', study, '--format', 'json']);
    expect(collected.err).toBe('');
    expect(collected.code).toBe(0);
    const local = await cli(['compare', PF3, '--matrix', MATRIX, '--jobs', '2', '--format', 'json', '--', '4M', '1']);
    expect(local.code).toBe(0);
    const noSeconds = (s: string): string => s.replace(/"seconds": [0-9.e+-]+/g, '"seconds": 0');
    expect(noSeconds(collected.out)).toBe(noSeconds(local.out));
    // The regression's case: large folios with contpte fold every 64 KiB block of the 4 MiB file.
    const doc = JSON.parse(collected.out) as { cases: { name: string; summary: { dumps: { counts: { folds: number } }[] } }[] };
    expect(doc.cases.map((c) => [c.name, c.summary.dumps[0]!.counts.folds])).toEqual([
      ['contpte=on file_large_folios=on', 62],
      ['contpte=on file_large_folios=off', 0],
      ['contpte=off file_large_folios=on', 0],
      ['contpte=off file_large_folios=off', 0],
    ]);
  }, SLOW);
});
