#!/usr/bin/env bash
# Installs libfl's build dependencies from Debian 12 packages.  Does nothing
# when they are all present already; uses sudo when not run as root.
set -euo pipefail
PKGS=(build-essential cmake pkg-config clang libzmq3-dev libczmq-dev libsodium-dev
      libmsgpack-dev libopenblas-dev python3 help2man
      python3-onnx python3-numpy
      python3-sklearn
      gnuplot-nox)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all build dependencies present"
    exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
