/**
 * Many tasks on many CPUs through the whole machine: the multi-task firmware prints exactly what
 * it prints under qemu-aarch64 (firmware/expected, checked against qemu by
 * test/firmware/multitask-qemu.test.ts), runs are deterministic, broadcast TLBIs reach every
 * CPU's TLB and are counted per CPU, and programs that start programs (posix_spawn, fork+exec,
 * "#!" scripts) behave as on Linux.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIRMWARE_DIR, MULTITASK_CASES, firmwareBinary } from '../firmware/cases.js';
import { runCaptured } from './helpers.js';

const expected = (name: string): string => readFileSync(path.join(FIRMWARE_DIR, 'expected', `${name}.out`), 'utf8');

describe('multi-task firmware under contpte-lab run: the same stdout and exit code as qemu-aarch64 (or Linux)', () => {
  for (const c of MULTITASK_CASES) {
    it(c.name, async () => {
      const r = await runCaptured({ elf: firmwareBinary(c.program), args: c.args, sets: ['anon_mthp=64K'], maxSeconds: 120 });
      expect(r.stdout).toBe(expected(c.name));
      expect(r.end.exitCode, r.end.message).toBe(c.exitCode);
      expect(r.summary.counts.bbm_violations).toBe(0);
      expect(r.summary.counts.contig_violations).toBe(0);
    }, 180_000);
  }
});

describe('determinism and per-CPU TLB maintenance', () => {
  it('threads 16: two runs give the same counts, bit for bit', async () => {
    const a = await runCaptured({ elf: firmwareBinary('threads'), args: ['16'] });
    const b = await runCaptured({ elf: firmwareBinary('threads'), args: ['16'] });
    expect(a.end.exitCode).toBe(0);
    expect(JSON.stringify(b.summary)).toBe(JSON.stringify(a.summary));
    // The threads were spread over the four CPUs: every CPU issued or received TLBIs.
    expect(a.summary.counts.cpus.map((c) => c.cpu)).toEqual([0, 1, 2, 3]);
  }, 180_000);

  it('fork_cow on 64K folios: every broadcast TLBI reaches the three other CPUs', async () => {
    const r = await runCaptured({ elf: firmwareBinary('fork_cow'), sets: ['anon_mthp=64K'] });
    expect(r.end.exitCode).toBe(0);
    const c = r.summary.counts;
    const broadcasts = Object.entries(c.tlbi.by_op).filter(([op]) => op.endsWith('IS')).reduce((n, [, v]) => n + v, 0);
    expect(broadcasts).toBe(c.tlbi.total);
    expect(c.cpus.reduce((n, x) => n + x.tlbi_issued, 0)).toBe(c.tlbi.total);
    expect(c.cpus.reduce((n, x) => n + x.tlbi_received, 0)).toBe(3 * broadcasts);
    expect(c.cpus.reduce((n, x) => n + x.invalidated_entries, 0)).toBe(c.tlb.invalidated_entries);
    // fork write-protects the parent's contiguous 64K blocks: each is unfolded by contpte_convert.
    expect(c.tlbi.by_site['dup_mmap']).toBeGreaterThan(0);
    expect(c.unfolds).toBe(c.contpte_convert);
    expect(c.unfolds).toBeGreaterThan(0);
  }, 180_000);

  it('cpus=1: the same program, every TLBI local to the one TLB, nothing received', async () => {
    const r = await runCaptured({ elf: firmwareBinary('threads'), args: ['4'], sets: ['cpus=1'] });
    expect(r.end.exitCode).toBe(0);
    expect(r.stdout).toBe(expected('threads'));
    expect(r.summary.counts.cpus).toEqual([{ cpu: 0, tlbi_issued: r.summary.counts.tlbi.total, tlbi_received: 0, invalidated_entries: r.summary.counts.tlb.invalidated_entries }]);
  }, 180_000);
});

describe('starting programs', () => {
  it('posix_spawn, fork+execve and a #! script print what Linux prints', async () => {
    const r = await runCaptured({ elf: firmwareBinary('spawn') });
    expect(r.stdout).toBe(
      [
        'child: argument spawned, SPAWN_VALUE=(unset)',
        'spawn: child exit 3',
        'missing: posix_spawn returns ENOENT',
        'child: argument forked, SPAWN_VALUE=42',
        'fork+exec: child exit 3',
        'interpreter: script /tmp/spawn-script',
        'script: child exit 4',
        '',
      ].join('\n'),
    );
    expect(r.end.exitCode).toBe(0);
    expect(r.summary.counts.syscalls.by_name['execve']).toBe(4);
  }, 180_000);
});

describe('MADV_COLLAPSE edge cases (collapse_cases) answer as Linux did', () => {
  // What 6.12.117 and 7.2.13 printed under `contpte-lab validate` (one boot each, THP never).
  const linux = (v72: boolean): string[] => [
    `inside-one-block ${v72 ? 'ok' : 'EINVAL'}`,
    'bounds-round-to-one-block ok ahp=2048',
    'whole ok ahp=8192',
    'again ok',
    `zero-page-block ${v72 ? 'ok ahp=2048' : 'EINVAL ahp=0'}`,
    'zero-page-reads-only EINVAL',
    'never-touched EINVAL',
    'nohugepage EINVAL',
    `no-table-then-full EINVAL ahp=${v72 ? 2048 : 0}`,
    'half-of-first-block EINVAL ahp=2048',
    `shared-with-child ${v72 ? 'ok ahp=2048' : 'EINVAL ahp=0'}`,
    'child sees its own page: yes',
    'shmem ok',
    `ext4-shared-file ${v72 ? 'ok' : 'EINVAL'}`,
    '',
  ];
  // Model limit (README, kernel-notes §15.4): no collapse_file, so shmem and (7.2) ext4 file
  // ranges get EINVAL where Linux collapses their page cache.
  const model = (v72: boolean): string[] => linux(v72).map((l) => (l === 'shmem ok' ? 'shmem EINVAL' : l === 'ext4-shared-file ok' ? 'ext4-shared-file EINVAL' : l));
  for (const profile of ['linux-6.12', 'linux-7.2'] as const) {
    it(`${profile}: every answer and AnonHugePages figure but the collapse_file ones`, async () => {
      const v72 = profile === 'linux-7.2';
      const r = await runCaptured({ elf: firmwareBinary('collapse_cases'), profile });
      expect(r.stdout).toBe(model(v72).join('\n'));
      expect(model(v72)).not.toEqual(linux(v72));
      expect(r.end.exitCode).toBe(0);
      expect(r.summary.counts.bbm_violations).toBe(0);
    }, 180_000);
  }
});

describe('identity', () => {
  it('--uid 0 runs the program as root (the kernel selftests write /sys/kernel/mm); a bad uid is bad input', async () => {
    const { Machine } = await import('../../src/machine/machine.js');
    const root = new Machine({ elf: firmwareBinary('hello'), uid: 0 });
    const user = new Machine({ elf: firmwareBinary('hello') });
    try {
      expect([root.linux.ids.uid, root.linux.ids.gid]).toEqual([0, 0]);
      expect([user.linux.ids.uid, user.linux.ids.gid]).toEqual([1000, 1000]);
    } finally {
      root.close();
      user.close();
    }
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [path.join(process.cwd(), 'dist/src/cli/main.js'), 'run', '--uid', '-5', firmwareBinary('hello')], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--uid/);
  });
});

describe('wis_harness syscall testcases: the counts the loops define', () => {
  const run = (args: string[]) => runCaptured({ elf: firmwareBinary('wis_harness'), args: [...args, '-q'] });

  it('brk1 threads: 100 more rounds on each of 4 threads are exactly 800 more brk calls', async () => {
    const a = await run(['-c', 'brk1', '-m', 'threads', '-t', '4', '-i', '100']);
    const b = await run(['-c', 'brk1', '-m', 'threads', '-t', '4', '-i', '200']);
    expect([a.end.exitCode, b.end.exitCode]).toEqual([0, 0]);
    expect(b.summary.counts.syscalls.by_name['brk']! - a.summary.counts.syscalls.by_name['brk']!).toBe(800);
    expect(b.summary.ops! - a.summary.ops!).toBe(800);
  }, 180_000);

  it('read1: 300 more reads per task copy 299 pages more each (one of them meets end of file)', async () => {
    const a = await run(['-c', 'read1', '-m', 'processes', '-t', '2', '-i', '300']);
    const b = await run(['-c', 'read1', '-m', 'processes', '-t', '2', '-i', '600']);
    expect([a.end.exitCode, b.end.exitCode]).toEqual([0, 0]);
    const copied = (r: typeof a): number => (r.summary.counts.pagecache['read_bytes'] as number) + (r.summary.counts.pagecache['read_uncached_bytes'] as number);
    expect(copied(b) - copied(a)).toBe(2 * 299 * 4096);
    expect(b.summary.counts.syscalls.by_name['lseek']! - a.summary.counts.syscalls.by_name['lseek']!).toBe(2);
  }, 180_000);
});
