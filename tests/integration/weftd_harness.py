"""weftd for integration tests: a config directory of Istio/Kubernetes YAML, the weftd
process on free ports, and weft-proxy bootstraps that take their config from it over ADS."""

import contextlib
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import weft_harness as wh

REPO = Path(__file__).resolve().parents[2]


def weftd_binary():
    path = Path(os.environ.get("WEFTD_BIN", REPO / "build" / "bin" / "weftd"))
    if not path.exists():
        raise AssertionError("weftd binary not found at %s (build it: scripts/build.sh, or set WEFTD_BIN)" % path)
    return path


class Weftd:
    def __init__(self, workdir, debounce_ms=100, extra_args=()):
        self.workdir = Path(workdir)
        self.extra_args = list(extra_args)
        self.config_dir = self.workdir / "mesh"
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.grpc_port = wh.free_port()
        self.http_port = wh.free_port()
        self.secure_port = wh.free_port()  # xDS and the CA over TLS (15012), when a CA runs
        self.debounce_ms = debounce_ms
        self.proc = None
        self.log = self.workdir / "weftd.log"

    def write(self, name, text):
        """Writes a config file atomically (rename), as editors and kubectl-like tools do."""
        tmp = self.config_dir / (".%s.tmp" % name)
        tmp.write_text(text)
        os.replace(tmp, self.config_dir / name)

    def remove(self, name):
        (self.config_dir / name).unlink()

    def start(self):
        self.proc = subprocess.Popen(
            [str(weftd_binary()), "--config-dir", str(self.config_dir), "--grpc-addr", "127.0.0.1:%d" % self.grpc_port,
             "--http-addr", "127.0.0.1:%d" % self.http_port, "--debounce-ms", str(self.debounce_ms),
             "--secure-grpc-addr", "127.0.0.1:%d" % self.secure_port] + self.extra_args,
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if not wh.wait_for(lambda: self.get("/ready", quiet=True) is not None, 10):
            raise AssertionError("weftd did not become ready; log:\n%s" % self.log.read_text()[-3000:])
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def get(self, path, quiet=False):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.http_port, path), timeout=2) as r:
                return r.read().decode()
        except Exception:
            if quiet:
                return None
            raise

    def json(self, path):
        return json.loads(self.get(path))

    def synced(self, node_id):
        for s in self.json("/debug/syncz"):
            if s["proxy"] == node_id and s["types"] and all(t["status"] == "SYNCED" for t in s["types"].values()):
                return True
        return False

    def log_text(self):
        return self.log.read_text() if self.log.exists() else ""


def proxy_bootstrap(admin_port, weftd, node_id="sidecar~127.0.0.1~client-1.default~default.svc.cluster.local",
                    labels=None):
    metadata = {"NAMESPACE": "default", "INTERCEPTION_MODE": "NONE"}
    if labels:
        metadata["LABELS"] = labels
    return {
        "node": {"id": node_id, "cluster": "client", "metadata": metadata},
        "admin": {"address": wh.socket_address(admin_port)},
        "dynamic_resources": {
            "ads_config": {"api_type": "GRPC", "transport_api_version": "V3",
                           "grpc_services": [{"envoy_grpc": {"cluster_name": "xds-grpc"}}]},
            "cds_config": {"ads": {}, "resource_api_version": "V3"},
            "lds_config": {"ads": {}, "resource_api_version": "V3"},
        },
        "static_resources": {"clusters": [wh.cluster("xds-grpc", [weftd.grpc_port])]},
    }


@contextlib.contextmanager
def sidecar(weft, workdir, node_id, files, concurrency=1, labels=None):
    """weftd on a config directory holding `files` ({name: YAML}) and one weft-proxy fed by it
    over ADS (its node carrying `labels`), synced; yields (weftd, proxy). weftd is stopped on
    exit (the proxy by `weft`)."""
    weftd = Weftd(workdir)
    for name, text in files.items():
        weftd.write(name, text)
    weftd.start()
    try:
        proxy = weft.start_proxy(proxy_bootstrap(wh.free_port(), weftd, node_id, labels), concurrency=concurrency)
        assert wh.wait_for(lambda: weftd.synced(node_id), 10), weftd.get("/debug/syncz")
        yield weftd, proxy
    finally:
        weftd.stop()


def service_yaml(name, port, backends, namespace="default"):
    """A Service with one HTTP port, its Pods and Endpoints; backends: [(pod, version, port)]."""
    docs = ["""apiVersion: v1
kind: Service
metadata: {name: %s, namespace: %s}
spec:
  selector: {app: %s}
  ports: [{name: http, port: %d}]""" % (name, namespace, name, port)]
    subsets = []
    for pod, version, bport in backends:
        docs.append("""apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: %s, labels: {app: %s, version: %s}}
status: {podIP: 127.0.0.1}""" % (pod, namespace, name, version))
        subsets.append("- addresses: [{ip: 127.0.0.1, targetRef: {kind: Pod, name: %s}}]\n  ports: [{name: http, port: %d}]"
                       % (pod, bport))
    docs.append("apiVersion: v1\nkind: Endpoints\nmetadata: {name: %s, namespace: %s}\nsubsets:\n%s"
                % (name, namespace, "\n".join(subsets)))
    return "\n---\n".join(docs) + "\n"
