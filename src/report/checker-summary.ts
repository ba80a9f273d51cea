/** The checker's whole-run findings as the summary's `checker` object (findings.ts). */
import type { Checker } from '../mmu/checker.js';
import type { Tally } from '../trace/stats.js';
import type { CheckerSummary } from './findings.js';

export function checkerSummary(c: Checker): CheckerSummary {
  const byRule: Tally = {};
  for (const [rule, n] of Object.entries(c.runByRule)) if (n !== undefined) byRule[rule] = n;
  return {
    total: c.runTotal,
    by_rule: byRule,
    first: c.firstFindings.map((f) => ({ kind: f.kind, rule: f.rule, va: '0x' + f.va.toString(16), level: f.level, asid: f.asid, detail: f.detail, chain: f.chain })),
  };
}
