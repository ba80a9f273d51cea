/**
 * The virtual TLB mode (Unicorn 2.1.x): QEMU does not walk the shadow tables; every fill of its
 * TLB calls UC_HOOK_TLB_FILL, and this module answers it from the shadow tree the engine
 * translates through now, so QEMU still holds nothing the model TLB does not. The shadow stays
 * exactly as in the shadow mode (the model TLB's fills and removals reach it the same way, its
 * flushes still perform QEMU TLBIs), which is what keeps every count equal between the modes:
 * only who reads the descriptors changes.
 *
 * A fill the shadow refuses is the abort the shadow mode would have taken: the engine handles it
 * inside the hook exactly as its UC_HOOK_INTR handler does (the same decode, the same AbortInfo,
 * the same hooks), then this module looks again. Unicorn's fill hook runs after QEMU has
 * restored the faulting instruction's PC (cpu_restore_state in unicorn_vtlb.c), so the PC and
 * registers the decode reads are those the exception would have shown. When the handling must
 * end the emulation (a stop, a new PC), the hook refuses the fill: Unicorn then ends
 * `uc_emu_start` with UC_ERR_EXCEPTION, the faulting instruction's PC restored.
 *
 * Tagged pointers: Unicorn 2.1.4's A64 translator hands QEMU's TLB the address with its tag
 * (clean_data_tbi keeps it, QEMU dropping it only in its own walk), so the hook drops the tag as
 * TCR_EL1.TBI0 says (ARM ARM D8.8) and QEMU keeps that entry under the tagged address; a TLBI by
 * VA then would not reach it, so while such an entry may exist every QEMU invalidation is a whole
 * flush (`taggedFilled`).
 */
import koffi from 'koffi';
import { UsageError } from '../util/errors.js';
import { PA_BITS } from './layout.js';
import type { ShadowTables } from './shadow.js';
import { UC_MEM_FETCH, UC_MEM_READ, UC_MEM_WRITE, UC_TLB_VIRTUAL } from './unicorn-const.js';
import type { Unicorn } from './unicorn.js';

/** How QEMU learns the model TLB's translations. */
export type TlbMode = 'shadow' | 'virtual';
/** A mode asked for; 'auto' takes the faster one the library offers (DEFAULT_VIRTUAL_TLB). */
export type TlbModeRequest = TlbMode | 'auto';

export const TLB_MODES: readonly TlbModeRequest[] = ['auto', 'shadow', 'virtual'];

/** The environment variable a run's default mode comes from (benchmarks, tests). */
export const TLB_MODE_ENV = 'CONTPTE_LAB_TLB_MODE';

/**
 * Whether 'auto' takes the virtual mode when the library has it. Measured (bench/RESULTS.md,
 * "Virtual TLB mode", paired runs under Unicorn 2.1.4, CPU time): about 20 % less per model-TLB
 * miss, 4 % less on page_fault3, level on rand(), 2-10 % more per context switch (QEMU refills
 * its emptied TLB through the hook). The miss and the fault are this tool's work, so it does.
 */
export const DEFAULT_VIRTUAL_TLB = true;

export function parseTlbMode(text: string, what = '--tlb-mode'): TlbModeRequest {
  if ((TLB_MODES as readonly string[]).includes(text)) return text as TlbModeRequest;
  throw new UsageError(`${what}: '${text}' is not one of ${TLB_MODES.join(', ')}`);
}

/** The mode asked for by the option, else by CONTPTE_LAB_TLB_MODE, else 'auto'. */
export function requestedTlbMode(option: TlbModeRequest | undefined): TlbModeRequest {
  if (option !== undefined) return option;
  const env = process.env[TLB_MODE_ENV];
  return env === undefined || env === '' ? 'auto' : parseTlbMode(env, TLB_MODE_ENV);
}

/**
 * Switches `uc` to the mode asked for, as far as the library allows: 'virtual' on a library
 * without UC_TLB_VIRTUAL (Unicorn 2.0.1) is a UsageError naming the need; 'auto' there is the
 * shadow mode.
 */
export function enterTlbMode(uc: Unicorn, request: TlbModeRequest, version: readonly [number, number]): TlbMode {
  const has = version[0] > 2 || (version[0] === 2 && version[1] >= 1);
  const want: TlbMode = request === 'auto' ? (has && DEFAULT_VIRTUAL_TLB ? 'virtual' : 'shadow') : request;
  if (want === 'shadow') return 'shadow';
  if (!has || !uc.trySetTlbMode(UC_TLB_VIRTUAL)) {
    throw new UsageError(
      `tlb mode 'virtual' needs Unicorn 2.1.x (UC_TLB_VIRTUAL and UC_HOOK_TLB_FILL); the loaded libunicorn is ${version[0]}.${version[1]}: ` +
        "use --tlb-mode shadow, or load Unicorn 2.1.4 (README, 'Unicorn 2.1.4')",
    );
  }
  return 'virtual';
}

