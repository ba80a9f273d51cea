/**
 * Attribution: the chain of kernel-model functions that led to an event, innermost last, e.g.
 * `set_ptes > contpte_try_fold > contpte_convert > __flush_tlb_range`. Kernel-model functions
 * enter and leave frames named exactly as in the Linux source; events read the chain.
 *
 * The stack is a path in a tree of every chain seen so far: entering a frame steps to a child,
 * leaving steps back to the parent. Each node builds its chain string once, so `chain()` and
 * `site()` cost nothing on the hot path (every TLBI asks for both, and tallies them by key: the
 * same string object each time keeps those lookups cheap). Chains are few (kernel call paths),
 * so the tree stays small.
 */
class Frame {
  readonly children = new Map<string, Frame>();
  /** The child entered last (a one-entry cache in front of `children`). */
  lastChild: Frame | null = null;
  readonly depth: number;
  /** The outermost frame's name: the public API or syscall that started it all. */
  readonly root: string;
  readonly chain: string;
  /** site() of this chain, valid while `siteEpoch` equals the stack's helper epoch. */
  site = '';
  siteEpoch = -1;

  constructor(
    readonly name: string,
    readonly parent: Frame | null,
  ) {
    if (parent === null) {
      // The empty stack.
      this.depth = 0;
      this.root = '(none)';
      this.chain = '(none)';
    } else if (parent.parent === null) {
      // An outermost frame.
      this.depth = 1;
      this.root = name;
      this.chain = name;
    } else {
      this.depth = parent.depth + 1;
      this.root = parent.root;
      this.chain = `${parent.chain} > ${name}`;
    }
  }
}

/** Told of every frame entered and left (a timeline draws them as nested slices). */
export interface CallObserver {
  enterFrame(name: string): void;
  leaveFrame(): void;
}

export class CallStack {
  /** Set by a trace sink that draws frames; null keeps enter/leave to a pointer step. */
  observer: CallObserver | null = null;
  /** The empty stack: the tree's root, with no name of its own. */
  private readonly bottom = new Frame('', null);
  private top = this.bottom;
  /** Frames that are mechanisms rather than call sites (the TLB-flush helpers). */
  private readonly helpers = new Set<string>();
  /** Bumped when the helpers change, so every node's cached site() is recomputed. */
  private helperEpoch = 0;

  enter(frame: string): void {
    const top = this.top;
    // Most entries repeat the last one made from this frame (a fault path, a syscall loop):
    // one string comparison (usually of the same interned string) instead of a Map lookup.
    let next = top.lastChild;
    if (next === null || next.name !== frame) {
      next = top.children.get(frame) ?? null;
      if (next === null) {
        next = new Frame(frame, top);
        top.children.set(frame, next);
      }
      top.lastChild = next;
    }
    this.top = next;
    if (this.observer !== null) this.observer.enterFrame(frame);
  }

  /** Leaves the innermost frame (nothing happens outside any frame). */
  leave(): void {
    const parent = this.top.parent;
    if (parent === null) return;
    this.top = parent;
    if (this.observer !== null) this.observer.leaveFrame();
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
    this.helperEpoch++;
  }

  get depth(): number {
    return this.top.depth;
  }

  /** The whole chain, outermost first; '(none)' outside any frame. */
  chain(): string {
    return this.top.chain;
  }

  /** The innermost frame that is not a helper: the call site an event is charged to. */
  site(): string {
    const top = this.top;
    if (top.siteEpoch !== this.helperEpoch) {
      top.site = this.findSite(top);
      top.siteEpoch = this.helperEpoch;
    }
    return top.site;
  }

  /** The outermost frame: the public API or syscall that started it all. */
  root(): string {
    return this.top.root;
  }

  /** Walking outwards from `top`, the first frame that is not a helper; the outermost if all are. */
  private findSite(top: Frame): string {
    for (let f: Frame = top; f.parent !== null; f = f.parent) {
      if (!this.helpers.has(f.name)) return f.name;
    }
    return top.root;
  }
}
