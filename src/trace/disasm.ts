/**
 * AArch64 disassembly of guest instructions for fault events and crash messages, with capstone
 * (the `@alexaltea/capstone-js` WebAssembly build, Capstone 5). Capstone's WASM loads
 * asynchronously, once per process: `await Disassembler.create()`, then `disasm(word, pc)` is
 * synchronous and cached per PC (one capstone call costs about 10 µs; faults repeat PCs).
 *
 * Loading capstone costs a quarter of a second and ~25 MiB, and a run without a trace needs it
 * only for a crash message, if ever: `Disassembler.lazy()` gives the same texts with nothing
 * loaded until the first decode, which then starts a worker thread that loads capstone and
 * answers each decode while the caller waits on a shared flag (Atomics.wait), so the call stays
 * synchronous and the output deterministic.
 *
 * The cache is keyed by PC and remembers the word it decoded, so code that changes under a PC
 * (a new program image, JIT code) is decoded again.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { EnvironmentError } from '../util/errors.js';

interface CapstoneInsn {
  mnemonic: string;
  op_str: string;
}

interface CapstoneHandle {
  disasm(bytes: number[] | Uint8Array, address: number | bigint, max?: number): CapstoneInsn[];
  close(): void;
}

interface CapstoneModule {
  Capstone: new (arch: number, mode: number) => CapstoneHandle;
  ARCH_ARM64: number;
  MODE_ARM: number;
}

type CapstoneFactory = () => Promise<CapstoneModule>;

let loading: Promise<CapstoneModule> | null = null;

function loadCapstone(): Promise<CapstoneModule> {
  if (loading === null) {
    loading = (async () => {
      let factory: CapstoneFactory;
      try {
        // The package is an emscripten CommonJS bundle that finds its .wasm next to itself.
        const require = createRequire(import.meta.url);
        factory = require('@alexaltea/capstone-js') as CapstoneFactory;
      } catch (e) {
        throw new EnvironmentError(
          `capstone is not installed (${e instanceof Error ? e.message : String(e)}): run 'npm install' in the contpte-lab package`,
        );
      }
      return factory();
    })();
    // A failed load may be retried by a later create().
    loading.catch(() => {
      loading = null;
    });
  }
  return loading;
}

/** Most PCs in a trace are a handful of store instructions; the cache stays small. */
const CACHE_LIMIT = 65_536;

export class Disassembler {
  private readonly cache = new Map<number, { word: number; text: string }>();
  private readonly bytes = new Uint8Array(4);
  private decodes = 0;

  private constructor(private readonly cs: CapstoneHandle) {}

  static async create(): Promise<Disassembler> {
    const m = await loadCapstone();
    return new Disassembler(new m.Capstone(m.ARCH_ARM64, m.MODE_ARM));
  }

  /** The same disassembler, loading capstone (in a worker thread) only when first asked. */
  static lazy(): Disassembler {
    return new Disassembler(new WorkerCapstone());
  }

  /**
   * The instruction `word` (little-endian A64, as read from guest memory) at `pc`, as capstone
   * prints it: "strb wzr, [x0, x1]". PC-relative operands are resolved against `pc`. A word that
   * is not a valid instruction gives ".inst 0x<word> (undefined)".
   */
  disasm(word: number, pc: number): string {
    const w = word >>> 0;
    const hit = this.cache.get(pc);
    if (hit !== undefined && hit.word === w) return hit.text;
    const text = this.decode(w, pc);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(pc, { word: w, text });
    return text;
  }

  /** Capstone calls made so far (cache misses). */
  get decoded(): number {
    return this.decodes;
  }

  private decode(w: number, pc: number): string {
    const b = this.bytes;
    b[0] = w & 0xff;
    b[1] = (w >>> 8) & 0xff;
    b[2] = (w >>> 16) & 0xff;
    b[3] = w >>> 24;
    this.decodes++;
    let insns: CapstoneInsn[];
    try {
      // capstone-js throws (with CS_ERR_OK) when nothing decodes.
      insns = this.cs.disasm(Array.from(b), BigInt(pc), 1);
    } catch (e) {
      if (e instanceof EnvironmentError) throw e;
      insns = [];
    }
    const i = insns[0];
    if (i === undefined) return `.inst 0x${w.toString(16).padStart(8, '0')} (undefined)`;
    return i.op_str === '' ? i.mnemonic : `${i.mnemonic} ${i.op_str}`;
  }
}

