#!/usr/bin/env bash
# weftd push scale: 1,000 services (2 ports, 3 endpoints each) and N simulated proxies;
# time from a config file change to every proxy holding (and ACKing) the new config, plus
# weftd's RSS and CPU. Usage: bench/xds_push.sh [--proxies 100,1000] [--services 1000]
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 bench/lib/xds_push.py "$@"
