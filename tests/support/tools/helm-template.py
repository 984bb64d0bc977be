#!/usr/bin/env python3
"""Render a Helm chart offline with Helm's own template engine, like `helm template`.

Usage: helm-template.py CHART_DIR RELEASE NAMESPACE VALUES_JSON
  CHART_DIR:   an unpacked chart (Chart.yaml, values.yaml, templates/)
  VALUES_JSON: a file with the values (a JSON object), e.g. a Flux HelmRelease's spec.values
Prints every rendered manifest as one YAML stream, in template path order, each document
after a `# Source: <template>` line (as `helm template` does); NOTES.txt and templates that
render to nothing are left out. Exit 1 with Helm's message if the chart does not render.

The engine is Helm v4's Go SDK (helm.sh/helm/v4 pkg/chart, pkg/engine) in the native library
of the PyPI package helm-python-sdk (pinned in scripts/install-test-deps.sh); rendering
contacts no cluster (`lookup` returns nothing; .Capabilities are Helm's defaults).
"""
import json
import sys

import helm_python

chart_dir, release, namespace, values_file = sys.argv[1:5]
with open(values_file, encoding="utf-8") as f:
    values = json.load(f)
try:
    with helm_python.Chart.load(chart_dir) as chart:
        manifests = chart.render(
            values, name=release, namespace=namespace, is_install=True
        )
except helm_python.HelmError as e:  # every error of the SDK derives from it
    print(f"helm: {e}", file=sys.stderr)
    sys.exit(1)
out = []
for path in sorted(manifests):
    text = manifests[path]
    if path.endswith("NOTES.txt"):
        continue
    for doc in text.split("\n---"):
        if doc.strip():
            out.append(f"# Source: {path}\n{doc.strip(chr(10))}\n")
sys.stdout.write("---\n".join(out))
