#!/usr/bin/env bash
# The declared MSRV (Cargo.toml `rust-version`) is true: not below any crate mcb builds
# (normal and build dependencies, read from `cargo metadata`), and, when that toolchain is
# installed (`rustup toolchain install <msrv>`), mcb builds with it. The first half runs
# everywhere (no network); the second where the toolchain exists, and says when it does not.
set -euo pipefail
cd "$(dirname "$0")/.."
declared=$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' Cargo.toml)
needed=$(cargo metadata --format-version 1 --locked 2>/dev/null | python3 -c '
import json, subprocess, sys
m = json.load(sys.stdin)
# What is really built for this target: the resolved graph without dev-only edges.
tree = subprocess.run(["cargo", "tree", "--locked", "-e", "normal,build", "--prefix", "none",
                       "--format", "{p}"], capture_output=True, text=True, check=True).stdout
built = {l.split()[0] for l in tree.splitlines() if l.strip()}
def ver(v): return tuple(int(x) for x in v.split("."))
best = ("0", "-")
for p in m["packages"]:
    rv = p.get("rust_version")
    # mcb and mcb-sops declare the MSRV under test: only dependencies set it
    if rv and p["source"] and p["name"] in built and ver(rv) > ver(best[0]):
        best = (rv, p["name"])
print(best[0], best[1])
')
need_ver=${needed% *}; need_pkg=${needed#* }
ver() { echo "$1" | awk -F. '{ printf "%d%03d%03d", $1, $2, $3 }'; }
if [ "$(ver "$declared")" -lt "$(ver "$need_ver")" ]; then
  echo "check-msrv: Cargo.toml says rust-version $declared, but $need_pkg needs $need_ver" >&2
  exit 1
fi
echo "check-msrv: rust-version $declared (highest dependency requirement: $need_pkg $need_ver)"
if rustup toolchain list 2>/dev/null | grep -q "^$declared"; then
  cargo "+$declared" check --workspace --locked --all-targets --quiet
  echo "check-msrv: builds with $declared"
else
  echo "check-msrv: toolchain $declared not installed; build with it not tried"
fi
