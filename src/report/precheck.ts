/**
 * Everything a comparison can get wrong before any run starts: the program (as `run` would read
 * it), every case's profile and knob values, its cost parameters and the output paths. A
 * comparison of 64 cases can take an hour; a typo in the last one must not be found after it.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { readElfFile } from '../linux/elf.js';
import { resolvePolicy } from '../mm/profiles.js';
import { LabError, UsageError } from '../util/errors.js';
import type { ResolvedCase } from './compare.js';
import { checkCostParams } from './cost.js';

/** Above this many distinct runs, compare warns (and on a terminal wants --yes). */
export const LARGE_COMPARISON = 64;

/** Throws the first problem as a one-line UsageError naming the case it belongs to. */
export function precheckCases(elf: string, cases: readonly ResolvedCase[]): void {
  readElfFile(elf);
  for (const c of cases) {
    try {
      resolvePolicy(c.run.profile, c.run.sets);
      checkCostParams(c.cost);
    } catch (e) {
      if (e instanceof LabError) throw new UsageError(`case ${c.name}: ${e.message}`);
      throw e;
    }
  }
}

/** An output file must be creatable (its folder exists and is writable) and, if it exists, writable. */
export function precheckOutputPath(option: string, path: string): void {
  const full = resolve(path);
  if (existsSync(full)) {
    if (statSync(full).isDirectory()) throw new UsageError(`${option}: '${path}' is a directory`);
    try {
      accessSync(full, constants.W_OK);
    } catch {
      throw new UsageError(`${option}: cannot write '${path}' (EACCES)`);
    }
    return;
  }
  const dir = dirname(full);
  if (!existsSync(dir)) throw new UsageError(`${option}: cannot write '${path}': the folder '${dirname(path)}' does not exist`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new UsageError(`${option}: cannot write '${path}': the folder '${dirname(path)}' is not writable`);
  }
}

/**
 * What to do about a large comparison: nothing below the threshold, proceed with a warning when
 * nobody can answer (not a terminal) or --yes was given, refuse on a terminal without --yes.
 */
export function largeComparisonVerdict(runs: number, opts: { tty: boolean; yes: boolean }): { kind: 'ok' } | { kind: 'warn'; message: string } | { kind: 'refuse'; message: string } {
  if (runs <= LARGE_COMPARISON) return { kind: 'ok' };
  if (opts.yes) return { kind: 'ok' };
  if (opts.tty) return { kind: 'refuse', message: `compare: ${runs} runs (more than ${LARGE_COMPARISON}) would take long: check the matrix, then add --yes to run them` };
  return { kind: 'warn', message: `contpte-lab: warning: ${runs} runs (more than ${LARGE_COMPARISON}); this may take long` };
}
