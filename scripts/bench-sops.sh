#!/usr/bin/env bash
# Benchmark mcb's SOPS engine against the real Go sops in the same run (release build).
#   (a) decrypt one 1 MB YAML file            (b) decrypt 1,000 small Secret files
#   (c) encrypt the same (1 MB file; 1,000 files)
# mcb handles many files in ONE process (`mcb secrets decrypt f1 f2 …`); sops runs once per
# file, as it must. Peak memory is GNU time's max RSS; "delta" subtracts mcb's RSS on a tiny
# file, i.e. the part that grows with the input.
# Usage: bash scripts/bench-sops.sh [WORKDIR]   (needs target/tools/sops: scripts/install-test-deps.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d /tmp/mcb-bench.XXXXXX)}
sops=$root/target/tools/sops
mcb=${MCB:-$root/target/release/mcb}   # MCB=… to time another build (no cargo build then)
keys=$root/fixtures/sops-vectors/keys
recipient=age1e8n74a6a7gupww7ll0y7hj2v8v7qklt3mfhdvy6sr6a2upnmlpjq3ysh0u
[ -x "$sops" ] || { echo "missing $sops: run scripts/install-test-deps.sh" >&2; exit 2; }
[ -n "${MCB:-}" ] || (cd "$root" && cargo build --release --bin mcb --quiet)
export SOPS_AGE_KEY_FILE=$keys/age1.txt HOME=$work/home
mkdir -p "$work/small" "$work/home"
cd "$work"

PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$root/scripts/lib python3 - <<'PY'
import random
from bench_yaml import big_yaml, tok
random.seed(1)
open("big.yaml", "w").write(big_yaml())
for n in range(1000):
    open(f"small/s{n:04}.yaml", "w").write(
        "apiVersion: v1\nkind: Secret\nmetadata:\n    name: s%d\n    namespace: apps\ntype: Opaque\n"
        "stringData:\n    username: user%d\n    password: %s\n    token: %s\n" % (n, n, tok(24), tok(40)))
PY
printf 'tiny: x\n' > tiny.yaml
"$sops" encrypt --age $recipient big.yaml > big.sops.yaml
"$sops" encrypt --age $recipient tiny.yaml > tiny.sops.yaml
mkdir -p small-enc && cp small/*.yaml small-enc/
"$mcb" secrets encrypt -q -i --age $recipient small-enc/*.yaml

# best of N runs: "seconds maxrss_kb"
measure_n() {
    local n=$1 best="" line
    shift
    for _ in $(seq "$n"); do
        line=$( /usr/bin/time -f '%e %M' -o "$work/.t" "$@" > /dev/null 2>&1; cat "$work/.t" )
        if [ -z "$best" ] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN{exit !(a<b)}'; then best=$line; fi
    done
    echo "$best"
}
measure() { measure_n 3 "$@"; }
sops_each_decrypt() { for f in small-enc/*.yaml; do "$sops" decrypt "$f"; done; }
sops_each_encrypt() { for f in small/*.yaml; do "$sops" encrypt --age $recipient "$f"; done; }
export -f sops_each_decrypt sops_each_encrypt
export sops recipient

base=$(measure "$mcb" secrets decrypt tiny.sops.yaml)
a_m=$(measure "$mcb" secrets decrypt big.sops.yaml)
a_s=$(measure "$sops" decrypt big.sops.yaml)
ae_m=$(measure "$mcb" secrets -q encrypt --age $recipient big.yaml)
ae_s=$(measure "$sops" encrypt --age $recipient big.yaml)
b_m=$(measure "$mcb" secrets decrypt small-enc/*.yaml)
b_s=$(measure_n 1 bash -c sops_each_decrypt)
c_m=$(measure "$mcb" secrets -q encrypt --age $recipient small/*.yaml)
c_s=$(measure_n 1 bash -c sops_each_encrypt)

size=$(stat -c %s big.yaml)
row() { # name mcb sops
    awk -v n="$1" -v m="$2" -v s="$3" 'BEGIN{split(m,a," ");split(s,b," ");
        printf "%-34s mcb %7.3fs %7.1f MB | sops %7.3fs %7.1f MB | %6.1fx faster\n", n, a[1], a[2]/1024, b[1], b[2]/1024, (a[1]>0? b[1]/a[1] : 0)}'
}
echo "input: big.yaml $size bytes ($(grep -c '^svc' big.yaml) entries), 1000 Secret files; sops: $("$sops" --version --disable-version-check | head -1)"
row "(a) decrypt 1 MB YAML" "$a_m" "$a_s"
row "(a') encrypt 1 MB YAML" "$ae_m" "$ae_s"
row "(b) decrypt 1,000 Secrets" "$b_m" "$b_s"
row "(c) encrypt 1,000 Secrets" "$c_m" "$c_s"
enc_size=$(stat -c %s big.sops.yaml)
awk -v base="$base" -v a="$a_m" -v e="$ae_m" -v size="$size" -v esize="$enc_size" 'BEGIN{split(base,x," ");split(a,y," ");split(e,z," ");
    printf "peak RSS: tiny %.1f MB; decrypt of the 1 MB file (%.1f MB encrypted) %.1f MB, delta %.1f MB = %.1fx the encrypted file;\n",
      x[2]/1024, esize/1048576, y[2]/1024, (y[2]-x[2])/1024, (y[2]-x[2])*1024/esize;
    printf "          encrypt %.1f MB, delta %.1f MB = %.1fx the plain file\n", z[2]/1024, (z[2]-x[2])/1024, (z[2]-x[2])*1024/size}'
