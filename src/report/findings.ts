/**
 * Checker findings of a whole run, for people and for `--strict`. A finding (break-before-make
 * or contiguous-set rule broken by the kernel model) is a model bug until shown otherwise: every
 * count of a run that has one is suspect, so `run` shows them before anything else and
 * `--strict` turns any of them into a failed run.
 */
import type { Tally } from '../trace/stats.js';

export interface FindingRecord {
  kind: 'bbm_violation' | 'contig_violation';
  rule: string;
  /** The VA the descriptor maps, hex. */
  va: string;
  level: number;
  asid: number;
  detail: string;
  /** The kernel-model call chain that made the store. */
  chain: string;
}

/** The whole run's findings (a marker reset does not hide them): total, by rule, the first few. */
export interface CheckerSummary {
  total: number;
  by_rule: Tally;
  first: FindingRecord[];
}

export const NO_FINDINGS: CheckerSummary = Object.freeze({ total: 0, by_rule: {}, first: [] }) as CheckerSummary;

/** The exit status of a run whose model broke a checker rule under --strict (EX_SOFTWARE: a bug of ours). */
export const EXIT_CHECKER = 70;

/** How many findings the text shows in full. */
const SHOWN = 3;

/**
 * The lines `run` prints on stderr when the checker found anything (none otherwise): a banner
 * with the count by rule, then the first findings with their call chains.
 */
export function findingsText(c: CheckerSummary): string[] {
  if (c.total === 0) return [];
  const rules = Object.entries(c.by_rule)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([r, n]) => `${r} ×${n}`)
    .join(', ');
  const out = [`contpte-lab: CHECKER: ${c.total} finding${c.total === 1 ? '' : 's'} (${rules}): the kernel model broke an architectural rule, so this run's counts are suspect`];
  for (const f of c.first.slice(0, SHOWN)) out.push(`  ${f.rule} at va ${f.va} (level ${f.level}, asid ${f.asid}): ${f.detail}`, `    chain: ${f.chain || '(none)'}`);
  if (c.total > SHOWN) out.push(`  ... ${c.total - SHOWN} more (all of them with --trace FILE --trace-events bbm_violation,contig_violation)`);
  return out;
}

/** Read back from JSON (a child's summary); absent means none were reported. */
export function checkerSummaryFromJson(v: unknown): CheckerSummary {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return NO_FINDINGS;
  const o = v as Record<string, unknown>;
  const byRule: Tally = {};
  if (typeof o['by_rule'] === 'object' && o['by_rule'] !== null) for (const [k, x] of Object.entries(o['by_rule'])) if (typeof x === 'number') byRule[k] = x;
  const first = Array.isArray(o['first']) ? (o['first'].filter((f) => typeof f === 'object' && f !== null) as FindingRecord[]) : [];
  return { total: typeof o['total'] === 'number' ? o['total'] : 0, by_rule: byRule, first };
}
