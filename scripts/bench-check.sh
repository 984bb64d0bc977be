#!/usr/bin/env bash
# Benchmark: `mcb check` with MAC checks over N installations x 20 SOPS files, against a
# shell loop running the Go `sops decrypt` on each file (what a CI job would do without mcb).
#
#   bash scripts/bench-check.sh [MCB_BINARY] [N_INSTALLATIONS]
#   MCB_ONLY=1 bash scripts/bench-check.sh ...    # time mcb only
#
# The repo is built from fixtures/check/clean/: each installation is a copy of `demo` with
# its own name, and 17 more copies of its dex-clients secret (20 SOPS files each). kustomize
# and render drift are skipped: they measure kubectl and the renderer, not SOPS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mcb=${1:-$root/target/debug/mcb}
n=${2:-100}
sops=$root/target/tools/sops
key=$root/fixtures/sops-vectors/keys/age1.txt
[ -x "$sops" ] || { echo "missing $sops: run bash scripts/install-test-deps.sh" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
repo=$work/repo
mkdir -p "$repo/installations"
sed 's|\^installations/demo/|^installations/[^/]+/|' "$root/fixtures/check/clean/.sops.yaml" > "$repo/.sops.yaml"
for i in $(seq -w 1 "$n"); do
  d=$repo/installations/demo-$i
  cp -r "$root/fixtures/check/clean/installations/demo" "$d"
  sed -i "s/^name: demo$/name: demo-$i/" "$d/installation.yaml"
  for j in $(seq -w 1 17); do cp "$d/secrets/dex-clients.sops.yaml" "$d/secrets/extra-$j.sops.yaml"; done
done
files=$(find "$repo" -name '*.sops.yaml' -not -name .sops.yaml | wc -l)
echo "repo: $n installations, $files SOPS files"

export SOPS_AGE_KEY_FILE=$key HOME=$work
t0=$(date +%s.%N)
"$mcb" --repo "$repo" check --age-key-file "$key" --skip kustomize-build --skip render-drift -o json > "$work/report.json"
t1=$(date +%s.%N)
python3 - "$work/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["macChecked"] and r["sopsFiles"] > 0, r
print(f"mcb check: {r['sopsFiles']} SOPS files, {r['errors']} errors, {r['warnings']} warnings")
PY
[ -n "${MCB_ONLY:-}" ] && { python3 -c "import sys; print(f'mcb check: {float(sys.argv[2])-float(sys.argv[1]):.2f} s')" "$t0" "$t1"; exit 0; }
t2=$(date +%s.%N)
find "$repo" -name '*.sops.yaml' -not -name .sops.yaml -print0 |
  while IFS= read -r -d '' f; do "$sops" decrypt "$f" > /dev/null; done
t3=$(date +%s.%N)
python3 - "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:])
m, s = t1 - t0, t3 - t2
print(f"mcb check (MACs verified): {m:.2f} s")
print(f"sops decrypt loop:         {s:.2f} s")
print(f"ratio:                     {s / m:.1f}x")
PY
