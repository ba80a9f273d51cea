/**
 * The engine: Unicorn 2.0.1 through koffi, the guest at EL0 with the MMU on, the guest-physical
 * pool, shadow tables equal to the model TLB, and exact fault addresses for the machine.
 */
export * from './types.js';
export { Engine, copyAbortInfo, type EngineOptions, type EngineStats, type Decoder } from './engine.js';
export { ShadowTables, ShadowPagePool, type ShadowPerms, type ShadowAttrs, type ShadowEntry, type ExpectedEntry, type ShadowLookup, type AccessCheck, type ShadowStats, type QemuTlbi } from './shadow.js';
export { decodeAccess, splitByPage, insnHex, type MemAccess, type AccessKind, type DecodeResult, type DecodeContext, type RegisterReader } from './a64-access.js';
export { PHYS_BASE, VA_LIMIT, PA_BITS, DEFAULT_MEM_MB, MAX_MEM_MB, shadowBaseFor } from './layout.js';
export { MT_NORMAL } from './cpu.js';
export { ShadowSync, shadowPermsOf } from './tlb-sync.js';
export { ShadowForest, DEFAULT_MAX_TREES } from './shadow-forest.js';
export { parseTlbMode, TLB_MODES, TLB_MODE_ENV, DEFAULT_VIRTUAL_TLB, type TlbMode, type TlbModeRequest } from './virtual-tlb.js';
export { Unicorn, UnicornError, loadUnicorn, openUnicornLibrary, unicornVersion, ucStrerror, sysRegName, UNICORN_LIBRARY, UNICORN_PACKAGE, type SysReg } from './unicorn.js';
export { HostRegion } from './hostmem.js';
export * as uc from './unicorn-const.js';
export * as sysregs from './sysregs.js';
