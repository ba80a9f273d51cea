import type { TlbEntryEvent } from '../events.js';

/**
 * Contiguous coverage for the Perfetto sinks' counter track: the bytes of VA that resident
 * contiguous TLB entries cover, kept from the TLB's fill and removal events.
 */
export class ContiguousCoverage {
  /** Bytes covered now. */
  bytes = 0;
  /** Resident contiguous entries by ASID, keyed by (VA, span). */
  private readonly byAsid = new Map<number, Set<number>>();

  /**
   * A fill or a removal of a contiguous entry. A refill that replaces an entry in place is not
   * traced as a removal, so a fill of an entry already counted adds nothing.
   */
  track(fill: boolean, asid: number, va: number, span: number): void {
    let set = this.byAsid.get(asid);
    if (set === undefined) {
      set = new Set();
      this.byAsid.set(asid, set);
    }
    // Exact as an integer: spans are powers of two of at least 4 KiB, so log2 fits in 6 bits.
    const key = va * 64 + Math.log2(span);
    if (fill) {
      if (!set.has(key)) {
        set.add(key);
        this.bytes += span;
      }
    } else if (set.delete(key)) {
      this.bytes -= span;
    }
  }
}

/**
 * The Perfetto sinks' TLB counter tracks: each CPU's TLB occupancy and contiguous coverage, from
 * the TLB events of that CPU's TLB (a broadcast TLBI's removals included). On a machine of one
 * CPU the tracks have no CPU in their names.
 */
export class TlbCounterTracks {
  private readonly coverage: ContiguousCoverage[] = [];

  constructor(private readonly cpus: number) {}

  /** The counter events a TLB event updates, at `ts` (µs text) under process `pid`. */
  events(r: TlbEntryEvent, ts: string, pid: number): string {
    const cov = (this.coverage[r.cpu] ??= new ContiguousCoverage());
    if (r.contiguous) cov.track(r.kind === 'tlb_fill', r.asid, r.va, r.span);
    const of = this.cpus > 1 ? ` cpu${r.cpu}` : '';
    return (
      `,\n{"name":"TLB occupancy${of}","ph":"C","ts":${ts},"pid":${pid},"args":{"entries":${r.occupancy}}}` +
      `,\n{"name":"contiguous coverage${of}","ph":"C","ts":${ts},"pid":${pid},"args":{"bytes":${cov.bytes}}}`
    );
  }
}
