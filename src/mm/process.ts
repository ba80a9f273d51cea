/**
 * One process's address space (struct mm_struct) and the system calls on it: the
 * `ProcessMemory` contract of src/mm/api.ts. mmap/munmap/brk follow mm/mmap.c and mm/vma.c
 * (6.12), mprotect mm/mprotect.c, madvise mm/madvise.c, exit mm/mmap.c exit_mmap.
 *
 * ASIDs: `contextId` is mm->context.id (generation and ASID), kept by the allocator (asid.ts),
 * which may give the mm another ASID after a rollover. `asid` is its ASID (ASID(mm)), the value
 * the page-table layer's TLBIs start from; under KPTI it is even and the user half is asid | 1.
 * The machine loads `userAsid` into TTBR0_EL1 (and `mmu.regs.asid`) through MmKernel.switchTo.
 */
import {
  EACCES,
  EAGAIN,
  EEXIST,
  EINVAL,
  ENOMEM,
  EOVERFLOW,
  EPERM,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  type FaultOutcome,
  type MmapRequest,
  type ProcessMemory,
  type UserPageRef,
} from './api.js';
import type { Access, FaultKind } from '../trace/events.js';
import { PAGE_SIZE } from '../mmu/physmem.js';
import { PMD_SIZE } from '../pgtable/pte.js';
import type { MmContext } from '../pgtable/policy.js';
import { GuestOutOfMemory } from '../util/errors.js';
import { AsidAllocator } from './asid.js';
import { doPageFault } from './fault.js';
import { splitHugePmdIfNeeded } from './huge-memory.js';
import { dupMmap } from './fork.js';
import { accessRemoteVm, FOLL_FORCE, FOLL_WRITE } from './gup.js';
import { populateRange } from './populate.js';
import { doMincore } from './mincore.js';
import { canDoMlock, doMlock, doMlock2, doMlockall, MEMLOCK_UNLIMITED, mlockFutureOk, type MemlockLimits } from './mlock.js';
import { doMremap } from './mremap.js';
import { doMsync } from './msync.js';
import type { Inode } from './inode.js';
import type { MmKernel } from './kernel.js';
import { inspectMm, type MmInspect } from './introspect.js';
import { doMadvise } from './madvise.js';
import { changeProtection } from './mprotect.js';
import { accessUser } from './uaccess.js';
import {
  DEFAULT_RLIMIT_STACK,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_PRIVATE,
  MAP_SHARED,
  VM_ACCESS_FLAGS,
  VM_ACCOUNT,
  VM_GROWSDOWN,
  VM_LOCKED,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_NORESERVE,
  VM_READ,
  VM_SHARED,
  VM_SHMEM_ANON_OPS,
  VM_WRITE,
  VmaSet,
  type Vma,
} from './vma.js';
import { freePgtables, unmapPageRange, ZapGather } from './zap.js';

/** mmap flags beyond those vma.ts defines (include/uapi/asm-generic/mman*.h). */
export const MAP_TYPE = 0x0f;
export const MAP_SHARED_VALIDATE = 0x03;
export const MAP_GROWSDOWN = 0x0100;
export const MAP_LOCKED = 0x2000;
export const MAP_NORESERVE = 0x4000;
export const MAP_POPULATE = 0x8000;
export const MAP_NONBLOCK = 0x10000;

const PROT_ALL = PROT_READ | PROT_WRITE | PROT_EXEC;
/** PROT_SEM, PROT_GROWSDOWN, PROT_GROWSUP: accepted by mprotect, no effect here. */
const PROT_OTHER = 0x8 | 0x01000000 | 0x02000000;

function pageAlignUp(n: number): number {
  return Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
}

export interface ProcessOptions {
  /** TASK_SIZE for this process (default 2^40, docs/internals.md). */
  taskSize?: number;
}

