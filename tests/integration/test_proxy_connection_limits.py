"""A cluster's common_http_protocol_options as Envoy's: max_requests_per_connection closes an
upstream connection after that many requests, idle_timeout one that carried nothing for that
long, max_connection_duration one older than that (once idle); both for HTTP/1.1 keep-alive
connections and HTTP/2 ones."""

import time
import types

import pytest

import weft_harness as wh

OPTIONS_KEY = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


def limited(name, port, http2, **common):
    protocol = {"http2_protocol_options": {}} if http2 else {"http_protocol_options": {}}
    return wh.cluster(name, [port], typed_extension_protocol_options={OPTIONS_KEY: {
        "@type": "type.googleapis.com/" + OPTIONS_KEY, "explicit_http_config": protocol,
        "common_http_protocol_options": common}})


@pytest.fixture(scope="module")
def env(weft_module):
    h = weft_module
    echo = h.echo("echo")
    # An HTTP/2 upstream: a second weft-proxy answering directly.
    up_port = h.port()
    up = h.start_proxy(wh.bootstrap(h.port(), listeners=[wh.http_listener(
        "up", up_port, [wh.vhost("up", ["*"], [wh.direct(200, "up")])], hcm_extra={"codec_type": "HTTP2"})]),
        concurrency=1)
    port = h.port()
    clusters = []
    routes = []
    for proto, target in (("http1", echo.port), ("http2", up_port)):
        for kind, common in (("max", {"max_requests_per_connection": 2}), ("idle", {"idle_timeout": "0.3s"}),
                             ("age", {"max_connection_duration": "0.5s"})):
            name = "%s_%s" % (kind, proto)
            clusters.append(limited(name, target, proto == "http2", **common))
            routes.append(wh.route_to(name, prefix="/%s/%s" % (proto, kind)))
    proxy = h.start_proxy(wh.bootstrap(h.port(), listeners=[wh.http_listener(
        "main", port, [wh.vhost("all", ["*"], routes)])], clusters=clusters), concurrency=1)
    return types.SimpleNamespace(proxy=proxy, port=port, up=up)


def get(env, path):
    r = wh.http_request(env.port, path, timeout=10)
    assert r.status == 200, r.describe()


@pytest.mark.parametrize("upstream", ["http1", "http2"])
def test_max_requests_per_connection_closes_the_connection(env, upstream):
    c = "cluster.max_%s." % upstream
    for _ in range(6):
        get(env, "/%s/max" % upstream)
    assert wh.wait_for(lambda: env.proxy.stats().get(c + "upstream_cx_max_requests") == 3, 3), env.proxy.stats()
    assert env.proxy.stats()[c + "upstream_cx_total"] == 3


@pytest.mark.parametrize("upstream", ["http1", "http2"])
def test_idle_timeout_closes_an_unused_connection(env, upstream):
    c = "cluster.idle_%s." % upstream
    get(env, "/%s/idle" % upstream)
    get(env, "/%s/idle" % upstream)
    s = env.proxy.stats()
    assert s[c + "upstream_cx_total"] == 1 and s[c + "upstream_cx_active"] == 1, s
    time.sleep(0.6)
    assert wh.wait_for(lambda: env.proxy.stats().get(c + "upstream_cx_active") == 0, 3)
    assert env.proxy.stats()[c + "upstream_cx_idle_timeout"] == 1
    get(env, "/%s/idle" % upstream)
    assert env.proxy.stats()[c + "upstream_cx_total"] == 2


@pytest.mark.parametrize("upstream", ["http1", "http2"])
def test_max_connection_duration_retires_an_old_connection(env, upstream):
    c = "cluster.age_%s." % upstream
    # Busy well past 0.5 s: the connection is replaced once it is too old, while in use.
    deadline = time.monotonic() + 1.3
    while time.monotonic() < deadline:
        get(env, "/%s/age" % upstream)
        time.sleep(0.05)
    s = env.proxy.stats()
    assert s[c + "upstream_cx_total"] >= 2, s
    assert s[c + "upstream_cx_max_duration_reached"] >= 1, s
    # Left idle, the last one closes at its age limit (no idle_timeout is set but Envoy's 1 h).
    assert wh.wait_for(lambda: env.proxy.stats().get(c + "upstream_cx_active") == 0, 3), env.proxy.stats()


def test_downstream_max_requests_per_connection_is_refused(weft):
    config = wh.bootstrap(weft.port(), listeners=[wh.http_listener(
        "l", weft.port(), [wh.vhost("a", ["*"], [wh.direct(200, "ok")])],
        hcm_extra={"common_http_protocol_options": {"max_requests_per_connection": 5}})])
    _, result = weft.validate(config)
    assert result.returncode != 0
    assert ("common_http_protocol_options.max_requests_per_connection: not supported by weft-proxy for downstream "
            "connections") in result.stderr, result.stderr[-2000:]


@pytest.mark.parametrize("proto", ["http1", "http2"])
def test_max_connection_pools_caps_the_pools_open_at_once(weft, proto):
    from both_protocols import request

    a, b = weft.echoes("pool-a", "pool-b")
    port = weft.port()
    proxy = weft.start_proxy(wh.bootstrap(weft.port(), listeners=[wh.http_listener(
        "main", port, [wh.vhost("all", ["*"], [wh.route_to("pools")])])], clusters=[
        wh.cluster("pools", [a.port, b.port], circuit_breakers={"thresholds": [
            {"max_connection_pools": 1, "max_pending_requests": 0}]})]), concurrency=1)
    # Round robin: the first request opens a's pool (its keep-alive connection stays); b would
    # need a second pool: 503 UO; a again is served from its open pool.
    first = request(proto, port, "/")
    second = request(proto, port, "/")
    third = request(proto, port, "/")
    statuses = [first.status, second.status, third.status]
    assert statuses == [200, 503, 200], statuses
    assert second.headers.get("x-envoy-overloaded") or b"overflow" in second.body, second.describe()
    stats = proxy.stats()
    assert stats["cluster.pools.upstream_cx_pool_overflow"] == 1, stats
