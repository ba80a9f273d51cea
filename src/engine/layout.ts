/**
 * The guest's address spaces as Unicorn sees them (docs/internals.md, "Address space"):
 *
 *   VA  [0, VA_LIMIT)                 one PROT_NONE host reservation, never touched: Unicorn 2.0.1
 *                                     checks the *virtual* address against its memory map before
 *                                     translating, so every guest VA must fall inside some region
 *   PA  [PHYS_BASE, +mem_mb MiB)      the guest-physical pool the memory manager allocates from
 *   PA  [shadowBase, +shadowBytes)    the engine's own pages: shadow translation tables, the EL1
 *                                     entry stub and the start-up probe's pages
 */
import { PHYS_BASE } from '../mmu/physmem.js';

/** Guest-physical memory starts at 1 TiB (mmu/physmem.ts); guest VAs stay below it. */
export { PHYS_BASE };
/** One past the highest guest VA: the model's TASK_SIZE. */
export const VA_LIMIT = 2 ** 40;
/** The CPU's physical address range (PARange of QEMU's Cortex-A57-based "max" CPU: 44 bits). */
export const PA_BITS = 44;

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

export const DEFAULT_MEM_MB = 2048;
/**
 * Largest pool: the pool is one ArrayBuffer over host memory for PhysMem (koffi.view, a N-API
 * external ArrayBuffer). Node 20 refuses those above 4 GiB (buffer.constants.MAX_LENGTH) and
 * aborts the process natively instead of throwing, so 4 GiB is the real limit and is checked
 * before the view is made.
 */
export const MAX_MEM_MB = 4096;

/** Default size of the shadow region: 65536 table pages, reserved lazily (MAP_NORESERVE). */
export const DEFAULT_SHADOW_BYTES = 256 << 20;

/** Where the engine's region starts for a pool of `memMb` MiB: the next 2 MiB boundary. */
export function shadowBaseFor(memMb: number): number {
  const end = PHYS_BASE + memMb * 2 ** 20;
  return Math.ceil(end / 2 ** 21) * 2 ** 21;
}