export class Process implements ProcessMemory, MmContext {
  readonly isUser = true;
  /** mm->context.id: the allocator's generation and ASID (0 until MmKernel.newProcess assigns it). */
  contextId = 0;
  readonly pgd: number;
  /** mm->mm_id: which mm a large folio's mapcount slots name (never reused). */
  readonly mmId: number;
  tlbFlushPending = 0;
  /** mm->def_flags: vm_flags every new mapping gets (mlockall(MCL_FUTURE) puts VM_LOCKED here). */
  defFlags = 0;
  /**
   * RLIMIT_MEMLOCK and CAP_IPC_LOCK of the task making the call (the process layer sets them
   * before mmap, brk, mremap and the mlock calls); unlimited by default.
   */
  memlock: MemlockLimits = MEMLOCK_UNLIMITED;
  readonly vmas: VmaSet;
  /** mm->start_brk and mm->brk. */
  private startBrk = 0;
  private curBrk = 0;
  private exited = false;
  /** The PTE table of the PMD pteAlloc looked up last (-1: none). */
  private lastPmd = -1;
  private lastPteTable = 0;

  constructor(
    readonly kernel: MmKernel,
    opts: ProcessOptions = {},
  ) {
    this.pgd = kernel.pgtable.tables.pgdAlloc();
    this.mmId = kernel.allocMmId();
    this.vmas = new VmaSet({ ...(opts.taskSize !== undefined ? { taskSize: opts.taskSize } : {}), anonThpAlign: kernel.policy.anon_thp_align });
    this.vmas.adjustTransHuge = (vma, addr) => splitHugePmdIfNeeded(this, vma, addr);
  }

  /** ASID(mm): the ASID of the mm's context id. */
  get asid(): number {
    return AsidAllocator.asidOf(this.contextId);
  }

  /** The ASID the machine loads for EL0 (the user half under KPTI). */
  get userAsid(): number {
    return this.kernel.pgtable.raw.userAsid(this);
  }

  get hasExited(): boolean {
    return this.exited;
  }

  private live(op: string): void {
    if (this.exited) throw new Error(`${op} on a process whose address space was torn down (exit_mmap)`);
  }

  // ---------------------------------------------------------------------------------------------
  // Faults and user access

  handleFault(va: number, access: Access, fault: FaultKind): FaultOutcome {
    this.live('handleFault');
    return doPageFault(this.kernel, this, va, access, fault);
  }

  /**
   * lock_mm_and_find_vma: the VMA containing va, or a VM_GROWSDOWN VMA just above it that can
   * grow down to it (expand_downwards: within RLIMIT_STACK and clear of the VMA below by the
   * stack guard gap).
   */
  findVmaForFault(va: number): Vma | null {
    const vma = this.vmas.findVma(va);
    if (vma === null) return null;
    if (vma.start <= va) return vma;
    if (!(vma.flags & VM_GROWSDOWN)) return null;
    const address = va - (va % PAGE_SIZE);
    if (address < this.vmas.mmapMinAddr) return null;
    if (vma.end - address > DEFAULT_RLIMIT_STACK) return null;
    const prev = this.vmas.prevOf(vma);
    if (prev !== null && address - prev.end < this.vmas.stackGuardGap) return null;
    const grow = (vma.start - address) / PAGE_SIZE;
    vma.start = address;
    vma.pgoff -= grow;
    return vma;
  }

  /** The PTE's physical address for a page, allocating page tables on the way (__handle_mm_fault + pte_alloc). */
  pteAlloc(address: number): number {
    const pmd = Math.floor(address / PMD_SIZE);
    if (pmd === this.lastPmd) return this.lastPteTable + ((address / PAGE_SIZE) & 511) * 8;
    const p = this.kernel.pgtable.tables.pteAllocMap(this, address);
    if (p === undefined) {
      throw new GuestOutOfMemory(`out of guest physical memory allocating page tables for 0x${address.toString(16)}; raise --set mem_mb (now ${this.kernel.policy.mem_mb})`);
    }
    this.lastPmd = pmd;
    this.lastPteTable = p - ((address / PAGE_SIZE) & 511) * 8;
    return p;
  }

