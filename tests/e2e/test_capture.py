"""Transparent capture end to end: a pod network namespace with weft-iptables' rules and
weft-proxy running as uid 1337 with Istio's capture listeners (virtualOutbound on 15001 with
use_original_dst, virtualInbound on 15006 with the original_dst listener filter), real echo
servers on the host side and in the pod. The app's traffic goes through the sidecar without
the app knowing; the proxy's own traffic, excluded ports and uid 1337 are not captured."""

import json
import os
import shutil
import tempfile
from pathlib import Path
import subprocess
import sys
import time
import urllib.request

import pytest

import weft_harness as wh
from netns import REPO_ROOT, Pod, require_root, sh, wait_for

PROXY_BIN = os.environ.get("WEFT_PROXY_BIN", str(REPO_ROOT / "build" / "bin" / "weft-proxy"))
IPTABLES_BIN = os.environ.get("WEFT_IPTABLES_BIN", str(REPO_ROOT / "build" / "bin" / "weft-iptables"))
ECHO = str(REPO_ROOT / "examples" / "backend" / "echo_server.py")
ORIGINAL_DST_TYPE = "type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst"


def original_dst_cluster(name, **extra):
    return dict({"name": name, "type": "ORIGINAL_DST", "lb_policy": "CLUSTER_PROVIDED", "connect_timeout": "1s"}, **extra)


def sidecar_bootstrap(pod, registry_only=False):
    header = lambda v: [{"header": {"key": "x-weft-sidecar", "value": v}}]
    outbound_http = wh.listener("0.0.0.0_8080", 8080, host="0.0.0.0", bind_to_port=False, filters=[
        wh.hcm_filter([wh.vhost("remote", ["*"], [wh.route_to("outbound|8080||remote")],
                                response_headers_to_add=header("outbound"))], stat_prefix="outbound_0.0.0.0_8080")])
    virtual_outbound = wh.listener("virtualOutbound", 15001, host="0.0.0.0", use_original_dst=True, filters=[
        wh.tcp_proxy_filter("BlackHoleCluster" if registry_only else "PassthroughCluster", stat_prefix="outbound_passthrough")])
    virtual_inbound = wh.listener("virtualInbound", 15006, host="0.0.0.0",
        listener_filters=[{"name": "envoy.filters.listener.original_dst", "typed_config": {"@type": ORIGINAL_DST_TYPE}}],
        filter_chains=[{"filter_chain_match": {"destination_port": 9080},
                        "filters": [wh.hcm_filter([wh.vhost("inbound", ["*"], [wh.route_to("inbound|9080||")],
                                                            response_headers_to_add=header("inbound"))],
                                                  stat_prefix="inbound_0.0.0.0_9080")]}],
        default_filter_chain={"filters": [wh.tcp_proxy_filter("InboundPassthroughCluster", stat_prefix="inbound_passthrough")]})
    clusters = [
        wh.cluster("outbound|8080||remote", [(pod.host_ip, 8080)]),
        wh.cluster("inbound|9080||", [("127.0.0.1", 9080)]),
        original_dst_cluster("PassthroughCluster"),
        original_dst_cluster("InboundPassthroughCluster",
                             upstream_bind_config={"source_address": {"address": "127.0.0.6", "port_value": 0}}),
        wh.cluster("BlackHoleCluster", []),
    ]
    cfg = wh.bootstrap(15000, [virtual_outbound, virtual_inbound, outbound_http], clusters)
    return cfg


