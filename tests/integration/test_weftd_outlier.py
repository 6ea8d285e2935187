"""DestinationRule outlierDetection through weftd, with Istio's translation: consecutive5xxErrors
ejects a host that keeps answering 503 (and the good one takes every request), minHealthPercent
becomes the panic threshold (0, panic off, when unset), and a subset's outlierDetection replaces
the rule's."""

import json
import types

import pytest

import weft_harness as wh
import weftd_harness as wd
from failing_server import FailingServer

NODE = "sidecar~127.0.0.1~client-od.default~default.svc.cluster.local"
HOST = "flaky.default.svc.cluster.local"

DR = """apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: flaky, namespace: default}
spec:
  host: flaky
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 2, interval: 200ms, baseEjectionTime: 30s, maxEjectionPercent: 100}
"""


@pytest.fixture
def mesh(weft, tmp_path):
    good = weft.echo("good")
    bad = FailingServer(503)
    port = wh.free_port()
    files = {"flaky.yaml": wd.service_yaml("flaky", port, [("bad-1", "v1", bad.port), ("good-1", "v1", good.port)])}
    try:
        with wd.sidecar(weft, tmp_path / "weftd", NODE, files, concurrency=2) as (weftd, proxy):
            yield types.SimpleNamespace(weftd=weftd, proxy=proxy, port=port, bad=bad, good=good)
    finally:
        bad.shutdown()


def flaky_cluster(proxy):
    dump = json.loads(proxy.admin("/config_dump").text)
    for c in dump["configs"]:
        for dc in c.get("dynamic_active_clusters", []):
            if dc["cluster"]["name"].endswith("||" + HOST):
                return dc["cluster"]
    return None


def get(mesh):
    return wh.http_request(mesh.port, "/", headers={"host": HOST}, timeout=10).status


def test_consecutive_5xx_errors_eject_the_failing_endpoint(mesh):
    # Without a DestinationRule the bad endpoint keeps its share (no outlier detection).
    assert wh.wait_for(lambda: flaky_cluster(mesh.proxy) is not None, 10)
    assert "outlier_detection" not in flaky_cluster(mesh.proxy)
    # LEAST_REQUEST picks at random between idle hosts: the bad one answers about half of them
    # (fewer than 8 of 40 has a chance of about 1 in 100,000).
    codes = [get(mesh) for _ in range(40)]
    assert codes.count(503) >= 8, codes
    mesh.weftd.write("dr.yaml", DR)
    assert wh.wait_for(lambda: "outlier_detection" in (flaky_cluster(mesh.proxy) or {}), 10)
    c = flaky_cluster(mesh.proxy)
    assert c["outlier_detection"]["consecutive_5xx"] == 2, c
    assert c["outlier_detection"]["enforcing_consecutive_5xx"] == 100, c
    assert c["outlier_detection"]["enforcing_success_rate"] == 0, c
    assert c["common_lb_config"]["healthy_panic_threshold"].get("value", 0) == 0, c  # set, to 0
    name = c["name"]
    active = "cluster.%s.outlier_detection.ejections_active" % name
    codes = []
    while len(codes) < 40 and mesh.proxy.stats().get(active, 0) == 0:
        codes.append(get(mesh))
    assert mesh.proxy.stats().get(active) == 1, codes
    assert [get(mesh) for _ in range(10)] == [200] * 10
    text = mesh.proxy.admin("/clusters").text
    assert "%s::127.0.0.1:%d::health_flags::/failed_outlier_check" % (name, mesh.bad.port) in text


def test_bad_outlier_detection_is_refused_with_its_field(mesh):
    mesh.weftd.write("dr.yaml", DR.replace("maxEjectionPercent: 100", "maxEjectionPercent: 300"))
    expected = "spec.trafficPolicy.outlierDetection.maxEjectionPercent: must be 0-100, got 300"
    assert wh.wait_for(lambda: expected in mesh.weftd.get("/debug/configz"), 10), mesh.weftd.get("/debug/configz")
