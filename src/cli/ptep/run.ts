/**
 * Runs a ptep script against a page-table Workbench and reports, after each statement, the PTEs
 * it touched (a contiguous block as one line) and what it cost.
 */
import { decodeTlbiOperand, describeTlbi } from '../../mmu/index.js';
import {
  CONT_PTES,
  CONT_PTE_SIZE,
  CYDP_CLEAR_DIRTY,
  CYDP_CLEAR_YOUNG,
  FLUSH_RANGE_RULES,
  PAGE_EXECONLY,
  PAGE_NONE,
  PAGE_READONLY,
  PAGE_READONLY_EXEC,
  PAGE_SHARED,
  PAGE_SHARED_EXEC,
  PAGE_SIZE,
  describePte,
  pfnPte,
  pteCont,
  pteMkclean,
  pteMkdirty,
  pteMkold,
  pteMkspecial,
  pteMkwrite,
  pteMkyoung,
  pteModify,
  pteNone,
  ptePfn,
  ptePgprot,
  type FlushRangeRules,
  type Pgprot,
  type PgtablePolicy,
  type Pte,
} from '../../pgtable/index.js';
import { Workbench } from '../../pgtable/workbench.js';
import type { TraceRecord } from '../../trace/events.js';
import type { StatsSnapshot, Tally } from '../../trace/stats.js';
import { u64Hex } from '../../util/u64.js';
import { parseUserNumber } from '../../util/num.js';
import { ScriptError, type Statement } from './parse.js';

/** Protections by name: what a page of that kind looks like once faulted in and written. */
const PROTS: Record<string, Pgprot> = {
  rw: pteMkwrite(pteMkdirty(PAGE_SHARED)),
  'rw-clean': PAGE_SHARED,
  ro: PAGE_READONLY,
  rx: PAGE_READONLY_EXEC,
  rwx: pteMkwrite(pteMkdirty(PAGE_SHARED_EXEC)),
  x: PAGE_EXECONLY,
  none: PAGE_NONE,
};

const SWITCHES: Record<string, keyof PgtablePolicy> = {
  contpte: 'contpte',
  contpte_fold: 'contpteFold',
  tlbi_range: 'tlbiRange',
  tlbi_ttl: 'tlbiTtl',
  kpti: 'kpti',
  bbml2_noabort: 'bbml2Noabort',
  lpa2: 'lpa2',
  access_flags_rawcmp: 'accessFlagsRawCompare',
  flush_tlb_page_ttl: 'flushTlbPageTtl',
};

export const OPERATIONS = [
  'set_ptes', 'set_pte_at', 'set_pte', 'pte_clear', 'ptep_get', 'ptep_get_lockless', 'ptep_get_and_clear',
  'clear_full_ptes', 'get_and_clear_full_ptes', 'ptep_test_and_clear_young', 'ptep_clear_flush_young',
  'ptep_set_wrprotect', 'wrprotect_ptes', 'ptep_set_access_flags', 'clear_young_dirty_ptes',
  'ptep_modify_prot', 'modify_prot_ptes', 'ptep_clear_flush', 'mprotect',
  'flush_tlb_page', 'flush_tlb_range', 'flush_tlb_mm', 'touch',
] as const;

export interface StepCost {
  pte_writes: number;
  pte_atomics: number;
  fold_attempts: number;
  folds: number;
  unfolds: number;
  contpte_convert: number;
  tlbi: Record<string, number>;
  dsb: Record<string, number>;
}

export interface PteRun {
  /** First VA and last byte of the run. */
  va: number;
  end: number;
  count: number;
  kind: 'none' | 'cont-block' | 'ptes';
  pfnFirst?: number;
  pfnLast?: number;
  attrs?: string;
}

export interface StepResult {
  line: number;
  statement: string;
  op: string;
  result?: string;
  ptes: PteRun[];
  cost: StepCost;
  tlbis: { op: string; operand: string; decoded: string; chain: string }[];
}

export class PtepScript {
  private wb: Workbench | undefined;
  private readonly policy: Partial<PgtablePolicy> = {};
  private readonly folios = new Map<string, number>();
  private readonly tlbiLog: TraceRecord[] = [];

  constructor(private readonly file: string) {}

  /** The rig the script ran on (its memory holds the page tables); undefined before any statement needed one. */
  get workbench(): Workbench | undefined {
    return this.wb;
  }

