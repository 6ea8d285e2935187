#!/usr/bin/env bash
# Everything CI does: install/check dependencies, build, run every registered test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/as-root.sh

bash scripts/setup.sh
bash scripts/build.sh

# Serially: the machines have 2 cores, and integration tests start real servers on fixed
# loopback ports, so running tests side by side would make them fight over CPU and ports.
ctest --test-dir "${WEFT_BUILD_DIR:-build}" --output-on-failure
