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
