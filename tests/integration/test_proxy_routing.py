"""Routing: virtual host selection, route matching, route actions, header mutation, no-route 404.

One proxy serves the whole module. Matching tests use direct_response routes whose bodies name
the route that matched, so they test matching alone; action tests go to echo upstreams, which
report the path/host/headers they received.
"""

import collections
import threading
import types

import pytest

import weft_harness as wh
from weft_harness import direct, expect_status, route_to, vhost

ROUTES_LOG_FORMAT = "%REQ(:AUTHORITY)% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS%\n"


def _match_routes():
    return [
        direct(200, "route=path", match={"path": "/exact"}),
        direct(200, "route=regex", match={"safe_regex": {"regex": "/regex/[0-9]+"}}),
        direct(200, "route=hdr-exact", match={
            "prefix": "/hdr", "headers": [{"name": "x-env", "string_match": {"exact": "canary"}}]}),
        direct(200, "route=hdr-not-prod", match={
            "prefix": "/hdr", "headers": [{"name": "x-env", "string_match": {"exact": "prod"},
                                           "invert_match": True}]}),
        direct(200, "route=hdr-present", match={
            "prefix": "/hdr", "headers": [{"name": "x-debug", "present_match": True}]}),
        direct(200, "route=hdr-fallback", match={"prefix": "/hdr"}),
        direct(200, "route=query", match={
            "prefix": "/q", "query_parameters": [{"name": "debug", "string_match": {"exact": "1"}}]}),
        direct(200, "route=q-fallback", match={"prefix": "/q"}),
        direct(200, "route=ci", match={"prefix": "/CaseInsensitive", "case_sensitive": False}),
        direct(200, "route=cs", match={"prefix": "/CaseSensitive"}),
        direct(200, "route=prefix", match={"prefix": "/pre"}),
        # deliberately no catch-all: anything else in this virtual host is a 404 (NR)
    ]


def _action_routes():
    return [
        direct(418, "I am a teapot", prefix="/direct"),
        {"match": {"prefix": "/redirect/host"}, "redirect": {"host_redirect": "new.example.com"}},
        {"match": {"path": "/redirect/path"}, "redirect": {"path_redirect": "/new/path"}},
        {"match": {"prefix": "/redirect/https"}, "redirect": {"https_redirect": True}},
        {"match": {"prefix": "/redirect/308"},
         "redirect": {"path_redirect": "/moved", "response_code": "PERMANENT_REDIRECT"}},
        {"match": {"prefix": "/redirect/302"},
         "redirect": {"path_redirect": "/found", "response_code": "FOUND"}},
        route_to("echo_a", prefix="/api/", prefix_rewrite="/v2/"),
        route_to("echo_a", prefix="/host-rewrite", host_rewrite_literal="rewritten.internal"),
        {"match": {"prefix": "/weighted"}, "route": {"weighted_clusters": {"clusters": [
            {"name": "echo_a", "weight": 80}, {"name": "echo_b", "weight": 20}]}}},
        {"match": {"prefix": "/all-b"}, "route": {"weighted_clusters": {"clusters": [
            {"name": "echo_a", "weight": 0}, {"name": "echo_b", "weight": 100}]}}},
        dict(route_to("echo_a", prefix="/headers"),
             request_headers_to_add=[{"header": {"key": "x-added-route", "value": "route"}}],
             request_headers_to_remove=["x-remove-route"],
             response_headers_to_add=[{"header": {"key": "x-resp-route", "value": "route"}}],
             response_headers_to_remove=["x-upstream-secret"]),
        route_to("echo_b", prefix="/to-b"),
        route_to("echo_a", prefix="/"),
    ]


