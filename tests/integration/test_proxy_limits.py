"""weft-proxy against hostile clients: each attack of the P0 report, sent as raw bytes, with
the proxy's memory, its other clients and its upstream connections watched while it runs.

- HPACK bomb: one 4 KB header in the dynamic table, then HEADERS frames that reference it
  thousands of times (one byte each): the stream is reset at max_request_headers_kb before
  the headers are kept, and the connection closed when the client keeps doing it.
- Header count (max_headers_count) and size limits on HTTP/1.1 (431) and HTTP/2 (RST_STREAM).
- Upstream amplification: thousands of streams that never read: bounded by the circuit
  breakers (Envoy's defaults: 1024 connections, 1024 pending, 1024 requests) and by the cap on
  streams awaiting a response; overflow is 503 UO on both protocols.
- CONTINUATION, SETTINGS and PING floods, rapid reset: GOAWAY with the error code and the last
  stream processed, then close; no stream after it reaches the upstream.
- Heads that never complete: stream_idle_timeout, request_headers_timeout and idle_timeout
  close them (408 on HTTP/1.1, GOAWAY on HTTP/2); a bare LF or a field line without a colon
  is answered 400 at once.
"""

import resource
import socket
import struct
import threading
import time
import types

import pytest

import weft_harness as wh
from hold_server import HoldServer
from h2_client import (CONTINUATION, END_HEADERS, END_STREAM, GOAWAY, HEADERS, PING, RST_STREAM, SETTINGS,
                       H2Conn, hpack_int, hpack_literal)

ENHANCE_YOUR_CALM, COMPRESSION_ERROR, REFUSED_STREAM, CANCEL = 0xB, 0x9, 0x7, 0x8
RSS_BOUND_MB = 50


class Bystander:
    """Another client: an HTTP/1.1 GET through the proxy every 50 ms; stop() returns the
    slowest answer in seconds, and failures."""

    def __init__(self, port):
        self.port, self.worst, self.failures, self.count = port, 0.0, [], 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                r = wh.http_request(self.port, "/bystander", timeout=10.0)
                if r.status != 200:
                    self.failures.append(r.status)
            except OSError as e:
                self.failures.append(repr(e))
            self.worst = max(self.worst, time.monotonic() - t0)
            self.count += 1
            self._stop.wait(0.05)

    def stop(self):
        self._stop.set()
        self._t.join()
        return self.worst, self.failures


class Watch:
    """RSS and bystander latency around an attack."""

    def __init__(self, env):
        self.env = env
        self.base = env.proxy.rss_kb()
        self.peak = self.base
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._sample, daemon=True)
        self._t.start()
        self.bystander = Bystander(env.port)

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.env.proxy.rss_kb() or 0)
            time.sleep(0.02)

    def check(self, what):
        time.sleep(0.3)
        worst, failures = self.bystander.stop()
        self._stop.set()
        self._t.join()
        growth = (self.peak - self.base) / 1024.0
        ctx = self.env.proxy.ctx()
        assert self.env.proxy.alive(), "%s: weft-proxy died%s" % (what, ctx)
        assert growth < RSS_BOUND_MB, "%s: RSS grew %.1f MB (bound %d MB)%s" % (what, growth, RSS_BOUND_MB, ctx)
        assert not failures, "%s: other clients failed: %r%s" % (what, failures[:5], ctx)
        assert worst < 3.0, "%s: another client waited %.2f s%s" % (what, worst, ctx)
        return growth


def hold_cluster(name, port, **thresholds):
    extra = {"circuit_breakers": {"thresholds": [thresholds]}} if thresholds else {}
    return wh.cluster(name, [port], **extra)


