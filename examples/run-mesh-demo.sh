#!/usr/bin/env bash
# The local mesh demo (the README's main job): `weftctl up examples/bookinfo` runs weftd and
# five workloads (productpage -> reviews v1/v2/v3 -> ratings), each in its own network
# namespace with capture rules and a sidecar; then 400 requests go to productpage and the
# reviews versions that answered are counted against the VirtualService's 70/20/10 split.
#   --check  assert the split and take the mesh down (used by the tests)
#   (default) leave it running and say where to look; `sudo build/bin/weftctl down` ends it
set -euo pipefail
cd "$(dirname "$0")/.."
CTL="${WEFTCTL_BIN:-build/bin/weftctl}"
STATE="${WEFT_STATE_DIR:-/run/weft/local}"
CHECK=0
[[ "${1:-}" == "--check" ]] && CHECK=1
die() { echo "mesh demo: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "the local mesh needs root (network namespaces, iptables): sudo $0"
[[ -x "$CTL" ]] || die "no weftctl at $CTL (build first: scripts/build.sh)"
command -v curl >/dev/null || die "curl is needed (apt-get install curl)"

if [[ -f "$STATE/state.json" ]]; then "$CTL" --state-dir "$STATE" down >/dev/null || true; fi
if ((CHECK)); then trap '"$CTL" --state-dir "$STATE" down >/dev/null 2>&1 || true' EXIT; fi

"$CTL" --state-dir "$STATE" up examples/bookinfo
echo
"$CTL" --state-dir "$STATE" status
PRODUCTPAGE=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print([p["ip"] for p in s["pods"] if p["name"].startswith("productpage")][0])' "$STATE/state.json")
# Sidecars are ready once they have their listeners and clusters; the endpoints of every reviews
# subset may land a moment later. The split is measured once each version has answered.
echo "waiting until every reviews version answers through the mesh ..."
# v3 takes 10% of the traffic: answers are sampled back to back (a failed request waits a little)
# until a deadline, so that a slow start does not leave too few samples to find it.
seen=""
deadline=$((SECONDS + 60))
while ((SECONDS < deadline)); do
  v=$(curl -s --max-time 5 "http://$PRODUCTPAGE:9080/productpage" | python3 -c 'import json,sys
try: print(json.load(sys.stdin)["reviews"]["version"])
except Exception: print("")' || true)
  [[ -n "$v" && " $seen " != *" $v "* ]] && seen="$seen $v"
  [[ $(wc -w <<<"$seen") -ge 3 ]] && break
  [[ -n "$v" ]] || sleep 0.5
done
[[ $(wc -w <<<"$seen") -ge 3 ]] || die "only reviews${seen:- (none)} answered in 60 s"
N=400
echo
echo "sending $N requests to productpage (http://$PRODUCTPAGE:9080/productpage) ..."
counts=$(for i in $(seq 1 $N); do
  curl -s --max-time 5 "http://$PRODUCTPAGE:9080/productpage" || echo '{"reviews": {"version": "error"}}'
  echo
done | python3 -c '
import json, sys, collections
c = collections.Counter()
for line in sys.stdin:
    line = line.strip()
    if line:
        try:
            c[json.loads(line)["reviews"]["version"]] += 1
        except Exception:
            c["error"] += 1
print(" ".join("%s=%d" % kv for kv in sorted(c.items())))')
echo "observed reviews split: $counts   (VirtualService reviews: v1 70%, v2 20%, v3 10%)"

# Every sidecar has its workload certificate from weftd's CA (identity and expiry in status).
for _ in $(seq 1 40); do
  pending=$("$CTL" --state-dir "$STATE" status | awk 'NR > 1 && $3 != "none" && $0 !~ /spiffe:\/\//' | wc -l)
  [[ "$pending" -eq 0 ]] && break
  sleep 0.25
done
echo
"$CTL" --state-dir "$STATE" status
# examples/bookinfo/security.yaml: reviews accepts mutual TLS only. productpage's sidecar
# reached it above over mTLS; a plaintext client outside the mesh is refused.
REVIEWS=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print([p["ip"] for p in s["pods"] if p["name"].startswith("reviews")][0])' "$STATE/state.json")
if curl -s --max-time 3 -o /dev/null "http://$REVIEWS:9080/"; then plaintext=accepted; else plaintext=refused; fi
echo "plaintext from outside the mesh to reviews ($REVIEWS:9080, PeerAuthentication STRICT): $plaintext"
# ... and ratings answers reviews only (AuthorizationPolicy ratings-from-reviews).
from_reviews=$(ip netns exec weft-reviews-v2 curl -s --max-time 5 -o /dev/null -w '%{http_code}' http://ratings:9080/ratings || true)
from_productpage=$(ip netns exec weft-productpage-v1 curl -s --max-time 5 -w ' %{http_code}' http://ratings:9080/ratings || true)
echo "ratings called by reviews: $from_reviews; by productpage: $from_productpage"
if ((CHECK)); then
  [[ "$plaintext" == refused ]] || die "reviews accepted plaintext under STRICT"
  [[ "$from_reviews" == 200 ]] || die "reviews could not call ratings ($from_reviews)"
  [[ "$from_productpage" == "RBAC: access denied 403" ]] || die "productpage was not refused by ratings ($from_productpage)"
  [[ "$pending" -eq 0 ]] || die "$pending sidecars have no workload certificate"
  "$CTL" --state-dir "$STATE" status | grep -q "spiffe://cluster.local/ns/default/sa/bookinfo-reviews" ||
    die "reviews has no certificate for its service account bookinfo-reviews"
fi

# Istio's standard metrics, scraped from every sidecar by Prometheus (weftctl up starts it):
# who called whom, by version and response code, as both sides of each call report it.
QUERY='sum by (reporter, source_workload, destination_workload, destination_version, response_code) (istio_requests_total)'
echo
echo "Prometheus: $QUERY"
EXPECT=("source *productpage-v1 *-> reviews-v1 *v1 *200" "destination productpage-v1 *-> reviews-v2 *v2 *200"
        "destination reviews-v3 *-> ratings-vm *v1 *200" "destination productpage-v1 *-> ratings-vm *v1 *403")
metrics=""
for _ in $(seq 1 30); do
  metrics=$(curl -s --max-time 5 "http://10.78.0.1:9090/api/v1/query" --data-urlencode "query=$QUERY" | python3 -c '
import json, sys
rows = []
for r in json.load(sys.stdin)["data"]["result"]:
    m = r["metric"]
    rows.append("%-11s %-14s -> %-12s %-4s %-4s %s" % (m.get("reporter"), m.get("source_workload"), m.get("destination_workload"),
                m.get("destination_version"), m.get("response_code"), r["value"][1]))
print("\n".join(sorted(rows)))' 2>/dev/null || true)
  missing=0
  for pair in "${EXPECT[@]}"; do grep -q "$pair" <<<"$metrics" || missing=1; done
  ((missing)) || break
  sleep 1  # the next scrape (every 2 s)
done
echo "$metrics"
if ((CHECK)); then
  for pair in "${EXPECT[@]}"; do
    grep -q "$pair" <<<"$metrics" || die "Prometheus has no istio_requests_total for '$pair'"
  done
fi

# Both reporters name the identities of the mutual TLS between the sidecars.
PQUERY='sum by (reporter, source_principal, destination_principal) (istio_requests_total{source_workload="productpage-v1", destination_service_name="reviews"})'
principals=$(curl -s --max-time 5 "http://10.78.0.1:9090/api/v1/query" --data-urlencode "query=$PQUERY" | python3 -c '
import json, sys
for r in json.load(sys.stdin)["data"]["result"]:
    m = r["metric"]
    print("%-11s %s -> %s" % (m.get("reporter"), m.get("source_principal"), m.get("destination_principal")))' 2>/dev/null | sort || true)
echo
echo "Prometheus: $PQUERY"
echo "$principals"
if ((CHECK)); then
  for reporter in source destination; do
    grep -q "^$reporter *cluster.local/ns/default/sa/bookinfo-productpage -> cluster.local/ns/default/sa/bookinfo-reviews$" <<<"$principals" ||
      die "the $reporter reporter does not name the mutual TLS identities of productpage -> reviews"
  done
fi

# Istio's access log (examples/bookinfo/telemetry.yaml): productpage's sidecar logs its calls
# to reviews (CLIENT mode only); reviews' sidecar logs what it served (mesh accessLogFile).
PP_LOG="$STATE/logs/productpage-v1-sidecar.log"
RV_LOG=$(ls "$STATE"/logs/reviews-v1-sidecar.log)
out_line=$(grep -m1 -E '^\[[0-9T:.-]+Z\] "GET /reviews HTTP/1.1" 200 - via_upstream - "-" .* outbound\|9080\|[a-z0-9]*\|reviews.default.svc.cluster.local ' "$PP_LOG" || true)
in_line=$(grep -m1 -E '^\[[0-9T:.-]+Z\] "GET /reviews HTTP/[12.]+" 200 - via_upstream - "-" .* inbound\|9080\|\| ' "$RV_LOG" || true)
echo
echo "access log, productpage's sidecar (outbound): ${out_line:-none}"
echo "access log, reviews-v1's sidecar (inbound):   ${in_line:-none}"
if ((CHECK)); then
  [[ -n "$out_line" ]] || die "productpage's sidecar logged no outbound call to reviews in Istio's format ($PP_LOG)"
  [[ -n "$in_line" ]] || die "reviews-v1's sidecar logged no inbound request in Istio's format ($RV_LOG)"
  ! grep -q ' inbound|9080||' "$PP_LOG" || die "productpage's sidecar logged inbound requests despite Telemetry mode CLIENT"
fi

if ((CHECK)); then
  python3 - "$counts" "$N" <<'PY'
import sys
counts = dict(kv.split("=") for kv in sys.argv[1].split())
n = int(sys.argv[2])
got = {k: int(v) for k, v in counts.items()}
assert got.get("error", 0) == 0, "failed requests: %s" % got
for version, share in (("v1", 0.7), ("v2", 0.2), ("v3", 0.1)):
    frac = got.get(version, 0) / n
    tolerance = 4.5 * (share * (1 - share) / n) ** 0.5  # 4.5 standard deviations of a random split
    assert abs(frac - share) < tolerance, "reviews %s: %.3f of the traffic, expected %.2f +- %.3f (%s)" % (
        version, frac, share, tolerance, got)
print("mesh demo: split OK")
PY
  exit 0
fi
cat <<EOF2

Where to look next:
  sudo build/bin/weftctl status                      sidecars and their xDS sync state
  curl http://10.78.0.1:15014/debug/syncz            weftd's view of every connected proxy
  sudo ip netns exec weft-productpage-v1 curl -s localhost:15000/stats | grep reviews
                                                     the productpage sidecar's per-subset stats
  curl http://$PRODUCTPAGE:15020/stats/prometheus    one sidecar's merged metrics (istio_requests_total, ...)
  http://10.78.0.1:9090                              Prometheus, scraping every sidecar
  edit examples/bookinfo/reviews-split.yaml under $STATE/mesh/ and watch the split change
  logs: $STATE/logs/
  sudo build/bin/weftctl down                        stop everything
EOF2
