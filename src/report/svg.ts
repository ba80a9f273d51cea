/**
 * Inline SVG charts for the HTML report, written as well-formed XML (every element closed, every
 * attribute quoted, all text escaped) so a report needs nothing from the network: horizontal bar
 * charts (one bar per case, optionally stacked by series) and a line chart of counts over time.
 */

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export function colour(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

/**
 * TLBI operations in a fixed order, so an operation has the same colour in every chart and every
 * report (broadcast forms first, then their local forms).
 */
const KNOWN_OPS = ['RVALE1IS', 'VALE1IS', 'RVAE1IS', 'VAE1IS', 'ASIDE1IS', 'VMALLE1IS', 'RVALE1', 'VALE1', 'RVAE1', 'VAE1', 'ASIDE1', 'VMALLE1'];

/** A colour that depends only on the name: the known TLBI operations' own, else a hash of the name. */
export function colourOf(name: string): string {
  const known = KNOWN_OPS.indexOf(name);
  if (known >= 0) return PALETTE[known % PALETTE.length]!;
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return PALETTE[h % PALETTE.length]!;
}

/** Text and attribute values for XML and HTML. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A round step (1, 2 or 5 × 10^n) giving about `target` intervals up to `max`. */
export function niceStep(max: number, target = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

function short(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${+(n / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${+(n / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(n / 1e3).toPrecision(3)}k`;
  return `${+n.toPrecision(4)}`;
}

function num(n: number): string {
  return String(Math.round(n * 10) / 10);
}

export interface BarSeries {
  name: string;
  /** Its colour (default: by position); charts of named things pass colourOf(name). */
  colour?: string;
  /** One value per category (null: nothing to draw, e.g. a failed case). */
  values: (number | null)[];
}

export interface BarChart {
  title: string;
  /** What the values count, under the axis. */
  unit: string;
  categories: string[];
  /** One series draws plain bars; several are stacked in order, with a legend. */
  series: BarSeries[];
}

const CHAR_W = 7;

export function barChartSvg(c: BarChart, id: string): string {
  const rowH = 26;
  const labelW = Math.min(320, 12 + CHAR_W * Math.max(4, ...c.categories.map((s) => s.length)));
  const plotW = 520;
  const legend = c.series.length > 1;
  const legendH = legend ? 22 * Math.ceil(c.series.length / 4) : 0;
  const top = 36 + legendH;
  const width = labelW + plotW + 90;
  const height = top + rowH * c.categories.length + 40;
  const totals = c.categories.map((_, i) => c.series.reduce((s, x) => s + (x.values[i] ?? 0), 0));
  const step = niceStep(Math.max(0, ...totals));
  const max = Math.max(step, Math.ceil(Math.max(0, ...totals) / step) * step);
  const x = (v: number): number => labelW + (v / max) * plotW;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" id="${escapeXml(id)}" class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(c.title)}">`);
  parts.push(`<title>${escapeXml(c.title)}</title>`);
  parts.push(`<text x="${labelW}" y="20" class="chart-title">${escapeXml(c.title)}</text>`);
  if (legend) {
    c.series.forEach((s, i) => {
      const lx = labelW + (i % 4) * 130;
      const ly = 30 + Math.floor(i / 4) * 22;
      parts.push(`<rect x="${lx}" y="${ly}" width="12" height="12" fill="${s.colour ?? colour(i)}"/>`);
      parts.push(`<text x="${lx + 16}" y="${ly + 11}" class="legend">${escapeXml(s.name.length > 17 ? s.name.slice(0, 16) + '…' : s.name)}</text>`);
    });
  }
  const axisY = top + rowH * c.categories.length;
  for (let v = 0; v <= max + step / 2; v += step) {
    parts.push(`<line x1="${num(x(v))}" y1="${top - 4}" x2="${num(x(v))}" y2="${axisY}" class="grid"/>`);
    parts.push(`<text x="${num(x(v))}" y="${axisY + 16}" class="tick" text-anchor="middle">${escapeXml(short(v))}</text>`);
  }
  parts.push(`<text x="${labelW + plotW / 2}" y="${axisY + 34}" class="unit" text-anchor="middle">${escapeXml(c.unit)}</text>`);
  c.categories.forEach((cat, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="${labelW - 8}" y="${y + 17}" class="label" text-anchor="end">${escapeXml(cat)}</text>`);
    let acc = 0;
    let any = false;
    c.series.forEach((s, j) => {
      const v = s.values[i];
      if (v === null || v === undefined) return;
      any = true;
      if (v <= 0) return;
      const x0 = x(acc);
      acc += v;
      parts.push(
        `<rect x="${num(x0)}" y="${y + 4}" width="${num(Math.max(0.5, x(acc) - x0))}" height="${rowH - 8}" fill="${s.colour ?? colour(j)}"><title>${escapeXml(`${cat}: ${s.name} ${v.toLocaleString('en-US')}`)}</title></rect>`,
      );
    });
    if (any) {
      parts.push(`<text x="${num(x(acc) + 6)}" y="${y + 17}" class="value">${escapeXml(totals[i]!.toLocaleString('en-US', { maximumFractionDigits: 0 }))}</text>`);
    } else {
      // A failed case: a struck-through red band across the plot, never an empty bar that reads as zero.
      parts.push(`<rect x="${labelW}" y="${y + 4}" width="${plotW}" height="${rowH - 8}" class="failed-band" fill="#fbe3e3" stroke="#b00" stroke-dasharray="4 3"/>`);
      parts.push(`<text x="${labelW + 8}" y="${y + 17}" class="failed" fill="#b00" font-weight="bold">FAILED (no counts)</text>`);
    }
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export interface LineSeries {
  name: string;
  values: number[];
}

export interface LineChart {
  title: string;
  /** What the x axis measures (event sequence, dumps ...) and the label of each point. */
  xUnit: string;
  xLabels: string[];
  yUnit: string;
  series: LineSeries[];
}

export function lineChartSvg(c: LineChart, id: string): string {
  const left = 64;
  const plotW = 640;
  const plotH = 240;
  const legendH = 22 * Math.ceil(c.series.length / 4);
  const top = 36 + legendH;
  const width = left + plotW + 30;
  const height = top + plotH + 56;
  const n = Math.max(1, ...c.series.map((s) => s.values.length));
  const peak = Math.max(0, ...c.series.flatMap((s) => s.values));
  const step = niceStep(peak);
  const max = Math.max(step, Math.ceil(peak / step) * step);
  const x = (i: number): number => left + (n === 1 ? plotW / 2 : (i / (n - 1)) * plotW);
  const y = (v: number): number => top + plotH - (v / max) * plotH;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" id="${escapeXml(id)}" class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(c.title)}">`);
  parts.push(`<title>${escapeXml(c.title)}</title>`);
  parts.push(`<text x="${left}" y="20" class="chart-title">${escapeXml(c.title)}</text>`);
  c.series.forEach((s, i) => {
    const lx = left + (i % 4) * 150;
    const ly = 30 + Math.floor(i / 4) * 22;
    parts.push(`<rect x="${lx}" y="${ly}" width="12" height="12" fill="${colour(i)}"/>`);
    parts.push(`<text x="${lx + 16}" y="${ly + 11}" class="legend">${escapeXml(s.name)}</text>`);
  });
  for (let v = 0; v <= max + step / 2; v += step) {
    parts.push(`<line x1="${left}" y1="${num(y(v))}" x2="${left + plotW}" y2="${num(y(v))}" class="grid"/>`);
    parts.push(`<text x="${left - 6}" y="${num(y(v) + 4)}" class="tick" text-anchor="end">${escapeXml(short(v))}</text>`);
  }
  const labelEvery = Math.max(1, Math.ceil(n / 8));
  c.xLabels.forEach((l, i) => {
    if (i % labelEvery !== 0 && i !== n - 1) return;
    parts.push(`<text x="${num(x(i))}" y="${top + plotH + 16}" class="tick" text-anchor="middle">${escapeXml(l)}</text>`);
  });
  parts.push(`<text x="${left + plotW / 2}" y="${top + plotH + 36}" class="unit" text-anchor="middle">${escapeXml(c.xUnit)}</text>`);
  parts.push(`<text x="14" y="${top + plotH / 2}" class="unit" text-anchor="middle" transform="rotate(-90 14 ${top + plotH / 2})">${escapeXml(c.yUnit)}</text>`);
  c.series.forEach((s, i) => {
    const pts = s.values.map((v, j) => `${num(x(j))},${num(y(v))}`).join(' ');
    if (s.values.length === 1) parts.push(`<circle cx="${num(x(0))}" cy="${num(y(s.values[0]!))}" r="4" fill="${colour(i)}"><title>${escapeXml(s.name)}</title></circle>`);
    else parts.push(`<polyline points="${pts}" fill="none" stroke="${colour(i)}" stroke-width="2"><title>${escapeXml(s.name)}</title></polyline>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
