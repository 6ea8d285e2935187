"""A minimal raw HTTP/2 client on a socket, for tests that must order frames on one connection
or send what no well-behaved client sends: frames, HPACK literals out; in, the frame types and
the `:status` of a static-table index. Shared by the HTTP/2 tests and the attack benchmark."""

import select
import socket
import struct
import time

LOOPBACK = "127.0.0.1"

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
FRAME_NAMES = {0: "DATA", 1: "HEADERS", 2: "PRIORITY", 3: "RST_STREAM", 4: "SETTINGS",
               5: "PUSH_PROMISE", 6: "PING", 7: "GOAWAY", 8: "WINDOW_UPDATE", 9: "CONTINUATION"}
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# HPACK static table entries 8..14: an indexed ":status"
STATIC_STATUS = {8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500}


def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_literal(name, value):
    """Literal header field without indexing, new name, no Huffman."""
    n, v = name.encode(), value.encode()
    return b"\x00" + hpack_int(len(n), 7) + n + hpack_int(len(v), 7) + v


def header_block_status(block):
    """The :status of a response header block when nghttp2 encoded it as a static-table index
    (200, 204, 206, 304, 400, 404, 500), else None."""
    i = 0
    while i < len(block) and (block[i] & 0xE0) == 0x20:   # dynamic table size updates
        i += 1
        if block[i - 1] & 0x1F == 0x1F:
            while block[i] & 0x80:
                i += 1
            i += 1
    if i < len(block) and block[i] & 0x80:
        return STATIC_STATUS.get(block[i] & 0x7F)
    return None


class Frame:
    def __init__(self, ftype, flags, stream, payload):
        self.type, self.flags, self.stream, self.payload = ftype, flags, stream, payload

    @property
    def name(self):
        return FRAME_NAMES.get(self.type, "0x%x" % self.type)

    def header_block(self):
        p = self.payload
        start, end = 0, len(p)
        if self.flags & PADDED:
            start, end = 1, len(p) - p[0]
        if self.flags & PRIORITY_FLAG:
            start += 5
        return p[start:end]

    def data(self):
        p = self.payload
        if self.flags & PADDED:
            return p[1:len(p) - p[0]]
        return p

    def __repr__(self):
        extra = ""
        if self.type == GOAWAY:
            extra = " last_stream=%d error=%d" % self.goaway()
        elif self.type == RST_STREAM:
            extra = " error=%d" % struct.unpack(">I", self.payload)[0]
        elif self.type in (DATA, HEADERS):
            extra = " len=%d" % len(self.payload)
        return "<%s stream=%d flags=0x%x%s>" % (self.name, self.stream, self.flags, extra)

    def goaway(self):
        last, err = struct.unpack(">II", self.payload[:8])
        return last & 0x7FFFFFFF, err


