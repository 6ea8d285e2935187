"""envoy.filters.http.fault on HTTP/1.1 and HTTP/2 (every case runs on both): fixed delays that
hold the request (body included) and then let it through, aborts with an HTTP status or a gRPC
status, percentages, header-controlled faults (x-envoy-fault-*), the upstream_cluster and
header conditions, max_active_faults, per-route configs (typed_per_filter_config) replacing the
listener's, the stats (http.<prefix>.fault.*) and the DI / FI response flags in the access log.
"""

import hashlib
import json
import threading
import time
import types

import pytest

import weft_harness as wh
from both_protocols import PROTOCOLS, request, status_classes

FAULT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"


def fault(**cfg):
    return dict({"@type": FAULT_TYPE}, **cfg)


def pct(n, denominator="HUNDRED"):
    return {"numerator": n, "denominator": denominator}


def route(prefix, fault_cfg=None, cluster="echo"):
    r = wh.route_to(cluster, prefix)
    if fault_cfg is not None:
        r["typed_per_filter_config"] = {"envoy.filters.http.fault": fault_cfg}
    return r


@pytest.fixture(scope="module")
def env(weft_module):
    echo = weft_module.echo()
    port, admin = weft_module.port(), weft_module.port()
    log = weft_module.path("access.log")
    routes = [
        route("/delay", fault(delay={"fixed_delay": "0.4s", "percentage": pct(100)})),
        route("/abort", fault(abort={"http_status": 503, "percentage": pct(100)})),
        route("/grpc-abort", fault(abort={"grpc_status": 14, "percentage": pct(100)})),
        route("/slow-abort", fault(delay={"fixed_delay": "0.3s", "percentage": pct(100)},
                                    abort={"http_status": 429, "percentage": pct(100)})),
        route("/half", fault(abort={"http_status": 500, "percentage": pct(5000, "TEN_THOUSAND")})),
        route("/other-cluster", fault(abort={"http_status": 503, "percentage": pct(100)},
                                      upstream_cluster="not-echo")),
        route("/if-header", fault(abort={"http_status": 503, "percentage": pct(100)},
                                  headers=[{"name": "x-break", "string_match": {"exact": "yes"}}])),
        route("/nodes", fault(abort={"http_status": 503, "percentage": pct(100)},
                              downstream_nodes=["node-a"])),
        route("/"),  # the listener's config: header control, at most 2 faults at once
    ]
    listener_fault = fault(abort={"header_abort": {}, "percentage": pct(100)},
                           delay={"header_delay": {}, "percentage": pct(100)},
                           max_active_faults=2)
    hcm = wh.hcm_filter([wh.vhost("all", ["*"], routes)], access_log=[wh.file_access_log(
        log, "%PROTOCOL% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%\n")])
    hcm["typed_config"]["http_filters"] = [
        {"name": "envoy.filters.http.fault", "typed_config": listener_fault}, wh.router_filter()]
    cfg = wh.bootstrap(admin, [wh.listener("main", port, [hcm])], [wh.cluster("echo", [echo.port])])
    proxy = weft_module.start_proxy(cfg)
    return types.SimpleNamespace(port=port, proxy=proxy, log=log)


def stat(env, name):
    return env.proxy.stats().get("http.ingress_http.fault." + name, 0)


