"""Request and response bodies: chunked and content-length uploads, chunked and large responses,
Expect: 100-continue, HEAD, backpressure with small per-connection buffer limits."""

import hashlib
import os
import socket
import time
import types

import pytest

import echo_server
import weft_harness as wh
from weft_harness import expect_status

BUFFER_LIMIT = 32768


@pytest.fixture(scope="module")
def env(weft_module):
    h = weft_module
    echo = h.echo("echo")
    port, admin = h.port(), h.port()
    config = wh.bootstrap(admin, listeners=[
        wh.http_listener("main", port, [wh.vhost("all", ["*"], [wh.route_to("echo")])],
                         per_connection_buffer_limit_bytes=BUFFER_LIMIT)],
        clusters=[wh.cluster("echo", [echo.port],
                             per_connection_buffer_limit_bytes=BUFFER_LIMIT)])
    proxy = h.start_proxy(config)
    return types.SimpleNamespace(harness=h, proxy=proxy, port=port)


def test_chunked_request_body_1mb(env):
    data = os.urandom(1 << 20)
    with wh.RawConn(env.port, timeout=20) as c:
        c.request("POST", "/upload", [("Transfer-Encoding", "chunked"),
                                      ("Content-Type", "application/octet-stream")],
                  wh.chunked_body(data, (8192, 1, 65536, 3000)))
        r = c.read_response()
    expect_status(r, 200, "1 MB chunked upload", env.proxy)
    seen = r.json()
    assert (seen["body_len"], seen["body_sha256"]) == (len(data), wh.sha256(data)), (
        "upstream got %d bytes sha %s; sent %d bytes sha %s"
        % (seen["body_len"], seen["body_sha256"], len(data), wh.sha256(data)))


def test_content_length_request_body(env):
    data = os.urandom(300_000)
    r = wh.http_request(env.port, "/upload", method="PUT", body=data,
                        headers={"Content-Type": "application/octet-stream"})
    expect_status(r, 200, "300 KB content-length upload", env.proxy)
    seen = r.json()
    assert (seen["body_len"], seen["body_sha256"]) == (len(data), wh.sha256(data)), seen
    assert seen["headers"].get("content-length") == str(len(data)), (
        "content-length should reach the upstream unchanged: %r" % seen["headers"])


def test_empty_post(env):
    r = wh.http_request(env.port, "/empty", method="POST", body=b"")
    expect_status(r, 200, "POST with content-length 0", env.proxy)
    assert r.json()["body_len"] == 0, r.describe()


def test_chunked_response_intact(env):
    with wh.RawConn(env.port) as c:
        c.request("GET", "/stream?chunks=50&size=1000")
        r = c.read_response()
    expect_status(r, 200, "chunked response", env.proxy)
    expected = echo_server.stream_payload(50, 1000)
    assert r.body == expected, "chunked body differs: got %d bytes, expected %d" % (len(r.body), len(expected))
    assert "chunked" in (r.header("transfer-encoding") or "").lower(), (
        "a response without content-length should stay chunked: %s" % r.describe(0))


def test_content_length_response_intact(env):
    with wh.RawConn(env.port) as c:
        c.request("GET", "/bytes/2000000")
        r = c.read_response()
    expect_status(r, 200, "2 MB content-length response", env.proxy)
    assert r.header("content-length") == "2000000", r.describe(0)
    assert r.body == echo_server.stream_chunk(0, 2_000_000), "2 MB body differs (%d bytes)" % len(r.body)


def test_head_then_get_on_same_connection(env):
    with wh.RawConn(env.port) as c:
        c.request("HEAD", "/head")
        r = c.read_response(method="HEAD")
        expect_status(r, 200, "HEAD", env.proxy)
        assert r.body == b"", r.describe()
        c.request("GET", "/after-head")
        r = c.read_response()
        expect_status(r, 200, "GET after HEAD on the same connection", env.proxy)
        assert r.json()["path"] == "/after-head", (
            "HEAD response must carry no body, the next response was mis-framed: %s" % r.describe())


def test_expect_100_continue(env):
    data = os.urandom(5000)
    with wh.RawConn(env.port) as c:
        c.send(wh.build_request("POST", "/expect", [("Expect", "100-continue"),
                                                    ("Content-Length", str(len(data)))]))
        # the body is held back until 100 Continue arrives
        version, status, reason, headers = c.read_head(timeout=3.0)
        assert status == 100, (
            "expected an interim '100 Continue' before sending the body, got %s %d %s %r%s"
            % (version, status, reason, headers, env.proxy.ctx()))
        c.send(data)
        r = c.read_response()
    expect_status(r, 200, "final response after 100-continue", env.proxy)
    seen = r.json()
    assert (seen["body_len"], seen["body_sha256"]) == (len(data), wh.sha256(data)), seen


def test_large_response_with_small_buffer_limits(env):
    """20 MB through 32 KB per-connection buffer limits, read slowly: it must arrive intact and the
    proxy must not buffer it (its RSS must not grow by anything near 20 MB)."""
    chunks, size = 320, 65536
    expected = hashlib.sha256(echo_server.stream_payload(chunks, size)).hexdigest()
    rss_before = env.proxy.rss_kb()
    digest = hashlib.sha256()
    received = [0]

    def sink(piece):
        digest.update(piece)
        received[0] += len(piece)

    rss_paused = [None]

    def pause(resp):
        time.sleep(1.0)  # the upstream keeps writing while the client does not read
        rss_paused[0] = env.proxy.rss_kb()

    with wh.RawConn(env.port, timeout=60) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        c.request("GET", "/stream?chunks=%d&size=%d" % (chunks, size))
        r = c.read_response(body_sink=sink, after_head=pause)
    expect_status(r, 200, "20 MB streamed response", env.proxy)
    assert received[0] == chunks * size and digest.hexdigest() == expected, (
        "20 MB response: received %d bytes (expected %d), sha256 %s (expected %s)%s"
        % (received[0], chunks * size, digest.hexdigest(), expected, env.proxy.ctx()))
    if rss_before is not None and rss_paused[0] is not None:
        growth_mb = (rss_paused[0] - rss_before) / 1024.0
        assert growth_mb < 12, (
            "proxy RSS grew by %.1f MB while the client was not reading a 20 MB response with "
            "32 KB buffer limits: backpressure is not applied" % growth_mb)

