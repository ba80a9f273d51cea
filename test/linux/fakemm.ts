/**
 * Test scaffolding: a `ProcessMemory` for the process-layer tests while the real memory manager
 * is being written. It uses the real VMA set (src/mm/vma.ts) for placement, splitting and
 * merging, and the real page allocator and page cache for the bytes: a private page is an order-0
 * folio of its own (filled from the file for a private file mapping, at first touch), a shared
 * file page is the page cache's folio itself, so write()/read() and a MAP_SHARED mapping see the
 * same bytes exactly as in Linux. VMA protections are honoured by the user-copy paths. It logs
 * every call and every first touch of a page so tests can check order, and tells a listener
 * (the test machine in minimachine.ts) when pages go, so it can drop their translations.
 *
 * It is not the memory manager: no page tables, TLB, large folios or fault-around; a page is
 * "faulted" when first touched. Tests using it should move to the real ProcessMemory once src/mm
 * provides one.
 */
import {
  EEXIST, EINVAL, ENOMEM, MADV_DONTNEED, PROT_EXEC, PROT_READ, PROT_WRITE,
  type FaultOutcome, type MmapRequest, type ProcessMemory,
} from '../../src/mm/api.js';
import type { Folio, Memmap } from '../../src/mm/folio.js';
import type { Inode } from '../../src/mm/inode.js';
import { filemapRead } from '../../src/mm/pagecache.js';
import {
  MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED, VM_EXEC, VM_MAYEXEC, VM_MAYREAD, VM_MAYSHARE,
  VM_MAYWRITE, VM_READ, VM_SHARED, VM_WRITE, VmaSet, type Vma,
} from '../../src/mm/vma.js';
import type { Access, FaultKind } from '../../src/trace/events.js';

const PAGE = 4096;
const MAP_TYPE = 0x0f;
const MAP_SHARED_VALIDATE = 0x03;

export type MemLog =
  | { op: 'mmap'; addr: number; len: number; prot: number; flags: number; file: number | null; pgoff: number; ret: number }
  | { op: 'munmap'; addr: number; len: number; ret: number }
  | { op: 'mprotect'; addr: number; len: number; prot: number; ret: number }
  | { op: 'madvise'; addr: number; len: number; advice: number; ret: number }
  | { op: 'brk'; addr: number; ret: number }
  | { op: 'setBrkBase'; addr: number }
  | { op: 'touch'; page: number; access: 'read' | 'write' | 'exec' };

/** A page the fake has materialised: where its bytes are. */
export interface FakePage {
  readonly pa: number;
  readonly folio: Folio;
  readonly shared: boolean;
  readonly file: Inode | null;
  readonly index: number;
}

export type Perms = { r: boolean; w: boolean; x: boolean };

function vmFlags(prot: number, flags: number): number {
  let f = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  if (prot & PROT_READ) f |= VM_READ;
  if (prot & PROT_WRITE) f |= VM_WRITE;
  if (prot & PROT_EXEC) f |= VM_EXEC;
  if ((flags & MAP_TYPE) !== MAP_PRIVATE) f |= VM_SHARED | VM_MAYSHARE;
  return f;
}

export function vmaPerms(vma: Vma): Perms {
  return { r: (vma.flags & VM_READ) !== 0, w: (vma.flags & VM_WRITE) !== 0, x: (vma.flags & VM_EXEC) !== 0 };
}

export class FakeMemory implements ProcessMemory {
  readonly asid = 1;
  readonly pgd = 0;
  readonly vmas = new VmaSet();
  readonly pages = new Map<number, FakePage>();
  readonly log: MemLog[] = [];
  brkStart = 0;
  brkCur = 0;
  /** Called for each page that stops being mapped as it was (unmap, mprotect, DONTNEED, truncate). */
  onPageGone: (va: number) => void = () => undefined;

  constructor(private readonly memmap: Memmap) {}

  /** The page at `va`, materialised on first touch with the access that touched it. */
  page(va: number, vma: Vma, access: 'read' | 'write' | 'exec'): FakePage {
    const pageNo = Math.floor(va / PAGE);
    const have = this.pages.get(pageNo);
    if (have !== undefined) return have;
    this.log.push({ op: 'touch', page: pageNo * PAGE, access });
    const file = vma.file;
    const index = vma.pgoffOf(pageNo * PAGE);
    let page: FakePage;
    if (file !== null && (vma.flags & VM_SHARED) !== 0) {
      let folio = file.mapping.lookup(index);
      if (folio === null) {
        const r = file.mapping.addFolioAt(index, 0);
        if (r.kind !== 'ok') throw new Error(`fake mm: cannot cache page ${index} of inode ${file.ino}: ${r.kind}`);
        folio = r.folio;
      }
      this.memmap.folioGet(folio);
      page = { pa: folio.pa + (index - folio.index) * PAGE, folio, shared: true, file, index };
    } else {
      const r = this.memmap.folioAlloc(0);
      if (r.kind !== 'ok') throw new Error('fake mm: out of memory');
      const folio = r.folio;
      this.memmap.folioZero(folio);
      if (file !== null) this.memmap.mem.write(folio.pa, filemapRead(file, index * PAGE, PAGE));
      page = { pa: folio.pa, folio, shared: false, file: null, index };
    }
    this.pages.set(pageNo, page);
    return page;
  }

