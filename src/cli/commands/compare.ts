/**
 * `contpte-lab compare <elf> [-- args]`: run a program under several configurations (a matrix of
 * knobs, a cases file, or a preset), each distinct run in a pool of worker threads of this process
 * (report/threads.ts; `--isolate`: one child `contpte-lab run --json` per run instead), and print
 * one row per case: counts, TLBIs by operation, the cost model's
 * figures and the ratio to a baseline case. `--html FILE` writes a self-contained report.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { crossCases, expandMatrix, preset, PRESETS, readCasesFile, type CaseSpec } from '../../report/cases.js';
import { comparisonTable, distinctRuns, failureReport, resolveCases, runComparison, type CompareRequest } from '../../report/compare.js';
import { partitionSets } from '../../report/cost.js';
import { largeComparisonVerdict, LARGE_COMPARISON, precheckCases, precheckOutputPath } from '../../report/precheck.js';
import { cliPath, packageRoot, runArgv, runChild, stopChildren, type PoolProgress, type RunResult } from '../../report/runner.js';
import { runsInThread } from '../../report/case-run.js';
import { CaseProcessPool, isLost } from '../../report/pool-process.js';
import { emitStudy, jsonFormat } from './collect.js';
import { commandLine, etaMs, formatDuration, paint, showsProgress, tableWidth, usesColour, type TermStream } from '../tty.js';
import { OUTPUT_FORMATS, renderComparison, writeHtmlComparison, type OutputFormat } from '../../report/output.js';
import { UsageError } from '../../util/errors.js';
import { hardExit } from '../../util/hard-exit.js';
import { EXIT_SIGNAL, listOption } from './run.js';
import { parseUserNumber } from '../../util/num.js';

interface CompareArgs {
  elf?: string;
  '--'?: (string | number)[];
  matrix?: string;
  cases?: string;
  preset?: string;
  profile?: string;
  set?: string | string[];
  baseline?: string;
  format: string;
  json: boolean;
  html?: string;
  jobs?: string;
  'max-insns'?: string;
  timeout?: string;
  'dry-run': boolean;
  'emit-jobs'?: string;
  isolate: boolean;
  yes: boolean;
}

const FORMATS = OUTPUT_FORMATS;

/** A progress bar on stderr, redrawn in place, with an ETA once a run has finished; only on a terminal. */
export class TtyProgress implements PoolProgress {
  private done = 0;
  private failed = 0;
  private readonly running = new Set<number>();
  private readonly start: number;

  constructor(
    private readonly names: readonly string[],
    private readonly out: TermStream,
    private readonly jobs: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.start = clock();
  }

  started(i: number): void {
    this.running.add(i);
    this.draw();
  }

  finished(i: number, ok: boolean): void {
    this.running.delete(i);
    this.done++;
    if (!ok) this.failed++;
    this.draw();
    if (this.done === this.names.length) this.out.write('\r\x1b[2K');
  }

  /** The line as drawn now. */
  text(): string {
    const total = this.names.length;
    const width = 24;
    const filled = Math.round((this.done / total) * width);
    const bar = '#'.repeat(filled) + '.'.repeat(width - filled);
    const now = [...this.running].map((i) => this.names[i]).join(', ');
    const eta = etaMs(this.done, total, this.clock() - this.start, this.jobs);
    return `[${bar}] ${this.done}/${total}${this.failed > 0 ? ` (${this.failed} failed)` : ''}${eta !== null && this.done < total ? `  ETA ${formatDuration(eta)}` : ''}${now !== '' ? `  running: ${now}` : ''}`;
  }

  private draw(): void {
    const cols = this.out.columns !== undefined && this.out.columns > 0 ? this.out.columns : 100;
    this.out.write('\r\x1b[2K' + this.text().slice(0, cols - 1));
  }
}

