/**
 * Launchers of a study directory (jobs.ts) for engines people already run, each a template filled
 * from the manifest; every one of them runs `contpte-lab job <study> <index>` once per index:
 *
 * - GNU parallel (`launch/parallel.sh`): this machine and a handful of others over ssh, a joblog
 *   to resume from;
 * - Kubernetes (`launch/k8s-job.yaml`, `launch/Dockerfile`): an Indexed Job, pod i running job
 *   JOB_COMPLETION_INDEX with the study on a shared volume;
 * - Slurm (`launch/slurm.sbatch`): a job array, task i running job SLURM_ARRAY_TASK_ID.
 *
 * Paths inside the study are relative; the launchers find the study from where they are run.
 */
import type { JobsManifest } from './jobs.js';

export interface LauncherFile {
  /** Relative to the study directory. */
  path: string;
  text: string;
  executable: boolean;
}

/** Where the Kubernetes pods see the study directory (the shared volume's mount point). */
export const K8S_STUDY_MOUNT = '/study';
/** The claim of the shared volume that holds the study; created by the user (ReadWriteMany). */
export const K8S_STUDY_CLAIM = 'contpte-lab-study';
/** Pods running at once, at most: a cluster's fair share is the user's call, this is a start. */
const K8S_MAX_PARALLELISM = 32;

/** A YAML scalar: JSON's double-quoted strings are valid YAML. */
const q = (s: string): string => JSON.stringify(s);

function jobIds(m: JobsManifest): string {
  return m.jobs.map((j) => j.id).join('\n') + '\n';
}

function parallelScript(m: JobsManifest): string {
  return `#!/bin/sh
# GNU parallel launcher of contpte-lab study ${m.study} (${m.jobs.length} jobs): one
# 'contpte-lab job' per line of launch/job-ids.txt, as many at a time as each machine has CPUs.
#
#   launch/parallel.sh                                   # this machine
#   launch/parallel.sh --sshlogin 8/host1,8/host2,:      # two hosts over ssh and this machine
#   launch/parallel.sh --resume-failed ...               # run again what is missing or failed
#
# Over ssh, every host needs contpte-lab on its PATH (or set CONTPTE_LAB to its path) and the
# study directory at the same absolute path as here: a shared file system, or a copy
# (rsync -a STUDY/ host:STUDY/) made before; each result comes back here (--return).
# The joblog (parallel.joblog in the study) records every job's host, time and exit status.
# Then: contpte-lab collect STUDY
set -eu
study=$(cd "$(dirname "$0")/.." && pwd)
cd "$study"
# Results come back from remote hosts only; parallel warns about --return without one.
for a in "$@"; do
  case $a in -S | -S* | --sshlogin | --sshlogin=* | --slf | --sshloginfile | --sshloginfile=*) remote=1 ;; esac
done
if [ -n "\${remote:-}" ]; then set -- --return "$study/results/{}.json" "$@"; fi
exec parallel --quote --joblog "$study/parallel.joblog" --workdir "$study" \\
  --arg-file "$study/launch/job-ids.txt" "$@" "\${CONTPTE_LAB:-contpte-lab}" job "$study" {}
`;
}

function k8sJob(m: JobsManifest): string {
  const n = m.jobs.length;
  return `# Kubernetes Indexed Job of contpte-lab study ${m.study} (${n} jobs): pod i runs job i,
# the index coming from JOB_COMPLETION_INDEX; results are written to the study directory on the
# shared volume. Before applying:
#   1. put the study directory on a ReadWriteMany volume claimed as "${K8S_STUDY_CLAIM}" (the
#      pods mount it at ${K8S_STUDY_MOUNT}), e.g. copy it with kubectl cp through any pod mounting it;
#   2. build the image with launch/Dockerfile and push it; set "image" below to its name.
#   kubectl apply -f launch/k8s-job.yaml
#   kubectl wait --for=condition=complete --timeout=24h job/contpte-lab-${m.study}
# A pod fails (and is retried, up to backoffLimit) only when it could not write a result;
# a failed guest is a written result, named by 'contpte-lab collect'.
apiVersion: batch/v1
kind: Job
metadata:
  name: ${q(`contpte-lab-${m.study}`)}
  labels:
    app.kubernetes.io/name: contpte-lab
    contpte-lab/study: ${q(m.study)}
spec:
  completionMode: Indexed
  completions: ${n}
  parallelism: ${Math.min(n, K8S_MAX_PARALLELISM)}
  backoffLimit: ${Math.max(6, n)}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: contpte-lab
        contpte-lab/study: ${q(m.study)}
    spec:
      restartPolicy: Never
      containers:
        - name: case
          image: ${q(`contpte-lab:${m.contpte_lab}`)}
          # Kubernetes expands $(JOB_COMPLETION_INDEX), set in every pod of an Indexed Job.
          args: ["job", ${q(K8S_STUDY_MOUNT)}, "$(JOB_COMPLETION_INDEX)"]
          resources:
            requests:
              cpu: "1"
              memory: "2Gi"
          volumeMounts:
            - name: study
              mountPath: ${q(K8S_STUDY_MOUNT)}
      volumes:
        - name: study
          persistentVolumeClaim:
            claimName: ${q(K8S_STUDY_CLAIM)}
`;
}

function dockerfile(m: JobsManifest): string {
  const tgz = `contpte-lab-${m.contpte_lab}.tgz`;
  return `# The image of launch/k8s-job.yaml: Node 20, Debian's libunicorn2 and contpte-lab ${m.contpte_lab}.
# Build it from a contpte-lab source tree (npm pack makes ${tgz}):
#   npm pack
#   docker build -f STUDY/launch/Dockerfile -t contpte-lab:${m.contpte_lab} .
FROM node:20-bookworm-slim
RUN apt-get update \\
 && apt-get install -y --no-install-recommends libunicorn2 \\
 && rm -rf /var/lib/apt/lists/*
COPY ${tgz} /tmp/
RUN npm install --global /tmp/${tgz} && rm /tmp/${tgz}
ENTRYPOINT ["contpte-lab"]
`;
}

function slurmScript(m: JobsManifest): string {
  return `#!/bin/bash
# Slurm job array of contpte-lab study ${m.study} (${m.jobs.length} jobs): task i runs job i.
# Submit from the study directory (on a file system the compute nodes share):
#   cd STUDY && sbatch launch/slurm.sbatch
# (contpte-lab on the nodes' PATH, or export CONTPTE_LAB=/path/to/contpte-lab first.)
# Arrays larger than the cluster's MaxArraySize must be split: sbatch --array=1000-1999 ...
#SBATCH --job-name=contpte-lab-${m.study}
#SBATCH --array=0-${m.jobs.length - 1}
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --mem=2G
#SBATCH --output=logs/slurm-%A_%a.out
set -euo pipefail
study=\${CONTPTE_LAB_STUDY:-\${SLURM_SUBMIT_DIR:-$PWD}}
exec "\${CONTPTE_LAB:-contpte-lab}" job "$study" "$SLURM_ARRAY_TASK_ID"
`;
}

/** Every launcher of the study, with the job ids file GNU parallel reads. */
export function launcherFiles(m: JobsManifest): LauncherFile[] {
  return [
    { path: 'launch/job-ids.txt', text: jobIds(m), executable: false },
    { path: 'launch/parallel.sh', text: parallelScript(m), executable: true },
    { path: 'launch/k8s-job.yaml', text: k8sJob(m), executable: false },
    { path: 'launch/Dockerfile', text: dockerfile(m), executable: false },
    { path: 'launch/slurm.sbatch', text: slurmScript(m), executable: true },
  ];
}