@pytest.fixture(scope="module")
def env(weft_module):
    h = weft_module
    echo_a, echo_b = h.echoes("echo-a", "echo-b")
    port, port_only, admin = h.port(), h.port(), h.port()
    log_path = h.path("routing-access.log")
    only_log_path = h.path("only-access.log")
    route_config = {
        "name": "routing",
        "virtual_hosts": [
            vhost("exact", ["exact.example.com"], [direct(200, "vh=exact")]),
            vhost("suffix", ["*.example.com"], [direct(200, "vh=suffix")]),
            vhost("longer-suffix", ["*.api.example.com"], [direct(200, "vh=longer-suffix")]),
            vhost("prefix", ["static-*"], [direct(200, "vh=prefix")]),
            vhost("with-port", ["foo:8080"], [direct(200, "vh=with-port")]),
            vhost("match", ["match.test"], _match_routes()),
            vhost("actions", ["actions.test"], _action_routes(),
                  request_headers_to_add=[{"header": {"key": "x-added-vhost", "value": "vhost"}}],
                  request_headers_to_remove=["x-remove-vhost"],
                  response_headers_to_add=[{"header": {"key": "x-resp-vhost", "value": "vhost"}}]),
            vhost("wildcard", ["*"], [direct(200, "vh=wildcard")]),
        ],
        "request_headers_to_add": [{"header": {"key": "x-added-rc", "value": "rc"}}],
        "request_headers_to_remove": ["x-remove-rc"],
        "response_headers_to_add": [{"header": {"key": "x-resp-rc", "value": "rc"}}],
        "response_headers_to_remove": ["x-upstream-rc-secret"],
    }
    only_config = {"name": "only", "virtual_hosts": [
        vhost("only", ["only.test"], [direct(200, "vh=only")])]}
    config = wh.bootstrap(admin, listeners=[
        wh.http_listener("routing", port, route_config=route_config, stat_prefix="routing",
                         access_log=[wh.file_access_log(log_path, ROUTES_LOG_FORMAT)]),
        wh.http_listener("only", port_only, route_config=only_config, stat_prefix="only",
                         access_log=[wh.file_access_log(only_log_path, ROUTES_LOG_FORMAT)]),
    ], clusters=[
        wh.cluster("echo_a", [echo_a.port]),
        wh.cluster("echo_b", [echo_b.port]),
    ])
    proxy = h.start_proxy(config)
    return types.SimpleNamespace(harness=h, proxy=proxy, port=port, port_only=port_only,
                                 log_path=log_path, only_log_path=only_log_path)


def get(env, host, path, headers=None, port=None, method="GET"):
    hdrs = {"Host": host}
    hdrs.update(headers or {})
    return wh.http_request(port or env.port, path, method=method, headers=hdrs)


def expect_body(env, resp, status, body, what):
    assert resp.status == status and resp.text == body, (
        "%s: expected HTTP %d with body %r, got %s%s"
        % (what, status, body, resp.describe(), env.proxy.ctx()))


# ------------------------------------------------------------------ virtual host selection

@pytest.mark.parametrize("host, expected", [
    ("exact.example.com", "vh=exact"),          # exact beats *.example.com
    ("EXACT.Example.COM", "vh=exact"),          # host matching is case-insensitive
    ("a.example.com", "vh=suffix"),
    ("x.y.example.com", "vh=suffix"),
    ("v1.api.example.com", "vh=longer-suffix"),  # the longest suffix wildcard wins
    ("static-1.test", "vh=prefix"),
    ("foo:8080", "vh=with-port"),               # domain with a port matches host:port
    ("example.com", "vh=wildcard"),             # *.example.com needs a non-empty label
    ("unknown.test", "vh=wildcard"),
])
def test_virtual_host_domain_selection(env, host, expected):
    r = get(env, host, "/")
    expect_body(env, r, 200, expected, "Host %r" % host)


def test_unknown_domain_without_wildcard_is_404_nr(env):
    r = get(env, "nope.test", "/anything", port=env.port_only)
    expect_status(r, 404, "unknown domain on a listener without a '*' virtual host", env.proxy)
    lines = wh.wait_for_log(env.only_log_path, lambda l: l.startswith("nope.test /anything "))
    assert lines and lines[-1].split()[2:] == ["404", "NR"], (
        "access log: expected 'nope.test /anything 404 NR', got %r%s" % (lines, env.proxy.ctx()))
    expect_body(env, get(env, "only.test", "/", port=env.port_only), 200, "vh=only",
                "known domain on the same listener")


# ------------------------------------------------------------------ route matching

