#!/usr/bin/env python3
"""A small threaded HTTP/1.1 echo backend (Python 3 standard library only).

It is the demo's sample upstream and the upstream of the weft-proxy integration tests.

    python3 echo_server.py --port 8080 --name backend-a

Every request is answered (200 unless asked otherwise) with a JSON body:

    {"server": NAME, "method": ..., "path": <request target as received>,
     "http_version": "HTTP/1.1", "headers": {lower-cased name: value, repeats joined ", "},
     "header_list": [[name, value], ...] (as received, in order),
     "body_len": N, "body_sha256": hex, "conn_id": per-TCP-connection counter,
     "conn_request": 1-based index of this request on its connection, "client": "ip:port"}

Response headers always include `x-echo-server: NAME` and `x-echo-conn-id: N`.

Controls (request path or headers):
  /status/NNN                      respond with status NNN (no body for 1xx/204/304)
  /stream?chunks=N&size=S[&interval_ms=I]
                                   chunked response of N chunks of S bytes each (see stream_chunk)
  /bytes/N                         Content-Length response of N bytes (stream_chunk(0, N))
  /close                           close the connection without answering
  x-echo-delay-ms: N               sleep N ms (after reading the request body) before answering
  x-echo-response-header: k: v     add response header k: v (repeatable)
  x-echo-close: 1                  answer with `connection: close` and close afterwards
  Upgrade: websocket               answer 101 Switching Protocols (with Sec-WebSocket-Accept when a
                                   Sec-WebSocket-Key is given), then echo raw bytes until EOF
Request bodies are read whole (Content-Length or chunked); `Expect: 100-continue` is answered
with an interim 100 Continue before the body is read.

With --port 0 the kernel picks the port; the first stdout line is always `LISTENING host:port`.
"""

import argparse
import base64
import hashlib
import http.server
import itertools
import json
import socket
import sys
import threading
import time
import urllib.parse

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC11B85"
_BASE = bytes(range(256))


