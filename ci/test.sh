#!/usr/bin/env bash
# The test command: install what is missing, then build and test
#   build/       RelWithDebInfo: unit tests, then the debug guest kernel (built from
#                source once, cached), then the tests that boot a real guest (vm,
#                the debug-kernel ones among them)
#   build-asan/  ASan + UBSan: unit tests
#   build-tsan/  TSan: unit tests (the simulator's threads meet there)
#   build-fuzz/  clang + libFuzzer + ASan/UBSan: each fuzz target for a second
# and print one closing line "tests: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ci/install-deps.sh || exit 1
jobs=$(nproc)
passed=0 failed=0 broken=0

# run_ctest <build dir> <label>: runs the tests and adds their counts.
run_ctest() {
  local dir=$1 label=$2 out
  echo "=== ctest -L $label in $dir"
  out=$(ctest --test-dir "$dir" -L "$label" --output-on-failure -j"$jobs" --no-tests=error 2>&1)
  local rc=$?
  echo "$out"
  local line total bad
  line=$(echo "$out" | grep -E '[0-9]+ tests? failed out of [0-9]+' | tail -n 1)
  if [ -z "$line" ]; then
    echo "test: ctest -L $label in $dir printed no summary (rc=$rc)"
    broken=$((broken + 1))
    return
  fi
  bad=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
  total=$(echo "$line" | sed -E 's/.* failed out of ([0-9]+).*/\1/')
  passed=$((passed + total - bad))
  failed=$((failed + bad))
}

# build <dir> <target> [cmake args...]: configure and build; a failed build counts as broken.
build() {
  local dir=$1 target=$2; shift 2
  echo "=== building $target in $dir $*"
  if ! { cmake -S . -B "$dir" "$@" >/dev/null && cmake --build "$dir" -j"$jobs" --target "$target"; } >"$dir.log" 2>&1; then
    tail -n 60 "$dir.log"
    echo "test: the build in $dir failed (full log: $dir.log)"
    broken=$((broken + 1))
    return 1
  fi
}

mkdir -p build
if build build all; then
  run_ctest build unit
  # The debug and fast kernels take about ten minutes each the first time
  # (images/README.md); without them their tests fail saying so.
  build build debug_guest
  build build fast_guest
  run_ctest build vm
fi
if build build-asan all -DVSCSIM_SANITIZE=address,undefined; then
  run_ctest build-asan unit
fi
if build build-tsan all -DVSCSIM_SANITIZE=thread; then
  run_ctest build-tsan unit
fi
if CC=clang CXX=clang++ build build-fuzz vscsim_fuzzers -DVSCSIM_FUZZ=ON; then
  run_ctest build-fuzz fuzz
fi

[ "$broken" -eq 0 ] || echo "test: $broken build or test stage(s) broke before counting"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$broken" -eq 0 ]
