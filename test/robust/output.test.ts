/**
 * Output that cannot be written: a reader that went away (`| head -1`) is a quiet end, a full
 * disk (/dev/full) one line on stderr; never an unhandled 'error' event with a stack trace.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');
const HELLO = join(process.cwd(), 'firmware/bin/hello');

function sh(script: string): { out: string; err: string } {
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 120_000 });
  return { out: r.stdout, err: r.stderr };
}

describe('closed pipes and full disks', () => {
  it('run | head -1 with much guest output: the first line, then a quiet end (status 141 or 0)', () => {
    const args = Array.from({ length: 20000 }, (_, i) => `a${i}`).join(' ');
    const r = sh(`node ${CLI} run ${HELLO} ${args} 2>/tmp/contpte-epipe-err.txt | head -1; echo "status=\${PIPESTATUS[0]}"; cat /tmp/contpte-epipe-err.txt`);
    const [first, status, ...rest] = r.out.split('\n');
    expect(first).toBe('hello, world');
    expect(['status=141', 'status=0']).toContain(status);
    expect(rest.join('\n')).not.toMatch(/Error|at .*\.js|EPIPE/);
  });

  it('profiles | head -1: a quiet end', () => {
    const r = sh(`node ${CLI} profiles | head -1; echo "status=\${PIPESTATUS[0]}"`);
    expect(r.out.split('\n')[0]).toMatch(/^Profiles/);
    expect(r.err).toBe('');
  });

  it('stdout on a full disk: one line and exit 1', () => {
    const r = sh(`node ${CLI} run ${HELLO} --json > /dev/full; echo "status=$?"`);
    expect(r.out).toBe('status=1\n');
    expect(r.err.trim().split('\n').pop()).toBe('contpte-lab: cannot write to stdout: no space left on device (ENOSPC)');
    expect(r.err).not.toMatch(/\n\s+at /);
  });
});
