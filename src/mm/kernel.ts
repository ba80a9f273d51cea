/**
 * The kernel's memory management for one machine: the objects every process shares (physical
 * memory, the buddy allocator and memmap, the page cache, the mmu and the page-table layer, the
 * policy) and the processes' address spaces (`newProcess()`).
 *
 * How the machine uses it: construct one (a profile and `--set` strings, or a resolved policy;
 * optionally the PhysMem the engine shares with Unicorn and an Mmu built with mmuOptionsFrom),
 * call newProcess(), load `process.pgd` and `process.userAsid` into TTBR0_EL1 and `mmu.regs`
 * (switchTo does the mmu half, through the ASID allocator), and on every guest abort: `mmu.translate(va, access, 0)`, and on
 * a fault `process.handleFault(va, access, kind)`, then translate again (accessUser is that
 * loop, for tests and uaccess).
 */
import { PHYS_BASE, PhysMem } from '../mmu/physmem.js';
import { Mmu } from '../mmu/mmu.js';
import { Pgtable } from '../pgtable/index.js';
import { Telemetry } from '../trace/telemetry.js';
import { UsageError } from '../util/errors.js';
import { AsidAllocator, type AsidBits } from './asid.js';
import { raPagesOf } from './blkdev.js';
import { Buddy, MAX_PAGE_ORDER } from './buddy.js';
import { Memmap, type Folio } from './folio.js';
import { Inode, type FsType } from './inode.js';
import type { MmPolicy } from './knobs.js';
import { MAX_PAGECACHE_ORDER, PageCache, truncateInodePages, truncateSetsize, type TruncateResult, type WriteMissOrder } from './pagecache.js';
import { Process, type ProcessOptions } from './process.js';
import { DEFAULT_PROFILE, mmuOptionsFrom, pgtablePolicyFrom, resolvePolicy, type ProfileName } from './profiles.js';
import { FileRaState, type RaContext } from './readahead.js';
import { registerFaultStats, registerMmStats, type FaultStats, type MmStats } from './stats.js';
import { zapPageRangeSingle } from './madvise.js';
import type { ZapDetails } from './zap.js';
import type { Vma } from './vma.js';


/** zap_details of a punched hole: private copy-on-write copies stay (even_cows = false). */
const KEEP_COWS: ZapDetails = { evenCows: false };
export { PHYS_BASE };

export interface MmKernelOptions {
  /** A profile name and overrides (ignored when `policy` is given). */
  profile?: string;
  sets?: readonly string[];
  /** An already resolved policy (the machine resolves once and shares it). */
  policy?: MmPolicy;
  telemetry?: Telemetry;
  /** The physical pool (the engine's host memory); default: a fresh one of mem_mb MiB at PHYS_BASE. */
  mem?: PhysMem;
  /** An mmu built by the caller over `mem`; default: one from the policy. */
  mmu?: Mmu;
}

/** What a file system's page cache is like under this policy (the linux layer's FsTraits). */
export interface FsTraits {
  readonly largeFolios: boolean;
  readonly maxOrder?: number;
  readonly writeMiss: WriteMissOrder;
}

export class MmKernel {
  readonly telemetry: Telemetry;
  readonly profile: ProfileName;
  readonly policy: MmPolicy;
  readonly mem: PhysMem;
  readonly buddy: Buddy;
  readonly memmap: Memmap;
  readonly pageCache: PageCache;
  readonly mmu: Mmu;
  readonly pgtable: Pgtable;
  readonly faultStats: FaultStats;
  readonly mmStats: MmStats;
  /** The shared zero page's pfn (the last page of the pool, reserved: no folio). */
  readonly zeroPfn: number;
  /** The arm64 ASID allocator (arch/arm64/mm/context.c). */
  readonly asids: AsidAllocator;
  /**
   * The 'locked' answer of the file ->fault handlers (filemap.ts `faultLocked`), one record
   * rewritten by every fault: each caller reads it at once, as the kernel's reads vmf->page.
   */
  readonly faultLockedResult: { kind: 'locked'; folio: Folio; major: boolean } = { kind: 'locked', folio: null as unknown as Folio, major: false };
  /** The PTE table each huge PMD has deposited, by the PMD entry's physical address (huge-memory.ts). */
  readonly pmdDeposits = new Map<number, number>();
  private hugeZero: Folio | null = null;
  private nextMmId = 1;
  private nextIno = 1 << 30;
  private readonly processes = new Set<Process>();
  private readonly anonShmem = new WeakSet<Inode>();
  private readonly vmaCloseHooks = new Map<Inode, () => void>();
  private readonly ra = new WeakMap<Inode, RaContext>();
  /** The file raContext answered for last, and its context. */
  private lastRaInode: Inode | null = null;
  private lastRa: RaContext | null = null;

