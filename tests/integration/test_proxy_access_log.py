"""File access log (envoy.access_loggers.file): Envoy's default format and custom format strings."""

import calendar
import re
import time
import types

import pytest

import both_protocols as bp
import weft_harness as wh
from weft_harness import ISO_MS_RE, expect_status

CUSTOM_FORMAT = ("rid=%REQ(X-REQUEST-ID)% code=%RESPONSE_CODE% up=%UPSTREAM_HOST% "
                 "dur=%DURATION% start=%START_TIME% flags=%RESPONSE_FLAGS% "
                 "line=%REQ(:METHOD)%,%PROTOCOL%\n")

# Envoy's default format:
# [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
# %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%
# "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%"
# "%UPSTREAM_HOST%"\n
DEFAULT_RE = re.compile(
    r'^\[(?P<start>%s)\] "(?P<method>\S+) (?P<path>\S+) (?P<proto>\S+)" (?P<code>\d+) (?P<flags>\S+) '
    r'(?P<rx>\d+) (?P<tx>\d+) (?P<dur>\d+) (?P<ust>\d+|-) "(?P<xff>[^"]*)" "(?P<ua>[^"]*)" '
    r'"(?P<rid>[^"]*)" "(?P<authority>[^"]*)" "(?P<upstream>[^"]*)"$' % ISO_MS_RE)


# Istio's default format (pilot/pkg/model/telemetry_logging.go EnvoyTextLogFormat, Istio 1.2x),
# what weftd generates for meshConfig.accessLogFile.
ISTIO_FORMAT = (
    '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% '
    '%RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% '
    '"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% '
    '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" '
    '"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% '
    '%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% '
    '%REQUESTED_SERVER_NAME% %ROUTE_NAME%\n')
ADDR = r"\d+\.\d+\.\d+\.\d+:\d+"
ISTIO_RE = re.compile(
    r'^\[(?P<start>%s)\] "(?P<method>\S+) (?P<path>\S+) (?P<proto>\S+)" (?P<code>\d+) (?P<flags>\S+) '
    r'(?P<details>\S+) (?P<termination>\S+) "(?P<tfr>[^"]*)" (?P<rx>\d+) (?P<tx>\d+) (?P<dur>\d+) '
    r'(?P<ust>\d+|-) "(?P<xff>[^"]*)" "(?P<ua>[^"]*)" "(?P<rid>[^"]*)" "(?P<authority>[^"]*)" '
    r'"(?P<upstream>[^"]*)" (?P<cluster>\S+) (?P<up_local>%s|-) (?P<down_local>%s) (?P<down_remote>%s) '
    r'(?P<sni>\S+) (?P<route>\S+)$' % (ISO_MS_RE, ADDR, ADDR, ADDR))
A = "a.example.com"


@pytest.fixture(scope="module")
def env(weft_module, pki):
    h = weft_module
    echo = h.echo("echo")
    default_port, custom_port, istio_port, tls_port, admin = h.port(), h.port(), h.port(), h.port(), h.port()
    default_log, custom_log = h.path("default-access.log"), h.path("custom-access.log")
    istio_log = h.path("istio-access.log")
    routes = [wh.direct(200, "direct", prefix="/direct"), wh.route_to("echo")]
    istio_routes = [dict(wh.route_to("echo"), name="default")]
    istio_hcm = wh.hcm_filter([wh.vhost("all", ["*"], istio_routes)], None, "istio",
                              [wh.file_access_log(istio_log, ISTIO_FORMAT)])
    config = wh.bootstrap(admin, listeners=[
        wh.http_listener("default_fmt", default_port, [wh.vhost("all", ["*"], routes)],
                         access_log=[wh.file_access_log(default_log)]),
        wh.http_listener("custom_fmt", custom_port, [wh.vhost("all", ["*"], routes)],
                         access_log=[wh.file_access_log(custom_log, CUSTOM_FORMAT)]),
        wh.listener("istio_fmt", istio_port, [istio_hcm]),
        wh.listener("istio_tls", tls_port, listener_filters=[wh.tls_inspector()], filter_chains=[
            wh.filter_chain([istio_hcm], transport_socket=wh.downstream_tls(pki.server_a.cert, pki.server_a.key))]),
    ], clusters=[wh.cluster("echo", [echo.port])])
    proxy = h.start_proxy(config)
    return types.SimpleNamespace(harness=h, proxy=proxy, echo=echo, default_port=default_port,
                                 custom_port=custom_port, default_log=default_log,
                                 custom_log=custom_log, istio_port=istio_port, tls_port=tls_port,
                                 istio_log=istio_log, pki=pki)


