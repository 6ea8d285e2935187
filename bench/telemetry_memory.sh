#!/usr/bin/env bash
# Memory per distinct Istio label set: weft-proxy with a sidecar's inbound telemetry chain
# (istio.metadata_exchange + istio.stats) in front of nginx; N requests, each from a different
# client workload (its own x-envoy-peer-metadata), so each makes one new label set in each of
# the four standard metrics. Prints the proxy's RSS growth per label set, and the same for N
# requests from one workload (the baseline: what requests cost without new label sets).
#   bench/telemetry_memory.sh [--sets N] [--proxy PATH]
# Needs: python3, nginx (apt-get install -y nginx-light).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec python3 "$here/lib/telemetry_memory.py" "$@"
