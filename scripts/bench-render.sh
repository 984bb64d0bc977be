#!/usr/bin/env bash
# Benchmark: `mcb render --check` over a repo of N installations (default 100), compared
# per installation with `kubectl kustomize` building the same rendered tree.
# Usage: scripts/bench-render.sh [N] [MCB_BINARY]
set -euo pipefail
N=${1:-100}
MCB=${2:-$(dirname "$0")/../target/debug/mcb}
KUBECTL=$(dirname "$0")/../target/tools/venv/bin/kubectl
REPO=$(mktemp -d)
trap 'rm -rf "$REPO"' EXIT
for i in $(seq -w 1 "$N"); do
  name="mc$i"
  mkdir -p "$REPO/installations/$name"
  "$MCB" example-spec | sed -e "s/^name: gauss/name: $name/" -e "s/gauss/$name/g" \
    > "$REPO/installations/$name/installation.yaml"
done
"$MCB" --repo "$REPO" -q render >/dev/null
t0=$(date +%s.%N)
"$MCB" --repo "$REPO" -q render --check >/dev/null
t1=$(date +%s.%N)
for d in "$REPO"/installations/*/; do
  for k in $(find "$d" -name kustomization.yaml); do
    "$KUBECTL" kustomize "$(dirname "$k")" >/dev/null
  done
done
t2=$(date +%s.%N)
python3 - "$N" "$t0" "$t1" "$t2" <<'PY'
import sys
n, t0, t1, t2 = int(sys.argv[1]), *map(float, sys.argv[2:])
m, k = t1 - t0, t2 - t1
print(f"installations: {n}")
print(f"mcb render --check: {m:.2f} s total, {1000*m/n:.1f} ms per installation")
print(f"kubectl kustomize (every dir): {k:.2f} s total, {1000*k/n:.1f} ms per installation")
print(f"ratio mcb/kustomize: {m/k:.3f}")
PY
