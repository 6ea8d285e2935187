"""Istio's telemetry between two weft-proxy sidecars, on HTTP/1.1 and HTTP/2 and TCP: the client's
outbound chain and the server's inbound chain exchange workload metadata
(istio.metadata_exchange, Istio's x-envoy-peer-metadata headers, removed before the application
and the client see them), and each side counts the request in Istio's standard metrics
(istio.stats) with Istio's labels: reporter source on the client, destination on the server,
workloads, versions, service, response code and flags; gRPC status; "unknown" for a peer without
metadata; Istio's TCP metrics (connections opened and closed, bytes each way) on tcp_proxy chains;
metric overrides (drop, tags_to_remove) and config errors."""

import socket

import json
import re

import pytest

import weft_harness as wh
from both_protocols import PROTOCOLS, request
from test_proxy_grpc import GrpcEchoServer, grpc_call

MX_TYPE = "type.googleapis.com/io.istio.http.peer_metadata.Config"
STATS_TYPE = "type.googleapis.com/stats.PluginConfig"


def mx(inbound):
    cfg = ({"downstream_discovery": [{"istio_headers": {}}, {"workload_discovery": {}}],
            "downstream_propagation": [{"istio_headers": {}}]} if inbound else
           {"upstream_discovery": [{"istio_headers": {}}, {"workload_discovery": {}}],
            "upstream_propagation": [{"istio_headers": {"skip_external_clusters": True}}]})
    return {"name": "istio.metadata_exchange", "typed_config": {
        "@type": "type.googleapis.com/xds.type.v3.TypedStruct", "type_url": MX_TYPE, "value": cfg}}


def stats_filter(**config):
    return {"name": "istio.stats", "typed_config": dict({"@type": STATS_TYPE}, **config)}


def node(name, workload, app, version, ns="default"):
    return {"id": "sidecar~127.0.0.1~%s.%s~%s.svc.cluster.local" % (name, ns, ns), "cluster": "%s.%s" % (app, ns),
            "metadata": {"NAME": name, "NAMESPACE": ns, "WORKLOAD_NAME": workload, "CLUSTER_ID": "Kubernetes",
                         "LABELS": {"app": app, "version": version}, "INTERCEPTION_MODE": "REDIRECT"}}


def istio_metadata(host, name, ns="default"):
    return {"filter_metadata": {"istio": {"services": [{"host": host, "name": name, "namespace": ns}]}}}


@pytest.fixture(scope="module")
def mesh(weft_module):
    h = weft_module
    app = h.echo("reviews-app")
    echo = h.tcp_server("echo")
    server_port, client_port, tcp_in, tcp_out = h.port(), h.port(), h.port(), h.port()
    reviews = istio_metadata("reviews.default.svc.cluster.local", "reviews")
    db = istio_metadata("db.default.svc.cluster.local", "db")

    server_hcm = wh.hcm_filter([wh.vhost("in", ["*"], [wh.route_to("inbound|9080||")])], stat_prefix="inbound_9080")
    server_hcm["typed_config"]["http_filters"] = [mx(True), stats_filter(disable_host_header_fallback=True),
                                                  wh.router_filter()]
    server_cfg = wh.bootstrap(h.port(), [
        wh.listener("virtualInbound", server_port, [server_hcm], traffic_direction="INBOUND"),
        # TCP: a tcp_proxy chain to a TCP echo, under Istio's TCP metrics.
        wh.listener("tcp_in", tcp_in, [stats_filter(), wh.tcp_proxy_filter("inbound|3306||", "inbound_3306")],
                    traffic_direction="INBOUND"),
    ], [wh.cluster("inbound|9080||", [app.port], metadata=reviews),
        wh.cluster("inbound|3306||", [echo.port], metadata=db)])
    server_cfg["node"] = node("reviews-v2-1", "reviews-v2", "reviews", "v2")
    server = h.start_proxy(server_cfg, name="server-sidecar")

    client_hcm = wh.hcm_filter([
        wh.vhost("gone", ["gone", "gone:*"], [wh.route_to("outbound|9080||gone.default.svc.cluster.local")]),
        wh.vhost("out", ["*"], [wh.route_to("outbound|9080||reviews.default.svc.cluster.local")]),
    ], stat_prefix="outbound_9080")
    client_hcm["typed_config"]["http_filters"] = [mx(False), stats_filter(), wh.router_filter()]
    client_cfg = wh.bootstrap(h.port(), [
        wh.listener("0.0.0.0_9080", client_port, [client_hcm], traffic_direction="OUTBOUND"),
        wh.listener("0.0.0.0_3306", tcp_out,
                    [stats_filter(), wh.tcp_proxy_filter("outbound|3306||db.default.svc.cluster.local", "out_3306")],
                    traffic_direction="OUTBOUND"),
    ], [wh.cluster("outbound|9080||reviews.default.svc.cluster.local", [server_port], metadata=reviews),
        wh.cluster("outbound|9080||gone.default.svc.cluster.local", [],
                   metadata=istio_metadata("gone.default.svc.cluster.local", "gone")),
        wh.cluster("outbound|3306||db.default.svc.cluster.local", [tcp_in], metadata=db)])
    client_cfg["node"] = node("productpage-v1-1", "productpage-v1", "productpage", "v1")
    client = h.start_proxy(client_cfg, name="client-sidecar")
    return type("Mesh", (), {"client": client, "server": server, "client_port": client_port,
                             "server_port": server_port, "app": app, "tcp_out": tcp_out})