@pytest.fixture(scope="module")
def env(weft_module):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 16384)), hard))
    h = weft_module
    echo = h.echo("echo")
    hold = HoldServer()
    h._servers.append(hold)
    port, idle, hdr, count, admin = h.port(), h.port(), h.port(), h.port(), h.port()
    routes = [wh.route_to("hold", prefix="/hold"), wh.route_to("small", prefix="/small"),
              wh.route_to("rr", prefix="/rr"), wh.route_to("echo", prefix="/")]
    vh = [wh.vhost("all", ["*"], routes)]
    proxy = h.start_proxy(wh.bootstrap(admin, listeners=[
        wh.http_listener("main", port, vh, stat_prefix="main"),
        wh.http_listener("idle", idle, vh, stat_prefix="idle", hcm_extra={
            "stream_idle_timeout": "1s", "common_http_protocol_options": {"idle_timeout": "1s"}}),
        wh.http_listener("hdr", hdr, vh, stat_prefix="hdr", hcm_extra={"request_headers_timeout": "1s"}),
        wh.http_listener("count", count, vh, stat_prefix="count", hcm_extra={
            "max_request_headers_kb": 8, "common_http_protocol_options": {"max_headers_count": 12}}),
    ], clusters=[
        wh.cluster("echo", [echo.port]),
        wh.cluster("rr", [echo.port]),
        hold_cluster("hold", hold.port),
        hold_cluster("small", hold.port, max_connections=2, max_pending_requests=1, max_requests=10),
    ]), concurrency=1, name="limits")
    return types.SimpleNamespace(harness=h, proxy=proxy, hold=hold, port=port, idle=idle, hdr=hdr,
                                 count=count)


def request_block(path, authority="limits.test", extra=b""):
    return b"".join(hpack_literal(k, v) for k, v in [(":method", "GET"), (":scheme", "http"), (":path", path),
                                                      (":authority", authority)]) + extra


def read_to_eof(c, timeout=8.0):
    c.read_until(lambda x: x.eof, timeout=timeout)
    return c


# ---------------------------------------------------------------------------------------------
# header limits
# ---------------------------------------------------------------------------------------------

def test_hpack_bomb_resets_streams_then_closes_the_connection(env):
    watch = Watch(env)
    big = b"x" * 4000
    # literal with incremental indexing, new name: the 4 KB value enters the dynamic table (62)
    insert = b"\x40" + hpack_int(7, 7) + b"x-bloat" + hpack_int(len(big), 7) + big
    c = H2Conn(env.port)
    c.streams[1] = {"status": None, "data": bytearray(), "ended": False, "reset": None, "headers": 0}
    c.send_frame(HEADERS, END_HEADERS | END_STREAM, 1, request_block("/legit", extra=insert))
    c.read_until(lambda x: x.done(1))
    bomb = request_block("/bomb") + b"\xbe" * 16000      # 16,000 references: 64 MB decoded
    sent = 0
    try:
        for i in range(400):
            sid = 3 + 2 * i
            c.streams[sid] = {"status": None, "data": bytearray(), "ended": False, "reset": None, "headers": 0}
            c.send_frame(HEADERS, END_HEADERS | END_STREAM, sid, bomb)
            sent += 1
    except OSError:
        pass
    read_to_eof(c)
    # the bomb streams are reset (their RST_STREAMs may still be queued when the GOAWAY ends
    # the connection: the stats say how many overflowed)
    assert c.streams[1]["status"] == 200, c.frames[:10]
    assert all(st["status"] is None for sid, st in c.streams.items() if sid > 1), "a bomb stream was answered"
    goaways = c.goaways()
    assert goaways and goaways[-1][1] == ENHANCE_YOUR_CALM, "expected GOAWAY(ENHANCE_YOUR_CALM): %r" % goaways
    assert c.eof, "the attacking connection stayed open"
    stats = env.proxy.stats()
    assert stats.get("http.main.http2.header_overflow", 0) >= 5, stats
    growth = watch.check("HPACK bomb (%d frames)" % sent)
    print("HPACK bomb: %d frames, RSS +%.1f MB" % (sent, growth))


