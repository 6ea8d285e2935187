#!/usr/bin/env bash
# weftd's Kubernetes watch under EndpointSlice churn (default 10,000 updates/s for 10 s over
# 1,000 Services), against kubectl's client-go watch of the same stream: ingest rate, lag when
# the stream stops, CPU per event. Usage: bench/kube_ingest.sh [--rate N] [--seconds S]
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 bench/lib/kube_ingest.py "$@"
