#!/usr/bin/env bash
# HTTP/2 (h2c) proxy benchmark: weft-proxy vs nghttpx vs HAProxy (and direct to the upstream).
#   bench/h2.sh [--rounds N] [--duration S] [--modes h2,h1] [--proxy PATH]
#               [--targets direct,weft,nghttpx,haproxy] [--json FILE] [--keep-tmp]   (--help for all)
#   ROUNDS=5 DURATION=20 bench/h2.sh    (env defaults for --rounds / --duration / --modes)
# h2load -t1 -c32 -m10 (h2c prior knowledge) -> proxy (h2c both sides, one worker, core 0)
# -> nginx h2c upstream; h2load and the upstream share core 1. --modes h2,h1 adds wrk (HTTP/1.1)
# -> proxy -> h2c upstream. Default run (mode h2 only): ~2.5 minutes.
# Needs: python3, h2load (nghttp2-client), nghttpx (nghttp2-proxy), haproxy, nginx-light, curl, taskset
# (wrk for mode h1).
# Exit: 0 ok, 1 errors/invalid run, 2 weft-proxy missing, failed to start or returned errors.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ! command -v python3 >/dev/null 2>&1; then
    echo "bench/h2.sh: python3 not found (apt-get install -y python3)" >&2
    exit 1
fi
exec python3 "$here/lib/h2_bench.py" "$@"