@pytest.mark.parametrize("protocol", ["http1", "http2"])
def test_header_count_and_size_limits(env, protocol):
    few = [("x-h%d" % i, "v") for i in range(3)]
    many = [("x-h%d" % i, "v") for i in range(30)]
    large = [("x-large", "y" * 9000)]
    for headers, ok in ((few, True), (many, False), (large, False)):
        if protocol == "http1":
            r = wh.http_request(env.count, "/get", headers=headers)
            expected = 200 if ok else 431
            assert r.status == expected, "%d headers: %s%s" % (len(headers), r.describe(), env.proxy.ctx())
        else:
            with H2Conn(env.count) as c:
                c.request(1, "/get", authority="limits.test", headers=headers)
                c.read_until(lambda x: x.done(1))
                st = c.streams[1]
                if ok:
                    assert st["status"] == 200, (st, c.frames)
                else:
                    assert st["reset"] is not None and st["status"] is None, (st, c.frames)


# ---------------------------------------------------------------------------------------------
# upstream amplification and circuit breakers
# ---------------------------------------------------------------------------------------------

def test_thousands_of_unread_streams_keep_upstream_connections_bounded(env):
    watch = Watch(env)
    c = H2Conn(env.port)
    frames = b"".join(c._frame(HEADERS, END_HEADERS | END_STREAM, 1 + 2 * i, request_block("/hold/%d" % i))
                      for i in range(5000))
    try:
        c.sock.sendall(frames)
    except OSError:
        pass
    read_to_eof(c, timeout=10.0)
    assert env.hold.peak <= 1024, "the upstream saw %d connections at once (limit 1024)" % env.hold.peak
    refused = env.proxy.stats().get("http.main.http2.streams_refused", 0)
    assert refused > 0, "no stream was refused past the cap on streams awaiting a response: %r" % c.frames[-4:]
    goaways = c.goaways()
    assert goaways and goaways[-1][1] == ENHANCE_YOUR_CALM, goaways
    assert c.eof
    assert wh.wait_for(lambda: env.proxy.stats().get("cluster.hold.upstream_cx_active") == 0, 10.0), \
        "upstream connections left open: %s" % env.proxy.stats().get("cluster.hold.upstream_cx_active")
    growth = watch.check("5000 unread streams")
    print("5000 streams: upstream peak %d connections, RSS +%.1f MB" % (env.hold.peak, growth))


def wait_held(env, n, timeout=5.0):
    assert wh.wait_for(lambda: env.hold.requests >= n, timeout), \
        "the upstream holds %d requests, expected %d%s" % (env.hold.requests, n, env.proxy.ctx())


def wait_pending(env):
    """The third request waits for a connection (max_pending_requests 1 is full)."""
    assert wh.wait_for(lambda: env.proxy.stats().get("cluster.small.upstream_rq_pending_active", 0) == 1, 10), \
        env.proxy.ctx()


@pytest.mark.parametrize("protocol", ["http1", "http2"])
def test_circuit_breakers_overflow_is_503_uo(env, protocol):
    # cluster "small": max_connections 2, max_pending_requests 1: two requests hold the
    # connections, a third waits, a fourth overflows; released, the waiting one is served.
    before = env.proxy.stats().get("cluster.small.upstream_rq_pending_overflow", 0)
    start = env.hold.requests
    if protocol == "http1":
        conns = [wh.RawConn(env.port) for _ in range(3)]
        for i, rc in enumerate(conns):
            rc.request("GET", "/small/%d" % i)
            if i < 2:
                wait_held(env, start + i + 1)
        wait_pending(env)
        r = wh.http_request(env.port, "/small/overflow")
        assert r.status == 503, r.describe()
        assert b"overflow" in r.body, r.body
        env.hold.release()
        for rc in conns[:2]:
            assert rc.read_response().status == 200
        wait_held(env, start + 3)
        env.hold.release()
        assert conns[2].read_response().status == 200
        for rc in conns:
            rc.close()
    else:
        with H2Conn(env.port) as c:
            for i, sid in enumerate((1, 3, 5)):
                c.request(sid, "/small/%d" % i, authority="limits.test")
                if i < 2:
                    wait_held(env, start + i + 1)
            wait_pending(env)
            c.request(7, "/small/overflow", authority="limits.test")
            c.read_until(lambda x: x.done(7))
            assert c.streams[7]["status"] not in (None, 200), c.streams[7]
            assert b"overflow" in bytes(c.streams[7]["data"]), c.streams[7]
            env.hold.release()
            c.read_until(lambda x: x.done(1) and x.done(3))
            wait_held(env, start + 3)
            env.hold.release()
            c.read_until(lambda x: x.done(5))
            assert [c.streams[s]["status"] for s in (1, 3, 5)] == [200, 200, 200], c.streams
    after = env.proxy.stats()
    assert after.get("cluster.small.upstream_rq_pending_overflow", 0) == before + 1, after
    assert after.get("cluster.small.upstream_cx_overflow", 0) >= 1


