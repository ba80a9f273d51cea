/**
 * The facade the kernel model and the engine use, one per machine: physical memory, the
 * translation registers, the TLB, the walk cache and the checker, with every walk, fill, TLBI and
 * DSB counted (stats groups `tlb`, `tlbi`, `dsb`, `checker`) and traced when asked.
 */
import type { Access } from '../trace/events.js';
import { bump, type Tally } from '../trace/stats.js';
import type { Telemetry } from '../trace/telemetry.js';
import { u64, type U64 } from '../util/u64.js';
import { Checker, type DescriptorWriteContext } from './checker.js';
import { permFor } from './perms.js';
import type { PhysMem } from './physmem.js';
import { DEFAULT_PA_BITS, type TranslationRegs } from './regs.js';
import { newCheckerStats, newDsbStats, newTlbiStats, newTlbStats, type DsbStats, type TlbiStats, type TlbStats } from './stats.js';
import { Tlb, TLB_DEFAULT_ENTRIES, TLB_DEFAULT_WAYS, type TlbEntry, type TlbObserver, type TlbReplacement } from './tlb.js';
import { decodeTlbiOperand, describeTlbi, type DecodedTlbi, type TlbiOp } from './tlbi.js';
import { HW_UPDATED_AF, HW_UPDATED_DIRTY, walk, type Translation, type WalkFault, type WalkOptions, type WalkResult } from './walker.js';
import { WalkCache, WALK_CACHE_DEFAULT_ENTRIES, WALK_CACHE_DEFAULT_WAYS } from './walkcache.js';

export type DsbDomain = 'ishst' | 'ish' | 'nshst' | 'nsh' | 'sy';

export interface MmuOptions {
  /** TLB entries (the `tlb_entries` knob) and associativity. Defaults 1280, 5. */
  tlbEntries?: number;
  tlbWays?: number;
  /** One TLB entry per contiguous span (the `tlb_contig` knob). Default true. */
  tlbContig?: boolean;
  tlbReplacement?: TlbReplacement;
  tlbSeed?: number;
  /** Walk cache entries (0 disables) and associativity. Defaults 64, 4. */
  walkCacheEntries?: number;
  walkCacheWays?: number;
  /** TCR_EL1.HA / HD (the `hw_af` / `hw_dirty` knobs). Default false. */
  ha?: boolean;
  hd?: boolean;
  /** BBML2_NOABORT, for the checker (the `bbml2_noabort` knob). Default false. */
  bbml2?: boolean;
  /** Run the checker. Default true. */
  checker?: boolean;
  /** The checker also requires the DSBs of break-before-make. Default true. */
  checkBarriers?: boolean;
  /**
   * TCR_EL1.DS (FEAT_LPA2, the `lpa2` knob): only its effect on range TLBI operands (BaseADDR in
   * 64 KiB units) is modelled; descriptors keep the 48-bit format. Default false.
   */
  ds?: boolean;
  /** TCR_EL1.T0SZ (default 16: 48-bit VAs) and the output address size (default 44 bits). */
  t0sz?: number;
  paBits?: number;
  /**
   * Modeled CPUs, each with its own TLB, walk cache and translation registers (default 1). A
   * broadcast TLBI (the *IS forms) reaches every CPU's TLB; a local one only the issuer's.
   */
  cpus?: number;
}

/**
 * The `cpus` stats group: what each CPU's TLB maintenance did, by CPU number (the summary's
 * `cpus[]`). Tallies, so marker resets and dumps treat them like every other counter.
 */
export interface CpuTlbStats {
  [k: string]: Tally;
  /** TLBI instructions the CPU executed. */
  tlbi_issued: Tally;
  /** Broadcast TLBIs of other CPUs that reached the CPU. */
  tlbi_received: Tally;
  /** Entries removed from the CPU's TLB by any TLBI (its own or received). */
  invalidated_entries: Tally;
}

/**
 * One CPU's translation hardware: TLB, walk cache and the registers it translates with. The TLB
 * and walk cache are built when first used: a modeled CPU that never runs a task keeps neither
 * (an empty TLB is what it would have), so a broadcast TLBI only counts its receipt there, and a
 * machine of 128 CPUs costs per TLBI what its busy CPUs cost.
 */
export class MmuCpu {
  /** The CPU's number as a tally key. */
  readonly key: string;
  /**
   * For the checker: the table each ASID was loaded with since the CPU last invalidated that
   * ASID (TLBI ASIDE1/VMALLE1 and their broadcast forms): its TLB may hold entries of it.
   */
  readonly asidTables = new Map<number, number>();
  private builtTlb: Tlb | null = null;
  private builtWalkCache: WalkCache | null = null;
  private observer: TlbObserver | null = null;

