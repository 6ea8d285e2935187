"""envoy.filters.http.jwt_authn on HTTP/1.1 and HTTP/2, with tokens and keys made here by
Python's cryptography: RS256, PS256 and ES256 tokens verified against local_jwks; expired, wrong
issuer, wrong audience, bad signature, `alg: none`, unknown kid and garbage tokens get 401 with
Envoy's messages and www-authenticate; a missing token is 401 unless allow_missing; forward
(the Authorization header removed by default), forward_payload_header, claim_to_headers,
from_params, from_cookies; the payload in dynamic metadata (scope split on spaces) read by an
RBAC filter after it, as Istio's requestPrincipals and request.auth.claims are; the stats; config
errors."""

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

import weft_harness as wh
from both_protocols import PROTOCOLS, request

JWT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"
ISSUER = "https://issuer.example.com"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n, size=None):
    size = size or (n.bit_length() + 7) // 8
    return n.to_bytes(size, "big")


class Keys:
    def __init__(self):
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self):
        rn = self.rsa.public_key().public_numbers()
        en = self.ec.public_key().public_numbers()
        return json.dumps({"keys": [
            {"kty": "RSA", "kid": "rsa-1", "n": b64(uint(rn.n)), "e": b64(uint(rn.e))},
            {"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": b64(uint(en.x, 32)), "y": b64(uint(en.y, 32))}]})

    def token(self, alg="RS256", kid=None, key=None, **claims):
        now = int(time.time())
        payload = dict({"iss": ISSUER, "sub": "alice", "aud": "bookinfo", "iat": now, "exp": now + 600,
                        "group": "admins"}, **claims)
        header = {"alg": alg, "typ": "JWT"}
        if kid or alg != "none":
            header["kid"] = kid or ("ec-1" if alg.startswith("ES") else "rsa-1")
        signing_input = (b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())).encode()
        if alg == "none":
            return signing_input.decode() + "."
        if alg == "RS256":
            sig = (key or self.rsa).sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        elif alg == "PS256":
            sig = (key or self.rsa).sign(signing_input, padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                                                    salt_length=32), hashes.SHA256())
        else:
            r, s = decode_dss_signature((key or self.ec).sign(signing_input, ec.ECDSA(hashes.SHA256())))
            sig = uint(r, 32) + uint(s, 32)
        return signing_input.decode() + "." + b64(sig)


@pytest.fixture(scope="module")
def env(weft_module):
    h = weft_module
    keys = Keys()
    echo = h.echo("behind-jwt")
    port, admin = h.port(), h.port()
    jwt = {"name": "envoy.filters.http.jwt_authn", "typed_config": {
        "@type": JWT_TYPE,
        "providers": {
            "origins": {"issuer": ISSUER, "audiences": ["bookinfo", "other"],
                        "local_jwks": {"inline_string": keys.jwks()},
                        "forward_payload_header": "x-jwt-payload",
                        "claim_to_headers": [{"header_name": "x-jwt-group", "claim_name": "group"}],
                        "payload_in_metadata": "payload",
                        "normalize_payload_in_metadata": {"space_delimited_claims": ["scope"]}},
            "cookie": {"issuer": ISSUER, "local_jwks": {"inline_string": keys.jwks()}, "from_cookies": ["session"]},
            "forwarding": {"issuer": ISSUER, "local_jwks": {"inline_bytes": base64.b64encode(keys.jwks().encode()).decode()},
                           "forward": True,
                           "from_headers": [{"name": "x-token"}], "from_params": ["jwt"]},
        },
        "rules": [
            {"match": {"prefix": "/open"}, "requires": {"requires_any": {"requirements": [
                {"provider_name": "origins"}, {"allow_missing": {}}]}}},
            {"match": {"prefix": "/fwd"}, "requires": {"provider_name": "forwarding"}},
            {"match": {"prefix": "/cookie"}, "requires": {"provider_name": "cookie"}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "origins"}},
        ]}}
    hcm = wh.hcm_filter([wh.vhost("all", ["*"], [wh.route_to("echo")])], stat_prefix="jwt")
    # /admin needs "admin" among the token's scopes, read from jwt_authn's metadata.
    scope_admin = {"metadata": {"filter": "envoy.filters.http.jwt_authn",
                                "path": [{"key": "payload"}, {"key": "scope"}],
                                "value": {"list_match": {"one_of": {"string_match": {"exact": "admin"}}}}}}
    rbac = {"name": "envoy.filters.http.rbac", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
        "rules": {"action": "ALLOW", "policies": {
            "admins": {"permissions": [{"url_path": {"path": {"prefix": "/admin"}}}], "principals": [scope_admin]},
            "rest": {"permissions": [{"not_rule": {"url_path": {"path": {"prefix": "/admin"}}}}],
                     "principals": [{"any": True}]}}}}}
    hcm["typed_config"]["http_filters"] = [jwt, rbac, wh.router_filter()]
    proxy = h.start_proxy(wh.bootstrap(admin, [wh.listener("main", port, [hcm])], [wh.cluster("echo", [echo.port])]),
                          name="jwt")
    return type("Env", (), {"port": port, "proxy": proxy, "keys": keys})()