# ---------------------------------------------------------------------------------------------
# floods and resets: GOAWAY, then close
# ---------------------------------------------------------------------------------------------

def test_continuation_flood_gets_goaway(env):
    watch = Watch(env)
    c = H2Conn(env.port)
    try:
        c.send_frame(HEADERS, 0, 1, request_block("/cont"))
        for i in range(2000):
            c.send_frame(CONTINUATION, 0, 1, hpack_literal("x-c%d" % i, "v"))
    except OSError:
        pass
    read_to_eof(c)
    goaways = c.goaways()
    assert goaways and goaways[-1][1] == ENHANCE_YOUR_CALM, "expected GOAWAY(ENHANCE_YOUR_CALM): %r" % c.frames[-5:]
    assert c.eof
    assert env.proxy.stats().get("http.main.http2.too_many_header_frames", 0) >= 1
    watch.check("CONTINUATION flood")


@pytest.mark.parametrize("kind", ["PING", "SETTINGS"])
def test_control_frame_flood_without_reading_gets_goaway(env, kind):
    watch = Watch(env)
    c = H2Conn(env.port)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    frame = c._frame(PING, 0, 0, b"12345678") if kind == "PING" else c._frame(SETTINGS, 0, 0, b"")
    try:
        c.sock.sendall(frame * 50000)
    except OSError:
        pass
    read_to_eof(c, timeout=10.0)
    goaways = c.goaways()
    assert goaways and goaways[-1][1] == ENHANCE_YOUR_CALM, "expected GOAWAY(ENHANCE_YOUR_CALM) last: %r" % c.frames[-3:]
    assert c.frames[-1].type == GOAWAY, c.frames[-3:]
    assert c.eof
    watch.check("%s flood" % kind)


def test_rapid_reset_goaway_then_nothing_more_is_forwarded(env):
    watch = Watch(env)
    before = env.proxy.stats().get("cluster.rr.upstream_rq_total", 0)
    c = H2Conn(env.port)
    n = 3000
    frames = b"".join(c._frame(HEADERS, END_HEADERS | END_STREAM, 1 + 2 * i, request_block("/rr"))
                      + c._frame(RST_STREAM, 0, 1 + 2 * i, struct.pack(">I", CANCEL)) for i in range(n))
    try:
        c.sock.sendall(frames)
    except OSError:
        pass
    read_to_eof(c)
    goaways = c.goaways()
    assert goaways and goaways[-1][1] == ENHANCE_YOUR_CALM, goaways
    last = goaways[-1][0]
    time.sleep(0.5)
    forwarded = env.proxy.stats().get("cluster.rr.upstream_rq_total", 0) - before
    assert last < 2 * n - 1, "GOAWAY names the last stream sent (%d): nothing was refused" % last
    assert forwarded <= (last + 1) // 2, "%d requests forwarded, but GOAWAY named stream %d" % (forwarded, last)
    assert c.eof
    watch.check("rapid reset")


