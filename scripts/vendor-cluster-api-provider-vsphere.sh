#!/usr/bin/env bash
# Vendors the CAPV CRDs of the kinds mcb renders or references (every served version):
# VSphereCluster, VSphereMachineTemplate, VSphereClusterIdentity, at CAPV from versions.env,
# from config/default/crd/bases of kubernetes-sigs/cluster-api-provider-vsphere.
# Recipe and provenance: scripts/lib/vendor.sh.
source "$(dirname "$0")/lib/vendor.sh"
vendor_begin cluster-api-provider-vsphere kubernetes-sigs/cluster-api-provider-vsphere "$(pinned CAPV)"
for f in \
  config/default/crd/bases/infrastructure.cluster.x-k8s.io_vsphereclusters.yaml \
  config/default/crd/bases/infrastructure.cluster.x-k8s.io_vspheremachinetemplates.yaml \
  config/default/crd/bases/infrastructure.cluster.x-k8s.io_vsphereclusteridentities.yaml \
; do
  vendor_file "$f"
done
vendor_end
