"""TLS in weft-proxy (envoy.transport_sockets.tls): downstream termination (HTTP/1.1 and
tcp_proxy), protocol versions, session resumption, mTLS with SAN matching, SNI / ALPN filter chain
selection with tls_inspector, upstream TLS (verification, SNI, client certificates, connection
reuse), certificate errors at startup, and h2 negotiated by ALPN.

Certificates come from tls_certs.py (session fixture `pki`); TLS upstreams are
weft_harness.TlsEchoServer (the echo handler behind Python's ssl, in-process), whose JSON answer
carries what its handshake saw under "tls" (sni, version, peer_sans, ...).

Clients: Python ssl (`wh.TlsConn`, `wh.tls_request`, `wh.tls_attempt`) and curl with
`--resolve NAME:PORT:127.0.0.1`, so the SNI is a real name while the connection goes to
loopback."""

import json
import os
import time
import types

import pytest

import tls_certs
import weft_harness as wh
from weft_harness import expect_status

A = "a.example.com"
B = "b.example.com"
SPIFFE_CLIENT = tls_certs.SPIFFE_CLIENT
SPIFFE_SERVER = tls_certs.SPIFFE_SERVER
SPIFFE_OTHER = "spiffe://cluster.local/ns/default/sa/someone-else"

# Envoy's local reply when the upstream connection (TCP or TLS handshake) fails; Envoy appends
# ", transport failure reason: TLS_error:..." for TLS, which is not checked here.
UPSTREAM_RESET_PREFIX = "upstream connect error or disconnect/reset before headers."
UPSTREAM_CONNECT_FAILURE = UPSTREAM_RESET_PREFIX + " reset reason: connection failure"


def hcm_to(cluster, stat_prefix):
    return wh.hcm_filter([wh.vhost("all", ["*"], [wh.route_to(cluster)])], stat_prefix=stat_prefix)


def hcm_direct(body, stat_prefix):
    return wh.hcm_filter([wh.vhost("all", ["*"], [wh.direct(200, body)])], stat_prefix=stat_prefix)


def tls_listener(name, port, filters, transport_socket, **extra):
    """A listener with a single TLS filter chain."""
    return wh.listener(name, port, filter_chains=[
        wh.filter_chain(filters, transport_socket=transport_socket)], **extra)


def expect_rejected(outcome, what, proxy):
    assert outcome.rejected, "%s: expected the TLS handshake/connection to be refused, %s%s" % (
        what, outcome.describe(), proxy.ctx())


def expect_ok(outcome, what, proxy, server=None):
    assert outcome.stage == "response" and outcome.response.status == 200, (
        "%s: expected HTTP 200 over TLS, %s%s" % (what, outcome.describe(), proxy.ctx()))
    if server is not None:
        got = outcome.response.json()["server"]
        assert got == server, "%s: expected upstream %r, got %r" % (what, server, got)
    return outcome.response


# =============================================================================================
# downstream TLS termination
# =============================================================================================

@pytest.fixture(scope="module")
def term(weft_module, pki):
    h = weft_module
    echo = h.echo("echo")
    tcp_echo = h.tcp_server("echo")
    ports = {k: h.port() for k in ("https", "tcp", "min13", "max12")}
    admin = h.port()
    a = pki.server_a
    config = wh.bootstrap(admin, listeners=[
        tls_listener("https", ports["https"], [hcm_to("echo", "https")],
                     wh.downstream_tls(a.cert, a.key, alpn=["http/1.1"])),
        tls_listener("tls_tcp", ports["tcp"], [wh.tcp_proxy_filter("tcp_echo", "tls_tcp")],
                     wh.downstream_tls(a.cert, a.key)),
        tls_listener("min13", ports["min13"], [hcm_to("echo", "min13")],
                     wh.downstream_tls(a.cert, a.key, tls_params={
                         "tls_minimum_protocol_version": "TLSv1_3"})),
        tls_listener("max12", ports["max12"], [hcm_to("echo", "max12")],
                     wh.downstream_tls(a.cert, a.key, tls_params={
                         "tls_maximum_protocol_version": "TLSv1_2"})),
    ], clusters=[
        wh.cluster("echo", [echo.port]),
        wh.cluster("tcp_echo", [tcp_echo.port]),
    ])
    proxy = h.start_proxy(config)
    return types.SimpleNamespace(harness=h, proxy=proxy, ports=ports, pki=pki)


def curl_https(env, port, extra, path="/hello", name=A, write_out="%{http_code} %{http_version}"):
    """curl -v over HTTPS to name:port (resolved to loopback), verifying against the test CA."""
    body_path = env.harness.path("curl-body-%d" % time.monotonic_ns())
    r = wh.curl(["-v", "--cacert", env.pki.ca.cert] + wh.curl_resolve(name, port)
                + ["-o", body_path, "-w", write_out] + list(extra)
                + ["https://%s:%d%s" % (name, port, path)])
    body = body_path.read_bytes() if body_path.exists() else b""
    return r, body


