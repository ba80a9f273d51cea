/**
 * The summary for people: what `run` prints on stderr. Grouped like the JSON, counts aligned in
 * one column, a per-op column when the guest counted ops, TLBIs by operation and by call site,
 * and one line per dump.
 */
import type { Tally } from '../trace/stats.js';
import type { CostResult } from './cost.js';
import type { CpuExtrapolation } from './extrapolate.js';
import type { Counts, Summary } from './summary.js';
import { wrapProse } from './table.js';

type Row = { label: string; value: number | null; indent: number } | { heading: string };

function grouped(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function perOp(n: number, ops: number): string {
  const v = n / ops;
  if (v === 0) return '0';
  if (v >= 100) return v.toFixed(0);
  if (v >= 1) return v.toFixed(3);
  return v.toPrecision(3);
}

function sortedTally(t: Tally): [string, number][] {
  return Object.entries(t)
    .filter(([, v]) => v !== 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

function countRows(c: Counts): Row[] {
  const rows: Row[] = [];
  const add = (label: string, value: number, indent = 1): void => {
    rows.push({ label, value, indent });
  };
  const addTally = (t: Tally, indent: number): void => {
    for (const [k, v] of sortedTally(t)) add(k, v, indent);
  };
  rows.push({ label: 'faults', value: c.faults.total, indent: 0 });
  for (const [k, v] of Object.entries(c.faults)) if (k !== 'total' && v !== 0) add(k, v);
  if (c.fault_retries !== 0) add('retries', c.fault_retries);
  for (const [name, t] of Object.entries(c.fault_detail)) {
    if (sortedTally(t).length === 0) continue;
    rows.push({ label: name.replace(/_/g, ' '), value: null, indent: 1 });
    addTally(t, 2);
  }
  rows.push({ heading: 'page tables' });
  add('pte writes', c.pte_writes);
  add('pte atomics', c.pte_atomics);
  add('folds', c.folds);
  add('unfolds', c.unfolds);
  add('contpte_convert', c.contpte_convert);
  add('fold attempts', c.fold_attempts);
  add('contpte_set_ptes', c.contpte_set_ptes);
  rows.push({ label: 'TLBI', value: c.tlbi.total, indent: 0 });
  if (c.tlbi.total > 0) {
    rows.push({ label: 'by op', value: null, indent: 1 });
    addTally(c.tlbi.by_op, 2);
    rows.push({ label: 'by site', value: null, indent: 1 });
    addTally(c.tlbi.by_site, 2);
    // With several CPUs: what each issued and what the others' broadcasts cost it.
    if (c.cpus.length > 1) {
      rows.push({ label: 'received, by CPU', value: null, indent: 1 });
      for (const x of c.cpus) if (x.tlbi_issued > 0 || x.tlbi_received > 0) rows.push({ label: `cpu${x.cpu} (issued ${grouped(x.tlbi_issued)})`, value: x.tlbi_received, indent: 2 });
    }
  }
  // Only runs whose ASID allocator rolled over say anything about it.
  if (c.asid.rollovers > 0 || c.asid.local_flushes > 0) {
    rows.push({ label: 'ASID rollovers', value: c.asid.rollovers, indent: 0 });
    rows.push({ label: 'local flushes (VMALLE1), by CPU', value: c.asid.local_flushes, indent: 1 });
    for (const [cpu, n] of Object.entries(c.asid.local_flushes_by_cpu)) if (n > 0) rows.push({ label: `cpu${cpu}`, value: n, indent: 2 });
  }
  rows.push({ label: 'DSB', value: c.dsb, indent: 0 });
  addTally(c.dsb_by_domain, 1);
  rows.push({ heading: 'TLB' });
  add('walks', c.tlb.walks);
  add('fills', c.tlb.fills);
  add('contiguous fills', c.tlb.contiguous_fills);
  add('evictions', c.tlb.evictions);
  add('invalidated entries', c.tlb.invalidated_entries);
  rows.push({ heading: 'checker' });
  add('bbm violations', c.bbm_violations);
  add('contig violations', c.contig_violations);
  if (c.syscalls.total > 0) {
    rows.push({ label: 'syscalls', value: c.syscalls.total, indent: 0 });
    addTally(c.syscalls.by_name, 1);
  }
  return rows;
}

function wrapWords(words: string[], indent: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line !== '' && indent.length + line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else {
      line = line === '' ? w : `${line} ${w}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : indent + l));
}

function endText(s: Summary): string {
  const code = s.exit_code === null ? 'no exit code' : `exit code ${s.exit_code}`;
  const detail = s.end.detail !== undefined ? `: ${s.end.detail}` : '';
  return `${code} (${s.end.reason}${detail})`;
}

function costLines(c: CostResult, source: string): string[] {
  const p = c.params;
  const where = `${source}; cpus=${p.cpus} busy_cpus=${p.busy_cpus}, ${p.clock_ghz} GHz`;
  const perOp =
    c.cycles_per_op !== null && c.ops_per_sec !== null
      ? `${grouped(c.cycles_per_op)} cycles/op, ${grouped(c.ops_per_sec)} ops/s`
      : `${grouped(c.cycles)} cycles (no ops counted)`;
  // The extrapolation (if any) comes first, so the modeled figures stay the summary's last lines.
  const x = extrapolationLines(c.cpus_extrapolated);
  return [...(x.length > 0 ? ['', ...x] : []), '', `modeled (an ESTIMATE, docs/cost-model.md): ${perOp} (${where})`, ...c.notes.map((n) => `  note: ${n}`)];
}

/** The modeled machine's TLB maintenance extrapolated from the simulated CPUs (extrapolate.ts). */
function extrapolationLines(x: CpuExtrapolation | undefined): string[] {
  if (x === undefined) return [];
  const sim = x.simulated;
  const contiguous = sim.every((c, i) => c === sim[0]! + i);
  const which = sim.length <= 4 ? sim.map((c) => `cpu${c}`).join(',') : contiguous ? `cpu${sim[0]}..cpu${sim[sim.length - 1]}` : `${sim.slice(0, 4).map((c) => `cpu${c}`).join(',')},...`;
  return [
    `EXTRAPOLATED, not simulated: ${x.simulated_busy_cpus} simulated busy CPUs (${which}) stand for ${x.modeled_busy_cpus} of ${x.modeled_cpus}, each broadcast for ${+x.factor.toFixed(3)}:`,
    `  per busy CPU ${grouped(x.per_busy_cpu.tlbi_issued)} TLBIs issued, ${grouped(x.per_busy_cpu.tlbi_received)} broadcasts received; machine ${grouped(x.tlbi_issued)} issued, ${grouped(x.tlbi_received)} received`,
  ];
}

/**
 * The whole summary as aligned text, ending with a newline; with `cost` (the cost model applied
 * to the measured region, see `summaryCost`), a last line of modeled figures.
 */
export function renderSummaryText(s: Summary, width = 100, cost?: { result: CostResult; source: string }, proseWidth = Infinity): string {
  const out: string[] = [];
  out.push(`contpte-lab: ${endText(s)}`);
  out.push(`profile   ${s.profile}`);
  const knobs = Object.entries(s.policy).map(([k, v]) => `${k}=${v}`);
  if (knobs.length > 0) out.push(`policy    ${wrapWords(knobs, '          ', width).join('\n')}`);
  const ops = s.ops;
  out.push(ops === null ? 'ops       not counted (the guest made no lab_ops call)' : `ops       ${grouped(ops)} (lab_ops since the last reset)`);
  out.push('');

  const rows = countRows(s.counts);
  const labelWidth = Math.max(...rows.map((r) => ('heading' in r ? r.heading.length : r.label.length + 2 * r.indent)));
  const values = rows.map((r) => ('heading' in r || r.value === null ? '' : grouped(r.value)));
  const valueWidth = Math.max('total'.length, ...values.map((v) => v.length));
  const showPerOp = ops !== null && ops > 0;
  const perOps = rows.map((r) => (!showPerOp || 'heading' in r || r.value === null ? '' : perOp(r.value, ops)));
  const perOpWidth = Math.max('per op'.length, ...perOps.map((v) => v.length));
  const head = ' '.repeat(labelWidth) + '  ' + 'total'.padStart(valueWidth) + (showPerOp ? '  ' + 'per op'.padStart(perOpWidth) : '');
  out.push(head.trimEnd());
  rows.forEach((r, i) => {
    if ('heading' in r) {
      out.push(r.heading);
      return;
    }
    const label = ('  '.repeat(r.indent) + r.label).padEnd(labelWidth);
    const line = label + '  ' + values[i]!.padStart(valueWidth) + (showPerOp ? '  ' + perOps[i]!.padStart(perOpWidth) : '');
    out.push(line.trimEnd());
  });

  if (s.dumps.length > 0) {
    out.push('');
    out.push('dumps (each from the last reset to the dump)');
    const labels = s.dumps.map((d) => d.label);
    const lw = Math.max(...labels.map((l) => l.length));
    for (const d of s.dumps) {
      const c = d.counts;
      const parts = [
        `ops ${d.ops === null ? '-' : grouped(d.ops)}`,
        `faults ${grouped(c.faults.total)}`,
        `pte writes ${grouped(c.pte_writes)}`,
        `folds ${grouped(c.folds)}`,
        `unfolds ${grouped(c.unfolds)}`,
        `converts ${grouped(c.contpte_convert)}`,
        `TLBI ${grouped(c.tlbi.total)}`,
        `DSB ${grouped(c.dsb)}`,
      ];
      out.push(`  ${d.label.padEnd(lw)}  ${parts.join(', ')}`);
    }
  }
  // The cost lines are prose: cut to a terminal's width (`proseWidth`), never in a pipe.
  if (cost !== undefined) out.push(...costLines(cost.result, cost.source).flatMap((l) => wrapProse(l, proseWidth)));
  return out.join('\n') + '\n';
}
