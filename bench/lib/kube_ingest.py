"""weftd's Kubernetes watch under EndpointSlice churn: a test API server (tests/integration/
kube_api_server.py) holds 1,000 Services with one 10-endpoint slice each, then streams N slice
updates per second to whoever watches. The same stream goes to weftd and then to kubectl
(`get endpointslices --watch`, client-go's reflector) as the peer. For each: the rate it
ingested, how far behind it was when the stream stopped, and its CPU time. weftd also rebuilds
and pushes its config meanwhile (debounced, as istiod).

Usage: bench/kube_ingest.sh [--rate 10000] [--seconds 10] [--services 1000] [--endpoints 10]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import kube_api_server as kas  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def slice_json(svc, endpoints, gen, rv):
    eps = ",".join('{"addresses":["10.%d.%d.%d"],"conditions":{"ready":true},'
                   '"targetRef":{"kind":"Pod","name":"%s-%d","namespace":"default"}}'
                   % ((svc >> 8) & 255, svc & 255, (e + gen) % 250 + 1, "svc%d" % svc, e) for e in range(endpoints))
    return ('{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"svc%d-abcde",'
            '"namespace":"default","resourceVersion":"%d","labels":{"kubernetes.io/service-name":"svc%d"}},'
            '"addressType":"IPv4","endpoints":[%s],"ports":[{"name":"http","port":8080,"protocol":"TCP"}]}'
            % (svc, rv, svc, eps))


def populate(api, services, endpoints):
    api.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    for s in range(services):
        api.put({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc%d" % s, "namespace": "default"},
                 "spec": {"selector": {"app": "svc%d" % s}, "ports": [{"name": "http", "port": 80,
                                                                        "targetPort": 8080}]}})
        api.put(json.loads(slice_json(s, endpoints, 0, 0)))


def prepare(api, total, services, endpoints):
    base = api.rv
    events = []
    for i in range(total):
        svc, rv = i % services, base + i + 1
        text = slice_json(svc, endpoints, i // services + 1, rv)
        obj = {"kind": "EndpointSlice", "metadata": {"name": "svc%d-abcde" % svc, "namespace": "default"}}
        events.append(("MODIFIED", obj, ('{"type":"MODIFIED","object":%s}\n' % text).encode()))
    return events


def stream(api, events, rate):
    """Releases the events at `rate` per second; returns (start, end) times."""
    start = time.monotonic()
    sent = 0
    while sent < len(events):
        due = min(len(events), int((time.monotonic() - start) * rate) + 1)
        if due > sent:
            api.append_events(events[sent:due])
            sent = due
        time.sleep(0.005)
    return start, time.monotonic()


class WeftdConsumer:
    name = "weftd"

    def __init__(self, workdir, kubeconfig):
        self.http = free_port()
        os.makedirs(os.path.join(workdir, "mesh"), exist_ok=True)
        self.log = open(os.path.join(workdir, "weftd.log"), "wb")
        self.proc = subprocess.Popen(
            [os.environ.get("WEFTD_BIN", os.path.join(REPO, "build", "bin", "weftd")), "--config-dir",
             os.path.join(workdir, "mesh"), "--kubeconfig", kubeconfig, "--grpc-addr", "127.0.0.1:%d" % free_port(),
             "--secure-grpc-addr", "127.0.0.1:%d" % free_port(), "--http-addr", "127.0.0.1:%d" % self.http,
             "--log-level", "warn"], stdout=self.log, stderr=subprocess.STDOUT)

    def metrics(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http, timeout=2) as r:
                return r.read().decode()
        except OSError:
            return ""

    def count(self):
        m = re.search(r'^weftd_kube_events_total\{kind="EndpointSlice"\} (\d+)$', self.metrics(), re.M)
        return int(m.group(1)) if m else -1

    def ready(self, services):
        text = self.metrics()
        return bool(text) and 'weftd_kube_synced{kind="EndpointSlice"} 1' in text and self.count() >= 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class KubectlConsumer:
    name = "kubectl"

    def __init__(self, workdir, kubeconfig):
        self.lines = 0
        self.proc = subprocess.Popen(["kubectl", "--kubeconfig", kubeconfig, "get", "endpointslices.discovery.k8s.io",
                                      "-A", "--watch", "-o", "name"], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for _ in self.proc.stdout:
            self.lines += 1

    def ready(self, services):
        return self.lines >= services

    def count(self):
        return self.lines - self.initial

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def run(consumer_cls, args, workdir):
    api = kas.KubeApiServer(token=None).start()  # (kubectl sends no token over plain HTTP)
    try:
        populate(api, args.services, args.endpoints)
        kubeconfig = api.kubeconfig(os.path.join(workdir, "kubeconfig-" + consumer_cls.name))
        total = args.rate * args.seconds
        events = prepare(api, total, args.services, args.endpoints)
        c = consumer_cls(workdir, kubeconfig)
        try:
            deadline = time.monotonic() + 60
            while not c.ready(args.services):
                if time.monotonic() > deadline:
                    raise SystemExit("%s did not list the slices within 60 s" % c.name)
                time.sleep(0.1)
            time.sleep(0.5)
            if isinstance(c, KubectlConsumer):
                c.initial = c.lines
            before = c.count()
            cpu0 = cpu_seconds(c.proc.pid)
            start, end = stream(api, events, args.rate)
            done = None
            while time.monotonic() < end + 30:
                if c.count() - before >= total:
                    done = time.monotonic()
                    break
                time.sleep(0.02)
            got = c.count() - before
            cpu = cpu_seconds(c.proc.pid) - cpu0
            rss = rss_mb(c.proc.pid)
            return {"name": c.name, "offered": total / (end - start), "events": got, "total": total,
                    "ingest": got / ((done or time.monotonic()) - start), "lag": (done - end) if done else None,
                    "cpu": cpu, "rss": rss}
        finally:
            c.stop()
    finally:
        api.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=int, default=10000, help="EndpointSlice updates per second")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--endpoints", type=int, default=10, help="endpoints per slice")
    args = ap.parse_args()
    for tool in ("kubectl",):
        if not shutil.which(tool):
            raise SystemExit("bench/kube_ingest.sh: %s is not installed (scripts/setup.sh)" % tool)
    workdir = tempfile.mkdtemp(prefix="weft-kube-ingest-")
    try:
        results = [run(WeftdConsumer, args, workdir), run(KubectlConsumer, args, workdir)]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("%d services, one %d-endpoint EndpointSlice each; %d updates at %d/s"
          % (args.services, args.endpoints, args.rate * args.seconds, args.rate))
    print("%-8s %10s %10s %10s %12s %9s %8s" % ("watcher", "offered/s", "ingested/s", "events", "lag at end",
                                                "CPU s", "RSS MB"))
    for r in results:
        print("%-8s %10.0f %10.0f %10s %12s %9.2f %8.1f" % (
            r["name"], r["offered"], r["ingest"], "%d/%d" % (r["events"], r["total"]),
            "%.2f s" % r["lag"] if r["lag"] is not None else "behind", r["cpu"], r["rss"]))
    w, k = results
    print("ratio weftd/kubectl: ingest rate %.2fx, CPU per event %.2fx"
          % (w["ingest"] / k["ingest"], (w["cpu"] / max(w["events"], 1)) / (k["cpu"] / max(k["events"], 1))))
    kept_up = w["lag"] is not None and w["lag"] < 1.0 and w["events"] == w["total"]
    print("weftd kept up with %d updates/s: %s" % (args.rate, "yes" if kept_up else "NO"))
    return 0 if kept_up else 1


if __name__ == "__main__":
    sys.exit(main())