@pytest.mark.parametrize("path, headers, expected", [
    ("/exact", {}, "route=path"),
    ("/exact?x=1", {}, "route=path"),                      # path match ignores the query
    ("/regex/123", {}, "route=regex"),
    ("/regex/123?q=a", {}, "route=regex"),                 # regex runs on the path sans query
    ("/hdr", {"x-env": "canary"}, "route=hdr-exact"),
    ("/hdr", {"x-env": "staging"}, "route=hdr-not-prod"),  # invert_match of exact "prod"
    ("/hdr", {"x-env": "prod", "x-debug": ""}, "route=hdr-present"),
    ("/hdr", {"x-env": "prod", "x-debug": "1"}, "route=hdr-present"),
    ("/hdr", {"x-env": "prod"}, "route=hdr-fallback"),
    ("/q?debug=1", {}, "route=query"),
    ("/q?a=b&debug=1", {}, "route=query"),
    ("/q?debug=2", {}, "route=q-fallback"),
    ("/q", {}, "route=q-fallback"),
    ("/caseinsensitive/x", {}, "route=ci"),
    ("/CASEINSENSITIVE", {}, "route=ci"),
    ("/CaseSensitive/x", {}, "route=cs"),
    ("/prefix/anything", {}, "route=prefix"),
    ("/pre", {}, "route=prefix"),
])
def test_route_match(env, path, headers, expected):
    r = get(env, "match.test", path, headers)
    expect_body(env, r, 200, expected, "GET %s with headers %r" % (path, headers))


@pytest.mark.parametrize("path", [
    "/exact/more",       # path match is exact
    "/regex/123abc",     # safe_regex must match the whole path
    "/regex/",
    "/casesensitive",    # prefix match is case-sensitive by default
    "/pr",
    "/nothing",
])
def test_no_route_is_404_with_nr_flag(env, path):
    r = get(env, "match.test", path)
    expect_status(r, 404, "GET %s matches no route in virtual host match.test" % path, env.proxy)
    lines = wh.wait_for_log(env.log_path, lambda l: l.startswith("match.test %s " % path))
    assert lines and lines[-1].split()[2:] == ["404", "NR"], (
        "access log: expected 'match.test %s 404 NR', got %r%s" % (path, lines, env.proxy.ctx()))


# ------------------------------------------------------------------ actions

def test_direct_response(env):
    r = get(env, "actions.test", "/direct")
    expect_body(env, r, 418, "I am a teapot", "direct_response 418")


def test_cluster_route_reaches_upstream(env):
    r = get(env, "actions.test", "/some/path?x=1")
    expect_status(r, 200, "catch-all route to echo_a", env.proxy)
    body = r.json()
    assert body["server"] == "echo-a" and body["path"] == "/some/path?x=1", (
        "expected echo-a to see /some/path?x=1, got %r" % body)
    r = get(env, "actions.test", "/to-b")
    assert r.status == 200 and r.json()["server"] == "echo-b", "route to echo_b: %s" % r.describe()


@pytest.mark.parametrize("path, code, location", [
    ("/redirect/host?a=1", 301, "http://new.example.com/redirect/host?a=1"),
    ("/redirect/path", 301, "http://actions.test/new/path"),
    ("/redirect/https/x", 301, "https://actions.test/redirect/https/x"),
    ("/redirect/308", 308, "http://actions.test/moved"),
    ("/redirect/302", 302, "http://actions.test/found"),
])
def test_redirect(env, path, code, location):
    r = get(env, "actions.test", path)
    assert r.status == code and r.header("location") == location, (
        "GET %s: expected %d with Location %r, got %s%s"
        % (path, code, location, r.describe(), env.proxy.ctx()))


def test_prefix_rewrite(env):
    r = get(env, "actions.test", "/api/users/7?x=1")
    expect_status(r, 200, "prefix_rewrite route", env.proxy)
    assert r.json()["path"] == "/v2/users/7?x=1", (
        "expected upstream path /v2/users/7?x=1 after prefix_rewrite /api/ -> /v2/, got %r"
        % r.json()["path"])


def test_host_rewrite_literal(env):
    r = get(env, "actions.test", "/host-rewrite/x")
    expect_status(r, 200, "host_rewrite_literal route", env.proxy)
    seen = r.json()["headers"].get("host")
    assert seen == "rewritten.internal", (
        "expected upstream Host 'rewritten.internal', got %r (headers %r)" % (seen, r.json()["headers"]))


def test_host_header_passed_through_unchanged(env):
    r = get(env, "actions.test", "/plain")
    assert r.json()["headers"].get("host") == "actions.test", r.describe()