/** What the virtual TLB asks of the engine. */
export interface VirtualTlbHost {
  /** The shadow tree the guest translates through now (per CPU and ASID). */
  shadow(): ShadowTables;
  /**
   * Handles the abort QEMU's walk of the shadow would have raised for this access (an
   * instruction abort for a fetch), as the UC_HOOK_INTR handler does: 'retry' when the guest
   * goes on with the same instruction (look again), 'stop' when the emulation must end here.
   * 'not-guest' for a fetch of a page other than the PC's (`vaddr`), which no instruction made:
   * Unicorn looks up its exit address that way when a run ends (resume_all_vcpus), and a
   * refusal there would end the next uc_emu_start with UC_ERR_EXCEPTION.
   */
  abort(exec: boolean, vaddr: number | bigint): 'retry' | 'stop' | 'not-guest';
}

const TAG_SHIFT = 56n;
const UNTAGGED_MASK = (1n << TAG_SHIFT) - 1n;
/** Input addresses TTBR0 can translate (T0SZ = 16): beyond, descriptor indices would wrap. */
const VA_TRANSLATABLE = 2 ** 48;
/**
 * The answer to a lookup no guest access made: a physical address outside every mapped region,
 * so QEMU records an I/O entry (its code lookup then yields nothing to invalidate), and a guest
 * fetch there later ends as an access outside the memory map, as one to any unmapped address.
 */
const NOWHERE_PA = 2 ** PA_BITS;
/** Entry addresses whose views are kept (a handful are ever seen; a bound all the same). */
const MAX_VIEWS = 64;

export class VirtualTlb {
  /** A fill made through a tagged pointer since QEMU's TLB was last emptied. */
  taggedFilled = false;
  /** Fills answered, and fills that needed the abort path first (not reported as counts). */
  fills = 0;
  misses = 0;

  /**
   * Views of the uc_tlb_entry the hook is handed, by its address. The entry is a local of
   * Unicorn's fill function, so its address is one of the few stack depths QEMU fills from
   * (loads, stores, code lookups); a view made once per address (koffi.view, ~3 µs) then costs
   * nothing per fill, where writing through koffi costs a native call: measured on this machine
   * with a C driver calling the hook, ~185-255 ns per callback against ~330-820 for a memcpy
   * through koffi and ~220 for an empty callback. Written only while Unicorn's frame is live.
   */
  private readonly views = new Map<bigint, Uint32Array>();

  constructor(uc: Unicorn, private readonly host: VirtualTlbHost) {
    uc.hookTlbFill((vaddr, type, result) => this.fill(vaddr, type, result));
  }

  /** Writes the uc_tlb_entry {u64 paddr, int perms} at `result`. */
  private put(result: bigint, pa: number, perms: number): void {
    let v = this.views.get(result);
    if (v === undefined) {
      if (this.views.size >= MAX_VIEWS) this.views.clear();
      v = new Uint32Array(koffi.view(result, 12));
      this.views.set(result, v);
    }
    v[0] = pa >>> 0;
    v[1] = Math.floor(pa / 4294967296);
    v[2] = perms;
  }

  private fill(vaddr: number | bigint, type: number, result: bigint): boolean {
    let va: number;
    let tagged = false;
    if (typeof vaddr === 'number') {
      va = vaddr < VA_TRANSLATABLE ? vaddr : -1;
    } else if (((vaddr >> 55n) & 1n) === 1n) {
      // An upper-half address: TTBR1's, which the model never maps.
      va = -1;
    } else {
      const untagged = vaddr & UNTAGGED_MASK;
      tagged = untagged !== vaddr;
      va = untagged < BigInt(VA_TRANSLATABLE) ? Number(untagged) : -1;
    }
    const need = type === UC_MEM_READ ? 1 : type === UC_MEM_WRITE ? 2 : type === UC_MEM_FETCH ? 4 : 0;
    for (;;) {
      const shadow = this.host.shadow();
      const pa = va < 0 ? -1 : shadow.qemuFill(va);
      if (pa >= 0 && (shadow.fillProt & need) !== 0) {
        this.put(result, pa, shadow.fillProt);
        if (tagged) this.taggedFilled = true;
        this.fills++;
        return true;
      }
      this.misses++;
      const r = this.host.abort(need === 4, vaddr);
      if (r === 'stop') return false;
      if (r === 'not-guest') {
        this.put(result, NOWHERE_PA, need);
        return true;
      }
    }
  }
}
