"""envoy.filters.network.tcp_proxy: byte-exact relay, half-close, weighted clusters, idle timeout,
unreachable upstream."""

import collections
import os
import select
import socket
import threading
import time
import types

import pytest

import weft_harness as wh

IDLE_TIMEOUT_S = 0.6


@pytest.fixture(scope="module")
def env(weft_module):
    h = weft_module
    echo = h.tcp_server("echo")
    after_eof = h.tcp_server("echo_after_eof")
    srv_a = h.tcp_server("echo", banner=b"A\n")
    srv_b = h.tcp_server("echo", banner=b"B\n")
    closed_port = h.port()
    ports = {k: h.port() for k in ("echo", "halfclose", "weighted", "idle", "closed", "limited")}
    admin = h.port()
    config = wh.bootstrap(admin, listeners=[
        wh.listener("tcp_echo", ports["echo"], [wh.tcp_proxy_filter("echo", "tcp_echo")]),
        wh.listener("tcp_halfclose", ports["halfclose"],
                    [wh.tcp_proxy_filter("after_eof", "tcp_halfclose")]),
        wh.listener("tcp_weighted", ports["weighted"],
                    [wh.tcp_proxy_filter(stat_prefix="tcp_weighted", weighted=[("a", 3), ("b", 1)])]),
        wh.listener("tcp_idle", ports["idle"],
                    [wh.tcp_proxy_filter("echo", "tcp_idle", idle_timeout="%gs" % IDLE_TIMEOUT_S)]),
        wh.listener("tcp_closed", ports["closed"], [wh.tcp_proxy_filter("closed", "tcp_closed")]),
        wh.listener("tcp_limited", ports["limited"], [wh.tcp_proxy_filter("limited", "tcp_limited")]),
    ], clusters=[
        wh.cluster("limited", [echo.port], circuit_breakers={"thresholds": [{"max_connections": 2}]}),
        wh.cluster("echo", [echo.port]),
        wh.cluster("after_eof", [after_eof.port]),
        wh.cluster("a", [srv_a.port]),
        wh.cluster("b", [srv_b.port]),
        wh.cluster("closed", [closed_port]),
    ])
    proxy = h.start_proxy(config)
    return types.SimpleNamespace(harness=h, proxy=proxy, ports=ports)


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s, n, timeout=10.0):
    deadline = time.monotonic() + timeout
    out = bytearray()
    while len(out) < n:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = s.recv(min(1 << 18, n - len(out)))
        except socket.timeout:
            break
        if not data:
            break
        out += data
    return bytes(out)


def recv_until_eof(s, timeout=10.0):
    deadline = time.monotonic() + timeout
    out = bytearray()
    while True:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = s.recv(1 << 18)
        except socket.timeout:
            return bytes(out), False
        except ConnectionResetError:
            return bytes(out), True
        if not data:
            return bytes(out), True
        out += data


def test_echo_round_trip_1mb(env):
    data = os.urandom(1 << 20)
    s = connect(env.ports["echo"])
    errors = []

    def sender():
        try:
            for i in range(0, len(data), 65536):
                s.sendall(data[i:i + 65536])
        except OSError as exc:
            errors.append(exc)

    t = threading.Thread(target=sender)
    t.start()
    got = recv_exact(s, len(data), timeout=20)
    t.join(10)
    s.close()
    assert not errors, "sending through tcp_proxy failed: %r%s" % (errors, env.proxy.ctx())
    assert got == data, "1 MB through tcp_proxy: got %d bytes back, %s%s" % (
        len(got), "content differs" if len(got) == len(data) else "short", env.proxy.ctx())


def test_half_close_keeps_the_other_direction_open(env):
    data = os.urandom(100_000)
    s = connect(env.ports["halfclose"])
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)  # upstream only answers after seeing our EOF
    got, closed = recv_until_eof(s, timeout=10)
    s.close()
    assert got == data and closed, (
        "after the client's half-close the upstream's data should still arrive: got %d of %d bytes, "
        "closed=%s%s" % (len(got), len(data), closed, env.proxy.ctx()))


def test_weighted_clusters_split(env):
    counts = collections.Counter()
    for _ in range(200):
        s = connect(env.ports["weighted"])
        counts[recv_exact(s, 2, timeout=5)] += 1
        s.close()
    share_a = counts[b"A\n"] / 200.0
    assert set(counts) <= {b"A\n", b"B\n"} and abs(share_a - 0.75) <= 0.12, (  # 4 sd
        "tcp_proxy weighted_clusters a=3 b=1 over 200 connections: expected a share 0.75 +- 0.12, "
        "got %r%s" % (dict(counts), env.proxy.ctx()))


def test_idle_timeout_closes_idle_connection(env):
    s = connect(env.ports["idle"])
    try:
        # activity resets the idle timer
        for i in range(3):
            s.sendall(b"ping%d" % i)
            assert recv_exact(s, 5, timeout=5) == b"ping%d" % i, "echo through tcp_proxy failed"
            time.sleep(IDLE_TIMEOUT_S / 2)
        last_activity = time.monotonic()
        s.sendall(b"last!")
        assert recv_exact(s, 5, timeout=5) == b"last!"
        r, _, _ = select.select([s], [], [], IDLE_TIMEOUT_S * 0.5)
        assert not r, "connection closed (or got data) well before the %.1fs idle timeout" % IDLE_TIMEOUT_S
        got, closed = recv_until_eof(s, timeout=4)
        waited = time.monotonic() - last_activity
    finally:
        s.close()
    assert closed and got == b"", (
        "idle_timeout %.1fs: expected the proxy to close the idle connection, closed=%s after %.1fs "
        "(data %r)%s" % (IDLE_TIMEOUT_S, closed, waited, got, env.proxy.ctx()))
    assert waited >= IDLE_TIMEOUT_S * 0.8, "closed after %.2fs, before the idle timeout" % waited


def test_unreachable_upstream_closes_downstream(env):
    s = connect(env.ports["closed"])
    got, closed = recv_until_eof(s, timeout=5)
    s.close()
    assert closed and got == b"", (
        "tcp_proxy to a refused upstream should close the downstream connection; closed=%s data=%r%s"
        % (closed, got, env.proxy.ctx()))


def test_max_connections_circuit_breaker_closes_the_overflowing_connection(env):
    held = [connect(env.ports["limited"]) for _ in range(2)]
    for i, s in enumerate(held):   # both relayed: the cluster's two connections are in use
        s.sendall(b"held%d" % i)
        assert recv_exact(s, 5, timeout=5) == b"held%d" % i
    extra = connect(env.ports["limited"])
    got, closed = recv_until_eof(extra, timeout=5)
    extra.close()
    assert closed and got == b"", "a third connection went through max_connections: 2 (%r)" % got
    assert env.proxy.stats().get("cluster.limited.upstream_cx_overflow", 0) >= 1
    for s in held:
        s.close()
    assert env.proxy.wait_stat("cluster.limited.upstream_cx_active", 0) == 0, env.proxy.ctx()
    again = connect(env.ports["limited"])   # room again once they are gone
    again.sendall(b"again")
    assert recv_exact(again, 5, timeout=5) == b"again"
    again.close()


def test_proxy_still_relays_after_failures(env):
    s = connect(env.ports["echo"])
    s.sendall(b"still alive")
    got = recv_exact(s, 11, timeout=5)
    s.close()
    assert got == b"still alive", got
