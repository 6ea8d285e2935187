"""DestinationRule TLS origination with files, as Istio users write it: the app speaks plain HTTP
to a Service, its sidecar originates TLS to the server. MUTUAL presents the client certificate
and key named in the rule and checks the server against the rule's CA and SNI; the agent serves
the files to the proxy over SDS (Istio's file-cert:/file-root: secrets) and sends them again
when they change on disk, so a rotated client certificate is used without a restart. SIMPLE with
a CA that did not sign the server fails the request instead of falling back to plaintext."""

import http.server
import json
import os
import ssl
import threading

import pytest

import pki
from netns import Pod, require_root, wait_for
from sidecar_env import Sidecar

API_VIP, WRONG_VIP = "10.96.80.10", "10.96.80.11"


def mesh_yaml(pod, files):
    return """apiVersion: v1
kind: Service
metadata: {name: api, namespace: default}
spec:
  clusterIP: %(vip)s
  ports: [{name: http, port: 8443}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: api, namespace: default}
subsets:
- addresses: [{ip: %(host)s}]
  ports: [{name: http, port: 8443}]
---
apiVersion: v1
kind: Service
metadata: {name: wrong-ca, namespace: default}
spec:
  clusterIP: %(wrong_vip)s
  ports: [{name: http, port: 8443}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: wrong-ca, namespace: default}
subsets:
- addresses: [{ip: %(host)s}]
  ports: [{name: http, port: 8443}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api-mtls, namespace: default}
spec:
  host: api.default.svc.cluster.local
  trafficPolicy:
    tls:
      mode: MUTUAL
      clientCertificate: %(files)s/client.pem
      privateKey: %(files)s/client.key
      caCertificates: %(files)s/server-ca.pem
      sni: api.weft.test
      subjectAltNames: [api.weft.test]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: wrong-ca, namespace: default}
spec:
  host: wrong-ca.default.svc.cluster.local
  trafficPolicy:
    tls: {mode: SIMPLE, caCertificates: %(files)s/client-ca.pem, sni: api.weft.test}
""" % {"vip": API_VIP, "wrong_vip": WRONG_VIP, "host": pod.host_ip, "files": files}


class Server:
    """HTTPS on the host side of the pod's link; takes a client certificate from `client_ca` and
    answers with its CN (null without one)."""

    def __init__(self, host, cert, key, client_ca):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                subject = dict(x[0] for x in (self.connection.getpeercert() or {}).get("subject", ()))
                body = json.dumps({"client": subject.get("commonName")}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer((host, 8443), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        ctx.load_verify_locations(str(client_ca))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def env(tmp_path):
    require_root()
    with Pod("tlsorig", index=200 + os.getpid() % 40) as pod:
        files = tmp_path / "files"
        files.mkdir()
        files.chmod(0o755)
        server_ca, client_ca = pki.CA("server CA"), pki.CA("client CA")
        (files / "server-ca.pem").write_bytes(server_ca.pem())
        (files / "client-ca.pem").write_bytes(client_ca.pem())
        server_ca.write(tmp_path, "server", "api.weft.test", ["api.weft.test"])
        client_ca.write(files, "client", "client-1")
        server = Server(pod.host_ip, tmp_path / "server.pem", tmp_path / "server.key", files / "client-ca.pem")
        sidecar = None
        try:
            sidecar = Sidecar(pod, tmp_path, mesh_yaml(pod, files), ca=True)
            yield type("Env", (), {"pod": pod, "sidecar": sidecar, "files": files, "client_ca": client_ca})
        finally:
            if sidecar:
                sidecar.close()
            server.close()


def call(env, vip):
    """The app's plain HTTP request to a Service, from inside the pod: (status, body)."""
    r = env.pod.run(["curl", "-sS", "--max-time", "5", "-o", "-", "-w", "\n%{http_code}",
                     "http://%s:8443/hello" % vip], check=False)
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), body


def test_mutual_tls_origination_from_files(env):
    wait_for(lambda: call(env, API_VIP)[0] == 200, timeout=15, what="the API through TLS" + env.sidecar.ctx())
    status, body = call(env, API_VIP)
    assert json.loads(body) == {"client": "client-1"}, body
    # Rotation: new files in place (renamed over, as kubelet and cert-manager do); the agent sees
    # them within its 2 s check and the next handshake presents the new certificate.
    cert, key = env.client_ca.issue("client-2")
    for name, data in (("client.key", key), ("client.pem", cert)):
        tmp = env.files / (name + ".new")
        tmp.write_bytes(data)
        os.replace(tmp, env.files / name)
    wait_for(lambda: json.loads(call(env, API_VIP)[1] or "{}").get("client") == "client-2", timeout=10,
             what="the rotated client certificate" + env.sidecar.ctx())
    # A server the rule's CA did not sign: the request fails (the server would have answered an
    # unverified client), and nothing goes out in plaintext.
    status, body = call(env, WRONG_VIP)
    assert status == 503, (status, body)