  private dropPage(pageNo: number): void {
    const p = this.pages.get(pageNo);
    if (p === undefined) return;
    this.pages.delete(pageNo);
    this.memmap.folioPut(p.folio);
    this.onPageGone(pageNo * PAGE);
  }

  private dropPages(start: number, end: number): void {
    for (let pg = start / PAGE; pg < end / PAGE; pg++) this.dropPage(pg);
  }

  /** unmap_mapping_range for truncation: pages of `inode` from byte `holebegin` on go. */
  unmapMappingRange(inode: Inode, holebegin: number): void {
    for (const [pageNo, p] of [...this.pages]) if (p.file === inode && p.index * PAGE >= holebegin) this.dropPage(pageNo);
  }

  mmap(req: MmapRequest): number {
    const ret = this.doMmap(req);
    this.log.push({ op: 'mmap', addr: req.addr, len: req.len, prot: req.prot, flags: req.flags, file: req.file?.ino ?? null, pgoff: req.pgoff, ret });
    return ret;
  }

  private doMmap(req: MmapRequest): number {
    const type = req.flags & MAP_TYPE;
    if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) return -EINVAL;
    if (req.len === 0) return -EINVAL;
    const len = Math.ceil(req.len / PAGE) * PAGE;
    if (len > this.vmas.taskSize) return -ENOMEM;
    const file = (req.flags & MAP_ANONYMOUS) !== 0 ? null : req.file;
    let addr: number;
    if ((req.flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0) {
      if (req.addr % PAGE !== 0) return -EINVAL;
      addr = req.addr;
      if (addr + len > this.vmas.taskSize) return -ENOMEM;
      if ((req.flags & MAP_FIXED) === 0 && this.vmas.findVmaIntersection(addr, addr + len) !== null) return -EEXIST;
      this.vmas.detachRange(addr, addr + len);
      this.dropPages(addr, addr + len);
    } else {
      const r = this.vmas.getUnmappedArea({ len, hint: req.addr, flags: req.flags, file, pgoff: req.pgoff });
      if (r.kind !== 'ok') return r.errno === 'ENOMEM' ? -ENOMEM : -EINVAL;
      addr = r.addr;
    }
    const pgoff = file !== null ? req.pgoff : addr / PAGE;
    const m = this.vmas.mapRange({ start: addr, end: addr + len, flags: vmFlags(req.prot, req.flags), pgoff, file });
    if (m.kind !== 'ok') throw new Error('fake mm: overlap after unmapping');
    return addr;
  }

  munmap(addr: number, len: number): number {
    let ret = 0;
    if (addr % PAGE !== 0 || len === 0 || addr + len > this.vmas.taskSize) ret = -EINVAL;
    else {
      const end = addr + Math.ceil(len / PAGE) * PAGE;
      this.vmas.detachRange(addr, end);
      this.dropPages(addr, end);
    }
    this.log.push({ op: 'munmap', addr, len, ret });
    return ret;
  }

  mprotect(addr: number, len: number, prot: number): number {
    let ret = 0;
    if (addr % PAGE !== 0 || (prot & ~7) !== 0) ret = -EINVAL;
    else {
      const end = addr + Math.ceil(len / PAGE) * PAGE;
      let at = addr;
      for (const v of this.vmas.intersecting(addr, end)) {
        if (v.start > at) break;
        at = v.end;
      }
      if (at < end) ret = -ENOMEM;
      else {
        for (const v of this.vmas.intersecting(addr, end)) {
          const s = Math.max(v.start, addr);
          const e = Math.min(v.end, end);
          const type = (v.flags & VM_SHARED) !== 0 ? MAP_SHARED : MAP_PRIVATE;
          this.vmas.modifyFlags(v, s, e, vmFlags(prot, type));
        }
        // Pages keep their bytes; their translations must be made again with the new rights.
        for (let va = addr; va < end; va += PAGE) if (this.pages.has(va / PAGE)) this.onPageGone(va);
      }
    }
    this.log.push({ op: 'mprotect', addr, len, prot, ret });
    return ret;
  }

  madvise(addr: number, len: number, advice: number): number {
    let ret = 0;
    if (addr % PAGE !== 0) ret = -EINVAL;
    else if (advice === MADV_DONTNEED) {
      const end = addr + Math.ceil(len / PAGE) * PAGE;
      for (const v of this.vmas.intersecting(addr, end)) {
        const s = Math.max(v.start, addr);
        const e = Math.min(v.end, end);
        this.dropPages(s, e);
      }
    }
    this.log.push({ op: 'madvise', addr, len, advice, ret });
    return ret;
  }

