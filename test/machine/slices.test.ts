/**
 * Where a wall-clock slice ends changes no count. The CLI runs the guest in ~100 ms slices so
 * that Ctrl-C can stop it; a slice ends at the first svc or abort after its time, which differs
 * between runs. The engine's `sliceEvery` test hook ends a slice at every Nth svc or abort where
 * a wall-clock one could end, so each run below puts the slice ends at different points of the
 * same program; every count (the whole `counts` object), the guest's output and its exit code
 * must be those of a run that was never sliced.
 */
import { describe, expect, it } from 'vitest';
import { firmwareBinary, type MultitaskProgram } from '../firmware/cases.js';
import { runCaptured, type CapturedRun } from './helpers.js';

interface SlicedCase {
  readonly program: MultitaskProgram;
  readonly args: readonly string[];
}

const CASES: readonly SlicedCase[] = [
  { program: 'pipe_pingpong', args: [] },
  { program: 'fork_cow', args: [] },
  { program: 'threads', args: ['4'] },
  { program: 'wis_harness', args: ['-c', 'page_fault1', '-m', 'processes', '-t', '4', '-z', '1M', '-i', '4', '-q'] },
  // A signal handler's frame and rt_sigreturn set the PC inside the svc's hook: with the slice
  // ending there, the guest must go on at the new PC, not run the instruction after the svc.
  { program: 'signals', args: [] },
  // SIGSEGV handlers entered from faults (forced writes through /proc/self/mem, tagged pointers).
  { program: 'procmem', args: [] },
  { program: 'tagged_ptr', args: [] },
];

/** Every Nth svc or abort ends a slice: 1 ends one at every point where one can end. */
const EVERY = [1, 2, 3, 7, 31] as const;

/**
 * A run through the CLI's path (runInterruptible), counting the pauses its driver sees: with
 * slices of an hour, only the forced slice ends pause it, so their number is exact.
 */
async function sliced(c: SlicedCase, every: number): Promise<{ run: CapturedRun; pauses: number }> {
  let pauses = 0;
  const run = await runCaptured({
    elf: firmwareBinary(c.program),
    args: c.args,
    sliceMs: 3_600_000,
    sliceEvery: every,
    interrupted: () => {
      pauses++;
      return null;
    },
  });
  return { run, pauses };
}

describe('wall-clock slices: where a slice ends changes no count', () => {
  for (const c of CASES) {
    it(`${[c.program, ...c.args].join(' ')}: slice ends at every ${EVERY.join(', ')}th svc or abort`, async () => {
      const base = await runCaptured({ elf: firmwareBinary(c.program), args: c.args });
      expect(base.end.exitCode, base.end.message).toBe(0);
      const pauses: number[] = [];
      for (const every of EVERY) {
        const { run, pauses: p } = await sliced(c, every);
        expect({ every, end: run.end, stdout: run.stdout }).toEqual({ every, end: base.end, stdout: base.stdout });
        expect({ every, counts: run.summary.counts }).toEqual({ every, counts: base.summary.counts });
        pauses.push(p);
      }
      // The slices did end, and the more often the smaller N.
      for (let i = 1; i < pauses.length; i++) expect(pauses[i - 1]!).toBeGreaterThan(pauses[i]!);
      expect(pauses[pauses.length - 1]!).toBeGreaterThan(0);
    }, 300_000);
  }

  it('a run stopped at a slice end inside a task\'s run ends as interrupted, with the counts so far', async () => {
    let pauses = 0;
    const r = await runCaptured({
      elf: firmwareBinary('pipe_pingpong'),
      sliceMs: 3_600_000,
      sliceEvery: 1,
      interrupted: () => (++pauses === 40 ? 'SIGINT' : null),
    });
    expect(r.end.reason).toBe('interrupted');
    expect(r.end.exitCode).toBeNull();
    expect(r.end.message).toMatch(/^interrupted by SIGINT at pc 0x[0-9a-f]+: the counts are partial$/);
    expect(r.summary.counts.syscalls.total).toBeGreaterThan(0);
  }, 120_000);
});
