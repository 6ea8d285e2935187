"""envoy.filters.http.local_ratelimit on HTTP/1.1 and HTTP/2: a token bucket shared by every
worker; past it, 429 with details local_rate_limited and flag RL (gRPC: UNAVAILABLE, or
RESOURCE_EXHAUSTED), response_headers_to_add, x-ratelimit-* headers (DRAFT_VERSION_03), refill
after fill_interval, shadow mode (filter_enforced 0%: counted, request headers added, not
refused), a route's own bucket through typed_per_filter_config, and the stats."""

import json

import pytest

import weft_harness as wh
from both_protocols import PROTOCOLS, request

LRL_TYPE = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"
ALL = {"default_value": {"numerator": 100, "denominator": "HUNDRED"}}
NONE = {"default_value": {"numerator": 0, "denominator": "HUNDRED"}}


def lrl(stat_prefix, max_tokens, fill="60s", **extra):
    return dict({"@type": LRL_TYPE, "stat_prefix": stat_prefix,
                 "token_bucket": {"max_tokens": max_tokens, "tokens_per_fill": max_tokens, "fill_interval": fill},
                 "filter_enabled": ALL, "filter_enforced": ALL}, **extra)


def start(weft, routes, listener_cfg):
    echo = weft.echo()
    port, admin = weft.port(), weft.port()
    hcm = wh.hcm_filter([wh.vhost("all", ["*"], routes)], access_log=[wh.file_access_log(
        weft.path("access.log"), "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%\n")])
    hcm["typed_config"]["http_filters"] = [{"name": "envoy.filters.http.local_ratelimit", "typed_config": listener_cfg},
                                           wh.router_filter()]
    cfg = wh.bootstrap(admin, [wh.listener("main", port, [hcm])], [wh.cluster("echo", [echo.port])])
    return weft.start_proxy(cfg), port


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_bucket_limits_then_refills(weft, proto):
    # A minute's bucket: no refill can fall between the five requests, however slow the machine.
    proxy, port = start(weft, [wh.route_to("echo", "/")], lrl("rl", 3, "60s", enable_x_ratelimit_headers="DRAFT_VERSION_03",
                        response_headers_to_add=[{"header": {"key": "x-limited", "value": "yes"}}]))
    got = [request(proto, port, "/a/%d" % i) for i in range(5)]
    assert [r.status for r in got] == [200, 200, 200, 429, 429], [r.describe() for r in got]
    assert [r.headers.get("x-ratelimit-remaining") for r in got] == ["2", "1", "0", "0", "0"], [r.describe() for r in got]
    assert all(r.headers.get("x-ratelimit-limit") == "3" for r in got), got[0].describe()
    limited = got[3]
    assert limited.text == "local_rate_limited" and limited.headers.get("x-limited") == "yes", limited.describe()
    assert "x-limited" not in got[0].headers, got[0].describe()
    assert 0 <= int(limited.headers.get("x-ratelimit-reset", "-1")) <= 60, limited.describe()
    lines = wh.wait_for_log(weft.path("access.log"), lambda l: " 429 " in l)
    assert " 429 RL local_rate_limited" in lines[-1], lines
    stats = proxy.stats()
    assert stats.get("rl.http_local_rate_limit.enabled") == 5 and stats.get("rl.http_local_rate_limit.ok") == 3
    assert stats.get("rl.http_local_rate_limit.rate_limited") == 2 and stats.get("rl.http_local_rate_limit.enforced") == 2


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_bucket_refills(weft, proto):
    _, port = start(weft, [wh.route_to("echo", "/")], lrl("rl", 1, "1s"))
    assert wh.wait_for(lambda: request(proto, port, "/drain").status == 429, 5)
    assert wh.wait_for(lambda: request(proto, port, "/again").status == 200, 5)


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_shared_by_all_workers(weft, proto):
    """Ten requests on ten connections (spread over both workers): exactly the bucket's 4 pass."""
    _, port = start(weft, [wh.route_to("echo", "/")], lrl("rl", 4))
    statuses = sorted(request(proto, port, "/w/%d" % i).status for i in range(10))
    assert statuses == [200] * 4 + [429] * 6, statuses


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_not_enforced_counts_and_marks_only(weft, proto):
    proxy, port = start(weft, [wh.route_to("echo", "/")], lrl(
        "shadow", 1, filter_enforced=NONE,
        request_headers_to_add_when_not_enforced=[{"header": {"key": "x-would-limit", "value": "1"}}]))
    first, second = request(proto, port, "/s/1"), request(proto, port, "/s/2")
    assert first.status == 200 and second.status == 200, (first.describe(), second.describe())
    assert "x-would-limit" not in json.loads(first.body)["headers"]
    assert json.loads(second.body)["headers"].get("x-would-limit") == "1", second.describe()
    stats = proxy.stats()
    assert stats.get("shadow.http_local_rate_limit.rate_limited") == 1
    assert stats.get("shadow.http_local_rate_limit.enforced", 0) == 0


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_per_route_bucket(weft, proto):
    limited = wh.route_to("echo", "/limited")
    limited["typed_per_filter_config"] = {"envoy.filters.http.local_ratelimit": lrl("route_rl", 1)}
    # The listener's config: present but disabled (no filter_enabled), as Istio's sidecars carry it.
    proxy, port = start(weft, [limited, wh.route_to("echo", "/")], {"@type": LRL_TYPE, "stat_prefix": "http_local_rate_limiter"})
    assert [request(proto, port, "/limited").status for _ in range(2)] == [200, 429]
    assert [request(proto, port, "/free").status for _ in range(3)] == [200, 200, 200]
    assert proxy.stats().get("route_rl.http_local_rate_limit.rate_limited") == 1


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_grpc_status(weft, proto):
    _, port = start(weft, [wh.route_to("echo", "/")], lrl("g", 1, rate_limited_as_resource_exhausted=True))
    hdrs = ["content-type: application/grpc", "te: trailers"]
    request(proto, port, "/pkg.S/M", method="POST", headers=hdrs)
    r = request(proto, port, "/pkg.S/M", method="POST", headers=hdrs)
    assert r.status == 200 and r.headers.get("grpc-status") == "8", r.describe()


def test_config_errors(weft):
    for cfg, expected in [
        (lrl("x", 0), "token_bucket.max_tokens: must be at least 1"),
        (dict(lrl("x", 1), status={"code": 200}), "status.code: must be in [400, 599]"),
        (dict(lrl("x", 1), descriptors=[{"entries": [{"key": "a", "value": "b"}],
                                          "token_bucket": {"max_tokens": 1, "fill_interval": "1s"}}]),
         "descriptors: not supported"),
    ]:
        hcm = wh.hcm_filter([wh.vhost("all", ["*"], [wh.direct(200)])])
        hcm["typed_config"]["http_filters"] = [{"name": "envoy.filters.http.local_ratelimit", "typed_config": cfg},
                                               wh.router_filter()]
        _, r = weft.validate(wh.bootstrap(weft.port(), [wh.listener("main", weft.port(), [hcm])]))
        assert r.returncode != 0 and expected in r.stderr + r.stdout, (expected, r.stderr, r.stdout)
