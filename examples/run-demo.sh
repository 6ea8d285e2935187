#!/usr/bin/env bash
# The demo: weft-proxy (examples/proxy/bootstrap.yaml) in front of two sample backends.
# Starts everything, sends traffic, prints the observed 80/20 split and where to look next,
# then keeps running until Ctrl-C. `--check` exits after the traffic check (used by tests).
set -euo pipefail
cd "$(dirname "$0")/.."

PROXY_BIN="${WEFT_PROXY_BIN:-build/bin/weft-proxy}"
CHECK_ONLY=0
[[ "${1:-}" == "--check" ]] && CHECK_ONLY=1

die() { echo "demo: $*" >&2; exit 1; }
[[ -x "$PROXY_BIN" ]] || die "no weft-proxy at $PROXY_BIN (build first: scripts/build.sh)"
command -v curl >/dev/null || die "curl is needed (apt-get install curl)"
for port in 8081 8082 10000 9901; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    die "port $port is already in use; the demo needs 8081, 8082, 10000 and 9901"
  fi
done

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 0' INT TERM

python3 examples/backend/echo_server.py --port 8081 --name backend-v1 >/dev/null 2>&1 & pids+=($!)
python3 examples/backend/echo_server.py --port 8082 --name backend-v2 >/dev/null 2>&1 & pids+=($!)
rm -f /tmp/weft-demo-access.log
"$PROXY_BIN" -c examples/proxy/bootstrap.yaml --concurrency 2 & pids+=($!)

for _ in $(seq 100); do
  curl -sf http://127.0.0.1:9901/ready >/dev/null 2>&1 && curl -sf http://127.0.0.1:8081/ >/dev/null 2>&1 &&
    curl -sf http://127.0.0.1:8082/ >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf http://127.0.0.1:9901/ready >/dev/null || die "weft-proxy did not become ready"

echo
echo "== weft-proxy is serving on http://127.0.0.1:10000 (admin: http://127.0.0.1:9901)"
echo "   sending 200 requests to / (routed 80% backend-v1, 20% backend-v2) ..."
v1=0; v2=0; other=0
for _ in $(seq 200); do
  server=$(curl -s -D - -o /dev/null http://127.0.0.1:10000/ | tr -d '\r' | awk -F': ' 'tolower($1)=="x-echo-server"{print $2}')
  case "$server" in backend-v1) v1=$((v1+1));; backend-v2) v2=$((v2+1));; *) other=$((other+1));; esac
done
echo "   observed: backend-v1 $v1, backend-v2 $v2, errors $other"
health=$(curl -s http://127.0.0.1:10000/healthz)
echo "   /healthz answered by the proxy: $health"
echo
echo "== try:"
echo "   curl -i http://127.0.0.1:10000/hello            # split 80/20 (see x-echo-server)"
echo "   curl -i http://127.0.0.1:10000/v2/hello         # always backend-v2, path rewritten to /hello"
echo "   curl http://127.0.0.1:9901/stats | grep -E 'upstream_rq_total|downstream_rq_2xx'"
echo "   curl http://127.0.0.1:9901/stats/prometheus     # Prometheus text format"
echo "   curl http://127.0.0.1:9901/config_dump          # the running config, Envoy's ConfigDump"
echo "   tail -f /tmp/weft-demo-access.log               # Envoy-format access log"

if (( other > 0 || v1 < 130 || v2 < 20 )); then
  die "unexpected split or errors (v1=$v1 v2=$v2 errors=$other)"
fi
if (( CHECK_ONLY )); then
  exit 0
fi
echo
echo "== running; Ctrl-C stops the proxy and the backends"
wait