class Sidecar:
    def __init__(self, pod, tmp, registry_only=False, exclude_outbound="8082"):
        self.pod = pod
        # The proxy runs as uid 1337: its config must be readable outside root's pytest dirs.
        cfg = Path(tempfile.mkdtemp(prefix="weft-e2e-")) / "sidecar.json"
        cfg.parent.chmod(0o755)
        cfg.write_text(json.dumps(sidecar_bootstrap(pod, registry_only)))
        cfg.chmod(0o644)
        self.config = cfg
        pod.run([IPTABLES_BIN, "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*",
                 "-b", "*", "-d", "15090,15021,15020", "-o", exclude_outbound])
        self.log = tmp / "sidecar.log"
        self.proc = pod.spawn([PROXY_BIN, "-c", cfg, "--concurrency", "1"], uid=1337, log=self.log)
        wait_for(lambda: pod.run(["curl", "-sf", "http://127.0.0.1:15000/ready"], check=False).returncode == 0,
                 what="the sidecar's /ready (log: %s)" % self.log)

    def close(self):
        shutil.rmtree(self.config.parent, ignore_errors=True)

    def stat(self, name):
        out = self.pod.run(["curl", "-sf", "http://127.0.0.1:15000/stats"]).stdout
        for line in out.splitlines():
            k, _, v = line.partition(": ")
            if k == name:
                return int(v)
        return 0

    def ctx(self):
        return "\n--- sidecar log ---\n" + (self.log.read_text()[-3000:] if self.log.exists() else "")


