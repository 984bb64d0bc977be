#!/usr/bin/env bash
# Vendors the upstream Flux install for one release: exactly what `flux install --export`
# emits for VERSION with the default components (source, kustomize, helm, notification),
# built offline from the upstream sources at their release tags.
#
#   scripts/vendor-flux.sh VERSION            # e.g. v2.9.0
#
# Inputs are bare git directories of the upstream repositories (FLUX_MIRROR/<owner>+<repo>/repo,
# default /work/.mirror, as the `fetch` tool leaves them; or set FLUX2_GIT and
# <CONTROLLER>_GIT, e.g. SOURCE_CONTROLLER_GIT, to any bare or non-bare git dir).
# kubectl (its built-in kustomize) comes from target/tools/venv/bin/kubectl or KUBECTL.
#
# The recipe, as upstream does it (read at the tags named in SOURCE):
#  1. Each controller's release assets `<controller>.crds.yaml` and
#     `<controller>.deployment.yaml` are `kustomize build config/crd` and
#     `kustomize build config/manager` of the controller repository at its tag
#     (fluxcd/gha-workflows controller-release.yaml).
#  2. flux2's `manifests/bases/<controller>/kustomization.yaml` at VERSION names that tag in
#     the asset URLs; the base adds account.yaml, labels and patch.yaml. flux2's
#     `manifests/scripts/bundle.sh` builds every base, `manifests/rbac` (rbac.yaml) and
#     `manifests/policies` (policies.yaml) into the release's manifests.tar.gz. Here the
#     URLs are replaced by the locally built assets, nothing else changes.
#  3. `flux install --export` (pkg/manifestgen/install: manifests.go `generate`, templates.go)
#     writes namespace.yaml, labels.yaml, node-selector.yaml, roles/ and a kustomization.yaml
#     over those files, builds it and prepends the generation warning. The kustomization
#     below is templates.go's `kustomizationTmpl` with flux's default options (namespace
#     flux-system, watch-all-namespaces, log-level info, cluster domain cluster.local,
#     network policies on, registry ghcr.io/fluxcd); the script refuses a flux2 tag whose
#     templates.go differs from the one this was written from (TEMPLATES_BLOB).
#
# Output: vendor/flux/VERSION/{gotk-components.yaml,SOURCE} (under OUT_ROOT, default the repo), and this version's lines in
# vendor/checksums.sha256 (other lines are kept). tests/it/vendor.rs checks both.
set -euo pipefail

VERSION=${1:?usage: scripts/vendor-flux.sh VERSION (a fluxcd/flux2 tag, e.g. v2.9.0)}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MIRROR=${FLUX_MIRROR:-/work/.mirror}
KUBECTL=${KUBECTL:-$ROOT/target/tools/venv/bin/kubectl}
# Where vendor/ is written (tests rebuild into a temp dir and compare).
OUT_ROOT=${OUT_ROOT:-$ROOT}
COMPONENTS=(source-controller kustomize-controller helm-controller notification-controller)
# git blob ids of flux2 pkg/manifestgen/install/templates.go the kustomization below follows:
# TEMPLATES_BLOB from v2.7.2 (read at v2.7.2 to v2.9.0), TEMPLATES_BLOB_OLD before v2.7.0
# (read at v2.4.0 to v2.6.4). For the default components they differ only in the labels
# transformer, marked (1) below.
TEMPLATES_BLOB=4971bb6117b10318fb1e501e47c4a80d4cd9feb7
TEMPLATES_BLOB_OLD=85af02b78c14749dfda78324c835d33d4b5bf1aa
NAMESPACE=flux-system
REGISTRY=ghcr.io/fluxcd

die() { echo "vendor-flux: $*" >&2; exit 1; }
gitdir() { # gitdir REPO -> the git dir of fluxcd/REPO
  local var
  var=$(echo "$1" | tr 'a-z-' 'A-Z_')_GIT
  local d=${!var:-$MIRROR/fluxcd+$1/repo}
  [ -d "$d" ] || die "no git dir for fluxcd/$1 at $d (fetch it, or set $var)"
  echo "$d"
}
[ -x "$KUBECTL" ] || die "kubectl not found at $KUBECTL (bash scripts/install-test-deps.sh, or set KUBECTL)"

