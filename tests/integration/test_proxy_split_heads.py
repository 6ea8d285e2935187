"""Message heads that arrive in several TCP segments, both ways, are parsed as one."""

import socket
import threading
import time

import weft_harness as wh
from weft_harness import expect_status


class TricklingBackend:
    """Answers every request with a response whose head is written in three pieces."""

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((wh.LOOPBACK, 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.lsock.accept()
            except OSError:
                return
            buf = b""
            while b"\r\n\r\n" not in buf:
                data = conn.recv(4096)
                if not data:
                    break
                buf += data
            for piece in (b"HTTP/1.1 200 OK\r\n", b"Content-Length: 5\r\nX-Split: ", b"yes\r\n\r\nhello"):
                conn.sendall(piece)
                time.sleep(0.1)
            conn.close()

    def stop(self):
        self.lsock.close()


def test_request_head_in_pieces(weft):
    echo = weft.echo("echo")
    port, admin = weft.port(), weft.port()
    proxy = weft.start_proxy(wh.bootstrap(admin, listeners=[
        wh.http_listener("main", port, [wh.vhost("all", ["*"], [wh.route_to("echo")])])],
        clusters=[wh.cluster("echo", [echo.port])]))
    for pieces in ([b"GET /split HTTP/1.1\r\n", b"Host: a\r\n", b"\r\n"],
                   [b"GET /split HT", b"TP/1.1\r\nHost: a\r\n\r", b"\n"]):
        with wh.RawConn(port) as c:
            for p in pieces:
                c.send(p)
                time.sleep(0.1)
            r = c.read_response()
        expect_status(r, 200, "request head sent in pieces %r" % (pieces,), proxy)
        assert r.json()["path"] == "/split", r.describe()


def test_response_head_in_pieces(weft):
    backend = TricklingBackend()
    try:
        port, admin = weft.port(), weft.port()
        proxy = weft.start_proxy(wh.bootstrap(admin, listeners=[
            wh.http_listener("main", port, [wh.vhost("all", ["*"], [wh.route_to("slow")])])],
            clusters=[wh.cluster("slow", [backend.port])]))
        with wh.RawConn(port) as c:
            c.request("GET", "/")
            r = c.read_response()
        expect_status(r, 200, "response head written in pieces by the upstream", proxy)
        assert r.body == b"hello" and r.header("x-split") == "yes", r.describe()
    finally:
        backend.stop()
