#!/usr/bin/env bash
# The main job: install what is missing, build, and run the default scenario
# suite (scenarios/, negative controls included) against the real az_blob
# driver in a QEMU guest with vsp-sim as its host. Reports: build/report.json,
# build/report.xml (JUnit), and build/report.trace.json (Chrome/Perfetto) when
# an iteration did not pass. Extra arguments go to `vsc-harness run`, e.g.
# `ci/main.sh --seed 42 --repeat 5 --keep-going` or `--filter 'rescind_*'`.
set -euo pipefail
cd "$(dirname "$0")/.."
ci/install-deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)"
exec build/bin/vsc-harness run --json build/report.json --junit build/report.xml "$@"
