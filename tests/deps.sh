#!/usr/bin/env bash
# Installs every Debian package the build and the test suites need.
# Idempotent: when all packages are present it returns in well under a second.
set -eu
PKGS="gcc make pkg-config clang libclang-rt-14-dev llvm
 libpcap-dev libssl-dev libcurl4-openssl-dev libreadline-dev zlib1g-dev
 opentracker transmission-cli transmission-daemon aria2 python3-libtorrent
 mktorrent tshark tcpdump iproute2 ethtool openssl socat procps"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && { echo "deps: all installed"; exit 0; }
echo "deps: installing:$missing"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing
