/**
 * The Kubernetes and Slurm launchers of a study (`compare --emit-jobs`), checked by the engines'
 * own code where it installs here without a cluster, then run the way each engine runs them:
 *
 * - the Indexed Job is read by the official Kubernetes Python client (Debian python3-kubernetes)
 *   into its V1Job model, which refuses missing required fields and drops unknown ones (so the
 *   manifest must come back unchanged); the fields an Indexed Job needs are checked, and the
 *   pod's command (the image's entrypoint and the container's args, JOB_COMPLETION_INDEX
 *   expanded) is run here on a copy of the study;
 * - the Slurm script's #SBATCH options are parsed by sbatch (Debian slurm-client, no controller:
 *   it stops when it tries to submit), and the script is run as a task of the array would be;
 * - the Dockerfile installs the tarball `npm pack` makes of this package and runs its bin.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exec } from '../cli/exec.js';

const ROOT = process.cwd();
const CLI = join(ROOT, 'dist/src/cli/main.js');
const HELLO = join(ROOT, 'firmware/bin/hello');
const SLOW = 120_000;
const DEBIAN_PYTHON = '/usr/bin/python3';

let tmp: string;
let study: string;
let binDir: string;

/** The manifest through the Kubernetes client's model: `{ parsed, model }` per document, or an error. */
const K8S_CHECK = `
import json, sys
try:
    import yaml
    from kubernetes import client
except ImportError as e:
    sys.exit('cannot import the Kubernetes client (%s): install the Debian package python3-kubernetes' % e)
class Response:
    def __init__(self, d): self.data = json.dumps(d)
api = client.ApiClient()
out = []
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d is None: continue
    if (d.get('apiVersion'), d.get('kind')) != ('batch/v1', 'Job'): sys.exit('not a batch/v1 Job: %r' % ((d.get('apiVersion'), d.get('kind')),))
    try:
        model = api.sanitize_for_serialization(api.deserialize(Response(d), 'V1Job'))
    except ValueError as e:
        sys.exit('refused by the V1Job model: %s' % e)
    out.append({'parsed': d, 'model': model})
print(json.dumps(out))
`;

async function k8sCheck(path: string): Promise<{ ok: true; docs: { parsed: unknown; model: unknown }[] } | { ok: false; error: string }> {
  if (!existsSync(DEBIAN_PYTHON)) throw new Error(`${DEBIAN_PYTHON} is missing: install the Debian package python3-kubernetes`);
  const r = await exec(DEBIAN_PYTHON, ['-c', K8S_CHECK, path], { timeoutMs: SLOW });
  if (r.err.includes('install the Debian package')) throw new Error(r.err.trim());
  if (r.code !== 0) return { ok: false, error: r.err.trim() };
  return { ok: true, docs: JSON.parse(r.out) as { parsed: unknown; model: unknown }[] };
}

