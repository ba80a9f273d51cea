/**
 * `validate`: the same programs on the model and on a real arm64 kernel, their counts compared
 * region by region. The model side is `runMachine` with the profile of the kernel (or the one
 * given); the real side is one QEMU boot for every case (real.ts). Differences the project
 * knows and explains are listed in validate/known-differences.json; any other is a failure.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMachine } from '../machine/run.js';
import type { Dump } from '../report/summary.js';
import { UsageError } from '../util/errors.js';
import { compareRegion, renderRegion, type RegionCompare } from './compare.js';
import { caseArgv0, runReal, type GuestSettings, type RealRun, type ValidateCase } from './real.js';
import { checkTools, helperSourceDir, KNOWN_KERNELS, resolveKernel } from './setup.js';

export type { GuestSettings, ValidateCase } from './real.js';

/**
 * Knobs the real side applies (sysfs, mount, debugfs, read_ahead_kb) or that describe what the
 * real machine is anyway; a case setting any other knob compares a model the kernel cannot be.
 */
export const REAL_EQUIVALENT_KNOBS: ReadonlySet<string> = new Set([
  'anon_mthp', 'shmem_mthp', 'thp_pmd', 'thp_zero_page', 'tmp_fs', 'tmpfs_huge', 'ra_kb', 'fault_around_kb',
  // The disk's limits: the real side writes the window the model computes from them.
  'blk_rotational', 'blk_io_opt_kb', 'blk_max_sectors_kb', 'blk_ra_rule',
]);

/** The knobs of a case the real kernel cannot follow. */
export function modelOnlySets(sets: readonly string[]): string[] {
  return sets.filter((s) => !REAL_EQUIVALENT_KNOBS.has(s.slice(0, Math.max(0, s.indexOf('='))).trim()));
}

export interface KnownDifference {
  /** The kernel (`6.12`, `7.2`), or `*`. */
  readonly kernel: string;
  /** The case name, or `*`. */
  readonly case: string;
  /** The compared row (e.g. `TLBI VALE1IS`). */
  readonly row: string;
  readonly reason: string;
  /** Comes and goes between runs (background kernel work): not required to occur. */
  readonly intermittent?: boolean;
}

export interface CaseResult {
  readonly case: ValidateCase;
  readonly modelExit: string;
  readonly realExit: string;
  readonly regions: readonly RegionCompare[];
  /** Regions one side has and the other does not (by position). */
  readonly missingRegions: number;
}

export interface ValidateResult {
  readonly kernel: string;
  readonly profile: string;
  readonly real: RealRun;
  readonly cases: readonly CaseResult[];
  /** Differing rows not explained by the known-differences file. */
  readonly unexplained: readonly { readonly case: string; readonly label: string; readonly row: string; readonly model: number; readonly real: number | null }[];
}

export function loadKnownDifferences(file = join(helperSourceDir(), 'known-differences.json')): KnownDifference[] {
  if (!existsSync(file)) return [];
  const v = JSON.parse(readFileSync(file, 'utf8')) as { differences?: KnownDifference[] };
  return v.differences ?? [];
}

export function knownReason(known: readonly KnownDifference[], kernel: string, caseName: string, row: string): string | null {
  const k = known.find((d) => (d.kernel === '*' || d.kernel === kernel) && (d.case === '*' || d.case === caseName) && d.row === row);
  return k?.reason ?? null;
}

export interface ValidateOptions {
  /** 6.12, 7.2 or a folder with an unpacked kernel. */
  readonly kernel: string;
  /** The model's profile; default: the kernel's (linux-6.12 for a folder). */
  readonly profile?: string;
  readonly cases: readonly ValidateCase[];
  /** How every program is started, on both sides (the seed and budget: the model's only). */
  readonly guest?: GuestSettings;
  readonly known?: readonly KnownDifference[];
  readonly log?: (line: string) => void;
  readonly timeoutSeconds?: number;
}

