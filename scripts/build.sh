#!/usr/bin/env bash
# Configure (first time only) and build Weft into build/ with Ninja.
#   scripts/build.sh                         # everything
#   scripts/build.sh --target weft_envoy_api # extra arguments go to `cmake --build`
# Environment: WEFT_BUILD_DIR (default build), WEFT_JOBS (default 2: the machines have 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${WEFT_BUILD_DIR:-build}"
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja
fi
cmake --build "$BUILD_DIR" -j "${WEFT_JOBS:-2}" "$@"
