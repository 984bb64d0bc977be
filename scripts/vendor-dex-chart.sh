#!/usr/bin/env bash
# Vendors Dex's upstream Helm chart `dex` at DEX_CHART from versions.env into
# vendor/dex-chart/dex-<version>/: what Helm renders of `charts/dex` of dexidp/helm-charts
# at the tag chart-releaser made for it (dex-<version>; the source of the package
# https://charts.dexidp.io serves, which Flux installs: templates/manifests/apps/dex/
# release.yaml): Chart.yaml (version, appVersion = the image), values.yaml (the values the
# chart has), templates/, and its LICENSE; not its README or chart-testing values (ci/).
# mcb does not install from these files; the tests render them with Helm's own engine and
# mcb's values (tests/it/dex.rs).
# Recipe and provenance: scripts/lib/vendor.sh.
source "$(dirname "$0")/lib/vendor.sh"
vendor_begin dex-chart dexidp/helm-charts "dex-$(pinned DEX_CHART)"
vendor_tree charts/dex Chart.yaml values.yaml LICENSE templates
vendor_end
