#!/bin/bash
# Paired, alternating whole-process runs of `contpte-lab compare`: A = this tree (cases in
# threads), B = another build (BASE, e.g. a `git worktree` of an older commit, built with
# `npm run build`), C = this tree with --isolate (one process per case). CPU is user + system of
# the process and every child it waited for (GNU time); peak MiB is the largest single process.
#
#   bench/compare-paired.sh ROUNDS [compare arguments...]
#   BASE=/tmp/cmp-base bench/compare-paired.sh 7 --preset page_fault3-regression -- 16M 2
#
# Needs GNU time (Debian package 'time').
set -euo pipefail
ROUNDS=${1:?rounds}
shift
HERE=$(cd "$(dirname "$0")/.." && pwd)
A=$HERE/dist/src/cli/main.js
B=${BASE:?set BASE to the directory of the other build}/dist/src/cli/main.js
[ -x /usr/bin/time ] || { echo "compare-paired: /usr/bin/time is missing (Debian package 'time')" >&2; exit 2; }
OUT=$(mktemp)
cd "$HERE"
uptime
for arm in A B C; do node "${!arm:-$A}" compare --format json "$@" >/dev/null 2>&1 || true; done # warm-up
for _ in $(seq 1 "$ROUNDS"); do
  for arm in A B C; do
    cli=$A extra=()
    [ $arm = B ] && cli=$B
    [ $arm = C ] && extra=(--isolate)
    /usr/bin/time -f "$arm %x %e %U %S %M" -a -o "$OUT" node "$cli" compare --format json "${extra[@]}" "$@" >/dev/null 2>&1 || true
  done
done
uptime
node - "$OUT" <<'EOF'
const rows = require('node:fs').readFileSync(process.argv[2], 'utf8').split('\n').map((l) => l.split(' ')).filter((p) => p.length === 6 && 'ABC'.includes(p[0]));
const by = {};
for (const [arm, status, wall, user, sys, kb] of rows) (by[arm] ??= []).push({ status: +status, wall: +wall, cpu: +user + +sys, mib: +kb / 1024 });
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const line = (name, xs) => console.log(`${name.padEnd(14)} ${Math.min(...xs).toFixed(3).padStart(8)} ${med(xs).toFixed(3).padStart(8)} ${Math.max(...xs).toFixed(3).padStart(8)}`);
console.log(`${''.padEnd(14)} ${'min'.padStart(8)} ${'median'.padStart(8)} ${'max'.padStart(8)}   ${by.A.length} rounds; exit statuses ${[...new Set(rows.map((r) => r[1]))].join(',')}`);
for (const arm of ['A', 'B', 'C']) {
  line(`${arm} cpu s`, by[arm].map((r) => r.cpu));
  line(`${arm} wall s`, by[arm].map((r) => r.wall));
  line(`${arm} peak MiB`, by[arm].map((r) => r.mib));
}
for (const [a, b] of [['A', 'B'], ['C', 'B'], ['A', 'C']]) {
  line(`${a}/${b} cpu`, by[a].map((r, i) => r.cpu / by[b][i].cpu));
  line(`${a}/${b} wall`, by[a].map((r, i) => r.wall / by[b][i].wall));
}
EOF
rm -f "$OUT"
