#!/usr/bin/env bash
# Vendors the CAPZ CRDs of the kinds mcb renders (every served version): AzureCluster,
# AzureMachineTemplate, AzureClusterIdentity, at CAPZ from versions.env, from config/crd/bases
# of kubernetes-sigs/cluster-api-provider-azure.
# Recipe and provenance: scripts/lib/vendor.sh.
source "$(dirname "$0")/lib/vendor.sh"
vendor_begin cluster-api-provider-azure kubernetes-sigs/cluster-api-provider-azure "$(pinned CAPZ)"
for f in \
  config/crd/bases/infrastructure.cluster.x-k8s.io_azureclusters.yaml \
  config/crd/bases/infrastructure.cluster.x-k8s.io_azuremachinetemplates.yaml \
  config/crd/bases/infrastructure.cluster.x-k8s.io_azureclusteridentities.yaml \
; do
  vendor_file "$f"
done
vendor_end
