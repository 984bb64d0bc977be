#!/usr/bin/env bash
# Vendors the Cluster API Operator's provider CRDs (CoreProvider, BootstrapProvider,
# ControlPlaneProvider, InfrastructureProvider, AddonProvider) at CAPI_OPERATOR from
# versions.env into vendor/cluster-api-operator/<tag>/, from `config/crd/bases` of
# kubernetes-sigs/cluster-api-operator (what its Helm chart installs).
# Recipe and provenance: scripts/lib/vendor.sh.
source "$(dirname "$0")/lib/vendor.sh"
vendor_begin cluster-api-operator kubernetes-sigs/cluster-api-operator "$(pinned CAPI_OPERATOR)"
for kind in coreproviders bootstrapproviders controlplaneproviders infrastructureproviders addonproviders; do
  vendor_file "config/crd/bases/operator.cluster.x-k8s.io_$kind.yaml"
done
vendor_end
