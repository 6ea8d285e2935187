"""HTTP/1.1 Upgrade (WebSocket) tunnelling through the HTTP connection manager."""

import base64
import os
import socket

import echo_server
import weft_harness as wh
from weft_harness import expect_status


def start(weft, upgrade):
    echo = weft.echo("echo")
    port, admin = weft.port(), weft.port()
    hcm_extra = {"upgrade_configs": [{"upgrade_type": "websocket"}]} if upgrade else None
    config = wh.bootstrap(admin, listeners=[
        wh.http_listener("main", port, [wh.vhost("all", ["*"], [wh.route_to("echo")])],
                         hcm_extra=hcm_extra)],
        clusters=[wh.cluster("echo", [echo.port])])
    return weft.start_proxy(config), port


def upgrade_request(key):
    return wh.build_request("GET", "/ws", [
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
    ], host="ws.test")


def test_websocket_upgrade_tunnels_bytes_both_ways(weft):
    proxy, port = start(weft, upgrade=True)
    key = base64.b64encode(os.urandom(16)).decode()
    with wh.RawConn(port) as c:
        c.send(upgrade_request(key))
        r = c.read_response()
        expect_status(r, 101, "WebSocket upgrade with upgrade_configs websocket", proxy)
        assert (r.header("upgrade") or "").lower() == "websocket", r.describe()
        assert "upgrade" in (r.header("connection") or "").lower(), r.describe()
        assert r.header("sec-websocket-accept") == echo_server.websocket_accept(key), (
            "Sec-WebSocket-Accept from the upstream should pass through: %s" % r.describe())
        # small messages, one at a time
        for msg in (b"hello", b"\x00\x01\xff binary \r\n\r\n GET / HTTP/1.1\r\n\r\n", b"x" * 10):
            c.send(msg)
            got = c.read_exact(len(msg), timeout=5, what="echo of %d tunnelled bytes" % len(msg))
            assert got == msg, "tunnelled bytes differ: sent %r, got %r" % (msg, got)
        # a larger burst
        blob = os.urandom(256 * 1024)
        c.send(blob)
        got = c.read_exact(len(blob), timeout=10, what="echo of 256 KB through the tunnel")
        assert got == blob, "256 KB through the upgraded connection came back different"
        # half-close: our EOF reaches the upstream, which then closes; the proxy closes us
        c.sock.shutdown(socket.SHUT_WR)
        assert c.wait_closed(5), "after both sides closed the tunnel the proxy kept the connection open"


def test_upgrade_without_upgrade_configs_is_403(weft):
    proxy, port = start(weft, upgrade=False)
    with wh.RawConn(port) as c:
        c.send(upgrade_request(base64.b64encode(os.urandom(16)).decode()))
        r = c.read_response()
    expect_status(r, 403, "WebSocket upgrade on an HCM without upgrade_configs (Envoy: 403)", proxy)


def test_plain_request_on_upgrade_enabled_listener(weft):
    proxy, port = start(weft, upgrade=True)
    r = wh.http_request(port, "/plain")
    expect_status(r, 200, "ordinary request on a listener with websocket upgrades enabled", proxy)
    assert r.json()["path"] == "/plain", r.describe()