def series(proxy, metric):
    """{frozenset(labels): value} of one metric in the proxy's /stats/prometheus."""
    text = proxy.admin("/stats/prometheus").text
    out = {}
    for line in text.splitlines():
        m = re.match(r'^%s\{(.*)\} (\S+)$' % re.escape(metric), line)
        if m:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1)))
            out[frozenset(labels.items())] = float(m.group(2))
    return out


def find(proxy, metric, **want):
    return sum(v for labels, v in series(proxy, metric).items() if all((k, w) in labels for k, w in want.items()))


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_exchange_and_standard_metrics(mesh, proto):
    before_src = find(mesh.client, "istio_requests_total", reporter="source", response_code="200")
    before_dst = find(mesh.server, "istio_requests_total", reporter="destination", response_code="200")
    r = request(proto, mesh.client_port, "/reviews/1", host="reviews:9080")
    assert r.status == 200, r.describe()
    seen = json.loads(r.body)["headers"]
    # The application never sees the exchange headers, nor does the client.
    assert not any(k.startswith("x-envoy-peer-metadata") for k in seen), seen
    assert not any(k.startswith("x-envoy-peer-metadata") for k in r.headers), r.headers
    want = dict(source_workload="productpage-v1", source_app="productpage", source_version="v1",
                source_workload_namespace="default", source_canonical_service="productpage",
                source_canonical_revision="v1", source_cluster="Kubernetes",
                destination_workload="reviews-v2", destination_app="reviews", destination_version="v2",
                destination_service="reviews.default.svc.cluster.local", destination_service_name="reviews",
                destination_service_namespace="default", destination_cluster="Kubernetes",
                request_protocol="http", response_code="200", response_flags="-", grpc_response_status="")
    assert wh.wait_for(lambda: find(mesh.client, "istio_requests_total", reporter="source", **want) > before_src, 3), \
        series(mesh.client, "istio_requests_total")
    assert find(mesh.server, "istio_requests_total", reporter="destination", connection_security_policy="none",
                source_principal="unknown", **want) == before_dst + 1, series(mesh.server, "istio_requests_total")
    assert find(mesh.client, "istio_request_duration_milliseconds_count", reporter="source") >= 1
    assert find(mesh.server, "istio_response_bytes_count", reporter="destination") >= 1
    assert find(mesh.server, "istio_request_duration_milliseconds_bucket", reporter="destination", le="+Inf") >= 1
    # Envoy's own request-time histograms, as Envoy names them.
    assert find(mesh.client, "envoy_cluster_upstream_rq_time_count",
                envoy_cluster_name="outbound|9080||reviews.default.svc.cluster.local") >= 1
    assert find(mesh.client, "envoy_http_downstream_rq_time_bucket", envoy_http_conn_manager_prefix="outbound_9080",
                le="+Inf") >= 1
    assert find(mesh.client, "envoy_cluster_upstream_cx_connect_ms_count",
                envoy_cluster_name="outbound|9080||reviews.default.svc.cluster.local") >= 1


def test_a_peer_without_metadata_is_unknown_and_codes_and_flags_land(mesh):
    r = request("http1", mesh.server_port, "/status/503", host="reviews:9080")
    assert r.status == 503, r.describe()
    # The server still tells the caller who it is.
    assert "x-envoy-peer-metadata" in r.headers and r.headers.get("x-envoy-peer-metadata-id", "").startswith(
        "sidecar~127.0.0.1~reviews-v2-1"), r.headers
    assert wh.wait_for(lambda: find(mesh.server, "istio_requests_total", reporter="destination",
                                    source_workload="unknown", source_app="unknown", response_code="503") >= 1, 3)
    # No healthy upstream: 503 with Envoy's flag UH, reported by the client with the service
    # from the cluster's metadata and an unknown destination workload.
    r = request("http1", mesh.client_port, "/x", host="gone:9080")
    assert r.status == 503, r.describe()
    assert wh.wait_for(lambda: find(mesh.client, "istio_requests_total", reporter="source", response_code="503",
                                    response_flags="UH", destination_workload="unknown",
                                    destination_service="gone.default.svc.cluster.local") == 1, 3), \
        series(mesh.client, "istio_requests_total")