def test_hpack_table_size_update_beyond_settings_is_compression_error(env):
    c = H2Conn(env.port)
    c.send_frame(HEADERS, END_HEADERS | END_STREAM, 1, hpack_int(1 << 20, 5, 0x20) + request_block("/t"))
    read_to_eof(c)
    goaways = c.goaways()
    assert goaways and goaways[-1][1] == COMPRESSION_ERROR, c.frames
    settings = [f for f in c.frames if f.type == SETTINGS and f.payload]
    advertised = dict(struct.unpack(">HI", settings[0].payload[i:i + 6]) for i in range(0, len(settings[0].payload), 6))
    assert advertised.get(0x1) == 4096 and advertised.get(0x6) == 60 * 1024, advertised


# ---------------------------------------------------------------------------------------------
# heads that never complete
# ---------------------------------------------------------------------------------------------

def test_partial_request_line_is_answered_408_after_stream_idle_timeout_http1(env):
    with wh.RawConn(env.idle) as rc:
        t0 = time.monotonic()
        rc.send(b"GET /never HT")
        r = rc.read_response(timeout=5.0)
        assert r.status == 408, r.describe()
        assert 0.8 < time.monotonic() - t0 < 3.5
        assert rc.wait_closed(3.0)


def test_slow_head_is_answered_408_after_request_headers_timeout_http1(env):
    with wh.RawConn(env.hdr) as rc:
        t0 = time.monotonic()
        rc.send(b"GET /slow HTTP/1.1\r\nhost: limits.test\r\n")
        for i in range(40):   # a header byte every 100 ms: never idle, never done
            try:
                rc.send(b"x")
            except OSError:
                break
            time.sleep(0.1)
            if rc.wait_closed(0.01) or rc.buf:
                break
        assert time.monotonic() - t0 < 3.0
        assert b" 408 " in bytes(rc.buf).split(b"\r\n")[0], bytes(rc.buf)
    assert env.proxy.stats().get("http.hdr.downstream_rq_header_timeout", 0) >= 1


@pytest.mark.parametrize("port_name,stat", [("idle", "http.idle.downstream_rq_idle_timeout"),
                                            ("hdr", "http.hdr.downstream_rq_header_timeout")])
def test_incomplete_header_block_closes_with_goaway_http2(env, port_name, stat):
    before = env.proxy.stats().get(stat, 0)
    c = H2Conn(getattr(env, port_name))
    # settle SETTINGS first: once the header block is open, nothing else may be sent
    assert c.read_until(lambda x: 1 in x.settings or 4 in x.settings, timeout=3.0), c.frames
    time.sleep(0.1)
    t0 = time.monotonic()
    c.send_frame(HEADERS, 0, 1, request_block("/never"))   # no END_HEADERS, no CONTINUATION
    read_to_eof(c, timeout=5.0)
    assert c.eof and time.monotonic() - t0 < 3.5, c.frames
    assert c.goaways(), c.frames
    assert env.proxy.stats().get(stat, 0) == before + 1


@pytest.mark.parametrize("protocol", ["http1", "http2"])
def test_idle_connection_closed_after_idle_timeout(env, protocol):
    if protocol == "http1":
        with wh.RawConn(env.idle) as rc:
            assert rc.wait_closed(3.5), "an idle HTTP/1.1 connection stayed open"
    else:
        c = H2Conn(env.idle)
        read_to_eof(c, timeout=3.5)
        assert c.eof and c.goaways(), c.frames


@pytest.mark.parametrize("head", [b"GET / HTTP/1.1\r\nHost: limits.test\r\nConte\n",
                                  b"GET / HTTP/1.1\r\nHost: limits.test\r\nno colon here\r\n",
                                  b"GET / HTTP/1.1\nHost: limits.test\n"])
def test_malformed_head_lines_get_400_at_once(env, head):
    with wh.RawConn(env.port) as rc:
        rc.send(head)
        r = rc.read_response(timeout=2.0)
        assert r.status == 400, r.describe()
        assert rc.wait_closed(2.0)