/** The request from the options: which program, which cases, which settings go where. */
function buildRequest(args: CompareArgs): { req: CompareRequest; title: string } {
  const guestArgs = args['--']?.map(String);
  const { knobs: kernel, cost } = partitionSets(listOption(args.set));
  if (args.preset !== undefined && args.cases !== undefined) throw new UsageError('--preset and --cases: give one of them (a --matrix can be added to either)');
  let cases: CaseSpec[];
  let elf = args.elf;
  let title: string;
  let baseline = args.baseline;
  let presetArgs: string[] | undefined;
  // A preset's cases carry its settings; the user's --set then adjust them (they come last).
  // Matrix and cases-file settings are the variations, so they come after the user's --set.
  let userSetsLast = false;
  if (args.preset !== undefined) {
    const p = preset(args.preset);
    cases = p.cases;
    elf ??= join(packageRoot(), p.elf);
    baseline ??= p.baseline;
    presetArgs = p.args;
    title = `contpte-lab: ${p.name} (${p.description})`;
    userSetsLast = true;
  } else if (args.cases !== undefined) {
    cases = readCasesFile(args.cases);
    title = `contpte-lab compare: cases from ${args.cases}`;
  } else if (args.matrix !== undefined) {
    cases = expandMatrix(args.matrix);
    title = `contpte-lab compare: ${args.matrix}`;
  } else {
    throw new UsageError(`compare: give --matrix 'knob=a,b ...', --cases FILE or --preset NAME (presets: ${Object.keys(PRESETS).join(', ')})`);
  }
  if (args.matrix !== undefined && (args.preset !== undefined || args.cases !== undefined)) {
    const base = cases;
    cases = crossCases(base, expandMatrix(args.matrix));
    title += ` × ${args.matrix}`;
    // The preset's baseline, in the first combination of the matrix.
    if (args.baseline === undefined && baseline !== undefined) baseline = cases[base.findIndex((c) => c.name === baseline) * (cases.length / base.length)]!.name;
  }
  if (elf === undefined) throw new UsageError('compare: name the program to run (compare <elf> [-- args])');
  const elfPath = isAbsolute(elf) ? elf : resolve(elf);
  if (!existsSync(elfPath)) throw new UsageError(`compare: '${elf}' does not exist (give the path of a static arm64 ELF)`);
  const extra: string[] = [];
  if (args['max-insns'] !== undefined) extra.push('--max-insns', args['max-insns']);
  const req: CompareRequest = {
    elf: elfPath,
    args: guestArgs ?? presetArgs ?? [],
    cases,
    ...(args.profile !== undefined ? { profile: args.profile } : {}),
    sets: userSetsLast ? [] : kernel,
    overrideSets: userSetsLast ? kernel : [],
    costSets: userSetsLast ? [] : cost,
    overrideCostSets: userSetsLast ? cost : [],
    ...(baseline !== undefined ? { baseline } : {}),
    extra,
  };
  return { req, title };
}

