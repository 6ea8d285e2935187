#!/usr/bin/env bash
# Cost of the mesh for one request: wrk from a client pod to an nginx pod through both pods'
# sidecars (client -> capture -> client weft-proxy -> server weft-proxy -> nginx) vs the
# direct path (the same pods, uncaptured: client as uid 1337 to an excluded port), same run,
# interleaved rounds. Prints p50/p99 and the added latency, and each sidecar's RSS (weft-proxy
# + weft-agent, configuration loaded). Needs root (weftctl up), wrk, nginx.
#   bench/sidecar.sh [ROUNDS=3] [DURATION=10] [CONNECTIONS=1]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-3}" DURATION="${DURATION:-10}" CONNECTIONS="${CONNECTIONS:-1}"
CTL=build/bin/weftctl
STATE=/tmp/weft-bench-sidecar
[[ $(id -u) -eq 0 ]] || { echo "bench/sidecar.sh: needs root (sudo)" >&2; exit 1; }
for t in wrk nginx; do command -v $t >/dev/null || { echo "bench/sidecar.sh: $t is needed" >&2; exit 1; }; done
[[ -f "$STATE/state.json" ]] && "$CTL" --state-dir "$STATE" down >/dev/null 2>&1 || true
trap '"$CTL" --state-dir "$STATE" down >/dev/null 2>&1 || true' EXIT
start=$(date +%s.%N)
"$CTL" --state-dir "$STATE" up bench/sidecar >/dev/null
up_s=$(python3 -c "print($(date +%s.%N) - $start)")
SERVER=$(python3 -c 'import json; s=json.load(open("'$STATE'/state.json")); print([p["ip"] for p in s["pods"] if p["name"]=="server-v1"][0])')
VIP=10.96.79.10
run_wrk() {  # uid url -> "p50_us p99_us req_s"
  ip netns exec weft-client-v1 setpriv --reuid="$1" --regid="$1" --clear-groups \
    wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "$2" 2>/dev/null | python3 -c '
import re, sys
t = sys.stdin.read()
def us(v, u): return float(v) * {"us": 1, "ms": 1000, "s": 1e6}[u]
p = dict((m.group(1), us(m.group(2), m.group(3))) for m in re.finditer(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)", t, re.M))
rps = re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)
print(p["50"], p["99"], rps)'
}
echo "== sidecar latency: wrk -t1 -c$CONNECTIONS, $ROUNDS x ${DURATION}s, nginx 100-byte body"
for r in $(seq 1 "$ROUNDS"); do
  echo "direct $(run_wrk 1337 "http://$SERVER:9091/")"
  echo "mesh $(run_wrk 0 "http://$VIP:9080/")"
done | python3 -c '
import sys, statistics
rows = {}
for line in sys.stdin:
    k, p50, p99, rps = line.split()
    rows.setdefault(k, []).append((float(p50), float(p99), float(rps)))
med = {k: [statistics.median(x[i] for x in v) for i in range(3)] for k, v in rows.items()}
for k in ("direct", "mesh"):
    print("%-7s p50 %7.0f us   p99 %7.0f us   %8.0f req/s" % (k, *med[k]))
print("added by two sidecars: p50 +%.0f us, p99 +%.0f us" % (med["mesh"][0] - med["direct"][0], med["mesh"][1] - med["direct"][1]))'
echo "== per-sidecar RSS (weft-proxy + weft-agent, config loaded, after the load)"
for pod in client-v1 server-v1; do
  total=0
  for pid in $(ip netns pids "weft-$pod"); do
    comm=$(cat /proc/$pid/comm)
    if [[ "$comm" == weft-proxy || "$comm" == weft-agent ]]; then
      kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status); total=$((total + kb))
      printf "  %-10s %-11s %6.1f MB\n" "$pod" "$comm" "$(python3 -c "print($kb/1024)")"
    fi
  done
  printf "  %-10s %-11s %6.1f MB   (goal: under 20 MB)\n" "$pod" "sidecar" "$(python3 -c "print($total/1024)")"
done
printf "== weftctl up to all sidecars and workloads ready: %.1f s\n" "$up_s"