def echo_on_host(name, ip, port, log):
    p = subprocess.Popen([sys.executable, ECHO, "--host", ip, "--port", str(port), "--name", name],
                         stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    wait_for(lambda: subprocess.run(["curl", "-sf", "http://%s:%d/" % (ip, port)], stdout=subprocess.DEVNULL).returncode == 0,
             what="echo server %s" % name)
    return p


def echo_in_pod(pod, name, port, tmp):
    p = pod.spawn([sys.executable, ECHO, "--host", "0.0.0.0", "--port", str(port), "--name", name], log=tmp / (name + ".log"))
    wait_for(lambda: pod.run(["curl", "-sf", "--noproxy", "*", "http://127.0.0.1:%d/" % port], check=False).returncode == 0,
             what="pod echo server %s" % name)
    return p


def http(pod, url, uid=None):
    """GET from inside the pod: (headers lower-cased, JSON body)."""
    r = pod.run(["curl", "-sS", "--max-time", "5", "-D", "-", url], uid=uid, check=False)
    assert r.returncode == 0, "curl %s from the pod failed: %s" % (url, r.stderr)
    head, _, body = r.stdout.partition("\n\n")
    assert body, "no body from %s: %r %r" % (url, r.stdout, r.stderr)
    headers = {}
    for line in head.splitlines()[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return headers, json.loads(body)


@pytest.fixture
def mesh(tmp_path):
    require_root()
    with Pod("cap", index=40 + os.getpid() % 50) as pod:
        servers = [echo_on_host(n, pod.host_ip, p, tmp_path / (n + ".log"))
                   for n, p in (("remote", 8080), ("alpha", 8081), ("beta", 8082))]
        try:
            yield pod, tmp_path
        finally:
            for s in servers:
                s.terminate()
                s.wait()


def test_outbound_capture_keeps_the_original_destination(mesh):
    pod, tmp = mesh
    sidecar = Sidecar(pod, tmp)
    echo_in_pod(pod, "app", 9080, tmp)
    # A listener exists for :8080: the HTTP route answers, with the sidecar's header.
    headers, body = http(pod, "http://%s:8080/reviews" % pod.host_ip)
    assert body["server"] == "remote" and headers.get("x-weft-sidecar") == "outbound", (headers, body, sidecar.ctx())
    assert "x-request-id" in body["headers"], body
    # No listener for :8081: virtualOutbound passes it through to the original IP:port.
    before = sidecar.stat("cluster.PassthroughCluster.upstream_cx_total")
    headers, body = http(pod, "http://%s:8081/x" % pod.host_ip)
    assert body["server"] == "alpha" and "x-weft-sidecar" not in headers, (headers, body)
    assert sidecar.stat("cluster.PassthroughCluster.upstream_cx_total") == before + 1, sidecar.ctx()


def test_uid_1337_and_excluded_ports_are_not_captured(mesh):
    pod, tmp = mesh
    sidecar = Sidecar(pod, tmp, exclude_outbound="8082")
    before = (sidecar.stat("cluster.PassthroughCluster.upstream_cx_total"),
              sidecar.stat("http.outbound_0.0.0.0_8080.downstream_rq_total"))
    headers, body = http(pod, "http://%s:8080/" % pod.host_ip, uid=1337)  # the proxy's own uid
    assert body["server"] == "remote" and "x-weft-sidecar" not in headers, headers
    headers, body = http(pod, "http://%s:8082/" % pod.host_ip)  # -o 8082
    assert body["server"] == "beta" and "x-weft-sidecar" not in headers, headers
    after = (sidecar.stat("cluster.PassthroughCluster.upstream_cx_total"),
             sidecar.stat("http.outbound_0.0.0.0_8080.downstream_rq_total"))
    assert after == before, (before, after, sidecar.ctx())


def test_inbound_capture(mesh):
    pod, tmp = mesh
    sidecar = Sidecar(pod, tmp)
    echo_in_pod(pod, "app", 9080, tmp)
    echo_in_pod(pod, "admin", 9090, tmp)
    echo_in_pod(pod, "health", 15021, tmp)  # an excluded inbound port
    # From the host to the pod's IP: through virtualInbound's 9080 chain.
    r = sh(["curl", "-sS", "--max-time", "5", "-D", "-", "http://%s:9080/in" % pod.ip])
    head, _, body = r.stdout.partition("\n\n")
    assert "x-weft-sidecar: inbound" in head.lower(), (head, sidecar.ctx())
    assert json.loads(body)["server"] == "app"
    # No chain for 9090: the inbound passthrough, from 127.0.0.6, to the original port.
    body = json.loads(sh(["curl", "-sS", "--max-time", "5", "http://%s:9090/p" % pod.ip]).stdout)
    assert body["server"] == "admin" and body["client"].startswith("127.0.0.6:"), body
    assert sidecar.stat("cluster.InboundPassthroughCluster.upstream_cx_total") >= 1
    # 15021 is excluded: straight to the app, the sidecar never sees it.
    before = sidecar.stat("listener.0.0.0.0_15006.downstream_cx_total")
    body = json.loads(sh(["curl", "-sS", "--max-time", "5", "http://%s:15021/" % pod.ip]).stdout)
    assert body["server"] == "health" and not body["client"].startswith("127.0.0.6:"), body
    assert sidecar.stat("listener.0.0.0.0_15006.downstream_cx_total") == before


def test_registry_only_blocks_unknown_destinations(mesh):
    pod, tmp = mesh
    Sidecar(pod, tmp, registry_only=True)
    code, out = pod.curl("http://%s:8081/" % pod.host_ip)
    assert code != 0, "REGISTRY_ONLY must block a destination outside the mesh: %s" % out
    headers, body = http(pod, "http://%s:8080/" % pod.host_ip)  # known: still works
    assert body["server"] == "remote"


def test_weft_iptables_is_idempotent_and_cleans_up(mesh):
    pod, tmp = mesh
    args = [IPTABLES_BIN, "-d", "15090,15021,15020"]
    pod.run(args)
    first = pod.run(["iptables-save", "-t", "nat"]).stdout
    pod.run(args)
    second = pod.run(["iptables-save", "-t", "nat"]).stdout
    strip = lambda t: [l for l in t.splitlines() if not l.startswith("#")]
    assert strip(first) == strip(second)
    pod.run([IPTABLES_BIN, "--cleanup"])
    assert "ISTIO" not in pod.run(["iptables-save", "-t", "nat"]).stdout
    dry = subprocess.run([IPTABLES_BIN, "--dry-run", "-d", "15090,15021,15020"], stdout=subprocess.PIPE, text=True)
    assert dry.stdout.startswith("* nat\n-N ISTIO_INBOUND\n") and dry.stdout.endswith("COMMIT\n")
