/**
 * The link from the TLB model to the shadow: a TlbObserver (src/mmu/tlb.ts) that maps every entry
 * the model fills and unmaps every entry it evicts, replaces or invalidates, so the shadow, and
 * through it QEMU, sees exactly the TLB.
 *
 * The shadow holds one address space: entries tagged with the engine's current ASID, and global
 * ones. Entries of other ASIDs stay in the model's TLB (they would hit after a switch back) but
 * not in the shadow; `resync` rebuilds the shadow after `Engine.setAsid`.
 *
 * Permissions are the entry's EL0 permissions. The TLB model already leaves write out of an
 * entry whose dirty state still needs the hardware update (`dirtyOnWrite`), so the first write
 * traps and reaches the model, as it must.
 */
import { PERM_EL0_R, PERM_EL0_W, PERM_EL0_X } from '../mmu/perms.js';
import type { TlbEntry, TlbObserver, TlbRemoveReason } from '../mmu/tlb.js';
import type { Engine } from './engine.js';
import type { ExpectedEntry, ShadowPerms } from './shadow.js';

/** EL0 permissions of a TLB entry's PERM_* mask. */
export function shadowPermsOf(perms: number): ShadowPerms {
  return { r: (perms & PERM_EL0_R) !== 0, w: (perms & PERM_EL0_W) !== 0, x: (perms & PERM_EL0_X) !== 0 };
}

export class ShadowSync implements TlbObserver {
  constructor(private readonly engine: Engine) {}

  onFill(e: TlbEntry): void {
    if (!this.visible(e)) return;
    this.engine.shadow.map(e.vaBase, e.span, e.pa, shadowPermsOf(e.perms), { attrIndx: e.attrIndx, nG: e.asid !== -1 });
  }

  onRemove(e: TlbEntry, _reason: TlbRemoveReason): void {
    if (!this.visible(e)) return;
    this.engine.shadow.unmap(e.vaBase, e.span);
  }

  /** Rebuilds the shadow from `entries` (all the TLB holds), e.g. after an ASID switch. */
  resync(entries: Iterable<TlbEntry>): void {
    this.engine.shadow.unmapAll();
    for (const e of entries) this.onFill(e);
  }

  /** The entries of `entries` the shadow should hold, in ShadowTables.verify's terms. */
  expected(entries: Iterable<TlbEntry>): ExpectedEntry[] {
    const out: ExpectedEntry[] = [];
    for (const e of entries) if (this.visible(e)) out.push({ vaBase: e.vaBase, size: e.span, paBase: e.pa, perms: shadowPermsOf(e.perms) });
    return out;
  }

  private visible(e: TlbEntry): boolean {
    return e.asid === -1 || e.asid === this.engine.asid;
  }
}