  constructor(
    readonly index: number,
    private readonly build: () => { tlb: Tlb; walkCache: WalkCache },
    public regs: TranslationRegs,
  ) {
    this.key = String(index);
  }

  /** Whether the CPU has used its TLB or walk cache (they are built on first use). */
  get inUse(): boolean {
    return this.builtTlb !== null;
  }

  get tlb(): Tlb {
    return this.builtTlb ?? this.materialize().tlb;
  }

  get walkCache(): WalkCache {
    return this.builtWalkCache ?? this.materialize().walkCache;
  }

  /** Who hears of the TLB's fills and removals (the engine's shadow sync), now or once built. */
  set tlbObserver(o: TlbObserver | null) {
    this.observer = o;
    if (this.builtTlb !== null) this.builtTlb.observer = o;
  }

  private materialize(): { tlb: Tlb; walkCache: WalkCache } {
    const b = this.build();
    b.tlb.observer = this.observer;
    this.builtTlb = b.tlb;
    this.builtWalkCache = b.walkCache;
    return b;
  }
}

/** After a TLBI on `c`: the ASIDs it can no longer hold entries of. */
function forgetAsidTables(c: MmuCpu, d: DecodedTlbi): void {
  if (d.scope === 'all') c.asidTables.clear();
  else if (d.scope === 'asid') c.asidTables.delete(d.asid);
}

export class Mmu {
  readonly cpus: readonly MmuCpu[];
  readonly checker: Checker;
  readonly checking: boolean;
  readonly tlbContig: boolean;
  readonly ds: boolean;
  /** The CPU the kernel model runs on now (the machine selects it on every switch). */
  private cur: MmuCpu;
  readonly tlbStats: TlbStats;
  readonly tlbiStats: TlbiStats;
  readonly dsbStats: DsbStats;
  readonly cpuStats: CpuTlbStats;

  constructor(
    readonly mem: PhysMem,
    readonly telemetry: Telemetry,
    opts: MmuOptions = {},
  ) {
    const stats = telemetry.stats;
    this.tlbStats = stats.register('tlb', newTlbStats());
    this.tlbiStats = stats.register('tlbi', newTlbiStats());
    this.dsbStats = stats.register('dsb', newDsbStats());
    const checkerStats = stats.register('checker', newCheckerStats());
    this.cpuStats = stats.register<CpuTlbStats>('cpus', { tlbi_issued: {}, tlbi_received: {}, invalidated_entries: {} });
    this.tlbContig = opts.tlbContig ?? true;
    this.walkOpts.tlbContig = this.walkOptsInto.tlbContig = this.tlbContig;
    this.ds = opts.ds ?? false;
    const ncpus = opts.cpus ?? 1;
    if (!Number.isInteger(ncpus) || ncpus < 1) throw new RangeError(`cpus: ${ncpus} is not a positive whole number`);
    const regs: TranslationRegs = { ttbr0: 0, asid: 0, t0sz: opts.t0sz ?? 16, ha: opts.ha ?? false, hd: opts.hd ?? false, paBits: opts.paBits ?? DEFAULT_PA_BITS };
    // Every CPU's TLB counts into the same `tlb` group: the summary's totals are the machine's.
    this.cpus = Array.from({ length: ncpus }, (_, i) => new MmuCpu(
      i,
      () => ({
        tlb: new Tlb(
          { entries: opts.tlbEntries ?? TLB_DEFAULT_ENTRIES, ways: opts.tlbWays ?? TLB_DEFAULT_WAYS, contig: this.tlbContig, replacement: opts.tlbReplacement ?? 'fifo', seed: (opts.tlbSeed ?? 1) + i },
          { stats: this.tlbStats, tracer: telemetry.tracer, cpu: i },
        ),
        walkCache: new WalkCache(opts.walkCacheEntries ?? WALK_CACHE_DEFAULT_ENTRIES, opts.walkCacheWays ?? WALK_CACHE_DEFAULT_WAYS),
      }),
      { ...regs },
    ));
    this.cur = this.cpus[0]!;
    this.checking = opts.checker ?? true;
    this.checker = new Checker(mem, telemetry, { bbml2: opts.bbml2 ?? false, barriers: opts.checkBarriers ?? true }, checkerStats);
  }

  /** The TLB of the current CPU. */
  get tlb(): Tlb {
    return this.cur.tlb;
  }

  get walkCache(): WalkCache {
    return this.cur.walkCache;
  }

  /** The current CPU's translation registers; the machine sets ttbr0 and asid on a context switch. */
  get regs(): TranslationRegs {
    return this.cur.regs;
  }

  set regs(r: TranslationRegs) {
    const c = this.cur;
    if (this.checking && (r.asid !== c.regs.asid || r.ttbr0 !== c.regs.ttbr0)) {
      const prev = c.asidTables.get(r.asid);
      if (prev !== undefined && prev !== r.ttbr0) this.checker.onAsidReuse(c.index, r.asid, prev, r.ttbr0);
      c.asidTables.set(r.asid, r.ttbr0);
    }
    c.regs = r;
  }

