#!/usr/bin/env bash
# Configures and builds one configuration. Usage: scripts/build.sh [release|asan] (default release).
#   release → build/       (-O3, native CPU flags; pass SSL_NATIVE=OFF in the environment for portable binaries)
#   asan    → build-asan/  (AddressSanitizer + UndefinedBehaviorSanitizer at -O1, the kernels at -O2 and Eigen's
#                           GEMM left uninstrumented so that the training tests stay quick (CMakeLists.txt); the
#                           test suites only, as a unity build)
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
    # -g1: line tables, all a sanitizer report needs, for a fraction of full debug information's build time.
    # Unity: the libraries too, a few files per translation unit (CMakeLists.txt). Ninja, when there is one, for
    # a new build directory: it schedules the compilations of all targets together, where make finishes one
    # target before the next: a quarter off this build on two cores.
    generator=()
    if [[ ! -f build-asan/CMakeCache.txt ]] && command -v ninja >/dev/null; then generator=(-G Ninja); fi
    cmake -S . -B build-asan "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DSSL_SANITIZE=ON -DSSL_CUDA=OFF -DCMAKE_UNITY_BUILD=ON
    # Only the suites scripts/test.sh runs under the sanitizers (not the CLI, the end-to-end or GPU suites):
    # on two cores this build is a quarter of CI's time.
    cmake --build build-asan -j"$jobs" --target test_kernels test_core test_data test_nn test_ssl \
      test_cuda_emulated
    ;;
  *)
    echo "usage: scripts/build.sh [release|asan]" >&2
    exit 2
    ;;
esac
