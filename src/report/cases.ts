/**
 * The cases a comparison runs: a matrix of knob values (`--matrix 'knob=a,b knob2=c,d'`, every
 * combination), a cases file (`name: --profile X --set k=v ... [-- guest args]` per line, or
 * JSON), or a named preset (the thread's four page_fault3 configurations). A case is a profile,
 * kernel-model settings, cost-model settings (`cost.<param>=v`) and optionally its own guest
 * arguments.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../util/errors.js';
import { COST_SET_PREFIX, parseCostSet } from './cost.js';

export interface CaseSpec {
  name: string;
  /** The profile of this case; undefined: the command's --profile (or run's default). */
  profile?: string;
  /** `knob=value` settings for the kernel model, applied after the command's --set. */
  sets: string[];
  /** `cost.<param>=value` settings for the cost model. */
  costSets: string[];
  /** Guest arguments of this case; undefined: the command's `-- args`. */
  args?: string[];
}

const KNOB = /^[a-z][a-z0-9_]*$/;

/** Splits `knob=value` into the kernel-model or the cost-model list; checks its shape. */
function addSetting(spec: CaseSpec, text: string, where: string): void {
  const eq = text.indexOf('=');
  const knob = eq < 0 ? '' : text.slice(0, eq);
  const value = eq < 0 ? '' : text.slice(eq + 1);
  if (knob.startsWith(COST_SET_PREFIX)) {
    parseCostSet(text, where);
    spec.costSets.push(text);
    return;
  }
  if (!KNOB.test(knob) || value === '') throw new UsageError(`${where}: '${text}' is not knob=value (e.g. contpte=off)`);
  spec.sets.push(text);
}

/** Every value of one matrix axis, e.g. `contpte=on,off`. */
interface Axis {
  knob: string;
  values: string[];
}

function parseAxes(text: string, what: string): Axis[] {
  const words = text.trim().split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) throw new UsageError(`${what}: empty (expected 'knob=a,b knob2=c,d')`);
  const axes: Axis[] = [];
  for (const w of words) {
    const eq = w.indexOf('=');
    const knob = eq < 0 ? w : w.slice(0, eq);
    if (eq < 0 || eq === w.length - 1) throw new UsageError(`${what}: '${w}' has no values (expected knob=a,b)`);
    if (!(knob === 'profile' || KNOB.test(knob) || (knob.startsWith(COST_SET_PREFIX) && KNOB.test(knob.slice(COST_SET_PREFIX.length))))) {
      throw new UsageError(`${what}: '${knob}' is not a knob name (lower case, digits and _; cost.<param> for the cost model; or profile)`);
    }
    if (axes.some((a) => a.knob === knob)) throw new UsageError(`${what}: knob '${knob}' appears twice`);
    const values = w.slice(eq + 1).split(',');
    if (values.some((v) => v === '')) throw new UsageError(`${what}: '${w}' has an empty value`);
    const dup = values.find((v, i) => values.indexOf(v) !== i);
    if (dup !== undefined) throw new UsageError(`${what}: '${knob}' lists '${dup}' twice`);
    axes.push({ knob, values });
  }
  return axes;
}

/**
 * `--matrix 'knob=a,b knob2=c,d'`: the cartesian product, the first knob varying slowest, each
 * case named by its settings (`knob=a knob2=c`). `profile=...` is an axis too.
 */
export function expandMatrix(text: string, what = '--matrix'): CaseSpec[] {
  const axes = parseAxes(text, what);
  let cases: CaseSpec[] = [{ name: '', sets: [], costSets: [] }];
  for (const axis of axes) {
    const next: CaseSpec[] = [];
    for (const c of cases) {
      for (const v of axis.values) {
        const spec: CaseSpec = { ...c, name: c.name === '' ? `${axis.knob}=${v}` : `${c.name} ${axis.knob}=${v}`, sets: [...c.sets], costSets: [...c.costSets] };
        if (axis.knob === 'profile') spec.profile = v;
        else addSetting(spec, `${axis.knob}=${v}`, what);
        next.push(spec);
      }
    }
    cases = next;
  }
  return cases;
}

