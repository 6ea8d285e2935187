"""Cluster HttpProtocolOptions that depend on the upstream's TLS: upstream_http_protocol_options
(auto_sni, auto_san_validation, override_auto_sni_header) and auto_config (HTTP/2 or HTTP/1.1
as TLS ALPN picks), and upstream_connection_options.tcp_keepalive, as Envoy does them."""

import json
import re
import subprocess
import types

import pytest

import weft_harness as wh
from both_protocols import PROTOCOLS, request

A = "a.example.com"
B = "b.example.com"
HPO = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
HPO_TYPE = "type.googleapis.com/" + HPO


def protocol_options(**fields):
    return {HPO: dict({"@type": HPO_TYPE}, **fields)}


@pytest.fixture(scope="module")
def env(weft_module, pki):
    h = weft_module
    # A TLS upstream with a certificate for a.example.com only, speaking HTTP/1.1.
    tls_a = h.tls_echo("tls-a", pki.server_a.cert, pki.server_a.key, alpn=["http/1.1"])
    # A weft-proxy terminating TLS with ALPN h2 in front of an echo: an HTTP/2-capable upstream.
    backend = h.echo("behind-h2")
    term_port, term_admin = h.port(), h.port()
    term_log = h.path("term-access.log")
    term = h.start_proxy(wh.bootstrap(term_admin, listeners=[
        wh.listener("term", term_port, filter_chains=[wh.filter_chain(
            [wh.hcm_filter([wh.vhost("all", ["*"], [wh.route_to("backend")])], stat_prefix="term",
                           access_log=[wh.file_access_log(term_log, "%PROTOCOL% %REQ(:AUTHORITY)%\n")])],
            transport_socket=wh.downstream_tls(pki.server_a.cert, pki.server_a.key, alpn=["h2", "http/1.1"]))]),
    ], clusters=[wh.cluster("backend", [backend.port])]), name="term")

    port, admin = h.port(), h.port()
    ca = pki.ca.cert
    config = wh.bootstrap(admin, listeners=[
        wh.http_listener("front", port, [wh.vhost("all", ["*"], [
            wh.route_to("auto_sni", prefix="/sni"),
            wh.route_to("auto_sni_header", prefix="/header-sni"),
            wh.route_to("auto_h2", prefix="/auto-h2"),
            wh.route_to("auto_h1", prefix="/auto-h1"),
            wh.route_to("keepalive", prefix="/keepalive"),
        ])]),
    ], clusters=[
        wh.cluster("auto_sni", [tls_a.port], transport_socket=wh.upstream_tls(trusted_ca=ca),
                   typed_extension_protocol_options=protocol_options(
                       upstream_http_protocol_options={"auto_sni": True, "auto_san_validation": True})),
        wh.cluster("auto_sni_header", [tls_a.port], transport_socket=wh.upstream_tls(trusted_ca=ca),
                   typed_extension_protocol_options=protocol_options(
                       upstream_http_protocol_options={"auto_sni": True,
                                                       "override_auto_sni_header": "x-sni"})),
        wh.cluster("auto_h2", [term_port], transport_socket=wh.upstream_tls(sni=A, trusted_ca=ca),
                   typed_extension_protocol_options=protocol_options(auto_config={
                       "http2_protocol_options": {}, "http_protocol_options": {}})),
        wh.cluster("auto_h1", [tls_a.port], transport_socket=wh.upstream_tls(sni=A, trusted_ca=ca),
                   typed_extension_protocol_options=protocol_options(auto_config={})),
        wh.cluster("keepalive", [backend.port], upstream_connection_options={
            "tcp_keepalive": {"keepalive_probes": 4, "keepalive_time": 77, "keepalive_interval": 9}}),
    ])
    proxy = h.start_proxy(config, name="front")
    return types.SimpleNamespace(h=h, proxy=proxy, port=port, tls_a=tls_a, term=term, term_log=term_log,
                                 backend=backend)


def handshakes_since(server, n):
    return server.handshakes[n:]


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_auto_sni_sends_the_request_host_without_its_port(env, proto):
    before = len(env.tls_a.handshakes)
    r = request(proto, env.port, "/sni/x", host=A + ":8443")
    assert r.status == 200, r.describe()
    new = handshakes_since(env.tls_a, before)
    assert [hs["sni"] for hs in new] in ([A], []), new  # [] only if a pooled connection was reused
    assert any(hs["sni"] == A for hs in env.tls_a.handshakes), env.tls_a.handshakes


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_auto_san_validation_refuses_a_certificate_for_another_name(env, proto):
    # The upstream's certificate is for a.example.com; asked for b.example.com it must not do.
    r = request(proto, env.port, "/sni/x", host=B)
    assert r.status == 503, r.describe()
    assert "a.example.com" not in r.text and "b.example.com" in r.text, r.describe()
    assert "TLS error" in r.text, r.describe()