  private bench(): Workbench {
    if (!this.wb) {
      this.wb = new Workbench({ policy: this.policy });
      this.wb.telemetry.tracer.attach({ write: (r) => this.tlbiLog.push(r), close: () => {} }, ['tlbi']);
    }
    return this.wb;
  }

  private err(st: Statement, what: string): ScriptError {
    return new ScriptError(this.file, st.line, what);
  }

  private num(st: Statement, key: string, dflt?: number): number {
    const v = st.args.get(key);
    if (v === undefined) {
      if (dflt === undefined) throw this.err(st, `${st.op} needs ${key}=`);
      return dflt;
    }
    try {
      return parseUserNumber(v, key);
    } catch (e) {
      throw this.err(st, (e as Error).message);
    }
  }

  private va(st: Statement, key = 'va'): number {
    const va = this.num(st, key);
    if (va % PAGE_SIZE !== 0) throw this.err(st, `${key}=0x${va.toString(16)} is not page aligned`);
    if (va >= 2 ** 48) throw this.err(st, `${key}=0x${va.toString(16)} is not a 48-bit address`);
    return va;
  }

  private pfn(st: Statement): number {
    const v = st.args.get('pfn');
    if (v === undefined) throw this.err(st, `${st.op} needs pfn= (a folio name, name+k, or a number)`);
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:\+(\w+))?$/.exec(v);
    if (m) {
      const base = this.folios.get(m[1]!);
      if (base === undefined) throw this.err(st, `no folio named '${m[1]}' (declare it with: folio ${m[1]} order=N)`);
      return base + (m[2] ? this.num({ ...st, args: new Map([['k', m[2]]]) }, 'k') : 0);
    }
    return this.num(st, 'pfn');
  }

  private prot(st: Statement, dflt: string): Pgprot {
    const name = st.args.get('prot') ?? dflt;
    const base = PROTS[name];
    if (!base) throw this.err(st, `prot=${name}: expected one of ${Object.keys(PROTS).join(', ')}`);
    let p: Pte = base;
    if (st.flags.has('old')) p = pteMkold(p);
    if (st.flags.has('clean')) p = pteMkclean(p);
    if (st.flags.has('dirty')) p = pteMkdirty(p);
    if (st.flags.has('special')) p = pteMkspecial(p);
    return p;
  }

  private checkFlags(st: Statement, allowed: string[]): void {
    for (const f of st.flags) if (!allowed.includes(f)) throw this.err(st, `unexpected word '${f}'${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}`);
  }

  private checkArgs(st: Statement, allowed: string[]): void {
    for (const k of st.args.keys()) if (!allowed.includes(k)) throw this.err(st, `${st.op} takes no '${k}=' (it takes: ${allowed.join(', ') || 'nothing'})`);
  }

  /** Runs every statement, calling `emit` after each one that touches the page tables. */
  run(statements: Statement[], emit: (r: StepResult) => void): void {
    let started = false;
    for (const st of statements) {
      if (st.op === 'policy') {
        if (started) throw this.err(st, 'policy must come before any other statement');
        this.setPolicy(st);
        continue;
      }
      started = true;
      if (st.op === 'folio') {
        this.declareFolio(st);
        continue;
      }
      emit(this.step(st));
    }
  }

  private setPolicy(st: Statement): void {
    this.checkFlags(st, []);
    for (const [k, v] of st.args) {
      if (k === 'flush_rules') {
        if (!(FLUSH_RANGE_RULES as readonly string[]).includes(v)) throw this.err(st, `flush_rules=${v}: expected one of ${FLUSH_RANGE_RULES.join(', ')}`);
        this.policy.flushRangeRules = v as FlushRangeRules;
        continue;
      }
      const field = SWITCHES[k];
      if (!field) throw this.err(st, `unknown switch '${k}' (expected one of ${[...Object.keys(SWITCHES), 'flush_rules'].join(', ')})`);
      if (v !== 'on' && v !== 'off') throw this.err(st, `${k}=${v}: expected on or off`);
      (this.policy as Record<string, unknown>)[field] = v === 'on';
    }
  }

  private declareFolio(st: Statement): void {
    if (!st.name) throw this.err(st, 'folio needs a name: folio <name> order=<n>');
    if (this.folios.has(st.name)) throw this.err(st, `folio '${st.name}' declared twice`);
    this.checkArgs(st, ['order']);
    this.checkFlags(st, []);
    const order = this.num(st, 'order');
    if (order > 10) throw this.err(st, `order=${order}: at most 10`);
    this.folios.set(st.name, this.bench().allocFolio(order).firstPfn);
  }

  /** The pfn each declared folio got (for the header of the output). */
  folioTable(): [string, number][] {
    return [...this.folios];
  }

  private step(st: Statement): StepResult {
    const wb = this.bench();
    // Page tables for the statement's range exist before it is measured: their allocation (and
    // its DSBs) belongs to no API call.
    const va = st.args.get('va');
    if (va !== undefined && /^[0-9]/.test(va)) {
      const a = this.va(st);
      wb.ptep(a);
      const nr = st.args.has('nr') ? this.num(st, 'nr') : 1;
      if (nr > 1) wb.ptep(a + (nr - 1) * PAGE_SIZE);
    }
    const before = wb.telemetry.stats.snapshot();
    const tlbiMark = this.tlbiLog.length;
    const { range, result } = this.execute(st, wb);
    const after = wb.telemetry.stats.snapshot();
    return {
      line: st.line,
      statement: st.text,
      op: st.op,
      ...(result !== undefined ? { result } : {}),
      ptes: range ? this.describeRange(range[0], range[1]) : [],
      cost: costBetween(before, after),
      tlbis: this.tlbiLog.slice(tlbiMark).map((e) =>
        e.kind === 'tlbi' ? { op: e.op, operand: u64Hex(e.operand), decoded: describeTlbi(decodeTlbiOperand(e.op as never, e.operand)), chain: e.chain } : { op: '', operand: '', decoded: '', chain: '' },
      ),
    };
  }

  private execute(st: Statement, wb: Workbench): { range?: [number, number]; result?: string } {
    const api = wb.pgtable.ptep;
    const mm = wb.mm;
    const one = (va: number): [number, number] => [va, va + PAGE_SIZE];
    const many = (va: number, nr: number): [number, number] => [va, va + nr * PAGE_SIZE];
    const protFlags = ['old', 'clean', 'dirty', 'special'];
    switch (st.op) {
      case 'set_ptes':
      case 'set_pte_at':
      case 'set_pte': {
        this.checkArgs(st, st.op === 'set_ptes' ? ['va', 'pfn', 'nr', 'prot'] : ['va', 'pfn', 'prot']);
        this.checkFlags(st, protFlags);
        const va = this.va(st);
        const nr = st.op === 'set_ptes' ? this.num(st, 'nr', 1) : 1;
        if (nr < 1 || nr > 512) throw this.err(st, `nr=${nr}: expected 1..512`);
        this.samePteTable(st, va, nr);
        const pte = pfnPte(this.pfn(st), this.prot(st, 'rw'));
        if (st.op === 'set_pte') api.setPte(mm, va, wb.ptep(va), pte);
        else api.setPtes(mm, va, wb.ptep(va), pte, nr);
        return { range: many(va, nr) };
      }
      case 'pte_clear':
      case 'ptep_get':
      case 'ptep_get_lockless':
      case 'ptep_get_and_clear':
      case 'ptep_test_and_clear_young':
      case 'ptep_clear_flush_young':
      case 'ptep_set_wrprotect':
      case 'ptep_clear_flush':
      case 'flush_tlb_page': {
        this.checkArgs(st, ['va']);
        this.checkFlags(st, []);
        const va = this.va(st);
        const ptep = wb.ptep(va);
        switch (st.op) {
          case 'pte_clear':
            api.pteClear(mm, va, ptep);
            return { range: one(va) };
          case 'ptep_get':
            return { range: one(va), result: describePte(api.ptepGet(ptep)) };
          case 'ptep_get_lockless':
            return { range: one(va), result: describePte(api.ptepGetLockless(ptep)) };
          case 'ptep_get_and_clear':
            return { range: one(va), result: describePte(api.ptepGetAndClear(mm, va, ptep)) };
          case 'ptep_test_and_clear_young':
            return { range: one(va), result: api.ptepTestAndClearYoung(mm, va, ptep) ? '1 (was young)' : '0' };
          case 'ptep_clear_flush_young':
            return { range: one(va), result: api.ptepClearFlushYoung(mm, va, ptep) ? '1 (was young)' : '0' };
          case 'ptep_set_wrprotect':
            api.ptepSetWrprotect(mm, va, ptep);
            return { range: one(va) };
          case 'ptep_clear_flush':
            return { range: one(va), result: describePte(api.ptepClearFlush(mm, va, ptep)) };
          default:
            wb.pgtable.flush.flushTlbPage(mm, va);
            return {};
        }
      }
      case 'clear_full_ptes':
      case 'get_and_clear_full_ptes':
      case 'wrprotect_ptes':
      case 'clear_young_dirty_ptes': {
        this.checkArgs(st, ['va', 'nr']);
        this.checkFlags(st, st.op === 'clear_young_dirty_ptes' ? ['young', 'dirty'] : []);
        const va = this.va(st);
        const nr = this.num(st, 'nr');
        this.samePteTable(st, va, nr);
        const ptep = wb.ptep(va);
        if (st.op === 'clear_full_ptes') api.clearFullPtes(mm, va, ptep, nr);
        else if (st.op === 'get_and_clear_full_ptes') return { range: many(va, nr), result: describePte(api.getAndClearFullPtes(mm, va, ptep, nr)) };
        else if (st.op === 'wrprotect_ptes') api.wrprotectPtes(mm, va, ptep, nr);
        else {
          const flags = (st.flags.has('young') ? CYDP_CLEAR_YOUNG : 0) | (st.flags.has('dirty') ? CYDP_CLEAR_DIRTY : 0);
          if (flags === 0) throw this.err(st, 'clear_young_dirty_ptes needs young, dirty or both');
          api.clearYoungDirtyPtes(mm, va, ptep, nr, flags);
        }
        return { range: many(va, nr) };
      }
      case 'ptep_set_access_flags': {
        this.checkArgs(st, ['va', 'dirty']);
        this.checkFlags(st, ['mkyoung', 'mkdirty', 'mkwrite']);
        const va = this.va(st);
        const ptep = wb.ptep(va);
        let entry = api.ptepGet(ptep);
        if (pteNone(entry)) throw this.err(st, `no PTE at 0x${va.toString(16)} to update`);
        if (st.flags.has('mkyoung')) entry = pteMkyoung(entry);
        if (st.flags.has('mkwrite')) entry = pteMkwrite(entry);
        if (st.flags.has('mkdirty')) entry = pteMkdirty(entry);
        const changed = api.ptepSetAccessFlags(mm, va, ptep, entry, this.num(st, 'dirty', 0) !== 0);
        return { range: one(va), result: changed ? '1 (changed)' : '0 (no change)' };
      }
      case 'ptep_modify_prot': {
        this.checkArgs(st, ['va', 'prot']);
        this.checkFlags(st, protFlags);
        const va = this.va(st);
        const ptep = wb.ptep(va);
        const prot = this.prot(st, 'ro');
        const old = api.ptepModifyProtStart(mm, va, ptep);
        if (pteNone(old)) throw this.err(st, `no PTE at 0x${va.toString(16)} to modify`);
        api.ptepModifyProtCommit(mm, va, ptep, old, pteModify(old, prot));
        return { range: one(va) };
      }
      case 'modify_prot_ptes': {
        this.checkArgs(st, ['va', 'nr', 'prot']);
        this.checkFlags(st, protFlags);
        const va = this.va(st);
        const nr = this.num(st, 'nr');
        this.samePteTable(st, va, nr);
        const ptep = wb.ptep(va);
        const old = api.modifyProtStartPtes(mm, va, ptep, nr);
        api.modifyProtCommitPtes(mm, va, ptep, old, pteModify(old, this.prot(st, 'ro')), nr);
        return { range: many(va, nr) };
      }
      case 'mprotect': {
        // change_pte_range: modify_prot start/commit per PTE, each recorded in an mmu_gather,
        // flushed at the end of the VMA (tlb_end_vma) as mprotect(2) does.
        this.checkArgs(st, ['va', 'nr', 'prot']);
        this.checkFlags(st, protFlags);
        const va = this.va(st);
        const nr = this.num(st, 'nr', 1);
        this.samePteTable(st, va, nr);
        const prot = this.prot(st, 'ro');
        const calls = wb.telemetry.calls;
        calls.enter('mprotect');
        try {
          const tlb = wb.pgtable.gather(mm);
          calls.enter('change_pte_range');
          try {
            for (let i = 0; i < nr; i++) {
              const a = va + i * PAGE_SIZE;
              const ptep = wb.ptep(a);
              const old = api.ptepModifyProtStart(mm, a, ptep);
              if (pteNone(old)) continue;
              api.ptepModifyProtCommit(mm, a, ptep, old, pteModify(old, prot));
              tlb.tlbFlushPteRange(a, PAGE_SIZE);
            }
          } finally {
            calls.leave();
          }
          tlb.tlbEndVma();
          tlb.tlbFinishMmu();
        } finally {
          calls.leave();
        }
        return { range: many(va, nr) };
      }
      case 'flush_tlb_range': {
        this.checkArgs(st, ['va', 'nr']);
        this.checkFlags(st, []);
        const va = this.va(st);
        wb.pgtable.flush.flushTlbRange(mm, va, va + this.num(st, 'nr') * PAGE_SIZE);
        return {};
      }
      case 'flush_tlb_mm':
        this.checkArgs(st, []);
        this.checkFlags(st, []);
        wb.pgtable.flush.flushTlbMm(mm);
        return {};
      case 'touch': {
        this.checkArgs(st, ['va', 'access']);
        this.checkFlags(st, []);
        const va = this.va(st);
        const a = st.args.get('access') ?? 'r';
        const access = a === 'r' ? 'read' : a === 'w' ? 'write' : a === 'x' ? 'exec' : undefined;
        if (!access) throw this.err(st, `access=${a}: expected r, w or x`);
        const t = wb.mmu.translate(va, access, 0);
        const result = t.ok
          ? `pa=0x${t.pa.toString(16)} tlb entry [0x${t.spanVa.toString(16)}, +0x${t.spanSize.toString(16)})${t.contiguous ? ' contiguous' : ''}`
          : `${t.kind} fault at level ${t.level}`;
        return { result };
      }
      default:
        throw this.err(st, `unknown operation '${st.op}' (expected one of: policy, folio, ${OPERATIONS.join(', ')})`);
    }
  }

  /** One call works inside one PTE table (the kernel's callers split at PMD boundaries). */
  private samePteTable(st: Statement, va: number, nr: number): void {
    if (nr < 1) throw this.err(st, `nr=${nr}: expected at least 1`);
    if (Math.floor(va / 0x200000) !== Math.floor((va + nr * PAGE_SIZE - 1) / 0x200000)) {
      throw this.err(st, `the range [0x${va.toString(16)}, +${nr} pages) crosses a 2 MiB page-table boundary`);
    }
  }

  /** The PTEs around [start, end), widened to whole 64 KiB blocks, as runs. */
  describeRange(start: number, end: number): PteRun[] {
    const wb = this.bench();
    const s = start - (start % CONT_PTE_SIZE);
    const e = Math.ceil(end / CONT_PTE_SIZE) * CONT_PTE_SIZE;
    const runs: PteRun[] = [];
    let cur: (PteRun & { last?: Pte }) | undefined;
    for (let va = s; va < e; va += PAGE_SIZE) {
      const ptep = wb.pgtable.tables.pteOffsetMap(wb.mm, va);
      const p = ptep === undefined ? { lo: 0, hi: 0 } : wb.pgtable.raw.__ptepGet(ptep);
      const attrs = pteNone(p) ? '' : describeAttrs(p);
      const blockStart = va % CONT_PTE_SIZE === 0;
      const contBlock = pteCont(p);
      const continues =
        cur !== undefined &&
        (pteNone(p)
          ? cur.kind === 'none'
          : cur.kind !== 'none' &&
            cur.attrs === attrs &&
            ptePfn(p) === cur.pfnLast! + 1 &&
            // A contiguous block is its own run; plain runs do not merge into one.
            (cur.kind === 'cont-block') === contBlock &&
            !(contBlock && blockStart));
      if (continues && cur) {
        cur.end = va + PAGE_SIZE - 1;
        cur.count++;
        if (!pteNone(p)) cur.pfnLast = ptePfn(p);
      } else {
        if (cur) runs.push(stripRun(cur));
        cur = pteNone(p)
          ? { va, end: va + PAGE_SIZE - 1, count: 1, kind: 'none' }
          : { va, end: va + PAGE_SIZE - 1, count: 1, kind: contBlock ? 'cont-block' : 'ptes', pfnFirst: ptePfn(p), pfnLast: ptePfn(p), attrs };
      }
    }
    if (cur) runs.push(stripRun(cur));
    return runs;
  }
}

