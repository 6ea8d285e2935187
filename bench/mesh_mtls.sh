#!/usr/bin/env bash
# Cost of Istio's mutual TLS between two sidecars: wrk (keep-alive) from a client pod to an nginx
# pod through both sidecars, with auto mTLS on (the default) and off (a namespace
# PeerAuthentication DISABLE, which turns auto mTLS off), alternating in the same run. Prints
# both sidecars' CPU per request (weft-proxy utime+stime from /proc over each round, divided by
# wrk's request count) and the mTLS/plaintext ratio (goal <= 1.2x), then each sidecar's RSS
# (weft-proxy + weft-agent) with its certificate loaded (goal <= 20 MB), summed and as the pod
# counts it (shared library pages once).
# Needs root (weftctl up), wrk, nginx.
#   bench/mesh_mtls.sh [ROUNDS=4] [DURATION=8] [CONNECTIONS=8]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-4}" DURATION="${DURATION:-8}" CONNECTIONS="${CONNECTIONS:-8}"
CTL=build/bin/weftctl
STATE=/tmp/weft-bench-mtls
[[ $(id -u) -eq 0 ]] || { echo "bench/mesh_mtls.sh: needs root (sudo)" >&2; exit 1; }
for t in wrk nginx; do command -v $t >/dev/null || { echo "bench/mesh_mtls.sh: $t is needed" >&2; exit 1; }; done
[[ -f "$STATE/state.json" ]] && "$CTL" --state-dir "$STATE" down >/dev/null 2>&1 || true
trap '"$CTL" --state-dir "$STATE" down >/dev/null 2>&1 || true' EXIT
"$CTL" --state-dir "$STATE" up bench/sidecar >/dev/null
VIP=10.96.79.10
DISABLE="$STATE/mesh/zz-bench-plaintext.yaml"

proxy_pids() { for pod in client-v1 server-v1; do
  for pid in $(ip netns pids "weft-$pod"); do [[ $(cat /proc/$pid/comm) == weft-proxy ]] && echo "$pid"; done; done; }
cpu_ticks() { local t=0; for pid in $(proxy_pids); do
  t=$((t + $(awk '{print $14 + $15}' /proc/$pid/stat))); done; echo $t; }
# Is the client sidecar's cluster to the server using mutual TLS right now?
client_mtls() { ip netns exec weft-client-v1 curl -s 127.0.0.1:15000/config_dump | grep -c tlsMode-istio || true; }
set_mode() {
  if [[ $1 == plain ]]; then
    printf 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: bench, namespace: default}\nspec:\n  mtls: {mode: DISABLE}\n' > "$DISABLE"
  else
    rm -f "$DISABLE"
  fi
  for _ in $(seq 1 100); do
    n=$(client_mtls)
    if [[ $1 == plain && $n -eq 0 ]] || [[ $1 == mtls && $n -gt 0 ]]; then sleep 0.5; return; fi
    sleep 0.1
  done
  echo "bench/mesh_mtls.sh: the client sidecar did not switch to $1" >&2; exit 1
}
hz=$(getconf CLK_TCK)
echo "== mTLS vs plaintext between two sidecars: wrk -t1 -c$CONNECTIONS keep-alive, $ROUNDS x ${DURATION}s each"
for r in $(seq 1 "$ROUNDS"); do
  for mode in mtls plain; do
    set_mode $mode
    before=$(cpu_ticks)
    reqs=$(ip netns exec weft-client-v1 wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "http://$VIP:9080/" 2>/dev/null |
      awk '/requests in/ {print $1}')
    after=$(cpu_ticks)
    echo "$mode $reqs $((after - before))"
  done
done | python3 -c '
import sys, statistics
hz = '"$hz"'
rows = {"mtls": [], "plain": []}
for line in sys.stdin:
    mode, reqs, ticks = line.split()
    rows[mode].append(int(ticks) / hz * 1e6 / max(1, int(reqs)))
    print("  %-5s %8s requests  %6.1f us CPU/request (both sidecars)" % (mode, reqs, rows[mode][-1]))
m, p = statistics.median(rows["mtls"]), statistics.median(rows["plain"])
ratios = [a / b for a, b in zip(rows["mtls"], rows["plain"])]
print("median CPU/request: mTLS %.1f us, plaintext %.1f us; mTLS/plaintext %.2fx (per-round %s; goal <= 1.2x)" %
      (m, p, m / p, ", ".join("%.2f" % r for r in ratios)))'
echo "== per-sidecar memory with the workload certificate loaded (goal: under 20 MB)"
# RSS summed double-counts the shared libraries both processes map (libcrypto alone is ~4 MB);
# a pod's memory counts each file page once, so "pod" counts every file mapping once (the
# larger RSS of the two processes) and adds both processes' anonymous memory.
for pod in client-v1 server-v1; do
  pids=""
  for pid in $(ip netns pids "weft-$pod"); do
    comm=$(cat /proc/$pid/comm)
    [[ "$comm" == weft-proxy || "$comm" == weft-agent ]] && pids="$pids $pid"
  done
  python3 - "$pod" $pids <<'PY'
import sys
pod, pids = sys.argv[1], sys.argv[2:]
files, anon, total = {}, 0, 0
for pid in pids:
    comm = open("/proc/%s/comm" % pid).read().strip()
    rss, name, per_file = 0, None, {}
    for line in open("/proc/%s/smaps" % pid):
        f = line.split()
        if "-" in f[0] and len(f) >= 5:
            name = f[5] if len(f) > 5 and f[5].startswith("/") else None
        elif f[0] == "Rss:":
            kb = int(f[1])
            rss += kb
            if name:
                per_file[name] = per_file.get(name, 0) + kb
            else:
                anon += kb
    for n, kb in per_file.items():
        files[n] = max(files.get(n, 0), kb)
    total += rss
    print("  %-10s %-11s RSS %5.1f MB" % (pod, comm, rss / 1024))
pod_kb = anon + sum(files.values())
print("  %-10s %-11s RSS summed %5.1f MB; pod (shared files once) %5.1f MB" % (pod, "sidecar", total / 1024, pod_kb / 1024))
PY
done
