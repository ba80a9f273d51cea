/**
 * Attribution: the chain of kernel-model functions that led to an event, innermost last, e.g.
 * `set_ptes > contpte_try_fold > contpte_convert > __flush_tlb_range`. Kernel-model functions
 * enter and leave frames named exactly as in the Linux source; events read the chain.
 */
export class CallStack {
  private readonly frames: string[] = [];
  /** Frames that are mechanisms rather than call sites (the TLB-flush helpers). */
  private readonly helpers = new Set<string>();
  /** chain() and site() of the current frames, built at most once per change of the stack. */
  private cachedChain: string | null = null;
  private cachedSite: string | null = null;

  enter(frame: string): void {
    this.frames.push(frame);
    this.cachedChain = this.cachedSite = null;
  }

  leave(): void {
    this.frames.pop();
    this.cachedChain = this.cachedSite = null;
  }

  /** Runs `fn` inside `frame`; the frame is left even if `fn` throws. */
  within<T>(frame: string, fn: () => T): T {
    this.enter(frame);
    try {
      return fn();
    } finally {
      this.leave();
    }
  }

  /** Declares frames that `site()` looks through, such as `__flush_tlb_range`. */
  markHelpers(...frames: string[]): void {
    for (const f of frames) this.helpers.add(f);
    this.cachedSite = null;
  }

  get depth(): number {
    return this.frames.length;
  }

  /** The whole chain, outermost first; '(none)' outside any frame. */
  chain(): string {
    if (this.cachedChain === null) this.cachedChain = this.frames.length === 0 ? '(none)' : this.frames.join(' > ');
    return this.cachedChain;
  }

  /** The innermost frame that is not a helper: the call site an event is charged to. */
  site(): string {
    if (this.cachedSite !== null) return this.cachedSite;
    let site = this.frames.length === 0 ? '(none)' : this.frames[0]!;
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (!this.helpers.has(f)) {
        site = f;
        break;
      }
    }
    this.cachedSite = site;
    return site;
  }

  /** The outermost frame: the public API or syscall that started it all. */
  root(): string {
    return this.frames.length === 0 ? '(none)' : this.frames[0]!;
  }
}
