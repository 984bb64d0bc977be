#!/usr/bin/env bash
# Times a full installation PKI (cluster/etcd/front-proxy CAs, the RSA service-account key,
# 5 client-cert kubeconfigs' certificates) made by mcb's pki module and by openssl in a shell
# script doing the same steps, for ECDSA P-256 and RSA-2048, and prints the ratio.
#   scripts/bench-pki.sh [N]            # N runs each (default 10); release build
#   PROFILE=dev scripts/bench-pki.sh    # debug build (crypto crates are opt-level 3 there)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}
profile=${PROFILE:-release}
flag=(--release); [ "$profile" = dev ] && flag=()
cargo build -q "${flag[@]}" --example bench_pki
bin=target/$([ "$profile" = dev ] && echo debug || echo release)/examples/bench_pki
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# One installation PKI with openssl; $1 = ec|rsa.
openssl_pki() {
  local d=$1/$RANDOM; mkdir -p "$d"
  local new=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1)
  [ "$2" = rsa ] && new=(-newkey rsa:2048)
  for ca in kubernetes etcd-ca front-proxy-ca; do
    openssl req -x509 "${new[@]}" -nodes -keyout "$d/$ca.key" -out "$d/$ca.crt" -days 3650 \
      -subj "/CN=$ca" -addext basicConstraints=critical,CA:TRUE \
      -addext keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign 2>/dev/null
  done
  openssl genrsa -traditional -out "$d/sa.key" 2048 2>/dev/null
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nauthorityKeyIdentifier=keyid\n' > "$d/ext"
  for u in admin user1 user2 user3 user4; do
    openssl req -new "${new[@]}" -nodes -keyout "$d/$u.key" -out "$d/$u.csr" \
      -subj "/O=kubeadm:cluster-admins/CN=$u" 2>/dev/null
    openssl x509 -req -in "$d/$u.csr" -CA "$d/kubernetes.crt" -CAkey "$d/kubernetes.key" \
      -set_serial "0x$(openssl rand -hex 16)" -days 365 -extfile "$d/ext" -out "$d/$u.crt" 2>/dev/null
  done
  rm -rf "$d"
}

for kt in ecdsa-p256 rsa2048; do
  mcb_line=$("$bin" "$kt" "$n")
  mcb_ms=$(echo "$mcb_line" | awk '{print $2}')
  start=$(date +%s.%N)
  for _ in $(seq "$n"); do openssl_pki "$work" "$([ "$kt" = rsa2048 ] && echo rsa || echo ec)"; done
  end=$(date +%s.%N)
  ossl_ms=$(echo "($end - $start) * 1000 / $n" | bc -l)
  printf '%-10s mcb %8.1f ms   openssl script %8.1f ms   openssl/mcb %.1fx   (%s, N=%s)\n' \
    "$kt" "$mcb_ms" "$ossl_ms" "$(echo "$ossl_ms / $mcb_ms" | bc -l)" "$profile" "$n"
done
