"""weftd's admission webhooks over HTTPS (Istio's 15017): /validate (kube-apiserver's
AdmissionReview in, Istio's verdict out) and /inject (a Deployment's pod in, a JSONPatch out that,
applied with a JSONPatch library, gives the pod `weftctl kube-inject` gives), on a certificate from
weftd's own CA (trusted through its root-cert.pem, as a caBundle) or from files; a non-POST, an
oversized body and plaintext are refused; without a certificate weftd says what is missing."""

import base64
import http.client
import json
import os
import socket
import ssl
import subprocess

import jsonpatch
import yaml

import weft_harness as wh
import weftd_harness as wd


def review(obj, uid="e911857d-c318-11e8-bbad-025000000001"):
    api, kind = obj["apiVersion"], obj["kind"]
    group, version = api.split("/") if "/" in api else ("", api)
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


POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"generateName": "reviews-v2-5b8f6c7d9-", "namespace": "shop",
                    "labels": {"app": "reviews", "version": "v2", "pod-template-hash": "5b8f6c7d9"},
                    "annotations": {"traffic.sidecar.istio.io/excludeOutboundPorts": "3306"},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "reviews-v2-5b8f6c7d9",
                                         "uid": "6f1c", "controller": True, "blockOwnerDeletion": True}]},
       "spec": {"containers": [{"name": "reviews", "image": "reviews:2", "ports": [{"containerPort": 9080}],
                                "readinessProbe": {"httpGet": {"path": "/ready", "port": 9080}}}],
                "serviceAccountName": "bookinfo-reviews"}}


def test_inject_patch_gives_kube_injects_pod(tmp_path):
    state, port = tmp_path / "state", wh.free_port()
    w = wd.Weftd(tmp_path / "w", extra_args=["--state-dir", str(state), "--webhook-addr", "127.0.0.1:%d" % port])
    w.start()
    try:
        ctx = ssl.create_default_context(cafile=str(state / "ca" / "root-cert.pem"))
        req = review(POD)
        req["request"]["namespace"] = "shop"  # kube-apiserver's: the namespace the pod is created in
        status, body = post(port, ctx, json.dumps(req), "weftd.weft-system.svc", path="/inject")
        assert status == 200, body
        r = json.loads(body)["response"]
        assert r["allowed"] is True and r["patchType"] == "JSONPatch", r
        injected = jsonpatch.apply_patch(POD, json.loads(base64.b64decode(r["patch"])))
        # The same pod as kube-inject gives for the Deployment's template.
        deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                      "metadata": {"name": "reviews-v2", "namespace": "shop"},
                      "spec": {"template": {"metadata": POD["metadata"], "spec": POD["spec"]}}}
        ctl = os.environ.get("WEFTCTL_BIN", str(wd.weftd_binary().parent / "weftctl"))
        out = subprocess.run([ctl, "kube-inject", "-f", "-"], input=yaml.safe_dump(deployment), capture_output=True,
                             text=True, timeout=20)
        assert out.returncode == 0, out.stderr
        template = yaml.safe_load(out.stdout)["spec"]["template"]
        assert injected["spec"] == template["spec"], jsonpatch.make_patch(template["spec"], injected["spec"]).patch
        assert injected["metadata"]["annotations"] == template["metadata"]["annotations"]
        env = {e["name"]: e.get("value") for e in injected["spec"]["containers"][1]["env"]}
        assert env["ISTIO_META_WORKLOAD_NAME"] == "reviews-v2", env  # the Deployment, not its ReplicaSet
        assert "-o" in injected["spec"]["initContainers"][0]["args"], injected["spec"]["initContainers"]

        # The mesh config's defaultConfig (the istio ConfigMap, reloaded) is the injector's base.
        w.write("istio.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\n"
                              "data:\n  mesh: |\n    defaultConfig:\n      concurrency: 3\n")

        def concurrency():
            status, body = post(port, ctx, json.dumps(req), "weftd.weft-system.svc", path="/inject")
            r = json.loads(body)["response"]
            pod = jsonpatch.apply_patch(POD, json.loads(base64.b64decode(r["patch"])))
            args = pod["spec"]["containers"][1]["args"]
            return args[args.index("--concurrency") + 1]
        assert wh.wait_for(lambda: concurrency() == "3", 10), concurrency()

        opted_out = json.loads(json.dumps(POD))
        opted_out["metadata"]["labels"]["sidecar.istio.io/inject"] = "false"
        status, body = post(port, ctx, json.dumps(review(opted_out)), "weftd.weft-system.svc", path="/inject")
        r = json.loads(body)["response"]
        assert status == 200 and r["allowed"] is True and "patch" not in r, r
    finally:
        w.stop()
