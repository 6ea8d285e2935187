"""Istio's request authentication and authorization on a sidecar's inbound traffic, as a user
configures them: RequestAuthentication with keys weftd fetches (jwksUri over HTTPS, and an
issuer's OpenID discovery), a token in a cookie, AuthorizationPolicy on requestPrincipals and
request.auth.claims (the JWT payload reaching RBAC), key rotation picked up by weftd's refresh,
an unreachable key set refusing that issuer's tokens only; and the same policy enforced on TCP
ports by network RBAC (a port the policy allows echoes, another is closed); a dry-run DENY
(istio.io/dry-run) only counted."""

import base64
import http.server
import json
import os
import socket
import ssl
import sys
import threading
import time
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import pki
from netns import REPO_ROOT, Pod, require_root, sh, wait_for
from sidecar_env import Sidecar

ECHO = str(REPO_ROOT / "examples" / "backend" / "echo_server.py")
ISSUER = "https://issuer.weft.test"
TCP_ECHO = """import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
def serve(c):
    while True:
        d = c.recv(4096)
        if not d: break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Key:
    def __init__(self, kid):
        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self):
        n = self.key.public_key().public_numbers()
        return {"kty": "RSA", "kid": self.kid, "alg": "RS256", "n": b64(n.n.to_bytes(256, "big")),
                "e": b64(n.e.to_bytes(3, "big"))}

    def token(self, iss=ISSUER, **claims):
        now = int(time.time())
        payload = dict({"iss": iss, "sub": "alice", "iat": now, "exp": now + 600}, **claims)
        head = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing = (b64(json.dumps(head).encode()) + "." + b64(json.dumps(payload).encode())).encode()
        return signing.decode() + "." + b64(self.key.sign(signing, padding.PKCS1v15(), hashes.SHA256()))


def tls_files(tmp):
    """A CA (ca.pem) and the key server's certificate for 127.0.0.1 (server.pem, server.key)."""
    ca = pki.CA("jwks test CA")
    (tmp / "ca.pem").write_bytes(ca.pem())
    ca.write(tmp, "server", "127.0.0.1", ["127.0.0.1"])


class KeyServer:
    """HTTPS on 127.0.0.1: /jwks.json (replaceable), an OpenID discovery document under /disc."""

    def __init__(self, tmp):
        self.documents = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = server.documents.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(tmp / "server.pem"), str(tmp / "server.key"))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = "https://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def mesh_yaml(pod, keys_url):
    return """apiVersion: v1
kind: Service
metadata: {name: app, namespace: default}
spec:
  clusterIP: 10.96.79.20
  selector: {app: app}
  ports:
  - {name: http, port: 9080, targetPort: 9080}
  - {name: tcp-echo, port: 9090, targetPort: 9090}
  - {name: tcp-other, port: 9091, targetPort: 9091}
---
apiVersion: v1
kind: Pod
metadata: {name: app-1, namespace: default, labels: {app: app}}
status: {podIP: %(ip)s}
---
apiVersion: v1
kind: Endpoints
metadata: {name: app, namespace: default}
subsets:
- addresses: [{ip: %(ip)s, targetRef: {kind: Pod, name: app-1}}]
  ports: [{name: http, port: 9080}, {name: tcp-echo, port: 9090}, {name: tcp-other, port: 9091}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: app-jwt, namespace: default}
spec:
  selector: {matchLabels: {app: app}}
  jwtRules:
  - issuer: %(issuer)s
    jwksUri: %(keys)s/jwks.json
  - issuer: %(keys)s/disc
    fromCookies: [session]
  - issuer: https://gone.weft.test
    jwksUri: %(keys)s/missing.json
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: app-access, namespace: default}
spec:
  selector: {matchLabels: {app: app}}
  action: ALLOW
  rules:
  - to: [{operation: {paths: [/public*]}}]
  - from: [{source: {requestPrincipals: ["%(issuer)s/alice"]}}]
    to: [{operation: {paths: [/secure*]}}]
  - to: [{operation: {paths: [/admin*]}}]
    when: [{key: "request.auth.claims[scope]", values: [admin]}]
  - from: [{source: {requestPrincipals: ["*/carol"]}}]
    to: [{operation: {paths: [/cookie*]}}]
  - to: [{operation: {ports: ["9090"]}}]
---
# istio.io/dry-run: counted (shadow rules), not enforced.
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: dry-deny-public, namespace: default, annotations: {istio.io/dry-run: "true"}}
spec:
  selector: {matchLabels: {app: app}}
  action: DENY
  rules:
  - to: [{operation: {paths: [/public*]}}]
""" % {"ip": pod.ip, "issuer": ISSUER, "keys": keys_url}