/** Runs every case on both sides and compares them. */
export async function validate(o: ValidateOptions): Promise<ValidateResult> {
  if (o.cases.length === 0) throw new UsageError('validate: no case to run');
  for (const c of o.cases) if (!existsSync(c.elf)) throw new UsageError(`validate: ${c.elf}: no such file`);
  checkTools();
  const kernel = resolveKernel(o.kernel);
  const profile = o.profile ?? KNOWN_KERNELS[o.kernel]?.profile ?? 'linux-6.12';
  const known = o.known ?? loadKnownDifferences();
  const model: { dumps: Dump[]; exit: string }[] = [];
  for (const c of o.cases) {
    const g = o.guest;
    const { summary, end } = await runMachine({
      elf: c.elf,
      args: c.args,
      argv0: caseArgv0(c, g),
      profile,
      sets: c.sets,
      ...(g?.env !== undefined ? { env: g.env } : {}),
      ...(g?.uid !== undefined ? { uid: g.uid } : {}),
      ...(g?.seed !== undefined ? { seed: g.seed } : {}),
      ...(g?.maxInsns !== undefined ? { maxInsns: g.maxInsns } : {}),
      stdout: () => {},
      stderr: () => {},
      diagnostics: () => {},
    });
    model.push({ dumps: summary.dumps, exit: end.exitCode === null ? end.reason : end.reason === 'signal' ? `signal ${end.exitCode - 128}` : `exit ${end.exitCode}` });
  }
  const real = await runReal({ kernel, profile, cases: o.cases, ...(o.guest !== undefined ? { guest: o.guest } : {}), ...(o.timeoutSeconds !== undefined ? { timeoutSeconds: o.timeoutSeconds } : {}), ...(o.log ? { log: o.log } : {}) });
  const cases: CaseResult[] = [];
  const unexplained: ValidateResult['unexplained'][number][] = [];
  o.cases.forEach((c, i) => {
    const m = model[i]!;
    const r = real.cases[i]!;
    const n = Math.min(m.dumps.length, r.regions.length);
    const regions: RegionCompare[] = [];
    for (let j = 0; j < n; j++) {
      const cmp = compareRegion(m.dumps[j]!, r.regions[j]!);
      regions.push(cmp);
      for (const row of cmp.rows) {
        if (row.differs && knownReason(known, o.kernel, c.name, row.name) === null) {
          unexplained.push({ case: c.name, label: cmp.label, row: row.name, model: row.model, real: row.real });
        }
      }
    }
    const missing = Math.max(m.dumps.length, r.regions.length) - n;
    if (missing > 0 || m.exit !== r.exit) unexplained.push({ case: c.name, label: '(run)', row: `regions model ${m.dumps.length} real ${r.regions.length}, ${m.exit} / ${r.exit}`, model: m.dumps.length, real: r.regions.length });
    cases.push({ case: c, modelExit: m.exit, realExit: r.exit, regions, missingRegions: missing });
  });
  return { kernel: `${o.kernel} (${real.release})`, profile, real, cases, unexplained };
}

/** The text report: per case and region both sides, differences marked. */
export function renderValidate(r: ValidateResult, known: readonly KnownDifference[]): string {
  const kernelKey = r.kernel.split(' ')[0]!;
  const out = [`validate: kernel ${r.kernel}, model profile ${r.profile}; disk ${r.real.disk}; ${r.real.seconds.toFixed(0)} s under QEMU TCG`, `probed: ${r.real.probes.join(' ')}`, ''];
  for (const c of r.cases) {
    const only = modelOnlySets(c.case.sets);
    const title = `${c.case.name}  (model ${c.modelExit}, real ${c.realExit})${only.length > 0 ? `  note: model only, the kernel has no equivalent: ${only.join(' ')}` : ''}`;
    if (c.regions.length === 0) out.push(`${title}: no region to compare (the program made no lab_dump_stats, or a side failed)\n`);
    for (const g of c.regions) out.push(renderRegion(title, g, (row) => knownReason(known, kernelKey, c.case.name, row)));
  }
  out.push(r.unexplained.length === 0 ? 'every count agrees, or differs for a listed reason' : `${r.unexplained.length} unexplained difference(s)`);
  return out.join('\n') + '\n';
}