  // The calls below reach the real memory manager only (test/mm); the linux-layer tests do not use them.
  private unsupported(op: string): never {
    throw new Error(`FakeMemory: ${op} is not faked; test it through the real mm (MmKernel)`);
  }
  mremap(): number {
    return this.unsupported('mremap');
  }
  msync(): number {
    return this.unsupported('msync');
  }
  mlock(): number {
    return this.unsupported('mlock');
  }
  mlock2(): number {
    return this.unsupported('mlock2');
  }
  munlock(): number {
    return this.unsupported('munlock');
  }
  mlockall(): number {
    return this.unsupported('mlockall');
  }
  munlockall(): number {
    return this.unsupported('munlockall');
  }
  mincore(): number {
    return this.unsupported('mincore');
  }

  setBrkBase(addr: number): void {
    this.brkStart = addr;
    this.brkCur = addr;
    this.log.push({ op: 'setBrkBase', addr });
  }

  brk(addr: number): number {
    if (addr >= this.brkStart) {
      const oldEnd = Math.ceil(this.brkCur / PAGE) * PAGE;
      const newEnd = Math.ceil(addr / PAGE) * PAGE;
      if (newEnd > oldEnd) {
        if (this.vmas.findVmaIntersection(oldEnd, newEnd) === null) {
          this.vmas.mapRange({ start: oldEnd, end: newEnd, flags: vmFlags(PROT_READ | PROT_WRITE, MAP_PRIVATE), pgoff: oldEnd / PAGE, file: null });
          this.brkCur = addr;
        }
      } else {
        if (newEnd < oldEnd) {
          this.vmas.detachRange(newEnd, oldEnd);
          this.dropPages(newEnd, oldEnd);
        }
        this.brkCur = addr;
      }
    }
    this.log.push({ op: 'brk', addr, ret: this.brkCur });
    return this.brkCur;
  }

  handleFault(va: number, access: Access, fault: FaultKind): FaultOutcome {
    const vma = this.vmas.vmaLookup(va);
    if (vma === null) return { kind: 'signal', signal: 'SIGSEGV', code: 'SEGV_MAPERR', reason: 'no VMA covers the address' };
    const perms = vmaPerms(vma);
    if (!(access === 'read' ? perms.r : access === 'write' ? perms.w : perms.x)) {
      return { kind: 'signal', signal: 'SIGSEGV', code: 'SEGV_ACCERR', reason: `the VMA does not allow ${access}` };
    }
    void fault;
    this.page(va, vma, access);
    return { kind: 'handled', path: 'fake' };
  }

  private walk(va: number, len: number, write: boolean, fn: (pa: number, done: number, take: number) => void): number {
    let done = 0;
    while (done < len) {
      const at = va + done;
      const vma = this.vmas.vmaLookup(at);
      if (vma === null || (vma.flags & (write ? VM_WRITE : VM_READ)) === 0) break;
      const take = Math.min(PAGE - (at % PAGE), len - done);
      fn(this.page(at, vma, write ? 'write' : 'read').pa + (at % PAGE), done, take);
      done += take;
    }
    return done;
  }

  copyToUser(va: number, bytes: Uint8Array): number {
    return this.walk(va, bytes.length, true, (pa, done, take) => this.memmap.mem.write(pa, bytes.subarray(done, done + take)));
  }

  copyFromUser(va: number, len: number): Uint8Array | null {
    const out = new Uint8Array(len);
    const done = this.walk(va, len, false, (pa, at, take) => out.set(this.memmap.mem.read(pa, take), at));
    if (done === 0 && len > 0) return null;
    return done === len ? out : out.subarray(0, done);
  }

  strncpyFromUser(va: number, max: number): string | null {
    const b = this.copyFromUser(va, max);
    if (b === null) return null;
    const nul = b.indexOf(0);
    return nul < 0 ? null : new TextDecoder().decode(b.subarray(0, nul));
  }

  exitMmap(): void {
    for (const v of [...this.vmas.all()]) this.vmas.detachRange(v.start, v.end);
    for (const pageNo of [...this.pages.keys()]) this.dropPage(pageNo);
  }

  /** Test helper: stores bytes as the guest would (protections ignored). */
  poke(va: number, bytes: Uint8Array): void {
    for (let done = 0; done < bytes.length; ) {
      const at = va + done;
      const vma = this.vmas.vmaLookup(at);
      if (vma === null) throw new Error(`poke: 0x${at.toString(16)} is not mapped`);
      const take = Math.min(PAGE - (at % PAGE), bytes.length - done);
      this.memmap.mem.write(this.page(at, vma, 'write').pa + (at % PAGE), bytes.subarray(done, done + take));
      done += take;
    }
  }

  /** Test helper: loads bytes as the guest would (protections ignored). */
  peek(va: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let done = 0; done < len; ) {
      const at = va + done;
      const vma = this.vmas.vmaLookup(at);
      if (vma === null) throw new Error(`peek: 0x${at.toString(16)} is not mapped`);
      const take = Math.min(PAGE - (at % PAGE), len - done);
      out.set(this.memmap.mem.read(this.page(at, vma, 'read').pa + (at % PAGE), take), done);
      done += take;
    }
    return out;
  }
}
