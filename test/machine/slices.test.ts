/**
 * Where a wall-clock slice ends changes no count. The CLI runs the guest in ~100 ms slices so
 * that Ctrl-C can stop it; a slice ends at the first svc or abort after its time, which differs
 * between runs. The engine's `sliceEvery` test hook ends a slice at every Nth svc or abort where
 * a wall-clock one could end, so each run below puts the slice ends at different points of the
 * same program; every count (the whole `counts` object), the guest's output and its exit code
 * must be those of a run that was never sliced.
 */
import { describe, expect, it } from 'vitest';
import { firmwareBinary, type FirmwareProgram, type MultitaskProgram } from '../firmware/cases.js';
import { unicornVersion } from '../../src/engine/index.js';
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

/**
 * With Unicorn 2.1 or later, a run that makes no svc or abort for a long time (a compute loop)
 * is stopped by the engine's watchdog thread when its slice is up, between two translated
 * blocks, and resumed there. The stop lands wherever the guest is, inside a hook too, at
 * different points on every run. Unicorn 2.0.1 (Debian 12's libunicorn2) does not resume
 * correctly after such a stop, so there slices end only at svc and abort (see EngineOptions).
 */
const [major, minor] = unicornVersion();
const timerSlices = major > 2 || (major === 2 && minor >= 1);

describe('wall-clock slices ended by the timer: no count changes, and a compute loop can be interrupted', () => {
  const TIMED: readonly { program: FirmwareProgram; args: readonly string[]; sets?: readonly string[] }[] = [
    { program: 'compute', args: ['300000000'] },
    { program: 'calls', args: ['rand', '100000'] },
    { program: 'page_fault3', args: ['16M', '2'], sets: ['anon_mthp=64K'] },
    { program: 'stride', args: ['4096', '16', '64'] },
  ];
  for (const c of TIMED) {
    it(`${[c.program, ...c.args].join(' ')}: slices of 1 ms change nothing`, async () => {
      const sets = c.sets ?? [];
      const base = await runCaptured({ elf: firmwareBinary(c.program), args: c.args, sets });
      expect(base.end.exitCode, base.end.message).toBe(0);
      let pauses = 0;
      const run = await runCaptured({
        elf: firmwareBinary(c.program),
        args: c.args,
        sets,
        sliceMs: 1,
        interrupted: () => {
          pauses++;
          return null;
        },
      });
      expect({ end: run.end, stdout: run.stdout }).toEqual({ end: base.end, stdout: base.stdout });
      expect(run.summary.counts).toEqual(base.summary.counts);
      // compute makes 6 svcs and about 20 aborts (model-TLB misses included), where slices can
      // end without the timer; its loop runs for more than 0.3 s, hundreds of 1 ms slices.
      if (c.program === 'compute') expect(pauses > 100, `${pauses} pauses with Unicorn ${major}.${minor}`).toBe(timerSlices);
      else expect(pauses).toBeGreaterThan(0);
    }, 120_000);
  }

  it('an interrupt asked at the 50th pause stops a compute loop inside it (Unicorn 2.1), or never comes (2.0.1)', async () => {
    let pauses = 0;
    const r = await runCaptured({
      elf: firmwareBinary('compute'),
      // 0.3 s or more of a loop without svc or abort, between one marker and the next three: with
      // 2 ms slices, hundreds of pauses with the timer; without it, no more than compute's 6 svcs
      // and some 25 aborts (its model-TLB misses and faults), however slow the machine.
      args: ['200000000'],
      sliceMs: 2,
      interrupted: () => (++pauses === 50 ? 'SIGINT' : null),
    });
    if (timerSlices) {
      expect(r.end.reason).toBe('interrupted');
      expect(r.end.message).toMatch(/^interrupted by SIGINT at pc 0x[0-9a-f]+: the counts are partial$/);
      expect(r.summary.counts.syscalls.by_name).toEqual({ lab_marker: 1 });
      expect(r.stdout).toBe('');
    } else {
      // 2.0.1: slices end only at svc and abort, too few for a 50th pause: the loop runs out.
      expect(r.end.reason).toBe('exit');
      expect(r.stdout).toMatch(/^compute ops=200000000 /);
    }
  }, 120_000);
});
