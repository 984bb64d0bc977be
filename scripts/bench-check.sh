#!/usr/bin/env bash
# Benchmark `mcb check` at fleet scale (issue #20), release build, in one run:
#   (1) 100 installations made by `mcb init-installation`: the full `mcb check` (every default
#       rule, MACs verified with an admin key) against the script it replaces: the Go
#       `sops decrypt` on every SOPS file plus `kubectl kustomize` on every kustomization
#       root of every installation (target/tools/sops, target/tools/venv/bin/kubectl);
#   (2) 1,000 installations: wall time and peak RSS of the same check;
#   (3) `mcb check --changed-since REF` on the 100 with one installation changed since REF;
#   (4) `mcb secrets decrypt` of a 1 MB YAML file: peak RSS over a tiny file's, against the
#       encrypted file's size.
#
#   bash scripts/bench-check.sh [N] [BIG]        # defaults 100 1000; BIG=0 skips (2)
#   MCB=path/to/mcb bash scripts/bench-check.sh   # time another build (no cargo build)
#
# The repos are generated once and cached under target/bench-check/ (keyed by what shapes
# them: templates, versions, vendored Flux, the spec below), with every installation from
# the same spec under its own name and the admin key fixtures/sops-vectors/keys/age1.txt as
# a recipient. Generation runs `mcb init-installation --no-commit` per installation, in
# chunks of 100 in parallel repos, merged, then `mcb render` derives `.sops.yaml`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-100}
big=${2:-1000}
mcb=${MCB:-$root/target/release/mcb}
sops=$root/target/tools/sops
kubectl=$root/target/tools/venv/bin/kubectl
keys=$root/fixtures/sops-vectors/keys
admin_key=$keys/age1.txt
admin=age1e8n74a6a7gupww7ll0y7hj2v8v7qklt3mfhdvy6sr6a2upnmlpjq3ysh0u
for t in "$sops" "$kubectl"; do
  [ -x "$t" ] || { echo "missing $t: run bash scripts/install-test-deps.sh" >&2; exit 2; }
done
[ -n "${MCB:-}" ] || (cd "$root" && cargo build --release --bin mcb --quiet)
cache=$root/target/bench-check
work=$(mktemp -d /tmp/mcb-bench-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
export HOME=$work/home GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com \
  GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com \
  MCB_DEX_CONNECTOR_GITHUB_CLIENT_SECRET=bench-connector-secret
mkdir -p "$HOME" "$cache"

spec_template() {
  "$mcb" example-spec | sed "s/age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p/$admin/"
}
key=$( { spec_template; cd "$root" && git rev-parse HEAD:templates HEAD:versions.env HEAD:vendor/flux 2>/dev/null; echo gen-v1; } | sha256sum | cut -c1-12)

# Installations bench-<from>..bench-<to> into a fresh repo at $1 (no commit).
gen_chunk() {
  local dir=$1 from=$2 to=$3 i name
  mkdir -p "$dir/keys" && git init -q "$dir/repo"
  for i in $(seq "$from" "$to"); do
    name=$(printf 'bench-%04d' "$i")
    spec_template | sed "s/gauss/$name/g" > "$dir/spec.yaml"
    "$mcb" --repo "$dir/repo" init-installation "$name" --spec "$dir/spec.yaml" --no-commit \
      --age-key-out "$dir/keys/$name.agekey" -q > /dev/null
  done
}

# A committed repo of $1 installations, generated once and cached.
repo_of() {
  local count=$1 out=$cache/repo-$1-$key
  if [ ! -d "$out/.git" ]; then
    local t0=$SECONDS tmp=$cache/tmp-$1 c from to pids=()
    rm -rf "$tmp" && mkdir -p "$tmp/repo"
    for c in $(seq 0 $(( (count - 1) / 100 ))); do
      from=$(( c * 100 + 1 )); to=$(( from + 99 )); [ "$to" -gt "$count" ] && to=$count
      gen_chunk "$tmp/chunk-$c" "$from" "$to" & pids+=($!)
      # two chunks at a time (this machine has two cores)
      if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
    done
    for c in "${pids[@]}"; do wait "$c"; done
    git init -q "$tmp/repo"
    for c in "$tmp"/chunk-*; do cp -r "$c/repo/installations" "$tmp/repo/"; cp -rn "$c/repo/.github" "$tmp/repo/" 2>/dev/null || true; done
    cp "$tmp/chunk-0/repo/.sops.yaml" "$tmp/repo/.sops.yaml"
    "$mcb" --repo "$tmp/repo" render -q > /dev/null  # derives .sops.yaml for all of them
    git -C "$tmp/repo" add -A && git -C "$tmp/repo" commit -q -m "$count installations"
    rm -rf "$out" && mv "$tmp/repo" "$out" && rm -rf "$tmp"
    echo "generated $count installations in $(( SECONDS - t0 )) s (cached: $out)" >&2
  fi
  echo "$out"
}

# "seconds maxrss_kb" of one run of a command (its stdout to $work/out).
measure() {
  /usr/bin/time -f '%e %M' -o "$work/.t" "$@" > "$work/out" 2> "$work/err" || true
  cat "$work/.t" | tail -1
}
# the best of three (wall time; RSS of that run)
best3() {
  local best="" line
  for _ in 1 2 3; do
    line=$(measure "$@")
    if [ -z "$best" ] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN{exit !(a<b)}'; then best=$line; fi
  done
  echo "$best"
}
summary() { # the JSON report in $work/out
  python3 - "$work/out" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"  (no JSON report: {e})"); sys.exit(0)
rules = {}
for f in r["findings"]:
    rules[f["rule"]] = rules.get(f["rule"], 0) + 1
print(f"  {len(r['installations'])} installations, {r['files']} files, {r['sopsFiles']} SOPS, "
      f"macChecked={r['macChecked']}, {r['errors']} errors, {r['warnings']} warnings {rules or ''}")
for s in r.get("skipped", []):
    print(f"  skipped: {s[:150]}")
PY
}
check_cmd() { # repo, extra flags...
  local repo=$1; shift
  echo "$mcb" --repo "$repo" check --age-key-file "$admin_key" --kubectl "$kubectl" -o json "$@"
}

