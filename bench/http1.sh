#!/usr/bin/env bash
# HTTP/1.1 proxy benchmark: weft-proxy vs HAProxy vs nginx (and direct to the upstream), and weft-proxy
# with the fault, CORS and local rate limit filters configured but not triggering, or Istio's telemetry
# (metadata exchange + standard metrics), vs the router alone.
#   bench/http1.sh [--rounds N] [--duration S] [--proxy PATH] [--targets direct,weft,weft-filters,weft-retries,weft-telemetry,haproxy,nginx]
#                  [--no-strace] [--json FILE] [--strict] [--keep-tmp]     (--help for all options)
# Needs: python3, wrk, nginx, haproxy, taskset, strace (apt-get install -y wrk haproxy nginx-light strace).
# Everything runs on 127.0.0.1; processes and the temp dir are cleaned up on exit or Ctrl-C.
# Exit: 0 ok, 1 errors/invalid run, 2 weft-proxy missing or failed to start, 3 (--strict) target missed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ! command -v python3 >/dev/null 2>&1; then
    echo "bench/http1.sh: python3 not found (apt-get install -y python3)" >&2
    exit 1
fi
exec python3 "$here/lib/http1_bench.py" "$@"
