/**
 * A comparison as jobs for a distributed engine that people already run (GNU parallel over ssh, a
 * Kubernetes Indexed Job, a Slurm array), instead of our own pool: `compare --emit-jobs DIR`
 * writes a study directory, any engine runs `contpte-lab job DIR <index>` once per job, and
 * `contpte-lab collect DIR` turns the results into the comparison `compare` would have made.
 *
 * A study directory holds only relative paths, so it can be copied to a shared volume or to other
 * machines whole:
 *
 *   manifest.json          the request (cases, settings, baseline), the title, the list of jobs
 *   elf/<sha256>/<name>    the program, stored under its content hash and with its own file name
 *                          (the guest sees the name: /proc/self/exe, AT_EXECFN)
 *   jobs/<id>.json         one job per distinct run: the exact `contpte-lab run --json` command
 *                          line (run from the study directory), the ELF's hash, the profile and
 *                          policy the run must report, the output file
 *   results/<id>.json      what `contpte-lab job` wrote: the command and the ELF hash it ran, and
 *                          the run's result
 *   launch/                launchers (launchers.ts)
 *   logs/                  the engines' own logs (Slurm's output files)
 *
 * A job is a distinct run, as in `compare`: cases that differ only in cost-model settings share
 * one. The command passes `--argv0` with the path `compare` would have given the program, so the
 * guest's stack, and so every count, is the same as in a local `compare`.
 *
 * A job that ran writes its result whatever the guest did (the result says it failed); `job`
 * exits non-zero only when it could not write one, which is the case an engine's retry can help.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { formatPolicy } from '../mm/knobs.js';
import { resolvePolicy } from '../mm/profiles.js';
import { EnvironmentError, UsageError } from '../util/errors.js';
import { distinctRuns, resolveCases, runComparison, type CompareRequest, type Comparison } from './compare.js';
import { launcherFiles } from './launchers.js';
import { cliPath, packageRoot, runArgv, runChild, type RunResult, type RunSpec } from './runner.js';
import { summaryFromJson } from './summary.js';

export const JOBS_VERSION = 1;
const MANIFEST_FORMAT = 'contpte-lab-jobs';
const JOB_FORMAT = 'contpte-lab-job';
const RESULT_FORMAT = 'contpte-lab-job-result';
/** The guest's output goes to the child's stderr with --json: keep only its end in a result. */
const STDERR_KEEP = 16 * 1024;

export interface JobSpec {
  format: typeof JOB_FORMAT;
  version: number;
  index: number;
  id: string;
  /** The cases this run serves (more than one when they differ only in cost settings). */
  cases: string[];
  /** The program, relative to the study directory, and its SHA-256. */
  elf: { file: string; sha256: string };
  /** The exact command line, run in the study directory; `contpte-lab` is the runner's own CLI. */
  command: string[];
  /** What the run's summary must report (the profile with the case's settings applied). */
  profile: string;
  policy: Record<string, string>;
  /** Where the result goes, relative to the study directory. */
  output: string;
  timeout_seconds: number | null;
  /** The run as `compare` makes it on the emitting machine: what `collect` matches it with. */
  run: RunSpec;
}

export interface ManifestJob {
  index: number;
  id: string;
  file: string;
  output: string;
  cases: string[];
}

export interface JobsManifest {
  format: typeof MANIFEST_FORMAT;
  version: number;
  /** The contpte-lab version that emitted the study (jobs should run with the same). */
  contpte_lab: string;
  /** A short hash of the jobs: names the study in the engines (Kubernetes Job, Slurm job). */
  study: string;
  title: string;
  elf: { path: string; file: string; sha256: string };
  request: CompareRequest;
  jobs: ManifestJob[];
}

