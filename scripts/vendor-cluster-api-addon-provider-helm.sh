#!/usr/bin/env bash
# Vendors the Cluster API Add-on Provider Helm CRDs (every served version): HelmChartProxy
# (the CNI and cloud controller managers mcb renders) and HelmReleaseProxy, at CAAPH from
# versions.env, from config/crd/bases of kubernetes-sigs/cluster-api-addon-provider-helm.
# Recipe and provenance: scripts/lib/vendor.sh.
source "$(dirname "$0")/lib/vendor.sh"
vendor_begin cluster-api-addon-provider-helm kubernetes-sigs/cluster-api-addon-provider-helm "$(pinned CAAPH)"
for f in \
  config/crd/bases/addons.cluster.x-k8s.io_helmchartproxies.yaml \
  config/crd/bases/addons.cluster.x-k8s.io_helmreleaseproxies.yaml \
; do
  vendor_file "$f"
done
vendor_end
