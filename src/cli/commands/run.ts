/**
 * `contpte-lab run <elf> [-- args]`: run an arm64 program (static, or dynamic with --sysroot);
 * its stdout and stderr pass through; then a summary of what the kernel model did (faults, PTE writes, folds, converts,
 * TLBIs by operation and call site, DSBs, TLB activity) on stderr, or one JSON document on
 * stdout with `--json` (the guest's stdout then goes to stderr, so stdout holds only the JSON). The exit code is the guest's (128 + signal when Linux would have killed
 * it), 124 when a budget stopped it, 70 when the emulation could not go on.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { runMachine } from '../../machine/run.js';
import { parseTlbMode } from '../../engine/index.js';
import { checkCostParams, costParamsWith, partitionSets, summaryCost, summaryWithCost } from '../../report/cost.js';
import { EXIT_CHECKER, findingsText } from '../../report/findings.js';
import { EXIT_SIGNAL, runExitStatus } from '../../report/run-exit.js';
import { measured } from '../../report/summary.js';
import { renderSummaryText } from '../../report/summary-text.js';
import { parseTraceCli, TRACE_FORMATS, TRACE_TIMES } from '../../trace/sinks/options.js';
import { UsageError } from '../../util/errors.js';
import { RunProgress, showsProgress, tableWidth } from '../tty.js';
import { parsePositiveSeconds, parseUserNumber } from '../../util/num.js';

interface RunArgs {
  elf: string;
  args?: (string | number)[];
  profile?: string;
  set?: string | string[];
  json: boolean;
  'max-insns'?: string;
  'tlb-mode'?: string;
  timeout?: string;
  trace?: string;
  'trace-format'?: string;
  'trace-events'?: string;
  'trace-limit'?: string;
  'trace-time'?: string;
  strict: boolean;
  seed?: string;
  uid?: string;
  sysroot?: string;
  env?: string | string[];
  argv0?: string;
  '--'?: (string | number)[];
}

export { EXIT_BUDGET, EXIT_CRASH, EXIT_SIGNAL } from '../../report/run-exit.js';

export const runCommand: CommandModule<object, RunArgs> = {
  command: 'run <elf> [args..]',
  describe: 'run an arm64 ELF (static, or dynamic with --sysroot) and report what the kernel model did to the TLB',
  builder: (y: Argv) =>
    y
      .positional('elf', { type: 'string', demandOption: true, describe: 'an AArch64 executable (ET_EXEC, static-pie, or a dynamic program whose interpreter --sysroot holds)' })
      .positional('args', { type: 'string', array: true, describe: "the program's arguments (put them after --)" })
      .option('profile', { type: 'string', describe: 'kernel profile: linux-6.9, linux-6.12 (default), linux-7.2 (see `contpte-lab profiles`)' })
      .option('set', { type: 'string', describe: 'override a knob, e.g. --set contpte=off (repeatable); cost.<param>=v for the cost model' })
      .option('json', { type: 'boolean', default: false, describe: 'print the summary as one JSON document on stdout' })
      .option('max-insns', { type: 'string', describe: 'stop after this many instructions (exact, slows compute-bound guests)' })
      .option('tlb-mode', { type: 'string', describe: "how QEMU learns the model TLB's translations: shadow (it walks shadow tables), virtual (Unicorn 2.1.x's TLB-fill hook asks the model), auto (default; also $CONTPTE_LAB_TLB_MODE)" })
      .option('timeout', { type: 'string', describe: 'stop after this many seconds of emulation' })
      .option('trace', { type: 'string', describe: 'write every event to this file' })
      .option('trace-format', { type: 'string', choices: [...TRACE_FORMATS], describe: 'jsonl (default), or perfetto (Chrome trace-event JSON for ui.perfetto.dev)' })
      .option('trace-events', { type: 'string', describe: 'only these event kinds, comma separated (e.g. fault,tlbi,contpte_convert)' })
      .option('trace-time', { type: 'string', choices: [...TRACE_TIMES], describe: "perfetto time axis: virtual (the modeled CPUs' clocks; kernel frames as nested slices, a track per guest thread; default), cycles (one clock of cost-model cycles), seq (event n at n µs)" })
      .option('trace-limit', { type: 'string', describe: 'cap the trace (e.g. 100MB or 1000000events); a capped file says so at its end' })
      .option('strict', { type: 'boolean', default: false, describe: 'fail on anything suspect: a checker finding (a model bug) exits 70 after the summary; an unimplemented syscall ends the run instead of returning -ENOSYS' })
      .option('seed', { type: 'string', describe: "seed of the guest's getrandom and AT_RANDOM (default fixed)" })
      .option('sysroot', { type: 'string', describe: "a host directory holding an arm64 root file system, seen under the guest's /: the programs it executes (a shell running /usr/bin/tr), a dynamic program's interpreter and libraries" })
      .option('uid', { type: 'string', describe: "the guest's user and group id (default 1000; 0: root, as the kernel's selftests expect)" })
      .option('env', { type: 'string', describe: 'NAME=value for the guest environment (repeatable; default empty)' })
      .option('argv0', { type: 'string', describe: "the guest's argv[0] (default: the ELF path as given), like the shell's exec -a" })
      .parserConfiguration({ 'populate--': true, 'parse-numbers': false, 'parse-positional-numbers': false }) as unknown as Argv<RunArgs>,
  handler: async (a) => {
    // Repeatable options take one value each, so `run --set k=v prog` keeps prog as the ELF.
    const sets = listOption(a.set);
    const env = parseEnv(a.env);
    const { knobs, cost } = partitionSets(sets);
    const costParams = checkCostParams(costParamsWith(cost));
    const guestArgs = [...(a.args ?? []), ...(a['--'] ?? [])].map(String);
    const trace = parseTraceCli(a);
    // SIGINT/SIGTERM: the guest stops at the next slice, the summary so far is printed (marked
    // interrupted), the trace is closed validly, and the exit status is 130/143. A second one
    // ends the tool at once.
    let caught: 'SIGINT' | 'SIGTERM' | null = null;
    const onSignal = (sig: 'SIGINT' | 'SIGTERM'): void => {
      if (caught !== null) process.exit(EXIT_SIGNAL[sig]);
      caught = sig;
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // A progress line on a terminal's stderr for long runs; the guest's output clears it first.
    const progress = showsProgress(process.stderr) ? new RunProgress(process.stderr) : null;
    const toStderr = (b: Uint8Array): void => {
      progress?.clear();
      process.stderr.write(b);
    };
    const toStdout = (b: Uint8Array): void => {
      progress?.clear();
      process.stdout.write(b);
    };
    const { summary, end } = await runMachine({
      interrupted: () => caught,
      ...(progress !== null ? { progress: (p: { faults: number; virtualNs: number }) => progress.update(p), stderr: toStderr } : {}),
      elf: a.elf,
      ...(a.json ? { stdout: toStderr } : progress !== null ? { stdout: toStdout } : {}),
      args: guestArgs,
      ...(a.argv0 !== undefined ? { argv0: a.argv0 } : {}),
      ...(env ? { env } : {}),
      ...(a.profile !== undefined ? { profile: a.profile } : {}),
      sets: knobs,
      ...(a['max-insns'] !== undefined ? { maxInsns: parseUserNumber(a['max-insns'], '--max-insns') } : {}),
      ...(a.timeout !== undefined ? { maxSeconds: parsePositiveSeconds(a.timeout, '--timeout') } : {}),
      ...(a['tlb-mode'] !== undefined ? { tlbMode: parseTlbMode(a['tlb-mode']) } : {}),
      strict: a.strict,
      ...(a.seed !== undefined ? { seed: parseUserNumber(a.seed, '--seed') } : {}),
      ...(a.uid !== undefined ? { uid: parseUid(a.uid) } : {}),
      ...(a.sysroot !== undefined ? { sysroot: checkSysroot(a.sysroot) } : {}),
      ...(trace !== null ? { trace } : {}),
    });
    progress?.clear();
    if (a.json) {
      process.stdout.write(JSON.stringify(summaryWithCost(summary, costParams), null, 2) + '\n');
    } else {
      process.stderr.write(renderSummaryText(summary, process.stderr.columns || 100, { result: summaryCost(summary, costParams), source: measured(summary).source }, tableWidth(process.stderr)));
    }
    if (end.message !== undefined && a.json) process.stderr.write(`contpte-lab: ${end.message}\n`);
    // Findings last, where a reader of the terminal sees them, in both formats.
    const findings = findingsText(summary.checker);
    if (findings.length > 0) process.stderr.write(findings.join('\n') + '\n');
    process.exitCode = runExitStatus(end, caught);
    if (a.strict && summary.checker.total > 0) {
      process.stderr.write(`contpte-lab: --strict: failing the run (exit ${EXIT_CHECKER}) for ${summary.checker.total} checker finding${summary.checker.total === 1 ? '' : 's'}; the guest's own exit status was ${end.exitCode ?? 'none'}\n`);
      process.exitCode = EXIT_CHECKER;
    }
  },
};

/** A repeatable option's values: yargs gives one string, or an array when it was repeated. */
export function listOption(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
}

/** --env's values (repeatable), each NAME=value; undefined when none was given. */
export function parseEnv(v: string | string[] | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const env = listOption(v);
  for (const e of env) if (!/^[^=]+=/.test(e)) throw new UsageError(`--env: '${e}' is not NAME=value`);
  return env;
}

/** --uid: a user id Linux can have (0 .. 2^32 - 2; -1 means "no change" to setuid and is refused). */
export function parseUid(text: string): number {
  const n = parseUserNumber(text, '--uid');
  if (!Number.isInteger(n) || n < 0 || n > 0xfffffffe) throw new UsageError(`--uid: '${text}' is not a user id (0 to 4294967294)`);
  return n;
}

/** --sysroot: an existing directory, made absolute. */
function checkSysroot(dir: string): string {
  let ok = false;
  try {
    ok = statSync(dir).isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) throw new UsageError(`--sysroot: '${dir}' is not a directory (expected an arm64 root file system, e.g. packages unpacked with dpkg-deb -x)`);
  return resolve(dir);
}
