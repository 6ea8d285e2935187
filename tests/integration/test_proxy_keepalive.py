"""Connection management: downstream keep-alive, upstream connection reuse, pipelining,
HTTP/1.0, Connection: close."""

import pytest

import weft_harness as wh
from weft_harness import expect_status


def start(weft, concurrency=2, hcm_extra=None):
    echo = weft.echo("echo")
    port, admin = weft.port(), weft.port()
    config = wh.bootstrap(admin, listeners=[
        wh.http_listener("main", port, [wh.vhost("all", ["*"], [wh.route_to("echo")])],
                         hcm_extra=hcm_extra)],
        clusters=[wh.cluster("echo", [echo.port])])
    proxy = weft.start_proxy(config, concurrency=concurrency)
    return proxy, port


def test_several_requests_on_one_downstream_connection(weft):
    proxy, port = start(weft)
    with wh.RawConn(port) as c:
        for i in range(5):
            c.request("GET", "/ka/%d" % i)
            r = c.read_response()
            expect_status(r, 200, "request %d on one keep-alive connection" % i, proxy)
            assert r.json()["path"] == "/ka/%d" % i, r.describe()
            assert not r.connection_close(), "proxy asked to close a keep-alive connection: %s" % r.describe()
        # a POST with a body on the same connection too
        c.request("POST", "/ka/post", body=b"x" * 1000)
        r = c.read_response()
        assert r.status == 200 and r.json()["body_len"] == 1000, r.describe()
        assert c.is_open_for(0.3), "proxy closed an idle keep-alive connection right away"


def test_upstream_connection_reused(weft):
    proxy, port = start(weft, concurrency=1)
    conn_ids = []
    with wh.RawConn(port) as c:
        for i in range(5):
            c.request("GET", "/reuse/%d" % i)
            r = c.read_response()
            expect_status(r, 200, "sequential request %d" % i, proxy)
            conn_ids.append(r.json()["conn_id"])
    # a new downstream connection on the same (only) worker uses the pooled upstream connection
    r = wh.http_request(port, "/reuse/new-downstream")
    expect_status(r, 200, "request on a second downstream connection", proxy)
    conn_ids.append(r.json()["conn_id"])
    assert len(set(conn_ids)) == 1, (
        "with one worker, sequential requests should reuse one upstream connection; echo saw "
        "upstream conn_ids %r" % conn_ids)


def test_pipelined_requests_answered_in_order(weft):
    proxy, port = start(weft)
    with wh.RawConn(port) as c:
        # the first is slow upstream, so answering out of order would show
        c.send(wh.build_request("GET", "/p1", {"x-echo-delay-ms": "200"})
               + wh.build_request("GET", "/p2")
               + wh.build_request("POST", "/p3", body=b"abc"))
        paths = []
        for i in range(3):
            r = c.read_response()
            expect_status(r, 200, "pipelined response %d" % (i + 1), proxy)
            paths.append(r.json()["path"])
    assert paths == ["/p1", "/p2", "/p3"], "pipelined responses out of order: %r" % paths


def test_http10_without_keepalive_closes(weft):
    proxy, port = start(weft, hcm_extra={"http_protocol_options": {"accept_http_10": True}})
    with wh.RawConn(port) as c:
        c.send(b"GET /ten HTTP/1.0\r\nHost: ten.test\r\n\r\n")
        r = c.read_response()
        expect_status(r, 200, "HTTP/1.0 request (accept_http_10: true)", proxy)
        assert r.json()["path"] == "/ten", r.describe()
        assert c.wait_closed(3.0), "proxy kept an HTTP/1.0 connection without keep-alive open"


def test_http10_rejected_by_default(weft):
    proxy, port = start(weft)
    with wh.RawConn(port) as c:
        c.send(b"GET /ten HTTP/1.0\r\nHost: ten.test\r\n\r\n")
        r = c.read_response()
    expect_status(r, 426, "HTTP/1.0 request without accept_http_10 (Envoy: 426 Upgrade Required)",
                  proxy)


def test_connection_close_request(weft):
    proxy, port = start(weft)
    with wh.RawConn(port) as c:
        c.request("GET", "/bye", {"Connection": "close"})
        r = c.read_response()
        expect_status(r, 200, "request with Connection: close", proxy)
        assert r.connection_close(), "response to Connection: close should say connection: close: %s" % r.describe()
        assert c.wait_closed(3.0), "proxy did not close the connection after Connection: close"


def test_upstream_connection_close_does_not_close_downstream(weft):
    proxy, port = start(weft)
    with wh.RawConn(port) as c:
        c.request("GET", "/up-close", {"x-echo-close": "1"})
        r = c.read_response()
        expect_status(r, 200, "upstream answered with connection: close", proxy)
        c.request("GET", "/after")
        r = c.read_response()
        expect_status(r, 200, "next request on the same downstream connection", proxy)
        assert r.json()["path"] == "/after", r.describe()


@pytest.mark.parametrize("count", [20])
def test_many_sequential_connections(weft, count):
    proxy, port = start(weft)
    for i in range(count):
        r = wh.http_request(port, "/n/%d" % i)
        expect_status(r, 200, "connection %d" % i, proxy)