export interface JobResultFile {
  format: typeof RESULT_FORMAT;
  version: number;
  index: number;
  id: string;
  /** The SHA-256 of the program file the job ran. */
  elf_sha256: string;
  command: string[];
  host: string;
  result: RunResult;
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

function jobId(index: number, total: number): string {
  return String(index).padStart(Math.max(4, String(total - 1).length), '0');
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n');
}

/** The run a job makes: the stored program, named as `compare` would have named it. */
function jobRun(run: RunSpec, elfFile: string): RunSpec {
  return { ...run, elf: elfFile, extra: ['--argv0', run.elf, ...run.extra] };
}

export interface EmitOptions {
  dir: string;
  title: string;
  /** Kill a job's run after this many seconds. */
  timeoutSeconds?: number;
}

/** Writes the study directory of `req` (nothing runs); `dir` must be new or empty. */
export function emitJobs(req: CompareRequest, opts: EmitOptions): JobsManifest {
  const { dir } = opts;
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new UsageError(`--emit-jobs: '${dir}' is not a directory (give a new directory)`);
    if (readdirSync(dir).length > 0) throw new UsageError(`--emit-jobs: '${dir}' is not empty (give a new directory, so that no result of another study is collected)`);
  }
  resolveCases(req); // checks the cases and the baseline
  const runs = distinctRuns(req);
  const sha256 = sha256File(req.elf);
  const elfFile = `elf/${sha256}/${basename(req.elf)}`;
  const jobs: JobSpec[] = runs.map(({ run, cases }, index) => {
    // The policy is checked here, so a bad knob fails now rather than on every machine.
    const resolved = resolvePolicy(run.profile, run.sets);
    const id = jobId(index, runs.length);
    const r = jobRun(run, elfFile);
    return {
      format: JOB_FORMAT,
      version: JOBS_VERSION,
      index,
      id,
      cases,
      elf: { file: elfFile, sha256 },
      command: ['contpte-lab', ...runArgv(r)],
      profile: resolved.profile,
      policy: formatPolicy(resolved.policy),
      output: `results/${id}.json`,
      timeout_seconds: opts.timeoutSeconds ?? null,
      run,
    };
  });
  const study = createHash('sha256')
    .update(JSON.stringify(jobs))
    .digest('hex')
    .slice(0, 12);
  const manifest: JobsManifest = {
    format: MANIFEST_FORMAT,
    version: JOBS_VERSION,
    contpte_lab: packageVersion(),
    study,
    title: opts.title,
    elf: { path: req.elf, file: elfFile, sha256 },
    request: req,
    jobs: jobs.map((j) => ({ index: j.index, id: j.id, file: `jobs/${j.id}.json`, output: j.output, cases: j.cases })),
  };
  try {
    for (const sub of ['jobs', 'results', 'launch', 'logs', `elf/${sha256}`]) mkdirSync(join(dir, sub), { recursive: true });
    copyFileSync(req.elf, join(dir, elfFile));
    for (const j of jobs) writeJson(join(dir, 'jobs', `${j.id}.json`), j);
    for (const f of launcherFiles(manifest)) writeFileSync(join(dir, f.path), f.text, { mode: f.executable ? 0o755 : 0o644 });
    writeJson(join(dir, 'manifest.json'), manifest);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
    throw new UsageError(`--emit-jobs: cannot write the study in '${dir}' (${code})`);
  }
  return manifest;
}

