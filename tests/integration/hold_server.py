"""A loopback HTTP/1.1 upstream that holds requests (answers none until release()) and counts
its connections: what a slow or stuck backend looks like to a proxy. Used by the limit tests and
by bench/h2_attacks.sh."""

import selectors
import socket
import threading

LOOPBACK = "127.0.0.1"
OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


class HoldServer:
    """An HTTP/1.1 upstream that reads requests and answers none until release(): counts its
    open connections (now and at the peak). With `answer_unless` set, requests whose path does
    not start with it are answered at once."""

    def __init__(self, answer_unless=None):
        self.answer_unless = answer_unless
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((LOOPBACK, 0))
        self.lsock.listen(4096)
        self.lsock.setblocking(False)
        self.port = self.lsock.getsockname()[1]
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.lsock, selectors.EVENT_READ)
        self.conns = {}        # socket -> held request count
        self.bufs = {}
        self.peak = 0
        self.requests = 0
        self._lock = threading.Lock()
        self._release = 0
        self._stop = False
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self):
        while not self._stop:
            for key, _ in self.sel.select(0.05):
                s = key.fileobj
                if s is self.lsock:
                    try:
                        while True:
                            c, _ = self.lsock.accept()
                            c.setblocking(False)
                            self.sel.register(c, selectors.EVENT_READ)
                            with self._lock:
                                self.conns[c] = 0
                                self.peak = max(self.peak, len(self.conns))
                    except (BlockingIOError, OSError):
                        pass
                    continue
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                with self._lock:
                    if not data:
                        self.sel.unregister(s)
                        self.conns.pop(s, None)
                        self.bufs.pop(s, None)
                        s.close()
                        continue
                    self.bufs[s] = self.bufs.get(s, b"") + data
                    *heads, self.bufs[s] = self.bufs[s].split(b"\r\n\r\n")
                    for head in heads:
                        path = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b""
                        if self.answer_unless is not None and not path.startswith(self.answer_unless):
                            try:
                                s.sendall(OK)
                            except OSError:
                                pass
                            continue
                        self.conns[s] += 1
                        self.requests += 1
            with self._lock:
                if self._release:
                    self._release = 0
                    for c, held in self.conns.items():
                        for _ in range(held):
                            try:
                                c.sendall(OK)
                            except OSError:
                                pass
                        self.conns[c] = 0

    def release(self):
        with self._lock:
            self._release = 1

    def open_connections(self):
        with self._lock:
            return len(self.conns)

    def stop(self):
        self._stop = True
        self._t.join()
        for c in list(self.conns):
            c.close()
        self.lsock.close()