def istio_line(env, rid):
    lines = wh.wait_for_log(env.istio_log, lambda l: '"%s"' % rid in l)
    assert lines, "no access log line for %s within 3 s; log has %r%s" % (
        rid, wh.read_lines(env.istio_log)[-5:], env.proxy.ctx())
    m = ISTIO_RE.match(lines[-1])
    assert m, "line does not follow Istio's default access log format:\n%r" % lines[-1]
    return m.groupdict()


@pytest.mark.parametrize("proto", bp.PROTOCOLS)
def test_istio_default_format(env, proto):
    rid = "rid-istio-" + proto
    r = bp.request(proto, env.istio_port, "/istio/path?q=1", method="POST", body=b"abc",
                   headers=["x-request-id: " + rid, "user-agent: weft-test/2"], host="reviews:9080")
    assert r.status == 200, r.describe()
    f = istio_line(env, rid)
    assert (f["method"], f["path"], f["code"], f["flags"]) == ("POST", "/istio/path?q=1", "200", "-"), f
    assert f["proto"] == ("HTTP/1.1" if proto == "http1" else "HTTP/2"), f
    assert (f["details"], f["termination"], f["tfr"]) == ("via_upstream", "-", "-"), f
    assert (f["rx"], f["ua"], f["authority"]) == ("3", "weft-test/2", "reviews:9080"), f
    assert f["upstream"] == env.echo.address and f["cluster"] == "echo", f
    # The upstream connection's own address: loopback, a port of its own, not the echo's.
    assert f["up_local"].startswith("127.0.0.1:") and f["up_local"] != env.echo.address, f
    assert f["down_local"] == "127.0.0.1:%d" % env.istio_port, f
    assert f["down_remote"].startswith("127.0.0.1:"), f
    assert (f["sni"], f["route"]) == ("-", "default"), f


def test_istio_format_names_the_sni(env):
    ctx = wh.tls_client_context(ca=env.pki.ca.cert)
    r, _, _ = wh.tls_request(env.tls_port, ctx, A, "/sni", headers={"x-request-id": "rid-istio-tls"})
    expect_status(r, 200, "TLS request", env.proxy)
    f = istio_line(env, "rid-istio-tls")
    assert f["sni"] == A and f["down_local"] == "127.0.0.1:%d" % env.tls_port, f


def test_default_format(env):
    body = b"0123456789"
    r = wh.http_request(env.default_port, "/logged/path?x=1", method="POST", body=body, headers={
        "Host": "logtest.example", "User-Agent": "weft-test/1.0", "x-request-id": "rid-default-1"})
    expect_status(r, 200, "request to be logged", env.proxy)
    lines = wh.wait_for_log(env.default_log, lambda l: "rid-default-1" in l)
    assert lines, "no access log line within 3 s; log has %r%s" % (
        wh.read_lines(env.default_log)[-5:], env.proxy.ctx())
    line = lines[-1]
    assert '"POST /logged/path?x=1 HTTP/1.1" 200 - ' in line, (
        "default format: expected '\"POST /logged/path?x=1 HTTP/1.1\" 200 - ' in %r" % line)
    m = DEFAULT_RE.match(line)
    assert m, "line does not follow Envoy's default access log format:\n%r" % line
    f = m.groupdict()
    assert (f["rx"], f["tx"]) == (str(len(body)), str(len(r.body))), (
        "BYTES_RECEIVED/BYTES_SENT: expected %d/%d, got %s/%s" % (len(body), len(r.body), f["rx"], f["tx"]))
    assert f["xff"] == "-" and f["ua"] == "weft-test/1.0" and f["authority"] == "logtest.example", f
    assert f["upstream"] == env.echo.address, "UPSTREAM_HOST: expected %s, got %r" % (env.echo.address, f["upstream"])


