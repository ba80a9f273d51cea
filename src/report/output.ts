/**
 * What a comparison prints: the table in one of the stdout formats, and the HTML report. Shared by
 * `compare` (cases run here) and `collect` (cases run elsewhere as jobs), so both print the same
 * bytes for the same outcomes.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { packageVersion } from './jobs.js';
import { UsageError } from '../util/errors.js';
import { comparisonJson, type Comparison } from './compare.js';
import { renderHtmlReport } from './html.js';
import { renderCsv, renderMarkdown, renderText, type Table } from './table.js';
import { timelineFromDumps, timelineFromJsonl, type Timeline } from './timeline.js';

export const OUTPUT_FORMATS = ['text', 'markdown', 'csv', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The stdout document of a comparison in `format`. */
/** `width`: the terminal's, for the text table (blocks of columns that fit); `colour`: FAILED in red. */
export function renderComparison(cmp: Comparison, table: Table, format: OutputFormat, term: { width?: number; colour?: boolean } = {}): string {
  switch (format) {
    case 'text': {
      const text = renderText(table, term.width ?? Infinity);
      return term.colour === true ? text.replace(/\bFAILED\b/g, '\x1b[31mFAILED\x1b[0m') : text;
    }
    case 'markdown':
      return renderMarkdown(table);
    case 'csv':
      return renderCsv(table);
    case 'json':
      return JSON.stringify(comparisonJson(cmp), null, 2) + '\n';
    default: {
      const never: never = format;
      throw new UsageError(`--format: unknown format '${String(never)}' (expected ${OUTPUT_FORMATS.join(', ')})`);
    }
  }
}

export interface HtmlOutput {
  file: string;
  title: string;
  cmp: Comparison;
  table: Table;
  /** A JSONL trace of the only run, for its chart of events over time; else the dumps make one. */
  traceFile?: string | null;
  /** The command that made the report, as typed. */
  command?: string;
}

/** Writes the HTML report; an unwritable file is a one-line usage error. */
export async function writeHtmlComparison(out: HtmlOutput): Promise<void> {
  let timeline: Timeline | null = null;
  const only = out.cmp.cases.length === 1 ? out.cmp.cases[0] : undefined;
  if (out.traceFile != null && existsSync(out.traceFile)) timeline = await timelineFromJsonl(out.traceFile);
  else if (only !== undefined && only.result.ok) timeline = timelineFromDumps(only.result.summary);
  const html = renderHtmlReport({
    title: out.title,
    comparison: out.cmp,
    table: out.table,
    timeline,
    generated: new Date().toISOString(),
    version: packageVersion(),
    ...(out.command !== undefined ? { command: out.command } : {}),
  });
  try {
    writeFileSync(out.file, html);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
    throw new UsageError(`--html: cannot write '${out.file}' (${code})`);
  }
}
