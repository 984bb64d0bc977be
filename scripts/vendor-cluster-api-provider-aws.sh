#!/usr/bin/env bash
# Vendors the CAPA CRDs of the kinds mcb renders or references (every served version):
# AWSCluster, AWSMachineTemplate and the identities (static, role, controller), at CAPA from
# versions.env, from config/crd/bases of kubernetes-sigs/cluster-api-provider-aws.
# Recipe and provenance: scripts/lib/vendor.sh.
source "$(dirname "$0")/lib/vendor.sh"
vendor_begin cluster-api-provider-aws kubernetes-sigs/cluster-api-provider-aws "$(pinned CAPA)"
for f in \
  config/crd/bases/infrastructure.cluster.x-k8s.io_awsclusters.yaml \
  config/crd/bases/infrastructure.cluster.x-k8s.io_awsmachinetemplates.yaml \
  config/crd/bases/infrastructure.cluster.x-k8s.io_awsclusterstaticidentities.yaml \
  config/crd/bases/infrastructure.cluster.x-k8s.io_awsclusterroleidentities.yaml \
  config/crd/bases/infrastructure.cluster.x-k8s.io_awsclustercontrolleridentities.yaml \
; do
  vendor_file "$f"
done
vendor_end
