"""envoy.filters.http.cors on HTTP/1.1 and HTTP/2: preflights answered from the route's
CorsPolicy (typed_per_filter_config) with the allowed methods, headers and max age; allowed
origins (exact, prefix, regex string matchers) get Access-Control-Allow-Origin (and
-Credentials, -Expose-Headers) on the upstream's response; other origins get none and count as
origin_invalid; a virtual host's policy applies to its routes without one; preflights of an
unmatched origin go upstream unless forward_not_matching_preflights is false."""

import pytest

import weft_harness as wh
from both_protocols import PROTOCOLS, request

CORS_TYPE = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"
POLICY_TYPE = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy"


def policy(**cfg):
    return {"envoy.filters.http.cors": dict({"@type": POLICY_TYPE}, **cfg)}


@pytest.fixture(scope="module")
def env(weft_module):
    echo = weft_module.echo()
    port, admin = weft_module.port(), weft_module.port()
    app = wh.route_to("echo", "/app")
    app["typed_per_filter_config"] = policy(
        allow_origin_string_match=[{"exact": "https://a.example"}, {"prefix": "https://b."},
                                   {"safe_regex": {"regex": r"https://[a-z]+\.c\.example"}}],
        allow_methods="GET,POST,PUT", allow_headers="x-token,content-type", expose_headers="x-echo-server",
        max_age="600", allow_credentials=True)
    strict = wh.route_to("echo", "/strict")
    strict["typed_per_filter_config"] = policy(allow_origin_string_match=[{"exact": "https://a.example"}],
                                               forward_not_matching_preflights=False)
    off = wh.route_to("echo", "/off")
    off["typed_per_filter_config"] = policy(allow_origin_string_match=[{"exact": "*"}],
                                            filter_enabled={"default_value": {"numerator": 0}})
    vh = wh.vhost("all", ["*"], [app, strict, off, wh.route_to("echo", "/")],
                  typed_per_filter_config=policy(allow_origin_string_match=[{"exact": "*"}], allow_methods="GET"))
    hcm = wh.hcm_filter([vh])
    hcm["typed_config"]["http_filters"] = [{"name": "envoy.filters.http.cors", "typed_config": {"@type": CORS_TYPE}},
                                           wh.router_filter()]
    cfg = wh.bootstrap(admin, [wh.listener("main", port, [hcm])], [wh.cluster("echo", [echo.port])])
    return type("Env", (), {"port": port, "proxy": weft_module.start_proxy(cfg)})


def preflight(origin, method="PUT", extra=()):
    return ["origin: %s" % origin, "access-control-request-method: %s" % method] + list(extra)


def cors_stat(env, name):
    return env.proxy.stats().get("http.ingress_http.cors." + name, 0)


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_preflight_answered_by_the_proxy(env, proto):
    r = request(proto, env.port, "/app/x", method="OPTIONS", headers=preflight("https://a.example"))
    assert r.status == 200, r.describe()
    h = r.headers
    assert h.get("access-control-allow-origin") == "https://a.example", r.describe()
    assert h.get("access-control-allow-methods") == "GET,POST,PUT", r.describe()
    assert h.get("access-control-allow-headers") == "x-token,content-type", r.describe()
    assert h.get("access-control-max-age") == "600", r.describe()
    assert h.get("access-control-allow-credentials") == "true", r.describe()
    assert "x-echo-server" not in h, "a preflight went upstream: " + r.describe()


@pytest.mark.parametrize("proto", PROTOCOLS)
@pytest.mark.parametrize("origin", ["https://a.example", "https://b.anything", "https://xyz.c.example"])
def test_allowed_origins_get_cors_headers(env, proto, origin):
    r = request(proto, env.port, "/app/y", headers=["origin: %s" % origin])
    assert r.status == 200 and r.headers.get("x-echo-server") == "echo", r.describe()
    assert r.headers.get("access-control-allow-origin") == origin, r.describe()
    assert r.headers.get("access-control-expose-headers") == "x-echo-server", r.describe()
    assert r.headers.get("access-control-allow-credentials") == "true", r.describe()


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_other_origins_get_none(env, proto):
    before = cors_stat(env, "origin_invalid")
    r = request(proto, env.port, "/app/z", headers=["origin: https://evil.example"])
    assert r.status == 200 and "access-control-allow-origin" not in r.headers, r.describe()
    # Its preflight goes upstream (forward_not_matching_preflights defaults to true).
    r = request(proto, env.port, "/app/z", method="OPTIONS", headers=preflight("https://evil.example"))
    assert r.headers.get("x-echo-server") == "echo" and "access-control-allow-origin" not in r.headers, r.describe()
    assert cors_stat(env, "origin_invalid") == before + 2
    # No Origin: not a CORS request at all.
    r = request(proto, env.port, "/app/z")
    assert "access-control-allow-origin" not in r.headers, r.describe()


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_unmatched_preflight_not_forwarded(env, proto):
    r = request(proto, env.port, "/strict", method="OPTIONS", headers=preflight("https://evil.example"))
    assert r.status == 200 and "x-echo-server" not in r.headers, r.describe()
    assert "access-control-allow-origin" not in r.headers, r.describe()


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_virtual_host_policy_and_wildcard(env, proto):
    r = request(proto, env.port, "/other", headers=["origin: https://anyone.example"])
    assert r.headers.get("access-control-allow-origin") == "https://anyone.example", r.describe()
    assert "access-control-allow-credentials" not in r.headers, r.describe()
    r = request(proto, env.port, "/other", method="OPTIONS", headers=preflight("https://anyone.example", "GET"))
    assert r.status == 200 and r.headers.get("access-control-allow-methods") == "GET", r.describe()


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_filter_disabled_by_filter_enabled(env, proto):
    r = request(proto, env.port, "/off", headers=["origin: https://a.example"])
    assert r.status == 200 and "access-control-allow-origin" not in r.headers, r.describe()


def test_config_errors(weft):
    rt = wh.route_to("echo", "/")
    rt["typed_per_filter_config"] = policy(allow_origin_string_match=[{"exact": "x"}], max_age="ten")
    _, r = weft.validate(wh.bootstrap(weft.port(), [wh.http_listener("main", weft.port(), [wh.vhost("a", ["*"], [rt])])],
                                      [wh.cluster("echo", [weft.port()])]))
    assert r.returncode != 0 and "max_age: must be a number of seconds" in r.stderr + r.stdout, r.stderr
    rt["typed_per_filter_config"] = policy(allow_private_network_access=True)
    _, r = weft.validate(wh.bootstrap(weft.port(), [wh.http_listener("main", weft.port(), [wh.vhost("a", ["*"], [rt])])],
                                      [wh.cluster("echo", [weft.port()])]))
    assert r.returncode != 0 and "allow_private_network_access: not supported" in r.stderr + r.stdout, r.stderr
