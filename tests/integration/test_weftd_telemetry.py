"""Istio's mesh config and Telemetry API through weftd to a weft-proxy sidecar, on HTTP/1.1 and
HTTP/2: the `istio` ConfigMap's accessLogFile gives the sidecar Istio's default access log
(text, then JSON), a Telemetry turns it off for the workload, a bad mesh config is rejected with
the field named while the last good one stays in force, and `--mesh-config` takes the same YAML
from a file (a bad one stops weftd with the field named)."""

import json
import re
import subprocess
import time
import types

import pytest

import weft_harness as wh
import weftd_harness as wd
from both_protocols import PROTOCOLS, request

NODE = "sidecar~127.0.0.1~client-tl.default~default.svc.cluster.local"
HOST = "shop.default.svc.cluster.local"


def mesh_config_map(mesh):
    return ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\n"
            "data:\n  mesh: |\n" + "".join("    %s\n" % line for line in mesh.strip().splitlines()))


@pytest.fixture(scope="module")
def mesh(weft_module, tmp_path_factory):
    weft = weft_module
    shop = weft.echo("shop-1")
    port = wh.free_port()
    workdir = tmp_path_factory.mktemp("weftd")
    log = workdir / "access.log"
    files = {"shop.yaml": wd.service_yaml("shop", port, [("shop-1", "v1", shop.port)]),
             "istio.yaml": mesh_config_map("accessLogFile: %s" % log)}
    with wd.sidecar(weft, workdir, NODE, files, labels={"app": "client"}) as (weftd, proxy):
        yield types.SimpleNamespace(weftd=weftd, proxy=proxy, port=port, log=log, shop=shop)


