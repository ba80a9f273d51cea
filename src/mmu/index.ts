/**
 * The architecture: VMSAv8-64 stage 1 (EL1&0, 4 KiB granule) over simulated physical memory.
 * Knows nothing of Linux or Unicorn. See README.md here for the model and its choices.
 */
export type { Access, FaultKind } from '../trace/events.js';
export * from './geometry.js';
export * from './descriptor.js';
export * from './perms.js';
export * from './regs.js';
export * from './physmem.js';
export * from './walker.js';
export * from './walkcache.js';
export * from './tlbi.js';
export * from './tlb.js';
export * from './stats.js';
export * from './checker.js';
export * from './mmu.js';
