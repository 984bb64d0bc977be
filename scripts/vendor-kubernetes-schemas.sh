#!/usr/bin/env bash
# Vendors the schemas of the built-in Kubernetes kinds for ONE Kubernetes minor into
# vendor/kubernetes/<version>/, for mcb's strict schema validator (src/schema/).
#
# Recipe:
#   source   the `kubernetes-validate` package pinned in scripts/install-test-deps.sh (it
#            bundles JSON schemas generated from the Kubernetes OpenAPI documents, one
#            directory per minor); installed into target/tools/venv by that script.
#   input    kubernetes_validate/kubernetes-json-schema/v<minor>.0-local/_definitions.json
#            (the non-strict flavour: mcb decides strictness itself, see src/schema/).
#   output   vendor/kubernetes/v<minor>/kinds.json, one compact JSON document:
#            {"kinds": {"<group/version>/<Kind>": "<definition>"}, "$defs": {...}}
#            with every top-level kind (definitions carrying x-kubernetes-group-version-kind,
#            without *List kinds and meta/v1 envelope types) and exactly the definitions they
#            reference (transitively). Schema `description`s are dropped (size); nothing
#            else is changed. Keys sorted, so the output is byte-stable.
#   SOURCE   provenance: package, version, path, sha256 of the input file.
#   checksums  this script rewrites only the vendor/kubernetes/ lines of vendor/checksums.sha256.
#
# Usage: scripts/vendor-kubernetes-schemas.sh [MINOR]   (default 1.33, mcb's default cluster version)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
minor=${1:-1.33}
venv=$root/target/tools/venv
py=$venv/bin/python3
[ -x "$py" ] || { echo "missing $venv: run scripts/install-test-deps.sh" >&2; exit 2; }
pkg_version=$("$py" -c 'import importlib.metadata as m; print(m.version("kubernetes-validate"))')
pkg_dir=$("$py" -c 'import kubernetes_validate, os; print(os.path.dirname(kubernetes_validate.__file__))')
rel=kubernetes-json-schema/v$minor.0-local/_definitions.json
input=$pkg_dir/$rel
[ -f "$input" ] || { echo "kubernetes-validate $pkg_version has no schemas for $minor" >&2; exit 2; }
out_dir=$root/vendor/kubernetes/v$minor
mkdir -p "$out_dir"

"$py" - "$input" "$out_dir/kinds.json" <<'PY'
import json, sys
src, dst = sys.argv[1], sys.argv[2]
defs = json.load(open(src))["$defs"]

def strip(s):
    """Drops `description` from a schema and its subschemas (never from a `properties` map,
    where `description` can be a field name)."""
    if isinstance(s, list):
        return [strip(x) for x in s]
    if not isinstance(s, dict):
        return s
    out = {}
    for k, v in s.items():
        if k == "description":
            continue
        if k == "properties":
            out[k] = {name: strip(p) for name, p in v.items()}
        elif k in ("items", "additionalProperties", "not"):
            out[k] = strip(v)
        elif k in ("oneOf", "anyOf", "allOf"):
            out[k] = [strip(x) for x in v]
        else:
            out[k] = v
    return out

def refs(s, acc):
    if isinstance(s, dict):
        r = s.get("$ref")
        if isinstance(r, str):
            acc.add(r.rsplit("/", 1)[-1])
        for v in s.values():
            refs(v, acc)
    elif isinstance(s, list):
        for v in s:
            refs(v, acc)

kinds = {}
for name, d in defs.items():
    if name.startswith("io.k8s.apimachinery.pkg.apis.meta.v1."):
        continue
    for gvk in d.get("x-kubernetes-group-version-kind", []):
        if gvk["kind"].endswith("List"):
            continue
        api = (gvk["group"] + "/" if gvk["group"] else "") + gvk["version"]
        kinds[api + "/" + gvk["kind"]] = name

# ObjectMeta validates every object's metadata (CRDs included), so it is always kept.
keep, todo = set(), set(kinds.values()) | {"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
while todo:
    n = todo.pop()
    if n in keep:
        continue
    keep.add(n)
    acc = set()
    refs(defs[n], acc)
    todo |= acc - keep

doc = {"kinds": kinds, "$defs": {n: strip(defs[n]) for n in sorted(keep)}}
with open(dst, "w") as f:
    json.dump(doc, f, sort_keys=True, separators=(",", ":"))
    f.write("\n")
print(f"{len(kinds)} kinds, {len(keep)} definitions", file=sys.stderr)
PY

sha=$(sha256sum "$input" | cut -d' ' -f1)
cat > "$out_dir/SOURCE" <<SRC
component: kubernetes (built-in kind schemas)
kubernetes: v$minor
package: kubernetes-validate $pkg_version (PyPI, Apache-2.0; schemas generated from the Kubernetes OpenAPI documents)
repository: https://github.com/willthames/kubernetes-validate
source path: kubernetes_validate/$rel
source sha256: $sha
recipe: scripts/vendor-kubernetes-schemas.sh $minor
SRC

# Rewrite only our lines of the shared checksum file, sorted by path.
sums=$root/vendor/checksums.sha256
touch "$sums"
{
  grep -v '  vendor/kubernetes/' "$sums" || true
  (cd "$root" && find vendor/kubernetes -type f | LC_ALL=C sort | xargs sha256sum)
} | LC_ALL=C sort -k2 > "$sums.tmp"
mv "$sums.tmp" "$sums"
echo "vendored Kubernetes $minor schemas into ${out_dir#$root/}" >&2