  get cpu(): MmuCpu {
    return this.cur;
  }

  /** Makes CPU `i` the one the kernel model and the engine run on. */
  selectCpu(i: number): MmuCpu {
    const c = this.cpus[i];
    if (c === undefined) throw new RangeError(`no CPU ${i} (the machine has ${this.cpus.length})`);
    this.cur = c;
    return c;
  }

  /**
   * The translation of `va` for the current ASID: a TLB hit, or a walk (counted, traced) and a
   * fill. A hit whose cached permissions refuse the access is a permission fault without a walk,
   * as on hardware, except a write to a clean DBM entry under HD, which walks to set it dirty.
   */
  translate(va: number, access: Access, el: 0 | 1): Translation | WalkFault {
    const asid = this.regs.asid;
    const e = this.tlb.lookup(va, asid);
    if (e !== null) {
      if ((e.perms & permFor(access, el)) !== 0) return this.fromEntry(e, va);
      if (!(access === 'write' && e.dirtyOnWrite)) {
        this.tlbStats.permission_faults_from_tlb++;
        return { ok: false, kind: 'permission', level: e.level, va, levelsRead: 0 };
      }
    }
    return this.walkAndFill(va, access, el);
  }

  /**
   * `translate` for a caller that only needs to know whether the access translates (a guest
   * abort: the machine retries the instruction): null when it does, else the fault. The same
   * lookup, walk, fill and counts, building nothing: the fault is one record rewritten by the
   * next resolve.
   */
  resolve(va: number, access: Access, el: 0 | 1): WalkFault | null {
    const asid = this.regs.asid;
    const e = this.tlb.lookup(va, asid);
    if (e !== null) {
      if ((e.perms & permFor(access, el)) !== 0) return null;
      if (!(access === 'write' && e.dirtyOnWrite)) {
        this.tlbStats.permission_faults_from_tlb++;
        const f = this.scratchFault;
        f.kind = 'permission';
        f.level = e.level;
        f.va = va;
        f.levelsRead = 0;
        return f;
      }
    }
    const t = this.walkAndFill(va, access, el, this.scratch);
    return t.ok ? null : t;
  }

  /** Mmu.resolve's walk result, overwritten by each walk (the TLB entry copies what it keeps). */
  private readonly scratch: Translation = {
    ok: true, va: 0, pa: 0, level: 3, size: 0, contiguous: false, spanVa: 0, spanSize: 0, spanPa: 0, global: false,
    perms: 0, attrIndx: 0, sh: 0, descPa: 0, desc: { lo: 0, hi: 0 }, levelsRead: 0, dirtyOnWrite: false, hwUpdates: 0,
  };

  /** Mmu.resolve's fault, overwritten likewise. */
  private readonly scratchFault: WalkFault = { ok: false, kind: 'translation', level: 0, va: Number.NaN, levelsRead: 0 };

  private readonly walkOpts: WalkOptions = { tlbContig: true, walkCache: null };
  private readonly walkOptsInto: WalkOptions = { tlbContig: true, walkCache: null, into: this.scratch, faultInto: this.scratchFault };

  /** A walk that bypasses the TLB lookup (still filling the TLB on success). */
  walkAndFill(va: number, access: Access, el: 0 | 1, into?: Translation): WalkResult {
    const wcHitsBefore = this.walkCache.stats.hits;
    // Reused options (one allocation less per walk): the walk reads them before returning.
    const o = into !== undefined ? this.walkOptsInto : this.walkOpts;
    o.walkCache = this.walkCache;
    if (into !== undefined) o.into = into;
    const t = walk(this.mem, this.regs, va, access, el, o);
    const s = this.tlbStats;
    s.walks++;
    s.walk_levels_read += t.levelsRead;
    s.walk_cache_hits += this.walkCache.stats.hits - wcHitsBefore;
    const tr = this.telemetry.tracer;
    if (tr.on.walk) {
      tr.emit(
        t.ok
          ? { kind: 'walk', va, asid: this.regs.asid, levels: t.levelsRead, result: 'ok', pa: t.pa, level: t.level }
          : { kind: 'walk', va, asid: this.regs.asid, levels: t.levelsRead, result: t.kind, level: t.level },
      );
    }
    if (!t.ok) {
      s.walk_faults++;
      return t;
    }
    if (t.hwUpdates & HW_UPDATED_AF) s.hw_af_updates++;
    if (t.hwUpdates & HW_UPDATED_DIRTY) s.hw_dirty_updates++;
    this.tlb.fill(t, this.regs.asid);
    return t;
  }

