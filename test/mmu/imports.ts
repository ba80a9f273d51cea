/** What the mmu tests import, in one place: the public surface of src/mmu. */
export * from '../../src/mmu/index.js';
export type { U64 as U64Like } from '../../src/util/u64.js';
