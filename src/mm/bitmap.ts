/**
 * A set of small integers [0, size) that answers "lowest member" in a handful of word reads:
 * a 32-ary summary tree over a flat bitmap (level 0 holds the members, each bit of level n+1 says
 * whether the matching word of level n is non-zero). The buddy allocator keeps one per order, so
 * that "the lowest free block of order k" costs O(log32 size) instead of a list walk, without
 * allocating on insert or remove.
 */
export class LowestBitSet {
  /** levels[0] is the membership bitmap; the last level is a single word. */
  private readonly levels: Uint32Array[] = [];
  private members = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`LowestBitSet: bad size ${size}`);
    let words = Math.max(1, Math.ceil(size / 32));
    for (;;) {
      this.levels.push(new Uint32Array(words));
      if (words === 1) break;
      words = Math.ceil(words / 32);
    }
  }

  get count(): number {
    return this.members;
  }

  has(i: number): boolean {
    if (i < 0 || i >= this.size) return false;
    return ((this.levels[0]![i >>> 5]! >>> (i & 31)) & 1) === 1;
  }

  /** Adds `i`; returns false when it was already a member. */
  add(i: number): boolean {
    if (i < 0 || i >= this.size) throw new RangeError(`LowestBitSet: ${i} outside [0, ${this.size})`);
    let idx = i;
    for (let l = 0; l < this.levels.length; l++) {
      const level = this.levels[l]!;
      const w = idx >>> 5;
      const before = level[w]!;
      const after = (before | (1 << (idx & 31))) >>> 0;
      if (before === after) {
        if (l === 0) return false;
        break;
      }
      level[w] = after;
      if (l === 0) this.members++;
      // The summary bit above only changes when this word goes from empty to non-empty.
      if (before !== 0) break;
      idx = w;
    }
    return true;
  }

  /** Removes `i`; returns false when it was not a member. */
  delete(i: number): boolean {
    if (i < 0 || i >= this.size) return false;
    let idx = i;
    for (let l = 0; l < this.levels.length; l++) {
      const level = this.levels[l]!;
      const w = idx >>> 5;
      const before = level[w]!;
      const after = (before & ~(1 << (idx & 31))) >>> 0;
      if (before === after) {
        if (l === 0) return false;
        break;
      }
      level[w] = after;
      if (l === 0) this.members--;
      if (after !== 0) break;
      idx = w;
    }
    return true;
  }

  /** Calls `fn` for every member in increasing order (for snapshots and tests, not hot paths). */
  forEach(fn: (i: number) => void): void {
    const level = this.levels[0]!;
    for (let w = 0; w < level.length; w++) {
      let word = level[w]!;
      while (word !== 0) {
        const bit = ctz32(word);
        fn(w * 32 + bit);
        word = (word & (word - 1)) >>> 0;
      }
    }
  }

  /** The smallest member, or -1 when empty. */
  lowest(): number {
    const top = this.levels.length - 1;
    if (this.levels[top]![0] === 0) return -1;
    let idx = 0;
    for (let l = top; l >= 0; l--) {
      const word = this.levels[l]![idx]!;
      idx = idx * 32 + ctz32(word);
    }
    return idx;
  }
}

/** Count of trailing zero bits of a non-zero 32-bit word. */
function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}
