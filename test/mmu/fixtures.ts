/** Translation values for TLB tests, built directly (the walker has its own tests). */
import { CONT_ENTRIES, PERM_EL0_R, PERM_EL0_W, PERM_EL1_R, PERM_EL1_W, type LeafLevel, type Translation, type TlbEntry } from './imports.js';

export const RW = PERM_EL0_R | PERM_EL0_W | PERM_EL1_R | PERM_EL1_W;

const SIZE: Record<LeafLevel, number> = { 1: 2 ** 30, 2: 2 ** 21, 3: 4096 };

/** The translation a walk of `va` would give for a descriptor mapping `oa` at `level`. */
export function translation(o: { va: number; oa: number; level?: LeafLevel; contiguous?: boolean; global?: boolean; perms?: number; tlbContig?: boolean; dirtyOnWrite?: boolean }): Translation {
  const level = o.level ?? 3;
  const size = SIZE[level];
  const contiguous = o.contiguous ?? false;
  const spanSize = contiguous && o.tlbContig !== false ? size * CONT_ENTRIES : size;
  return {
    ok: true,
    va: o.va,
    pa: o.oa + (o.va % size),
    level,
    size,
    contiguous,
    spanVa: o.va - (o.va % spanSize),
    spanSize,
    spanPa: o.oa - (o.oa % spanSize),
    global: o.global ?? false,
    perms: o.perms ?? RW,
    attrIndx: 0,
    sh: 3,
    descPa: 0,
    desc: { lo: 0, hi: 0 },
    levelsRead: 4,
    dirtyOnWrite: o.dirtyOnWrite ?? false,
    hwUpdates: 0,
  };
}

/** An entry as [vaBase, span, asid] for compact assertions. */
export function brief(e: TlbEntry): [string, number, number] {
  return ['0x' + e.vaBase.toString(16), e.span, e.asid];
}