/** Splits a cases-file line into words: whitespace separates, single and double quotes group. */
export function shellWords(line: string, where: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote !== null) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += ch;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote !== null) throw new UsageError(`${where}: unterminated ${quote} quote`);
  if (inWord) out.push(cur);
  return out;
}

function parseCaseLine(line: string, where: string): CaseSpec {
  const colon = line.indexOf(':');
  if (colon <= 0) throw new UsageError(`${where}: expected 'name: --profile X --set knob=value ...'`);
  const name = line.slice(0, colon).trim();
  if (name === '') throw new UsageError(`${where}: the case has no name`);
  const spec: CaseSpec = { name, sets: [], costSets: [] };
  const words = shellWords(line.slice(colon + 1), where);
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const value = (opt: string): string => {
      const v = words[++i];
      if (v === undefined) throw new UsageError(`${where}: ${opt} needs a value`);
      return v;
    };
    if (w === '--') {
      spec.args = words.slice(i + 1);
      break;
    } else if (w === '--profile') spec.profile = value(w);
    else if (w.startsWith('--profile=')) spec.profile = w.slice('--profile='.length);
    else if (w === '--set') addSetting(spec, value(w), where);
    else if (w.startsWith('--set=')) addSetting(spec, w.slice('--set='.length), where);
    else if (!w.startsWith('-') && w.includes('=')) addSetting(spec, w, where);
    else throw new UsageError(`${where}: unexpected '${w}' (expected --profile X, --set knob=value, knob=value, or -- followed by guest arguments)`);
  }
  if (spec.profile === '') throw new UsageError(`${where}: --profile is empty`);
  return spec;
}

function caseFromJson(v: unknown, where: string): CaseSpec {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError(`${where}: a case is an object {"name": ..., "profile": ..., "set": {...}, "args": [...]}`);
  const o = v as Record<string, unknown>;
  if (typeof o['name'] !== 'string' || o['name'].trim() === '') throw new UsageError(`${where}: "name" must be a non-empty string`);
  const spec: CaseSpec = { name: o['name'].trim(), sets: [], costSets: [] };
  for (const k of Object.keys(o)) if (!['name', 'profile', 'set', 'args'].includes(k)) throw new UsageError(`${where}: unknown key "${k}" (expected name, profile, set, args)`);
  if (o['profile'] !== undefined) {
    if (typeof o['profile'] !== 'string' || o['profile'] === '') throw new UsageError(`${where}: "profile" must be a non-empty string`);
    spec.profile = o['profile'];
  }
  const set = o['set'];
  if (Array.isArray(set)) {
    for (const s of set) {
      if (typeof s !== 'string') throw new UsageError(`${where}: "set" entries must be "knob=value" strings`);
      addSetting(spec, s, where);
    }
  } else if (typeof set === 'object' && set !== null) {
    for (const [k, x] of Object.entries(set)) {
      if (typeof x !== 'string' && typeof x !== 'number') throw new UsageError(`${where}: "set".${k} must be a string or a number`);
      addSetting(spec, `${k}=${x}`, where);
    }
  } else if (set !== undefined) {
    throw new UsageError(`${where}: "set" must be an object {"knob": "value"} or a list of "knob=value"`);
  }
  if (o['args'] !== undefined) {
    if (!Array.isArray(o['args']) || o['args'].some((a) => typeof a !== 'string' && typeof a !== 'number')) throw new UsageError(`${where}: "args" must be a list of strings`);
    spec.args = (o['args'] as (string | number)[]).map(String);
  }
  return spec;
}

function checkUnique(cases: CaseSpec[], where: string): CaseSpec[] {
  const seen = new Set<string>();
  for (const c of cases) {
    if (seen.has(c.name)) throw new UsageError(`${where}: case name '${c.name}' is used twice`);
    seen.add(c.name);
  }
  if (cases.length === 0) throw new UsageError(`${where}: no cases`);
  return cases;
}

