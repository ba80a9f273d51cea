/**
 * The HTML report of a comparison: one self-contained file (inline CSS and SVG, no scripts, no
 * network), written as well-formed XHTML-style markup so it can be checked mechanically. It holds
 * the comparison table, a bar chart of TLBIs per case stacked by operation, a bar chart of modeled
 * ops/s per case (or modeled cycles when the guest counted no ops), and for a single run a chart
 * of events over time.
 */
import { ratioToBaseline, type Comparison } from './compare.js';
import { barChartSvg, escapeXml, lineChartSvg, type BarChart } from './svg.js';
import { formatCell, type Table } from './table.js';
import { timelineChart, type Timeline } from './timeline.js';

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.failed { color: #b00; }
.notes { color: #555; font-size: 0.92em; } .estimate { background: #fff6d8; padding: 0.5em 1em; border-left: 4px solid #e0b000; }
svg.chart { display: block; margin: 1em 0; font: 12px system-ui, sans-serif; }
svg .chart-title { font-weight: bold; font-size: 13px; } svg .grid { stroke: #e4e4e4; }
svg .tick, svg .unit, svg .legend { fill: #555; } svg .value { fill: #222; }
`;

function tableHtml(t: Table): string {
  const head = '<tr>' + t.columns.map((c) => `<th>${escapeXml(c.title)}</th>`).join('') + '</tr>';
  const rows = t.rows.map(
    (r) =>
      '<tr>' +
      r
        .map((c, i) => {
          const col = t.columns[i]!;
          const text = formatCell(c, col.kind);
          const cls = col.key === 'error' && text !== '' ? ' class="failed"' : col.kind === 'text' ? '' : ' class="num"';
          return `<td${cls}>${escapeXml(text)}</td>`;
        })
        .join('') +
      '</tr>',
  );
  return `<table>\n<thead>${head}</thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>`;
}

/** TLBIs per case, stacked by operation. */
export function tlbiChart(cmp: Comparison): BarChart {
  const ops = [...new Set(cmp.cases.flatMap((c) => Object.keys(c.counts?.tlbi.by_op ?? {})))].sort();
  return {
    title: 'TLBIs per case, by operation',
    unit: 'TLBI instructions (measured region)',
    categories: cmp.cases.map((c) => c.name),
    series: ops.length === 0 ? [{ name: 'TLBI', values: cmp.cases.map((c) => (c.counts === undefined ? null : 0)) }] : ops.map((op) => ({ name: op, values: cmp.cases.map((c) => (c.counts === undefined ? null : (c.counts.tlbi.by_op[op] ?? 0))) })),
  };
}

/** Modeled ops/s per case, or modeled cycles when no case counted ops. */
export function speedChart(cmp: Comparison): BarChart {
  const perOp = cmp.cases.some((c) => c.modeled?.ops_per_sec != null);
  return perOp
    ? {
        title: 'Modeled ops per second per case (estimate)',
        unit: 'ops/s at the nominal clock (cost model)',
        categories: cmp.cases.map((c) => c.name),
        series: [{ name: 'ops/s', values: cmp.cases.map((c) => c.modeled?.ops_per_sec ?? null) }],
      }
    : {
        title: 'Modeled cycles per case (estimate)',
        unit: 'cycles (cost model)',
        categories: cmp.cases.map((c) => c.name),
        series: [{ name: 'cycles', values: cmp.cases.map((c) => c.modeled?.cycles ?? null) }],
      };
}

/**
 * The machine's CPUs per case: broadcast TLBIs each CPU received from the others (what a
 * many-CPU machine pays for every broadcast), as min / mean / max over the CPUs, with the totals.
 */
export function cpuTableHtml(cmp: Comparison): string {
  const rows = cmp.cases.map((c) => {
    const cpus = c.counts?.cpus ?? [];
    if (c.counts === undefined || cpus.length === 0) return `<tr><td>${escapeXml(c.name)}</td><td colspan="6">${c.result.ok ? 'no per-CPU counts' : 'failed'}</td></tr>`;
    const received = cpus.map((x) => x.tlbi_received);
    const sum = (v: number[]): number => v.reduce((a, b) => a + b, 0);
    const cells = [
      String(cpus.length),
      String(sum(cpus.map((x) => x.tlbi_issued))),
      String(sum(received)),
      String(Math.min(...received)),
      (sum(received) / cpus.length).toFixed(1),
      String(Math.max(...received)),
    ];
    return `<tr><td>${escapeXml(c.name)}</td>${cells.map((v) => `<td class="num">${v}</td>`).join('')}</tr>`;
  });
  const head = ['case', 'CPUs', 'TLBIs issued', 'broadcasts received', 'received per CPU: min', 'mean', 'max'].map((h) => `<th>${h}</th>`).join('');
  // The modeled machine beyond the simulated CPUs (cost.busy_cpus): labelled, never mixed into the table.
  const extra = cmp.cases.flatMap((c) => {
    const x = c.modeled?.cpus_extrapolated;
    if (x === undefined) return [];
    return [`<p class="notes">${escapeXml(c.name)}, EXTRAPOLATED (not simulated): ${x.simulated_busy_cpus} simulated busy CPUs stand for ${x.modeled_busy_cpus} of ${x.modeled_cpus}; per busy CPU ${x.per_busy_cpu.tlbi_received.toFixed(0)} broadcasts received, the machine ${x.tlbi_received.toFixed(0)}.</p>`];
  });
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>${extra.length > 0 ? '\n' + extra.join('\n') : ''}`;
}

export interface HtmlReportInput {
  title: string;
  comparison: Comparison;
  table: Table;
  /** Events over time, for a single run. */
  timeline?: Timeline | null;
  /** When the report was made (left out when undefined, so tests get stable output). */
  generated?: string;
}

export function renderHtmlReport(r: HtmlReportInput): string {
  const cmp = r.comparison;
  const parts: string[] = [];
  parts.push('<!DOCTYPE html>');
  parts.push('<html lang="en">');
  parts.push('<head>');
  parts.push('<meta charset="utf-8"/>');
  parts.push(`<title>${escapeXml(r.title)}</title>`);
  parts.push(`<style>${STYLE}</style>`);
  parts.push('</head>');
  parts.push('<body>');
  parts.push(`<h1>${escapeXml(r.title)}</h1>`);
  const base = cmp.cases.find((c) => c.name === cmp.baseline);
  const summaryLine = cmp.cases
    .map((c) => {
      const ratio = ratioToBaseline(c, base);
      return `${c.name}: ${c.result.ok ? (ratio === null ? 'ran' : formatCell(ratio, 'ratio')) : 'failed'}`;
    })
    .join('; ');
  parts.push(`<p>Program <code>${escapeXml(cmp.elf)}</code>, ${cmp.cases.length} case${cmp.cases.length === 1 ? '' : 's'}, baseline <code>${escapeXml(cmp.baseline)}</code>${r.generated !== undefined ? `, generated ${escapeXml(r.generated)}` : ''}.</p>`);
  parts.push(`<p>Relative modeled speed: ${escapeXml(summaryLine)}.</p>`);
  parts.push(
    '<p class="estimate">Counts (faults, PTE writes, folds, TLBIs, DSBs, walks) are exact counts of the model. Cycles and ops/s come from the cost model: an estimate whose value is the ordering and rough ratios of the cases, not their absolute figures (see docs/cost-model.md).</p>',
  );
  parts.push('<h2>Comparison</h2>');
  parts.push(tableHtml(r.table));
  parts.push('<div class="notes">');
  for (const n of r.table.notes) parts.push(`<p>${escapeXml(n)}</p>`);
  parts.push('</div>');
  parts.push('<h2>TLBIs</h2>');
  parts.push(barChartSvg(tlbiChart(cmp), 'chart-tlbi'));
  parts.push('<h2>TLBIs by CPU</h2>');
  parts.push('<p>Every broadcast TLBI (the …IS forms) reaches all the other CPUs of the machine (the <code>cpus</code> knob); the JSON has each CPU\'s counts (<code>counts.cpus</code>).</p>');
  parts.push(cpuTableHtml(cmp));
  parts.push('<h2>Modeled speed</h2>');
  parts.push(barChartSvg(speedChart(cmp), 'chart-speed'));
  if (r.timeline !== undefined && r.timeline !== null) {
    parts.push('<h2>Events over time</h2>');
    parts.push(lineChartSvg(timelineChart(r.timeline, `Events over time: ${cmp.cases[0]?.name ?? ''}`), 'chart-timeline'));
  }
  parts.push('</body>');
  parts.push('</html>');
  return parts.join('\n') + '\n';
}
