/**
 * The virtual TLB mode (QEMU's TLB fills answered by a hook, Unicorn 2.1.x) changes no count:
 * the same programs run in both modes must give the same `counts` (every group: faults, TLB
 * lookups, walks, fills, evictions, TLBIs, shadow maps and QEMU invalidations, the engine's
 * aborts), the same output and the same end. Under Unicorn 2.0.1, which has no such mode, the
 * virtual mode must be refused with a message naming the need, and 'auto' must be the shadow
 * mode; the test says which library it ran with.
 */
import { describe, expect, it } from 'vitest';
import { Engine, unicornVersion } from '../../src/engine/index.js';
import { firmwareBinary, type FirmwareProgram, type MultitaskProgram } from '../firmware/cases.js';
import { runCaptured } from './helpers.js';

const [major, minor] = unicornVersion();
const HAS_VIRTUAL = major > 2 || (major === 2 && minor >= 1);

interface ModeCase {
  readonly program: FirmwareProgram | MultitaskProgram;
  readonly args: readonly string[];
  readonly sets?: readonly string[];
}

const CASES: readonly ModeCase[] = [
  { program: 'page_fault3', args: ['2M', '2'] },
  // Every load a model-TLB miss: fills, evictions and QEMU invalidations by VA.
  { program: 'stride', args: ['256', '16', '2'] },
  // A sweep through a small FIFO TLB evicts the loop's own code page now and then: the shadow
  // mode's retry then takes an instruction abort, which the fill hook must take too.
  { program: 'stride', args: ['2048', '1', '2'], sets: ['tlb_entries=255'] },
  { program: 'mprotect_page', args: ['15', '4', '2M'] },
  { program: 'cow_data', args: [] },
  { program: 'partial_munmap', args: [] },
  // Several tasks and CPUs: context switches between shadow trees, instruction quanta.
  { program: 'fork_cow', args: [] },
  { program: 'threads', args: ['4'] },
  // SIGSEGV handlers entered from faults; tagged pointers (TBI).
  { program: 'procmem', args: [] },
  { program: 'tagged_ptr', args: [] },
  // Code written by the kernel model (read(2), /proc/self/mem, page-cache writes): QEMU's
  // translations of it are dropped in either mode.
  { program: 'code_write', args: [] },
];

describe(`TLB modes (libunicorn ${major}.${minor})`, () => {
  if (HAS_VIRTUAL) {
    for (const c of CASES) {
      it(`${[c.program, ...c.args, ...(c.sets ?? [])].join(' ')}: the same counts with QEMU walking the shadow and with the fill hook`, async () => {
        const opts = { elf: firmwareBinary(c.program), args: c.args, sets: [...(c.sets ?? [])] };
        const shadow = await runCaptured({ ...opts, tlbMode: 'shadow' });
        const virtual = await runCaptured({ ...opts, tlbMode: 'virtual' });
        expect(shadow.end.exitCode, shadow.end.message).toBe(0);
        expect({ end: virtual.end, stdout: virtual.stdout }).toEqual({ end: shadow.end, stdout: shadow.stdout });
        expect(virtual.summary.counts).toEqual(shadow.summary.counts);
        expect(virtual.summary.dumps).toEqual(shadow.summary.dumps);
        // Work was done: the comparison is not between two empty runs.
        expect(shadow.summary.counts.tlb.fills).toBeGreaterThan(0);
      }, 120_000);
    }

    it("'auto' is the virtual mode on Unicorn 2.1.x (DEFAULT_VIRTUAL_TLB), 'shadow' the walks", () => {
      for (const [tlbMode, want] of [['auto', 'virtual'], ['shadow', 'shadow'], ['virtual', 'virtual']] as const) {
        const e = new Engine({ memMb: 16, tlbMode });
        try {
          expect(e.tlbMode).toBe(want);
          expect(e.virtualTlb === undefined).toBe(want === 'shadow');
        } finally {
          e.close();
        }
      }
    });
  } else {
    it('refuses the virtual mode on Unicorn 2.0, naming the need for 2.1.x', () => {
      expect(() => new Engine({ memMb: 16, tlbMode: 'virtual' })).toThrow(/tlb mode 'virtual' needs Unicorn 2\.1\.x .*the loaded libunicorn is 2\.0/);
    });

    it("'auto' and 'shadow' run the shadow mode", () => {
      for (const tlbMode of ['auto', 'shadow'] as const) {
        const e = new Engine({ memMb: 16, tlbMode });
        try {
          expect(e.tlbMode).toBe('shadow');
          expect(e.virtualTlb).toBeUndefined();
        } finally {
          e.close();
        }
      }
    });
  }

  it('a bad mode is a usage error naming the choices', async () => {
    const { parseTlbMode } = await import('../../src/engine/index.js');
    expect(() => parseTlbMode('fast')).toThrow("--tlb-mode: 'fast' is not one of auto, shadow, virtual");
  });
});
