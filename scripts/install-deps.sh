#!/usr/bin/env bash
# Installs what chunkvault's build and tests need, from Debian 12's packages.
# Does nothing (and needs no network or root) when everything is present.
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ cmake make pkg-config
  # libraries (see README: "Dependencies")
  libssl-dev zlib1g-dev libzstd-dev libarchive-dev libcurl4-openssl-dev
  nlohmann-json3-dev libcli11-dev libpugixml-dev
  # chunkvaultd: password and token secret hashes (yescrypt)
  libcrypt-dev
  # paper keys: QR codes
  libqrencode-dev
  # chunkvaultd: TLS and HTTP/1.1 (Boost.Asio/Beast), HTTP/2 (nghttp2)
  libboost-dev libnghttp2-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev jq
  # the pxar tests' file systems: an XFS image (project ids), chattr
  xfsprogs e2fsprogs
  # protocol tests drive chunkvaultd with Python's HTTP/2 (h2)
  python3 python3-h2
  # the S3 server the tests start (scripts/s3-test-server.sh): Ceph RGW
  ceph-mon ceph-osd radosgw ceph-common curl
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
