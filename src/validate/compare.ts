/**
 * The two sides of `validate` side by side: per region (lab_reset_stats .. lab_dump_stats) the
 * counts both sides have, each row naming the kernel function or counter on the real side and
 * the model's counter it is compared with, and whether they differ.
 */
import type { Dump } from '../report/summary.js';
import type { RealRegion } from './real.js';

export interface CompareRow {
  /** What is counted, named as on the real kernel. */
  readonly name: string;
  readonly model: number;
  readonly real: number | null;
  readonly differs: boolean;
}

export interface RegionCompare {
  readonly label: string;
  readonly rows: readonly CompareRow[];
}

function tallyNumber(t: unknown, key: string): number {
  if (t === null || typeof t !== 'object') return 0;
  const v = (t as Record<string, unknown>)[key];
  return typeof v === 'number' ? v : 0;
}

/**
 * The rows of one region. Real counters come from kprobes (null when the function is inlined in
 * that kernel, so not probed), /proc/vmstat and the 64 KiB mTHP stats; TLBIs from the plugin.
 *
 * - pgfault: completed faults (mm_account_fault skips VM_FAULT_RETRY attempts): the model's faults.
 * - handle_mm_fault (kprobe): every attempt, retries included: the model's faults plus retries.
 * - __contpte_try_fold: entries into the out-of-line fold (the model's fold attempts), whether or
 *   not they fold; __contpte_try_unfold: unfolds.
 */
export function compareRegion(model: Dump, real: RealRegion): RegionCompare {
  const c = model.counts;
  const k = (fn: string): number | null => (`kprobe:${fn}` in real.counters ? real.counters[`kprobe:${fn}`]! : null);
  const v = (name: string): number | null => real.counters[`vmstat:${name}`] ?? null;
  const rows: Omit<CompareRow, 'differs'>[] = [
    { name: 'pgfault', model: c.faults.total, real: v('pgfault') },
    { name: 'handle_mm_fault', model: c.faults.total + c.fault_retries, real: k('handle_mm_fault') },
    { name: 'pgmajfault', model: c.faults['major'] ?? 0, real: v('pgmajfault') },
    { name: 'contpte_set_ptes', model: c.contpte_set_ptes, real: k('contpte_set_ptes') },
    { name: 'contpte_convert', model: c.contpte_convert, real: k('contpte_convert') },
    { name: '__contpte_try_fold', model: c.fold_attempts, real: k('__contpte_try_fold') },
    { name: '__contpte_try_unfold', model: c.unfolds, real: k('__contpte_try_unfold') },
    { name: 'mTHP 64K anon_fault_alloc', model: tallyNumber(c.mm['anon_folios_by_order'], '4'), real: real.counters['mthp64:anon_fault_alloc'] ?? null },
    // PMD-size THP (/proc/vmstat): order-9 anonymous folios mapped by a PMD fault, PMD splits,
    // file folios mapped by a PMD, folios allocated by MADV_COLLAPSE.
    { name: 'thp_fault_alloc', model: tallyNumber(c.mm, 'thp_fault_alloc'), real: v('thp_fault_alloc') },
    { name: 'thp_split_pmd', model: tallyNumber(c.mm, 'thp_split_pmd'), real: v('thp_split_pmd') },
    { name: 'thp_file_mapped', model: tallyNumber(c.mm, 'thp_file_mapped'), real: v('thp_file_mapped') },
    // Order-9 folios allocated by MADV_COLLAPSE (alloc_charge_folio).
    { name: 'thp_collapse_alloc', model: tallyNumber(c.mm, 'thp_collapse_alloc'), real: v('thp_collapse_alloc') },
    { name: 'mTHP 64K shmem_alloc', model: tallyNumber(c.mm['shmem_folios_by_order'], '4'), real: real.counters['mthp64:shmem_alloc'] ?? null },
    // The model has neither writeback nor reclaim: on the real side these show background work
    // that touched the program's pages (and explain the TLBIs it costs).
    { name: 'folio_mkclean (writeback)', model: 0, real: k('folio_mkclean') },
    { name: 'folio_referenced (reclaim)', model: 0, real: k('folio_referenced') },
    { name: 'migrate_pages (compaction)', model: 0, real: k('migrate_pages') },
  ];
  const ops = new Set([...Object.keys(c.tlbi.by_op), ...Object.keys(real.tlbi)]);
  for (const op of [...ops].sort()) rows.push({ name: `TLBI ${op}`, model: c.tlbi.by_op[op] ?? 0, real: real.tlbi[op] ?? 0 });
  return { label: model.label, rows: rows.map((r) => ({ ...r, differs: r.real !== null && r.real !== r.model })) };
}

/** The table for one case: `row  model  real  mark`, a difference marked with `<>`. */
export function renderRegion(title: string, r: RegionCompare, known: (row: string) => string | null): string {
  const w = Math.max(28, ...r.rows.map((x) => x.name.length));
  const out = [`${title} [${r.label}]`, `  ${'counter'.padEnd(w)} ${'model'.padStart(10)} ${'real'.padStart(10)}`];
  for (const row of r.rows) {
    const real = row.real === null ? 'n/a' : String(row.real);
    const why = row.differs ? known(row.name) : null;
    const mark = row.differs ? (why !== null ? `  <> known: ${why}` : '  <> DIFFERS') : '';
    out.push(`  ${row.name.padEnd(w)} ${String(row.model).padStart(10)} ${real.padStart(10)}${mark}`);
  }
  return out.join('\n') + '\n';
}
