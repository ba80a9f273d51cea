/**
 * Shadow tables for a machine of several CPUs and address spaces: one tree of shadow tables per
 * (CPU, ASID), each kept equal to the entries of that CPU's model TLB that QEMU may use while the
 * CPU runs that ASID (the entries tagged with it, and global ones). A context switch then only
 * points TTBR0_EL1 at the next tree and empties QEMU's TLB (Engine.selectShadow), instead of
 * rebuilding one shadow from the next CPU's TLB: QEMU refills from the tree by its own walks,
 * with no abort reaching the model.
 *
 * Every CPU's TLB reports to its `observer(cpu)`: a fill or removal goes to the tree of the
 * entry's ASID on that CPU (a global entry to all of that CPU's trees); trees that do not exist
 * yet need nothing, as a tree is built from the TLB's contents when first selected. Trees
 * beyond `maxTrees` are released, least recently selected first (never the one in use); one
 * selected again is rebuilt.
 */
import type { TlbEntry, TlbObserver, TlbRemoveReason } from '../mmu/tlb.js';
import type { Engine } from './engine.js';
import type { PhysMem } from '../mmu/physmem.js';
import type { ShadowTables } from './shadow.js';
import { mapTlbEntry } from './tlb-sync.js';

/** Trees kept at most: a few table pages each; a fork-heavy guest must not exhaust the region. */
export const DEFAULT_MAX_TREES = 64;

interface Tree {
  readonly tables: ShadowTables;
  readonly cpu: number;
  readonly asid: number;
  lastUsed: number;
}

export class ShadowForest {
  /** Per CPU: its trees by ASID. */
  private readonly trees: Map<number, Tree>[];
  private readonly observers: CpuObserver[];
  private active: Tree | null = null;
  private count = 0;
  private clock = 0;

  constructor(
    private readonly engine: Engine,
    ncpus: number,
    private readonly maxTrees = DEFAULT_MAX_TREES,
  ) {
    if (!Number.isInteger(maxTrees) || maxTrees < 1) throw new RangeError(`shadow trees: ${maxTrees} is not a positive whole number`);
    this.trees = Array.from({ length: ncpus }, () => new Map<number, Tree>());
    this.observers = this.trees.map((byAsid) => new CpuObserver(engine.phys, byAsid));
  }

  /** What CPU `cpu`'s model TLB reports its fills and removals to. */
  observer(cpu: number): TlbObserver {
    const o = this.observers[cpu];
    if (o === undefined) throw new RangeError(`no CPU ${cpu} (the forest has ${this.observers.length})`);
    return o;
  }

  /**
   * Makes the engine translate through the tree of (`cpu`, `asid`), built from `resident` (every
   * entry CPU `cpu`'s TLB holds) if it does not exist. The first tree ever selected is the
   * engine's own initial shadow (a single-CPU, single-process run uses nothing else).
   */
  select(cpu: number, asid: number, resident: () => Iterable<TlbEntry>): void {
    const byAsid = this.trees[cpu];
    if (byAsid === undefined) throw new RangeError(`no CPU ${cpu} (the forest has ${this.trees.length})`);
    let tree = byAsid.get(asid);
    const fresh = tree === undefined;
    if (tree === undefined) {
      tree = { tables: this.count === 0 ? this.engine.shadow : this.engine.newShadowTables(), cpu, asid, lastUsed: 0 };
      byAsid.set(asid, tree);
      this.count++;
    }
    tree.lastUsed = ++this.clock;
    if (tree !== this.active) this.engine.selectShadow(tree.tables, asid);
    this.active = tree;
    if (fresh) {
      // The initial tree may hold entries from before (none in a machine's life so far).
      tree.tables.unmapAll();
      for (const e of resident()) if (e.asid === -1 || e.asid === asid) mapTlbEntry(this.engine.phys, tree.tables, e);
    }
    if (this.count > this.maxTrees) this.evictOldest();
  }

  /** Trees alive now (for tests and statistics). */
  get size(): number {
    return this.count;
  }

  private evictOldest(): void {
    let oldest: Tree | null = null;
    for (const byAsid of this.trees) {
      for (const t of byAsid.values()) if (t !== this.active && (oldest === null || t.lastUsed < oldest.lastUsed)) oldest = t;
    }
    if (oldest === null) return;
    this.trees[oldest.cpu]!.delete(oldest.asid);
    this.observers[oldest.cpu]!.forget(oldest.asid);
    this.count--;
    oldest.tables.release();
  }
}

/** One CPU's TLB observer: its fills and removals reach the trees of that CPU they concern. */
class CpuObserver implements TlbObserver {
  /**
   * The tree found for an ASID last (a fill and an eviction per model-TLB miss nearly always
   * concern the running ASID): no Map look-up then. Forgotten when that tree is released.
   */
  private lastAsid = Number.NaN;
  private lastTree: Tree | undefined = undefined;

  constructor(
    private readonly phys: PhysMem,
    private readonly byAsid: Map<number, Tree>,
  ) {}

  onFill(e: TlbEntry): void {
    if (e.asid !== -1) {
      const t = this.treeOf(e.asid);
      if (t !== undefined) mapTlbEntry(this.phys, t.tables, e);
      return;
    }
    for (const t of this.byAsid.values()) mapTlbEntry(this.phys, t.tables, e);
  }

  /** Reads only the arguments the TLB passes (not the entry, which is cold by now). */
  onRemove(e: TlbEntry, _reason: TlbRemoveReason, vaBase = e.vaBase, span = e.span, asid = e.asid): void {
    if (asid !== -1) {
      this.treeOf(asid)?.tables.unmap(vaBase, span);
      return;
    }
    for (const t of this.byAsid.values()) t.tables.unmap(vaBase, span);
  }

  /** The tree of `asid` on this CPU, if it exists. */
  private treeOf(asid: number): Tree | undefined {
    if (asid === this.lastAsid) return this.lastTree;
    const t = this.byAsid.get(asid);
    // Only a tree that exists is remembered: one made later must be found.
    if (t !== undefined) {
      this.lastAsid = asid;
      this.lastTree = t;
    }
    return t;
  }

  /** The tree of `asid` was released. */
  forget(asid: number): void {
    if (asid === this.lastAsid) {
      this.lastAsid = Number.NaN;
      this.lastTree = undefined;
    }
  }
}
