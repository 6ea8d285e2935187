"""An HTTP/1.1 upstream that answers every request with one status (or a repeating pattern of
them), counting what it saw: the misbehaving host of retry, outlier-detection, health-check and
mirroring tests. Its `status` may be changed while it runs, and it can misbehave in `mode`:
"slow" (answers after `delay` seconds), "trickle" (sends its body a byte every `delay`
seconds), "stall" (sends the head and half the body, then nothing) or "reset" (sends the head
and half the body, then resets the connection)."""

import http.server
import socket
import struct
import threading
import time

from weft_harness import LOOPBACK, free_port


class FailingServer(http.server.ThreadingHTTPServer):
    """An HTTP/1.1 upstream that reads each request whole and answers `status` (with
    `headers`), counting the requests it saw."""

    daemon_threads = True

    def __init__(self, status, headers=(), cycle=(), mode=None, delay=0.0):
        """`cycle`: statuses answered in turn (request n gets cycle[n % len]) instead of `status`."""
        self.status, self.extra, self.count, self.bodies, self.headers = status, list(headers), 0, [], []
        self.cycle, self.lock = list(cycle), threading.Lock()
        self.mode, self.delay, self.stop = mode, delay, threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self):
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n) if n else b""
                with outer.lock:
                    n = outer.count
                    outer.count += 1
                    outer.bodies.append(body)
                    outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                if outer.mode == "slow":
                    outer.stop.wait(outer.delay)
                self.send_response(outer.cycle[n % len(outer.cycle)] if outer.cycle else outer.status)
                for k, v in outer.extra:
                    self.send_header(k, v)
                self.send_header("content-length", "6")
                self.end_headers()
                if outer.mode == "trickle":
                    for ch in b"failed":
                        self.wfile.write(bytes([ch]))
                        self.wfile.flush()
                        outer.stop.wait(outer.delay)
                elif outer.mode in ("stall", "reset"):
                    self.wfile.write(b"fai")
                    self.wfile.flush()
                    if outer.mode == "stall":
                        outer.stop.wait(60)
                    else:
                        # Long enough for the proxy to take the bytes: a RST discards what the
                        # peer's kernel has not handed over yet.
                        outer.stop.wait(0.2)
                        # SO_LINGER 0: close sends a RST, not a FIN.
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                else:
                    self.wfile.write(b"failed")

            do_GET = do_POST = handle_one

            def log_message(self, *args):
                pass

        super().__init__((LOOPBACK, free_port()), Handler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def shutdown(self):
        self.stop.set()  # stalled and slow answers end now
        super().shutdown()