/**
 * The worker's program (CommonJS, given as text so that it runs the same from dist/ and from the
 * TypeScript sources under vitest). ctrl[0] is the state: 0 idle, 1 a request (ctrl[1] the
 * word, ctrl[2..3] the PC's halves), 2 an answer (ctrl[1] its length in `out`, JSON), 3 a failure
 * (the message in `out`).
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { ctrl, out, capstonePath } = workerData;
const answer = (state, text) => {
  const bytes = Buffer.from(text, 'utf8').subarray(0, out.length);
  out.set(bytes);
  Atomics.store(ctrl, 1, bytes.length);
  Atomics.store(ctrl, 0, state);
  Atomics.notify(ctrl, 0);
};
(async () => {
  let cs;
  try {
    const m = await require(capstonePath)();
    cs = new m.Capstone(m.ARCH_ARM64, m.MODE_ARM);
  } catch (e) {
    for (;;) {
      while (Atomics.load(ctrl, 0) !== 1) Atomics.wait(ctrl, 0, Atomics.load(ctrl, 0));
      answer(3, String(e && e.message || e));
    }
  }
  for (;;) {
    while (Atomics.load(ctrl, 0) !== 1) Atomics.wait(ctrl, 0, Atomics.load(ctrl, 0));
    const w = ctrl[1] >>> 0;
    const pc = BigInt(ctrl[2] >>> 0) | (BigInt(ctrl[3] >>> 0) << 32n);
    let insns;
    try {
      insns = cs.disasm([w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24], pc, 1);
    } catch {
      insns = [];
    }
    answer(2, JSON.stringify(insns.slice(0, 1).map((i) => ({ mnemonic: i.mnemonic, op_str: i.op_str }))));
  }
})();
`;

/** How long a decode may wait for the worker (loading capstone included) before giving up. */
const WORKER_TIMEOUT_MS = 60_000;

/** A CapstoneHandle whose capstone lives in a worker thread, started by the first decode. */
class WorkerCapstone implements CapstoneHandle {
  private worker: Worker | undefined;
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(16));
  private readonly out = new Uint8Array(new SharedArrayBuffer(4096));

  disasm(bytes: number[] | Uint8Array, address: number | bigint): CapstoneInsn[] {
    if (this.worker === undefined) {
      let capstonePath: string;
      try {
        capstonePath = createRequire(import.meta.url).resolve('@alexaltea/capstone-js');
      } catch (e) {
        throw new EnvironmentError(`capstone is not installed (${e instanceof Error ? e.message : String(e)}): run 'npm install' in the contpte-lab package`);
      }
      this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ctrl: this.ctrl, out: this.out, capstonePath } });
      // Never keeps the process alive; the thread ends with it.
      this.worker.unref();
    }
    const { ctrl } = this;
    const pc = BigInt(address);
    ctrl[1] = (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) | 0;
    ctrl[2] = Number(pc & 0xffff_ffffn) | 0;
    ctrl[3] = Number(pc >> 32n) | 0;
    Atomics.store(ctrl, 0, 1);
    Atomics.notify(ctrl, 0);
    const deadline = Date.now() + WORKER_TIMEOUT_MS;
    while (Atomics.load(ctrl, 0) === 1) {
      if (Atomics.wait(ctrl, 0, 1, Math.max(1, deadline - Date.now())) === 'timed-out' && Date.now() >= deadline) {
        throw new EnvironmentError('capstone did not answer within a minute (its worker thread failed to start)');
      }
    }
    const state = Atomics.load(ctrl, 0);
    const text = Buffer.from(this.out.subarray(0, ctrl[1]!)).toString('utf8');
    Atomics.store(ctrl, 0, 0);
    Atomics.notify(ctrl, 0);
    if (state === 3) throw new EnvironmentError(`capstone failed to load: ${text}`);
    return JSON.parse(text) as CapstoneInsn[];
  }

  close(): void {
    void this.worker?.terminate();
    this.worker = undefined;
  }
}
