#!/usr/bin/env bash
# Vendors the CAPVCD CRDs of the kinds mcb renders (every served version): VCDCluster,
# VCDMachineTemplate, at CAPVCD from versions.env, from config/crd/bases of
# vmware/cluster-api-provider-cloud-director.
# Recipe and provenance: scripts/lib/vendor.sh.
source "$(dirname "$0")/lib/vendor.sh"
vendor_begin cluster-api-provider-cloud-director vmware/cluster-api-provider-cloud-director "$(pinned CAPVCD)"
for f in \
  config/crd/bases/infrastructure.cluster.x-k8s.io_vcdclusters.yaml \
  config/crd/bases/infrastructure.cluster.x-k8s.io_vcdmachinetemplates.yaml \
; do
  vendor_file "$f"
done
vendor_end
