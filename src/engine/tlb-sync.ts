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
import type { PhysMem } from '../mmu/physmem.js';
import type { Engine } from './engine.js';
import { shadowPerms, type ExpectedEntry, type ShadowAttrs, type ShadowPerms, type ShadowTables } from './shadow.js';

/** EL0 permissions of a TLB entry's PERM_* mask (a shared object: nothing is allocated). */
export function shadowPermsOf(perms: number): ShadowPerms {
  return shadowPerms((perms & PERM_EL0_R) !== 0, (perms & PERM_EL0_W) !== 0, (perms & PERM_EL0_X) !== 0);
}

/** The sixteen attribute sets an entry can have (AttrIndx 0..7, nG), shared: fills allocate none. */
const ATTRS: readonly ShadowAttrs[] = Array.from({ length: 16 }, (_, k) => Object.freeze({ attrIndx: k >> 1, nG: (k & 1) === 1 }));

/** The shared ShadowAttrs object for an entry's AttrIndx and nG. */
export function shadowAttrsOf(attrIndx: number, nG: boolean): ShadowAttrs {
  // Anything but 0..7 is passed through for the shadow to reject.
  return attrIndx >>> 0 === attrIndx && attrIndx < 8 ? ATTRS[(attrIndx << 1) | (nG ? 1 : 0)]! : { attrIndx, nG };
}

/**
 * Maps the model TLB entry `e` into `tables` with its EL0 permissions. QEMU may translate code
 * from an executable entry's frames from then on, so they are marked for PhysMem.watchCode: a
 * later write by the model (not by the guest) to one of them drops those translations.
 */
export function mapTlbEntry(phys: PhysMem, tables: ShadowTables, e: TlbEntry): void {
  if ((e.perms & PERM_EL0_X) !== 0) phys.markCode(e.pa, e.span);
  tables.map(e.vaBase, e.span, e.pa, shadowPermsOf(e.perms), shadowAttrsOf(e.attrIndx, e.asid !== -1));
}

export class ShadowSync implements TlbObserver {
  /**
   * Whether this TLB is the one the engine runs with. With several CPUs each TLB has its own
   * ShadowSync and only the running CPU's is active; the machine resyncs on a switch.
   */
  active = true;

  constructor(private readonly engine: Engine) {}

  onFill(e: TlbEntry): void {
    if (!this.active || !this.visible(e)) return;
    mapTlbEntry(this.engine.phys, this.engine.shadow, e);
  }

  /** Reads only the arguments the TLB passes (not the entry, which is cold by now). */
  onRemove(e: TlbEntry, _reason: TlbRemoveReason, vaBase = e.vaBase, span = e.span, asid = e.asid): void {
    if (!this.active || (asid !== -1 && asid !== this.engine.asid)) return;
    this.engine.shadow.unmap(vaBase, span);
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