def test_curl_http11_over_tls(term):
    r, body = curl_https(term, term.ports["https"], ["--http1.1"])
    assert r.returncode == 0 and r.stdout == "200 1.1", (
        "curl --http1.1 https://%s: rc=%d, out %r, stderr:\n%s%s"
        % (A, r.returncode, r.stdout, wh.tail(r.stderr, 30), term.proxy.ctx()))
    seen = json.loads(body)
    assert seen["path"] == "/hello" and seen["server"] == "echo", seen
    assert seen["headers"].get("x-forwarded-proto") == "https", (
        "over TLS the upstream should see x-forwarded-proto: https, saw headers %r" % seen["headers"])
    assert seen["headers"].get("host") == "%s:%d" % (A, term.ports["https"]), seen["headers"]


@pytest.mark.parametrize("version, flags", [
    ("1.2", ["--tlsv1.2", "--tls-max", "1.2"]),
    ("1.3", ["--tlsv1.3"]),
])
def test_curl_tls_versions(term, version, flags):
    r, _ = curl_https(term, term.ports["https"], ["--http1.1"] + flags)
    assert r.returncode == 0 and r.stdout.startswith("200"), (
        "curl over TLS %s: rc=%d, out %r, stderr:\n%s%s"
        % (version, r.returncode, r.stdout, wh.tail(r.stderr, 30), term.proxy.ctx()))
    assert "SSL connection using TLSv%s" % version in r.stderr, (
        "curl should report a TLSv%s connection; stderr:\n%s" % (version, wh.tail(r.stderr, 30)))


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_python_ssl_versions(term, version):
    ctx = wh.tls_client_context(ca=term.pki.ca.cert, version=version, alpn=["h2", "http/1.1"])
    r, info, _ = wh.tls_request(term.ports["https"], ctx, A, "/py")
    expect_status(r, 200, "GET over TLS %s" % version, term.proxy)
    assert info["version"] == "TLSv%s" % version, info
    assert info["peer_cn"] == A and "DNS:%s" % A in info["peer_sans"], info
    assert info["alpn"] == "http/1.1", (
        "the listener offers only http/1.1 by ALPN; the client offered h2,http/1.1 and got %r" % info)
    assert r.json()["path"] == "/py", r.describe()


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_legacy_tls_versions_refused(term, version):
    # Control: this very client context can complete a TLS `version` handshake with a server
    # that allows it, so a failure against weft-proxy is weft-proxy's refusal.
    a = term.pki.server_a
    permissive = term.harness.tls_echo("legacy-%s" % version, a.cert, a.key, min_version="1.0",
                                       ciphers="DEFAULT:@SECLEVEL=0")
    ctx = wh.tls_client_context(ca=term.pki.ca.cert, version=version, legacy=True)
    control = wh.tls_attempt(permissive.port, ctx, A)
    if control.stage != "response":
        pytest.skip("this OpenSSL cannot speak TLS %s even to a permissive server: %s"
                    % (version, control.describe()))
    assert control.info["version"] == wh.TLS_VERSION_NAMES[version], control.info

    outcome = wh.tls_attempt(term.ports["https"], ctx, A)
    expect_rejected(outcome, "a TLS %s-only client (Envoy's default minimum is TLS 1.2)" % version,
                    term.proxy)
    assert outcome.stage == "handshake", outcome.describe()
    # and the listener still serves
    r, _, _ = wh.tls_request(term.ports["https"], wh.tls_client_context(ca=term.pki.ca.cert), A)
    expect_status(r, 200, "a normal TLS request after the refused one", term.proxy)


def test_tls_params_min_and_max_version(term):
    ca = term.pki.ca.cert
    expect_rejected(wh.tls_attempt(term.ports["min13"], wh.tls_client_context(ca=ca, version="1.2"), A),
                    "TLS 1.2 client, tls_minimum_protocol_version TLSv1_3", term.proxy)
    r, info, _ = wh.tls_request(term.ports["min13"], wh.tls_client_context(ca=ca), A)
    assert r.status == 200 and info["version"] == "TLSv1.3", (r.describe(), info)
    expect_rejected(wh.tls_attempt(term.ports["max12"], wh.tls_client_context(ca=ca, version="1.3"), A),
                    "TLS 1.3 client, tls_maximum_protocol_version TLSv1_2", term.proxy)
    r, info, _ = wh.tls_request(term.ports["max12"], wh.tls_client_context(ca=ca), A)
    assert r.status == 200 and info["version"] == "TLSv1.2", (r.describe(), info)


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_session_resumption(term, version):
    """Each connection offers the session of the previous one: all but the first resume. With
    --concurrency 2 the connections land on both workers, so the session cache / ticket keys
    must be shared by the workers."""
    ctx = wh.tls_client_context(ca=term.pki.ca.cert, version=version)
    r, info, session = wh.tls_request(term.ports["https"], ctx, A, "/resume/0")
    expect_status(r, 200, "first TLS %s connection" % version, term.proxy)
    assert not info["session_reused"], info
    assert session is not None, "no TLS session after the first connection"
    reused = []
    for i in range(1, 7):
        r, info, new_session = wh.tls_request(term.ports["https"], ctx, A, "/resume/%d" % i,
                                              session=session)
        expect_status(r, 200, "resumed TLS %s connection %d" % (version, i), term.proxy)
        reused.append(info["session_reused"])
        session = new_session or session
    assert all(reused), (
        "TLS %s: every connection offering a session should resume it; session_reused per "
        "connection: %r%s" % (version, reused, term.proxy.ctx()))


