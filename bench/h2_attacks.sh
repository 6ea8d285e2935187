#!/usr/bin/env bash
# HTTP/2 attacks (HPACK bomb, 5,000 unread streams, CONTINUATION/PING/SETTINGS floods, rapid
# reset) sent byte for byte to weft-proxy, HAProxy and nghttpx in one run: peak RSS growth, CPU,
# another client's worst latency, upstream connections, what the attacker saw.
#   bench/h2_attacks.sh [--proxy PATH] [--attacks hpack_bomb,...] [--targets weft,haproxy,nghttpx]
# Needs: python3, haproxy, nghttpx (nghttp2-proxy). About 1.5 minutes.
# Exit: 0 ok; 2 weft-proxy died or grew more than 50 MB in an attack.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec python3 "$here/lib/h2_attacks.py" "$@"