function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
    throw new UsageError(`cannot read ${what} '${path}' (${code})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${what} '${path}' is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The study's manifest; anything but a study directory of this version is a usage error. */
export function readManifest(dir: string): JobsManifest {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) throw new UsageError(`'${dir}' is not a study directory (no manifest.json; make one with compare --emit-jobs DIR)`);
  const m = readJsonFile(path, 'the manifest');
  if (!isRecord(m) || m['format'] !== MANIFEST_FORMAT || !Array.isArray(m['jobs']) || !isRecord(m['request'])) {
    throw new UsageError(`'${path}' is not a contpte-lab jobs manifest`);
  }
  if (m['version'] !== JOBS_VERSION) throw new UsageError(`'${path}' is version ${String(m['version'])} of the jobs format; this contpte-lab reads version ${JOBS_VERSION}`);
  return m as unknown as JobsManifest;
}

function readJob(dir: string, entry: ManifestJob): JobSpec {
  const path = join(dir, entry.file);
  const j = readJsonFile(path, 'the job');
  if (!isRecord(j) || j['format'] !== JOB_FORMAT || j['index'] !== entry.index || !Array.isArray(j['command']) || !isRecord(j['run'])) {
    throw new UsageError(`'${path}' is not job ${entry.index} of this study`);
  }
  return j as unknown as JobSpec;
}

/** A job's index as an engine passes it ('3', '0003'); it must name a job of the study. */
export function parseJobIndex(text: string, manifest: JobsManifest): number {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`job: '${text}' is not a job index (0 to ${manifest.jobs.length - 1})`);
  const index = Number(text.trim());
  if (index >= manifest.jobs.length) throw new UsageError(`job: index ${index} is out of range (the study has ${manifest.jobs.length} jobs, 0 to ${manifest.jobs.length - 1})`);
  return index;
}

export interface RunJobOptions {
  /** The CLI the run is made with (default: this package's). */
  cli?: string;
}

/**
 * Runs job `index` of the study in `dir` and writes its result file. Refuses (writing nothing)
 * when the stored program is not the one the job names.
 */
export async function runJob(dir: string, index: number, opts: RunJobOptions = {}): Promise<{ file: string; result: JobResultFile }> {
  const manifest = readManifest(dir);
  const entry = manifest.jobs[index];
  if (entry === undefined) throw new UsageError(`job: index ${index} is out of range (0 to ${manifest.jobs.length - 1})`);
  const job = readJob(dir, entry);
  const run = jobRun(job.run, job.elf.file);
  const command = ['contpte-lab', ...runArgv(run)];
  if (JSON.stringify(command) !== JSON.stringify(job.command)) throw new UsageError(`job ${job.id}: its command line does not match its run (the job file was edited?)`);
  const elfPath = join(dir, job.elf.file);
  if (!existsSync(elfPath)) throw new UsageError(`job ${job.id}: the program '${elfPath}' is missing (copy the whole study directory)`);
  const sha = sha256File(elfPath);
  if (sha !== job.elf.sha256) throw new UsageError(`job ${job.id}: '${elfPath}' has SHA-256 ${sha}, the job wants ${job.elf.sha256}`);
  const cli = opts.cli ?? cliPath();
  const cwd = process.cwd();
  let result: RunResult;
  process.chdir(dir);
  try {
    result = await runChild(run, { cli, ...(job.timeout_seconds !== null ? { timeoutSeconds: job.timeout_seconds } : {}) });
  } finally {
    process.chdir(cwd);
  }
  const out: JobResultFile = {
    format: RESULT_FORMAT,
    version: JOBS_VERSION,
    index: job.index,
    id: job.id,
    elf_sha256: sha,
    command,
    host: hostname(),
    result: { ...result, stderr: result.stderr.length > STDERR_KEEP ? result.stderr.slice(-STDERR_KEEP) : result.stderr },
  };
  const file = join(dir, job.output);
  // Written whole then renamed: a collect running meanwhile sees no result or a complete one.
  const tmp = `${file}.${hostname()}.${process.pid}.tmp`;
  try {
    writeJson(tmp, out);
    renameSync(tmp, file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
    throw new EnvironmentError(`job ${job.id}: cannot write its result '${file}' (${code})`);
  }
  return { file, result: out };
}

/** Why a job does not count as a good run. */
export type JobProblemKind = 'missing' | 'unreadable' | 'refused' | 'failed';

export interface JobProblem {
  kind: JobProblemKind;
  id: string;
  cases: string[];
  message: string;
}

export interface Collected {
  manifest: JobsManifest;
  cmp: Comparison;
  /** Every job that is missing, unreadable, refused or failed (a non-zero guest exit included). */
  problems: JobProblem[];
}

function sameRecord(a: Record<string, string>, b: Record<string, string>): string | null {
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) if (a[k] !== b[k]) return `${k}=${b[k] ?? '(none)'} where the job wants ${k}=${a[k] ?? '(none)'}`;
  return null;
}

/** The result of one job as a run result, or the problem that keeps it out. */
function jobOutcome(dir: string, job: JobSpec): { result: RunResult; problem: JobProblem | null } {
  const problem = (kind: JobProblemKind, message: string): { result: RunResult; problem: JobProblem } => ({
    result: { ok: false, error: message, exitCode: null, seconds: 0, stderr: '' },
    problem: { kind, id: job.id, cases: job.cases, message },
  });
  const path = join(dir, job.output);
  if (!existsSync(path)) return problem('missing', `job ${job.id} has no result (${job.output} is missing)`);
  let r: unknown;
  try {
    r = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    return problem('unreadable', `job ${job.id}: ${job.output} is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isRecord(r) || r['format'] !== RESULT_FORMAT || !isRecord(r['result']) || typeof r['elf_sha256'] !== 'string') {
    return problem('unreadable', `job ${job.id}: ${job.output} is not a job result`);
  }
  if (r['index'] !== job.index) return problem('refused', `job ${job.id}: result refused: ${job.output} is the result of job ${String(r['index'])}`);
  if (JSON.stringify(r['command']) !== JSON.stringify(job.command)) {
    return problem('refused', `job ${job.id}: result refused: it ran '${Array.isArray(r['command']) ? r['command'].join(' ') : String(r['command'])}', not the job's command`);
  }
  if (r['elf_sha256'] !== job.elf.sha256) {
    return problem('refused', `job ${job.id}: result refused: it ran a program with SHA-256 ${r['elf_sha256']}, the job's is ${job.elf.sha256}`);
  }
  const stored = r['result'];
  const seconds = typeof stored['seconds'] === 'number' ? stored['seconds'] : 0;
  const stderr = typeof stored['stderr'] === 'string' ? stored['stderr'] : '';
  if (stored['ok'] !== true) {
    const error = typeof stored['error'] === 'string' ? stored['error'] : 'failed';
    const exitCode = typeof stored['exitCode'] === 'number' ? stored['exitCode'] : null;
    return { result: { ok: false, error, exitCode, seconds, stderr }, problem: { kind: 'failed', id: job.id, cases: job.cases, message: `job ${job.id} failed: ${error}` } };
  }
  let summary;
  try {
    summary = summaryFromJson(stored['summary']);
  } catch (e) {
    return problem('unreadable', `job ${job.id}: ${job.output} holds no run summary (${e instanceof Error ? e.message : String(e)})`);
  }
  if (summary.profile !== job.profile) return problem('refused', `job ${job.id}: result refused: it ran profile ${summary.profile}, the job wants ${job.profile}`);
  const policyDiff = sameRecord(job.policy, summary.policy);
  if (policyDiff !== null) return problem('refused', `job ${job.id}: result refused: its policy has ${policyDiff}`);
  const result: RunResult = { ok: true, summary, seconds, stderr };
  if (summary.exit_code !== 0) {
    const how = summary.exit_code === null ? `ended by ${summary.end.reason}${summary.end.detail !== undefined ? ` (${summary.end.detail})` : ''}` : `exited with ${summary.exit_code}`;
    return { result, problem: { kind: 'failed', id: job.id, cases: job.cases, message: `job ${job.id} failed: the guest ${how}` } };
  }
  return { result, problem: null };
}

/**
 * The comparison of a study from its results, made by the same code as `compare` (each stored
 * result stands for the run it records); jobs without a good result are failed cases.
 */
export async function collectJobs(dir: string): Promise<Collected> {
  const manifest = readManifest(dir);
  const req = manifest.request;
  const runs = distinctRuns(req);
  if (runs.length !== manifest.jobs.length) throw new UsageError(`${join(dir, 'manifest.json')}: ${manifest.jobs.length} jobs for ${runs.length} runs (a manifest from another contpte-lab version?)`);
  const byKey = new Map<string, RunResult>();
  const problems: JobProblem[] = [];
  manifest.jobs.forEach((entry, i) => {
    const job = readJob(dir, entry);
    const key = JSON.stringify(runs[i]!.run);
    if (JSON.stringify(job.run) !== key) throw new UsageError(`${join(dir, entry.file)}: its run is not the study's run ${i} (a job from another study?)`);
    const { result, problem } = jobOutcome(dir, job);
    byKey.set(key, result);
    if (problem !== null) problems.push(problem);
  });
  const cmp = await runComparison(req, { jobs: 1, runner: (r) => Promise.resolve(byKey.get(JSON.stringify(r))!) });
  return { manifest, cmp, problems };
}
