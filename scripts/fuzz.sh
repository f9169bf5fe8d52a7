#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz in build-fuzz/ (Clang, ASan + UBSan) and runs each for a while
# from a copy of its seed corpus. Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] (default 20). Fails when a
# target finds a crash, a sanitizer report or an unexpected exception; the input that caused it is left in
# build-fuzz/fuzz-run/<target>/ as crash-* (or leak-*, timeout-*, oom-*).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}

if ! command -v clang++ >/dev/null 2>&1 || ! command -v clang >/dev/null 2>&1; then
  echo "fuzz: skipped: clang++ not found"
  exit 0
fi

# -g1: line tables, all a crash report needs. A unity build, as the sanitizer build (scripts/build.sh).
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DSSL_FUZZ=ON -DSSL_CUDA=OFF -DSSL_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_UNITY_BUILD=ON
cmake --build build-fuzz -j2 --target ssl_fuzz

# LeakSanitizer needs ptrace, which some containers forbid; leaks are then not checked, the rest is.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# target and the longest input it is given
targets=("cifar10 16384" "stl10 65536" "image_decode 16384" "safetensors 4096")

# Runs one target from a fresh copy of its seeds; its exit status is left in build-fuzz/fuzz-run/<target>/status.
run_target() {
  local name=$1 max_len=$2 run=build-fuzz/fuzz-run/$1 status=0
  build-fuzz/bin/fuzz_"$name" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len="$max_len" \
    -print_final_stats=1 -artifact_prefix="$run/" "$run/corpus" >"$run/log.txt" 2>&1 || status=$?
  echo "$status" >"$run/status"
}

# Each target is one process on one core: as many run side by side as there are cores, each for its full time.
jobs=$(nproc)
pids=()
for entry in "${targets[@]}"; do
  read -r name max_len <<<"$entry"
  run=build-fuzz/fuzz-run/$name
  rm -rf "$run"
  mkdir -p "$run/corpus"
  cp tests/fuzz/corpus/"$name"/* "$run/corpus/"  # the committed seeds are never written to
  echo "fuzz: $name for ${seconds}s (max_len $max_len)"
  run_target "$name" "$max_len" &
  pids+=($!)
  if [[ ${#pids[@]} -ge $jobs ]]; then
    wait "${pids[@]}"
    pids=()
  fi
done
wait "${pids[@]}"

failed=()
summary=()
for entry in "${targets[@]}"; do
  read -r name max_len <<<"$entry"
  run=build-fuzz/fuzz-run/$name
  status=$(cat "$run/status")
  last=$(grep -E '^#[0-9]+' "$run/log.txt" | tail -n 1 || true)
  rate=$(grep -E '^stat::average_exec_per_sec' "$run/log.txt" | awk '{print $2}' || true)
  if [[ $status -ne 0 ]]; then
    tail -n 60 "$run/log.txt"
    echo "fuzz: $name FAILED (exit $status); see $run/log.txt and $run/crash-*" >&2
    failed+=("$name")
    summary+=("$name: FAILED")
  else
    summary+=("$name: ok, ${rate:-?} execs/s, last: ${last:-?}")
  fi
done

echo "fuzz: summary (${seconds}s per target)"
printf '  %s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran without a finding"