def test_keepalive_and_large_bodies_over_tls(term):
    ctx = wh.tls_client_context(ca=term.pki.ca.cert)
    body = os.urandom(4 * 1024 * 1024)
    with wh.TlsConn(term.ports["https"], ctx, A, timeout=30) as c:
        c.request("POST", "/upload", body=body, host=A)
        r = c.read_response()
        expect_status(r, 200, "4 MB POST over TLS", term.proxy)
        seen = r.json()
        assert seen["body_len"] == len(body) and seen["body_sha256"] == wh.sha256(body), (
            "upstream received %d bytes (sha %s), sent %d (sha %s)"
            % (seen["body_len"], seen["body_sha256"], len(body), wh.sha256(body)))
        size = 5 * 1000 * 1000
        c.request("GET", "/bytes/%d" % size, host=A)
        r = c.read_response()
        expect_status(r, 200, "5 MB download over TLS on the same connection", term.proxy)
        expected = wh.echo_server.stream_chunk(0, size)
        assert len(r.body) == size and r.body == expected, (
            "download over TLS corrupted: got %d bytes, sha %s, expected sha %s"
            % (len(r.body), wh.sha256(r.body), wh.sha256(expected)))
        c.request("GET", "/third", host=A)
        r = c.read_response()
        expect_status(r, 200, "third request on the same TLS connection", term.proxy)


def test_plaintext_http_to_tls_port_is_closed(term):
    with wh.RawConn(term.ports["https"]) as c:
        c.request("GET", "/plain", host=A)
        closed = c.wait_closed(5)
        got = bytes(c.buf)
    assert closed and b"HTTP/" not in got, (
        "plain HTTP to a TLS-only listener should fail the handshake and close; closed=%s, "
        "received %r%s" % (closed, got[:200], term.proxy.ctx()))


def test_tcp_proxy_over_tls(term):
    ctx = wh.tls_client_context(ca=term.pki.ca.cert)
    payload = os.urandom(1024 * 1024)
    piece = 64 * 1024
    got = bytearray()
    with wh.TlsConn(term.ports["tcp"], ctx, A, timeout=20) as c:
        assert c.info["peer_cn"] == A, c.info
        for off in range(0, len(payload), piece):
            c.send(payload[off:off + piece])
            got += c.read_exact(len(payload[off:off + piece]), timeout=10,
                                what="the echo of bytes %d..%d" % (off, off + piece))
    assert bytes(got) == payload, (
        "tcp_proxy over TLS: echo differs (got %d bytes, sha %s; sent sha %s)%s"
        % (len(got), wh.sha256(bytes(got)), wh.sha256(payload), term.proxy.ctx()))


# =============================================================================================
# mTLS
# =============================================================================================

@pytest.fixture(scope="module")
def mtls(weft_module, pki):
    h = weft_module
    echo = h.echo("mtls-echo")
    s = pki.server_a
    ca = pki.ca.cert
    variants = {
        "required": dict(require_client_certificate=True),
        "optional": dict(require_client_certificate=False),
        "san_exact": dict(require_client_certificate=True,
                          match_sans=[wh.san_matcher(SPIFFE_CLIENT)]),
        "san_prefix": dict(require_client_certificate=True,
                           match_sans=[wh.san_matcher("spiffe://cluster.local/ns/default/",
                                                      kind="prefix")]),
        "san_other": dict(require_client_certificate=True,
                          match_sans=[wh.san_matcher(SPIFFE_OTHER)]),
        # the right value with the wrong san_type: a DNS matcher never matches a URI SAN
        "san_wrong_type": dict(require_client_certificate=True,
                               match_sans=[wh.san_matcher(SPIFFE_CLIENT, san_type="DNS")]),
    }
    ports = {k: h.port() for k in variants}
    admin = h.port()
    listeners = [tls_listener(k, ports[k], [hcm_to("echo", k)],
                              wh.downstream_tls(s.cert, s.key, trusted_ca=ca, **v))
                 for k, v in variants.items()]
    proxy = h.start_proxy(wh.bootstrap(admin, listeners=listeners,
                                       clusters=[wh.cluster("echo", [echo.port])]))
    return types.SimpleNamespace(harness=h, proxy=proxy, ports=ports, pki=pki)


