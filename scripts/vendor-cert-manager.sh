#!/usr/bin/env bash
# Vendors cert-manager's CRDs (Certificate, CertificateRequest, Issuer, ClusterIssuer,
# Order, Challenge) at CERT_MANAGER from versions.env into vendor/cert-manager/<tag>/, from
# `deploy/crds` of cert-manager/cert-manager: the plain CRDs (the Helm chart's copies are
# templates).
# Recipe and provenance: scripts/lib/vendor.sh.
source "$(dirname "$0")/lib/vendor.sh"
vendor_begin cert-manager cert-manager/cert-manager "$(pinned CERT_MANAGER)"
for f in cert-manager.io_certificates cert-manager.io_certificaterequests \
  cert-manager.io_issuers cert-manager.io_clusterissuers \
  acme.cert-manager.io_orders acme.cert-manager.io_challenges; do
  vendor_file "deploy/crds/$f.yaml"
done
vendor_end