  constructor(opts: MmKernelOptions = {}) {
    if (opts.policy !== undefined) {
      this.policy = opts.policy;
      this.profile = (opts.profile ?? DEFAULT_PROFILE) as ProfileName;
    } else {
      const r = resolvePolicy(opts.profile ?? DEFAULT_PROFILE, opts.sets ?? []);
      this.policy = r.policy;
      this.profile = r.profile;
    }
    this.telemetry = opts.telemetry ?? new Telemetry();
    this.mem = opts.mem ?? PhysMem.allocate(PHYS_BASE, this.policy.mem_mb * 1024 * 1024);
    if (this.mem.size < 2 * (1 << MAX_PAGE_ORDER) * 4096) throw new UsageError(`mem_mb: ${this.mem.size >> 20} MiB is too small (at least 8 MiB)`);
    this.buddy = new Buddy(this.mem, this.telemetry);
    this.memmap = new Memmap(this.buddy, this.telemetry);
    this.zeroPfn = this.mem.endPfn - 1;
    this.memmap.reserve(this.zeroPfn, 1);
    this.mem.zero(this.zeroPfn * 4096, 4096);
    this.pageCache = new PageCache(this.memmap, this.telemetry);
    this.mmu = opts.mmu ?? new Mmu(this.mem, this.telemetry, mmuOptionsFrom(this.policy));
    this.pgtable = new Pgtable(this.mmu, pgtablePolicyFrom(this.policy), this.telemetry, this.memmap, this.memmap);
    const bits = Number(this.policy.asid_bits) as AsidBits;
    const usable = (2 ** bits) / (this.policy.kpti ? 2 : 1) - 1;
    if (usable <= this.mmu.cpus.length) throw new UsageError(`asid_bits=${bits}: ${usable} usable ASIDs${this.policy.kpti ? ' (kpti=on uses pairs)' : ''} are not more than the ${this.mmu.cpus.length} CPUs; use asid_bits=16 or fewer cpus`);
    this.asids = new AsidAllocator({ bits, kpti: this.policy.kpti, cpus: this.mmu.cpus.length }, this.mmu, this.telemetry.calls, this.telemetry.stats);
    this.faultStats = registerFaultStats(this.telemetry.stats);
    this.mmStats = registerMmStats(this.telemetry.stats);
  }

  /**
   * mm_get_huge_zero_folio: the order-9 zero folio, allocated on first use and kept for good
   * (the model never shrinks it); null when no 2 MiB block is free.
   */
  hugeZeroFolio(): Folio | null {
    if (this.hugeZero !== null) return this.hugeZero;
    const r = this.memmap.folioAlloc(9);
    if (r.kind !== 'ok') return null;
    this.memmap.folioZero(r.folio);
    r.folio.uptodate = true;
    this.hugeZero = r.folio;
    return r.folio;
  }

  /** The huge zero folio if one was allocated (is_huge_zero_pmd compares with it). */
  get hugeZeroFolioIfAny(): Folio | null {
    return this.hugeZero;
  }

  /** A new address space with a fresh pgd and an ASID from the allocator (asid.ts). */
  newProcess(opts: ProcessOptions = {}): Process {
    const p = new Process(this, opts);
    this.asids.assign(p);
    this.processes.add(p);
    return p;
  }

  /** mm_id_alloc: a fresh id for a new mm's large-folio mapcount slots. */
  allocMmId(): number {
    return this.nextMmId++;
  }

  /**
   * switch_mm on the mmu's current CPU: the ASID allocator's check_and_switch_context when the
   * CPU's mm changes (which may give `p` a new ASID, or flush the CPU's TLB after a rollover),
   * then TTBR0_EL1 and the EL0 ASID.
   */
  switchTo(p: Process): void {
    this.asids.switchMm(p, this.mmu.cpu.index);
    this.mmu.regs = { ...this.mmu.regs, ttbr0: p.pgd, asid: p.userAsid };
  }

  /** The mm CPU `cpu` last switched to, if any. */
  loadedMm(cpu: number): Process | null {
    return this.asids.loadedOn(cpu) as Process | null;
  }

  /** Called by exit_mmap. */
  forgetProcess(p: Process): void {
    this.processes.delete(p);
  }

  get liveProcesses(): readonly Process[] {
    return [...this.processes];
  }

  /** The readahead state of a file (per inode here; see readahead.ts). */
  raState(inode: Inode): FileRaState {
    return this.raContext(inode).ra;
  }

  /** What readahead works on for this file: its page cache, state, variant and counters. */
  raContext(inode: Inode): RaContext {
    // Every file fault asks, nearly always for the file of the fault before: no WeakMap look-up then.
    if (inode === this.lastRaInode) return this.lastRa!;
    let ctx = this.ra.get(inode);
    if (ctx === undefined) {
      ctx = { mapping: inode.mapping, ra: new FileRaState(raPagesOf(this.policy)), variant: this.policy.readahead, stats: this.mmStats };
      this.ra.set(inode, ctx);
    }
    this.lastRaInode = inode;
    this.lastRa = ctx;
    return ctx;
  }