def stream_chunk(index, size):
    """Deterministic payload of chunk `index` (S bytes): byte k is (index + k) % 256."""
    off = index % 256
    rotated = _BASE[off:] + _BASE[:off]
    return (rotated * (size // 256 + 1))[:size]


def stream_payload(chunks, size):
    """The whole body that /stream?chunks=N&size=S sends."""
    return b"".join(stream_chunk(i, size) for i in range(chunks))


def websocket_accept(key):
    digest = hashlib.sha1((key.strip() + WEBSOCKET_GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


class EchoHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "weft-echo/1.0"

    def version_string(self):
        return self.server_version

    # ---- per-connection state -------------------------------------------------------------
    def setup(self):
        super().setup()
        self.conn_id = self.server.next_conn_id()
        self.conn_requests = 0
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    # Any method (GET, POST, PUT, DELETE, PATCH, OPTIONS, custom ones) lands in _handle.
    def __getattr__(self, name):
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("[%s] %s - %s\n" % (self.server.name, self.address_string(), fmt % args))

    # ---- request body ---------------------------------------------------------------------
    def _read_body(self):
        """Read the whole request body; returns (length, sha256 hex)."""
        digest = hashlib.sha256()
        total = 0
        te = ",".join(self.headers.get_all("Transfer-Encoding") or []).lower()
        if "chunked" in te:
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("EOF inside chunked request body")
                size_text = line.split(b";", 1)[0].strip()
                size = int(size_text, 16)
                if size == 0:
                    # trailers, up to the empty line
                    while True:
                        trailer = self.rfile.readline(65537)
                        if trailer in (b"\r\n", b"\n", b""):
                            break
                    break
                remaining = size
                while remaining:
                    data = self.rfile.read(min(remaining, 1 << 16))
                    if not data:
                        raise ConnectionError("EOF inside a request body chunk")
                    digest.update(data)
                    total += len(data)
                    remaining -= len(data)
                self.rfile.readline(3)  # CRLF after the chunk data
        else:
            length = self.headers.get("Content-Length")
            if length is not None:
                remaining = int(length)
                while remaining:
                    data = self.rfile.read(min(remaining, 1 << 16))
                    if not data:
                        raise ConnectionError("EOF inside request body")
                    digest.update(data)
                    total += len(data)
                    remaining -= len(data)
        return total, digest.hexdigest()

    # ---- response helpers -----------------------------------------------------------------
    def _common_headers(self, extra_close):
        self.send_header("x-echo-server", self.server.name)
        self.send_header("x-echo-conn-id", str(self.conn_id))
        for spec in self.headers.get_all("x-echo-response-header") or []:
            if ":" in spec:
                key, value = spec.split(":", 1)
                self.send_header(key.strip(), value.strip())
        if extra_close:
            self.send_header("Connection", "close")
            self.close_connection = True

    def _describe(self, body_len, body_sha):
        headers = {}
        for key, value in self.headers.items():
            k = key.lower()
            headers[k] = value if k not in headers else headers[k] + ", " + value
        return {
            "server": self.server.name,
            "method": self.command,
            "path": self.path,
            "http_version": self.request_version,
            "headers": headers,
            "header_list": [[k, v] for k, v in self.headers.items()],
            "body_len": body_len,
            "body_sha256": body_sha,
            "conn_id": self.conn_id,
            "conn_request": self.conn_requests,
            "client": "%s:%s" % (self.client_address[0], self.client_address[1]),
        }

    def _websocket(self):
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        key = self.headers.get("Sec-WebSocket-Key")
        if key:
            self.send_header("Sec-WebSocket-Accept", websocket_accept(key))
        self.send_header("x-echo-server", self.server.name)
        self.end_headers()
        self.wfile.flush()
        # Raw echo of whatever follows (already-buffered bytes included) until the peer's EOF.
        while True:
            try:
                data = self.rfile.read1(1 << 16)
            except (ConnectionError, OSError):
                break
            if not data:
                break
            try:
                self.wfile.write(data)
            except (ConnectionError, OSError):
                break
        try:
            self.connection.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.close_connection = True

    def _stream(self, query, close_after):
        chunks = int(query.get("chunks", ["10"])[0])
        size = int(query.get("size", ["1024"])[0])
        interval = int(query.get("interval_ms", ["0"])[0]) / 1000.0
        http10 = self.request_version == "HTTP/1.0"
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if http10:
            close_after = True
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self._common_headers(close_after)
        self.end_headers()
        if self.command == "HEAD":
            return
        for i in range(chunks):
            data = stream_chunk(i, size)
            if http10:
                self.wfile.write(data)
            else:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            if interval:
                time.sleep(interval)
        if not http10:
            self.wfile.write(b"0\r\n\r\n")

    # ---- main handler ---------------------------------------------------------------------
    def _handle(self):
        self.conn_requests += 1
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        query = urllib.parse.parse_qs(parsed.query)

        if "websocket" in (self.headers.get("Upgrade") or "").lower():
            self._websocket()
            return
        if path == "/close":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return

        body_len, body_sha = self._read_body()

        delay = self.headers.get("x-echo-delay-ms")
        if delay:
            time.sleep(int(delay) / 1000.0)

        close_after = (self.headers.get("x-echo-close") or "").strip() not in ("", "0")

        if path == "/stream":
            self._stream(query, close_after)
            return

        status = 200
        payload = None
        content_type = "application/json"
        if path.startswith("/status/"):
            try:
                status = int(path[len("/status/"):].split("/")[0])
            except ValueError:
                status = 400
        elif path.startswith("/bytes/"):
            payload = stream_chunk(0, int(path[len("/bytes/"):].split("/")[0]))
            content_type = "application/octet-stream"
        if payload is None:
            payload = json.dumps(self._describe(body_len, body_sha), sort_keys=True).encode()

        self.send_response(status)
        no_body = status < 200 or status in (204, 304)
        self.send_header("Content-Type", content_type)
        if not no_body:
            self.send_header("Content-Length", str(len(payload)))
        self._common_headers(close_after)
        self.end_headers()
        if not no_body and self.command != "HEAD":
            self.wfile.write(payload)


class EchoServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self, address, name, verbose=False):
        super().__init__(address, EchoHandler)
        self.name = name
        self.verbose = verbose
        self._ids = itertools.count(1)
        self._ids_lock = threading.Lock()

    def next_conn_id(self):
        with self._ids_lock:
            return next(self._ids)

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


def make_server(host="127.0.0.1", port=0, name="echo", verbose=False):
    return EchoServer((host, port), name, verbose)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind; 0 picks a free one")
    parser.add_argument("--name", default="echo", help="name reported in every response")
    parser.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port, args.name, args.verbose)
    host, port = server.server_address[:2]
    print("LISTENING %s:%d" % (host, port), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
