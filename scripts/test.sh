#!/usr/bin/env bash
# The whole test run: install the real components, check formatting and lints, run every
# test. This is what CI runs (.ci/run) and what the README's second command is.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start=$(date +%s)
bash scripts/install-test-deps.sh
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== msrv"
bash scripts/check-msrv.sh
echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  # nextest runs no doctests; mcb has none (examples live in --help and tests/).
  cargo nextest run --workspace --no-fail-fast --failure-output final
else
  cargo test --workspace --no-fail-fast
fi
echo "== total $(( $(date +%s) - start )) s"
