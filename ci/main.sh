#!/usr/bin/env bash
# The main job: install what is missing, build, and boot the guest with the
# project's modules until it is ready, printing the boot report.
# (Once the scenario suite exists, this runs the default suite in a real guest.)
# Extra arguments go to vsc-guest, e.g. `ci/main.sh --then shell`.
set -euo pipefail
cd "$(dirname "$0")/.."
ci/install-deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)"
exec build/bin/vsc-guest --load vsc_smoke "$@"
