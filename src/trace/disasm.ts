/**
 * AArch64 disassembly of guest instructions for fault events and crash messages, with capstone
 * (the `@alexaltea/capstone-js` WebAssembly build, Capstone 5). Capstone's WASM loads
 * asynchronously, once per process: `await Disassembler.create()`, then `disasm(word, pc)` is
 * synchronous and cached per PC (one capstone call costs about 10 µs; faults repeat PCs).
 *
 * The cache is keyed by PC and remembers the word it decoded, so code that changes under a PC
 * (a new program image, JIT code) is decoded again.
 */
import { createRequire } from 'node:module';
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
    } catch {
      insns = [];
    }
    const i = insns[0];
    if (i === undefined) return `.inst 0x${w.toString(16).padStart(8, '0')} (undefined)`;
    return i.op_str === '' ? i.mnemonic : `${i.mnemonic} ${i.op_str}`;
  }
}