def test_custom_format(env):
    t_before = time.time()
    r = wh.http_request(env.custom_port, "/custom", headers={
        "x-request-id": "rid-custom-1", "x-echo-delay-ms": "200"})
    expect_status(r, 200, "request to be logged", env.proxy)
    lines = wh.wait_for_log(env.custom_log, lambda l: l.startswith("rid=rid-custom-1 "))
    assert lines, "no access log line within 3 s; log has %r%s" % (
        wh.read_lines(env.custom_log)[-5:], env.proxy.ctx())
    m = re.match(r"^rid=rid-custom-1 code=200 up=(?P<up>\S+) dur=(?P<dur>\d+) start=(?P<start>%s) "
                 r"flags=- line=GET,HTTP/1\.1$" % ISO_MS_RE, lines[-1])
    assert m, "custom format line %r does not match %r" % (lines[-1], CUSTOM_FORMAT)
    assert m.group("up") == env.echo.address, "UPSTREAM_HOST: expected %s, got %s" % (env.echo.address, m.group("up"))
    dur = int(m.group("dur"))
    assert 200 <= dur < 5000, "DURATION should cover the 200 ms upstream delay, got %d ms" % dur
    start = calendar.timegm(time.strptime(m.group("start")[:19], "%Y-%m-%dT%H:%M:%S"))
    assert abs(start - t_before) < 60, "START_TIME %s is not the request time (UTC)" % m.group("start")


def test_custom_format_generated_request_id_and_no_upstream(env):
    r = wh.http_request(env.custom_port, "/direct/x")
    expect_status(r, 200, "direct response", env.proxy)
    lines = wh.wait_for_log(env.custom_log, lambda l: " up=- " in l and "code=200" in l)
    assert lines, "expected a line with up=- for a direct response; log has %r%s" % (
        wh.read_lines(env.custom_log)[-5:], env.proxy.ctx())
    rid = lines[-1].split()[0][len("rid="):]
    assert wh.UUID_RE.match(rid), "REQ(X-REQUEST-ID) should be the generated UUID, got %r" % rid


def test_one_line_per_request(env):
    before = len(wh.read_lines(env.custom_log))
    for i in range(5):
        wh.http_request(env.custom_port, "/count/%d" % i, headers={"x-request-id": "rid-count-%d" % i})
    lines = wh.wait_for_log(env.custom_log, lambda l: l.startswith("rid=rid-count-"), count=5)
    assert sorted(l.split()[0] for l in lines) == ["rid=rid-count-%d" % i for i in range(5)], (
        "expected exactly one log line per request, got %r" % lines)
    assert len(wh.read_lines(env.custom_log)) == before + 5, "extra lines in the access log"


@pytest.mark.parametrize("proto", bp.PROTOCOLS)
def test_cel_filter_logs_only_what_it_selects(weft, proto):
    """Istio's Telemetry accessLogging filter, as istiod sends it: Envoy's CEL extension filter.
    Only the failed request and the one flagged by a header are written."""
    echo = weft.echo("echo")
    port, log = weft.port(), weft.path("filtered.log")
    al = wh.file_access_log(log, "%REQ(X-REQUEST-ID)% %RESPONSE_CODE%\n")
    al["filter"] = {"extension_filter": {"name": "envoy.access_loggers.extension_filters.cel", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter",
        "expression": "response.code >= 400 || request.headers['x-debug'] == 'on'"}}}
    routes = [wh.direct(503, "down", prefix="/down"), wh.route_to("echo")]
    proxy = weft.start_proxy(wh.bootstrap(weft.port(), listeners=[
        wh.http_listener("l", port, [wh.vhost("all", ["*"], routes)], access_log=[al])],
        clusters=[wh.cluster("echo", [echo.port])]))
    for rid, path, extra in (("plain", "/ok", []), ("debug", "/ok", ["x-debug: on"]), ("failed", "/down", [])):
        r = bp.request(proto, port, path, headers=["x-request-id: %s-%s" % (rid, proto)] + extra)
        assert r.status in (200, 503), r.describe()
    lines = wh.wait_for_log(log, lambda l: l.startswith("failed-"))
    assert lines, "no line for the failed request%s" % proxy.ctx()
    time.sleep(0.3)  # a line for the plain request would have been written with the others
    got = sorted(wh.read_lines(log))
    assert got == sorted(["debug-%s 200" % proto, "failed-%s 503" % proto]), got
