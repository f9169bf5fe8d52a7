#!/usr/bin/env bash
# Configures and builds one configuration. Usage: scripts/build.sh [release|asan] (default release).
#   release → build/       (-O3, native CPU flags; pass SSL_NATIVE=OFF in the environment for portable binaries)
#   asan    → build-asan/  (AddressSanitizer + UndefinedBehaviorSanitizer, -O2 so that the training tests stay quick)
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
jobs=$(nproc)
case "$kind" in
  release)
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSSL_NATIVE="${SSL_NATIVE:-ON}" -DSSL_CUDA="${SSL_CUDA:-AUTO}"
    cmake --build build -j"$jobs"
    ;;
  asan)
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g" \
      -DSSL_SANITIZE=ON -DSSL_CUDA=OFF
    cmake --build build-asan -j"$jobs"
    ;;
  *)
    echo "usage: scripts/build.sh [release|asan]" >&2
    exit 2
    ;;
esac
