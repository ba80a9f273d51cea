/**
 * Child runs and the pool, with real child processes. The child here is a small script that
 * speaks `run --json`'s contract (guest output, then the summary as the last JSON object; an
 * error line on stderr and a non-zero exit on failure): it exercises spawning, argument passing,
 * summary extraction, failures, time-outs and ordering. `contpte-lab run` itself is exercised by
 * test/report/e2e.test.ts.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { findSummary, runArgv, runChild, runPool, type RunResult, type RunSpec } from '../../src/report/runner.js';

let cli = '';

/** Prints what it was asked (as the summary's policy) after some guest output. */
const SCRIPT = `
const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const opts = dd < 0 ? argv : argv.slice(0, dd);
const guest = dd < 0 ? [] : argv.slice(dd + 1);
const sets = [];
let profile = 'linux-6.12';
for (let i = 2; i < opts.length; i++) {
  if (opts[i] === '--set') sets.push(opts[++i]);
  else if (opts[i] === '--profile') profile = opts[++i];
}
const policy = Object.fromEntries(sets.map((s) => s.split('=')));
const finish = () => {
  if (policy.mode === 'fail') {
    process.stderr.write('contpte-lab: --set mode: no such knob\\n');
    process.exit(2);
  }
  process.stdout.write('page_fault3 ops=1 guest output\\n{ not json\\n');
  const summary = { exit_code: 0, end: { reason: 'exit' }, profile, policy, ops: guest.length,
    counts: { faults: { total: sets.length }, tlbi: { total: 1, by_op: { VALE1IS: 1 }, by_site: {} }, dsb: 2 }, dumps: [] };
  process.stdout.write(JSON.stringify(summary, null, policy.pretty === 'yes' ? 2 : 0) + '\\n');
};
const sleep = policy.sleep !== undefined ? Number(policy.sleep) : 0;
setTimeout(finish, sleep);
`;

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'runner-'));
  cli = join(dir, 'fake-run.mjs');
  writeFileSync(cli, SCRIPT);
});

const spec = (sets: string[], args: string[] = []): RunSpec => ({ elf: '/bin/elf', args, profile: 'linux-6.9', sets, extra: ['--max-insns', '1000'] });

describe('runArgv', () => {
  it('is run <elf> --json, the profile, each --set, extra options, then -- and the guest arguments', () => {
    expect(runArgv(spec(['contpte=off', 'tmp_fs=ext4'], ['16M', '2']))).toEqual([
      'run', '/bin/elf', '--json', '--profile', 'linux-6.9', '--set', 'contpte=off', '--set', 'tmp_fs=ext4', '--max-insns', '1000', '--', '16M', '2',
    ]);
    expect(runArgv({ elf: 'e', args: [], sets: [], extra: [] })).toEqual(['run', 'e', '--json']);
  });
});

describe('runChild', () => {
  it('reads the summary after the guest output', async () => {
    const r = await runChild(spec(['contpte=off'], ['16M', '2']), { cli });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.summary.profile).toBe('linux-6.9');
    expect(r.summary.policy).toEqual({ contpte: 'off' });
    expect(r.summary.ops).toBe(2);
    expect(r.summary.counts.tlbi).toEqual({ total: 1, by_op: { VALE1IS: 1 }, by_site: {}, by_chain: {} });
    expect(r.seconds).toBeGreaterThan(0);
  });

  it('reads a pretty-printed summary too', async () => {
    const r = await runChild(spec(['pretty=yes']), { cli });
    expect(r.ok && r.summary.policy).toEqual({ pretty: 'yes' });
  });

  it('a child that fails is a failed result with its exit code and error line, not an exception', async () => {
    const r = await runChild(spec(['mode=fail']), { cli });
    expect(r).toMatchObject({ ok: false, exitCode: 2, error: 'exit code 2: contpte-lab: --set mode: no such knob' });
  });

  it('a child past its time limit is killed and reported', async () => {
    const r = await runChild(spec(['sleep=5000']), { cli, timeoutSeconds: 0.3 });
    expect(r).toMatchObject({ ok: false, error: 'killed after 0.3 s' });
    expect(r.seconds).toBeLessThan(3);
  });

  it('a CLI that does not exist fails cleanly', async () => {
    const r = await runChild(spec([]), { cli: join(tmpdir(), 'no-such-cli.mjs') });
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.error).toMatch(/^exit code 1: /);
  });
});

describe('findSummary', () => {
  it('takes the last JSON object on its own lines, in stdout, else in stderr', () => {
    const a = JSON.stringify({ exit_code: 0, counts: { faults: { total: 1 } } });
    const b = JSON.stringify({ exit_code: 0, counts: { faults: { total: 2 } } });
    const r1 = findSummary(`${a}\nguest line\n${b}\n`, '');
    expect(typeof r1 !== 'string' && r1.counts.faults.total).toBe(2);
    const r2 = findSummary('guest only\n', `warning\n${a}\n`);
    expect(typeof r2 !== 'string' && r2.counts.faults.total).toBe(1);
    const r3 = findSummary(`no newline at the end of the guest's output${a}\n`, '');
    expect(typeof r3 !== 'string' && r3.counts.faults.total).toBe(1);
    expect(findSummary('{"x": 1}\n', '')).toBe("the JSON output is not a summary (no 'counts' object)");
    expect(findSummary('nothing\n', '')).toBe('no JSON summary in the output');
  });
});

describe('runPool', () => {
  it('keeps at most `jobs` children running and returns results in task order', async () => {
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const sleeps = [400, 50, 50, 50];
    const results = await runPool<RunResult>(
      sleeps.map((ms, i) => () => runChild(spec([`sleep=${ms}`, `index=${i}`]), { cli })),
      2,
      (r) => r.ok,
      {
        started: (i) => {
          started.push(i);
          peak = Math.max(peak, ++running);
        },
        finished: () => {
          running--;
        },
      },
    );
    expect(peak).toBe(2);
    expect(started).toEqual([0, 1, 2, 3]);
    expect(results.map((r) => (r.ok ? r.summary.policy['index'] : 'failed'))).toEqual(['0', '1', '2', '3']);
  });
});