def auth(token):
    return ["authorization: Bearer " + token]


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_valid_tokens_pass_and_the_outputs_apply(env, proto):
    for alg in ("RS256", "PS256", "ES256"):
        r = request(proto, env.port, "/api", headers=auth(env.keys.token(alg)))
        assert r.status == 200, (alg, r.describe())
        seen = json.loads(r.body)["headers"]
        assert "authorization" not in seen, seen  # forward: false
        payload = json.loads(base64.urlsafe_b64decode(seen["x-jwt-payload"] + "=="))
        assert payload["sub"] == "alice" and seen["x-jwt-group"] == "admins", seen
    # forward: true keeps the token; from_headers / from_params replace the default locations.
    tok = env.keys.token()
    r = request(proto, env.port, "/fwd", headers=["x-token: " + tok])
    assert r.status == 200 and json.loads(r.body)["headers"]["x-token"] == tok, r.describe()
    assert request(proto, env.port, "/fwd?jwt=" + tok).status == 200
    assert request(proto, env.port, "/fwd", headers=auth(tok)).status == 401  # not where this provider looks


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_payload_metadata_reaches_rbac_and_cookies(env, proto):
    k = env.keys
    r = request(proto, env.port, "/admin", headers=auth(k.token(scope="read admin")))
    assert r.status == 200, r.describe()
    r = request(proto, env.port, "/admin", headers=auth(k.token(scope="read")))
    assert (r.status, r.text) == (403, "RBAC: access denied"), r.describe()
    r = request(proto, env.port, "/admin", headers=auth(k.token(scope="administrator")))
    assert r.status == 403, r.describe()  # one whole word, not a substring
    assert request(proto, env.port, "/admin/x?jwt=1", headers=auth(k.token(scope="admin"))).status == 200
    # from_cookies: the token is read from the named cookie, among others.
    r = request(proto, env.port, "/cookie", headers=["cookie: theme=dark; session=%s; lang=en" % k.token()])
    assert r.status == 200, r.describe()
    r = request(proto, env.port, "/cookie", headers=["cookie: session=%s" % k.token(key=k.other_rsa)])
    assert (r.status, r.text) == (401, "Jwt verification fails"), r.describe()
    assert request(proto, env.port, "/cookie", headers=auth(k.token())).status == 401


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_bad_tokens_are_401_with_envoys_reason(env, proto):
    k = env.keys
    good = k.token()
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    cases = [
        (k.token(exp=int(time.time()) - 3600), "Jwt is expired"),
        (k.token(iss="https://evil.example.com"), "Jwt issuer is not configured"),
        (k.token(aud="someone-else"), "Audiences in Jwt are not allowed"),
        (tampered, "Jwt verification fails"),
        (k.token(key=k.other_rsa), "Jwt verification fails"),
        (k.token(alg="none"), "Jwt header [alg] is not supported"),
        (k.token(kid="unknown"), "Jwks doesn't have key to match kid or alg from Jwt"),
        ("not-a-jwt", "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"),
    ]
    for token, why in cases:
        r = request(proto, env.port, "/api", headers=auth(token))
        assert (r.status, r.text) == (401, why), (why, r.describe())
        assert r.headers.get("www-authenticate", "").startswith('Bearer realm="http://'), r.describe()
    r = request(proto, env.port, "/api")
    assert (r.status, r.text) == (401, "Jwt is missing"), r.describe()
    # allow_missing: no token passes, a bad one does not.
    assert request(proto, env.port, "/open").status == 200
    assert request(proto, env.port, "/open", headers=auth(tampered)).status == 401


def test_stats(env):
    before = env.proxy.stats()
    request("http1", env.port, "/api", headers=auth(env.keys.token()))
    request("http1", env.port, "/api")
    after = env.proxy.stats()
    assert after.get("http.jwt.jwt_authn.allowed", 0) - before.get("http.jwt.jwt_authn.allowed", 0) == 1
    assert after.get("http.jwt.jwt_authn.denied", 0) - before.get("http.jwt.jwt_authn.denied", 0) == 1


def test_config_errors_name_the_field(weft):
    def validate(provider):
        hcm = wh.hcm_filter([wh.vhost("all", ["*"], [wh.route_to("c")])])
        hcm["typed_config"]["http_filters"] = [{"name": "envoy.filters.http.jwt_authn", "typed_config": {
            "@type": JWT_TYPE, "providers": {"p": provider},
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]}}, wh.router_filter()]
        cfg = wh.bootstrap(weft.port(), [wh.listener("l", weft.port(), [hcm])], [wh.cluster("c", [weft.port()])])
        return weft.validate(cfg)[1]
    r = validate({"issuer": ISSUER, "remote_jwks": {"http_uri": {"uri": "https://x/jwks", "cluster": "c",
                                                                 "timeout": "1s"}}})
    assert r.returncode != 0 and "remote_jwks: not supported by weft-proxy" in r.stderr, r.stderr
    r = validate({"issuer": ISSUER, "local_jwks": {"inline_string": '{"keys": [{"kty": "oct", "k": "abc"}]}'}})
    assert "providers['p'].local_jwks.keys[0].kty: 'oct' is not supported (RSA, EC are)" in r.stderr, r.stderr