function withCli(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${binDir}:${process.env['PATH'] ?? ''}` };
}

function resultOf(dir: string, id: string): { index: number; result: { ok: boolean; summary?: { exit_code: number; policy: Record<string, string> } } } {
  return JSON.parse(readFileSync(join(dir, 'results', `${id}.json`), 'utf8')) as { index: number; result: { ok: boolean; summary?: { exit_code: number; policy: Record<string, string> } } };
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with 'npx tsc -p tsconfig.json' (npm test does this)`);
  tmp = mkdtempSync(join(tmpdir(), 'contpte-lab-launchers-'));
  binDir = join(tmp, 'bin');
  mkdirSync(binDir);
  writeFileSync(join(binDir, 'contpte-lab'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  chmodSync(join(binDir, 'contpte-lab'), 0o755);
  study = join(tmp, 'study');
  const r = spawnSync(process.execPath, [CLI, 'compare', HELLO, '--matrix', 'contpte=on,off file_large_folios=on,off', '--emit-jobs', study], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});

afterAll(() => {
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

describe('Kubernetes Indexed Job', () => {
  it('is a batch/v1 Job the Kubernetes client model takes whole', async () => {
    const c = await k8sCheck(join(study, 'launch/k8s-job.yaml'));
    if (!c.ok) throw new Error(c.error);
    expect(c.docs).toHaveLength(1);
    // Nothing unknown (dropped by the model) or mistyped (converted by it).
    expect(c.docs[0]!.model).toEqual(c.docs[0]!.parsed);
  }, SLOW);

  it('a manifest without a container name or with an unknown field is caught by the same check', async () => {
    const text = readFileSync(join(study, 'launch/k8s-job.yaml'), 'utf8');
    const noName = join(tmp, 'no-name.yaml');
    writeFileSync(noName, text.replace('        - name: case\n          image:', '        - image:'));
    const a = await k8sCheck(noName);
    expect(a.ok).toBe(false);
    expect(a.ok ? '' : a.error).toContain('refused by the V1Job model: Invalid value for `name`, must not be `None`');
    const typo = join(tmp, 'typo.yaml');
    writeFileSync(typo, text.replace('  completionMode: Indexed', '  completionmode: Indexed'));
    const b = await k8sCheck(typo);
    if (!b.ok) throw new Error(b.error);
    expect(b.docs[0]!.model).not.toEqual(b.docs[0]!.parsed);
  }, SLOW);

  it('has what an Indexed Job of this study needs, and its pod command runs job JOB_COMPLETION_INDEX', async () => {
    const c = await k8sCheck(join(study, 'launch/k8s-job.yaml'));
    if (!c.ok) throw new Error(c.error);
    interface Job {
      metadata: { name: string };
      spec: {
        completionMode: string;
        completions: number;
        parallelism: number;
        template: {
          spec: {
            restartPolicy: string;
            containers: { name: string; image: string; command?: string[]; args: string[]; volumeMounts: { name: string; mountPath: string }[] }[];
            volumes: { name: string; persistentVolumeClaim?: { claimName: string } }[];
          };
        };
      };
    }
    const job = c.docs[0]!.parsed as Job;
    const manifest = JSON.parse(readFileSync(join(study, 'manifest.json'), 'utf8')) as { study: string; jobs: unknown[] };
    expect(manifest.jobs).toHaveLength(4);
    expect(job.metadata.name).toBe(`contpte-lab-${manifest.study}`);
    expect(job.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
    expect(job.spec.completionMode).toBe('Indexed');
    expect(job.spec.completions).toBe(4);
    expect(job.spec.parallelism).toBe(4);
    const pod = job.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never'); // a Job's pods: Never or OnFailure
    expect(pod.containers).toHaveLength(1);
    const ctr = pod.containers[0]!;
    expect(ctr.command).toBeUndefined(); // the image's entrypoint: contpte-lab
    expect(ctr.args).toEqual(['job', '/study', '$(JOB_COMPLETION_INDEX)']);
    expect(ctr.volumeMounts).toEqual([{ name: 'study', mountPath: '/study' }]);
    expect(pod.volumes).toEqual([{ name: 'study', persistentVolumeClaim: { claimName: 'contpte-lab-study' } }]);
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(join(study, 'launch/Dockerfile'), 'utf8'));
    expect(entrypoint).not.toBeNull();

    // Pod 2, with the shared volume's study at a path of its own.
    const volume = join(tmp, 'volume');
    cpSync(study, volume, { recursive: true });
    const argv = [...(JSON.parse(entrypoint![1]!) as string[]), ...ctr.args.map((a) => a.replace('/study', volume).replace('$(JOB_COMPLETION_INDEX)', '2'))];
    const r = await exec(argv[0]!, argv.slice(1), { timeoutMs: SLOW, env: { ...withCli(), JOB_COMPLETION_INDEX: '2' } });
    expect(r.err).toMatch(/^contpte-lab job 0002 \([0-9.]+ s\): ok; wrote /);
    expect(r.code).toBe(0);
    const res = resultOf(volume, '0002');
    expect(res.index).toBe(2);
    expect(res.result.ok).toBe(true);
    expect(res.result.summary!.policy['contpte']).toBe('off');
    expect(res.result.summary!.policy['file_large_folios']).toBe('on');
  }, SLOW);
});

describe('Slurm job array', () => {
  const script = (): string => join(study, 'launch/slurm.sbatch');

  function sbatchParse(path: string): { code: number | null; err: string } {
    // A configuration naming a controller that is not there: sbatch parses the script's options
    // and stops when it tries to reach it.
    const conf = join(tmp, 'slurm.conf');
    writeFileSync(conf, 'ClusterName=check\nSlurmctldHost=localhost\nMessageTimeout=1\nNodeName=localhost CPUs=2 State=UNKNOWN\nPartitionName=check Nodes=localhost Default=YES\n');
    const r = spawnSync('sbatch', ['--test-only', path], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, SLURM_CONF: conf } });
    if (r.error !== undefined) throw new Error(`sbatch does not run (${r.error.message}): install the Debian package slurm-client`);
    return { code: r.status, err: r.stderr };
  }

  it('has the array of the study, and sbatch accepts its options', () => {
    const text = readFileSync(script(), 'utf8');
    expect(text.startsWith('#!/bin/bash\n')).toBe(true);
    // sbatch reads #SBATCH lines up to the first command.
    const head = text.split('\n').slice(1);
    const firstCommand = head.findIndex((l) => l.trim() !== '' && !l.startsWith('#'));
    const options = head.slice(0, firstCommand).filter((l) => l.startsWith('#SBATCH ')).map((l) => l.slice('#SBATCH '.length));
    const manifest = JSON.parse(readFileSync(join(study, 'manifest.json'), 'utf8')) as { study: string };
    expect(options).toEqual([`--job-name=contpte-lab-${manifest.study}`, '--array=0-3', '--ntasks=1', '--cpus-per-task=1', '--mem=2G', '--output=logs/slurm-%A_%a.out']);
    expect(existsSync(join(study, 'logs'))).toBe(true);
    const ok = sbatchParse(script());
    expect(ok.err).toContain('Unable to contact slurm controller');
    expect(ok.err).not.toMatch(/option|invalid/i);
    // The same check sees a bad option.
    const bad = join(tmp, 'bad.sbatch');
    writeFileSync(bad, text.replace('#SBATCH --ntasks=1', '#SBATCH --nttasks=1'));
    const no = sbatchParse(bad);
    expect(no.err).toContain("unrecognized option '--nttasks=1'");
    expect(no.code).not.toBe(0);
  }, SLOW);

  it('a task of the array runs job SLURM_ARRAY_TASK_ID of the study it was submitted from', async () => {
    const shared = join(tmp, 'shared');
    cpSync(study, shared, { recursive: true });
    // Slurm runs a copy of the script, from the submission directory, with the task's id.
    const spool = join(tmp, 'spool');
    mkdirSync(spool);
    cpSync(join(shared, 'launch/slurm.sbatch'), join(spool, 'slurm_script'));
    const r = await exec('bash', [join(spool, 'slurm_script')], {
      cwd: shared,
      timeoutMs: SLOW,
      env: { ...withCli(), SLURM_ARRAY_TASK_ID: '1', SLURM_SUBMIT_DIR: shared },
    });
    expect(r.err).toMatch(/^contpte-lab job 0001 \([0-9.]+ s\): ok; wrote /);
    expect(r.code).toBe(0);
    expect(resultOf(shared, '0001').result.summary!.policy['file_large_folios']).toBe('off');
    expect(existsSync(join(shared, 'results/0000.json'))).toBe(false);
  }, SLOW);
});

describe('Dockerfile', () => {
  it("installs libunicorn2 and the tarball npm pack makes of this package, and runs the package's bin", async () => {
    const text = readFileSync(join(study, 'launch/Dockerfile'), 'utf8');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; engines: { node: string }; bin: Record<string, string> };
    const npm = await exec('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, timeoutMs: SLOW });
    if (npm.error !== undefined) throw new Error(`npm does not run (${npm.error.message}): install the Debian package npm`);
    const tarball = (JSON.parse(npm.out) as { filename: string }[])[0]!.filename;
    expect(tarball).toBe(`${pkg.name}-${pkg.version}.tgz`);
    const from = /^FROM node:(\d+)-bookworm-slim$/m.exec(text);
    expect(from).not.toBeNull();
    expect(Number(from![1])).toBeGreaterThanOrEqual(Number(/(\d+)/.exec(pkg.engines.node)![1]));
    expect(text).toMatch(/apt-get install -y --no-install-recommends libunicorn2\b/);
    expect(text).toContain(`\nCOPY ${tarball} /tmp/\n`);
    expect(text).toContain(`\nRUN npm install --global /tmp/${tarball} && rm /tmp/${tarball}\n`);
    expect(Object.keys(pkg.bin)).toContain('contpte-lab');
    expect(text).toMatch(/\nENTRYPOINT \["contpte-lab"\]\n$/);
  }, SLOW);
});
