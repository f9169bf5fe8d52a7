#!/usr/bin/env bash
# Builds the release and the sanitizer configurations, runs every test in the first and the unit suites in
# the second, then fuzzes the file parsers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release
(cd build && ctest --output-on-failure)
scripts/build.sh asan
# LeakSanitizer needs ptrace, which some containers forbid; leaks are then not checked, the rest is.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
# The end-to-end training suite (label e2e) runs in the release build only, to keep CI short: its minute of
# training takes several times as long under the sanitizers. The GPU suite (label gpu) needs the CUDA build,
# which the sanitizer configuration leaves out; the checks of the ssl program's flags (label cli) need the
# program, which it does not build. Every other suite runs in both.
echo "sanitizer build: every suite except the end-to-end training one (label e2e), the GPU one and the CLI checks"
# A suite per core: under the sanitizers much of a test's time is single-threaded, so the other cores would idle
# (the release build's tests keep both cores busy on their own and run one at a time). Passive OpenMP threads
# sleep at once when they wait, instead of spinning on a core the other suite needs.
(cd build-asan && OMP_WAIT_POLICY=passive ctest --output-on-failure -j"$(nproc)" -LE "e2e|gpu|cli")
# Fuzzes every file parser for 20 s each under ASan/UBSan (Clang builds only; skipped when clang++ is absent).
scripts/fuzz.sh 20
