"""envoy.filters.network.rbac in front of tcp_proxy: a plaintext connection is judged at once
(source IP, destination port), a TLS one after its handshake (the client certificate's SPIFFE
identity); an allowed connection reaches a server-first upstream (its banner arrives without
the client sending anything), a denied one is closed before any upstream byte; shadow rules only
count; Envoy's stats tcp.rbac.*; a chain must end with its terminal filter."""

import socket
import ssl

import pytest

import tls_certs
import weft_harness as wh

RBAC_TYPE = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC"
BANNER = b"HELLO\n"


def rbac(action, policies, **extra):
    return {"name": "envoy.filters.network.rbac", "typed_config": dict(
        {"@type": RBAC_TYPE, "stat_prefix": "tcp.", "rules": {"action": action, "policies": policies}}, **extra)}


def ip(prefix, length):
    return {"address_prefix": prefix, "prefix_len": length}


@pytest.fixture(scope="module")
def env(weft_module, pki):
    h = weft_module
    echo = h.tcp_server("echo", banner=BANNER)
    ports = {k: h.port() for k in ("local", "far", "mtls")}
    admin = h.port()
    tcp = wh.tcp_proxy_filter("echo", "tcp_echo")
    shadow = {"shadow_rules": {"action": "DENY", "policies": {"all": {"permissions": [{"any": True}],
                                                                      "principals": [{"any": True}]}}},
              "shadow_rules_stat_prefix": "istio_audit_"}
    local_only = rbac("ALLOW", {"loopback": {"permissions": [{"destination_port": ports["local"]}],
                                             "principals": [{"direct_remote_ip": ip("127.0.0.0", 8)}]}}, **shadow)
    far_only = rbac("ALLOW", {"tens": {"permissions": [{"any": True}],
                                       "principals": [{"remote_ip": ip("10.0.0.0", 8)}]}})
    client_only = rbac("ALLOW", {"client": {"permissions": [{"any": True}], "principals": [
        {"authenticated": {"principal_name": {"exact": tls_certs.SPIFFE_CLIENT}}}]}})
    tls = wh.downstream_tls(pki.server_a.cert, pki.server_a.key, trusted_ca=pki.ca.cert)
    cfg = wh.bootstrap(admin, listeners=[
        wh.listener("local", ports["local"], [local_only, tcp]),
        wh.listener("far", ports["far"], [far_only, tcp]),
        wh.listener("mtls", ports["mtls"], filter_chains=[wh.filter_chain([client_only, tcp], transport_socket=tls)]),
    ], clusters=[wh.cluster("echo", [echo.port])])
    proxy = h.start_proxy(cfg, name="network-rbac")
    return type("Env", (), {"ports": ports, "proxy": proxy, "pki": pki})()


def read_some(sock, n=len(BANNER)):
    sock.settimeout(3)
    data = b""
    try:
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, ssl.SSLError):
        pass
    return data


def test_plaintext_judged_by_address_and_port(env):
    with socket.create_connection((wh.LOOPBACK, env.ports["local"]), timeout=3) as s:
        assert read_some(s) == BANNER  # server first: nothing sent by the client
        s.sendall(b"ping")
        assert read_some(s, 4) == b"ping"
    with socket.create_connection((wh.LOOPBACK, env.ports["far"]), timeout=3) as s:
        assert read_some(s) == b""  # closed: no upstream byte ever arrives


def test_tls_judged_by_the_client_certificate(env):
    pki = env.pki
    ok = wh.tls_client_context(ca=pki.ca.cert, cert=pki.client.cert, key=pki.client.key)
    with socket.create_connection((wh.LOOPBACK, env.ports["mtls"]), timeout=3) as raw:
        with ok.wrap_socket(raw, server_hostname="a.example.com") as s:
            assert read_some(s) == BANNER
            s.sendall(b"pong")
            assert read_some(s, 4) == b"pong"
    anonymous = wh.tls_client_context(ca=pki.ca.cert)
    with socket.create_connection((wh.LOOPBACK, env.ports["mtls"]), timeout=3) as raw:
        try:
            s = anonymous.wrap_socket(raw, server_hostname="a.example.com")
        except (ssl.SSLError, ConnectionResetError):
            return
        assert read_some(s) == b""
        s.close()


def test_stats(env):
    before = env.proxy.stats()
    for port in (env.ports["local"], env.ports["far"]):
        with socket.create_connection((wh.LOOPBACK, port), timeout=3) as s:
            read_some(s)
    after = env.proxy.stats()

    def delta(name):
        return after.get(name, 0) - before.get(name, 0)
    assert delta("tcp.rbac.allowed") == 1 and delta("tcp.rbac.denied") == 1, after
    assert delta("tcp.rbac.istio_audit_shadow_denied") == 1, after
    assert wh.wait_for(lambda: env.proxy.stats().get("listener.%s_%d.downstream_cx_active" %
                                                     (wh.LOOPBACK, env.ports["far"]), 0) == 0, 3)


def test_a_gate_cannot_end_a_chain(weft):
    deny = rbac("DENY", {})
    cfg = wh.bootstrap(weft.port(), [wh.listener("l", weft.port(), [wh.tcp_proxy_filter("c", "t"), deny])],
                       [wh.cluster("c", [weft.port()])])
    r = weft.validate(cfg)[1]
    assert r.returncode != 0 and "filters[0]: 'envoy.filters.network.tcp_proxy' must be the last filter" in r.stderr, \
        r.stderr
    cfg = wh.bootstrap(weft.port(), [wh.listener("l", weft.port(), [deny, deny])], [wh.cluster("c", [weft.port()])])
    r = weft.validate(cfg)[1]
    assert "cannot end a filter chain" in r.stderr, r.stderr
    enforce = rbac("DENY", {}, enforcement_type="CONTINUOUS")
    cfg = wh.bootstrap(weft.port(), [wh.listener("l", weft.port(), [enforce, wh.tcp_proxy_filter("c", "t")])],
                       [wh.cluster("c", [weft.port()])])
    r = weft.validate(cfg)[1]
    assert "enforcement_type: weft-proxy decides once per connection" in r.stderr, r.stderr