repo=$(repo_of "$n")
sops_files=$(cd "$repo" && git ls-files '*.sops.yaml' | grep -v '^\.sops\.yaml$' | wc -l)
roots=$(cd "$repo" && for d in installations/*/; do for k in manifests secrets bootstrap; do
  [ -f "$d$k/kustomization.yaml" ] && echo "$d$k"; done; done | wc -l)
echo "== (1) $n installations: $sops_files SOPS files, $roots kustomization roots"
m1=$(best3 $(check_cmd "$repo"))
summary
script_equivalent() {
  cd "$repo"
  git ls-files -z '*.sops.yaml' | while IFS= read -r -d '' f; do
    [ "$f" = .sops.yaml ] || SOPS_AGE_KEY_FILE=$admin_key "$sops" decrypt "$f" > /dev/null
  done
  for d in installations/*/; do for k in manifests secrets bootstrap; do
    [ -f "$d$k/kustomization.yaml" ] && "$kubectl" kustomize "$d$k" > /dev/null
  done; done
}
export -f script_equivalent
export repo sops kubectl admin_key
s1=$(measure bash -c script_equivalent)
awk -v m="$m1" -v s="$s1" 'BEGIN{split(m,a," ");split(s,b," ");
  printf "mcb check, all rules, MACs verified: %6.2f s wall, %6.1f MB peak RSS (best of 3)\n", a[1], a[2]/1024;
  printf "script (sops loop + kubectl kustomize): %6.2f s wall\n", b[1];
  printf "ratio: %.1fx   [target: < 2 s and >= 20x]\n", (a[1] > 0 ? b[1]/a[1] : 0)}'

echo "== (3) --changed-since with one installation changed ($n installations)"
changed=$work/changed
git clone -q "$repo" "$changed"
one=$(cd "$changed" && ls installations | sed -n 2p)
sed -i 's/^  replicas: 3$/  replicas: 5/' "$changed/installations/$one/installation.yaml"
"$mcb" --repo "$changed" render "$one" -q > /dev/null
git -C "$changed" commit -qam "change $one"
if "$mcb" check --help | grep -q -- --changed-since; then
  m3=$(best3 $(check_cmd "$changed" --changed-since HEAD~1))
  summary
  awk -v m="$m3" 'BEGIN{split(m,a," "); printf "mcb check --changed-since HEAD~1: %.2f s wall   [target: < 0.3 s]\n", a[1]}'
else
  echo "mcb check --changed-since: not implemented in this build"
fi

if [ "$big" -gt 0 ]; then
  echo "== (2) $big installations"
  repo_big=$(repo_of "$big")
  m2=$(measure $(check_cmd "$repo_big"))
  summary
  awk -v m="$m2" 'BEGIN{split(m,a," "); printf "mcb check, all rules, MACs verified: %.2f s wall, %.1f MB peak RSS   [target: < 15 s, < 500 MB]\n", a[1], a[2]/1024}'
fi

echo "== (4) SOPS decrypt of a 1 MB YAML file"
PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$root/scripts/lib python3 - "$work/big.yaml" <<'PY'
import random, sys
from bench_yaml import big_yaml
random.seed(1)
open(sys.argv[1], "w").write(big_yaml())
PY
printf 'tiny: x\n' > "$work/tiny.yaml"
"$sops" encrypt --age $admin "$work/big.yaml" > "$work/big.sops.yaml"
"$sops" encrypt --age $admin "$work/tiny.yaml" > "$work/tiny.sops.yaml"
export SOPS_AGE_KEY_FILE=$admin_key
tiny=$(best3 "$mcb" secrets decrypt "$work/tiny.sops.yaml")
bigd=$(best3 "$mcb" secrets decrypt "$work/big.sops.yaml")
"$sops" decrypt "$work/big.sops.yaml" > "$work/big.sops-out.yaml"
"$mcb" secrets decrypt "$work/big.sops.yaml" | cmp -s - "$work/big.sops-out.yaml" || echo "WARNING: mcb's output differs from sops'"
awk -v t="$tiny" -v b="$bigd" -v plain="$(stat -c %s "$work/big.yaml")" -v enc="$(stat -c %s "$work/big.sops.yaml")" 'BEGIN{
  split(t,x," "); split(b,y," ");
  printf "plain %.2f MB, encrypted %.2f MB; peak RSS: tiny file %.1f MB, 1 MB file %.1f MB (%.2f s)\n", plain/1048576, enc/1048576, x[2]/1024, y[2]/1024, y[1];
  printf "growth over the tiny file: %.1f MB = %.2fx the encrypted size   [target: <= 2x]\n", (y[2]-x[2])/1024, (y[2]-x[2])*1024/enc}'