def client_ctx(env, who, version=None):
    ca = env.pki.ca.cert
    if who == "none":
        return wh.tls_client_context(ca=ca, version=version)
    ck = {"right": env.pki.client, "wrong_ca": env.pki.client_wrong_ca}[who]
    return wh.tls_client_context(ca=ca, cert=ck.cert, key=ck.key, version=version)


@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("listener, who, accepted", [
    ("required", "none", False),
    ("required", "wrong_ca", False),
    ("required", "right", True),
    ("optional", "none", True),        # not required: no certificate is fine...
    ("optional", "right", True),
    ("optional", "wrong_ca", False),   # ...but one that is presented must verify
    ("san_exact", "right", True),
    ("san_prefix", "right", True),
    ("san_other", "right", False),
    ("san_wrong_type", "right", False),
])
def test_client_certificates(mtls, listener, who, accepted, version):
    outcome = wh.tls_attempt(mtls.ports[listener], client_ctx(mtls, who, version), A)
    what = "listener %s, client certificate %s, TLS %s" % (listener, who, version)
    if accepted:
        expect_ok(outcome, what, mtls.proxy, "mtls-echo")
    else:
        expect_rejected(outcome, what, mtls.proxy)


def test_rejected_client_does_not_break_listener(mtls):
    for _ in range(3):
        expect_rejected(wh.tls_attempt(mtls.ports["required"], client_ctx(mtls, "none"), A),
                        "no client certificate", mtls.proxy)
    expect_ok(wh.tls_attempt(mtls.ports["required"], client_ctx(mtls, "right"), A),
              "a valid client after rejected ones", mtls.proxy)


def test_client_supplied_xfcc_is_not_forwarded(mtls):
    """forward_client_cert_details defaults to SANITIZE: the client's own
    x-forwarded-client-cert header never reaches the upstream."""
    with wh.TlsConn(mtls.ports["required"], client_ctx(mtls, "right"), A) as c:
        c.request("GET", "/xfcc", host=A,
                  headers={"x-forwarded-client-cert": "By=spiffe://evil;URI=spiffe://evil"})
        r = c.read_response()
    expect_status(r, 200, "mTLS request with a forged XFCC header", mtls.proxy)
    assert "x-forwarded-client-cert" not in r.json()["headers"], (
        "the client's x-forwarded-client-cert reached the upstream: %r" % r.json()["headers"])


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_session_resumption_with_client_certificate(mtls, version):
    """Resumption on a listener that verifies client certificates (OpenSSL needs a session id
    context for that, or it aborts resumed handshakes)."""
    ctx = client_ctx(mtls, "right", version)
    r, info, session = wh.tls_request(mtls.ports["required"], ctx, A, "/mtls-resume/0")
    expect_status(r, 200, "first mTLS connection", mtls.proxy)
    reused = []
    for i in range(1, 5):
        r, info, new_session = wh.tls_request(mtls.ports["required"], ctx, A,
                                              "/mtls-resume/%d" % i, session=session)
        expect_status(r, 200, "resumed mTLS connection %d (TLS %s)" % (i, version), mtls.proxy)
        reused.append(info["session_reused"])
        session = new_session or session
    assert all(reused), "mTLS TLS %s: session_reused per connection %r%s" % (
        version, reused, mtls.proxy.ctx())


# =============================================================================================
# SNI / ALPN filter chain selection (tls_inspector)
# =============================================================================================

