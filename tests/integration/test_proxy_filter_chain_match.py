"""Filter chain selection on one listener: filter_chain_match.source_prefix_ranges (longest
prefix wins, no match closes the connection), destination_port, default_filter_chain.

The listener is on 127.0.0.1; clients bind 127.0.0.2 / 127.0.0.3 as their source address to
look like other peers (all of 127.0.0.0/8 is loopback on Linux)."""

import re
import types

import pytest

import weft_harness as wh


def chain(body, match=None, stat_prefix=None):
    """A filter chain whose HCM answers every request with 200 `body`."""
    c = {"filters": [wh.hcm_filter([wh.vhost("all", ["*"], [wh.direct(200, body)])],
                                   stat_prefix=stat_prefix or re.sub(r"[^a-z0-9]+", "_", body))]}
    if match is not None:
        c["filter_chain_match"] = match
    return c


def src(prefix, length):
    return {"source_prefix_ranges": [{"address_prefix": prefix, "prefix_len": length}]}


@pytest.fixture(scope="module")
def env(weft_module):
    h = weft_module
    ports = {k: h.port() for k in ("source", "strict", "dport", "default")}
    admin = h.port()
    config = wh.bootstrap(admin, listeners=[
        wh.listener("by_source", ports["source"], filter_chains=[
            chain("chain=src-127.0.0.2", src("127.0.0.2", 32)),
            chain("chain=src-loopback", src("127.0.0.0", 8)),
        ]),
        wh.listener("strict_source", ports["strict"], filter_chains=[
            chain("chain=only-127.0.0.2", src("127.0.0.2", 32)),
        ]),
        wh.listener("by_dport", ports["dport"], filter_chains=[
            chain("chain=port-other", {"destination_port": ports["source"]}),
            chain("chain=port-match", {"destination_port": ports["dport"]}),
            chain("chain=no-criteria"),
        ]),
        wh.listener("with_default", ports["default"], filter_chains=[
            chain("chain=only-127.0.0.2", src("127.0.0.2", 32)),
        ], default_filter_chain=chain("chain=default")),
    ])
    proxy = h.start_proxy(config)
    return types.SimpleNamespace(harness=h, proxy=proxy, ports=ports)


def get_from(env, port, source_ip):
    with wh.RawConn(port, source_ip=source_ip) as c:
        c.request("GET", "/which")
        return c.read_response()


@pytest.mark.parametrize("source_ip, expected", [
    ("127.0.0.2", "chain=src-127.0.0.2"),   # /32 beats /8
    ("127.0.0.1", "chain=src-loopback"),
    ("127.0.0.3", "chain=src-loopback"),
])
def test_source_prefix_ranges(env, source_ip, expected):
    r = get_from(env, env.ports["source"], source_ip)
    assert r.status == 200 and r.text == expected, (
        "client from %s: expected %r, got %s%s" % (source_ip, expected, r.describe(), env.proxy.ctx()))


def test_no_matching_chain_closes_connection(env):
    r = get_from(env, env.ports["strict"], "127.0.0.2")
    assert r.text == "chain=only-127.0.0.2", r.describe()
    with wh.RawConn(env.ports["strict"], source_ip="127.0.0.1") as c:
        try:
            c.request("GET", "/which")
        except (BrokenPipeError, ConnectionResetError):
            pass
        closed = c.wait_closed(3)
        leftover = bytes(c.buf)
    assert closed and leftover == b"", (
        "a connection matching no filter chain should be closed without a response; closed=%s, "
        "received %r%s" % (closed, leftover[:200], env.proxy.ctx()))


def test_destination_port(env):
    r = get_from(env, env.ports["dport"], "127.0.0.1")
    assert r.status == 200 and r.text == "chain=port-match", (
        "expected the chain whose destination_port is the listener's port, got %s%s"
        % (r.describe(), env.proxy.ctx()))


def test_default_filter_chain(env):
    r = get_from(env, env.ports["default"], "127.0.0.1")
    assert r.status == 200 and r.text == "chain=default", (
        "no chain matches 127.0.0.1: expected default_filter_chain, got %s%s" % (r.describe(), env.proxy.ctx()))
    r = get_from(env, env.ports["default"], "127.0.0.2")
    assert r.text == "chain=only-127.0.0.2", r.describe()