FLUX2=$(gitdir flux2)
git --git-dir="$FLUX2" rev-parse -q --verify "refs/tags/$VERSION" >/dev/null ||
  die "fluxcd/flux2 has no tag $VERSION"
blob=$(git --git-dir="$FLUX2" rev-parse "$VERSION:pkg/manifestgen/install/templates.go")
[ "$blob" = "$TEMPLATES_BLOB" ] || [ "$blob" = "$TEMPLATES_BLOB_OLD" ] ||
  die "flux2 $VERSION changed pkg/manifestgen/install/templates.go ($blob); review the install kustomization in this script"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/flux2" "$WORK/install/roles"
git --git-dir="$FLUX2" archive "$VERSION" manifests | tar -x -C "$WORK/flux2"
build() { "$KUBECTL" kustomize "$1" >"$2"; }

out_rel=vendor/flux/$VERSION
out=$OUT_ROOT/$out_rel
source_lines=()
source_lines+=("fluxcd/flux2 $VERSION $(git --git-dir="$FLUX2" rev-parse "$VERSION^{commit}") manifests/bases manifests/rbac manifests/policies pkg/manifestgen/install/templates.go pkg/manifestgen/install/manifests.go")

for c in "${COMPONENTS[@]}"; do
  base=$WORK/flux2/manifests/bases/$c
  # The controller tag is the one flux2's base pulls its release assets from.
  urls=$(grep -o "https://github.com/fluxcd/$c/releases/download/[^ ]*" "$base/kustomization.yaml")
  tag=$(echo "$urls" | head -1 | sed "s#.*/releases/download/\([^/]*\)/.*#\1#")
  [ -n "$tag" ] || die "no release asset URL in flux2 $VERSION manifests/bases/$c/kustomization.yaml"
  dir=$(gitdir "$c")
  git --git-dir="$dir" rev-parse -q --verify "refs/tags/$tag" >/dev/null ||
    die "fluxcd/$c has no tag $tag (named by flux2 $VERSION); fetch a newer snapshot or pick an older Flux"
  mkdir -p "$WORK/$c"
  git --git-dir="$dir" archive "$tag" config | tar -x -C "$WORK/$c"
  build "$WORK/$c/config/crd" "$base/$c.crds.yaml"
  build "$WORK/$c/config/manager" "$base/$c.deployment.yaml"
  sed -i "s#https://github.com/fluxcd/$c/releases/download/$tag/##" "$base/kustomization.yaml"
  grep -q "https://" "$base/kustomization.yaml" && die "flux2 $VERSION base $c has another remote resource"
  build "$base" "$WORK/install/$c.yaml"
  source_lines+=("fluxcd/$c $tag $(git --git-dir="$dir" rev-parse "$tag^{commit}") config/crd config/manager")
  for u in $urls; do source_lines+=("base $c $u"); done
  source_lines+=("image $c $REGISTRY/$c:$tag")
done
build "$WORK/flux2/manifests/rbac" "$WORK/install/roles/rbac.yaml"
build "$WORK/flux2/manifests/policies" "$WORK/install/policies.yaml"

# pkg/manifestgen/install/templates.go with the default options.
cat >"$WORK/install/namespace.yaml" <<EOF
---
apiVersion: v1
kind: Namespace
metadata:
  name: $NAMESPACE
  labels:
    pod-security.kubernetes.io/warn: restricted
    pod-security.kubernetes.io/warn-version: latest
EOF
cat >"$WORK/install/labels.yaml" <<EOF
---
apiVersion: builtin
kind: LabelTransformer
metadata:
  name: labels
labels:
  app.kubernetes.io/instance: $NAMESPACE
  app.kubernetes.io/version: "$VERSION"
  app.kubernetes.io/part-of: flux
fieldSpecs:
  - path: metadata/labels
    create: true
EOF
# (1) the pod template labels: only from TEMPLATES_BLOB on.
if [ "$blob" = "$TEMPLATES_BLOB" ]; then
  printf '  - kind: Deployment\n    path: spec/template/metadata/labels\n    create: true\n' >>"$WORK/install/labels.yaml"
fi
cat >"$WORK/install/node-selector.yaml" <<EOF
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: all
spec:
  template:
    spec:
      nodeSelector:
        kubernetes.io/os: linux
