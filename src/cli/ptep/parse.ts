/**
 * The ptep script language: one statement per line, `#` starts a comment.
 *
 *   policy <switch>=<value> ...       page-table switches (before anything else)
 *   folio <name> order=<n>            allocate a naturally aligned folio; `pfn=<name>[+k]` refers to it
 *   <operation> key=value ... flag    call the page-table API (see OPERATIONS)
 *
 * Values: numbers in decimal or 0x hex (K/M/G suffixes allowed), names, or `on`/`off`.
 * Errors name the file, the line and what was expected.
 */
import { UsageError } from '../../util/errors.js';

export interface Statement {
  line: number;
  /** The statement as written, without comment. */
  text: string;
  op: string;
  /** The first bare word after the op, if any (the folio name). */
  name?: string;
  args: Map<string, string>;
  flags: Set<string>;
}

export function parseScript(source: string, file: string): Statement[] {
  const out: Statement[] = [];
  const lines = source.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!.replace(/#.*$/, '').trim();
    if (text === '') continue;
    const words = text.split(/\s+/);
    const op = words[0]!;
    if (!/^[a-z_][a-z0-9_]*$/.test(op)) throw new ScriptError(file, i + 1, `'${op}' is not an operation name`);
    const args = new Map<string, string>();
    const flags = new Set<string>();
    let name: string | undefined;
    for (const w of words.slice(1)) {
      const eq = w.indexOf('=');
      if (eq > 0) {
        const k = w.slice(0, eq);
        const v = w.slice(eq + 1);
        if (v === '') throw new ScriptError(file, i + 1, `'${k}=' has no value`);
        if (args.has(k)) throw new ScriptError(file, i + 1, `'${k}' given twice`);
        args.set(k, v);
      } else if (eq === 0) {
        throw new ScriptError(file, i + 1, `'${w}' has no name before '='`);
      } else if (op === 'folio' && name === undefined && args.size === 0) {
        name = w;
      } else {
        flags.add(w);
      }
    }
    out.push({ line: i + 1, text, op, ...(name !== undefined ? { name } : {}), args, flags });
  }
  return out;
}

export class ScriptError extends UsageError {
  constructor(file: string, line: number, what: string) {
    super(`${file}:${line}: ${what}`);
  }
}