class Env:
    def __init__(self, pod, tmp):
        self.pod, self.tmp = pod, tmp
        tls_files(tmp)
        self.keys = KeyServer(tmp)
        self.key1, self.key2, self.key3 = Key("k1"), Key("k2"), Key("k3")
        self.keys.documents = {
            "/jwks.json": {"keys": [self.key1.jwk()]},
            "/disc/.well-known/openid-configuration": {"issuer": self.keys.url + "/disc",
                                                       "jwks_uri": self.keys.url + "/disc-keys.json"},
            "/disc-keys.json": {"keys": [self.key2.jwk()]},
        }
        try:
            self.sidecar = Sidecar(pod, tmp, mesh_yaml(pod, self.keys.url),
                                   weftd_args=["--jwks-refresh-interval-s", "1"],
                                   weftd_env={"SSL_CERT_FILE": str(tmp / "ca.pem")})
        except BaseException:
            self.keys.close()
            raise

    def ctx(self):
        return self.sidecar.ctx()

    def weftd_log(self):
        return self.sidecar.weftd_log.read_text()

    def get(self, path, headers=()):
        args = ["curl", "-sS", "--max-time", "5", "-o", "-", "-w", "\n%{http_code}"]
        for h in headers:
            args += ["-H", h]
        r = sh(args + ["http://%s:9080%s" % (self.pod.ip, path)], check=False)
        body, _, code = r.stdout.rpartition("\n")
        return int(code or 0), body

    def tcp(self, port):
        """What port `port` of the pod echoes back for b"ping" (b"" when the connection is closed)."""
        try:
            with socket.create_connection((self.pod.ip, port), timeout=3) as s:
                s.sendall(b"ping")
                s.settimeout(3)
                return s.recv(16)
        except OSError:
            return b""

    def close(self):
        self.sidecar.close()
        self.keys.close()


@pytest.fixture
def env(tmp_path):
    require_root()
    with Pod("authz", index=1 + os.getpid() % 39) as pod:
        pod.spawn([sys.executable, ECHO, "--host", "0.0.0.0", "--port", "9080", "--name", "app"])
        (tmp_path / "tcp_echo.py").write_text(TCP_ECHO)
        for port in ("9090", "9091"):
            pod.spawn([sys.executable, str(tmp_path / "tcp_echo.py"), port])
        e = Env(pod, tmp_path)
        try:
            yield e
        finally:
            e.close()


def bearer(token):
    return ["authorization: Bearer " + token]


def test_jwt_and_authorization_on_a_sidecar(env):
    k1, k2, k3 = env.key1, env.key2, env.key3
    wait_for(lambda: env.get("/public")[0] == 200, what="the inbound listener" + env.ctx())
    # No token: RequestAuthentication lets it through, AuthorizationPolicy decides.
    assert env.get("/secure") == (403, "RBAC: access denied"), env.ctx()
    assert env.get("/secure", bearer(k1.token()))[0] == 200, env.ctx()
    assert env.get("/secure", bearer(k1.token(sub="bob")))[0] == 403
    # A key the issuer's JWKS does not have: 401 from jwt_authn.
    assert env.get("/public", bearer(Key("k1").token())) == (401, "Jwt verification fails")
    # request.auth.claims: "scope" is split on spaces, as Istio asks of jwt_authn.
    assert env.get("/admin", bearer(k1.token(scope="read admin")))[0] == 200
    assert env.get("/admin", bearer(k1.token(scope="read")))[0] == 403
    # The discovery issuer's keys (found through its openid-configuration), from a cookie.
    carol = k2.token(iss=env.keys.url + "/disc", sub="carol")
    assert env.get("/cookie", ["cookie: a=b; session=" + carol])[0] == 200, env.ctx()
    # Not where that rule looks: the other rules find it and none verifies it.
    assert env.get("/cookie", bearer(carol)) == (401, "Jwt issuer is not configured")
    # A key set weftd cannot fetch refuses that issuer's tokens, and only those.
    gone = k1.token(iss="https://gone.weft.test")
    assert env.get("/public", bearer(gone))[0] == 401
    assert "missing.json" in env.weftd_log()
    # Rotation: the issuer publishes a new key; weftd's refresh pushes it to the sidecar.
    env.keys.documents["/jwks.json"] = {"keys": [k3.jwk()]}
    wait_for(lambda: env.get("/secure", bearer(k3.token()))[0] == 200, timeout=15,
             what="the rotated key accepted" + env.ctx())
    assert env.get("/secure", bearer(k1.token()))[0] == 401
    assert "changed" in env.weftd_log()

    # TCP: network RBAC. The ALLOW rule on port 9090 admits it; the HTTP-only rules are left out
    # of TCP chains, so 9091 matches nothing and is closed.
    assert env.tcp(9090) == b"ping", env.ctx()
    assert env.tcp(9091) == b""
    stats = env.sidecar.stats()
    assert "tcp.rbac.allowed" in stats and "tcp.rbac.denied" in stats, stats[-2000:]
    # The dry-run DENY on /public let every request through and counted each one it would deny.
    shadow = [line for line in stats.splitlines() if "istio_dry_run_deny_shadow_denied" in line]
    assert shadow and int(shadow[0].split()[-1]) >= 1, [line for line in stats.splitlines() if "rbac" in line]
