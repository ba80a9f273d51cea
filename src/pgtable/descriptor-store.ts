/**
 * One store of a translation-table descriptor by the kernel model, as the PTE and PMD helpers
 * (raw.ts, pmd.ts) both make it: through the mmu, so that the checker sees it with the entry's
 * VA, level and ASID, and traced as a `pte_write` record. The callers count the store in their
 * own counters.
 */
import type { DescriptorWriteContext, Mmu } from '../mmu/index.js';
import type { Telemetry } from '../trace/telemetry.js';
import { u64, type U64 } from '../util/u64.js';

export class DescriptorStore {
  /**
   * Where the store in progress lands, for the checker. One object reused for every store (the
   * checker reads it during the call and keeps nothing), since every PTE store passes here. `va`
   * starts as a non-integer so that its field holds any address without a change of shape.
   */
  private readonly where: DescriptorWriteContext;

  constructor(
    private readonly mmu: Mmu,
    private readonly telemetry: Telemetry,
    private readonly level: 2 | 3,
  ) {
    this.where = { va: Number.NaN, level, asid: 0 };
  }

  /** Stores `value` at `slot` (the entry for `va`, tagged `asid`); returns the old value. */
  write(asid: number, va: number, slot: number, value: U64): U64 {
    const where = this.where;
    where.va = va;
    where.asid = asid;
    const old = this.mmu.writeDescriptor(slot, value, where);
    const tr = this.telemetry.tracer;
    // A copy of the new value: a caller may hand over a record it rewrites later (set_pte_range).
    if (tr.on.pte_write) tr.emit({ kind: 'pte_write', va, ptep: slot, level: this.level, old, new: u64(value.lo, value.hi), chain: this.telemetry.calls.chain() });
    return old;
  }

  /** `write` for a caller that discards the old value: nothing is built for it, unless a trace records it. */
  writeOnly(asid: number, va: number, slot: number, value: U64): void {
    if (this.telemetry.tracer.on.pte_write) {
      this.write(asid, va, slot, value);
      return;
    }
    const where = this.where;
    where.va = va;
    where.asid = asid;
    this.mmu.storeDescriptor(slot, value, where);
  }
}
