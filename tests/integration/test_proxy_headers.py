"""Request header handling: x-request-id, x-forwarded-proto, x-forwarded-for, hop-by-hop headers."""

import types

import pytest

import weft_harness as wh
from weft_harness import expect_status


@pytest.fixture(scope="module")
def env(weft_module):
    h = weft_module
    echo = h.echo("echo")
    edge_port, plain_port, admin = h.port(), h.port(), h.port()
    vhosts = [wh.vhost("all", ["*"], [wh.route_to("echo")])]
    config = wh.bootstrap(admin, listeners=[
        wh.http_listener("edge", edge_port, vhosts, stat_prefix="edge",
                         hcm_extra={"use_remote_address": True}),
        wh.http_listener("plain", plain_port, vhosts, stat_prefix="plain"),
    ], clusters=[wh.cluster("echo", [echo.port])])
    proxy = h.start_proxy(config)
    return types.SimpleNamespace(harness=h, proxy=proxy, edge=edge_port, plain=plain_port)


def upstream_view(env, port, headers=None, path="/h", method="GET", body=None):
    r = wh.http_request(port, path, method=method, headers=headers, body=body)
    expect_status(r, 200, "%s %s via listener %d" % (method, path, port), env.proxy)
    return r.json()


@pytest.mark.parametrize("listener", ["edge", "plain"])
def test_request_id_generated_when_absent(env, listener):
    port = getattr(env, listener)
    ids = [upstream_view(env, port)["headers"].get("x-request-id") for _ in range(3)]
    for rid in ids:
        assert rid and wh.UUID_RE.match(rid), (
            "expected a generated x-request-id in UUID form, upstream saw %r" % (ids,))
    assert len(set(ids)) == 3, "x-request-id values should be unique per request: %r" % ids


def test_request_id_preserved_when_present(env):
    # Only without use_remote_address: with it, Envoy regenerates the id of "external" (edge)
    # requests unless preserve_external_request_id is set, and whether a loopback client counts
    # as internal depends on internal_address_config (Envoy changed that default).
    seen = upstream_view(env, env.plain, {"x-request-id": "my-request-id-123"})
    assert seen["headers"].get("x-request-id") == "my-request-id-123", (
        "x-request-id sent by the client should be kept (use_remote_address false), upstream saw %r"
        % seen["headers"].get("x-request-id"))


@pytest.mark.parametrize("listener", ["edge", "plain"])
def test_x_forwarded_proto_http_added(env, listener):
    seen = upstream_view(env, getattr(env, listener))
    assert seen["headers"].get("x-forwarded-proto") == "http", (
        "expected x-forwarded-proto: http, upstream headers %r" % seen["headers"])


def test_x_forwarded_for_set_with_use_remote_address(env):
    seen = upstream_view(env, env.edge)
    xff = seen["headers"].get("x-forwarded-for")
    assert xff is not None and [p.strip() for p in xff.split(",")] == ["127.0.0.1"], (
        "use_remote_address: expected x-forwarded-for '127.0.0.1', upstream saw %r" % xff)


def test_x_forwarded_for_appended_with_use_remote_address(env):
    seen = upstream_view(env, env.edge, {"x-forwarded-for": "203.0.113.7"})
    xff = seen["headers"].get("x-forwarded-for") or ""
    assert [p.strip() for p in xff.split(",")] == ["203.0.113.7", "127.0.0.1"], (
        "use_remote_address: expected '203.0.113.7,127.0.0.1' (remote address appended), "
        "upstream saw %r" % xff)


def test_hop_by_hop_headers_not_forwarded(env):
    body = b"hop-by-hop body " * 100
    c = wh.RawConn(env.edge)
    try:
        c.request("POST", "/hop", [
            ("Connection", "keep-alive, x-hop-token"),
            ("Keep-Alive", "timeout=30, max=100"),
            ("Proxy-Connection", "keep-alive"),
            ("TE", "gzip"),
            ("Transfer-Encoding", "chunked"),
            ("x-end-to-end", "kept"),
        ], wh.chunked_body(body, (700, 300)))
        r = c.read_response()
    finally:
        c.close()
    expect_status(r, 200, "POST with hop-by-hop headers", env.proxy)
    seen = r.json()
    hdrs = seen["headers"]
    problems = []
    if "x-hop-token" in (hdrs.get("connection") or "").lower():
        problems.append("connection forwarded verbatim: %r" % hdrs.get("connection"))
    for name in ("keep-alive", "proxy-connection"):
        if name in hdrs:
            problems.append("%s forwarded: %r" % (name, hdrs[name]))
    if "gzip" in (hdrs.get("te") or "").lower():
        problems.append("te forwarded: %r" % hdrs.get("te"))
    te = (hdrs.get("transfer-encoding") or "").lower().replace(" ", "")
    if te not in ("", "chunked"):
        problems.append("transfer-encoding forwarded as %r" % hdrs.get("transfer-encoding"))
    assert not problems, "hop-by-hop headers reached the upstream: %s (all: %r)" % (problems, hdrs)
    assert hdrs.get("x-end-to-end") == "kept", "end-to-end header lost: %r" % hdrs
    assert seen["body_len"] == len(body) and seen["body_sha256"] == wh.sha256(body), (
        "chunked body not forwarded intact: upstream saw %d bytes sha %s, sent %d bytes sha %s"
        % (seen["body_len"], seen["body_sha256"], len(body), wh.sha256(body)))


def test_end_to_end_headers_forwarded_unchanged(env):
    sent = {"x-custom-one": "Value With  Spaces", "x-custom-two": "a,b,c", "user-agent": "weft-test/1"}
    hdrs = upstream_view(env, env.plain, sent)["headers"]
    for k, v in sent.items():
        assert hdrs.get(k) == v, "header %s: sent %r, upstream saw %r" % (k, v, hdrs.get(k))