@pytest.fixture(scope="module")
def sni(weft_module, pki):
    h = weft_module
    echo_a, echo_b, echo_plain = h.echoes("upstream-a", "upstream-b", "upstream-plain")
    custom_proto = h.tcp_server("echo", banner=b"custom-alpn\n")
    port, alpn_port, admin = h.port(), h.port(), h.port()
    a, b = pki.server_a, pki.server_b
    config = wh.bootstrap(admin, listeners=[
        wh.listener("sni", port, listener_filters=[wh.tls_inspector()], filter_chains=[
            wh.filter_chain([hcm_to("a", "sni_a")], name="a",
                            match=wh.filter_chain_match(server_names=[A], transport_protocol="tls"),
                            transport_socket=wh.downstream_tls(a.cert, a.key)),
            wh.filter_chain([hcm_to("b", "sni_b")], name="b",
                            match=wh.filter_chain_match(server_names=[B], transport_protocol="tls"),
                            transport_socket=wh.downstream_tls(b.cert, b.key)),
            wh.filter_chain([hcm_direct("chain=wildcard", "sni_wild")], name="wildcard",
                            match=wh.filter_chain_match(server_names=["*.example.org"],
                                                        transport_protocol="tls"),
                            transport_socket=wh.downstream_tls(b.cert, b.key)),
            wh.filter_chain([hcm_to("plain", "sni_plain")], name="plain",
                            match=wh.filter_chain_match(transport_protocol="raw_buffer")),
        ]),
        wh.listener("alpn", alpn_port, listener_filters=[wh.tls_inspector()], filter_chains=[
            wh.filter_chain([wh.tcp_proxy_filter("custom", "alpn_custom")], name="custom",
                            match=wh.filter_chain_match(server_names=[A],
                                                        application_protocols=["x-weft-test"]),
                            transport_socket=wh.downstream_tls(a.cert, a.key, alpn=["x-weft-test"])),
            wh.filter_chain([hcm_direct("chain=http1", "alpn_http1")], name="http1",
                            match=wh.filter_chain_match(server_names=[A]),
                            transport_socket=wh.downstream_tls(a.cert, a.key, alpn=["http/1.1"])),
        ]),
    ], clusters=[
        wh.cluster("a", [echo_a.port]),
        wh.cluster("b", [echo_b.port]),
        wh.cluster("plain", [echo_plain.port]),
        wh.cluster("custom", [custom_proto.port]),
    ])
    proxy = h.start_proxy(config)
    return types.SimpleNamespace(harness=h, proxy=proxy, port=port, alpn_port=alpn_port, pki=pki)


@pytest.mark.parametrize("name, upstream", [(A, "upstream-a"), (B, "upstream-b")])
def test_sni_selects_certificate_and_route(sni, name, upstream):
    ctx = wh.tls_client_context(ca=sni.pki.ca.cert)   # check_hostname: the cert must be for `name`
    r, info, _ = wh.tls_request(sni.port, ctx, name, "/sni")
    expect_status(r, 200, "TLS with SNI %s" % name, sni.proxy)
    assert info["peer_cn"] == name, "SNI %s: expected the certificate CN=%s, got %r" % (name, name, info)
    assert r.json()["server"] == upstream, (
        "SNI %s should route to %s, answered by %r" % (name, upstream, r.json()["server"]))


def test_sni_with_curl(sni):
    for name, upstream in ((A, "upstream-a"), (B, "upstream-b")):
        body_path = sni.harness.path("sni-curl-%s" % name)
        r = wh.curl(["--http1.1", "--cacert", sni.pki.ca.cert] + wh.curl_resolve(name, sni.port)
                    + ["-o", body_path, "-w", "%{http_code}", "https://%s:%d/c" % (name, sni.port)])
        assert r.returncode == 0 and r.stdout == "200", (name, r.returncode, r.stdout, r.stderr[-1500:])
        assert json.loads(body_path.read_bytes())["server"] == upstream


def test_wildcard_server_name(sni):
    r, info, _ = wh.tls_request(sni.port, wh.tls_client_context(), "api.example.org", "/w")
    expect_status(r, 200, "SNI api.example.org (server_names *.example.org)", sni.proxy)
    assert r.text == "chain=wildcard", r.describe()


def test_plaintext_on_the_same_port(sni):
    r = wh.http_request(sni.port, "/plain", headers={"Host": "plain.test"})
    expect_status(r, 200, "plain HTTP on the listener with TLS chains (transport_protocol raw_buffer)",
                  sni.proxy)
    assert r.json()["server"] == "upstream-plain", r.describe()
    assert r.json()["headers"].get("x-forwarded-proto") == "http", r.json()["headers"]


@pytest.mark.parametrize("server_name", ["c.example.com", None])
def test_unmatched_server_name_is_closed(sni, server_name):
    outcome = wh.tls_attempt(sni.port, wh.tls_client_context(), server_name)
    expect_rejected(outcome, "TLS with SNI %r: no filter chain matches" % server_name, sni.proxy)
    # the listener keeps serving
    r, _, _ = wh.tls_request(sni.port, wh.tls_client_context(ca=sni.pki.ca.cert), A)
    expect_status(r, 200, "SNI a.example.com after an unmatched connection", sni.proxy)


def test_application_protocols_select_chain(sni):
    ctx = wh.tls_client_context(ca=sni.pki.ca.cert, alpn=["x-weft-test"])
    with wh.TlsConn(sni.alpn_port, ctx, A) as c:
        assert c.info["alpn"] == "x-weft-test", c.info
        got = c.read_exact(len(b"custom-alpn\n"), timeout=5, what="the tcp_proxy upstream's banner")
    assert got == b"custom-alpn\n", got
    ctx = wh.tls_client_context(ca=sni.pki.ca.cert, alpn=["http/1.1"])
    r, info, _ = wh.tls_request(sni.alpn_port, ctx, A, "/alpn")
    assert r.status == 200 and r.text == "chain=http1" and info["alpn"] == "http/1.1", (
        "ALPN http/1.1 should select the chain without application_protocols: %s %r%s"
        % (r.describe(), info, sni.proxy.ctx()))


