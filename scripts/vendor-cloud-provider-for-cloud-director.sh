#!/usr/bin/env bash
# Vendors Cloud Director's cloud controller manager (CPI) install manifest,
# manifests/cloud-director-ccm.yaml of vmware/cloud-provider-for-cloud-director at
# CAPVCD_CPI from versions.env: its ServiceAccount, RBAC and Deployment, the way upstream
# documents installing it (no Helm chart exists). mcb puts it, unchanged, into the
# ConfigMap a ClusterResourceSet applies to the cluster
# (templates/providers/cloud-director/ccm.yaml).
# Recipe and provenance: scripts/lib/vendor.sh.
source "$(dirname "$0")/lib/vendor.sh"
vendor_begin cloud-provider-for-cloud-director vmware/cloud-provider-for-cloud-director "$(pinned CAPVCD_CPI)"
vendor_file manifests/cloud-director-ccm.yaml
vendor_end
