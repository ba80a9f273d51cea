/**
 * One case run on the calling thread, producing exactly what a child `contpte-lab run --json`
 * would have printed: its stdout (the JSON summary), its stderr (the guest's stdout and stderr,
 * the tool's diagnostics, the end message, checker findings or the tool's error line, in the
 * order the child writes them) and its exit status. compare's thread pool (threads.ts) runs this
 * in its workers, and the same reader as for a child (runner.ts, resultOfOutput) turns it into a
 * result, so a case reads the same whichever way it ran. Follows cli/commands/run.ts's handler;
 * test/report/threads.test.ts holds the two paths to the same bytes.
 */
import { runMachine, type RunOptions } from '../machine/run.js';
import { parseTraceCli } from '../trace/sinks/options.js';
import { LabError } from '../util/errors.js';
import { parsePositiveSeconds, parseUserNumber } from '../util/num.js';
import { checkCostParams, costParamsWith, partitionSets, summaryWithCost } from './cost.js';
import { findingsText } from './findings.js';
import { EXIT_CRASH, runExitStatus } from './run-exit.js';
import type { RunSpec } from './runner.js';

/** What a child run leaves behind: its two streams and its exit status. */
export interface CaseOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** The run was ended by `limits.maxSeconds` (the pool's timeout), not by anything of its own. */
  outOfTime: boolean;
}

/** Limits the caller puts on a run, beyond the spec's own. */
export interface CaseLimits {
  /**
   * A time budget (the pool's timeout): the engine's watchdog stops even a guest loop that never
   * returns to JavaScript, which an interrupt or the end of the thread cannot.
   */
  maxSeconds?: number;
}

/** The `run` options of RunSpec.extra that a case may carry, with whether each takes a value. */
const EXTRA_OPTIONS = { '--max-insns': true, '--timeout': true, '--trace': true, '--trace-format': true, '--trace-events': true, '--trace-limit': true, '--trace-time': true, '--seed': true } as const;
type ExtraOption = keyof typeof EXTRA_OPTIONS;

function isExtraOption(s: string): s is ExtraOption {
  return Object.hasOwn(EXTRA_OPTIONS, s);
}

/**
 * Whether a run can be made in a thread: every extra option is one this module reads (compare
 * only adds --max-insns and a trace). Any other goes to a child process, which parses it itself.
 */
export function runsInThread(spec: RunSpec): boolean {
  const e = spec.extra;
  for (let i = 0; i < e.length; i += 2) if (!isExtraOption(e[i]!) || i + 1 >= e.length) return false;
  return true;
}

function extraValues(spec: RunSpec): Partial<Record<ExtraOption, string>> {
  const out: Partial<Record<ExtraOption, string>> = {};
  for (let i = 0; i < spec.extra.length; i += 2) {
    const k = spec.extra[i]!;
    if (!isExtraOption(k) || i + 1 >= spec.extra.length) throw new Error(`case-run: '${k}' is not a run option a thread can take (use a child process)`);
    out[k] = spec.extra[i + 1]!;
  }
  return out;
}

/**
 * Runs one case here and returns the child's output. `interrupted` is polled between time slices
 * (a timeout or compare's own SIGINT/SIGTERM); the child's stdin was /dev/null, so the guest's is
 * empty here too.
 */
export async function runCaseHere(spec: RunSpec, interrupted: () => 'SIGINT' | 'SIGTERM' | null = () => null, limits: CaseLimits = {}): Promise<CaseOutput> {
  // The child's --json sends the guest's stdout to its stderr: one stream, in write order,
  // decoded once at the end as the child's reader does (a character may span two writes).
  const chunks: Buffer[] = [];
  const toStderr = (b: Uint8Array): void => void chunks.push(Buffer.from(b));
  const err = { push: (line: string): void => void chunks.push(Buffer.from(line, 'utf8')), join: (): string => Buffer.concat(chunks).toString('utf8') };
  try {
    const { knobs, cost } = partitionSets(spec.sets);
    const costParams = checkCostParams(costParamsWith(cost));
    const x = extraValues(spec);
    const trace = parseTraceCli({ trace: x['--trace'], 'trace-format': x['--trace-format'], 'trace-events': x['--trace-events'], 'trace-limit': x['--trace-limit'], 'trace-time': x['--trace-time'] });
    const ownSeconds = x['--timeout'] !== undefined ? parsePositiveSeconds(x['--timeout'], '--timeout') : undefined;
    const poolSeconds = ownSeconds === undefined ? limits.maxSeconds : undefined;
    const maxSeconds = ownSeconds ?? poolSeconds;
    const options: RunOptions = {
      interrupted,
      elf: spec.elf,
      stdout: toStderr,
      stderr: toStderr,
      stdin: () => new Uint8Array(0),
      args: [...spec.args],
      ...(spec.profile !== undefined ? { profile: spec.profile } : {}),
      sets: knobs,
      ...(x['--max-insns'] !== undefined ? { maxInsns: parseUserNumber(x['--max-insns'], '--max-insns') } : {}),
      ...(maxSeconds !== undefined ? { maxSeconds } : {}),
      strict: false,
      ...(x['--seed'] !== undefined ? { seed: parseUserNumber(x['--seed'], '--seed') } : {}),
      ...(trace !== null ? { trace } : {}),
    };
    const { summary, end } = await runMachine(options);
    const stdout = JSON.stringify(summaryWithCost(summary, costParams), null, 2) + '\n';
    if (end.message !== undefined) err.push(`contpte-lab: ${end.message}\n`);
    const findings = findingsText(summary.checker);
    if (findings.length > 0) err.push(findings.join('\n') + '\n');
    const caught = interrupted();
    const exitCode = runExitStatus(end, caught);
    const outOfTime = poolSeconds !== undefined && end.reason === 'budget' && end.message?.includes('time budget') === true;
    return { stdout, stderr: err.join(), exitCode, outOfTime };
  } catch (e) {
    // cli/main.ts: a LabError is its one line and exit status; anything else an internal error.
    if (e instanceof LabError) {
      err.push(`contpte-lab: ${e.message}\n`);
      return { stdout: '', stderr: err.join(), exitCode: e.exitCode, outOfTime: false };
    }
    err.push(`contpte-lab: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return { stdout: '', stderr: err.join(), exitCode: EXIT_CRASH, outOfTime: false };
  }
}
