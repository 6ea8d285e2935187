"""Locality load balancing through weftd, with Istio's translation for a proxy in us/a (its
istio-locality label): with outlierDetection, endpoints get priorities by nearness (same zone,
same region, elsewhere) and traffic fails over when the near one is ejected; localityLbSetting
distribute splits traffic by weight; retryRemoteLocalities moves retries to the next priority."""

import json
import types

import pytest

import weft_harness as wh
import weftd_harness as wd
from failing_server import FailingServer

NODE = "sidecar~127.0.0.1~client-geo.default~default.svc.cluster.local"
HOST = "geo.internal"


def service_entry(port, near, mid, far):
    return """apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: geo, namespace: default}
spec:
  hosts: [geo.internal]
  location: MESH_INTERNAL
  ports: [{number: %d, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {http: %d}, locality: us/a}
  - {address: 127.0.0.1, ports: {http: %d}, locality: us/b}
  - {address: 127.0.0.1, ports: {http: %d}, locality: eu/c}
""" % (port, near, mid, far)


def rule(traffic_policy):
    return ("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: geo, namespace: default}\n"
            "spec:\n  host: geo.internal\n  trafficPolicy:\n" + traffic_policy)


@pytest.fixture
def mesh(weft, tmp_path):
    mid, far = weft.echoes("mid", "far")
    near = FailingServer(503)
    port = wh.free_port()
    files = {"geo.yaml": service_entry(port, near.port, mid.port, far.port)}
    try:
        with wd.sidecar(weft, tmp_path / "weftd", NODE, files, concurrency=2,
                        labels={"app": "client", "istio-locality": "us.a"}) as (weftd, proxy):
            yield types.SimpleNamespace(weftd=weftd, proxy=proxy, port=port, near=near)
    finally:
        near.shutdown()


def priorities(mesh):
    """{endpoint port: priority} of the geo cluster, from the proxy's EDS config dump."""
    dump = json.loads(mesh.proxy.admin("/config_dump?include_eds").text)
    for c in dump["configs"]:
        for e in c.get("dynamic_endpoint_configs", []):
            cla = e["endpoint_config"]
            if cla["cluster_name"].endswith("||" + HOST):
                return {lbe["endpoint"]["address"]["socket_address"]["port_value"]: g.get("priority", 0)
                        for g in cla.get("endpoints", []) for lbe in g.get("lb_endpoints", [])}
    return {}


def who(mesh, n):
    got = {}
    for _ in range(n):
        r = wh.http_request(mesh.port, "/", headers={"host": HOST}, timeout=10)
        key = json.loads(r.body)["server"] if r.body.startswith(b"{") else r.status
        got[key] = got.get(key, 0) + 1
    return got


def test_outlier_detection_turns_on_locality_failover(mesh):
    # Without outlier detection Istio leaves every locality at priority 0.
    assert wh.wait_for(lambda: len(priorities(mesh)) == 3, 10)
    assert set(priorities(mesh).values()) == {0}
    mesh.weftd.write("dr.yaml", rule("    outlierDetection: {consecutive5xxErrors: 1, interval: 200ms, "
                                     "baseEjectionTime: 30s, maxEjectionPercent: 100}\n"))
    assert wh.wait_for(lambda: sorted(priorities(mesh).values()) == [0, 1, 2], 10), priorities(mesh)
    assert priorities(mesh)[mesh.near.port] == 0
    # The near endpoint answers 503 once, is ejected, and the same region (us/b) takes it all.
    assert who(mesh, 1) == {503: 1}
    assert mesh.proxy.wait_stat("cluster.outbound|%d||%s.outlier_detection.ejections_active" % (mesh.port, HOST), 1) == 1
    assert who(mesh, 10) == {"mid": 10}


def test_distribute_splits_traffic_by_locality_weight(mesh):
    mesh.weftd.write("dr.yaml", rule("    loadBalancer:\n      localityLbSetting:\n        distribute:\n"
                                     "        - from: us/a/*\n          to: {\"us/b/*\": 75, \"eu/*\": 25}\n"))

    def weighted():
        c = [cl for cl in json.loads(mesh.proxy.admin("/config_dump").text)["configs"][1]
             .get("dynamic_active_clusters", []) if cl["cluster"]["name"].endswith("||" + HOST)]
        return c and "locality_weighted_lb_config" in c[0]["cluster"].get("common_lb_config", {})

    assert wh.wait_for(weighted, 10)
    got = who(mesh, 80)
    assert 503 not in got, got  # us/a is not in `to`: no traffic
    assert 50 <= got.get("mid", 0) <= 70 and got.get("far", 0) >= 10, got


@pytest.mark.parametrize("remote", [False, True])
def test_retry_remote_localities_retries_in_the_next_priority(mesh, remote):
    mesh.weftd.write("dr.yaml", rule("    outlierDetection: {consecutive5xxErrors: 1000}\n"))
    mesh.weftd.write("vs.yaml", """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: geo, namespace: default}
spec:
  hosts: [geo.internal]
  http:
  - route: [{destination: {host: geo.internal}}]
    retries: {attempts: 2, retryOn: 5xx, retryRemoteLocalities: %s}
""" % ("true" if remote else "false"))
    assert wh.wait_for(lambda: sorted(priorities(mesh).values()) == [0, 1, 2], 10), priorities(mesh)

    def route_ready():
        text = mesh.proxy.admin("/config_dump").text
        return ("previous_priorities" in text) == remote and '"num_retries": 2' in text

    assert wh.wait_for(route_ready, 10)
    # Three attempts: P0, P0, then (every 2 attempts, Istio's frequency) the tried priority is
    # set aside and P1 answers. Without retryRemoteLocalities all three go to the near endpoint.
    before = mesh.near.count
    assert who(mesh, 4) == ({"mid": 4} if remote else {503: 4})
    assert mesh.near.count - before == (8 if remote else 12)
