"""weftd push-scale benchmark. See bench/xds_push.sh."""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOAL_PUSH_S = 1.0
GOAL_RSS_MB = 150.0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def service_docs(i, ns="default", endpoint_shift=0):
    name = "svc-%04d" % i
    addrs = "\n".join("  - {ip: 10.%d.%d.%d}" % (1 + i // 250, i % 250, 10 + k + endpoint_shift) for k in range(3))
    return """apiVersion: v1
kind: Service
metadata: {name: %s, namespace: %s}
spec:
  clusterIP: 172.16.%d.%d
  ports: [{name: http, port: 8080}, {name: grpc, port: 9090}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: %s, namespace: %s}
subsets:
- addresses:
%s
  ports: [{name: http, port: 8080}, {name: grpc, port: 9090}]
""" % (name, ns, i // 250, i % 250, name, ns, addrs)


def vs_doc(i, w1):
    name = "svc-%04d" % i
    return """apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: %s}
spec:
  hosts: [%s]
  http:
  - route:
    - {destination: {host: %s, port: {number: 8080}}, weight: %d}
    - {destination: {host: %s, port: {number: 9090}}, weight: %d}
""" % (name, name, name, w1, name, 100 - w1)


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def proc_stats(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024.0
    return cpu, rss


class Load:
    def __init__(self, binary, target, n):
        self.p = subprocess.Popen([binary, target, str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, bufsize=1)

    def line(self):
        return self.p.stdout.readline().strip()

    def cmd(self, text):
        self.p.stdin.write(text + "\n")
        self.p.stdin.flush()

    def stop(self):
        self.p.kill()
        self.p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proxies", default="100,1000")
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--weftd", default=os.path.join(REPO, "build/bin/weftd"))
    ap.add_argument("--load", default=os.path.join(REPO, "build/bin/weft-xds-load"))
    args = ap.parse_args()
    for b in (args.weftd, args.load):
        if not os.access(b, os.X_OK):
            sys.exit("missing %s (build with scripts/build.sh)" % b)
    tmp = tempfile.mkdtemp(prefix="weft-xds-push-")
    cfg = os.path.join(tmp, "mesh")
    os.mkdir(cfg)
    n = args.services
    write_atomic(os.path.join(cfg, "services.yaml"), "---\n".join(service_docs(i) for i in range(n)))
    write_atomic(os.path.join(cfg, "routes.yaml"), "---\n".join(vs_doc(i, 50) for i in range(0, n, 10)))
    grpc_port, http_port = free_port(), free_port()
    weftd = subprocess.Popen([args.weftd, "--config-dir", cfg, "--grpc-addr", "127.0.0.1:%d" % grpc_port,
                              "--http-addr", "127.0.0.1:%d" % http_port, "-l", "warn"],
                             stdout=open(os.path.join(tmp, "weftd.log"), "w"), stderr=subprocess.STDOUT)
    rows = []
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/ready" % http_port, timeout=1).read()
                break
            except Exception:
                time.sleep(0.1)
        cpu0, idle_rss = proc_stats(weftd.pid)
        print("weftd: %d services x 2 ports x 3 endpoints, %d VirtualServices; idle RSS %.1f MB"
              % (n, n // 10, idle_rss))
        for count in [int(x) for x in args.proxies.split(",")]:
            load = Load(args.load, "127.0.0.1:%d" % grpc_port, count)
            first = load.line()
            _, rss_connected = proc_stats(weftd.pid)
            result = {"proxies": count, "initial": first, "rss": rss_connected}
            for kind, edit, wait in (
                ("eds", lambda k: write_atomic(os.path.join(cfg, "services.yaml"),
                                               "---\n".join(service_docs(i, endpoint_shift=(k % 2) * 5 if i == 7 else 0)
                                                            for i in range(n))), "eds"),
                ("rds", lambda k: write_atomic(os.path.join(cfg, "routes.yaml"),
                                               "---\n".join(vs_doc(i, 50 + (k % 2) * 25 if i == 0 else 50)
                                                            for i in range(0, n, 10))), "rds"),
            ):
                times = []
                cpus = []
                for k in range(1, 4):
                    load.cmd("mark")
                    load.line()
                    c0, _ = proc_stats(weftd.pid)
                    edit(k)
                    load.cmd("wait %s 60" % wait)
                    out = load.line()
                    c1, _ = proc_stats(weftd.pid)
                    cpus.append(c1 - c0)
                    if out.startswith("converged"):
                        times.append(int(out.split()[2]) / 1000.0)
                    else:
                        times.append(float("nan"))
                        print("  %s push with %d proxies: %s" % (kind, count, out))
                    time.sleep(0.3)
                times.sort()
                result[kind] = times[len(times) // 2]
                result[kind + "_cpu"] = sorted(cpus)[len(cpus) // 2]
            _, result["rss_after"] = proc_stats(weftd.pid)
            time.sleep(6)  # weftd returns freed push buffers to the system every 5 s
            _, result["rss_steady"] = proc_stats(weftd.pid)
            load.stop()
            time.sleep(0.5)
            rows.append(result)
    finally:
        weftd.terminate()
        weftd.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print("proxies  initial sync   EDS push (file->all ACKed)  RDS push (file->all ACKed)  weftd RSS after pushes / steady  weftd CPU/push (eds, rds)")
    for r in rows:
        print("%7d  %12s  %26.3fs  %26.3fs  %14.1f / %5.1f MB  %.2fs, %.2fs" % (
            r["proxies"], r["initial"].replace("synced ", "") + " ms", r["eds"], r["rds"], r["rss_after"],
            r["rss_steady"], r["eds_cpu"], r["rds_cpu"]))
    print()
    print("goals (project): full push ACKed by all proxies <= %.1fs; weftd <= %.0f MB (istiod needs 1 vCPU and 1.5 GB)"
          % (GOAL_PUSH_S, GOAL_RSS_MB))
    for r in rows:
        worst = max(r["eds"], r["rds"])
        peak = r["rss_after"]
        print("  %d proxies: push %.3fs (%.2fx goal) %s; RSS after pushes %.1f MB (%.2fx goal) %s" % (
            r["proxies"], worst, worst / GOAL_PUSH_S, "PASS" if worst <= GOAL_PUSH_S else "FAIL",
            peak, peak / GOAL_RSS_MB, "PASS" if peak <= GOAL_RSS_MB else "FAIL"))
    print("Note: medians of 3 edits each; includes weftd's 100 ms debounce. No istiod runs here to compare in the same run.")


if __name__ == "__main__":
    main()
