#!/usr/bin/env bash
# Install what Weft needs to build and test on Debian 12 (bookworm), then fetch the Envoy API
# protos. Run as root. Idempotent and quick when everything is already there: apt is only
# touched when dpkg says a package is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config
  # libraries (libboost1.81-dev, not libboost-dev: bookworm's default Boost is 1.74, Beast needs 1.81)
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libssl-dev libnghttp2-dev libboost1.81-dev libyaml-cpp-dev libre2-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # tests, benchmarks, tooling
  python3 python3-pytest python3-yaml python3-jsonpatch curl wrk haproxy nginx-light nghttp2-client nghttp2-proxy openssl testssl.sh
  strace iproute2 iptables procps containernetworking-plugins prometheus
)
# Node.js/npm (for fetch-envoy-api.sh and the grpc-js-xds interop tests) may come from
# elsewhere (e.g. NodeSource's nodejs, which bundles npm and conflicts with Debian's npm):
# only ask apt for them when the commands are missing.
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
# kubectl makes the Kubernetes objects of the weftd tests (create --dry-run=client): Debian's
# kubernetes-client unless a kubectl is already there (e.g. from Kubernetes' own apt repository).
command -v kubectl >/dev/null 2>&1 || PACKAGES+=(kubernetes-client)

missing=()
for p in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)"
  [[ "$status" == ii* ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing: ${missing[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: ERROR: packages missing and not root; run: sudo $0" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all ${#PACKAGES[@]} packages present" >&2
fi

bash scripts/fetch-envoy-api.sh >/dev/null
bash tests/interop/install.sh >/dev/null