# =============================================================================================
# upstream TLS
# =============================================================================================

@pytest.fixture(scope="module")
def up(weft_module, pki):
    h = weft_module
    ca = pki.ca.cert
    servers = {
        "tls-a": h.tls_echo("tls-a", pki.server_a.cert, pki.server_a.key),
        "tls-spiffe": h.tls_echo("tls-spiffe", pki.server_spiffe.cert, pki.server_spiffe.key),
        "tls-chain": h.tls_echo("tls-chain", pki.server_chain.cert, pki.server_chain.key),
        "tls-expired": h.tls_echo("tls-expired", pki.server_expired.cert, pki.server_expired.key),
        "tls-mtls": h.tls_echo("tls-mtls", pki.server_spiffe.cert, pki.server_spiffe.key,
                               ca=ca, require_client_cert=True),
    }
    c = pki.client
    clusters = {  # name: (server, UpstreamTlsContext arguments)
        "good": ("tls-a", dict(sni=A, trusted_ca=ca)),
        "san_dns": ("tls-a", dict(sni=A, trusted_ca=ca, match_sans=[wh.san_matcher(A, "DNS")])),
        "san_mismatch": ("tls-a", dict(sni=A, trusted_ca=ca, match_sans=[wh.san_matcher(B, "DNS")])),
        "spiffe": ("tls-spiffe", dict(trusted_ca=ca, match_sans=[wh.san_matcher(SPIFFE_SERVER)])),
        "spiffe_other": ("tls-spiffe", dict(trusted_ca=ca, match_sans=[wh.san_matcher(SPIFFE_OTHER)])),
        "wrong_ca": ("tls-a", dict(sni=A, trusted_ca=pki.wrong_ca.cert)),
        "expired": ("tls-expired", dict(sni=A, trusted_ca=ca)),
        "chain": ("tls-chain", dict(sni="chain.example.com", trusted_ca=ca)),
        "no_sni": ("tls-a", dict(trusted_ca=ca)),
        # Envoy checks SANs only through match_typed_subject_alt_names, never against the SNI
        "sni_not_checked": ("tls-a", dict(sni="other.example.com", trusted_ca=ca)),
        "mtls": ("tls-mtls", dict(trusted_ca=ca, cert=c.cert, key=c.key,
                                  match_sans=[wh.san_matcher(SPIFFE_SERVER)])),
        "mtls_no_cert": ("tls-mtls", dict(trusted_ca=ca)),
    }
    port, admin = h.port(), h.port()
    routes = [wh.route_to(name, prefix="/%s/" % name) for name in clusters]
    config = wh.bootstrap(admin, listeners=[
        wh.http_listener("main", port, [wh.vhost("all", ["*"], routes)]),
    ], clusters=[
        wh.cluster(name, [servers[srv].port], transport_socket=wh.upstream_tls(**kw))
        for name, (srv, kw) in clusters.items()
    ])
    proxy = h.start_proxy(config)
    return types.SimpleNamespace(harness=h, proxy=proxy, port=port, servers=servers, pki=pki)


def via(env, cluster, path="x"):
    return wh.http_request(env.port, "/%s/%s" % (cluster, path))


@pytest.mark.parametrize("cluster, server, sni", [
    ("good", "tls-a", A),
    ("san_dns", "tls-a", A),
    ("spiffe", "tls-spiffe", None),
    ("chain", "tls-chain", "chain.example.com"),
    ("no_sni", "tls-a", None),
    ("sni_not_checked", "tls-a", "other.example.com"),
])
def test_upstream_tls_ok(up, cluster, server, sni):
    r = via(up, cluster)
    expect_status(r, 200, "cluster %s (UpstreamTlsContext) -> %s" % (cluster, server), up.proxy)
    seen = r.json()
    assert seen["server"] == server, seen
    tls = seen["tls"]
    assert tls and tls["version"] in ("TLSv1.2", "TLSv1.3"), "upstream saw TLS %r" % tls
    assert tls["sni"] == sni, "cluster %s: upstream expected SNI %r, saw %r" % (cluster, sni, tls["sni"])
    assert not tls["peer_cert_present"], "no client certificate configured, upstream saw one: %r" % tls


@pytest.mark.parametrize("cluster", ["wrong_ca", "san_mismatch", "spiffe_other", "expired"])
def test_upstream_verification_failure_is_503(up, cluster):
    r = via(up, cluster)
    expect_status(r, 503, "cluster %s: the upstream certificate must not verify" % cluster, up.proxy)
    assert r.text.startswith(UPSTREAM_CONNECT_FAILURE), (
        "cluster %s: expected a body starting %r, got %r" % (cluster, UPSTREAM_CONNECT_FAILURE, r.text))
    r = via(up, "good", "after-%s" % cluster)
    expect_status(r, 200, "cluster good after a failed upstream handshake", up.proxy)