def test_tcp_metrics(mesh):
    with socket.create_connection((wh.LOOPBACK, mesh.tcp_out), timeout=3) as sock:
        sock.sendall(b"x" * 1000)
        got = b""
        while len(got) < 1000:
            chunk = sock.recv(4096)
            assert chunk, got
            got += chunk
        assert wh.wait_for(lambda: find(mesh.client, "istio_tcp_connections_opened_total", reporter="source") >= 1, 3)
    common = dict(destination_service="db.default.svc.cluster.local", destination_service_name="db",
                  request_protocol="tcp", response_flags="-")
    assert wh.wait_for(lambda: find(mesh.client, "istio_tcp_connections_closed_total", reporter="source",
                                    source_workload="productpage-v1", destination_workload="unknown", **common) == 1, 3), \
        series(mesh.client, "istio_tcp_connections_closed_total")
    assert find(mesh.client, "istio_tcp_received_bytes_total", reporter="source", **common) == 1000
    assert find(mesh.client, "istio_tcp_sent_bytes_total", reporter="source", **common) == 1000
    assert wh.wait_for(lambda: find(mesh.server, "istio_tcp_received_bytes_total", reporter="destination",
                                    destination_workload="reviews-v2", source_workload="unknown",
                                    connection_security_policy="none", **common) == 1000, 3), \
        series(mesh.server, "istio_tcp_received_bytes_total")
    assert find(mesh.server, "istio_tcp_connections_opened_total", reporter="destination", **common) == 1
    # No response_code on TCP series, as Istio.
    assert all(("response_code", "200") not in labels for labels in series(mesh.server, "istio_tcp_sent_bytes_total"))


def test_grpc_messages(weft):
    """A gRPC stream counts its messages each way, and its grpc-status, as Istio."""
    server = GrpcEchoServer("telemetry", weft.workdir)
    try:
        port = weft.port()
        hcm = wh.hcm_filter([wh.vhost("in", ["*"], [wh.route_to("inbound|7070||")])], stat_prefix="inbound_7070")
        hcm["typed_config"]["http_filters"] = [mx(True), stats_filter(disable_host_header_fallback=True),
                                               wh.router_filter()]
        cfg = wh.bootstrap(weft.port(), [wh.listener("in", port, [hcm], traffic_direction="INBOUND")],
                           [wh.cluster("inbound|7070||", [server.port],
                                       metadata=istio_metadata("echo.default.svc.cluster.local", "echo"),
                                       typed_extension_protocol_options={
                                           "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                                               "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3."
                                                        "HttpProtocolOptions",
                                               "explicit_http_config": {"http2_protocol_options": {}}}})])
        cfg["node"] = node("echo-v1-1", "echo-v1", "echo", "v1")
        proxy = weft.start_proxy(cfg, name="grpc-sidecar")
        res = grpc_call(port, "client_stream", count=5, size=10, proxy=proxy)
        assert res["code"] == 0, res
        want = dict(reporter="destination", request_protocol="grpc", grpc_response_status="0",
                    destination_workload="echo-v1", destination_service="echo.default.svc.cluster.local")
        assert wh.wait_for(lambda: find(proxy, "istio_request_messages_total", **want) == 5, 3), \
            series(proxy, "istio_request_messages_total")
        assert find(proxy, "istio_response_messages_total", **want) == 1
        assert find(proxy, "istio_requests_total", response_code="200", **want) == 1
    finally:
        server.stop()


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_cel_dimensions(weft, proto):
    """Telemetry tagOverrides as istiod sends them (stats.PluginConfig dimensions): new labels
    and a standard label's value from CEL over the request; other metrics keep Istio's labels."""
    app = weft.echo("app")
    port = weft.port()
    hcm = wh.hcm_filter([wh.vhost("in", ["*"], [wh.route_to("inbound|9080||")])], stat_prefix="inbound_9080")
    hcm["typed_config"]["http_filters"] = [stats_filter(metrics=[{"name": "requests_total", "dimensions": {
        "request_host": "request.host", "user": "request.headers['x-user']",
        "destination_port": "string(destination.port)",
        "response_code": "response.code >= 500 ? 'error' : 'ok'"}}]), wh.router_filter()]
    cfg = wh.bootstrap(weft.port(), [wh.listener("virtualInbound", port, [hcm], traffic_direction="INBOUND")],
                       [wh.cluster("inbound|9080||", [app.port])])
    cfg["node"] = node("reviews-v2-1", "reviews-v2", "reviews", "v2")
    proxy = weft.start_proxy(cfg, name="sidecar")
    assert request(proto, port, "/x", host="reviews:9080", headers=["x-user: jason"]).status == 200
    assert request(proto, port, "/status/503", host="reviews:9080").status == 503
    ok = dict(request_host="reviews:9080", user="jason", destination_port=str(port), response_code="ok")
    assert wh.wait_for(lambda: find(proxy, "istio_requests_total", **ok) == 1, 3), \
        series(proxy, "istio_requests_total")
    assert find(proxy, "istio_requests_total", user="unknown", response_code="error",
                destination_workload="reviews-v2") == 1, series(proxy, "istio_requests_total")
    sizes = series(proxy, "istio_request_bytes_count")
    assert sizes and all("user" not in dict(labels) for labels in sizes), sizes


