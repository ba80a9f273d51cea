/**
 * Start-up verification of how the engine learns a fault's address and direction.
 *
 * Unicorn 2.0.1 gives the abort hook no FAR/ESR, so the engine decodes the faulting instruction
 * (a64-access.ts). Before any guest runs, a small program of load/store forms runs against pages
 * at known addresses, each access made to fault, and for every probe:
 *   1. the decoded accesses must equal the ones computed here from the probe's registers;
 *   2. with exactly the decoded pages mapped read-only, a load must complete and a store (or
 *      atomic) must fault again as a permission fault — so QEMU agrees on address and direction;
 *   3. with those pages writable, the store must complete.
 * Any disagreement stops the engine with a message naming the probe, what was expected and what
 * was decoded: with a wrong decoder every fault the model sees would be misattributed.
 */
import { EnvironmentError } from '../util/errors.js';
import type { MemAccess } from './a64-access.js';
import { splitByPage } from './a64-access.js';
import type { Engine } from './engine.js';
import { PAGE_SIZE, VA_LIMIT } from './layout.js';
import type { AbortInfo, AbortResponse, EngineHooks, StopReason } from './types.js';

/** Pages of the engine's region: the EL1 stub, the probe's code and data, then shadow tables. */
export const PROBE_PAGES = Object.freeze({ stub: 0, code: 1, data: [2, 3, 4] as const, firstTablePage: 8 });

/** The probe's virtual addresses: just below the top of the user range, unmapped afterwards. */
export const PROBE_CODE_VA = VA_LIMIT - 2 ** 21;
export const PROBE_DATA_VA = PROBE_CODE_VA + 0x10000;

const D0 = PROBE_DATA_VA;
const D1 = D0 + PAGE_SIZE;
const D2 = D0 + 2 * PAGE_SIZE;

/** Register values the probe program starts with. */
const REGS: Readonly<Record<number, number>> = {
  1: D0 + 0xff8, // STP of 16 bytes crosses from D0 into D1
  2: D1 + 0x100,
  3: 8,
  4: D2 + 0x43, // DC ZVA rounds down to the block
  5: D2 + 0x800,
  6: 0x1111,
  7: 0x2222,
  8: D0 + 0x200,
};

interface Probe {
  readonly word: number;
  readonly asm: string;
  /** The accesses, computed from REGS by hand (not by the decoder). */
  readonly expect: (dczBlockBytes: number) => MemAccess[];
}

// Words assembled with aarch64-linux-gnu-as -march=armv8.1-a. A probe's pages are unmapped when
// the next probe faults, so each probe touches a page the one before it did not map.
const PROBES: readonly Probe[] = [
  { word: 0xf9400840, asm: 'ldr x0, [x2, #16]', expect: () => [{ va: D1 + 0x110, size: 8, kind: 'read' }] },
  { word: 0xa9001c26, asm: 'stp x6, x7, [x1]', expect: () => [{ va: D0 + 0xff8, size: 16, kind: 'write' }] },
  { word: 0xf82300a0, asm: 'ldadd x3, x0, [x5]', expect: () => [{ va: D2 + 0x800, size: 8, kind: 'write' }] },
  { word: 0x3ce37840, asm: 'ldr q0, [x2, x3, lsl #4]', expect: () => [{ va: D1 + 0x180, size: 16, kind: 'read' }] },
  { word: 0xd50b7424, asm: 'dc zva, x4', expect: (bs) => [{ va: D2 + 0x43 - ((D2 + 0x43) % bs), size: bs, kind: 'write' }] },
  { word: 0x885f7d00, asm: 'ldxr w0, [x8]', expect: () => [{ va: D0 + 0x200, size: 4, kind: 'read' }] },
  { word: 0x4cc3a040, asm: 'ld1 {v0.16b, v1.16b}, [x2], x3', expect: () => [{ va: D1 + 0x100, size: 32, kind: 'read' }] },
];
const SVC0 = 0xd4000001;

export interface ProbeRegion {
  /** Physical address of page `page` of the engine's region. */
  pagePa(page: number): number;
  writeWord(pa: number, word: number): void;
}

function accessText(a: readonly MemAccess[]): string {
  if (a.length === 0) return 'no access';
  return a.map((x) => `${x.kind} [0x${x.va.toString(16)}, +${x.size})`).join(', ');
}

function sameAccesses(a: readonly MemAccess[], b: readonly MemAccess[]): boolean {
  return a.length === b.length && a.every((x, i) => x.va === b[i]!.va && x.size === b[i]!.size && x.kind === b[i]!.kind);
}

