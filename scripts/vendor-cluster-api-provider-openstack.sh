#!/usr/bin/env bash
# Vendors the CAPO CRDs of the kinds mcb renders or references (every served version):
# OpenStackCluster, OpenStackMachineTemplate, OpenStackClusterIdentity, at CAPO from
# versions.env, from config/crd/bases of kubernetes-sigs/cluster-api-provider-openstack.
# Also metadata.yaml: the clusterctl release series and the Cluster API contract each
# declares (tests/it/vendor.rs checks it against the core's; docs/providers.md).
# Recipe and provenance: scripts/lib/vendor.sh.
source "$(dirname "$0")/lib/vendor.sh"
vendor_begin cluster-api-provider-openstack kubernetes-sigs/cluster-api-provider-openstack "$(pinned CAPO)"
for f in \
  metadata.yaml \
  config/crd/bases/infrastructure.cluster.x-k8s.io_openstackclusters.yaml \
  config/crd/bases/infrastructure.cluster.x-k8s.io_openstackmachinetemplates.yaml \
  config/crd/bases/infrastructure.cluster.x-k8s.io_openstackclusteridentities.yaml \
; do
  vendor_file "$f"
done
vendor_end
