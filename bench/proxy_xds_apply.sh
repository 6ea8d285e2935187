#!/usr/bin/env bash
# weft-proxy applying 10,000 clusters from weftd while serving traffic: time from the config
# change to all clusters active, and the worst request latency during the apply vs a quiet
# baseline in the same run. Usage: bench/proxy_xds_apply.sh [--clusters 10000]
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 bench/lib/proxy_xds_apply.py "$@"
