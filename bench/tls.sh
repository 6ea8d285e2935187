#!/usr/bin/env bash
# TLS termination benchmark: weft-proxy vs HAProxy (ECDSA P-256 cert generated per run).
#   bench/tls.sh [--rounds N] [--duration S] [--parts ka,hs] [--proxy PATH] [--targets weft,haproxy]
#                [--hs-clients N] [--hs-request] [--json FILE] [--keep-tmp]         (--help for all)
#   ROUNDS=5 DURATION=15 bench/tls.sh    (env defaults for --rounds / --duration / --parts)
# ka: wrk -t1 -c32 HTTP/1.1 keep-alive over TLS vs plaintext through the same proxy process:
#     CPU us/request and the TLS/plaintext ratio (weft goal <= 1.2x).
# hs: full handshakes/s and CPU us/handshake: 16 parallel `openssl s_time -new` (never resumes;
#     handshake + close; --hs-request adds a GET / HTTP/1.0). Client-bound on 2 cores.
# Proxy on core 0 (one worker/thread), clients + nginx upstream on core 1. Default run: ~2.5 minutes.
# Needs: python3, wrk, openssl, haproxy, nginx-light, taskset.
# Exit: 0 ok, 1 errors/invalid run, 2 weft-proxy missing, failed to start or returned errors.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ! command -v python3 >/dev/null 2>&1; then
    echo "bench/tls.sh: python3 not found (apt-get install -y python3)" >&2
    exit 1
fi
exec python3 "$here/lib/tls_bench.py" "$@"
