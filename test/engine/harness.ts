/**
 * Test scaffolding for the engine tests: a small stand-in for the real model (page table, TLB,
 * fault handling), just enough to drive the engine the way the machine will. Not shipped.
 *
 *  - a page table: VA page -> (PA, EL0 permissions), edited by the tests;
 *  - a FIFO data TLB of `tlbEntries` 4 KiB entries (instruction pages go to a separate, unbounded
 *    instruction TLB, so data-side miss counts are exact and easy to predict);
 *  - every fill is announced to the engine's shadow (map), every eviction and invalidation too
 *    (unmap), as the real TLB model's notifications will be;
 *  - a fault on a page the page table lacks, or forbids, ends the run with exit code 139.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { Engine, PHYS_BASE, copyAbortInfo, type AbortInfo, type EngineHooks, type EngineOptions, type ExpectedEntry, type ShadowPerms, type StopReason } from '../../src/engine/index.js';

export const PAGE = 4096;
const here = dirname(fileURLToPath(import.meta.url));

export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(here, 'fixtures', name)));
}

export function fixtureText(name: string): string {
  return readFileSync(join(here, 'fixtures', name), 'utf8');
}

export interface Pte {
  pa: number;
  perms: ShadowPerms;
}

export const RO: ShadowPerms = { r: true, w: false, x: false };
export const RW: ShadowPerms = { r: true, w: true, x: false };
export const RX: ShadowPerms = { r: true, w: false, x: true };

interface TlbEntry {
  va: number;
  pa: number;
  perms: ShadowPerms;
}

export class TestModel implements EngineHooks {
  readonly engine: Engine;
  readonly pageTable = new Map<number, Pte>();
  private readonly dtlb: TlbEntry[] = [];
  private readonly itlb = new Map<number, TlbEntry>();
  private nextPa = PHYS_BASE;
  readonly aborts: AbortInfo[] = [];
  svcs = 0;
  dataMisses = 0;
  instructionMisses = 0;
  evictions = 0;
  /** Called on every svc; return a StopReason to stop (default: stop with exit code x0). */
  onSvcHook: (m: TestModel) => StopReason | void = (m) => ({ kind: 'exit', code: Number(m.engine.getX(0) & 0xffn) });
  /** Called before the model resolves an abort; return a response to override it. */
  onAbortHook: ((info: AbortInfo) => 'retry' | StopReason | undefined) | undefined;

  constructor(readonly tlbEntries = 64, options: EngineOptions = {}) {
    this.engine = new Engine({ memMb: 64, ...options, hooks: this });
  }

  close(): void {
    this.engine.close();
  }

  /** A fresh zeroed physical page from the pool. */
  allocPage(): number {
    const pa = this.nextPa;
    this.nextPa += PAGE;
    this.engine.phys.zero(pa, PAGE);
    return pa;
  }

  /** Maps `bytes` at `va` (page aligned) as code, in as many pages as needed. */
  loadCode(va: number, bytes: Uint8Array): void {
    for (let off = 0; off < bytes.length; off += PAGE) {
      const pa = this.allocPage();
      this.engine.phys.write(pa, bytes.subarray(off, Math.min(bytes.length, off + PAGE)));
      this.pageTable.set(va + off, { pa, perms: RX });
    }
  }

  /** Maps a fresh data page at `va` with `perms`; returns its PA. */
  mapData(va: number, perms: ShadowPerms = RW): number {
    const pa = this.allocPage();
    this.pageTable.set(va, { pa, perms });
    return pa;
  }

  /** Changes the page table entry for `va` and invalidates the TLB entry (like a TLBI). */
  setPte(va: number, pte: Pte | undefined): void {
    if (pte) this.pageTable.set(va, pte);
    else this.pageTable.delete(va);
    this.invalidate(va);
  }

  /** TLBI by VA: drops the entry for `va` from both TLBs. */
  invalidate(va: number): void {
    const i = this.dtlb.findIndex((e) => e.va === va);
    if (i >= 0) {
      this.dtlb.splice(i, 1);
      this.engine.shadow.unmap(va, PAGE);
    }
    if (this.itlb.delete(va)) this.engine.shadow.unmap(va, PAGE);
  }

  /** Empties the data TLB and removes every page-table entry that is not code. */
  resetData(): void {
    for (const e of this.dtlb) this.engine.shadow.unmap(e.va, PAGE);
    this.dtlb.length = 0;
    for (const [va, pte] of this.pageTable) if (!pte.perms.x) this.pageTable.delete(va);
    this.aborts.length = 0;
    this.svcs = 0;
  }

  /** Every entry both TLBs hold, for ShadowTables.verify. */
  tlbContents(): ExpectedEntry[] {
    return [...this.dtlb, ...this.itlb.values()].map((e) => ({ vaBase: e.va, size: PAGE, paBase: e.pa, perms: e.perms }));
  }

  readU64(va: number): bigint {
    const pte = this.pageTable.get(va - (va % PAGE))!;
    const pa = pte.pa + (va % PAGE);
    return (BigInt(this.engine.phys.dv.getUint32(pa - PHYS_BASE + 4, true)) << 32n) | BigInt(this.engine.phys.dv.getUint32(pa - PHYS_BASE, true));
  }

  writeU64(va: number, v: bigint): void {
    const pte = this.pageTable.get(va - (va % PAGE))!;
    const off = pte.pa + (va % PAGE) - PHYS_BASE;
    this.engine.phys.dv.setBigUint64(off, v, true);
  }

  // ---- EngineHooks ----

  readInsn(pc: number): number | undefined {
    const pte = this.pageTable.get(pc - (pc % PAGE));
    if (!pte) return undefined;
    return this.engine.phys.dv.getUint32(pte.pa + (pc % PAGE) - PHYS_BASE, true);
  }

  onSvc(): StopReason | void {
    this.svcs++;
    return this.onSvcHook(this);
  }

  onAbort(info: AbortInfo): 'retry' | StopReason {
    this.aborts.push(copyAbortInfo(info));
    const o = this.onAbortHook?.(info);
    if (o !== undefined) return o;
    for (const f of info.faults) {
      const page = f.va - (f.va % PAGE);
      const pte = this.pageTable.get(page);
      const allowed = pte && (f.kind === 'read' ? pte.perms.r : f.kind === 'write' ? pte.perms.w : pte.perms.x);
      if (!pte || !allowed) return { kind: 'exit', code: 139, message: `segfault: ${f.kind} of 0x${f.va.toString(16)}` };
      // A permission fault on a page the table now allows: the TLB holds a stale entry; refresh.
      if (f.reason === 'permission') this.invalidate(page);
      this.fill(page, pte, f.kind === 'exec');
    }
    return 'retry';
  }

  /** A TLB fill, announced to the shadow (evicting the oldest data entry when full). */
  fill(va: number, pte: Pte, instruction: boolean): void {
    if (instruction) {
      this.instructionMisses++;
      this.itlb.set(va, { va, ...pte });
      this.engine.shadow.map(va, PAGE, pte.pa, pte.perms);
      return;
    }
    this.dataMisses++;
    if (this.dtlb.length >= this.tlbEntries) {
      const victim = this.dtlb.shift()!;
      this.evictions++;
      this.engine.shadow.unmap(victim.va, PAGE);
    }
    this.dtlb.push({ va, ...pte });
    this.engine.shadow.map(va, PAGE, pte.pa, pte.perms);
  }
}
