"""weftd's validating admission webhook over HTTPS (Istio's /validate on 15017): kube-apiserver's
AdmissionReview in, Istio's verdict out, on a certificate from weftd's own CA (trusted through
its root-cert.pem, as a caBundle) or from files; a non-POST, an oversized body and plaintext are
refused; without a certificate weftd says what is missing."""

import http.client
import json
import socket
import ssl
import subprocess

import weft_harness as wh
import weftd_harness as wd


def review(obj, uid="e911857d-c318-11e8-bbad-025000000001"):
    api, kind = obj["apiVersion"], obj["kind"]
    group, version = api.split("/")
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": kind.lower() + "s"},
        "namespace": "default", "operation": "CREATE", "userInfo": {"username": "kubernetes-admin"},
        "object": obj, "oldObject": None, "dryRun": False}}


SE_BAD = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": {"name": "bad"},
          "spec": {"hosts": ["*"], "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}],
                   "resolution": "STATIC", "endpoints": [{"address": "db.example.com"}]}}
SE_GOOD = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": {"name": "good"},
           "spec": {"hosts": ["api.example.com"], "ports": [{"number": 443, "name": "https", "protocol": "TLS"}],
                    "resolution": "DNS"}}


def post(port, ctx, body, server_hostname, method="POST", path="/validate"):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
    conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                                server_hostname=server_hostname)
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    out = (r.status, r.read().decode())
    conn.close()
    return out


def test_validate_with_a_certificate_from_weftds_ca(tmp_path):
    state, port = tmp_path / "state", wh.free_port()
    w = wd.Weftd(tmp_path / "w", extra_args=["--state-dir", str(state), "--webhook-addr", "127.0.0.1:%d" % port])
    w.start()
    try:
        ctx = ssl.create_default_context(cafile=str(state / "ca" / "root-cert.pem"))
        # The name the ValidatingWebhookConfiguration's service gives: weftd.weft-system.svc.
        status, body = post(port, ctx, json.dumps(review(SE_BAD)), "weftd.weft-system.svc")
        assert status == 200, body
        resp = json.loads(body)
        assert resp["apiVersion"] == "admission.k8s.io/v1" and resp["kind"] == "AdmissionReview", resp
        r = resp["response"]
        assert r["uid"] == "e911857d-c318-11e8-bbad-025000000001" and r["allowed"] is False, r
        msg = r["status"]["message"]
        assert msg.startswith("configuration is invalid: ") and "spec.hosts[0]: invalid host *" in msg, msg
        assert 'spec.endpoints[0].address: endpoint address "db.example.com" is not a valid IP address' in msg, msg

        status, body = post(port, ctx, json.dumps(review(SE_GOOD)), "istiod.istio-system.svc")
        assert status == 200 and json.loads(body)["response"]["allowed"] is True, body

        status, body = post(port, ctx, "", "weftd.weft-system.svc", method="GET")
        assert status == 405, (status, body)
        status, body = post(port, ctx, "x" * (4 * 1024 * 1024), "weftd.weft-system.svc")
        assert status == 413 and "request body larger than" in body, (status, body[:200])
        status, body = post(port, ctx, "not json", "weftd.weft-system.svc")
        assert status == 400 and body.startswith("bad AdmissionReview: "), (status, body)

        # Plaintext is not served: the handshake is all the server expects.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
            s.settimeout(3)
            try:
                got = s.recv(100)
            except (ConnectionResetError, socket.timeout):
                got = b""
            assert not got.startswith(b"HTTP/1.1 200"), got
        assert w.proc.poll() is None, "weftd must keep serving"
    finally:
        w.stop()


def test_validate_with_certificate_files_and_errors_without_one(tmp_path, pki):
    port = wh.free_port()
    w = wd.Weftd(tmp_path / "w", extra_args=["--webhook-addr", "127.0.0.1:%d" % port,
                                             "--webhook-cert", str(pki.server_a.cert),
                                             "--webhook-key", str(pki.server_a.key)])
    w.start()
    try:
        ctx = ssl.create_default_context(cafile=str(pki.ca.cert))
        status, body = post(port, ctx, json.dumps(review(SE_GOOD)), "a.example.com")
        assert status == 200 and json.loads(body)["response"]["allowed"] is True, body
    finally:
        w.stop()
    mesh = tmp_path / "mesh2"
    mesh.mkdir()
    r = subprocess.run([str(wd.weftd_binary()), "--config-dir", str(mesh), "--grpc-addr", "127.0.0.1:%d" % wh.free_port(),
                        "--http-addr", "127.0.0.1:%d" % wh.free_port(), "--webhook-addr", "127.0.0.1:%d" % port],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1, r
    assert "webhooks: --webhook-addr needs --webhook-cert/--webhook-key or --state-dir" in r.stderr, r.stderr