def test_config_errors_and_overrides(weft):
    def validate(filt):
        hcm = wh.hcm_filter([wh.vhost("all", ["*"], [wh.route_to("c")])])
        hcm["typed_config"]["http_filters"] = [filt, wh.router_filter()]
        cfg = wh.bootstrap(weft.port(), [wh.listener("l", weft.port(), [hcm])], [wh.cluster("c", [weft.port()])])
        return weft.validate(cfg)[1]
    r = validate(stats_filter(metrics=[{"dimensions": {"x": "request.hots"}}]))
    assert r.returncode != 0 and "metrics[0].dimensions[x]: invalid CEL expression 'request.hots': offset 7: " \
        "unknown attribute 'request.hots'" in r.stderr, r.stderr
    r = validate(stats_filter(metrics=[{"tags_to_remove": ["nope"]}]))
    assert "tags_to_remove: 'nope' is not one of Istio's labels" in r.stderr, r.stderr
    r = validate(stats_filter(reporter="SERVER_GATEWAY"))
    assert "reporter: SERVER_GATEWAY (waypoints) is not supported" in r.stderr, r.stderr
    bad = mx(True)
    bad["typed_config"]["value"]["downstream_discovery"] = [{"baggage": {}}]
    r = validate(bad)
    assert "'baggage' is not supported by weft-proxy" in r.stderr, r.stderr
    assert validate(stats_filter(metrics=[{"name": "request_bytes", "drop": True},
                                          {"tags_to_remove": ["response_flags"]}])).returncode == 0


MX_TYPE_TCP = "envoy.tcp.metadataexchange.config.MetadataExchange"


def tcp_mx():
    return {"name": "istio.metadata_exchange", "typed_config": {
        "@type": "type.googleapis.com/udpa.type.v1.TypedStruct", "type_url": MX_TYPE_TCP,
        "value": {"protocol": "istio-peer-exchange"}}}


@pytest.fixture(scope="module")
def tcp_mesh(weft_module, pki):
    """Two sidecars over mutual TLS with ALPN istio-peer-exchange, each with Istio's TCP metadata
    exchange (the server's network filter, the client's cluster filter) and TCP stats."""
    h = weft_module
    echo = h.tcp_server("echo")
    server_port, client_port = h.port(), h.port()
    db = istio_metadata("db.default.svc.cluster.local", "db")
    alpn = ["istio-peer-exchange", "istio"]
    server_cfg = wh.bootstrap(h.port(), [wh.listener("in_3306", server_port, filter_chains=[wh.filter_chain(
        [tcp_mx(), stats_filter(), wh.tcp_proxy_filter("inbound|3306||", "inbound_3306")],
        transport_socket=wh.downstream_tls(pki.server_spiffe.cert, pki.server_spiffe.key, trusted_ca=pki.ca.cert,
                                           require_client_certificate=True, alpn=alpn))],
        traffic_direction="INBOUND")], [wh.cluster("inbound|3306||", [echo.port], metadata=db)])
    server_cfg["node"] = node("db-v1-1", "db-v1", "db", "v1")
    server = h.start_proxy(server_cfg, name="tcp-server-sidecar")
    upstream = wh.cluster("outbound|3306||db.default.svc.cluster.local", [server_port], metadata=db,
                          transport_socket=wh.upstream_tls(trusted_ca=pki.ca.cert, cert=pki.client.cert,
                                                           key=pki.client.key, alpn=alpn))
    upstream["filters"] = [tcp_mx()]
    client_cfg = wh.bootstrap(h.port(), [wh.listener("out_3306", client_port, [
        stats_filter(tcp_reporting_duration="0.2s"),
        wh.tcp_proxy_filter("outbound|3306||db.default.svc.cluster.local", "outbound_3306")],
        traffic_direction="OUTBOUND")], [upstream])
    client_cfg["node"] = node("productpage-v1-1", "productpage-v1", "productpage", "v1")
    client = h.start_proxy(client_cfg, name="tcp-client-sidecar")
    return type("TcpMesh", (), {"client": client, "server": server, "client_port": client_port})