function stripRun(r: PteRun & { last?: Pte }): PteRun {
  const { last: _last, ...rest } = r;
  void _last;
  return rest;
}

/** describePte without the pfn: the attributes a run shares. */
function describeAttrs(p: Pte): string {
  return describePte(p).replace(/pfn=0x[0-9a-f]+ ?/, '').replace(/ ?cont$/, '');
}

function tallyDiff(a: Tally | undefined, b: Tally | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b ?? {})) {
    const d = v - (a?.[k] ?? 0);
    if (d) out[k] = d;
  }
  return out;
}

function costBetween(a: StatsSnapshot, b: StatsSnapshot): StepCost {
  const n = (g: string, k: string): number => ((b[g]?.[k] as number | undefined) ?? 0) - ((a[g]?.[k] as number | undefined) ?? 0);
  const dsb: Record<string, number> = {};
  for (const k of ['ishst', 'ish', 'nsh', 'nshst', 'sy']) {
    const d = n('dsb', k);
    if (d) dsb[k] = d;
  }
  return {
    pte_writes: n('pgtable', 'pte_writes'),
    pte_atomics: n('pgtable', 'pte_atomics'),
    fold_attempts: n('pgtable', 'fold_attempts'),
    folds: n('pgtable', 'folds'),
    unfolds: n('pgtable', 'unfolds'),
    contpte_convert: n('pgtable', 'contpte_convert'),
    tlbi: tallyDiff(a['tlbi']?.['by_op'] as Tally | undefined, b['tlbi']?.['by_op'] as Tally | undefined),
    dsb,
  };
}