  /** The PTE table pteAlloc found last covers address: its PTE's address, or -1 (the PMD must be looked at). */
  cachedPtep(address: number): number {
    return Math.floor(address / PMD_SIZE) === this.lastPmd ? this.lastPteTable + ((address / PAGE_SIZE) & 511) * 8 : -1;
  }

  /** pud_alloc + pmd_alloc: the PMD entry's address for addr, allocating upper tables on the way. */
  pmdAlloc(address: number): number {
    const p = this.kernel.pgtable.tables.pmdAlloc(this, address);
    if (p === undefined) {
      throw new GuestOutOfMemory(`out of guest physical memory allocating page tables for 0x${address.toString(16)}; raise --set mem_mb (now ${this.kernel.policy.mem_mb})`);
    }
    return p;
  }

  /**
   * Forget the PTE table pteAlloc found last: free_pgtables calls it, as page tables are freed
   * only there (the walk the kernel repeats on every fault, cached for the model's speed).
   */
  invalidatePteCache(): void {
    this.lastPmd = -1;
  }

  getUserPage(va: number): UserPageRef | null {
    this.live('getUserPage');
    const t = accessUser(this, va, 'read');
    if (!t.ok) return null;
    const k = this.kernel;
    const pa = t.pa - (t.pa % PAGE_SIZE);
    // The zero page has no folio (vm_normal_page): nothing to hold.
    const folio = k.memmap.folioOfPfn(pa / PAGE_SIZE);
    if (folio !== undefined) k.memmap.folioGet(folio);
    const off = k.mem.offset(pa, PAGE_SIZE);
    let held = folio !== undefined;
    return {
      page: k.mem.u8.subarray(off, off + PAGE_SIZE),
      release: () => {
        if (held) k.memmap.folioPut(folio!);
        held = false;
      },
    };
  }

  copyToUser(va: number, bytes: Uint8Array): number {
    this.live('copyToUser');
    const mem = this.kernel.mem;
    let done = 0;
    while (done < bytes.length) {
      const t = accessUser(this, va + done, 'write');
      if (!t.ok) return done;
      const n = Math.min(bytes.length - done, PAGE_SIZE - ((va + done) % PAGE_SIZE));
      mem.write(t.pa, bytes.subarray(done, done + n));
      done += n;
    }
    return done;
  }

