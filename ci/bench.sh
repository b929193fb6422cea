#!/usr/bin/env bash
# The benchmarks, one command (docs/performance.md): installs what is
# missing, builds (the fast kernel too: about ten minutes the first time),
# then runs each benchmark, which prints its figures beside a baseline
# measured in the same run:
#   ring-bench             the VMBus ring against memcpy and a two-core handoff
#   vsc-bench boot         boot to agent ready, stock and fast kernels, median of 5
#   vsc-bench e2e          the driver against HTTP in one guest, vsp-sim's cost
#   vsc-harness run + vsc-bench suite-report
#                          the default suite's scenarios per minute (stock, fast)
# Everything is kept in build/bench/. Benchmarks, not tests: nothing here
# fails on a slow figure; a guest or a run that fails does fail it.
# Run it on an otherwise idle machine: the figures are wall-clock rates.
set -euo pipefail
cd "$(dirname "$0")/.."
ci/install-deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)"
cmake --build build --target fast_guest
out=build/bench
mkdir -p "$out"
{
  echo "# $(date -u +%FT%TZ) $(git describe --always --dirty 2>/dev/null || echo unknown)"
  echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs, $(free -g | awk '/Mem:/ {print $2}') GiB"
} | tee "$out/machine.txt"
build/bin/ring-bench | tee "$out/ring.txt"
build/bin/vsc-bench boot --kernel stock --kernel fast --runs 5 | tee "$out/boot.txt"
build/bin/vsc-bench e2e --json "$out/e2e.json" | tee "$out/e2e.txt"
for kernel in stock fast; do
  # The suite's own verdict matters here too: a failing run is not a pace.
  build/bin/vsc-harness run --kernel "$kernel" --seed 42 --keep-going --json "$out/suite-$kernel.json" \
    > "$out/suite-$kernel.log" 2>&1 || { tail -n 30 "$out/suite-$kernel.log"; exit 1; }
  build/bin/vsc-bench suite-report "$out/suite-$kernel.json" | tee "$out/suite-$kernel.txt"
done
