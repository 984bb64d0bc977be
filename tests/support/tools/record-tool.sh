#!/usr/bin/env bash
# Recording stand-in for kind, kubectl and clusterctl (symlinked under those names) in tests
# that run documented command sequences (docs/recreate.md): no Kubernetes API server can run
# in the tests, so these tools only record how they were called.
#   - appends "<name> <args>" to $MCB_RECORD/calls.log;
#   - stdin given with `-f -` is saved to $MCB_RECORD/stdin-<n>.yaml, named in the line as
#     " <stdin:stdin-<n>.yaml>";
#   - `kind create cluster ... --kubeconfig F` writes a placeholder kubeconfig to F;
#   - `kubectl --kubeconfig F get nodes` prints a node table and keeps a copy of F as
#     $MCB_RECORD/get-nodes.kubeconfig (what a real API server would have been shown).
# Exits 0, like the real tools on success.
set -euo pipefail
name=$(basename "$0")
: "${MCB_RECORD:?MCB_RECORD must name the record directory}"
log=$MCB_RECORD/calls.log
line="$name $*"
n=0
[ -f "$log" ] && n=$(wc -l < "$log")
if [[ " $* " == *" -f - "* ]]; then
  f=stdin-$n.yaml
  cat > "$MCB_RECORD/$f"
  line="$line <stdin:$f>"
fi
echo "$line" >> "$log"
case "$name $*" in
  "kind create cluster "*)
    prev=
    for a in "$@"; do
      if [ "$prev" = --kubeconfig ]; then
        printf 'apiVersion: v1\nkind: Config\nclusters: []\n' > "$a"
      fi
      prev=$a
    done
    ;;
  "kubectl --kubeconfig "*" get nodes"*)
    cp "$2" "$MCB_RECORD/get-nodes.kubeconfig"
    printf 'NAME STATUS ROLES AGE VERSION\nnode-0 Ready control-plane 1m v1.33.4\n'
    ;;
esac