  copyFromUser(va: number, len: number, into?: Uint8Array): Uint8Array | null {
    this.live('copyFromUser');
    const mem = this.kernel.mem;
    const out = into !== undefined && into.length >= len ? into.subarray(0, len) : new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const t = accessUser(this, va + done, 'read');
      if (!t.ok) return null;
      const n = Math.min(len - done, PAGE_SIZE - ((va + done) % PAGE_SIZE));
      out.set(mem.read(t.pa, n), done);
      done += n;
    }
    return out;
  }

  strncpyFromUser(va: number, max: number): string | null {
    this.live('strncpyFromUser');
    const mem = this.kernel.mem;
    const bytes: number[] = [];
    let a = va;
    while (bytes.length < max) {
      const t = accessUser(this, a, 'read');
      if (!t.ok) return null;
      const n = Math.min(max - bytes.length, PAGE_SIZE - (a % PAGE_SIZE));
      const chunk = mem.read(t.pa, n);
      const nul = chunk.indexOf(0);
      if (nul >= 0) {
        for (let i = 0; i < nul; i++) bytes.push(chunk[i]!);
        return new TextDecoder().decode(Uint8Array.from(bytes));
      }
      for (const b of chunk) bytes.push(b);
      a += n;
    }
    return null;
  }

  accessRemote(va: number, len: number, data: Uint8Array | null): Uint8Array | number {
    // mmget_not_zero failed: the address space is gone, nothing is transferred.
    if (this.exited) return data !== null ? 0 : new Uint8Array(0);
    const flags = FOLL_FORCE | (data !== null ? FOLL_WRITE : 0);
    const r = accessRemoteVm(this, va, data !== null ? data.length : len, data, flags);
    return data !== null ? r.done : r.bytes;
  }

  // ---------------------------------------------------------------------------------------------
  // mmap

  mmap(req: MmapRequest): number {
    this.live('mmap');
    const k = this.kernel;
    k.mmStats.mmap_calls++;
    return k.telemetry.calls.within('do_mmap', () => this.doMmap(req));
  }

  private doMmap(req: MmapRequest): number {
    let flags = req.flags;
    const prot = req.prot;
    if (!(req.len > 0)) return -EINVAL;
    if (prot & ~(PROT_ALL | PROT_OTHER)) return -EINVAL;
    const type = flags & MAP_TYPE;
    if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) return -EINVAL;
    const shared = type !== MAP_PRIVATE;
    if (flags & MAP_FIXED_NOREPLACE) flags |= MAP_FIXED;
    const file = flags & MAP_ANONYMOUS ? null : req.file;
    if (!(flags & MAP_ANONYMOUS) && file === null) return -EINVAL;
    let hint = req.addr;
    if (flags & MAP_FIXED) {
      if (hint % PAGE_SIZE !== 0) return -EINVAL;
    } else {
      hint -= hint % PAGE_SIZE;
      if (hint !== 0 && hint < this.vmas.mmapMinAddr) hint = pageAlignUp(this.vmas.mmapMinAddr);
    }
    const len = pageAlignUp(req.len);
    if (len > this.vmas.taskSize) return -ENOMEM;
    let pgoff = req.pgoff;
    if (!Number.isSafeInteger(pgoff) || pgoff < 0 || pgoff + len / PAGE_SIZE > Number.MAX_SAFE_INTEGER) return -EOVERFLOW;
    if (flags & MAP_FIXED && hint + len > this.vmas.taskSize) return -ENOMEM;

    let vmFlags = (prot & PROT_ALL) | this.defFlags | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
    if (flags & MAP_GROWSDOWN) vmFlags |= VM_GROWSDOWN;
    if (flags & MAP_LOCKED) vmFlags |= VM_LOCKED;
    if (file !== null) {
      if (shared) {
        const writable = req.fileWritable ?? false;
        if (prot & PROT_WRITE && !writable) return -EACCES;
        vmFlags |= VM_SHARED | VM_MAYSHARE;
        if (!writable) vmFlags &= ~(VM_MAYWRITE | VM_SHARED);
      }
      // shmem_mmap / shmem_mmap_prepare: shmem_anon_vm_ops for a tmpfs file with no link left.
      if (file.fsType === 'tmpfs' && (req.fileNlink ?? 1) === 0) vmFlags |= VM_SHMEM_ANON_OPS;
    } else if (shared) {
      // shmem_zero_setup: shared anonymous memory gets shmem_anon_vm_ops.
      vmFlags |= VM_SHARED | VM_MAYSHARE | VM_SHMEM_ANON_OPS;
      pgoff = 0;
    }

    const area = this.vmas.getUnmappedArea({ len, hint, flags, file, pgoff });
    if (area.kind !== 'ok') return -{ ENOMEM, EINVAL, EPERM }[area.errno];
    const addr = area.addr;
    if (flags & MAP_FIXED_NOREPLACE && this.vmas.findVmaIntersection(addr, addr + len) !== null) return -EEXIST;
    if (flags & MAP_LOCKED && !canDoMlock(this.memlock)) return -EPERM;
    if (!mlockFutureOk(this, vmFlags, len)) return -EAGAIN;
    if (file === null && !shared) pgoff = addr / PAGE_SIZE;
    if (flags & MAP_NORESERVE) vmFlags |= VM_NORESERVE;
    // accountable_mapping: private writable memory is charged to the commit limit.
    if ((vmFlags & (VM_NORESERVE | VM_SHARED | VM_WRITE)) === VM_WRITE) vmFlags |= VM_ACCOUNT;
    // mmap_region: an accountable mapping must pass the overcommit policy first.
    if (vmFlags & VM_ACCOUNT && !this.vmEnoughMemory(len / PAGE_SIZE)) return -ENOMEM;

    // mmap_region: a fixed mapping replaces what was there.
    if (flags & MAP_FIXED) this.doMunmap(addr, len);
    // shmem_zero_setup: shared anonymous memory is a shmem file of the mapping's size.
    const backing: Inode | null = file ?? (shared ? this.kernel.newAnonShmem(len) : null);
    const r = this.vmas.mapRange({ start: addr, end: addr + len, flags: vmFlags, pgoff, file: backing });
    if (r.kind !== 'ok') throw new Error(`mmap: [0x${addr.toString(16)}, +0x${len.toString(16)}) overlaps a mapping after unmapping it`);
    // do_mmap: a locked mapping is populated like MAP_POPULATE (lock-on-fault ones are skipped there).
    if (vmFlags & VM_LOCKED || (flags & MAP_POPULATE && !(flags & MAP_NONBLOCK))) this.populate(addr, addr + len);
    return addr;
  }

  /** mm_populate (MAP_POPULATE, mlock): see populate.ts. */
  private populate(start: number, end: number): void {
    populateRange(this, start, end, 'auto', 'mlock');
  }

  /** mm_populate for mlock, mlockall and a grown locked mremap. */
  populateLocked(start: number, end: number): void {
    this.populate(start, end);
  }

  /** do_munmap from inside the mm (mremap, MREMAP_FIXED): not counted as a munmap call. */
  unmapRange(start: number, len: number): void {
    this.doMunmap(start, len);
  }

  mremap(addr: number, oldLen: number, newLen: number, flags: number, newAddr: number): number {
    this.live('mremap');
    this.kernel.mmStats.mremap_calls++;
    return this.kernel.telemetry.calls.within('mremap', () => doMremap(this, addr, oldLen, newLen, flags, newAddr));
  }

  msync(start: number, len: number, flags: number): number {
    this.live('msync');
    return doMsync(this, start, len, flags);
  }

  mlock(start: number, len: number): number {
    this.live('mlock');
    return doMlock(this, start, len, VM_LOCKED);
  }

  mlock2(start: number, len: number, flags: number): number {
    this.live('mlock2');
    return doMlock2(this, start, len, flags);
  }

  munlock(start: number, len: number): number {
    this.live('munlock');
    return doMlock(this, start, len, 0);
  }

  mlockall(flags: number): number {
    this.live('mlockall');
    return doMlockall(this, flags);
  }

  munlockall(): number {
    this.live('munlockall');
    return doMlockall(this, 0, true);
  }

  /** mincore: one byte per page of [start, start + len), or -errno. */
  mincore(start: number, len: number): Uint8Array | number {
    this.live('mincore');
    return doMincore(this, start, len);
  }

  // ---------------------------------------------------------------------------------------------
  // munmap, exit

  munmap(addr: number, len: number): number {
    this.live('munmap');
    this.kernel.mmStats.munmap_calls++;
    if (addr % PAGE_SIZE !== 0 || addr > this.vmas.taskSize || len > this.vmas.taskSize - addr) return -EINVAL;
    const l = pageAlignUp(len);
    if (l === 0) return -EINVAL;
    return this.kernel.telemetry.calls.within('do_vmi_munmap', () => this.doMunmap(addr, l));
  }

  /** do_vmi_align_munmap: detach the VMAs of the range (splitting the ends), then unmap_region. */
  private doMunmap(start: number, len: number): number {
    const end = start + len;
    if (this.vmas.findVmaIntersection(start, end) === null) return 0;
    const d = this.vmas.detachRange(start, end);
    this.unmapRegion(d.removed, d.prev, d.next);
    this.kernel.releaseAnonShmem(d.removed);
    return 0;
  }

  /**
   * unmap_region (6.9 mm/mmap.c; vms_clear_ptes in 6.12): one gather for the zap of every
   * removed VMA and the freeing of the page tables only they used, then the final flush.
   */
  private unmapRegion(removed: readonly Vma[], prev: Vma | null, next: Vma | null): void {
    const k = this.kernel;
    const calls = k.telemetry.calls;
    calls.enter('unmap_region');
    try {
      const g = new ZapGather(k, this, false);
      calls.within('unmap_vmas', () => {
        for (const vma of removed) unmapPageRange(g, vma, vma.start, vma.end);
      });
      freePgtables(g, removed, prev !== null ? prev.end : 0, next !== null ? next.start : 0);
      g.finish();
    } finally {
      calls.leave();
    }
  }

  /**
   * fork's half on the memory side (dup_mm): a new mm with its own pgd and ASID (from
   * MmKernel.newProcess, the one place ASIDs are handed out), the parent's VMAs and page tables
   * copied as dup_mmap does (fork.ts), and the brk area.
   */
  fork(): Process {
    this.live('fork');
    const child = this.kernel.newProcess({ taskSize: this.vmas.taskSize });
    this.kernel.telemetry.calls.within('dup_mm', () => dupMmap(this, child));
    child.startBrk = this.startBrk;
    child.curBrk = this.curBrk;
    return child;
  }

  exitMmap(): void {
    if (this.exited) return;
    const k = this.kernel;
    const calls = k.telemetry.calls;
    calls.enter('exit_mmap');
    try {
      const all = [...this.vmas.all()];
      const g = new ZapGather(k, this, true);
      calls.within('unmap_vmas', () => {
        for (const vma of all) unmapPageRange(g, vma, vma.start, vma.end);
      });
      freePgtables(g, all, 0, 0);
      g.finish();
      if (all.length > 0) this.vmas.detachRange(0, this.vmas.taskSize);
      k.pgtable.tables.pgdFree(this.pgd);
      this.exited = true;
      k.releaseAnonShmem(all);
      k.forgetProcess(this);
    } finally {
      calls.leave();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // mprotect, madvise, brk

  mprotect(addr: number, lenIn: number, prot: number): number {
    this.live('mprotect');
    const k = this.kernel;
    k.mmStats.mprotect_calls++;
    if (addr % PAGE_SIZE !== 0) return -EINVAL;
    if (prot & ~(PROT_ALL | PROT_OTHER)) return -EINVAL;
    if (lenIn < 0) return -EINVAL;
    const len = pageAlignUp(lenIn);
    if (len === 0) return 0;
    const end = addr + len;
    if (end > this.vmas.taskSize) return -ENOMEM;
    return k.telemetry.calls.within('do_mprotect_pkey', () => {
      let vma = this.vmas.vmaLookup(addr);
      if (vma === null) return -ENOMEM;
      const g = new ZapGather(k, this, false);
      try {
        let nstart = addr;
        for (;;) {
          const newFlags = (prot & PROT_ALL) | (vma.flags & ~VM_ACCESS_FLAGS);
          // Each VM_MAY* flag is its VM_* flag shifted left by 4.
          if ((newFlags & ~(newFlags >> 4)) & VM_ACCESS_FLAGS) return -EACCES;
          const tmp = Math.min(vma.end, end);
          this.mprotectFixup(g, vma, nstart, tmp, newFlags);
          nstart = tmp;
          if (nstart >= end) return 0;
          const nextVma = this.vmas.vmaLookup(nstart);
          if (nextVma === null) return -ENOMEM;
          vma = nextVma;
        }
      } finally {
        g.finish();
      }
    });
  }

  /** mprotect_fixup: split or merge so [start, end) has the new flags, then change its PTEs. */
  private mprotectFixup(g: ZapGather, vma: Vma, start: number, end: number, newFlags: number): void {
    if (newFlags === vma.flags) return;
    let flags = newFlags;
    // Private writable memory becomes accountable when it first gains write permission.
    if ((flags & (VM_WRITE | VM_SHARED | VM_NORESERVE)) === VM_WRITE) flags |= VM_ACCOUNT;
    const r = this.vmas.modifyFlags(vma, start, end, flags);
    changeProtection(g, r.vma, start, end);
  }

  madvise(addr: number, len: number, advice: number): number {
    this.live('madvise');
    this.kernel.mmStats.madvise_calls++;
    return doMadvise(this, addr, len, advice);
  }

  /** /proc's view of this mm (introspect.ts). */
  inspect(): MmInspect {
    return inspectMm(this.kernel, this, () => this.vmas.all(), () => ({ start: this.startBrk, end: this.curBrk }));
  }

  setBrkBase(addr: number): void {
    this.live('setBrkBase');
    this.startBrk = this.curBrk = pageAlignUp(addr);
  }

  /**
   * __vm_enough_memory (mm/util.c, v6.12) for modes 0 and 1: OVERCOMMIT_ALWAYS accepts anything;
   * OVERCOMMIT_GUESS refuses only a single request larger than all RAM (there is no swap).
   */
  private vmEnoughMemory(pages: number): boolean {
    switch (this.kernel.policy.overcommit_memory) {
      case '1':
        return true;
      case '0':
        return pages <= this.kernel.buddy.poolPages;
    }
  }

  brk(addr: number): number {
    this.live('brk');
    const k = this.kernel;
    k.mmStats.brk_calls++;
    return k.telemetry.calls.within('brk', () => this.doBrk(addr));
  }

  private doBrk(brk: number): number {
    const orig = this.curBrk;
    if (brk < this.startBrk) return orig;
    const newBrk = pageAlignUp(brk);
    const oldBrk = pageAlignUp(this.curBrk);
    if (oldBrk === newBrk) {
      this.curBrk = brk;
      return brk;
    }
    if (brk <= this.curBrk) {
      // Shrinking is munmap of the part given back, if it is the brk area's own.
      const v = this.vmas.findVmaIntersection(newBrk, oldBrk);
      if (v === null || v.start >= oldBrk) return orig;
      this.curBrk = brk;
      this.doMunmap(newBrk, oldBrk - newBrk);
      return brk;
    }
    if (newBrk > this.vmas.taskSize) return orig;
    // The next VMA must stay a stack guard gap away.
    const next = this.vmas.findVma(oldBrk);
    if (next !== null) {
      const gapStart = next.flags & VM_GROWSDOWN ? next.start - this.vmas.stackGuardGap : next.start;
      if (newBrk + PAGE_SIZE > gapStart && next.start < newBrk + PAGE_SIZE + this.vmas.stackGuardGap) return orig;
    }
    if (this.vmas.findVmaIntersection(oldBrk, newBrk) !== null) return orig;
    // do_brk_flags: grow the brk VMA or start one (VM_DATA_DEFAULT_FLAGS, accountable).
    // check_brk_limits: a heap that mlockall(MCL_FUTURE) would lock must fit RLIMIT_MEMLOCK.
    if (!mlockFutureOk(this, this.defFlags, newBrk - oldBrk)) return orig;
    if (!this.vmEnoughMemory((newBrk - oldBrk) / PAGE_SIZE)) return orig;
    const flags = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT | this.defFlags;
    const r = this.vmas.mapRange({ start: oldBrk, end: newBrk, flags, pgoff: oldBrk / PAGE_SIZE, file: null });
    if (r.kind !== 'ok') return orig;
    this.curBrk = brk;
    // mlockall(MCL_FUTURE): the new heap is populated at once.
    if (this.defFlags & VM_LOCKED) this.populate(oldBrk, newBrk);
    return brk;
  }
}