  private fromEntry(e: TlbEntry, va: number): Translation {
    return {
      ok: true,
      va,
      pa: e.pa + (va - e.vaBase),
      level: e.level,
      size: e.size,
      contiguous: e.descContiguous,
      spanVa: e.vaBase,
      spanSize: e.span,
      spanPa: e.pa,
      global: e.asid === -1,
      perms: e.perms,
      attrIndx: e.attrIndx,
      sh: e.sh,
      descPa: e.descPa,
      // A copy: the entry's own object is rewritten when its TLB slot is filled again.
      desc: u64(e.desc.lo, e.desc.hi),
      levelsRead: 0,
      dirtyOnWrite: e.dirtyOnWrite,
      hwUpdates: 0,
    };
  }

  /**
   * One TLBI instruction: applied to the TLB and the walk cache, shown to the checker, counted
   * (tlbi.total, by_op, by_site = calls.site(), by_chain = calls.chain()) and traced.
   */
  tlbi(op: TlbiOp, operand: U64): void {
    const d = decodeTlbiOperand(op, operand, this.ds);
    const issuer = this.cur;
    const cs = this.cpuStats;
    bump(cs.tlbi_issued, issuer.key);
    let removed: number;
    if (d.broadcast && this.cpus.length > 1) {
      // The Inner Shareable domain is the whole machine: every CPU applies it.
      removed = 0;
      for (const c of this.cpus) {
        forgetAsidTables(c, d);
        // A CPU that never used its TLB holds nothing to invalidate; it still receives the TLBI.
        if (c.inUse) {
          const r = c.tlb.invalidateDecoded(d);
          if (r > 0) bump(cs.invalidated_entries, c.key, r);
          removed += r;
          this.tlbiStats.walk_cache_invalidated += c.walkCache.invalidate(d);
        }
        if (c !== issuer) {
          bump(cs.tlbi_received, c.key);
          this.onBroadcastReceived?.(c, issuer);
        }
      }
    } else {
      if (!d.broadcast) this.localTlbis++;
      forgetAsidTables(issuer, d);
      removed = issuer.tlb.invalidateDecoded(d);
      if (removed > 0) bump(cs.invalidated_entries, issuer.key, removed);
      this.tlbiStats.walk_cache_invalidated += issuer.walkCache.invalidate(d);
    }
    if (this.checking) this.checker.onTlbi(d);
    const s = this.tlbiStats;
    const calls = this.telemetry.calls;
    s.total++;
    bump(s.by_op, op);
    bump(s.by_site, calls.site());
    bump(s.by_chain, calls.chain());
    const tr = this.telemetry.tracer;
    if (tr.on.tlbi) tr.emit({ kind: 'tlbi', op, operand, decoded: describeTlbi(d), chain: calls.chain(), site: calls.site(), removed });
  }

  /**
   * TLBIs without the IS suffix so far (tlbi.by_op tells them apart too): the virtual clocks
   * price them as local, which a tally would make costly to read at every charge.
   */
  localTlbis = 0;

  /** Told of every broadcast TLBI a CPU receives (the scheduler charges the receiver's clock). */
  onBroadcastReceived: ((receiver: MmuCpu, issuer: MmuCpu) => void) | null = null;

  /** A DSB: counted, shown to the checker (completes TLBIs, publishes stores), traced. */
  dsb(domain: DsbDomain): void {
    const s = this.dsbStats;
    s.total++;
    s[domain]++;
    if (this.checking) this.checker.onDsb(domain);
    const tr = this.telemetry.tracer;
    if (tr.on.dsb) tr.emit({ kind: 'dsb', domain, chain: this.telemetry.calls.chain() });
  }

  /** A software store of a descriptor: writes memory, feeds the checker; returns the old value. */
  writeDescriptor(ptep: number, value: U64, ctx: DescriptorWriteContext): U64 {
    const old = this.mem.exchange64(ptep, value);
    if (this.checking) this.checker.onWrite(ptep, old, value, ctx);
    return old;
  }

  /**
   * `writeDescriptor` for a caller that does not need the old value: the checker gets its halves,
   * and no U64 is built for it (every PTE store of a fault and of a zap comes here).
   */
  storeDescriptor(ptep: number, value: U64, ctx: DescriptorWriteContext): void {
    const mem = this.mem;
    const i = mem.offset(ptep, 8) >>> 2;
    const u32 = mem.u32;
    const oldLo = u32[i]!;
    const oldHi = u32[i + 1]!;
    u32[i] = value.lo;
    u32[i + 1] = value.hi;
    if (this.checking) this.checker.onWriteWords(ptep, oldLo, oldHi, value, ctx);
  }

  /** End of a kernel-model operation: the checker judges the contiguous sets touched since. */
  settle(): void {
    if (this.checking) this.checker.settle();
  }
}
