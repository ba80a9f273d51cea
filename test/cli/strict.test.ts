/**
 * `run --strict` and checker findings through the compiled CLI: every firmware program passes
 * --strict with its expected exit status and no finding; a finding is printed prominently and
 * fails a --strict run with exit 70; repeatable options never swallow the program; trace
 * options without --trace are usage errors.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIRMWARE_CASES, FIRMWARE_PROGRAMS, firmwareBinary } from '../firmware/cases.js';
import { findingsText } from '../../src/report/findings.js';
import { cGuest } from '../robust/guests.js';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');
const HELLO = firmwareBinary('hello');

function run(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, 'run', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('every firmware program under run --strict', () => {
  for (const program of FIRMWARE_PROGRAMS) {
    const c = FIRMWARE_CASES.find((k) => k.program === program)!;
    it(c.title, () => {
      const r = run(firmwareBinary(program), '--strict', '--json', '--', ...c.args);
      const s = JSON.parse(r.out) as { exit_code: number; checker: { total: number; first: unknown[] } };
      expect(s.checker.first[0]).toBeUndefined();
      expect(s.checker.total).toBe(0);
      expect(r.err).not.toContain('CHECKER');
      expect(r.code).toBe(c.exitCode);
    });
  }
});

describe('checker findings', () => {
  const HELLO_C = '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n';

  // The first COW fault of a glibc start-up (issue 14): must be clean once ptep_clear_flush
  // flushes a valid-but-old PTE; until then this test names the finding.
  it('a static-pie glibc hello is clean under --strict', () => {
    const r = run(cGuest(HELLO_C, ['-static-pie']), '--strict', '--json');
    const s = JSON.parse(r.out) as { checker: { total: number; first: { chain: string }[] } };
    expect(s.checker.first[0]?.chain).toBeUndefined();
    expect(r.code).toBe(0);
  });

  // Issue 15: a static musl program (firmware/bin/musl_libc: mallocng, threads, fork, stdio) has
  // no checker finding and ends as under qemu-aarch64 (firmware/expected/musl_libc.out).
  it('a static musl program is clean under --strict', () => {
    const r = run(firmwareBinary('musl_libc'), '--strict', '--json');
    const s = JSON.parse(r.out) as { exit_code: number; checker: { total: number; first: { chain: string }[] }; counts: { syscalls: { by_name: Record<string, number> } } };
    expect(s.checker.first[0]?.chain).toBeUndefined();
    expect(s.checker.total).toBe(0);
    expect(r.err).not.toContain('CHECKER');
    expect(r.code).toBe(0);
    // musl's own paths, not glibc's: writev for stdio, clone for both the threads and fork.
    expect(s.counts.syscalls.by_name['writev']).toBeGreaterThan(0);
    expect(s.counts.syscalls.by_name['clone']).toBe(3);
  });

  it('a run with findings prints them after the summary and --strict exits 70; without --strict the guest status stands', () => {
    const elf = cGuest(HELLO_C, ['-static-pie']);
    const plain = run(elf, '--json');
    const strict = run(elf, '--json', '--strict');
    const s = JSON.parse(strict.out) as { exit_code: number; checker: { total: number } };
    expect(s.exit_code).toBe(0);
    expect(plain.code).toBe(0);
    if (s.checker.total > 0) {
      expect(strict.err).toMatch(new RegExp(`^contpte-lab: CHECKER: ${s.checker.total} finding`, 'm'));
      expect(strict.err).toContain(`contpte-lab: --strict: failing the run (exit 70) for ${s.checker.total} checker finding`);
      expect(strict.code).toBe(70);
      expect(plain.err).toContain('contpte-lab: CHECKER:');
    } else {
      expect(strict.err).not.toContain('CHECKER');
      expect(strict.code).toBe(0);
    }
  });

  it('the text names the rules, the first findings and their call chains', () => {
    const f = { kind: 'bbm_violation' as const, rule: 'bbm_no_tlbi', va: '0x4000', level: 3, asid: 2, detail: 'X written where Y may still be cached', chain: 'do_wp_page > wp_page_copy > set_ptes' };
    expect(findingsText({ total: 0, by_rule: {}, first: [] })).toEqual([]);
    expect(findingsText({ total: 5, by_rule: { bbm_no_tlbi: 4, contig_oa: 1 }, first: [f, f, f, f] })).toEqual([
      "contpte-lab: CHECKER: 5 findings (bbm_no_tlbi ×4, contig_oa ×1): the kernel model broke an architectural rule, so this run's counts are suspect",
      ...[1, 2, 3].flatMap(() => ['  bbm_no_tlbi at va 0x4000 (level 3, asid 2): X written where Y may still be cached', '    chain: do_wp_page > wp_page_copy > set_ptes']),
      '  ... 2 more (all of them with --trace FILE --trace-events bbm_violation,contig_violation)',
    ]);
  });
});

describe('repeatable options and the program', () => {
  it('run --env A=1 prog and run --set k=v prog: the ELF is the first positional argument', () => {
    for (const args of [['--env', 'A=1', HELLO], ['--set', 'contpte=off', HELLO, 'x'], ['--set', 'contpte=off', '--set', 'kpti=on', '--env', 'A=1', '--env', 'B=2', HELLO, '--json']]) {
      const r = run(...args);
      expect(r.code, r.err).toBe(0);
      expect(r.out + r.err).toContain('hello, world');
    }
    const r = run('--set', 'contpte=off', '--set', 'kpti=on', HELLO, '--json', '--', 'arg');
    const s = JSON.parse(r.out) as { policy: Record<string, string> };
    expect([s.policy['contpte'], s.policy['kpti']]).toEqual(['off', 'on']);
    expect(r.err).toContain('argv[1] = arg');
  });

  it('--trace-limit, --trace-events and --trace-format without --trace are usage errors (one line, exit 2)', () => {
    expect(run(HELLO, '--trace-limit', '1MB')).toEqual({ code: 2, out: '', err: 'contpte-lab: --trace-limit needs --trace FILE (there is no trace to cap)\n' });
    expect(run(HELLO, '--trace-events', 'fault')).toEqual({ code: 2, out: '', err: 'contpte-lab: --trace-events needs --trace FILE (there is no trace to filter)\n' });
    // Asking for a format of no trace was silently ignored.
    expect(run(HELLO, '--trace-format', 'perfetto')).toEqual({ code: 2, out: '', err: 'contpte-lab: --trace-format needs --trace FILE (there is no trace to format)\n' });
  });
});
