/** Test rig for the page-table layer: a Workbench plus an event log and short helpers. */
import type { Folio } from '../../src/mm/folio.js';
import {
  PAGE_READONLY,
  PAGE_SIZE,
  pfnPte,
  pteMkdirty,
  pteMkwrite,
  pteMkyoung,
  type PgtablePolicy,
  type Pte,
  type Pgprot,
} from '../../src/pgtable/index.js';
import { Workbench } from '../../src/pgtable/workbench.js';
import type { EventKind, TraceRecord } from '../../src/trace/index.js';

/** The protection of a written private anonymous page: young, dirty, writable. */
export const RW: Pgprot = pteMkwrite(pteMkdirty(pteMkyoung(PAGE_READONLY)));
/** The same page write-protected (as mprotect(PROT_READ) leaves it). */
export const RO: Pgprot = pteMkyoung(PAGE_READONLY);

const LOGGED: EventKind[] = ['tlbi', 'dsb', 'pte_write', 'contpte_convert', 'fold', 'unfold', 'fold_attempt', 'bbm_violation', 'contig_violation'];

export class Rig {
  readonly wb: Workbench;
  readonly log: TraceRecord[] = [];

  constructor(policy: Partial<PgtablePolicy> = {}) {
    this.wb = new Workbench({ policy });
    this.wb.telemetry.tracer.attach({ write: (r) => this.log.push({ ...r }), close: () => {} }, LOGGED);
  }

  /** Allocates the page tables for va's 2 MiB region, then forgets everything logged so far. */
  prepare(va: number = VA): this {
    this.ptep(va);
    this.resetCounts();
    return this;
  }

  /** Order-0 folios until 16 consecutive ones start at a 16-aligned pfn (page-table pages interleave). */
  alignedOrder0Run(): number[] {
    const got: number[] = [];
    for (;;) {
      const p = this.folio(0).firstPfn;
      if (got.length === 0 ? p % 16 === 0 : p === got[got.length - 1]! + 1) got.push(p);
      else got.length = p % 16 === 0 ? (got.push(p), 1) : 0;
      if (got.length === 16) return got;
    }
  }

  /** Two order-3 folios that together fill one 16-aligned group of frames. */
  order3Pair(): [number, number] {
    for (;;) {
      const a = this.folio(3).firstPfn;
      if (a % 16 !== 0) continue;
      const b = this.folio(3).firstPfn;
      if (b === a + 8) return [a, b];
    }
  }

  get api() {
    return this.wb.pgtable.ptep;
  }

  get mm() {
    return this.wb.mm;
  }

  ptep(va: number): number {
    return this.wb.ptep(va);
  }

  folio(order: number): Folio {
    return this.wb.allocFolio(order);
  }

  pte(pfn: number, prot: Pgprot = RW): Pte {
    return pfnPte(pfn, prot);
  }

  /** Map nr pages of a folio from `va` one set_ptes(nr=1) at a time, as a per-page fault would. */
  mapPerPage(va: number, pfn: number, nr: number, prot: Pgprot = RW): void {
    for (let i = 0; i < nr; i++) this.api.setPtes(this.mm, va + i * PAGE_SIZE, this.ptep(va + i * PAGE_SIZE), this.pte(pfn + i, prot), 1);
  }

  /** Map nr pages with one set_ptes call. */
  mapWhole(va: number, pfn: number, nr: number, prot: Pgprot = RW): void {
    this.api.setPtes(this.mm, va, this.ptep(va), this.pte(pfn, prot), nr);
  }

  raw(va: number): Pte {
    return this.wb.pgtable.raw.__ptepGet(this.ptep(va));
  }

  mark(): number {
    return this.log.length;
  }

  since(mark: number, kinds?: EventKind[]): TraceRecord[] {
    const ev = this.log.slice(mark);
    return kinds ? ev.filter((e) => kinds.includes(e.kind)) : ev;
  }

  /** TLBIs since `mark`, as their one-line decodings. */
  tlbis(mark = 0): string[] {
    return this.since(mark, ['tlbi']).map((e) => (e.kind === 'tlbi' ? e.decoded : ''));
  }

  /** A compact sequence of what happened since `mark`: W (pte write), dsb kinds, TLBI ops, C (convert). */
  sequence(mark = 0): string[] {
    const out: string[] = [];
    for (const e of this.log.slice(mark)) {
      switch (e.kind) {
        case 'pte_write':
          out.push('W');
          break;
        case 'dsb':
          out.push(`dsb ${e.domain}`);
          break;
        case 'tlbi':
          out.push(e.op);
          break;
        case 'contpte_convert':
          out.push('convert');
          break;
        default:
          break;
      }
    }
    // Runs of W become "W×n" so sequences stay readable.
    const merged: string[] = [];
    for (const s of out) {
      const last = merged[merged.length - 1];
      if (s === 'W' && last && /^W×\d+$/.test(last)) merged[merged.length - 1] = `W×${Number(last.slice(2)) + 1}`;
      else merged.push(s === 'W' ? 'W×1' : s);
    }
    return merged;
  }

  counts() {
    const s = this.wb.telemetry.stats.snapshot();
    const pg = s['pgtable']!;
    const tlbi = s['tlbi']!;
    const dsb = s['dsb']!;
    const checker = s['checker']!;
    return {
      pte_writes: pg['pte_writes'] as number,
      folds: pg['folds'] as number,
      unfolds: pg['unfolds'] as number,
      converts: pg['contpte_convert'] as number,
      fold_attempts: pg['fold_attempts'] as number,
      tlbi: tlbi['total'] as number,
      by_op: tlbi['by_op'] as Record<string, number>,
      dsb: dsb['total'] as number,
      bbm: checker['bbm_violations'] as number,
      contig: checker['contig_violations'] as number,
    };
  }

  resetCounts(): void {
    this.wb.telemetry.stats.reset();
    this.log.length = 0;
  }
}

export const KB = 1024;
/** A 2 MiB-aligned user address for tests. */
export const VA = 0x4000_0000;
