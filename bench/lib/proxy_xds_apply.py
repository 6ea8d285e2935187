"""weft-proxy 10k-cluster apply benchmark. See bench/proxy_xds_apply.sh."""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
        return r.read().decode()


def stat(port, name):
    m = re.search(r"^%s: (\d+)$" % re.escape(name), get(port, "/stats?filter=" + name), re.M)
    return int(m.group(1)) if m else None


def wait(pred, timeout, interval=0.05):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if pred():
                return True
        except Exception:
            pass
        time.sleep(interval)
    return False


def write_atomic(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def web_yaml(http_port, backend_port):
    return """apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports: [{name: http, port: %d}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: web}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{name: http, port: %d}]
""" % (http_port, backend_port)


def many_yaml(n):
    docs = []
    for i in range(n):
        docs.append("""apiVersion: v1
kind: Service
metadata: {name: bulk-%05d}
spec:
  ports: [{name: tcp, port: 7000}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: bulk-%05d}
subsets:
- addresses: [{ip: 10.%d.%d.1}]
  ports: [{name: tcp, port: 7000}]
""" % (i, i, 1 + i // 250, i % 250))
    return "---\n".join(docs)


def wrk(port, seconds, out):
    r = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c8", "-d%ds" % seconds, "--latency",
                        "-H", "Host: web", "http://127.0.0.1:%d/" % port], capture_output=True, text=True)
    out["text"] = r.stdout
    m = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", r.stdout)
    out["max"] = m.group(1) if m else "?"
    m = re.search(r"^\s+99%\s+(\S+)", r.stdout, re.M)
    out["p99"] = m.group(1) if m else "?"
    m = re.search(r"Requests/sec:\s+(\S+)", r.stdout)
    out["rps"] = m.group(1) if m else "?"
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
    out["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", r.stdout)
    out["errors"] = m.group(1) if m else "none"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clusters", type=int, default=10000)
    ap.add_argument("--seconds", type=int, default=12)
    args = ap.parse_args()
    for tool in ("wrk", "nginx", "taskset"):
        if not shutil.which(tool):
            sys.exit("missing %s" % tool)
    weftd_bin = os.path.join(REPO, "build/bin/weftd")
    proxy_bin = os.path.join(REPO, "build/bin/weft-proxy")
    tmp = tempfile.mkdtemp(prefix="weft-apply-")
    procs = []
    try:
        backend = free_port()
        with open(os.path.join(tmp, "nginx.conf"), "w") as f:
            f.write("worker_processes 1; daemon off; pid %s/nginx.pid; error_log %s/err.log;\n"
                    "events {} http { access_log off; server { listen 127.0.0.1:%d; "
                    "location / { return 200 'hello'; } } }\n" % (tmp, tmp, backend))
        procs.append(subprocess.Popen(["taskset", "-c", "1", "nginx", "-c", os.path.join(tmp, "nginx.conf"),
                                       "-p", tmp], stderr=subprocess.DEVNULL))
        cfg = os.path.join(tmp, "mesh")
        os.mkdir(cfg)
        http_port = free_port()
        write_atomic(os.path.join(cfg, "web.yaml"), web_yaml(http_port, backend))
        grpc, dbg, admin = free_port(), free_port(), free_port()
        procs.append(subprocess.Popen([weftd_bin, "--config-dir", cfg, "--grpc-addr", "127.0.0.1:%d" % grpc,
                                       "--http-addr", "127.0.0.1:%d" % dbg, "-l", "warn"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait(lambda: get(dbg, "/ready"), 10)
        boot = {
            "node": {"id": "sidecar~127.0.0.1~bench.default~default.svc.cluster.local",
                     "metadata": {"NAMESPACE": "default", "INTERCEPTION_MODE": "NONE"}},
            "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
            "dynamic_resources": {"ads_config": {"api_type": "GRPC", "grpc_services": [{"envoy_grpc": {"cluster_name": "xds"}}]},
                                  "cds_config": {"ads": {}}, "lds_config": {"ads": {}}},
            "static_resources": {"clusters": [{"name": "xds", "type": "STATIC", "load_assignment": {
                "cluster_name": "xds", "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                    "address": "127.0.0.1", "port_value": grpc}}}}]}]}}]},
        }
        with open(os.path.join(tmp, "proxy.json"), "w") as f:
            json.dump(boot, f)
        proxy = subprocess.Popen(["taskset", "-c", "0", proxy_bin, "-c", os.path.join(tmp, "proxy.json"),
                                  "--concurrency", "1", "-l", "warn"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proxy)
        if not wait(lambda: get(admin, "/ready").strip() == "LIVE" and "hello" in urllib.request.urlopen(
                urllib.request.Request("http://127.0.0.1:%d/" % http_port, headers={"Host": "web"}), timeout=2).read().decode(), 15):
            sys.exit("weft-proxy did not get its config from weftd")
        base = {}
        wrk(http_port, args.seconds, base)
        rss0 = int(re.search(r"VmRSS:\s+(\d+)", open("/proc/%d/status" % proxy.pid).read()).group(1)) / 1024
        during = {}
        t = threading.Thread(target=wrk, args=(http_port, args.seconds, during))
        t.start()
        time.sleep(2)
        start = time.time()
        write_atomic(os.path.join(cfg, "bulk.yaml"), many_yaml(args.clusters))
        target = args.clusters + 2  # + web + the static xds cluster
        ok = wait(lambda: (stat(admin, "cluster_manager.active_clusters") or 0) >= target, 120, 0.02)
        applied = time.time() - start
        t.join()
        rss1 = int(re.search(r"VmRSS:\s+(\d+)", open("/proc/%d/status" % proxy.pid).read()).group(1)) / 1024
        print("weft-proxy applying %d clusters (CDS + EDS from weftd) while serving HTTP/1.1 (wrk -c8, %ds)"
              % (args.clusters, args.seconds))
        print("  config file written -> all clusters active: %s" % ("%.2fs" % applied if ok else "NOT within 120s"))
        print("  (includes weftd's 100 ms debounce, parsing %d Services/Endpoints and generating CDS/EDS)" % args.clusters)
        print("                 req/s      p99      max latency   non-2xx  socket errors")
        print("  quiet         %8s  %8s  %10s  %8d  %s" % (base["rps"], base["p99"], base["max"], base["non2xx"], base["errors"]))
        print("  during apply  %8s  %8s  %10s  %8d  %s" % (during["rps"], during["p99"], during["max"], during["non2xx"], during["errors"]))
        print("  weft-proxy RSS: %.1f MB before, %.1f MB with %d clusters" % (rss0, rss1, args.clusters))
        print("Envoy (for orientation, not run here: no Debian package) is reported to stall at 2.5k-4k clusters.")
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
