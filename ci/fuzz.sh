#!/usr/bin/env bash
# Runs one fuzz target for as long as asked (default 10 minutes), keeping the
# corpus it grows in build-fuzz/fuzz/<target>_new and any crash input in the
# current folder.
#   ci/fuzz.sh                 lists the targets
#   ci/fuzz.sh TARGET [SECONDS] [extra libFuzzer flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
ci/install-deps.sh >/dev/null
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DVSCSIM_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target vscsim_fuzzers
if [ $# -eq 0 ]; then
  echo "fuzz targets:"; ls build-fuzz/fuzz | grep -v '_new$'
  exit 0
fi
target=$1 seconds=${2:-600}
shift $(( $# >= 2 ? 2 : 1 ))
seeds=$(find . -path ./build-fuzz -prune -o -type d -name "${target}_corpus" -print | head -n 1)
exec "build-fuzz/fuzz/$target" -max_total_time="$seconds" -print_final_stats=1 "$@" \
  "build-fuzz/fuzz/${target}_new" ${seeds:+"$seeds"}