/** Runs the probe program; throws EnvironmentError if the fault decoding cannot be trusted. */
export function runStartupProbe(engine: Engine, region: ProbeRegion): void {
  const codePa = region.pagePa(PROBE_PAGES.code);
  PROBES.forEach((p, i) => region.writeWord(codePa + 4 * i, p.word));
  region.writeWord(codePa + 4 * PROBES.length, SVC0);
  const dataPa = (va: number): number => region.pagePa(PROBE_PAGES.data[(Math.floor(va / PAGE_SIZE) - Math.floor(D0 / PAGE_SIZE))]!);

  for (const [n, v] of Object.entries(REGS)) engine.setX(Number(n), v);

  const shadow = engine.shadow;
  const mapped = new Set<number>();
  const mapData = (va: number, writable: boolean): void => {
    const page = va - (va % PAGE_SIZE);
    if (mapped.has(page)) shadow.unmap(page, PAGE_SIZE);
    shadow.map(page, PAGE_SIZE, dataPa(page), { r: true, w: writable, x: false });
    mapped.add(page);
  };
  const unmapData = (): void => {
    for (const page of mapped) shadow.unmap(page, PAGE_SIZE);
    mapped.clear();
  };

  let step = 0;
  let stage: 'fresh' | 'readonly' | 'writable' = 'fresh';
  let codeMapped = false;
  let failure: string | undefined;
  const fail = (msg: string): StopReason => {
    failure = msg;
    return { kind: 'error', message: msg };
  };
  const name = (i: number): string => `probe ${i} '${PROBES[i]!.asm}'`;

  /** Checks that probe `step` finished as its direction requires, then moves to `next`. */
  const advance = (next: number): string | undefined => {
    const p = PROBES[step]!;
    const write = p.expect(engine.dczBlockBytes).some((a) => a.kind === 'write');
    const wanted = write ? 'writable' : 'readonly';
    if (stage !== wanted) {
      return `${name(step)} completed with its pages ${stage === 'fresh' ? 'unmapped' : stage}; a ${write ? 'store' : 'load'} must complete only once they are ${wanted}`;
    }
    unmapData();
    step = next;
    stage = 'fresh';
    return undefined;
  };

  const hooks: EngineHooks = {
    readInsn: (pc) => {
      const i = (pc - PROBE_CODE_VA) / 4;
      if (!Number.isInteger(i) || i < 0 || i > PROBES.length) return undefined;
      return i === PROBES.length ? SVC0 : PROBES[i]!.word;
    },
    onSvc: () => {
      if (step !== PROBES.length - 1) return fail(`the probe program reached its end after probe ${step} of ${PROBES.length}`);
      const err = advance(PROBES.length);
      return err ? fail(err) : { kind: 'exit', code: 0 };
    },
    onAbort: (info: AbortInfo): AbortResponse => {
      if (info.kind === 'instruction') {
        if (codeMapped || info.pc !== PROBE_CODE_VA || info.cause !== 'translation') {
          return fail(`unexpected instruction abort at 0x${info.pc.toString(16)} (${info.cause})`);
        }
        shadow.map(PROBE_CODE_VA, PAGE_SIZE, codePa, { r: true, w: false, x: true });
        codeMapped = true;
        return 'retry';
      }
      const i = (info.pc - PROBE_CODE_VA) / 4;
      if (!Number.isInteger(i) || i < 0 || i >= PROBES.length) return fail(`data abort at 0x${info.pc.toString(16)}, outside the probe program`);
      if (i !== step) {
        if (i !== step + 1) return fail(`${name(i)} faulted right after ${name(step)}`);
        const err = advance(i);
        if (err) return fail(err);
      }
      const p = PROBES[i]!;
      const want = p.expect(engine.dczBlockBytes);
      const got = info.accesses.map((a) => ({ va: a.va, size: a.size, kind: a.kind })) as MemAccess[];
      if (!sameAccesses(got, want)) {
        return fail(`${name(i)}: expected ${accessText(want)}, decoded ${accessText(got)}`);
      }
      const write = want.some((a) => a.kind === 'write');
      switch (stage) {
        case 'fresh':
          if (info.cause !== 'translation') return fail(`${name(i)}: first fault was a ${info.cause} fault, expected a translation fault`);
          for (const a of got) for (const piece of splitByPage(a, PAGE_SIZE)) mapData(piece.va, false);
          stage = 'readonly';
          return 'retry';
        case 'readonly':
          if (!write) return fail(`${name(i)}: faulted again (${info.cause}) with every decoded page mapped readable, so QEMU accessed something else`);
          if (info.cause !== 'permission') return fail(`${name(i)}: expected a permission fault on the read-only pages, got a ${info.cause} fault`);
          for (const a of got) for (const piece of splitByPage(a, PAGE_SIZE)) mapData(piece.va, true);
          stage = 'writable';
          return 'retry';
        case 'writable':
          return fail(`${name(i)}: faulted again (${info.cause}) with every decoded page writable, so QEMU accessed something else`);
      }
    },
  };

  let result: StopReason;
  try {
    result = engine.runWith(hooks, PROBE_CODE_VA);
  } finally {
    unmapData();
    if (codeMapped) shadow.unmap(PROBE_CODE_VA, PAGE_SIZE);
    shadow.flush();
  }
  if (failure === undefined && !(result.kind === 'exit' && result.code === 0)) {
    failure = 'message' in result && result.message ? result.message : `the probe program stopped (${result.kind})`;
  }
  if (failure !== undefined) {
    throw new EnvironmentError(
      `start-up verification of fault addresses failed: ${failure}. The engine cannot attribute guest faults exactly with this ` +
      `libunicorn build (expected Unicorn 2.0.1 from Debian's libunicorn2), so it stops.`,
    );
  }
}
