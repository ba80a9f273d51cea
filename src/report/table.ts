/**
 * A small table model and its renderings: aligned text for terminals, GitHub markdown, and CSV.
 * Cells are numbers, strings or null (nothing to show); the column kind decides how a number is
 * printed, so every rendering shows the same values.
 */

export type ColumnKind = 'text' | 'int' | 'float' | 'ratio';

export interface Column {
  key: string;
  title: string;
  kind: ColumnKind;
}

export type Cell = number | string | null;

export interface Table {
  columns: Column[];
  rows: Cell[][];
  /** Lines printed under the table (sources, parameters, failures). */
  notes: string[];
}

/** A number as a person reads it: ints grouped by thousands, floats to 3 significant digits, ratios as 0.52x. */
export function formatCell(c: Cell, kind: ColumnKind, group = true): string {
  if (c === null) return '';
  if (typeof c === 'string') return c;
  if (!Number.isFinite(c)) return String(c);
  switch (kind) {
    case 'int':
    case 'text':
      return group ? Math.round(c).toLocaleString('en-US') : String(Math.round(c));
    case 'float':
      if (c !== 0 && Math.abs(c) < 1000) return Number(c.toPrecision(3)).toString();
      return group ? Math.round(c).toLocaleString('en-US') : String(Math.round(c));
    case 'ratio':
      return `${c.toFixed(2)}x`;
    default: {
      const never: never = kind;
      throw new Error(`unknown column kind ${String(never)}`);
    }
  }
}

function rightAligned(kind: ColumnKind): boolean {
  return kind !== 'text';
}

/**
 * Aligned columns separated by two spaces; a dashed rule under the titles; notes after a blank
 * line. A table wider than `maxWidth` (a terminal's) is cut into blocks of columns that fit, one
 * under the other, each starting with the first column so its rows stay named.
 */
export function renderText(t: Table, maxWidth = Infinity): string {
  const cells = t.rows.map((r) => r.map((c, i) => formatCell(c, t.columns[i]!.kind).replace(/\s*\n\s*/g, ' ')));
  const widths = t.columns.map((col, i) => Math.max(col.title.length, ...cells.map((r) => r[i]!.length)));
  const blocks = columnBlocks(widths, maxWidth);
  const out: string[] = [];
  for (const cols of blocks) {
    const line = (vals: string[]): string =>
      cols
        .map((i) => (rightAligned(t.columns[i]!.kind) ? vals[i]!.padStart(widths[i]!) : vals[i]!.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd();
    if (out.length > 0) out.push('');
    out.push(line(t.columns.map((c) => c.title)), cols.map((i) => '-'.repeat(widths[i]!)).join('  '), ...cells.map(line));
  }
  if (t.notes.length > 0) out.push('', ...t.notes.flatMap((n) => wrapProse(n, maxWidth)));
  return out.join('\n') + '\n';
}

/**
 * A line of prose cut at spaces into lines of at most `width` characters (a word longer than
 * that keeps a line of its own), the continuation lines indented two spaces more than the first.
 */
export function wrapProse(text: string, width: number): string[] {
  if (!Number.isFinite(width) || text.length <= width) return [text];
  const lead = /^ */.exec(text)![0];
  const more = lead + '  ';
  const lines: string[] = [];
  let line = '';
  for (const w of text.slice(lead.length).split(/ +/)) {
    const indent = lines.length === 0 ? lead : more;
    if (line !== '' && indent.length + line.length + 1 + w.length > width) {
      lines.push(indent + line);
      line = w;
    } else {
      line = line === '' ? w : `${line} ${w}`;
    }
  }
  lines.push((lines.length === 0 ? lead : more) + line);
  return lines;
}

/** Column indices per block: as many columns as fit in `maxWidth` after the first one (at least one each). */
export function columnBlocks(widths: readonly number[], maxWidth: number): number[][] {
  if (widths.length === 0) return [[]];
  const total = widths.reduce((a, w) => a + w, 0) + 2 * (widths.length - 1);
  if (total <= maxWidth) return [widths.map((_, i) => i)];
  const blocks: number[][] = [];
  let cur = [0];
  let used = widths[0]!;
  for (let i = 1; i < widths.length; i++) {
    const w = widths[i]! + 2;
    if (cur.length > 1 && used + w > maxWidth) {
      blocks.push(cur);
      cur = [0];
      used = widths[0]!;
    }
    cur.push(i);
    used += w;
  }
  blocks.push(cur);
  return blocks;
}

function mdEscape(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderMarkdown(t: Table): string {
  const head = '| ' + t.columns.map((c) => mdEscape(c.title)).join(' | ') + ' |';
  const rule = '|' + t.columns.map((c) => (rightAligned(c.kind) ? '---:' : ':---')).join('|') + '|';
  const rows = t.rows.map((r) => '| ' + r.map((c, i) => mdEscape(formatCell(c, t.columns[i]!.kind))).join(' | ') + ' |');
  const out = [head, rule, ...rows];
  if (t.notes.length > 0) out.push('', ...t.notes.map((n) => mdEscape(n)));
  return out.join('\n') + '\n';
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

/** RFC 4180 CSV: column keys as the header, raw numbers (no grouping), no notes. */
export function renderCsv(t: Table): string {
  const head = t.columns.map((c) => csvField(c.key)).join(',');
  const rows = t.rows.map((r) =>
    r
      .map((c, i) => {
        if (c === null) return '';
        if (typeof c === 'string') return csvField(c);
        return t.columns[i]!.kind === 'int' ? String(Math.round(c)) : String(c);
      })
      .join(','),
  );
  return [head, ...rows].join('\r\n') + '\r\n';
}
