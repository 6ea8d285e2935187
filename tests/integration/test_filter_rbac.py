"""envoy.filters.http.rbac on HTTP/1.1 and HTTP/2 (over TLS, so that the peer certificate is an
identity): ALLOW and DENY policies of permissions (method, path, port, not) and principals
(authenticated principal_name from the client certificate's URI SAN, source IP, any), a DENY
filter in front of an ALLOW one (Istio's order), 403 "RBAC: access denied" with Envoy's response
details, shadow rules that only count, the stats, and config errors naming the field."""

import pytest

import tls_certs
import weft_harness as wh

RBAC_TYPE = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
CURL_PROTOS = {"http1": "--http1.1", "http2": "--http2"}


def header(name, exact=None, prefix=None):
    m = {"exact": exact} if exact is not None else {"prefix": prefix}
    return {"header": {"name": name, "string_match": m}}


def rbac(action, policies, shadow=False, **extra):
    key = "shadow_rules" if shadow else "rules"
    return {"name": "envoy.filters.http.rbac", "typed_config": dict({"@type": RBAC_TYPE, key: {
        "action": action, "policies": policies}}, **extra)}


ALLOW = rbac("ALLOW", {
    # Anyone may GET /public/...
    "public-get": {"permissions": [{"and_rules": {"rules": [header(":method", exact="GET"),
                                                            {"url_path": {"path": {"prefix": "/public/"}}}]}}],
                   "principals": [{"any": True}]},
    # The mesh client (its certificate's SPIFFE ID) may do anything but DELETE.
    "client": {"permissions": [{"not_rule": header(":method", exact="DELETE")}],
               "principals": [{"authenticated": {"principal_name": {"exact": tls_certs.SPIFFE_CLIENT}}}]},
})
DENY = rbac("DENY", {
    "no-admin": {"permissions": [{"url_path": {"path": {"prefix": "/admin"}}}], "principals": [{"any": True}]},
    "no-hackers": {"permissions": [{"any": True}],
                   "principals": [{"direct_remote_ip": {"address_prefix": "10.0.0.0", "prefix_len": 8}}]},
})
AUDIT = rbac("DENY", {"watch-private": {"permissions": [{"url_path": {"path": {"prefix": "/private"}}}],
                                        "principals": [{"any": True}]}}, shadow=True,
             shadow_rules_stat_prefix="istio_audit_")


@pytest.fixture(scope="module")
def env(weft_module, pki):
    h = weft_module
    echo = h.echo("behind-rbac")
    port, admin = h.port(), h.port()
    hcm = wh.hcm_filter([wh.vhost("all", ["*"], [wh.route_to("echo")])], stat_prefix="authz",
                        access_log=[wh.file_access_log(h.path("rbac-access.log"),
                                                       "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_CODE_DETAILS%\n")])
    hcm["typed_config"]["http_filters"] = [AUDIT, DENY, ALLOW, wh.router_filter()]
    tls = wh.downstream_tls(pki.server_a.cert, pki.server_a.key, trusted_ca=pki.ca.cert, alpn=["h2", "http/1.1"])
    cfg = wh.bootstrap(admin, [wh.listener("main", port, filter_chains=[wh.filter_chain([hcm], transport_socket=tls)])],
                       [wh.cluster("echo", [echo.port])])
    proxy = h.start_proxy(cfg, name="rbac")
    return type("Env", (), {"port": port, "proxy": proxy, "pki": pki, "h": h})()


def call(env, proto, path, method="GET", cert=None):
    args = [CURL_PROTOS[proto], "-o", "-", "-w", "\n%{http_code} %{http_version}", "-X", method,
            "--cacert", env.pki.ca.cert] + wh.curl_resolve("a.example.com", env.port)
    if cert:
        args += ["--cert", cert.cert, "--key", cert.key]
    r = wh.curl(args + ["https://a.example.com:%d%s" % (env.port, path)])
    assert r.returncode == 0, r.stderr
    body, _, tail = r.stdout.rpartition("\n")
    code, version = tail.split()
    assert version == ("2" if proto == "http2" else "1.1"), tail
    return int(code), body


@pytest.mark.parametrize("proto", list(CURL_PROTOS))
def test_allow_and_deny_policies(env, proto):
    client = env.pki.client
    assert call(env, proto, "/public/page")[0] == 200  # public-get, no certificate
    code, body = call(env, proto, "/public/page", method="POST")
    assert (code, body) == (403, "RBAC: access denied")  # no ALLOW policy matches
    assert call(env, proto, "/private")[0] == 403  # no identity
    assert call(env, proto, "/private", cert=client)[0] == 200  # the client's SPIFFE ID
    assert call(env, proto, "/private", method="DELETE", cert=client)[0] == 403  # not_rule
    wrong = env.pki.server_spiffe  # another SPIFFE ID from the same root
    assert call(env, proto, "/private", cert=wrong)[0] == 403
    assert call(env, proto, "/admin/x", cert=client)[0] == 403  # DENY comes first
    lines = wh.wait_for_log(env.h.path("rbac-access.log"), lambda l: l.startswith("/admin/x 403"))
    assert lines[-1].strip() == "/admin/x 403 rbac_access_denied_matched_policy[no-admin]", lines[-1]


def test_stats_count_each_decision(env):
    before = env.proxy.stats()
    call(env, "http1", "/public/a")  # passes both filters
    call(env, "http1", "/admin")  # denied by DENY
    call(env, "http1", "/private")  # passes DENY, denied by ALLOW; audited
    after = env.proxy.stats()
    delta = lambda k: after.get(k, 0) - before.get(k, 0)  # noqa: E731
    # Both filters count under http.authz.rbac: DENY allowed 2 and denied 1; ALLOW allowed 1, denied 1.
    assert delta("http.authz.rbac.allowed") == 3, after
    assert delta("http.authz.rbac.denied") == 2, after
    assert delta("http.authz.rbac.istio_audit_shadow_denied") == 1, after
    assert delta("http.authz.rbac.istio_audit_shadow_allowed") == 2, after


def test_config_errors_name_the_field(weft):
    bad = rbac("ALLOW", {"p": {"permissions": [{"any": True}],
                               "principals": [{"filter_state": {"key": "k", "string_match": {"exact": "v"}}}]}})
    hcm = wh.hcm_filter([wh.vhost("all", ["*"], [wh.route_to("c")])])
    hcm["typed_config"]["http_filters"] = [bad, wh.router_filter()]
    cfg = wh.bootstrap(weft.port(), [wh.listener("l", weft.port(), [hcm])], [wh.cluster("c", [weft.port()])])
    _, r = weft.validate(cfg)
    assert r.returncode != 0
    assert "rules.policies['p'].principals[0].filter_state: not supported by weft-proxy" in r.stderr, r.stderr
