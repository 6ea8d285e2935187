"""Tracing between two weft-proxy sidecars with envoy.tracers.zipkin, on HTTP/1.1 and HTTP/2: the
client's outbound chain starts a trace (a CLIENT span, Envoy's trace decision kept in
x-request-id), sends its B3 context upstream; the server's inbound chain continues it (a SERVER
span, child of the client's); both report Zipkin v2 JSON to the collector cluster, with Envoy's
and Istio's tags. The collector here is a small HTTP server that keeps what is POSTed to
/api/v2/spans (no Zipkin server is packaged for Debian); the spans are checked against Zipkin's
v2 model. 0% sampling: B3 headers still propagate with x-b3-sampled 0, and nothing is reported.
A caller's B3 context is continued, and its sampling decision kept."""

import http.server
import json
import re
import socketserver
import threading
import time
import uuid

import pytest

import weft_harness as wh
from both_protocols import PROTOCOLS, request

ZIPKIN_TYPE = "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig"
HEX = re.compile(r"^[0-9a-f]+$")


class Collector:
    """Keeps every span POSTed as a JSON list to /api/v2/spans."""

    def __init__(self):
        self.spans, self.posts, self.lock = [], [], threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with outer.lock:
                    outer.posts.append((self.path, self.headers.get("content-type"), self.headers.get("host")))
                    outer.spans.extend(json.loads(body))
                self.send_response(202)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = socketserver.ThreadingTCPServer((wh.LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, pred, timeout=12.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                got = [s for s in self.spans if pred(s)]
            if got:
                return got
            time.sleep(0.1)
        return []

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def tracing(sampling, canonical_service, w3c=False):
    t = {
        "random_sampling": {"value": sampling},
        "custom_tags": [{"tag": "istio.canonical_service", "literal": {"value": canonical_service}},
                        {"tag": "tenant", "request_header": {"name": "x-tenant", "default_value": "none"}}],
        "provider": {"name": "envoy.tracers.zipkin", "typed_config": {
            "@type": ZIPKIN_TYPE, "collector_cluster": "zipkin", "collector_endpoint": "/api/v2/spans",
            "collector_endpoint_version": "HTTP_JSON", "collector_hostname": "zipkin.istio-system.svc.cluster.local",
            "trace_id_128bit": True, "shared_span_context": False}},
    }
    if w3c:
        t["provider"]["typed_config"]["trace_context_option"] = "USE_B3_WITH_W3C_PROPAGATION"
    return t


def route(cluster, operation=None):
    r = wh.route_to(cluster)
    if operation:
        r["decorator"] = {"operation": operation}
    return r


@pytest.fixture(scope="module")
def mesh(weft_module):
    h = weft_module
    collector = Collector()
    app = h.echo("reviews-app")
    server_port, client_port, quiet_port = h.port(), h.port(), h.port()
    zipkin = wh.cluster("zipkin", [collector.port])

    server_hcm = wh.hcm_filter([wh.vhost("in", ["*"], [route("inbound|9080||", "reviews.default.svc.cluster.local:9080/*")])],
                               stat_prefix="inbound_9080")
    server_hcm["typed_config"]["tracing"] = tracing(100, "reviews")
    server_cfg = wh.bootstrap(h.port(), [wh.listener("virtualInbound", server_port, [server_hcm],
                                                     traffic_direction="INBOUND")],
                              [wh.cluster("inbound|9080||", [app.port]), zipkin],
                              node_id="sidecar~127.0.0.2~reviews-v1.default~default.svc.cluster.local",
                              node_cluster="reviews.default")
    server = h.start_proxy(server_cfg, name="server-sidecar")

    client_hcm = wh.hcm_filter([wh.vhost("out", ["*"], [route("outbound|9080||reviews.default.svc.cluster.local")])],
                               stat_prefix="outbound_9080")
    client_hcm["typed_config"]["tracing"] = tracing(100, "productpage")
    quiet_hcm = wh.hcm_filter([wh.vhost("out", ["*"], [route("outbound|9080||reviews.default.svc.cluster.local")])],
                              stat_prefix="outbound_quiet")
    quiet_hcm["typed_config"]["tracing"] = tracing(0, "productpage")
    w3c_port = h.port()
    w3c_hcm = wh.hcm_filter([wh.vhost("out", ["*"], [route("outbound|9080||reviews.default.svc.cluster.local")])],
                            stat_prefix="outbound_w3c")
    w3c_hcm["typed_config"]["tracing"] = tracing(100, "productpage", w3c=True)
    client_cfg = wh.bootstrap(h.port(), [
        wh.listener("0.0.0.0_9080", client_port, [client_hcm], traffic_direction="OUTBOUND"),
        wh.listener("quiet", quiet_port, [quiet_hcm], traffic_direction="OUTBOUND"),
        wh.listener("w3c", w3c_port, [w3c_hcm], traffic_direction="OUTBOUND"),
    ], [wh.cluster("outbound|9080||reviews.default.svc.cluster.local", [server_port]), zipkin],
        node_id="sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local",
        node_cluster="productpage.default")
    client = h.start_proxy(client_cfg, name="client-sidecar")
    yield type("Mesh", (), {"client": client, "server": server, "client_port": client_port,
                            "quiet_port": quiet_port, "w3c_port": w3c_port, "collector": collector})
    collector.close()


def check_zipkin_v2(span):
    """The fields of Zipkin's v2 span model, with their types."""
    assert HEX.match(span["traceId"]) and len(span["traceId"]) in (16, 32), span
    assert HEX.match(span["id"]) and len(span["id"]) == 16, span
    assert "parentId" not in span or (HEX.match(span["parentId"]) and len(span["parentId"]) == 16), span
    assert span["kind"] in ("CLIENT", "SERVER"), span
    assert isinstance(span["timestamp"], int) and span["timestamp"] > 1_600_000_000_000_000, span
    assert isinstance(span["duration"], int) and span["duration"] >= 0, span
    assert isinstance(span["localEndpoint"]["serviceName"], str), span
    assert all(isinstance(v, str) for v in span["tags"].values()), span


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_two_sidecars_one_trace(mesh, proto):
    r = request(proto, mesh.client_port, "/reviews/1?x=%s" % proto, host="reviews:9080", headers=["x-tenant: t1"])
    assert r.status == 200, r.describe()
    seen = json.loads(r.body)["headers"]
    # What the application behind the server sidecar received: the server span's context.
    trace_id, span_id = seen.get("x-b3-traceid"), seen.get("x-b3-spanid")
    assert trace_id and len(trace_id) == 32 and seen.get("x-b3-sampled") == "1", seen
    rid = seen["x-request-id"]
    assert rid[14] == "9", "the request id should carry Envoy's 'sampled' mark: %s" % rid
    # Both sidecars report (each on its own flush).
    wh.wait_for(lambda: len([s for s in list(mesh.collector.spans) if s["traceId"] == trace_id]) >= 2, 12)
    by_kind = {s["kind"]: s for s in mesh.collector.spans if s["traceId"] == trace_id}
    assert set(by_kind) == {"CLIENT", "SERVER"}, "expected a CLIENT and a SERVER span, got %r%s%s" % (
        by_kind, mesh.client.ctx(), mesh.server.ctx())
    client, server = by_kind["CLIENT"], by_kind["SERVER"]
    for s in (client, server):
        check_zipkin_v2(s)
    assert "parentId" not in client and client["id"] == trace_id[16:], client  # a root span
    assert server["parentId"] == client["id"], "the server span must be the client span's child"
    assert server["id"] == span_id and server["id"] != client["id"], (server, span_id)
    assert client["name"] == "egress reviews:9080", client
    assert server["name"] == "reviews.default.svc.cluster.local:9080/*", server  # the route's decorator
    assert client["localEndpoint"]["serviceName"] == "productpage.default", client
    assert server["localEndpoint"]["serviceName"] == "reviews.default", server
    ct, st = client["tags"], server["tags"]
    assert ct["guid:x-request-id"] == st["guid:x-request-id"] == rid, (ct, st)
    assert ct["http.status_code"] == st["http.status_code"] == "200", (ct, st)
    assert ct["upstream_cluster"] == "outbound|9080||reviews.default.svc.cluster.local", ct
    assert st["upstream_cluster"] == "inbound|9080||", st
    assert ct["istio.canonical_service"] == "productpage" and st["istio.canonical_service"] == "reviews", (ct, st)
    assert ct["tenant"] == "t1", ct
    assert ct["http.method"] == "GET" and ct["http.url"] == "http://reviews:9080/reviews/1?x=%s" % proto, ct
    assert ct["http.protocol"] == ("HTTP/1.1" if proto == "http1" else "HTTP/2"), ct
    assert ct["component"] == "proxy" and ct["node_id"].startswith("sidecar~127.0.0.1~productpage"), ct
    assert "error" not in ct, ct
    path, ctype, host = mesh.collector.posts[-1]
    assert (path, ctype, host) == ("/api/v2/spans", "application/json", "zipkin.istio-system.svc.cluster.local")


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_unsampled_requests_propagate_but_report_nothing(mesh, proto):
    rid = str(uuid.uuid4())
    r = request(proto, mesh.quiet_port, "/quiet", host="reviews:9080", headers=["x-request-id: " + rid])
    assert r.status == 200, r.describe()
    seen = json.loads(r.body)["headers"]
    # The client sidecar did not sample (0%); the server sidecar (100%) follows the caller's
    # x-b3-sampled: 0 rather than its own percentage.
    assert seen.get("x-b3-sampled") == "0" and seen.get("x-b3-traceid"), seen
    time.sleep(1.0)
    assert not [s for s in mesh.collector.spans if s["traceId"] == seen["x-b3-traceid"]], "an unsampled trace was reported"


def test_an_incoming_b3_context_is_continued(mesh):
    trace_id, parent = "463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312"
    r = request("http1", mesh.client_port, "/continued", host="reviews:9080",
                headers=["x-b3-traceid: " + trace_id, "x-b3-spanid: " + parent, "x-b3-sampled: 1"])
    assert r.status == 200, r.describe()
    seen = json.loads(r.body)["headers"]
    assert seen["x-b3-traceid"] == trace_id, seen
    spans = mesh.collector.wait_for(lambda s: s["traceId"] == trace_id and s["kind"] == "SERVER")
    client = mesh.collector.wait_for(lambda s: s["traceId"] == trace_id and s["kind"] == "CLIENT")
    assert spans and client, mesh.collector.spans[-4:]
    assert client[0]["parentId"] == parent and spans[0]["parentId"] == client[0]["id"], (client, spans)


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_w3c_traceparent_created_at_the_edge(mesh, proto):
    """USE_B3_WITH_W3C_PROPAGATION (Envoy 1.35, Istio 1.28's traceContextOption): a request with
    no context starts a trace, and the next hop gets a traceparent beside the B3 headers."""
    r = request(proto, mesh.w3c_port, "/w3c-new", host="reviews:9080", headers=["tracestate: vendor=1"])
    assert r.status == 200, r.describe()
    seen = json.loads(r.body)["headers"]
    tp = seen.get("traceparent", "")
    # The server sidecar (USE_B3) passes the client's traceparent through and writes its own B3.
    m = re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-01", tp)
    assert m, "expected a traceparent from the client sidecar: %r" % seen
    assert m.group(1) == seen["x-b3-traceid"], seen
    client = mesh.collector.wait_for(lambda s: s["traceId"] == m.group(1) and s["kind"] == "CLIENT")
    assert client and client[0]["id"] == m.group(2) == seen["x-b3-parentspanid"], (client, seen)
    assert seen.get("tracestate") == "vendor=1", seen  # passes through


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_w3c_traceparent_continued_without_b3(mesh, proto):
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    r = request(proto, mesh.w3c_port, "/w3c-continued", host="reviews:9080",
                headers=["traceparent: 00-%s-%s-01" % (trace_id, parent)])
    assert r.status == 200, r.describe()
    seen = json.loads(r.body)["headers"]
    assert seen["x-b3-traceid"] == trace_id, seen
    tp = seen["traceparent"]
    assert tp.startswith("00-%s-" % trace_id) and tp.endswith("-01") and parent not in tp, tp  # rewritten
    client = mesh.collector.wait_for(lambda s: s["traceId"] == trace_id and s["kind"] == "CLIENT")
    assert client and client[0]["parentId"] == parent, client
    # The B3-only listener leaves traceparent alone: it is not a context there.
    r = request(proto, mesh.client_port, "/b3-only", host="reviews:9080",
                headers=["traceparent: 00-%s-%s-01" % (trace_id, parent)])
    seen = json.loads(r.body)["headers"]
    assert seen["traceparent"] == "00-%s-%s-01" % (trace_id, parent) and seen["x-b3-traceid"] != trace_id, seen


def test_config_errors_name_the_field(weft):
    def validate(mutate):
        hcm = wh.hcm_filter([wh.vhost("v", ["*"], [wh.direct(200, "x")])])
        hcm["typed_config"]["tracing"] = tracing(10, "x")
        mutate(hcm["typed_config"]["tracing"])
        cfg = wh.bootstrap(weft.port(), [wh.listener("l", weft.port(), [hcm])], [wh.cluster("zipkin", [9])])
        return weft.validate(cfg)[1]
    r = validate(lambda t: t["provider"]["typed_config"].update(collector_endpoint_version="HTTP_PROTO"))
    assert r.returncode != 0 and "tracing.provider.typed_config.collector_endpoint_version: only HTTP_JSON is " \
        "supported by weft-proxy" in r.stderr, r.stderr
    r = validate(lambda t: t.update(random_sampling={"value": 150}))
    assert "tracing.random_sampling.value: must be between 0 and 100" in r.stderr, r.stderr
    r = validate(lambda t: t["custom_tags"].append({"tag": "m", "metadata": {"kind": {"request": {}}}}))
    assert "tracing.custom_tags[2].metadata: envoy.type.tracing.v3.CustomTag.Metadata is not supported" in r.stderr, \
        r.stderr
    assert validate(lambda t: None).returncode == 0
