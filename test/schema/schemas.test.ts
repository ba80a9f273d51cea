/**
 * docs/schema against real outputs: `run --json` (a normal exit with dumps, a guest killed by a
 * signal, a budget stop), the library's run(), `compare --format json` (cases that ran and cases
 * that failed) and every line of a `--trace` file, through the compiled CLI. Broken documents
 * (a missing count, a wrong type, an unknown key, an unknown event kind) must be refused, so the
 * schemas and the validator (validator.ts) are both exercised.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_KINDS } from '../../src/trace/events.js';
import { Validator, type Schema } from './validator.js';

const ROOT = process.cwd();
const CLI = join(ROOT, 'dist/src/cli/main.js');
const SCHEMA_DIR = join(ROOT, 'docs/schema');
const fw = (p: string): string => join(ROOT, 'firmware/bin', p);

const validator = new Validator();
for (const f of readdirSync(SCHEMA_DIR)) validator.add(JSON.parse(readFileSync(join(SCHEMA_DIR, f), 'utf8')) as Schema);

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 180_000, maxBuffer: 256 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The validation errors, as lines a failing test prints. */
const problems = (id: string, v: unknown): string[] => validator.validate(id, v).map((e) => `${e.path || '/'}: ${e.message}`);

let dir = '';
let summary: Record<string, unknown> = {};
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'contpte-lab-schema-'));
  summary = JSON.parse(cli('run', fw('page_fault3'), '--json', '--profile', 'linux-6.9', '--', '1M', '1').out) as Record<string, unknown>;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('docs/schema/summary.schema.json', () => {
  it('holds for run --json: a normal exit with a dump', () => {
    expect((summary['dumps'] as unknown[]).length).toBe(1);
    expect(problems('summary.schema.json', summary)).toEqual([]);
  });

  it('holds for a guest killed by a signal and for a budget stop', () => {
    const killed = cli('run', fw('tagged_ptr'), '--json', '--', 'fault');
    expect(killed.code).toBe(139);
    const k = JSON.parse(killed.out) as { exit_code: number; end: { reason: string } };
    expect(k.end.reason).toBe('signal');
    expect(problems('summary.schema.json', k)).toEqual([]);
    const budget = cli('run', fw('compute'), '--json', '--max-insns', '100000');
    expect(budget.code).toBe(124);
    const b = JSON.parse(budget.out) as { exit_code: null };
    expect(b.exit_code).toBeNull();
    expect(problems('summary.schema.json', b)).toEqual([]);
  }, 120_000);

  it('holds for the library run()', async () => {
    const lib = (await import('contpte-lab' as string)) as typeof import('../../src/index.js');
    const s = await lib.run({ elf: 'firmware/bin/musl_libc', set: { anon_mthp: '64K' }, stdout: () => {} });
    expect(problems('summary.schema.json', s)).toEqual([]);
  }, 120_000);

  it('refuses a summary missing a count, with a wrong type or an unknown key', () => {
    const broken = structuredClone(summary) as { counts: { tlbi: Record<string, unknown>; faults: Record<string, unknown> }; exit_code: unknown; surprise?: number; end: { reason: string } };
    delete broken.counts.tlbi['by_op'];
    broken.exit_code = 'zero';
    broken.counts.faults['total'] = -1;
    broken.surprise = 1;
    broken.end.reason = 'finished';
    expect(problems('summary.schema.json', broken).sort()).toEqual([
      '/counts/faults/total: -1 is below 0',
      "/counts/tlbi: lacks the required property 'by_op'",
      '/end/reason: "finished" is not one of ["exit","signal","crash","budget","interrupted"]',
      '/exit_code: is string, expected integer or null',
      '/surprise: is not a known property',
    ].sort());
    delete (broken as { cost?: unknown }).cost;
    expect(problems('summary.schema.json', broken)).toContain("/: lacks the required property 'cost'");
  });
});

describe('docs/schema/compare.schema.json', () => {
  it('holds for compare --format json, cases that ran', () => {
    const r = cli('compare', fw('page_fault3'), '--matrix', 'contpte=on,off', '--format', 'json', '--', '1M', '1');
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(r.out) as { cases: { status: string }[] };
    expect(doc.cases.map((c) => c.status)).toEqual(['ok', 'ok']);
    expect(problems('compare.schema.json', doc)).toEqual([]);
    // A case that ran must carry its cost and summary.
    const broken = structuredClone(doc) as unknown as { cases: { cost: unknown }[] };
    broken.cases[0]!.cost = null;
    expect(problems('compare.schema.json', broken)).toEqual(['/cases/0/cost: is null, expected object']);
  }, 180_000);

  it('holds for failed cases', () => {
    const r = cli('compare', fw('page_fault3'), '--matrix', 'contpte=on,off', '--format', 'json', '--', 'bogus');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as { cases: { status: string; error: string }[] };
    expect(doc.cases.map((c) => c.status)).toEqual(['failed', 'failed']);
    expect(problems('compare.schema.json', doc)).toEqual([]);
    delete (doc.cases[0] as { error?: string }).error;
    expect(problems('compare.schema.json', doc)).toEqual(["/cases/0: lacks the required property 'error'"]);
  }, 180_000);
});

describe('docs/schema/trace-event.schema.json', () => {
  it('holds for every line of a trace, and covers what the run recorded', () => {
    const file = join(dir, 'trace.jsonl');
    const r = cli('run', fw('mprotect_page'), '--trace', file, '--set', 'anon_mthp=64K');
    expect(r.code, r.err).toBe(0);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const kinds = new Set<string>();
    const bad: string[] = [];
    for (const [i, line] of lines.entries()) {
      const rec = JSON.parse(line) as { kind: string };
      kinds.add(rec.kind);
      for (const p of problems('trace-event.schema.json', rec)) if (bad.length < 10) bad.push(`line ${i + 1}: ${p}`);
    }
    expect(bad).toEqual([]);
    expect(JSON.parse(lines[lines.length - 1]!)).toMatchObject({ kind: 'trace_end', reason: 'exit' });
    for (const k of ['fault', 'walk', 'tlb_fill', 'pte_write', 'fold', 'unfold', 'contpte_convert', 'tlbi', 'dsb', 'syscall', 'marker']) expect(kinds.has(k), k).toBe(true);
  }, 120_000);

  it('knows every event kind of src/trace/events.ts, and refuses others', () => {
    const schema = JSON.parse(readFileSync(join(SCHEMA_DIR, 'trace-event.schema.json'), 'utf8')) as { properties: { kind: { enum: string[] } } };
    expect(schema.properties.kind.enum).toEqual([...EVENT_KINDS, 'trace_end']);
    expect(problems('trace-event.schema.json', { seq: 1, kind: 'teleport', va: 0 })).toHaveLength(1);
    expect(problems('trace-event.schema.json', { seq: 1, kind: 'tlbi', op: 'VALE1IS', operand: '0x1', decoded: '', chain: '', site: '', removed: 0 })).toEqual([
      "/operand: '0x1' does not match ^0x[0-9a-f]{16}$",
    ]);
  });
});

describe('the validator', () => {
  it('refuses a schema keyword it does not implement rather than ignoring it', () => {
    const v = new Validator().add({ $id: 'x.json', type: 'string', format: 'email' });
    expect(() => v.validate('x.json', 'a')).toThrow(/keyword 'format'/);
  });
});