EOF
cat >"$WORK/install/roles/kustomization.yaml" <<EOF
---
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: $NAMESPACE
resources:
  - rbac.yaml
nameSuffix: -$NAMESPACE
EOF
# manifests.go `generate`: the events address names the namespace literally before v2.7.2,
# then $(RUNTIME_NAMESPACE); read which from manifests.go at the tag.
events="http://notification-controller.$NAMESPACE.svc.cluster.local./"
git --git-dir="$FLUX2" show "$VERSION:pkg/manifestgen/install/manifests.go" | grep -q 'http://%s.$(RUNTIME_NAMESPACE).svc' &&
  events="http://notification-controller.\$(RUNTIME_NAMESPACE).svc.cluster.local./"
{
  printf -- '---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: %s\n\n' "$NAMESPACE"
  printf 'transformers:\n  - labels.yaml\n\nresources:\n  - namespace.yaml\n  - policies.yaml\n  - roles\n'
  for c in "${COMPONENTS[@]}"; do printf '  - %s.yaml\n' "$c"; done
  printf '\npatches:\n- path: node-selector.yaml\n  target:\n    kind: Deployment\n'
  for c in "${COMPONENTS[@]}"; do
    printf -- '- target:\n    group: apps\n    version: v1\n    kind: Deployment\n    name: %s\n  patch: |-\n' "$c"
    case $c in
      notification-controller)
        printf '    - op: replace\n      path: /spec/template/spec/containers/0/args/0\n      value: --watch-all-namespaces=true\n'
        printf '    - op: replace\n      path: /spec/template/spec/containers/0/args/1\n      value: --log-level=info\n' ;;
      *)
        printf '    - op: replace\n      path: /spec/template/spec/containers/0/args/0\n      value: --events-addr=%s\n' "$events"
        printf '    - op: replace\n      path: /spec/template/spec/containers/0/args/1\n      value: --watch-all-namespaces=true\n'
        printf '    - op: replace\n      path: /spec/template/spec/containers/0/args/2\n      value: --log-level=info\n'
        if [ "$c" = source-controller ]; then
          printf '    - op: replace\n      path: /spec/template/spec/containers/0/args/6\n      value: --storage-adv-addr=%s.$(RUNTIME_NAMESPACE).svc.cluster.local.\n' "$c"
        fi ;;
    esac
  done
  printf 'images:\n'
  for c in "${COMPONENTS[@]}"; do printf '  - name: fluxcd/%s\n    newName: %s/%s\n' "$c" "$REGISTRY" "$c"; done
} >"$WORK/install/kustomization.yaml"

mkdir -p "$out"
components=$(IFS=,; echo "${COMPONENTS[*]}")
{
  # manifests.go Generate: "%s\n%s" of GetGenWarning and the build.
  printf -- '---\n# This manifest was generated by flux. DO NOT EDIT.\n# Flux Version: %s\n# Components: %s\n' "$VERSION" "$components"
  "$KUBECTL" kustomize "$WORK/install"
} >"$WORK/gotk-components.yaml"
mv "$WORK/gotk-components.yaml" "$out/gotk-components.yaml"

{
  echo "# Flux $VERSION as \`flux install --export\` emits it (components: $components),"
  echo "# built by scripts/vendor-flux.sh $VERSION with kubectl kustomize $("$KUBECTL" version --client | sed -n 's/Kustomize Version: //p')."
  echo "# Generated; do not edit. Lines: <repo> <tag> <commit> <paths read>; base <controller> <asset URL"
  echo "# in flux2's manifests/bases/<controller>/kustomization.yaml>; image <controller> <image>."
  printf '%s\n' "${source_lines[@]}"
} >"$out/SOURCE"

# This version's lines in the shared checksum file; other components' lines stay.
sums=$OUT_ROOT/vendor/checksums.sha256
touch "$sums"
{
  grep -v "  $out_rel/" "$sums" || true
  (cd "$OUT_ROOT" && sha256sum "$out_rel/gotk-components.yaml" "$out_rel/SOURCE")
} | LC_ALL=C sort -k2 >"$sums.tmp"
mv "$sums.tmp" "$sums"
echo "vendor-flux: wrote $out_rel ($(wc -c <"$out/gotk-components.yaml") bytes)" >&2
