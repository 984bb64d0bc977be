#!/usr/bin/env bash
# Builds mcb and runs the main job on the embedded example spec, offline: a fresh local
# config repo in target/demo/config-repo gets a complete, encrypted installation on a branch.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --quiet --bin mcb
mcb=$root/target/debug/mcb
demo=$root/target/demo
rm -rf "$demo"; mkdir -p "$demo"
git init -q -b main "$demo/config-repo"
git -C "$demo/config-repo" -c user.name=demo -c user.email=demo@example.invalid commit -q --allow-empty -m "empty config repo"
export GIT_AUTHOR_NAME=${GIT_AUTHOR_NAME:-mcb demo} GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL:-demo@example.invalid}
export GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
"$mcb" --repo "$demo/config-repo" init-installation demo --example --age-key-out "$demo/demo.agekey"
echo
echo "config repo: $demo/config-repo (branch $(git -C "$demo/config-repo" branch --show-current))"
git -C "$demo/config-repo" log --stat --oneline -1 | head -40
echo
"$mcb" --repo "$demo/config-repo" bootstrap demo --age-key-file "$demo/demo.agekey" > "$demo/bootstrap.yaml"
echo "bootstrap manifests: $demo/bootstrap.yaml"
