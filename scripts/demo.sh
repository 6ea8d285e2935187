#!/usr/bin/env bash
# The README's main job: install what is needed, build, run the local mesh demo
# (examples/run-mesh-demo.sh: weftctl up examples/bookinfo, traffic, the observed split).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/as-root.sh
bash scripts/setup.sh
bash scripts/build.sh
exec bash examples/run-mesh-demo.sh "$@"
