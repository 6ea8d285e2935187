#!/usr/bin/env bash
# weftd's CA: workload certificates signed per second on one core (RSA 2048 root, as Istio's
# self-signed CA; EC P-256 CSRs, as agents send), against OpenSSL's own RSA 2048 signatures per
# second on the same core (`openssl speed`): every certificate costs one such signature, so the
# ratio says how much of the CA's time goes to anything else.
# Usage: bench/ca_sign.sh [--seconds 5] [--core 0]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=5 core=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --core) core=$2; shift 2 ;;
    *) echo "usage: bench/ca_sign.sh [--seconds S] [--core N]" >&2; exit 2 ;;
  esac
done
bin=${WEFT_CA_SIGN_BIN:-build/bin/weft-ca-sign}
[[ -x $bin ]] || { echo "bench/ca_sign.sh: $bin not built (scripts/build.sh)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "bench/ca_sign.sh: openssl is not installed" >&2; exit 1; }

weft=$(taskset -c "$core" "$bin" --seconds "$seconds")
# openssl speed's last line for rsa2048: "rsa 2048 bits <sign s> <verify s> <sign/s> <verify/s>"
ossl=$(taskset -c "$core" openssl speed -seconds "$seconds" rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $(NF-1)}')
python3 - "$weft" "$ossl" <<'PY'
import json, sys
w = json.loads(sys.argv[1]); o = float(sys.argv[2])
print("weft CA, one core: %.0f certificates/s (%d in %.1f s)" % (w["per_second"], w["certificates"], w["seconds"]))
print("OpenSSL RSA 2048 signatures/s, same core: %.0f" % o)
print("ratio: %.2fx of the raw signature rate" % (w["per_second"] / o))
PY
