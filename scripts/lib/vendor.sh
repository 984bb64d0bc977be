# Shared steps of the scripts/vendor-*.sh scripts (sourced, not run). Each vendor script
# copies files, unchanged, from ONE upstream Git repository at ONE tag into
# vendor/<component>/<tag>/, writes a SOURCE file with the provenance (repository, tag,
# commit, source path and sha256 of every file) and rewrites only its own lines of
# vendor/checksums.sha256 (sorted `sha256  path`), which a test verifies.
#
# Where the upstream repository comes from: $UPSTREAM_GIT_DIR (a bare clone or mirror that
# has the tag) if set, else a blobless bare clone of https://github.com/<repo> made in a
# temporary directory.

set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# The pinned version KEY from versions.env.
pinned() {
  local v
  v=$(sed -n "s/^$1=//p" "$root/versions.env")
  [ -n "$v" ] || { echo "versions.env has no $1" >&2; exit 2; }
  echo "$v"
}

# vendor_begin COMPONENT REPO TAG: sets $git (git command for the repo), $commit, $out.
vendor_begin() {
  component=$1 repo=$2 tag=$3
  if [ -n "${UPSTREAM_GIT_DIR:-}" ]; then
    git=(git --git-dir="$UPSTREAM_GIT_DIR")
  else
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    git clone -q --bare --filter=blob:none --depth 1 --branch "$tag" \
      "https://github.com/$repo" "$tmp/repo.git"
    git=(git --git-dir="$tmp/repo.git")
  fi
  commit=$("${git[@]}" rev-parse "$tag^{commit}")
  out=$root/vendor/$component/$tag
  rm -rf "$root/vendor/$component"
  mkdir -p "$out"
  {
    echo "component: $component"
    echo "repository: https://github.com/$repo"
    echo "tag: $tag"
    echo "commit: $commit"
    echo "recipe: scripts/vendor-$component.sh (files copied unchanged)"
    echo "files:"
  } > "$out/SOURCE"
}

# vendor_file PATH: copies PATH (in the repo at the tag) to $out/<basename>.
vendor_file() {
  local dst
  dst=$out/$(basename "$1")
  "${git[@]}" show "$commit:$1" > "$dst"
  echo "  - $1 sha256:$(sha256sum "$dst" | cut -d' ' -f1)" >> "$out/SOURCE"
}

# vendor_tree DIR PATH...: copies every file at or under DIR/PATH (in the repo at the tag)
# to $out/, keeping its path relative to DIR (a Helm chart's templates/ must stay where Helm
# looks for them).
vendor_tree() {
  local dir=$1 f rel
  shift
  while IFS= read -r f; do
    rel=${f#"$dir"/}
    mkdir -p "$out/$(dirname "$rel")"
    "${git[@]}" show "$commit:$f" > "$out/$rel"
    echo "  - $f sha256:$(sha256sum "$out/$rel" | cut -d' ' -f1)" >> "$out/SOURCE"
  done < <("${git[@]}" ls-tree -r --name-only "$commit" -- "${@/#/$dir/}" | LC_ALL=C sort)
}

# vendor_end: rewrites this component's lines of vendor/checksums.sha256.
vendor_end() {
  local sums=$root/vendor/checksums.sha256
  touch "$sums"
  {
    grep -v "  vendor/$component/" "$sums" || true
    (cd "$root" && find "vendor/$component" -type f | LC_ALL=C sort | xargs sha256sum)
  } | LC_ALL=C sort -k2 > "$sums.tmp"
  mv "$sums.tmp" "$sums"
  echo "vendored $component $tag ($commit) into ${out#$root/}" >&2
}