  /**
   * The page-cache traits of a file system under this policy: ext4 gets large folios (up to
   * file_max_order) when file_large_folios is on, and write() misses sized by the write; tmpfs
   * supports large folios (shmem decides its own orders) with one-page write misses.
   */
  fsTraits(fsType: FsType): FsTraits {
    switch (fsType) {
      case 'ext4':
        return this.policy.file_large_folios
          ? { largeFolios: true, maxOrder: this.policy.file_max_order, writeMiss: 'write_size' }
          : { largeFolios: false, writeMiss: 'order0' };
      case 'tmpfs': {
        // write() misses follow the mount's huge= (shmem_write_begin has no VMA); faults decide
        // their own orders (shmem.ts).
        const huge = this.policy.tmpfs_huge;
        const orders = this.policy.tmpfs_huge_orders === 'any' ? [1, 2, 3, 4, 5, 6, 7, 8, 9] : [MAX_PAGECACHE_ORDER];
        const writeMiss: WriteMissOrder = huge === 'always' || huge === 'within_size' ? { kind: 'shmem_huge', huge, orders } : 'order0';
        return { largeFolios: true, maxOrder: MAX_PAGECACHE_ORDER, writeMiss };
      }
      case 'proc':
        return { largeFolios: false, writeMiss: 'order0' };
      default: {
        const never: never = fsType;
        throw new Error(`unknown file system ${String(never)}`);
      }
    }
  }

  /** The file system type /tmp is mounted with. */
  get tmpFsType(): FsType {
    return this.policy.tmp_fs;
  }

  /** A regular file on `fsType` with the policy's page-cache traits (for tests and simple callers). */
  newInode(init: { fsType: FsType; size?: number; content?: Uint8Array | null; ino?: number }): Inode {
    const t = this.fsTraits(init.fsType);
    return new Inode(this.pageCache, {
      ino: init.ino ?? this.nextIno++,
      fsType: init.fsType,
      ...(init.size !== undefined ? { size: init.size } : {}),
      content: init.content ?? null,
      largeFolios: t.largeFolios,
      ...(t.maxOrder !== undefined ? { maxOrder: t.maxOrder } : {}),
    });
  }

  /** shmem_zero_setup: the shmem file behind a shared anonymous mapping of `size` bytes. */
  newAnonShmem(size: number): Inode {
    const inode = new Inode(this.pageCache, { ino: this.nextIno++, fsType: 'tmpfs', size, largeFolios: true, maxOrder: MAX_PAGECACHE_ORDER });
    this.anonShmem.add(inode);
    return inode;
  }

  /**
   * Files whose mappings the process layer counts (SysV shm segments: shm_close): the hook runs
   * after each VMA that mapped the file is gone (munmap, exit, exec). null removes it.
   */
  onVmaClose(inode: Inode, hook: (() => void) | null): void {
    if (hook === null) this.vmaCloseHooks.delete(inode);
    else this.vmaCloseHooks.set(inode, hook);
  }

  /** VMAs of live processes that map `inode`. */
  mappingCount(inode: Inode): number {
    let n = 0;
    for (const p of this.processes) {
      if (p.hasExited) continue;
      for (const v of p.vmas.all()) if (v.file === inode) n++;
    }
    return n;
  }

  /** After an unmap: an anonymous shmem file no VMA maps any more is freed with its pages. */
  releaseAnonShmem(removed: readonly Vma[]): void {
    for (const vma of removed) {
      const f = vma.file;
      if (f !== null) this.vmaCloseHooks.get(f)?.();
      if (f === null || !this.anonShmem.has(f)) continue;
      let used = false;
      for (const p of this.processes) {
        if (p.hasExited) continue;
        for (const v of p.vmas.all()) if (v.file === f) used = true;
      }
      if (!used && f.mapping.nrpages > 0) truncateInodePages(f.mapping, 0);
    }
  }

  /**
   * unmap_mapping_range (mm/memory.c): zap every PTE that maps the file's pages of bytes
   * [holebegin, holebegin + holelen) (holelen 0: to the end), in every process. Private
   * copy-on-write copies go too only with `evenCows` (truncation); a punched hole keeps them.
   */
  readonly unmapMappingRange = (inode: Inode, holebegin: number, holelen = 0, evenCows = true): void => {
    const first = Math.floor(holebegin / 4096);
    const end = holelen === 0 ? Number.MAX_SAFE_INTEGER : Math.floor((holebegin + holelen + 4095) / 4096);
    const details = evenCows ? null : KEEP_COWS;
    for (const p of this.processes) {
      if (p.hasExited) continue;
      for (const vma of [...p.vmas.all()]) {
        if (vma.file !== inode) continue;
        const from = Math.max(first, vma.pgoff);
        const to = Math.min(end, vma.pgoff + vma.pages);
        if (to <= from) continue;
        zapPageRangeSingle(p, vma, vma.start + (from - vma.pgoff) * 4096, vma.start + (to - vma.pgoff) * 4096, details);
      }
    }
  };

  /** ftruncate / truncate: the new size, unmapping and dropping pages past it on a shrink. */
  truncate(inode: Inode, size: number): TruncateResult {
    return truncateSetsize(inode, size, this.unmapMappingRange);
  }
}