def wait_line(path, needle, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for line in (path.read_text().splitlines() if path.exists() else []):
            if needle in line:
                return line
        time.sleep(0.05)
    return None


def reload(mesh, name, text):
    """Writes a config file and waits until weftd has reloaded and pushed."""
    before = mesh.weftd.log_text().count("; pushed")
    mesh.weftd.write(name, text)
    assert wh.wait_for(lambda: mesh.weftd.log_text().count("; pushed") > before, 10), mesh.weftd.log_text()[-2000:]


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_mesh_access_log_file_in_istios_format(mesh, proto):
    rid = "rid-text-" + proto
    r = request(proto, mesh.port, "/buy?x=1", host=HOST, headers=["x-request-id: " + rid])
    assert r.status == 200, r.describe()
    line = wait_line(mesh.log, rid)
    assert line, "no access log line in %s%s" % (mesh.log, mesh.proxy.ctx())
    expected = r'^\[\S+Z\] "GET /buy\?x=1 %s" 200 - via_upstream - "-" 0 \d+ \d+ (\d+|-) "-" "curl/\S+" "%s" "%s" ' \
               r'"%s" outbound\|%d\|\|%s 127\.0\.0\.1:\d+ 127\.0\.0\.1:%d 127\.0\.0\.1:\d+ - \S+$' % (
                   "HTTP/1.1" if proto == "http1" else "HTTP/2", rid, HOST, re.escape(mesh.shop.address), mesh.port,
                   re.escape(HOST), mesh.port)
    assert re.match(expected, line), "not Istio's default format:\n%s\nexpected %s" % (line, expected)


def test_json_encoding_then_telemetry_off_then_a_bad_mesh_config_keeps_the_last_good(mesh):
    reload(mesh, "istio.yaml", mesh_config_map("accessLogFile: %s\naccessLogEncoding: JSON" % mesh.log))
    line = None
    for i in range(20):  # until the pushed listener serves
        rid = "rid-json-%d" % i
        request("http1", mesh.port, "/json", host=HOST, headers=["x-request-id: " + rid])
        line = wait_line(mesh.log, rid, 1.0)
        if line and line.startswith("{"):
            break
    assert line and line.startswith("{"), "no JSON line: %r%s" % (line, mesh.proxy.ctx())
    entry = json.loads(line)
    assert entry["response_code"] == 200 and entry["method"] == "GET" and entry["path"] == "/json", entry
    assert entry["upstream_cluster"] == "outbound|%d||%s" % (mesh.port, HOST), entry
    assert len(entry) == 24, sorted(entry)

    # An invalid mesh config is rejected by field; the JSON log stays.
    mesh.weftd.write("istio.yaml", mesh_config_map("accessLogFile: %s\naccessLogFiles: oops" % mesh.log))
    assert wh.wait_for(lambda: "data.mesh: meshConfig.accessLogFiles: not supported by weftd"
                       in mesh.weftd.log_text(), 10), mesh.weftd.log_text()[-2000:]
    request("http1", mesh.port, "/still", host=HOST, headers=["x-request-id: rid-still"])
    line = wait_line(mesh.log, "rid-still")
    assert line and json.loads(line)["path"] == "/still", line

    # A Telemetry for the workload turns its access log off.
    reload(mesh, "istio.yaml", mesh_config_map("accessLogFile: %s" % mesh.log))
    reload(mesh, "telemetry.yaml", """apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: quiet, namespace: default}
spec:
  selector: {matchLabels: {app: client}}
  accessLogging: [{disabled: true}]
""")
    time.sleep(1.0)  # the proxy applies the pushed listeners
    before = len(mesh.log.read_text().splitlines())
    request("http1", mesh.port, "/quiet", host=HOST, headers=["x-request-id: rid-quiet"])
    time.sleep(0.5)
    assert wait_line(mesh.log, "rid-quiet", 1.0) is None, mesh.log.read_text().splitlines()[before:]
    mesh.weftd.remove("telemetry.yaml")
    reload(mesh, "istio.yaml", mesh_config_map("accessLogFile: %s" % mesh.log))


def test_mesh_config_file_errors_name_the_field(tmp_path):
    bad = tmp_path / "mesh.yaml"
    bad.write_text("accessLogEncoding: XML\nextensionProviders:\n- name: o\n  opentelemetry: {service: o, port: 4317}\n")
    (tmp_path / "mesh").mkdir()
    r = subprocess.run([str(wd.weftd_binary()), "--config-dir", str(tmp_path / "mesh"), "--mesh-config", str(bad),
                        "--grpc-addr", "127.0.0.1:%d" % wh.free_port(), "--http-addr",
                        "127.0.0.1:%d" % wh.free_port()], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1, r
    assert "meshConfig.accessLogEncoding: 'XML' is not one of TEXT, JSON" in r.stderr, r.stderr
    assert "meshConfig.extensionProviders[0].opentelemetry: this provider type is not supported by weftd" in r.stderr, \
        r.stderr


def test_telemetry_tracing_to_a_zipkin_provider(mesh):
    """meshConfig.extensionProviders zipkin + a Telemetry `tracing` entry: the sidecar's outbound
    HCM gets envoy.tracers.zipkin with the provider's service as its collector cluster, Istio's
    sampling and tags, and the route's decorator names the span."""
    from test_tracing_zipkin import Collector
    collector = Collector()
    try:
        zport = wh.free_port()
        reload(mesh, "zipkin.yaml", wd.service_yaml("zipkin", zport, [("zipkin-1", "v1", collector.port)],
                                                     namespace="istio-system"))
        reload(mesh, "istio.yaml", mesh_config_map(
            "accessLogFile: %s\nextensionProviders:\n- name: zipkin\n  zipkin: {service: "
            "zipkin.istio-system.svc.cluster.local, port: %d, traceContextOption: USE_B3_WITH_W3C_PROPAGATION}"
            % (mesh.log, zport)))
        reload(mesh, "tracing.yaml", """apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing:
  - providers: [{name: zipkin}]
    randomSamplingPercentage: 100
    customTags:
      team: {literal: {value: shop-team}}
""")
        spans = []
        for i in range(20):  # until the pushed listener serves, then the reporter's flush (5 s)
            r = request("http1", mesh.port, "/traced/%d" % i, host=HOST)
            assert r.status == 200, r.describe()
            seen = json.loads(r.body)["headers"]
            if seen.get("x-b3-sampled") == "1":
                spans = collector.wait_for(lambda s: s["kind"] == "CLIENT")
                break
            time.sleep(0.3)
        assert spans, "no span reached the collector%s" % mesh.proxy.ctx()
        span = spans[-1]
        assert span["name"] == "%s:%d/*" % (HOST, mesh.port), span
        tags = span["tags"]
        assert tags["upstream_cluster"] == "outbound|%d||%s" % (mesh.port, HOST), tags
        assert (tags["istio.canonical_service"], tags["istio.namespace"], tags["team"]) == (
            "client", "default", "shop-team"), tags
        assert len(span["traceId"]) == 32, span  # 128-bit unless enable64bitTraceId
        # traceContextOption USE_B3_WITH_W3C_PROPAGATION: a W3C traceparent beside B3.
        assert seen.get("traceparent") == "00-%s-%s-01" % (seen["x-b3-traceid"], seen["x-b3-spanid"]), seen
    finally:
        mesh.weftd.remove("tracing.yaml")
        mesh.weftd.remove("zipkin.yaml")
        reload(mesh, "istio.yaml", mesh_config_map("accessLogFile: %s" % mesh.log))
        collector.close()


def test_telemetry_cel_tag_overrides_and_log_filter(mesh):
    """A Telemetry's CEL through weftd: tagOverrides values become labels of the sidecar's
    istio_requests_total, and an accessLogging filter keeps only the failed requests."""
    reload(mesh, "istio.yaml", mesh_config_map(
        "extensionProviders:\n- name: file-log\n  envoyFileAccessLog: {path: %s}" % mesh.log))
    reload(mesh, "cel.yaml", """apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: cel, namespace: default}
spec:
  selector: {matchLabels: {app: client}}
  accessLogging:
  - providers: [{name: file-log}]
    filter: {expression: "response.code >= 400"}
  metrics:
  - overrides:
    - match: {metric: REQUEST_COUNT}
      tagOverrides:
        request_host: {value: request.host}
        request_operation: {value: "request.method + ' ' + request.url_path"}
""")
    try:
        seen = False
        for i in range(20):  # until the pushed listener serves
            request("http1", mesh.port, "/status/404", host=HOST, headers=["x-request-id: rid-cel-404-%d" % i])
            request("http1", mesh.port, "/tagged?q=1", host=HOST, headers=["x-request-id: rid-cel-ok-%d" % i])
            if wait_line(mesh.log, "rid-cel-404-%d" % i, 0.5):
                seen = True
                break
        assert seen, "no line for the failed request%s" % mesh.proxy.ctx()
        time.sleep(0.3)
        text = mesh.log.read_text()
        assert "rid-cel-ok-%d" % i not in text, text.splitlines()[-3:]
        prom = mesh.proxy.admin("/stats/prometheus").text
        want = 'request_host="%s"' % HOST
        lines = [l for l in prom.splitlines() if l.startswith("istio_requests_total{") and want in l
                 and 'request_operation="GET /tagged"' in l]
        assert lines, [l for l in prom.splitlines() if l.startswith("istio_requests_total")][-3:]
    finally:
        mesh.weftd.remove("cel.yaml")
        reload(mesh, "istio.yaml", mesh_config_map("accessLogFile: %s" % mesh.log))
