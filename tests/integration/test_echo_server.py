"""The test upstream itself (examples/backend/echo_server.py), without the proxy: it must behave
as the other tests assume."""

import base64
import os
import socket
import time

import pytest

import echo_server
import weft_harness as wh


@pytest.fixture(scope="module")
def echo(weft_module):
    return weft_module.echo("standalone")


def test_json_description(echo):
    r = wh.http_request(echo.port, "/some/path?q=1", method="PATCH", body=b"abc",
                        headers={"X-Mixed-Case": "V", "Host": "h.test"})
    assert r.status == 200 and r.header("x-echo-server") == "standalone", r.describe()
    d = r.json()
    assert d["server"] == "standalone" and d["method"] == "PATCH" and d["path"] == "/some/path?q=1"
    assert d["headers"]["x-mixed-case"] == "V" and d["headers"]["host"] == "h.test", d["headers"]
    assert d["body_len"] == 3 and d["body_sha256"] == wh.sha256(b"abc")
    assert isinstance(d["conn_id"], int) and d["conn_request"] == 1


def test_conn_id_per_connection(echo):
    with wh.RawConn(echo.port) as c:
        ids = []
        for i in range(3):
            c.request("GET", "/k")
            d = c.read_response().json()
            ids.append((d["conn_id"], d["conn_request"]))
    other = wh.http_request(echo.port, "/k").json()["conn_id"]
    assert len({i for i, _ in ids}) == 1 and [n for _, n in ids] == [1, 2, 3], ids
    assert other != ids[0][0], "a new connection should get a new conn_id"


@pytest.mark.parametrize("status", [201, 404, 503])
def test_status(echo, status):
    assert wh.http_request(echo.port, "/status/%d" % status).status == status


def test_status_204_has_no_body_and_keeps_connection(echo):
    with wh.RawConn(echo.port) as c:
        c.request("GET", "/status/204")
        r = c.read_response()
        assert r.status == 204 and r.body == b""
        c.request("GET", "/next")
        assert c.read_response().json()["path"] == "/next"


def test_delay(echo):
    t0 = time.monotonic()
    r = wh.http_request(echo.port, "/d", headers={"x-echo-delay-ms": "300"})
    assert r.status == 200 and time.monotonic() - t0 >= 0.29


def test_stream_is_chunked(echo):
    with wh.RawConn(echo.port) as c:
        c.request("GET", "/stream?chunks=7&size=3000")
        r = c.read_response()
    assert r.header("transfer-encoding") == "chunked"
    assert r.body == echo_server.stream_payload(7, 3000)


def test_bytes(echo):
    r = wh.http_request(echo.port, "/bytes/100000")
    assert r.header("content-length") == "100000" and r.body == echo_server.stream_chunk(0, 100000)


def test_chunked_upload(echo):
    data = os.urandom(200_000)
    with wh.RawConn(echo.port) as c:
        c.request("POST", "/up", [("Transfer-Encoding", "chunked")], wh.chunked_body(data, (1000, 7, 65536)))
        d = c.read_response().json()
    assert d["body_len"] == len(data) and d["body_sha256"] == wh.sha256(data)


def test_expect_100_continue(echo):
    with wh.RawConn(echo.port) as c:
        c.send(wh.build_request("POST", "/e", [("Expect", "100-continue"), ("Content-Length", "4")]))
        _, status, _, _ = c.read_head(timeout=3)
        assert status == 100
        c.send(b"data")
        d = c.read_response().json()
    assert d["body_len"] == 4


def test_response_header_control_and_close(echo):
    with wh.RawConn(echo.port) as c:
        c.request("GET", "/c", [("x-echo-response-header", "x-a: 1"),
                                ("x-echo-response-header", "x-b: two words"),
                                ("x-echo-close", "1")])
        r = c.read_response()
        assert r.header("x-a") == "1" and r.header("x-b") == "two words", r.describe()
        assert r.connection_close() and c.wait_closed(2)


def test_close_path(echo):
    with wh.RawConn(echo.port) as c:
        c.request("GET", "/close")
        assert c.wait_closed(2) and c.buf == b""


def test_websocket_echo(echo):
    key = base64.b64encode(os.urandom(16)).decode()
    with wh.RawConn(echo.port) as c:
        c.send(wh.build_request("GET", "/ws", [("Connection", "Upgrade"), ("Upgrade", "websocket"),
                                                ("Sec-WebSocket-Key", key),
                                                ("Sec-WebSocket-Version", "13")]) + b"early")
        r = c.read_response()
        assert r.status == 101 and r.header("sec-websocket-accept") == echo_server.websocket_accept(key)
        assert c.read_exact(5, timeout=3) == b"early"
        c.send(b"more bytes")
        assert c.read_exact(10, timeout=3) == b"more bytes"
        c.sock.shutdown(socket.SHUT_WR)
        assert c.wait_closed(3)


def test_harness_tcp_servers(weft):
    echo_srv = weft.tcp_server("echo", banner=b"hi\n")
    s = socket.create_connection(("127.0.0.1", echo_srv.port), timeout=5)
    assert s.recv(3) == b"hi\n"
    s.sendall(b"ping")
    assert s.recv(4) == b"ping"
    s.close()
    after = weft.tcp_server("echo_after_eof")
    s = socket.create_connection(("127.0.0.1", after.port), timeout=5)
    s.sendall(b"x" * 5000)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
    s.close()
    assert got == b"x" * 5000


def test_harness_blackhole_connect_hangs(weft):
    b = weft.blackhole()
    s = socket.socket()
    s.settimeout(0.3)
    with pytest.raises((socket.timeout, TimeoutError)):
        s.connect(("127.0.0.1", b.port))
    s.close()