def test_tcp_metadata_exchange_names_both_peers(tcp_mesh):
    payload = b"select 1;" * 200
    with socket.create_connection((wh.LOOPBACK, tcp_mesh.client_port), timeout=5) as sock:
        sock.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = sock.recv(65536)
            assert chunk, "the echo stopped after %d bytes%s" % (len(got), tcp_mesh.client.ctx())
            got += chunk
        assert got == payload, "the exchange's frames must not reach the application"
    common = dict(destination_service="db.default.svc.cluster.local", request_protocol="tcp")
    # The client learnt the server's workload, the server the client's, from the exchange.
    assert wh.wait_for(lambda: find(tcp_mesh.client, "istio_tcp_connections_closed_total", reporter="source",
                                    source_workload="productpage-v1", destination_workload="db-v1",
                                    destination_app="db", **common) == 1, 5), \
        series(tcp_mesh.client, "istio_tcp_connections_closed_total")
    assert find(tcp_mesh.client, "istio_tcp_connections_opened_total", reporter="source",
                destination_workload="db-v1", **common) == 1
    # The source reporter's principals: its own and the server's identities on the mutual TLS.
    assert find(tcp_mesh.client, "istio_tcp_sent_bytes_total", reporter="source",
                source_principal="cluster.local/ns/default/sa/client",
                destination_principal="cluster.local/ns/default/sa/server",
                connection_security_policy="unknown", **common) == len(payload), \
        [sorted(k) for k in series(tcp_mesh.client, "istio_tcp_sent_bytes_total")]
    assert wh.wait_for(lambda: find(tcp_mesh.server, "istio_tcp_received_bytes_total", reporter="destination",
                                    source_workload="productpage-v1", source_app="productpage",
                                    destination_workload="db-v1", connection_security_policy="mutual_tls",
                                    **common) == len(payload), 5), \
        [sorted(k) for k in series(tcp_mesh.server, "istio_tcp_received_bytes_total")]
    # Envoy's connection-time histogram: one mutual TLS connection, handshake included.
    assert find(tcp_mesh.client, "envoy_cluster_upstream_cx_connect_ms_count",
                envoy_cluster_name="outbound|3306||db.default.svc.cluster.local") == 1
    stats = tcp_mesh.server.stats()
    assert stats.get("metadata_exchange.alpn_protocol_found") == 1 and stats.get("metadata_exchange.metadata_added") == 1, \
        {k: v for k, v in stats.items() if k.startswith("metadata_exchange.")}


def test_tcp_bytes_are_reported_while_the_connection_is_open(tcp_mesh):
    """tcp_reporting_duration (0.2 s on the client here; Istio's default is 5 s): a long-lived
    connection's bytes reach the metrics before it closes."""
    common = dict(reporter="source", destination_workload="db-v1", destination_service="db.default.svc.cluster.local")
    sent_before = find(tcp_mesh.client, "istio_tcp_received_bytes_total", **common)
    closed_before = find(tcp_mesh.client, "istio_tcp_connections_closed_total", **common)
    with socket.create_connection((wh.LOOPBACK, tcp_mesh.client_port), timeout=5) as sock:
        sock.sendall(b"z" * 5000)
        got = b""
        while len(got) < 5000:
            got += sock.recv(65536)
        assert wh.wait_for(lambda: find(tcp_mesh.client, "istio_tcp_received_bytes_total", **common)
                           == sent_before + 5000, 3), series(tcp_mesh.client, "istio_tcp_received_bytes_total")
        assert find(tcp_mesh.client, "istio_tcp_connections_closed_total", **common) == closed_before  # still open
    assert wh.wait_for(lambda: find(tcp_mesh.client, "istio_tcp_connections_closed_total", **common)
                       == closed_before + 1, 3)
    assert find(tcp_mesh.client, "istio_tcp_received_bytes_total", **common) == sent_before + 5000  # not twice
