"""Malformed requests get a 4xx and a closed connection, and the proxy keeps serving others."""

import types

import pytest

import weft_harness as wh
from weft_harness import expect_status


@pytest.fixture(scope="module")
def env(weft_module):
    h = weft_module
    echo = h.echo("echo")
    port, admin = h.port(), h.port()
    config = wh.bootstrap(admin, listeners=[
        wh.http_listener("main", port, [wh.vhost("all", ["*"], [wh.route_to("echo")])],
                         hcm_extra={"max_request_headers_kb": 8})],
        clusters=[wh.cluster("echo", [echo.port])])
    proxy = h.start_proxy(config)
    return types.SimpleNamespace(harness=h, proxy=proxy, port=port, echo=echo)


def send_raw(env, data):
    """Send bytes on a new connection; return (response, closed_after)."""
    with wh.RawConn(env.port) as c:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the proxy may reject and close before reading everything
        r = c.read_response(timeout=5)
        closed = c.wait_closed(3)
    return r, closed


def expect_rejected(env, data, status, what):
    r, closed = send_raw(env, data)
    assert r.status == status, "%s: expected HTTP %d, got %s%s" % (what, status, r.describe(), env.proxy.ctx())
    assert closed, "%s: the proxy should close the connection after a %d" % (what, status)
    # the proxy keeps serving other connections
    ok = wh.http_request(env.port, "/after-bad-request")
    expect_status(ok, 200, "a good request after: %s" % what, env.proxy)


def test_content_length_and_transfer_encoding_conflict_is_400(env):
    expect_rejected(env, b"POST /smuggle HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
                    "Content-Length together with Transfer-Encoding: chunked")


def test_two_different_content_lengths_is_400(env):
    expect_rejected(env, b"POST /cl HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                         b"Content-Length: 6\r\n\r\nhello!", 400, "two different Content-Length values")


@pytest.mark.parametrize("header_line", [
    b"Bad Header: x",         # space inside a field name
    b"X-Bad\x01Name: y",      # control byte inside a field name
    b"X-Bad(Name): y",        # separator inside a field name
])
def test_invalid_header_name_is_400(env, header_line):
    expect_rejected(env, b"GET / HTTP/1.1\r\nHost: x\r\n" + header_line + b"\r\n\r\n", 400,
                    "invalid header name %r" % header_line)


def test_garbage_request_line_is_400(env):
    expect_rejected(env, b"THIS IS NOT HTTP\r\n\r\n", 400, "garbage request line")


def test_invalid_content_length_is_400(env):
    expect_rejected(env, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400,
                    "non-numeric Content-Length")


def test_headers_larger_than_limit_is_431(env):
    filler = "".join("X-Filler-%02d: %s\r\n" % (i, "v" * 1000) for i in range(16))  # ~16 KB
    data = ("GET /big HTTP/1.1\r\nHost: x\r\n" + filler + "\r\n").encode()
    expect_rejected(env, data, 431, "16 KB of request headers with max_request_headers_kb: 8")


def test_headers_under_limit_are_fine(env):
    hdrs = [("X-Filler-%02d" % i, "v" * 500) for i in range(8)]  # ~4 KB
    with wh.RawConn(env.port) as c:
        c.request("GET", "/smallish", hdrs)
        r = c.read_response()
    expect_status(r, 200, "4 KB of request headers under an 8 KB limit", env.proxy)
    assert r.json()["headers"].get("x-filler-07") == "v" * 500, r.describe()


# RFC 9112 edge cases, compared with Envoy, HAProxy and nginx.

def test_two_host_headers_is_400(env):
    # RFC 9112 3.2: a request with more than one Host is a 400 (HAProxy and nginx agree).
    expect_rejected(env, b"GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", 400, "two Host headers")
    expect_rejected(env, b"GET / HTTP/1.1\r\nHost: a.test\r\nhost: a.test\r\n\r\n", 400, "two equal Host headers")


def test_obs_fold_continuation_is_400(env):
    # RFC 9112 5.2: a proxy either replaces obs-fold with spaces or refuses the message; Envoy
    # refuses it, and so does weft-proxy, before anything reaches the upstream.
    expect_rejected(env, b"GET /fold HTTP/1.1\r\nHost: a.test\r\nX-Folded: one\r\n two\r\n\r\n", 400, "obs-fold")
    expect_rejected(env, b"GET /fold HTTP/1.1\r\nHost: a.test\r\nX-Folded: one\r\n\ttwo: x\r\n\r\n", 400,
                    "obs-fold with a colon")
    ok = wh.http_request(env.port, "/fold-check")
    assert ok.status == 200 and ok.json()["conn_request"] >= 1, ok.describe()


def test_bare_lf_is_answered_at_once(env):
    # Never a hang until a timeout: the head is refused as soon as the bare LF arrives.
    with wh.RawConn(env.port) as c:
        c.send(b"GET / HTTP/1.1\nHost: a.test\n\n")
        r = c.read_response(timeout=2.0)
        assert r.status == 400, r.describe()


def test_more_than_100_headers_is_431(env):
    # Envoy's max_headers_count default.
    head = b"GET / HTTP/1.1\r\nHost: a.test\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(500)) + b"\r\n"
    expect_rejected(env, head, 431, "500 request headers")


def test_absolute_form_routes_by_the_targets_authority(env):
    # RFC 9112 3.2.2 and Envoy: the authority of an absolute-form target is the request's,
    # whatever Host says; the upstream gets origin-form and that authority as Host.
    with wh.RawConn(env.port) as c:
        c.send(b"GET http://target.test:8080/abs/path?q=1 HTTP/1.1\r\nHost: other.test\r\n\r\n")
        r = c.read_response(timeout=5)
    assert r.status == 200, r.describe()
    echo = r.json()
    assert echo["path"] == "/abs/path?q=1", echo
    assert echo["headers"]["host"] == "target.test:8080", echo


def test_absolute_form_selects_the_virtual_host(weft):
    echo_a, echo_b = weft.echoes("vhost-a", "vhost-b")
    port = weft.port()
    weft.start_proxy(wh.bootstrap(weft.port(), listeners=[wh.http_listener("main", port, [
        wh.vhost("a", ["a.test"], [wh.route_to("a")]),
        wh.vhost("b", ["b.test"], [wh.route_to("b")]),
    ])], clusters=[wh.cluster("a", [echo_a.port]), wh.cluster("b", [echo_b.port])]))
    with wh.RawConn(port) as c:
        c.send(b"GET http://b.test/x HTTP/1.1\r\nHost: a.test\r\n\r\n")
        r = c.read_response(timeout=5)
    assert r.status == 200 and r.json()["server"] == "vhost-b", r.describe()


@pytest.mark.parametrize("target", [b"http:///nohost", b"http://user@a.test/x", b"http://a.test?q"])
def test_bad_absolute_form_is_400(env, target):
    expect_rejected(env, b"GET " + target + b" HTTP/1.1\r\nHost: a.test\r\n\r\n", 400, "target %r" % target)
