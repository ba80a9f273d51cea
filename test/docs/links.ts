/**
 * Finding broken references in the project's markdown: links (`[text](target)`, `[ref]: target`)
 * and repository paths written as code (`src/mmu/walker.ts`, `docs/cost-model.md`). A relative
 * link is resolved from the file's folder, a code path from the repository root; either must
 * exist inside the repository, and a `#fragment` must name a heading of the target (GitHub's
 * anchors). External links (http, https, mailto) are not fetched.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** First path segments that make a code span a repository path. */
const TOP_LEVEL = ['src', 'docs', 'test', 'firmware', 'traces', 'bench', 'validate', 'scripts', '.ci'];

export interface BrokenLink {
  readonly file: string;
  readonly line: number;
  readonly target: string;
  readonly why: string;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const m = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = headingAnchor(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** The markdown without fenced code blocks (their lines kept empty, so line numbers hold). */
function withoutFences(text: string): string[] {
  let fenced = false;
  return text.split('\n').map((line) => {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line;
  });
}

/** Every broken reference of one markdown file; `root` is the repository. */
export function brokenLinks(file: string, root: string): BrokenLink[] {
  const out: BrokenLink[] = [];
  const rel = relative(root, file);
  const check = (target: string, from: string, line: number, kind: 'link' | 'path'): void => {
    const [path = '', fragment] = target.split('#');
    const abs = path === '' ? file : resolve(from, decodeURIComponent(path));
    if (abs !== root && !abs.startsWith(root + sep)) {
      out.push({ file: rel, line, target, why: 'points outside the repository' });
      return;
    }
    if (!existsSync(abs)) {
      out.push({ file: rel, line, target, why: kind === 'link' ? 'no such file' : 'no such file in the repository' });
      return;
    }
    if (fragment !== undefined && fragment !== '' && statSync(abs).isFile() && abs.endsWith('.md') && !anchorsOf(abs).has(fragment)) {
      out.push({ file: rel, line, target, why: `no heading with anchor #${fragment}` });
    }
  };
  withoutFences(readFileSync(file, 'utf8')).forEach((text, i) => {
    const line = i + 1;
    // Links, once inline code is out of the way (a code span may hold brackets).
    const prose = text.replace(/`[^`]*`/g, '``');
    for (const m of prose.matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      check(target, dirname(file), line, 'link');
    }
    const def = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$/.exec(prose);
    if (def && !/^[a-z][a-z0-9+.-]*:/i.test(def[1]!)) check(def[1]!, dirname(file), line, 'link');
    for (const m of text.matchAll(/`([^`\s]+)`/g)) {
      const p = m[1]!.replace(/[.,;:]$/, '');
      if (!TOP_LEVEL.includes(p.split('/')[0]!) || /[*<>{}|$]/.test(p) || !p.includes('/')) continue;
      check(p.replace(/:\d+$/, ''), root, line, 'path');
    }
  });
  return out;
}
