"""The stream's timers and bookkeeping are one code path for both codecs, so each case runs on
HTTP/1.1 and HTTP/2: request_timeout (the whole request must arrive in time: 408), the
stream_idle_timeout (408, flag SI), the route timeout (504 UT), and the x-request-id the proxy
generates reaching both the upstream and the access log."""

import json
import re
import socket
import time

import pytest

import weft_harness as wh
from both_protocols import PROTOCOLS, request
from h2_client import H2Conn, DATA

LOG_FORMAT = "%PROTOCOL% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %REQ(X-REQUEST-ID)%\n"


@pytest.fixture(scope="module")
def env(weft_module):
    echo = weft_module.echo()
    port, admin = weft_module.port(), weft_module.port()
    log = weft_module.path("access.log")
    routes = [wh.route_to("echo", "/slow-route", timeout="0.5s"), wh.route_to("echo", "/", timeout="0s")]
    listener = wh.http_listener("main", port, [wh.vhost("all", ["*"], routes)], access_log=[wh.file_access_log(log, LOG_FORMAT)],
                                hcm_extra={"request_timeout": "1s", "stream_idle_timeout": "1.5s"})
    proxy = weft_module.start_proxy(wh.bootstrap(admin, [listener], [wh.cluster("echo", [echo.port])]))
    return type("Env", (), {"port": port, "proxy": proxy, "log": log})


def log_line(env, path):
    lines = wh.wait_for_log(env.log, lambda l: (" %s " % path) in l)
    assert lines, "no access log line for %s in %s" % (path, wh.read_lines(env.log)[-5:])
    return lines[-1]


def partial_upload(proto, port, path):
    """Announces a 100-byte body, sends 10 bytes, then waits; returns (seconds to the answer, body)."""
    t0 = time.monotonic()
    if proto == "http1":
        with wh.RawConn(port) as c:
            c.sock.sendall(b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789" % path.encode())
            r = c.read_response(timeout=5)
            return time.monotonic() - t0, r.status, r.body
    with H2Conn(port) as c:
        c.request(1, path, method="POST", headers=[("content-length", "100")], more_body=True)
        c.send_frame(DATA, 0, 1, b"0123456789")
        assert c.read_until(lambda x: x.done(1), timeout=5), c.frames
        return time.monotonic() - t0, None, bytes(c.streams[1]["data"])


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_request_timeout(env, proto):
    before = env.proxy.stats().get("http.ingress_http.downstream_rq_timeout", 0)
    elapsed, status, body = partial_upload(proto, env.port, "/upload-" + proto)
    assert 0.9 <= elapsed < 1.5, elapsed
    assert body == b"request timeout" and status in (None, 408), (status, body)
    line = log_line(env, "/upload-" + proto)
    assert " 408 - request_overall_timeout " in line, line
    assert env.proxy.stats().get("http.ingress_http.downstream_rq_timeout", 0) == before + 1


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_stream_idle_timeout(env, proto):
    r = request(proto, env.port, "/idle-" + proto, headers=["x-echo-delay-ms: 4000"])
    assert r.status == 408 and r.text == "stream timeout" and 1.4 <= r.elapsed < 2.5, r.describe()
    assert " 408 SI stream_idle_timeout " in log_line(env, "/idle-" + proto)


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_route_timeout(env, proto):
    r = request(proto, env.port, "/slow-route/" + proto, headers=["x-echo-delay-ms: 3000"])
    assert r.status == 504 and r.text == "upstream request timeout" and r.elapsed < 1.4, r.describe()
    assert " 504 UT response_timeout " in log_line(env, "/slow-route/" + proto)


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_generated_request_id_reaches_upstream_and_access_log(env, proto):
    r = request(proto, env.port, "/rid-" + proto)
    assert r.status == 200, r.describe()
    sent = json.loads(r.body)["headers"]["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", sent), sent
    assert log_line(env, "/rid-" + proto).endswith(" " + sent)
    # The client's own id is kept (not the edge: use_remote_address is off).
    r = request(proto, env.port, "/rid2-" + proto, headers=["x-request-id: mine-1"])
    assert json.loads(r.body)["headers"]["x-request-id"] == "mine-1"
    assert log_line(env, "/rid2-" + proto).endswith(" mine-1")