def test_auto_sni_keeps_a_pool_per_server_name(env):
    # Alternating names on keep-alive: each name reuses its own connection, never the other's.
    start = env.proxy.stats().get("cluster.auto_sni_header.upstream_cx_total", 0)
    with wh.HttpSession(env.port) as c:
        for name in ("one.test", "two.test", "one.test", "two.test"):
            r = c.request("/header-sni", headers={"host": "x.test", "x-sni": name})
            assert r.status == 200, r.describe()
    names = [hs["sni"] for hs in env.tls_a.handshakes if hs["sni"] in ("one.test", "two.test")]
    assert sorted(set(names)) == ["one.test", "two.test"], names
    assert env.proxy.stats()["cluster.auto_sni_header.upstream_cx_total"] - start == 2


def test_auto_sni_of_an_ip_address_is_the_clusters_own(env):
    before = len(env.tls_a.handshakes)
    with wh.HttpSession(env.port) as c:
        r = c.request("/header-sni", headers={"host": "x.test", "x-sni": "127.0.0.1"})
    assert r.status == 200, r.describe()
    assert all(hs["sni"] is None for hs in handshakes_since(env.tls_a, before))


def term_protocols(env):
    return [line.split()[0] for line in wh.read_lines(env.term_log)]


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_auto_config_uses_http2_when_alpn_picks_it(env, proto):
    # The first request (protocol unknown: it waits for ALPN) carries a body; later ones go
    # straight to the HTTP/2 pool.
    body = b"x" * 70000
    for i in range(3):
        r = request(proto, env.port, "/auto-h2/%d" % i, method="POST", body=body)
        assert r.status == 200, r.describe()
        echo = json.loads(r.body)
        assert echo["body_len"] == len(body), echo
        assert echo["path"] == "/auto-h2/%d" % i, echo
    assert wh.wait_for(lambda: len(term_protocols(env)) >= 3, 3)
    assert set(term_protocols(env)) == {"HTTP/2"}, term_protocols(env)


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_auto_config_uses_http1_when_alpn_picks_it(env, proto):
    before = len(env.tls_a.handshakes)
    for i in range(3):
        r = request(proto, env.port, "/auto-h1/%d" % i, method="POST", body=b"hello")
        assert r.status == 200, r.describe()
        echo = json.loads(r.body)
        assert echo["http_version"] == "HTTP/1.1" and echo["body_len"] == 5, echo
    new = handshakes_since(env.tls_a, before)
    assert all(hs["alpn"] == "http/1.1" for hs in new), new  # none new: a pooled connection was reused
    assert any(hs["alpn"] == "http/1.1" for hs in env.tls_a.handshakes), env.tls_a.handshakes


def test_auto_config_headers_are_sent_once(env):
    # The replayed head of the first request must not repeat the headers weft-proxy adds.
    r = request("http1", env.port, "/auto-h1/once", headers=["x-test: 1"])
    assert r.status == 200, r.describe()
    echo = json.loads(r.body)
    names = [n.lower() for n, _ in echo["header_list"]]
    for n in ("x-forwarded-proto", "x-request-id", "x-envoy-expected-rq-timeout-ms", "x-test"):
        assert names.count(n) == 1, (n, echo["header_list"])


def test_auto_config_without_tls_is_refused(weft):
    config = wh.bootstrap(weft.port(), clusters=[
        wh.cluster("plain", [9], typed_extension_protocol_options=protocol_options(auto_config={}))])
    _, result = weft.validate(config)
    assert result.returncode != 0
    assert ("static_resources.clusters[0].typed_extension_protocol_options: ALPN configured for cluster plain "
            "which has a non-ALPN transport socket") in result.stderr, result.stderr


def test_tcp_keepalive_is_set_on_upstream_sockets(env):
    # ss -o prints each socket's keepalive timer: set, and due within keepalive_time (77 s).
    with wh.HttpSession(env.port) as c:
        r = c.request("/keepalive", headers={"host": "x"})
        assert r.status == 200, r.describe()
        out = subprocess.run(["ss", "-tnoe", "dst", "127.0.0.1:%d" % env.backend.port],
                             capture_output=True, text=True).stdout
    lines = [l for l in out.splitlines() if ":%d" % env.backend.port in l]
    assert lines, out
    timers = [re.search(r"timer:\(keepalive,(?:(\d+)min)?(?:(\d+)sec)?", l) for l in lines]
    left = [int(m.group(1) or 0) * 60 + int(m.group(2) or 0) for m in timers if m]
    assert left, "no keepalive timer on the proxy's upstream socket:\n" + out
    assert all(30 < s <= 77 for s in left), (left, out)  # the kernel default would be 7200 s
