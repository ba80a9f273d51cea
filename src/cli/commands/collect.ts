/**
 * A comparison run as jobs on another engine (report/jobs.ts):
 * - `compare ... --emit-jobs DIR` (emitStudy) writes the study directory and runs nothing;
 * - `contpte-lab job DIR INDEX` runs one job there and writes its result;
 * - `contpte-lab collect DIR` prints what `compare` would have printed, in every format, the
 *   HTML report included, and names every job that is missing, failed or refused.
 */
import type { Argv, CommandModule } from 'yargs';
import type { CompareRequest } from '../../report/compare.js';
import { comparisonTable } from '../../report/compare.js';
import { collectJobs, emitJobs, parseJobIndex, readManifest, runJob } from '../../report/jobs.js';
import { OUTPUT_FORMATS, renderComparison, writeHtmlComparison, type OutputFormat } from '../../report/output.js';
import { UsageError } from '../../util/errors.js';
import { parseUserNumber } from '../../util/num.js';
import { precheckOutputPath } from '../../report/precheck.js';
import { commandLine, tableWidth, usesColour } from '../tty.js';

/** The compare options that matter to --emit-jobs. */
interface EmitArgs {
  html?: string;
  timeout?: string;
  'dry-run': boolean;
  json?: boolean;
}

/** `compare --emit-jobs DIR`: the study directory of the request, and where to go from there. */
export function emitStudy(dir: string, req: CompareRequest, title: string, args: EmitArgs): void {
  if (args.html !== undefined) throw new UsageError('--emit-jobs runs nothing: give --html to contpte-lab collect DIR');
  if (args['dry-run']) throw new UsageError('--emit-jobs and --dry-run: give one of them');
  const timeoutSeconds = args.timeout !== undefined ? parseUserNumber(args.timeout, '--timeout') : undefined;
  const m = emitJobs(req, { dir, title, ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}) });
  const cases = m.jobs.reduce((n, j) => n + j.cases.length, 0);
  if (args.json === true) {
    process.stdout.write(JSON.stringify({ study: m.study, dir, jobs: m.jobs.length, cases }, null, 2) + '\n');
    return;
  }
  process.stdout.write(
    `wrote study ${m.study}: ${m.jobs.length} job${m.jobs.length === 1 ? '' : 's'} for ${cases} case${cases === 1 ? '' : 's'} in ${dir}\n` +
      `run them with ${dir}/launch/parallel.sh, launch/k8s-job.yaml or launch/slurm.sbatch (or contpte-lab job ${dir} INDEX each), then: contpte-lab collect ${dir}\n`,
  );
}

interface JobArgs {
  dir: string;
  index: string;
  json: boolean;
}

export const jobCommand: CommandModule<object, JobArgs> = {
  command: 'job <dir> <index>',
  describe: 'run one job of a study written by compare --emit-jobs and write its result',
  builder: (y: Argv<object>) =>
    y
      .parserConfiguration({ 'parse-numbers': false, 'parse-positional-numbers': false })
      .positional('dir', { type: 'string', demandOption: true, describe: 'the study directory' })
      .positional('index', { type: 'string', demandOption: true, describe: "the job's index (JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID, or an id of launch/job-ids.txt)" })
      .option('json', { type: 'boolean', default: false, describe: 'also print the result written (id, status, seconds, file) as one JSON document on stdout' })
      .example('$0 job study 3', 'run job 3, writing study/results/0003.json') as unknown as Argv<JobArgs>,
  handler: async (args) => {
    const index = parseJobIndex(args.index, readManifest(args.dir));
    const { file, result } = await runJob(args.dir, index);
    const r = result.result;
    const status = !r.ok ? `failed: ${r.error}` : r.summary.exit_code === 0 ? 'ok' : `guest exit code ${r.summary.exit_code ?? r.summary.end.reason}`;
    process.stderr.write(`contpte-lab job ${result.id} (${r.seconds.toFixed(1)} s): ${status}; wrote ${file}\n`);
    if (args.json) process.stdout.write(JSON.stringify({ id: result.id, status, seconds: r.seconds, file }, null, 2) + '\n');
  },
};

/** `--json` is `--format json`; with another --format given it is a contradiction. */
export function jsonFormat(args: { json: boolean; format: string }): OutputFormat {
  if (!args.json) return args.format as OutputFormat;
  if (args.format !== 'text' && args.format !== 'json') throw new UsageError(`--json and --format ${args.format}: give one of them`);
  return 'json';
}

interface CollectArgs {
  dir: string;
  format: string;
  json: boolean;
  html?: string;
}

export const collectCommand: CommandModule<object, CollectArgs> = {
  command: 'collect <dir>',
  describe: "print a study's comparison from its jobs' results, as compare would have",
  builder: (y: Argv<object>) =>
    y
      .positional('dir', { type: 'string', demandOption: true, describe: 'the study directory (compare --emit-jobs DIR)' })
      .option('format', { type: 'string', choices: OUTPUT_FORMATS, default: 'text', describe: 'table format on stdout' })
      .option('json', { type: 'boolean', default: false, describe: 'the same as --format json' })
      .option('html', { type: 'string', describe: 'also write a self-contained HTML report (table and charts) to FILE' })
      .example('$0 collect study --format json', 'the comparison of the study as one JSON document') as unknown as Argv<CollectArgs>,
  handler: async (args) => {
    if (args.html !== undefined) precheckOutputPath('--html', args.html);
    const format = jsonFormat(args);
    const { manifest, cmp, problems } = await collectJobs(args.dir);
    const table = comparisonTable(cmp);
    process.stdout.write(renderComparison(cmp, table, format, { width: tableWidth(process.stdout), colour: usesColour(process.stdout) }));
    if (args.html !== undefined) await writeHtmlComparison({ file: args.html, title: manifest.title, cmp, table, command: commandLine() });
    for (const p of problems) process.stderr.write(`contpte-lab collect: ${p.kind}: ${p.message} [${p.cases.join(', ')}]\n`);
    if (problems.length > 0) {
      const n = (k: string): number => problems.filter((p) => p.kind === k).length;
      process.stderr.write(`contpte-lab collect: ${problems.length} of ${manifest.jobs.length} jobs are not good (${n('missing')} missing, ${n('failed')} failed, ${n('refused')} refused, ${n('unreadable')} unreadable)\n`);
      process.exitCode = 1;
    }
  },
};
