"""bench/telemetry_memory.sh: RSS per distinct Istio label set in weft-proxy (stdlib only)."""

import argparse
import base64
import os
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http1_bench import (REPO, Children, _pb_len, free_port, nginx_upstream_conf, rss_kb,  # noqa: E402
                         wait_accepting, weft_bootstrap)


def peer_header(workload):
    def value(v):
        return _pb_len(5, struct(v)) if isinstance(v, dict) else _pb_len(3, v.encode())

    def struct(d):
        return b"".join(_pb_len(1, _pb_len(1, k.encode()) + _pb_len(2, value(v))) for k, v in d.items())
    return base64.b64encode(struct({"NAME": workload + "-1", "NAMESPACE": "default", "WORKLOAD_NAME": workload,
                                    "CLUSTER_ID": "Kubernetes", "LABELS": {"app": workload, "version": "v1"}})).decode()


def send(port, workloads):
    """One keep-alive connection, one request per workload name; waits for each response."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        f = s.makefile("rb")
        for w in workloads:
            s.sendall(("GET / HTTP/1.1\r\nhost: bench\r\nx-envoy-peer-metadata-id: sidecar~%s\r\n"
                       "x-envoy-peer-metadata: %s\r\n\r\n" % (w, peer_header(w))).encode())
            length = 0
            while True:
                line = f.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            f.read(length)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sets", type=int, default=1500, help="distinct label sets (default 1500; the cap is 2000)")
    ap.add_argument("--proxy", default=os.path.join(REPO, "build", "bin", "weft-proxy"))
    a = ap.parse_args()
    kids = Children()
    tmp = tempfile.mkdtemp(prefix="weft-telemetry-memory-")
    try:
        up = free_port()
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_upstream_conf(tmp, up))
        kids.start(["nginx", "-p", tmp, "-e", os.path.join(tmp, "nginx-error.log"), "-c", conf],
                   log_path=os.path.join(tmp, "nginx.log"))
        port, admin = free_port(), free_port()
        boot = os.path.join(tmp, "weft.yaml")
        with open(boot, "w") as f:
            f.write(weft_bootstrap(port, admin, up, telemetry=True))
        proxy = kids.start([a.proxy, "-c", boot, "--concurrency", "1"], log_path=os.path.join(tmp, "weft.log"))
        if not wait_accepting(port, proxy) or not wait_accepting(up, proxy):
            sys.exit("weft-proxy or nginx did not start; logs in " + tmp)
        send(port, ["warmup"] * 2000)  # allocator and buffers reach their steady state
        time.sleep(0.2)
        r0 = rss_kb([proxy.pid])
        send(port, ["same-client"] * a.sets)
        time.sleep(0.2)
        r1 = rss_kb([proxy.pid])
        send(port, ["client-%05d" % i for i in range(a.sets)])
        time.sleep(0.2)
        r2 = rss_kb([proxy.pid])
        base = (r1 - r0) * 1024 / a.sets
        per_set = (r2 - r1) * 1024 / a.sets
        print(f"weft-proxy RSS: {r0 / 1024:.1f} MB after warm-up; +{(r1 - r0) / 1024:.2f} MB for {a.sets} requests "
              f"from one workload; +{(r2 - r1) / 1024:.2f} MB for {a.sets} requests from {a.sets} workloads")
        print(f"per distinct label set (4 metrics: 1 counter, 3 histograms): {per_set:.0f} bytes "
              f"(requests without new sets: {base:.0f} bytes each)")
    finally:
        kids.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
