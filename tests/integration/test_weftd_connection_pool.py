"""DestinationRule connectionPool through weftd, as Istio: its limits become the cluster's
circuit breakers (beyond them, 503 with flag UO), its connectTimeout and tcpKeepalive the
cluster's; without one, Istio's unlimited defaults."""

import concurrent.futures
import json
import types

import pytest

import weft_harness as wh
import weftd_harness as wd

NODE = "sidecar~127.0.0.1~client-cp.default~default.svc.cluster.local"
HOST = "slow.default.svc.cluster.local"


@pytest.fixture
def mesh(weft, tmp_path):
    slow = weft.echo("slow")
    port = wh.free_port()
    files = {"slow.yaml": wd.service_yaml("slow", port, [("slow-1", "v1", slow.port)])}
    with wd.sidecar(weft, tmp_path / "weftd", NODE, files) as (weftd, proxy):
        yield types.SimpleNamespace(weftd=weftd, proxy=proxy, port=port)


def cluster_json(proxy):
    dump = json.loads(proxy.admin("/config_dump").text)
    for c in dump["configs"]:
        for dc in c.get("dynamic_active_clusters", []):
            if dc["cluster"]["name"] == "outbound|%d||%s" % (0, HOST) or dc["cluster"]["name"].endswith("||" + HOST):
                return dc["cluster"]
    return None


def write_pool(mesh, settings):
    """A DestinationRule for the service with these connectionPool settings (YAML, indented)."""
    mesh.weftd.write("dr.yaml", """apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: slow, namespace: default}
spec:
  host: slow
  trafficPolicy:
    connectionPool:
""" + settings)


def concurrent_statuses(port, n, delay_ms=600):
    def one(_):
        return wh.http_request(port, "/", headers={"host": HOST, "x-echo-delay-ms": str(delay_ms)}, timeout=10).status
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return sorted(pool.map(one, range(n)))


def test_without_a_destination_rule_limits_are_istios_unlimited_defaults(mesh):
    assert wh.wait_for(lambda: cluster_json(mesh.proxy) is not None, 10)
    t = cluster_json(mesh.proxy)["circuit_breakers"]["thresholds"][0]
    assert t["max_connections"] == t["max_requests"] == t["max_retries"] == 4294967295, t
    assert concurrent_statuses(mesh.port, 4) == [200] * 4
    # Istio's thresholds track what remains: Envoy's circuit_breakers.default.* gauges.
    name = cluster_json(mesh.proxy)["name"]
    s = mesh.proxy.stats()
    assert s["cluster.%s.circuit_breakers.default.remaining_rq" % name] == 4294967295, s
    assert s["cluster.%s.circuit_breakers.default.rq_open" % name] == 0


def test_connection_pool_limits_overflow_with_503(mesh):
    write_pool(mesh, """      tcp: {maxConnections: 1, connectTimeout: 2s, tcpKeepalive: {time: 60s}}
      http: {http1MaxPendingRequests: 1, http2MaxRequests: 1}
""")
    assert wh.wait_for(lambda: (cluster_json(mesh.proxy) or {}).get("circuit_breakers", {}).get(
        "thresholds", [{}])[0].get("max_connections") == 1, 10)
    c = cluster_json(mesh.proxy)
    assert c["connect_timeout"] == "2s", c
    assert c["upstream_connection_options"]["tcp_keepalive"]["keepalive_time"] == 60, c
    statuses = concurrent_statuses(mesh.port, 4)
    assert statuses.count(200) >= 1 and statuses.count(503) >= 1, statuses
    assert any(k.endswith("upstream_rq_pending_overflow") and v > 0 for k, v in mesh.proxy.stats().items())
    name = c["name"]
    s = mesh.proxy.stats()
    assert s["cluster.%s.circuit_breakers.default.remaining_rq" % name] == 1, s  # no request in flight now
    assert s["cluster.%s.circuit_breakers.default.rq_open" % name] == 0
    assert s["cluster.%s.circuit_breakers.default.remaining_pending" % name] == 1


def test_max_requests_per_connection_and_idle_timeout_reach_the_cluster(mesh):
    write_pool(mesh, "      http: {maxRequestsPerConnection: 1, idleTimeout: 30s}\n")
    key = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    assert wh.wait_for(lambda: key in (cluster_json(mesh.proxy) or {}).get("typed_extension_protocol_options", {}), 10)
    c = cluster_json(mesh.proxy)
    common = c["typed_extension_protocol_options"][key]["common_http_protocol_options"]
    assert common == {"max_requests_per_connection": 1, "idle_timeout": "30s"}, common
    name = c["name"]
    before = mesh.proxy.stats().get("cluster.%s.upstream_cx_total" % name, 0)
    for _ in range(3):
        assert wh.http_request(mesh.port, "/", headers={"host": HOST}, timeout=10).status == 200
    s = mesh.proxy.stats()
    assert s["cluster.%s.upstream_cx_total" % name] - before == 3, s
    assert s["cluster.%s.upstream_cx_max_requests" % name] >= 3, s


def test_h2_upgrade_policy_and_use_client_protocol(weft, tmp_path):
    # An upstream that speaks only HTTP/2 (prior knowledge): a weft-proxy answering directly.
    up_port = wh.free_port()
    weft.start_proxy(wh.bootstrap(wh.free_port(), listeners=[wh.http_listener(
        "up", up_port, [wh.vhost("up", ["*"], [wh.direct(200, "h2 only")])], hcm_extra={"codec_type": "HTTP2"})]),
        concurrency=1)
    port = wh.free_port()
    files = {"h2.yaml": wd.service_yaml("h2only", port, [("h2-1", "v1", up_port)])}
    host = "h2only.default.svc.cluster.local"
    with wd.sidecar(weft, tmp_path / "weftd", NODE, files) as (weftd, proxy):
        def status():
            return wh.http_request(port, "/", headers={"host": host}, timeout=10).status

        # Istio's default (DO_NOT_UPGRADE for an HTTP port): HTTP/1.1 upstream, which it cannot answer.
        assert status() in (502, 503)
        def http_pool(settings):
            weftd.write("dr.yaml", "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
                        "metadata: {name: h2only, namespace: default}\nspec:\n  host: h2only\n"
                        "  trafficPolicy:\n    connectionPool: {http: {%s}}\n" % settings)

        http_pool("h2UpgradePolicy: UPGRADE, maxConcurrentStreams: 4")
        assert wh.wait_for(lambda: status() == 200, 10)
        # useClientProtocol: an HTTP/1.1 client means HTTP/1.1 upstream again.
        http_pool("h2UpgradePolicy: UPGRADE, useClientProtocol: true")
        assert wh.wait_for(lambda: status() in (502, 503), 10)