def test_upstream_mtls(up):
    r = via(up, "mtls")
    expect_status(r, 200, "client certificate to an upstream that requires one", up.proxy)
    tls = r.json()["tls"]
    assert tls["peer_cert_present"] and "URI:%s" % SPIFFE_CLIENT in tls["peer_sans"], (
        "the upstream should have seen the client certificate %s, saw %r" % (SPIFFE_CLIENT, tls))


def test_upstream_requiring_client_cert_without_one_is_503(up):
    # In TLS 1.3 the client side of the handshake completes before the server checks the client
    # certificate, so this can surface as a reset after connecting: only the prefix is checked.
    r = via(up, "mtls_no_cert")
    expect_status(r, 503, "no client certificate for an upstream that requires one", up.proxy)
    assert r.text.startswith(UPSTREAM_RESET_PREFIX), r.describe()


def test_upstream_tls_connection_reused(weft, pki):
    server = weft.tls_echo("tls-reuse", pki.server_a.cert, pki.server_a.key)
    port, admin = weft.port(), weft.port()
    config = wh.bootstrap(admin, listeners=[
        wh.http_listener("main", port, [wh.vhost("all", ["*"], [wh.route_to("tls_reuse")])]),
    ], clusters=[
        wh.cluster("tls_reuse", [server.port],
                   transport_socket=wh.upstream_tls(sni=A, trusted_ca=pki.ca.cert)),
    ])
    proxy = weft.start_proxy(config, concurrency=1)
    conn_ids = []
    with wh.RawConn(port) as c:
        for i in range(2):
            c.request("GET", "/reuse/%d" % i)
            r = c.read_response()
            expect_status(r, 200, "request %d through the TLS cluster" % i, proxy)
            conn_ids.append(r.json()["conn_id"])
    r = wh.http_request(port, "/reuse/new-downstream")
    expect_status(r, 200, "request on a second downstream connection", proxy)
    conn_ids.append(r.json()["conn_id"])
    assert len(set(conn_ids)) == 1 and len(server.handshakes) == 1, (
        "sequential requests should share one pooled upstream TLS connection; upstream conn ids "
        "%r, %d handshakes" % (conn_ids, len(server.handshakes)))
    total = proxy.stats().get("cluster.tls_reuse.upstream_cx_total")
    assert total == 1, "cluster.tls_reuse.upstream_cx_total = %r, expected 1%s" % (total, proxy.ctx())


# =============================================================================================
# certificate errors at startup
# =============================================================================================

def error_cases(pki, missing_dir):
    """name: (mutate(config), substrings stderr must contain, one of which file names)."""
    missing_cert = str(missing_dir / "missing-server.crt")
    missing_key = str(missing_dir / "missing-server.key")
    missing_ca = str(missing_dir / "missing-ca.crt")
    a = pki.server_a

    def chain_tls(**kw):
        def mutate(cfg):
            chain = cfg["static_resources"]["listeners"][0]["filter_chains"][0]
            chain["transport_socket"] = wh.downstream_tls(**kw)
        return mutate

    def cluster_tls(**kw):
        def mutate(cfg):
            cfg["static_resources"]["clusters"][0]["transport_socket"] = wh.upstream_tls(**kw)
        return mutate

    return {
        "listener_cert_missing": (chain_tls(cert=missing_cert, key=a.key),
                                  ["listeners[0]", "tls_certificates[0]"], [missing_cert]),
        "listener_key_missing": (chain_tls(cert=a.cert, key=missing_key),
                                 ["listeners[0]", "tls_certificates[0]"], [missing_key]),
        "listener_key_mismatch": (chain_tls(cert=pki.key_mismatch.cert, key=pki.key_mismatch.key),
                                  ["listeners[0]", "tls_certificates[0]"],
                                  [pki.key_mismatch.key, pki.key_mismatch.cert]),
        "listener_cert_garbage": (chain_tls(cert=pki.garbage, key=a.key),
                                  ["listeners[0]", "tls_certificates[0]"], [pki.garbage]),
        "listener_ca_missing": (chain_tls(cert=a.cert, key=a.key, trusted_ca=missing_ca),
                                ["listeners[0]", "trusted_ca"], [missing_ca]),
        "listener_ca_garbage": (chain_tls(cert=a.cert, key=a.key, trusted_ca=pki.garbage),
                                ["listeners[0]", "trusted_ca"], [pki.garbage]),
        # a directory cannot be read as a file, even by root (chmod 000 would not stop root)
        "listener_ca_unreadable": (chain_tls(cert=a.cert, key=a.key, trusted_ca=str(missing_dir)),
                                   ["listeners[0]", "trusted_ca"], [str(missing_dir)]),
        "cluster_ca_missing": (cluster_tls(sni=A, trusted_ca=missing_ca),
                               ["clusters[0]", "trusted_ca"], [missing_ca]),
        "cluster_client_key_mismatch": (cluster_tls(trusted_ca=pki.ca.cert, cert=pki.key_mismatch.cert,
                                                    key=pki.key_mismatch.key),
                                        ["clusters[0]", "tls_certificates[0]"],
                                        [pki.key_mismatch.key, pki.key_mismatch.cert]),
    }


