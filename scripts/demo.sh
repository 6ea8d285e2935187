#!/usr/bin/env bash
# The README's main job: install what is needed, build, run the demo (examples/run-demo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
exec bash examples/run-demo.sh "$@"
