/**
 * The kernel's memory management beyond the page tables: physical pages and folios, VMAs, the
 * page cache and readahead, the fault paths, munmap/exit, mprotect, madvise, brk, user access,
 * and the knobs and profiles that make it behave as one Linux version or another.
 *
 * Where things are: a page fault enters at fault.ts (doPageFault → handleMmFault), and goes to
 * anon-fault.ts, file-fault.ts (finish_fault), filemap.ts / shmem.ts (->fault, fault-around),
 * readahead.ts, wp.ts; teardown is zap.ts; the syscalls are process.ts; the contract with the
 * process layer is api.ts; the machine-wide objects are kernel.ts, the ASID allocator asid.ts; policies are knobs.ts and
 * profiles.ts.
 */
export * from './api.js';
export * from './buddy.js';
export * from './folio.js';
export * from './vma.js';
/** The syscall-level request (api.ts), not vma.ts's placement request of the same name. */
export type { MmapRequest } from './api.js';
export * from './inode.js';
export * from './pagecache.js';
export * from './knobs.js';
export * from './profiles.js';
export * from './stats.js';
export * from './readahead.js';
export * from './asid.js';
export * from './kernel.js';
export * from './process.js';
export * from './uaccess.js';
export { doPageFault, handleMmFault } from './fault.js';
export { folioPteBatch, ZapGather } from './zap.js';
export { pteNeedsFlush } from './mprotect.js';
export { vmGetPageProt, vmaPageProt, vmaWantsWritenotify } from './prot.js';
export { dupMmap, isCowMapping } from './fork.js';
export { MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE } from './mremap.js';
export { MS_ASYNC, MS_INVALIDATE, MS_SYNC, fsyncRange } from './msync.js';
export { MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT, MLOCK_ONFAULT } from './mlock.js';
export { populateRange } from './populate.js';
export { accessRemoteVm, getUserPageRemote, FOLL_FORCE, FOLL_WRITE, type GupPage } from './gup.js';