/** A cases file's text: JSON (an array of cases, or {"cases": [...]}) or one case per line. */
export function parseCasesText(text: string, source: string): CaseSpec[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let v: unknown;
    try {
      v = JSON.parse(trimmed);
    } catch (e) {
      throw new UsageError(`--cases: ${source} is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
    const list = Array.isArray(v) ? v : typeof v === 'object' && v !== null ? (v as Record<string, unknown>)['cases'] : undefined;
    if (!Array.isArray(list)) throw new UsageError(`--cases: ${source}: expected a JSON array of cases or {"cases": [...]}`);
    return checkUnique(
      list.map((c, i) => caseFromJson(c, `--cases: ${source}: case ${i + 1}`)),
      `--cases: ${source}`,
    );
  }
  const cases: CaseSpec[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    cases.push(parseCaseLine(line, `--cases: ${source}:${i + 1}`));
  });
  return checkUnique(cases, `--cases: ${source}`);
}

export function readCasesFile(path: string): CaseSpec[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
    throw new UsageError(`--cases: cannot read '${path}' (${code})`);
  }
  return parseCasesText(text, path);
}

/** Every case of `base` combined with every case of `extra` (settings appended, names joined). */
export function crossCases(base: readonly CaseSpec[], extra: readonly CaseSpec[]): CaseSpec[] {
  const out: CaseSpec[] = [];
  for (const b of base) {
    for (const e of extra) {
      const c: CaseSpec = { name: `${b.name} ${e.name}`, sets: [...b.sets, ...e.sets], costSets: [...b.costSets, ...e.costSets] };
      const profile = e.profile ?? b.profile;
      if (profile !== undefined) c.profile = profile;
      const args = e.args ?? b.args;
      if (args !== undefined) c.args = args;
      out.push(c);
    }
  }
  return checkUnique(out, '--matrix');
}

export interface Preset {
  name: string;
  description: string;
  /** The guest program, relative to the package root. */
  elf: string;
  /** Guest arguments unless the command gives `-- args` (empty: the program's defaults). */
  args: string[];
  /** The baseline case's name. */
  baseline: string;
  cases: CaseSpec[];
}

/**
 * The June 2024 report (reference D.2, kernel-notes §0.3): will-it-scale page_fault3 on a 6.9
 * kernel with /tmp on ext4, in four configurations. The cost model gets `cpus=128 busy_cpus=128`
 * because the report ran 128 processes (`-t 128`), all in one broadcast domain.
 */
const PAGE_FAULT3_REGRESSION: Preset = {
  name: 'page_fault3-regression',
  description: "the four page_fault3 configurations of the June 2024 contpte fold regression report (linux-6.9, /tmp on ext4)",
  elf: 'firmware/bin/page_fault3',
  args: [],
  baseline: '1-no-large-folios',
  cases: [
    { name: '1-no-large-folios', profile: 'linux-6.9', sets: ['tmp_fs=ext4', 'file_large_folios=off', 'contpte=on', 'finish_fault=page'], costSets: ['cost.cpus=128', 'cost.busy_cpus=128'] },
    { name: '2-large-folios+contpte', profile: 'linux-6.9', sets: ['tmp_fs=ext4', 'file_large_folios=on', 'contpte=on', 'finish_fault=page'], costSets: ['cost.cpus=128', 'cost.busy_cpus=128'] },
    { name: '3-large-folios,contpte-off', profile: 'linux-6.9', sets: ['tmp_fs=ext4', 'file_large_folios=on', 'contpte=off', 'finish_fault=page'], costSets: ['cost.cpus=128', 'cost.busy_cpus=128'] },
    {
      name: '4-large-folios+contpte+folio-map',
      profile: 'linux-6.9',
      // Kefeng Wang's case 4: finish_fault without its !vma_is_anon_shmem test maps the whole folio.
      sets: ['tmp_fs=ext4', 'file_large_folios=on', 'contpte=on', 'finish_fault=folio'],
      costSets: ['cost.cpus=128', 'cost.busy_cpus=128'],
    },
  ],
};

export const PRESETS: Readonly<Record<string, Preset>> = Object.freeze({ [PAGE_FAULT3_REGRESSION.name]: PAGE_FAULT3_REGRESSION });

export function preset(name: string): Preset {
  const p = PRESETS[name];
  if (p === undefined) throw new UsageError(`--preset: unknown preset '${name}' (expected one of: ${Object.keys(PRESETS).join(', ')})`);
  return { ...p, args: [...p.args], cases: p.cases.map((c) => ({ ...c, sets: [...c.sets], costSets: [...c.costSets] })) };
}