const hex = (n: number): string => '0x' + n.toString(16);

/** The text rendering of one step. */
export function formatStep(r: StepResult, verbose: boolean): string {
  const lines = [`${String(r.line).padStart(3)}  ${r.statement}`];
  if (r.result !== undefined) lines.push(`       = ${r.result}`);
  for (const run of r.ptes) {
    const span = `${hex(run.va)}-${hex(run.end)}`.padEnd(27);
    if (run.kind === 'none') {
      lines.push(`       ${span} ${`${run.count} none`.padEnd(9)}`.trimEnd());
      continue;
    }
    const label = run.kind === 'cont-block' ? 'CONT' : `${run.count} PTE${run.count === 1 ? '' : 's'}`;
    const pfns = run.pfnFirst === run.pfnLast ? `pfn ${hex(run.pfnFirst!)}` : `pfn ${hex(run.pfnFirst!)}-${hex(run.pfnLast!)}`;
    lines.push(`       ${span} ${label.padEnd(9)} ${pfns.padEnd(21)} ${run.attrs}`);
  }
  lines.push(`       cost: ${formatCost(r.cost)}`);
  if (verbose) for (const t of r.tlbis) lines.push(`         ${t.decoded}   [${t.chain}]`);
  return lines.join('\n');
}

export function formatCost(c: StepCost): string {
  const parts: string[] = [];
  parts.push(`${c.pte_writes} PTE write${c.pte_writes === 1 ? '' : 's'}${c.pte_atomics ? ` (${c.pte_atomics} atomic)` : ''}`);
  if (c.fold_attempts) parts.push(`${c.fold_attempts} fold attempt${c.fold_attempts === 1 ? '' : 's'}`);
  if (c.folds || c.unfolds) parts.push(`${c.folds} fold, ${c.unfolds} unfold`);
  if (c.contpte_convert) parts.push(`${c.contpte_convert} contpte_convert`);
  const tl = Object.entries(c.tlbi).sort(([x], [y]) => x.localeCompare(y));
  parts.push(tl.length ? `TLBI ${tl.map(([op, n]) => `${n}x${op}`).join(' ')}` : 'no TLBI');
  const ds = Object.entries(c.dsb);
  parts.push(ds.length ? `DSB ${ds.map(([k, n]) => (n === 1 ? k : `${n}x${k}`)).join(' ')}` : 'no DSB');
  return parts.join('; ');
}

export function stepJson(r: StepResult): unknown {
  return {
    line: r.line,
    statement: r.statement,
    op: r.op,
    ...(r.result !== undefined ? { result: r.result } : {}),
    ptes: r.ptes.map((p) => ({
      va: hex(p.va),
      end: hex(p.end),
      count: p.count,
      kind: p.kind,
      ...(p.pfnFirst !== undefined ? { pfn_first: hex(p.pfnFirst), pfn_last: hex(p.pfnLast!), attrs: p.attrs } : {}),
    })),
    cost: r.cost,
    tlbis: r.tlbis,
  };
}

