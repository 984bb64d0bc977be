#!/usr/bin/env bash
# Vendors the CAPO CRDs of the kinds mcb renders or references (every served version):
# OpenStackCluster, OpenStackMachineTemplate, OpenStackClusterIdentity, at CAPO from
# versions.env, from config/crd/bases of kubernetes-sigs/cluster-api-provider-openstack.
# Recipe and provenance: scripts/lib/vendor.sh.
source "$(dirname "$0")/lib/vendor.sh"
vendor_begin cluster-api-provider-openstack kubernetes-sigs/cluster-api-provider-openstack "$(pinned CAPO)"
for f in \
  config/crd/bases/infrastructure.cluster.x-k8s.io_openstackclusters.yaml \
  config/crd/bases/infrastructure.cluster.x-k8s.io_openstackmachinetemplates.yaml \
  config/crd/bases/infrastructure.cluster.x-k8s.io_openstackclusteridentities.yaml \
; do
  vendor_file "$f"
done
vendor_end