/** What compare says when a signal stopped it: the signal and how many runs it stopped. */
function interruptedLine(sig: 'SIGINT' | 'SIGTERM', runs: number): string {
  return `contpte-lab: compare interrupted by ${sig}: ${runs} run${runs === 1 ? '' : 's'} stopped`;
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./=,:+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export const compareCommand: CommandModule<object, CompareArgs> = {
  command: 'compare [elf]',
  describe: 'run a program under several configurations and compare counts and modeled cost',
  builder: (y: Argv<object>) =>
    y
      .parserConfiguration({ 'populate--': true, 'parse-numbers': false, 'parse-positional-numbers': false })
      .positional('elf', { type: 'string', describe: 'static arm64 ELF to run (a preset names its own)' })
      .option('matrix', { type: 'string', describe: "knobs and their values, every combination: 'contpte=on,off file_large_folios=on,off' (profile=... and cost.<param>=... too)" })
      .option('cases', { type: 'string', describe: "file of cases, one per line 'name: --profile X --set knob=value ... [-- args]', or JSON" })
      .option('preset', { type: 'string', choices: Object.keys(PRESETS), describe: 'a predefined comparison (page_fault3-regression: the four configurations of the June 2024 report)' })
      .option('profile', { type: 'string', describe: 'profile for cases that name none' })
      .option('set', { type: 'string', describe: 'knob=value for every case (repeatable); cost.<param>=value sets the cost model' })
      .option('baseline', { type: 'string', describe: 'the case the ratio column compares with [default: the first case]' })
      .option('format', { type: 'string', choices: FORMATS, default: 'text', describe: 'table format on stdout' })
      .option('json', { type: 'boolean', default: false, describe: 'the same as --format json' })
      .option('html', { type: 'string', describe: 'also write a self-contained HTML report (table and charts) to FILE' })
      .option('jobs', { type: 'string', describe: 'runs in parallel [default: min(CPUs, runs)]' })
      .option('isolate', { type: 'boolean', default: false, describe: 'run each case in a child process of its own (slower start-up) instead of worker threads of this one' })
      .option('max-insns', { type: 'string', describe: 'instruction budget of each run (passed to run)' })
      .option('timeout', { type: 'string', describe: 'kill a run after this many seconds' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'print the runs that would be made and stop' })
      .option('emit-jobs', { type: 'string', describe: 'run nothing: write one job per run, a manifest and launchers (GNU parallel, Kubernetes, Slurm) to DIR; then contpte-lab collect DIR' })
      .option('yes', { type: 'boolean', default: false, describe: `run a comparison of more than ${LARGE_COMPARISON} runs without asking (on a terminal)` })
      .example("$0 compare firmware/bin/page_fault3 --matrix 'contpte=on,off' -- 16M 2", 'contpte on and off')
      .example('$0 compare --preset page_fault3-regression --html report.html', "the thread's four configurations") as unknown as Argv<CompareArgs>,
  handler: async (args) => {
    const format = jsonFormat(args);
    const { req, title } = buildRequest(args);
    // Fail before work: the program, every case's settings and the output path, then the size.
    // A study too: its jobs would fail on every machine (and /dev/zero would never be hashed).
    precheckCases(req.elf, resolveCases(req));
    if (args['emit-jobs'] !== undefined) {
      emitStudy(args['emit-jobs'], req, title, args);
      return;
    }
    const runs = distinctRuns(req);
    if (args.html !== undefined) precheckOutputPath('--html', args.html);
    if (args.timeout !== undefined) parseUserNumber(args.timeout, '--timeout');
    if (args['max-insns'] !== undefined) parseUserNumber(args['max-insns'], '--max-insns');
    const size = largeComparisonVerdict(runs.length, { tty: process.stdin.isTTY === true && process.stderr.isTTY === true, yes: args.yes || args['dry-run'] });
    if (size.kind === 'refuse') throw new UsageError(size.message);
    if (size.kind === 'warn') process.stderr.write(size.message + '\n');
    if (args['dry-run']) {
      const cli = join(packageRoot(), 'dist/src/cli/main.js');
      const costOf = new Map(resolveCases(req).map((c) => [c.name, c.costSets]));
      if (format === 'json') {
        const doc = runs.map((r) => ({ cases: r.cases.map((name) => ({ name, cost_sets: costOf.get(name) ?? [] })), argv: [process.execPath, cli, ...runArgv(r.run)] }));
        process.stdout.write(JSON.stringify({ runs: doc }, null, 2) + '\n');
        return;
      }
      for (const r of runs) {
        for (const name of r.cases) {
          const cost = costOf.get(name) ?? [];
          process.stdout.write(`# ${name}${cost.length > 0 ? ` (${cost.join(' ')})` : ''}\n`);
        }
        process.stdout.write([process.execPath, cli, ...runArgv(r.run)].map(shellQuote).join(' ') + '\n');
      }
      return;
    }
    const jobs = args.jobs !== undefined ? parseUserNumber(args.jobs, '--jobs') : Math.min(availableParallelism(), runs.length);
    if (jobs < 1) throw new UsageError('--jobs: at least 1');
    const timeoutSeconds = args.timeout !== undefined ? parseUserNumber(args.timeout, '--timeout') : undefined;
    const cli = cliPath();
    const pool = args.isolate ? null : new CaseProcessPool(jobs, timeoutSeconds !== undefined ? { timeoutSeconds } : {});
    // SIGINT/SIGTERM: the runs end with the tool (never left running on their own). A child
    // inside a long stretch of guest code without a kernel event only sees a signal at its next
    // one: SIGKILL ends it at once. A thread's case stops at its next time slice (at most 100 ms
    // of guest time) with its counts so far, and no case starts after the signal. The cases that
    // had finished are still printed, as a partial table; a second signal ends the tool at once.
    let stopping: 'SIGINT' | 'SIGTERM' | null = null;
    let stopped: Promise<{ stopped: number; settled: boolean }> = Promise.resolve({ stopped: 0, settled: true });
    const onSignal = (sig: 'SIGINT' | 'SIGTERM'): void => {
      if (stopping !== null) process.exit(EXIT_SIGNAL[sig]);
      stopping = sig;
      const children = stopChildren('SIGKILL');
      stopped = (pool?.stop(sig) ?? Promise.resolve({ stopped: 0, settled: true })).then((s) => ({ stopped: s.stopped + children, settled: s.settled }));
      // A case stuck in native code never ends, and the comparison with it: leave without a table.
      void stopped.then(({ stopped: n, settled }) => {
        if (settled) return;
        process.stderr.write(`\n${interruptedLine(sig, n)}, no table\n`);
        void hardExit(EXIT_SIGNAL[sig]);
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    // A single run reported in HTML also gets a trace, for its chart of events over time.
    let traceDir: string | null = null;
    let traceFile: string | null = null;
    if (args.html !== undefined && runs.length === 1) {
      traceDir = mkdtempSync(join(tmpdir(), 'contpte-lab-compare-'));
      traceFile = join(traceDir, 'trace.jsonl');
      req.extra = [...(req.extra ?? []), '--trace', traceFile, '--trace-format', 'jsonl', '--trace-limit', '256MB'];
    }
    try {
      const progress = showsProgress(process.stderr) ? new TtyProgress(runs.map((r) => r.cases.join(', ')), process.stderr, jobs) : undefined;
      const cmp = await runComparison(req, {
        jobs,
        runner: (r) => {
          if (stopping !== null) return Promise.resolve({ ok: false, error: 'not run: compare was interrupted', exitCode: null, seconds: 0, stderr: '' });
          // A child killed by the signal handler left no summary: say what stopped it.
          const alone = (): Promise<RunResult> =>
            runChild(r, { cli, ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}) }).then((res) =>
              stopping !== null && !res.ok && res.summary === undefined ? { ...res, error: `killed: compare was interrupted by ${stopping}` } : res,
            );
          if (pool === null || !runsInThread(r)) return alone();
          // The pool's process ended under this case (a native crash in one of its cases): every
          // case it had in progress runs again alone, where only the one that crashes fails.
          return pool.run(r).then((res) => {
            if (!isLost(res)) return res;
            if (stopping === null) process.stderr.write(`contpte-lab: ${res.lost} with this case in progress: running it again in a process of its own (${runArgv(r).join(' ')})\n`);
            return alone();
          });
        },
        ...(progress !== undefined ? { progress } : {}),
      });
      const sig = stopping as 'SIGINT' | 'SIGTERM' | null;
      if (sig !== null) {
        const { stopped: n } = await stopped;
        process.exitCode = EXIT_SIGNAL[sig];
        const finished = cmp.cases.filter((c) => c.result.ok).length;
        if (finished === 0) {
          process.stderr.write(`\n${interruptedLine(sig, n)}, no table\n`);
          return;
        }
      }
      const table = comparisonTable(cmp);
      process.stdout.write(renderComparison(cmp, table, format, { width: tableWidth(process.stdout), colour: usesColour(process.stdout) }));
      if (args.html !== undefined) {
        const heading = sig !== null ? `${title} (PARTIAL: interrupted by ${sig})` : title;
        await writeHtmlComparison({ file: args.html, title: heading, cmp, table, traceFile, command: commandLine() });
      }
      if (sig !== null) {
        const finished = cmp.cases.filter((c) => c.result.ok).length;
        process.stderr.write(`${interruptedLine(sig, (await stopped).stopped)}: a PARTIAL table, ${finished} of ${cmp.cases.length} cases finished (the others are marked FAILED)\n`);
        return;
      }
      // A failed case is never a good row: name it, say why, quote its stderr, and exit 1.
      const failures = failureReport(cmp);
      if (failures.length > 0) {
        const n = cmp.cases.filter((c) => !c.result.ok).length;
        const red = usesColour(process.stderr);
        const lines = failures.map((l) => l.replace(/\bFAILED\b/, paint('FAILED', 'red', red)));
        process.stderr.write(`contpte-lab: ${n} of ${cmp.cases.length} cases failed (their counts are not compared):\n${lines.join('\n')}\n`);
        process.exitCode = 1;
      }
    } finally {
      await pool?.close();
      // A case given up on after its timeout may still hold its thread in native code.
      if (pool !== null && pool.stuck > 0) {
        if (traceDir !== null) rmSync(traceDir, { recursive: true, force: true });
        await hardExit(process.exitCode === undefined ? 0 : Number(process.exitCode));
      }
      if (traceDir !== null) rmSync(traceDir, { recursive: true, force: true });
    }
  },
};