def log_lines(env, path):
    match = lambda line: (" %s " % path) in line  # noqa: E731
    wh.wait_for_log(env.log, match)
    return [line for line in wh.read_lines(env.log) if match(line)]


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_fixed_delay_then_the_request_goes_through(env, proto):
    before = stat(env, "delays_injected")
    r = request(proto, env.port, "/delay/" + proto)
    assert r.status == 200, r.describe()
    assert r.elapsed >= 0.4, "not delayed: " + r.describe()
    assert json.loads(r.body)["path"] == "/delay/" + proto
    assert stat(env, "delays_injected") == before + 1
    line = log_lines(env, "/delay/" + proto)[-1]
    assert " 200 DI via_upstream" in line, line


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_a_delayed_request_keeps_its_body(env, proto):
    body = bytes(range(256)) * 1024 * 3  # 768 KiB arrive while the request is held
    r = request(proto, env.port, "/delay/body", method="POST", body=body)
    assert r.status == 200, r.describe()
    echoed = json.loads(r.body)
    assert echoed["body_len"] == len(body) and echoed["body_sha256"] == hashlib.sha256(body).hexdigest(), r.describe()
    assert r.elapsed >= 0.4, r.describe()


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_abort_with_http_status(env, proto):
    before = stat(env, "aborts_injected")
    r = request(proto, env.port, "/abort/" + proto)
    assert r.status == 503 and r.text == "fault filter abort", r.describe()
    assert stat(env, "aborts_injected") == before + 1
    line = log_lines(env, "/abort/" + proto)[-1]
    assert " 503 FI fault_filter_abort" in line, line


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_abort_with_grpc_status_is_trailers_only(env, proto):
    # No body: curl 7.88 may wait forever for a stream whose response ended before its upload.
    r = request(proto, env.port, "/grpc-abort/pkg.Svc/Method", method="POST",
                headers=["content-type: application/grpc", "te: trailers"])
    assert r.status == 200, r.describe()
    assert r.headers.get("grpc-status") == "14" and r.headers.get("content-type") == "application/grpc", r.describe()
    assert r.headers.get("grpc-message") == "fault filter abort", r.describe()


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_delay_then_abort(env, proto):
    r = request(proto, env.port, "/slow-abort")
    assert r.status == 429 and r.elapsed >= 0.3, r.describe()


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_percentage_aborts_about_half(env, proto):
    codes = status_classes(proto, env.port, "/half", 400)
    aborted = codes.get("5xx", 0)
    assert set(codes) <= {"2xx", "5xx"} and sum(codes.values()) == 400, codes
    # 50% of 400: far outside 140..260 is a broken draw (p < 1e-9 for a fair one).
    assert 140 <= aborted <= 260, "%d of 400 aborted at 50%%" % aborted


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_conditions_upstream_cluster_headers_and_nodes(env, proto):
    assert request(proto, env.port, "/other-cluster").status == 200
    assert request(proto, env.port, "/if-header").status == 200
    assert request(proto, env.port, "/if-header", headers=["x-break: yes"]).status == 503
    assert request(proto, env.port, "/nodes").status == 200
    assert request(proto, env.port, "/nodes", headers=["x-envoy-downstream-service-node: node-b"]).status == 200
    assert request(proto, env.port, "/nodes", headers=["x-envoy-downstream-service-node: node-a"]).status == 503


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_header_controlled_faults(env, proto):
    assert request(proto, env.port, "/plain").status == 200  # no fault headers: no fault
    r = request(proto, env.port, "/plain", headers=["x-envoy-fault-abort-request: 418"])
    assert r.status == 418, r.describe()
    r = request(proto, env.port, "/plain", headers=["x-envoy-fault-abort-request: 418",
                                                     "x-envoy-fault-abort-request-percentage: 0"])
    assert r.status == 200, r.describe()
    r = request(proto, env.port, "/plain", headers=["x-envoy-fault-abort-request: 99"])  # not in [200, 600)
    assert r.status == 200, r.describe()
    r = request(proto, env.port, "/plain", headers=["x-envoy-fault-delay-request: 300"])
    assert r.status == 200 and r.elapsed >= 0.3, r.describe()
    r = request(proto, env.port, "/grpc", method="POST", body=b"",
                headers=["x-envoy-fault-abort-grpc-request: 5", "content-type: application/grpc"])
    assert r.status == 200 and r.headers.get("grpc-status") == "5", r.describe()


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_max_active_faults(env, proto):
    """Two requests held by 1.5 s delays fill max_active_faults: 2; a third gets no fault."""
    overflow = stat(env, "faults_overflow")
    results = []

    def held():
        results.append(request(proto, env.port, "/held", headers=["x-envoy-fault-delay-request: 1500"]))
    threads = [threading.Thread(target=held) for _ in range(2)]
    for t in threads:
        t.start()
    wh.wait_for(lambda: stat(env, "active_faults") == 2, 5.0)
    r = request(proto, env.port, "/third", headers=["x-envoy-fault-abort-request: 503"])
    assert r.status == 200, "a fault past max_active_faults: " + r.describe()
    assert stat(env, "faults_overflow") == overflow + 1
    for t in threads:
        t.join()
    assert [x.status for x in results] == [200, 200] and all(x.elapsed >= 1.5 for x in results), \
        [x.describe() for x in results]
    assert env.proxy.wait_stat("http.ingress_http.fault.active_faults", 0) == 0


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_client_gone_during_a_delay(env, proto):
    """The client gives up while its request is held: the fault is released, nothing leaks."""
    args = ["--http1.1" if proto == "http1" else "--http2-prior-knowledge", "--max-time", "0.3",
            "-H", "x-envoy-fault-delay-request: 2000", "http://%s:%d/gone" % (wh.LOOPBACK, env.port)]
    r = wh.curl(args)
    assert r.returncode == 28, "curl should time out: rc=%d %s" % (r.returncode, r.stderr)
    assert env.proxy.wait_stat("http.ingress_http.fault.active_faults", 0) == 0
    assert request(proto, env.port, "/after").status == 200


def test_config_errors(weft):
    cases = [
        (fault(abort={"http_status": 700, "percentage": pct(100)}), "abort.http_status: must be in [200, 600)"),
        (fault(delay={"percentage": pct(100)}), "delay: one of fixed_delay or header_delay is required"),
        (fault(response_rate_limit={"fixed_limit": {"limit_kbps": 1}}), "response_rate_limit: not supported"),
    ]
    for cfg, expected in cases:
        hcm = wh.hcm_filter([wh.vhost("all", ["*"], [wh.direct(200)])])
        hcm["typed_config"]["http_filters"] = [{"name": "envoy.filters.http.fault", "typed_config": cfg},
                                               wh.router_filter()]
        _, r = weft.validate(wh.bootstrap(weft.port(), [wh.listener("main", weft.port(), [hcm])]))
        assert r.returncode != 0 and expected in r.stderr + r.stdout, (expected, r.stderr, r.stdout)
    # A per-route config of an unknown type is refused, unless optional.
    rt = wh.direct(200)
    rt["typed_per_filter_config"] = {"x": {"@type": "type.googleapis.com/google.protobuf.Struct"}}
    _, r = weft.validate(wh.bootstrap(weft.port(), [wh.http_listener("main", weft.port(), [wh.vhost("a", ["*"], [rt])])]))
    assert r.returncode != 0 and "typed_per_filter_config['x']" in r.stderr + r.stdout, r.stderr