ERROR_CASES = ["listener_cert_missing", "listener_key_missing", "listener_key_mismatch",
               "listener_cert_garbage", "listener_ca_missing", "listener_ca_garbage",
               "listener_ca_unreadable", "cluster_ca_missing", "cluster_client_key_mismatch"]


def base_config(weft):
    port, admin = weft.port(), weft.port()
    return wh.bootstrap(admin, listeners=[
        wh.http_listener("https", port, [wh.vhost("all", ["*"], [wh.route_to("svc")])]),
    ], clusters=[wh.cluster("svc", [weft.port()])])


def test_valid_tls_config_validates(weft, pki):
    config = base_config(weft)
    a = pki.server_a
    config["static_resources"]["listeners"][0]["filter_chains"][0]["transport_socket"] = \
        wh.downstream_tls(a.cert, a.key, trusted_ca=pki.ca.cert, require_client_certificate=True,
                          match_sans=[SPIFFE_CLIENT], alpn=["http/1.1"])
    config["static_resources"]["clusters"][0]["transport_socket"] = wh.upstream_tls(
        sni=A, trusted_ca=pki.ca.cert, cert=pki.client.cert, key=pki.client.key)
    path, result = weft.validate(config)
    assert result.returncode == 0, "valid TLS bootstrap %s rejected: rc=%d stderr:\n%s" % (
        path, result.returncode, result.stderr[-3000:])


@pytest.mark.parametrize("mode", ["run", "validate"])
@pytest.mark.parametrize("case", ERROR_CASES)
def test_certificate_errors_at_startup(weft, pki, case, mode):
    missing_dir = weft.path("no-such-dir-%s" % case)
    if case == "listener_ca_unreadable":
        missing_dir.mkdir()
    mutate, fragments, files = error_cases(pki, missing_dir)[case]
    config = base_config(weft)
    mutate(config)
    if mode == "validate":
        _, result = weft.validate(config)
        rc, err = result.returncode, result.stderr
        where = "stderr:\n%s" % err[-3000:]
    else:
        proxy = weft.start_proxy(config, wait_ready=False)
        rc = proxy.wait_exit(10)
        err = proxy.stderr_text()
        where = proxy.ctx()
    assert rc is not None and rc != 0, "%s (%s): weft-proxy should exit non-zero, rc=%r; %s" % (
        case, mode, rc, where)
    for fragment in fragments:
        assert fragment in err, "%s (%s): the error should name the field %r; %s" % (
            case, mode, fragment, where)
    assert any(os.path.basename(f) in err for f in files), (
        "%s (%s): the error should name the file %s; %s"
        % (case, mode, " or ".join(os.path.basename(f) for f in files), where))


# =============================================================================================
# HTTP/2 by ALPN
# =============================================================================================

def test_h2_negotiated_by_alpn(weft, pki):
    echo = weft.echo("h2-echo")
    port, admin = weft.port(), weft.port()
    a = pki.server_a
    config = wh.bootstrap(admin, listeners=[
        tls_listener("h2", port, [hcm_to("echo", "h2")],
                     wh.downstream_tls(a.cert, a.key, alpn=["h2", "http/1.1"])),
    ], clusters=[wh.cluster("echo", [echo.port])])
    proxy = weft.start_proxy(config)
    r = wh.curl(["--http2", "--cacert", pki.ca.cert] + wh.curl_resolve(A, port)
                + ["-o", "/dev/null", "-w", "%{http_code} %{http_version}",
                   "https://%s:%d/h2" % (A, port)])
    assert r.returncode == 0 and r.stdout == "200 2", (
        "curl --http2 over TLS with ALPN h2,http/1.1: expected '200 2', got rc=%d %r, stderr:\n%s%s"
        % (r.returncode, r.stdout, r.stderr[-1500:], proxy.ctx()))
    # an HTTP/1.1-only client on the same listener still gets HTTP/1.1
    r = wh.curl(["--http1.1", "--cacert", pki.ca.cert] + wh.curl_resolve(A, port)
                + ["-o", "/dev/null", "-w", "%{http_code} %{http_version}",
                   "https://%s:%d/h1" % (A, port)])
    assert r.returncode == 0 and r.stdout == "200 1.1", (r.returncode, r.stdout, r.stderr[-1500:])