class H2Conn:
    """HTTP/2 over a plain socket: sends the preface and SETTINGS, answers SETTINGS and PING,
    gives back every received frame in order (.frames). Responses are tracked per stream in
    .streams[id] = {"status", "data", "ended", "reset"}."""

    def __init__(self, port, host=LOOPBACK, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = bytearray()
        self.frames = []
        self.streams = {}
        self.eof = False
        self.settings = {}
        self.send_window = 65535          # the peer's connection window for what we send
        self.stream_windows = {}          # and per stream
        # our SETTINGS: a 16 MiB stream window; and 64 MiB more for the connection
        self.sock.sendall(PREFACE + self._frame(SETTINGS, 0, 0, struct.pack(">HI", 0x4, 16 << 20))
                          + self._frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 64 << 20)))

    @staticmethod
    def _frame(ftype, flags, stream, payload):
        return (struct.pack(">I", len(payload))[1:] + bytes([ftype, flags])
                + struct.pack(">I", stream) + payload)

    def send_frame(self, ftype, flags, stream, payload):
        self.sock.sendall(self._frame(ftype, flags, stream, payload))

    def request(self, stream, path, method="GET", authority="test.local", headers=(), body=None,
                more_body=False):
        """Open a stream: HEADERS, then `body` in one DATA frame if given. more_body=True leaves
        the request open (no END_STREAM) for send_body()."""
        block = b"".join(hpack_literal(k, v) for k, v in
                         [(":method", method), (":scheme", "http"), (":path", path),
                          (":authority", authority)] + list(headers))
        self.stream_windows[stream] = self.settings.get(4, 65535)
        self.streams[stream] = {"status": None, "data": bytearray(), "ended": False, "reset": None,
                                "headers": 0}
        ends = body is None and not more_body
        self.send_frame(HEADERS, END_HEADERS | (END_STREAM if ends else 0), stream, block)
        if body is not None:
            self.send_frame(DATA, 0 if more_body else END_STREAM, stream, body)

    def _read_frame(self, deadline):
        while len(self.buf) < 9 or len(self.buf) < 9 + int.from_bytes(self.buf[:3], "big"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(1 << 18)
            except socket.timeout:
                return None
            except ConnectionResetError:
                data = b""
            if not data:
                self.eof = True
                return None
            self.buf += data
        n = int.from_bytes(self.buf[:3], "big")
        f = Frame(self.buf[3], self.buf[4], int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF,
                  bytes(self.buf[9:9 + n]))
        del self.buf[:9 + n]
        return f

    def _handle(self, f):
        self.frames.append(f)
        if f.type == SETTINGS and not f.flags & ACK:
            for i in range(0, len(f.payload), 6):
                k, v = struct.unpack(">HI", f.payload[i:i + 6])
                if k == 4:   # INITIAL_WINDOW_SIZE applies to open streams as a delta
                    delta = v - self.settings.get(4, 65535)
                    for sid in self.stream_windows:
                        self.stream_windows[sid] += delta
                self.settings[k] = v
            self.send_frame(SETTINGS, ACK, 0, b"")
        elif f.type == PING and not f.flags & ACK:
            self.send_frame(PING, ACK, 0, f.payload)
        elif f.type == WINDOW_UPDATE:
            inc = struct.unpack(">I", f.payload)[0] & 0x7FFFFFFF
            if f.stream == 0:
                self.send_window += inc
            elif f.stream in self.stream_windows:
                self.stream_windows[f.stream] += inc
        st = self.streams.get(f.stream)
        if st is None:
            return
        if f.type == HEADERS:
            st["headers"] += 1
            if st["status"] is None:
                st["status"] = header_block_status(f.header_block()) or "other"
            if f.flags & END_STREAM:
                st["ended"] = True
        elif f.type == DATA:
            data = f.data()
            st["data"] += data
            if f.payload:   # give the flow control credit back at once
                self.send_frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", len(f.payload)))
                if not f.flags & END_STREAM:
                    self.send_frame(WINDOW_UPDATE, 0, f.stream, struct.pack(">I", len(f.payload)))
            if f.flags & END_STREAM:
                st["ended"] = True
        elif f.type == RST_STREAM:
            st["reset"] = struct.unpack(">I", f.payload)[0]

    def send_body(self, stream, data, stall=1.5):
        """Send `data` as DATA frames (the last with END_STREAM) within the peer's flow control
        windows. Returns the number of bytes sent: less than len(data) if the windows stayed
        shut for `stall` seconds, or the stream ended/reset first."""
        sent = 0
        while sent < len(data):
            st = self.streams[stream]
            if st["reset"] is not None or st["ended"] or self.eof:
                return sent
            n = min(self.send_window, self.stream_windows[stream], 16384, len(data) - sent)
            if n <= 0:
                before = (self.send_window, self.stream_windows[stream])
                if not self.read_until(lambda c: (c.send_window, c.stream_windows[stream]) != before
                                       or c.done(stream), timeout=stall):
                    return sent
                continue
            last = sent + n == len(data)
            self.send_frame(DATA, END_STREAM if last else 0, stream, data[sent:sent + n])
            self.send_window -= n
            self.stream_windows[stream] -= n
            sent += n
            # take in what the peer sent meanwhile (WINDOW_UPDATEs), without blocking
            self.read_until(lambda c: not c._readable(), timeout=0.05)
        return sent

    def _readable(self):
        if len(self.buf) >= 9:
            return True
        r, _, _ = select.select([self.sock], [], [], 0)
        return bool(r)

    def read_until(self, predicate, timeout=None, what="a condition"):
        """Read frames until predicate(self) is true; returns True, or False on EOF/timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not predicate(self):
            f = self._read_frame(deadline)
            if f is None:
                return predicate(self)
            try:
                self._handle(f)
            except OSError:
                self.eof = True
        return True

    def done(self, stream):
        st = self.streams[stream]
        return st["ended"] or st["reset"] is not None

    def goaways(self):
        return [f.goaway() for f in self.frames if f.type == GOAWAY]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
