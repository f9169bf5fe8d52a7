#!/usr/bin/env bash
# Installs the system packages this project builds with (Debian/Ubuntu), skipping those already present.
# Runs apt-get as root, or through sudo otherwise. The CUDA toolkit is optional and not installed here.
set -euo pipefail

packages=(build-essential cmake ninja-build libeigen3-dev doctest-dev libstb-dev libcli11-dev nlohmann-json3-dev)

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present (${packages[*]})"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
echo "install-deps: installing with apt-get: ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
# Through env, since sudo drops the caller's environment.
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
