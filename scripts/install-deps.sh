#!/usr/bin/env bash
# Installs the system packages this project builds with (Debian/Ubuntu), skipping those already present.
# Runs apt-get as root, or through sudo otherwise. The CUDA toolkit is optional and not installed here.
set -euo pipefail

packages=(build-essential cmake ninja-build libeigen3-dev doctest-dev libstb-dev libcli11-dev nlohmann-json3-dev)

# CMakeLists.txt needs CMake 3.25 or later: Debian 12 and Ubuntu 24.04 ship it, older releases do not.
check_cmake() {
  local have
  have=$(cmake --version | awk 'NR == 1 {print $3}')
  if [ "$(printf '%s\n' 3.25 "$have" | sort -V | head -n 1)" != 3.25 ]; then
    echo "install-deps: the build needs CMake 3.25 or later, and this system's is $have (Debian 12 and" \
      "Ubuntu 24.04 ship one; elsewhere install it from cmake.org or with pip)" >&2
    exit 1
  fi
}

missing=()
for p in "${packages[@]}"; do
  # Installed, not only known to dpkg: a package removed but not purged keeps a status too.
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present (${packages[*]})"
  check_cmake
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
check_cmake
echo "install-deps: done"