def _spread(env, path, total, connections=4):
    counts = collections.Counter()
    errors = []
    lock = threading.Lock()

    def worker(n):
        try:
            with wh.HttpSession(env.port) as s:
                for _ in range(n):
                    r = s.request(path, headers={"Host": "actions.test"})
                    if r.status != 200:
                        raise AssertionError("GET %s -> %s" % (path, r.describe()))
                    with lock:
                        counts[r.json()["server"]] += 1
        except Exception as exc:  # reported below
            errors.append(exc)

    per = total // connections
    threads = [threading.Thread(target=worker, args=(per,)) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, "requests failed: %r%s" % (errors[:3], env.proxy.ctx())
    return counts


def test_weighted_clusters_80_20(env):
    counts = _spread(env, "/weighted", 1000)
    total = sum(counts.values())
    assert total == 1000 and 745 <= counts["echo-a"] <= 855, (  # 4.3 sd
        "weighted_clusters 80/20: expected echo-a 800 +- 55 of 1000 requests, got %r"
        % dict(counts))


def test_weighted_clusters_zero_weight_gets_nothing(env):
    counts = _spread(env, "/all-b", 100, connections=2)
    assert counts == {"echo-b": 100}, (
        "weights echo_a=0 echo_b=100: expected all 100 requests on echo-b, got %r" % dict(counts))


# ------------------------------------------------------------------ header mutation

def test_request_headers_added_and_removed_at_all_levels(env):
    r = get(env, "actions.test", "/headers", {
        "x-remove-route": "1", "x-remove-vhost": "1", "x-remove-rc": "1", "x-keep": "kept"})
    expect_status(r, 200, "header mutation route", env.proxy)
    seen = r.json()["headers"]
    expected_added = {"x-added-route": "route", "x-added-vhost": "vhost", "x-added-rc": "rc"}
    for k, v in expected_added.items():
        assert seen.get(k) == v, "upstream should see %s: %s, got headers %r" % (k, v, seen)
    for k in ("x-remove-route", "x-remove-vhost", "x-remove-rc"):
        assert k not in seen, "upstream should not see %s (request_headers_to_remove), got %r" % (k, seen)
    assert seen.get("x-keep") == "kept", "unrelated header lost: %r" % seen


def test_vhost_and_route_config_level_apply_to_other_routes(env):
    r = get(env, "actions.test", "/plain", {"x-remove-vhost": "1", "x-remove-rc": "1",
                                            "x-remove-route": "stays"})
    seen = r.json()["headers"]
    assert seen.get("x-added-vhost") == "vhost" and seen.get("x-added-rc") == "rc", seen
    assert "x-added-route" not in seen, "route-level header leaked to another route: %r" % seen
    assert "x-remove-vhost" not in seen and "x-remove-rc" not in seen, seen
    assert seen.get("x-remove-route") == "stays", "route-level removal leaked: %r" % seen
    assert r.header("x-resp-vhost") == "vhost" and r.header("x-resp-rc") == "rc", r.describe()
    assert r.header("x-resp-route") is None, r.describe()


def test_response_headers_added_and_removed(env):
    r = get(env, "actions.test", "/headers", {
        "x-echo-response-header": "x-upstream-secret: s1",
    })
    expect_status(r, 200, "header mutation route", env.proxy)
    for k, v in (("x-resp-route", "route"), ("x-resp-vhost", "vhost"), ("x-resp-rc", "rc")):
        assert r.header(k) == v, "expected response header %s: %s, got %s" % (k, v, r.describe())
    assert r.header("x-upstream-secret") is None, (
        "response_headers_to_remove (route) should drop x-upstream-secret: %s" % r.describe())
    assert r.header("x-echo-server") == "echo-a", r.describe()


def test_response_header_removed_at_route_config_level(env):
    hdrs = [("Host", "actions.test"),
            ("x-echo-response-header", "x-upstream-rc-secret: s2"),
            ("x-echo-response-header", "x-upstream-keep: k")]
    c = wh.RawConn(env.port)
    try:
        c.request("GET", "/plain", hdrs, host=None)
        r = c.read_response()
    finally:
        c.close()
    expect_status(r, 200, "route config response_headers_to_remove", env.proxy)
    assert r.header("x-upstream-rc-secret") is None, r.describe()
    assert r.header("x-upstream-keep") == "k", r.describe()
