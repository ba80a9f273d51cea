/**
 * Every link and repository path in README.md and docs/** resolves inside the repository
 * (links.ts); the checker itself finds the broken ones of a sample.
 */
import { mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { brokenLinks, headingAnchor } from './links.js';

const ROOT = process.cwd();

function markdownUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? markdownUnder(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : [],
  );
}

describe('links in the documentation', () => {
  it('README.md and docs/**: every link and repository path resolves', () => {
    const files = [join(ROOT, 'README.md'), ...markdownUnder(join(ROOT, 'docs'))];
    expect(files.length).toBeGreaterThan(5);
    expect(files.flatMap((f) => brokenLinks(f, ROOT)).map((b) => `${b.file}:${b.line}: ${b.target}: ${b.why}`)).toEqual([]);
  });

  it('docs/design.md links the schemas and the notes it names', () => {
    const files = markdownUnder(join(ROOT, 'docs')).map((f) => f.slice(ROOT.length + 1));
    expect(files).toContain('docs/design.md');
    expect(readdirSync(join(ROOT, 'docs/schema')).sort()).toEqual(['compare.schema.json', 'summary.schema.json', 'trace-event.schema.json']);
  });

  it('finds missing files, paths outside the repository, missing anchors and unknown code paths', () => {
    const root = mkdtempSync(join(tmpdir(), 'links-'));
    try {
      mkdirSync(join(root, 'docs'));
      writeFileSync(join(root, 'docs', 'a.md'), '# Title\n\n## Two words\n');
      const doc = join(root, 'docs', 'b.md');
      writeFileSync(
        doc,
        [
          'Fine: [a](a.md), [b](a.md#two-words), [web](https://example.org/x), `docs/a.md`, [self](#here)',
          '# Here',
          'Broken: [c](c.md) [d](a.md#nope) [e](../../outside.md)',
          'A path `src/missing.ts` and one in a fence:',
          '```',
          '[f](f.md) `src/also-missing.ts`',
          '```',
          '[ref]: gone.md',
        ].join('\n'),
      );
      expect(brokenLinks(doc, root).map((b) => [b.line, b.target, b.why])).toEqual([
        [3, 'c.md', 'no such file'],
        [3, 'a.md#nope', 'no heading with anchor #nope'],
        [3, '../../outside.md', 'points outside the repository'],
        [4, 'src/missing.ts', 'no such file in the repository'],
        [8, 'gone.md', 'no such file'],
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
    expect(headingAnchor('`run`: the library (v2.0)')).toBe('run-the-library-v20');
  });
});
