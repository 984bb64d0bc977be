#!/usr/bin/env bash
# Vendors the Cluster API CRDs mcb's rendered objects are validated against (every served
# version, v1beta2 included), at CAPI from versions.env, into vendor/cluster-api/<tag>/:
# core (Cluster, MachineDeployment, MachineHealthCheck), kubeadm bootstrap
# (KubeadmConfigTemplate, KubeadmConfig), kubeadm control plane (KubeadmControlPlane) and
# the add-ons (ClusterResourceSet, ClusterResourceSetBinding), from the `config/crd/bases`
# directories of kubernetes-sigs/cluster-api: the CRDs its release assets are built from.
# Also metadata.yaml: the clusterctl release series and the Cluster API contract each
# declares, and internal/contract/version.go, which says which provider contracts this core
# accepts (tests/it/vendor.rs checks every provider against it; docs/providers.md).
# Recipe and provenance: scripts/lib/vendor.sh.
source "$(dirname "$0")/lib/vendor.sh"
vendor_begin cluster-api kubernetes-sigs/cluster-api "$(pinned CAPI)"
for f in \
  metadata.yaml \
  internal/contract/version.go \
  core/config/crd/bases/cluster.x-k8s.io_clusters.yaml \
  core/config/crd/bases/cluster.x-k8s.io_machinedeployments.yaml \
  core/config/crd/bases/cluster.x-k8s.io_machinehealthchecks.yaml \
  core/config/crd/bases/addons.cluster.x-k8s.io_clusterresourcesets.yaml \
  core/config/crd/bases/addons.cluster.x-k8s.io_clusterresourcesetbindings.yaml \
  bootstrap/kubeadm/config/crd/bases/bootstrap.cluster.x-k8s.io_kubeadmconfigs.yaml \
  bootstrap/kubeadm/config/crd/bases/bootstrap.cluster.x-k8s.io_kubeadmconfigtemplates.yaml \
  controlplane/kubeadm/config/crd/bases/controlplane.cluster.x-k8s.io_kubeadmcontrolplanes.yaml
do
  vendor_file "$f"
done
vendor_end
