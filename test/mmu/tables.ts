/**
 * Hand-built translation tables for tests: a bump allocator of zeroed 4 KiB table pages in a
 * PhysMem, and `set(va, level, value)` that creates the table path down to `level` and stores a
 * raw descriptor there. No Linux logic: tests say exactly which bits they want.
 */
import { PhysMem, tableDescriptor, levelSize, type Level, type U64Like } from './imports.js';

export class TableBuilder {
  readonly mem: PhysMem;
  readonly root: number;
  private nextPage: number;

  /** Memory of `size` bytes at `base`; the first page is the root table (level 0 unless given). */
  constructor(base = 0x4000_0000, size = 4 << 20, readonly startLevel: Level = 0) {
    this.mem = PhysMem.allocate(base, size);
    this.root = base;
    this.nextPage = base + 4096;
  }

  allocPage(): number {
    const pa = this.nextPage;
    if (pa + 4096 > this.mem.base + this.mem.size) throw new Error('TableBuilder: out of table pages');
    this.nextPage += 4096;
    return pa;
  }

  /** PA of the descriptor for `va` at `level`, creating tables above it (plain table descriptors). */
  entryPa(va: number, level: Level, tableAttrs: Parameters<typeof tableDescriptor>[1] = {}): number {
    let table = this.root;
    for (let l = this.startLevel; l < level; l++) {
      const pa = table + (Math.floor(va / levelSize(l as Level)) % 512) * 8;
      const d = this.mem.read64(pa);
      if ((d.lo & 3) === 3) {
        table = (d.hi & 0xffff) * 2 ** 32 + ((d.lo & 0xfffff000) >>> 0);
      } else {
        const next = this.allocPage();
        this.mem.write64(pa, tableDescriptor(next, tableAttrs));
        table = next;
      }
    }
    return table + (Math.floor(va / levelSize(level)) % 512) * 8;
  }

  /** Stores `value` as the descriptor for `va` at `level`; returns its PA. */
  set(va: number, level: Level, value: U64Like): number {
    const pa = this.entryPa(va, level);
    this.mem.write64(pa, { lo: value.lo >>> 0, hi: value.hi >>> 0 });
    return pa;
  }

  get(pa: number): U64Like {
    return this.mem.read64(pa);
  }
}
