"""weftd with Kubernetes as a config source, against the test API server of kube_api_server.py
(objects made by `kubectl create --dry-run=client -o json` where kubectl can make them): Services,
Pods and EndpointSlices listed and watched reach a proxy as live routing; Istio objects from the
API and from the directory merge; LIST pages follow `continue`; a watch cut off resumes from its
resourceVersion; 410 Gone relists; failures back off and recover; bookmarks move the version on;
an invalid object is reported and skipped; Node topology labels give endpoints their locality;
bad credentials and TLS are named in the log."""

import json
import re
import subprocess
import types

import pytest

import kube_api_server as kas
import weft_harness as wh
import weftd_harness as wd

NODE = "sidecar~127.0.0.1~client-1.default~default.svc.cluster.local"
HOST = "web.default.svc.cluster.local"


def kubectl(*args):
    out = subprocess.run(["kubectl", *args, "--dry-run=client", "-o", "json"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def web_service(port):
    svc = kubectl("create", "service", "clusterip", "web", "--tcp=%d:%d" % (port, port))
    svc["metadata"]["namespace"] = "default"
    svc["spec"]["ports"][0]["name"] = "http"
    return svc


def pod(name, version, node=None):
    # (kubectl run needs a server even with --dry-run=client; this is what it would send.)
    p = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": name, "namespace": "default", "labels": {"app": "web", "version": version}},
         "spec": {"containers": [{"name": name, "image": "example/web"}], "restartPolicy": "Always"},
         "status": {"phase": "Running", "podIP": "127.0.0.1", "conditions": [{"type": "Ready", "status": "True"}]}}
    if node:
        p["spec"]["nodeName"] = node
    return p


def endpoint_slice(name, backends):
    """backends: [(pod name, port)], one endpoint each on 127.0.0.1; the slice's port is the first's."""
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True},
                           "targetRef": {"kind": "Pod", "name": p, "namespace": "default"}} for p, _ in backends],
            "ports": [{"name": "http", "port": backends[0][1], "protocol": "TCP"}] if backends else []}


def metric(weftd, name, kind):
    m = re.search(r'^%s\{kind="%s"\} (\d+)$' % (name, kind), weftd.get("/metrics"), re.M)
    return int(m.group(1)) if m else None


def all_synced(weftd):
    text = weftd.get("/metrics", quiet=True) or ""
    values = re.findall(r'^weftd_kube_synced\{kind="[^"]+"\} (\d)$', text, re.M)
    return len(values) == 15 and set(values) == {"1"}


def who(port, n=4):
    got = {}
    for _ in range(n):
        r = wh.http_request(port, "/", headers={"Host": HOST}, timeout=10)
        key = r.json()["server"] if r.status == 200 else "status-%d" % r.status
        got[key] = got.get(key, 0) + 1
    return got


@pytest.fixture
def api():
    server = kas.KubeApiServer(bookmark_interval=0.3).start()
    try:
        yield server
    finally:
        server.stop()


def start_weftd(tmp_path, api, extra=(), wait_sync=True):
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
    weftd = wd.Weftd(tmp_path / "weftd", extra_args=["--kubeconfig", str(kubeconfig), "--kube-sync-timeout-s", "5"]
                     + list(extra))
    weftd.start()
    if wait_sync:
        assert wh.wait_for(lambda: all_synced(weftd), 10), weftd.log_text()[-3000:]
    return weftd


@pytest.fixture
def mesh(weft, api, tmp_path):
    v1, v2 = weft.echoes("web-v1", "web-v2")
    port = wh.free_port()
    api.put(kubectl("create", "namespace", "default"))
    api.put(web_service(port))
    api.put(pod("web-v1", "v1"))
    api.put(pod("web-v2", "v2"))
    api.put(endpoint_slice("web-abc", [("web-v1", v1.port)]))
    weftd = start_weftd(tmp_path, api)
    try:
        proxy = weft.start_proxy(wd.proxy_bootstrap(wh.free_port(), weftd, NODE))
        assert wh.wait_for(lambda: weftd.synced(NODE), 10), weftd.get("/debug/syncz")
        yield types.SimpleNamespace(weftd=weftd, proxy=proxy, port=port, v1=v1, v2=v2, api=api)
    finally:
        weftd.stop()


def test_service_and_endpoint_slices_from_the_api_route_traffic_and_follow_updates(mesh):
    assert wh.wait_for(lambda: who(mesh.port) == {"web-v1": 4}, 10), who(mesh.port)
    # The controller moves the endpoint: the watch brings it to the proxy.
    mesh.api.put(endpoint_slice("web-abc", [("web-v2", mesh.v2.port)]))
    assert wh.wait_for(lambda: who(mesh.port) == {"web-v2": 4}, 10), who(mesh.port)
    # An Istio VirtualService from the API routes by header to the subsets of a DestinationRule
    # that comes from the directory: both sources make one mesh.
    mesh.weftd.write("dr.yaml", """apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: default}
spec:
  host: web
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
""")
    # (The endpoints of one slice share its ports: each backend port is its own slice.)
    mesh.api.put(endpoint_slice("web-abc", [("web-v1", mesh.v1.port)]))
    mesh.api.put(endpoint_slice("web-def", [("web-v2", mesh.v2.port)]))
    mesh.api.put({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                  "metadata": {"name": "web", "namespace": "default"},
                  "spec": {"hosts": ["web"], "http": [
                      {"match": [{"headers": {"x-v": {"exact": "2"}}}],
                       "route": [{"destination": {"host": "web", "subset": "v2"}}]},
                      {"route": [{"destination": {"host": "web", "subset": "v1"}}]}]}})

    def by_header():
        r = wh.http_request(mesh.port, "/", headers={"Host": HOST, "x-v": "2"})
        return r.json()["server"] if r.status == 200 else r.status
    assert wh.wait_for(lambda: who(mesh.port, 8) == {"web-v1": 8} and by_header() == "web-v2", 10), \
        (who(mesh.port), by_header())
    # Deleted from the API: the route goes with it.
    mesh.api.delete("VirtualService", "web")
    mesh.api.delete("EndpointSlice", "web-abc")
    mesh.api.delete("EndpointSlice", "web-def")
    assert wh.wait_for(lambda: who(mesh.port) == {"status-503": 4}, 10), who(mesh.port)


def test_a_cut_watch_resumes_and_410_gone_relists(mesh):
    assert wh.wait_for(lambda: who(mesh.port) == {"web-v1": 4}, 10)
    watches = metric(mesh.weftd, "weftd_kube_watches_total", "EndpointSlice")
    mesh.api.drop_watches()
    mesh.api.put(endpoint_slice("web-abc", [("web-v2", mesh.v2.port)]))
    assert wh.wait_for(lambda: who(mesh.port) == {"web-v2": 4}, 10), who(mesh.port)
    assert metric(mesh.weftd, "weftd_kube_watches_total", "EndpointSlice") > watches
    assert metric(mesh.weftd, "weftd_kube_relists_total", "EndpointSlice") == 0
    # The history is compacted while the watches are down: resuming gets 410, weftd lists again
    # and finds what changed in between.
    lists = metric(mesh.weftd, "weftd_kube_lists_total", "EndpointSlice")
    mesh.api.compact()
    mesh.api.drop_watches()
    mesh.api.put(endpoint_slice("web-abc", [("web-v1", mesh.v1.port)]))
    assert wh.wait_for(lambda: who(mesh.port) == {"web-v1": 4}, 10), who(mesh.port)
    assert wh.wait_for(lambda: metric(mesh.weftd, "weftd_kube_relists_total", "EndpointSlice") >= 1, 10)
    assert metric(mesh.weftd, "weftd_kube_lists_total", "EndpointSlice") > lists
    assert "is gone (410); listing again" in mesh.weftd.log_text()


def test_bookmarks_move_the_watch_on(mesh):
    assert wh.wait_for(lambda: metric(mesh.weftd, "weftd_kube_bookmarks_total", "Service") >= 2, 10)
    # A resumed watch starts from the bookmark's version, not from the list's.
    before = mesh.api.count("GET", "/api/v1/services?watch=1")
    mesh.api.drop_watches()
    assert wh.wait_for(lambda: mesh.api.count("GET", "/api/v1/services?watch=1") > before, 10)
    with mesh.api.lock:
        last = [p for m, p in mesh.api.requests if p.startswith("/api/v1/services?watch=1")][-1]
    assert "allowWatchBookmarks=true" in last
    version = int(re.search(r"resourceVersion=(\d+)", last).group(1))
    listed = [p for m, p in mesh.api.requests if p.startswith("/api/v1/services?limit=")]
    assert listed and version > 1000


def test_list_pages_follow_continue_tokens(weft, api, tmp_path):
    for i in range(1203):
        api.put({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p%04d" % i, "namespace": "default",
                                                                  "labels": {"app": "many"}},
                 "spec": {"containers": [{"name": "c", "image": "x"}]}, "status": {"podIP": "10.0.0.1"}})
    weftd = start_weftd(tmp_path, api)
    try:
        pages = [p for m, p in api.requests if p.startswith("/api/v1/pods?limit=500")]
        assert len(pages) == 3, pages
        assert sum("continue=" in p for p in pages) == 2
        assert wh.wait_for(lambda: re.search(r"^weftd_kube_objects (\d+)$", weftd.get("/metrics"), re.M)
                           .group(1) == "1203", 10)
    finally:
        weftd.stop()


def test_failures_back_off_and_recover(weft, api, tmp_path):
    api.put(kubectl("create", "namespace", "default"))
    api.fail_next(6, 500)
    weftd = start_weftd(tmp_path, api, wait_sync=False)
    try:
        assert wh.wait_for(lambda: all_synced(weftd), 20), weftd.log_text()[-3000:]
        errors = sum(metric(weftd, "weftd_kube_errors_total", t[0]) for t in
                     [(k,) for k in ("Namespace", "Node", "Service", "EndpointSlice", "Pod", "ConfigMap")])
        assert errors >= 1
        assert "HTTP 500" in weftd.log_text()
    finally:
        weftd.stop()


def test_an_invalid_object_is_reported_and_skipped(mesh):
    mesh.api.put({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                  "metadata": {"name": "broken", "namespace": "default"},
                  "spec": {"hosts": ["web"], "http": [{"route": [{"destination": {"host": "web"}, "weight": -1}]}]}})

    def rejected():
        return [r for r in mesh.weftd.json("/debug/configz")["rejected"] if r["name"] == "broken"]
    assert wh.wait_for(lambda: rejected(), 10)
    r = rejected()[0]
    assert r["file"] == "kubernetes" and r["kind"] == "VirtualService"
    assert any("spec.http[0].route[0].weight" in e for e in r["errors"]), r
    # The rest still serves.
    assert who(mesh.port) == {"web-v1": 4}


def test_node_topology_labels_give_pod_endpoints_their_locality(weft, api, tmp_path):
    (v1,) = weft.echoes("web-v1")
    port = wh.free_port()
    api.put({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1", "labels": {
        "topology.kubernetes.io/region": "us-east1", "topology.kubernetes.io/zone": "us-east1-b",
        "topology.istio.io/subzone": "rack7"}}})
    api.put(web_service(port))
    api.put(pod("web-v1", "v1", node="node-1"))
    api.put(endpoint_slice("web-abc", [("web-v1", v1.port)]))
    weftd = start_weftd(tmp_path, api)
    try:
        proxy = weft.start_proxy(wd.proxy_bootstrap(wh.free_port(), weftd, NODE))
        assert wh.wait_for(lambda: weftd.synced(NODE), 10)

        def locality():
            dump = json.loads(proxy.admin("/config_dump?include_eds").text)
            for c in dump["configs"]:
                for e in c.get("dynamic_endpoint_configs", []):
                    cla = e["endpoint_config"]
                    if cla["cluster_name"].endswith("||" + HOST):
                        return [g.get("locality") for g in cla.get("endpoints", [])]
            return None
        assert wh.wait_for(lambda: locality() == [{"region": "us-east1", "zone": "us-east1-b",
                                                   "sub_zone": "rack7"}], 10), locality()
    finally:
        weftd.stop()


def test_bad_credentials_are_named(api, tmp_path):
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
    cfg = json.loads(open(kubeconfig).read())
    cfg["users"][0]["user"]["token"] = "wrong"
    open(kubeconfig, "w").write(json.dumps(cfg))
    weftd = wd.Weftd(tmp_path / "weftd", extra_args=["--kubeconfig", str(kubeconfig), "--kube-sync-timeout-s", "1"])
    weftd.start()
    try:
        assert wh.wait_for(lambda: "HTTP 401" in weftd.log_text(), 10), weftd.log_text()[-2000:]
        assert not all_synced(weftd)
    finally:
        weftd.stop()


def test_a_kubeconfig_weftd_cannot_use_stops_it_with_the_reason(tmp_path):
    bad = tmp_path / "kubeconfig"
    bad.write_text("apiVersion: v1\nkind: Config\ncurrent-context: nope\ncontexts: []\n")
    out = subprocess.run([str(wd.weftd_binary()), "--kubeconfig", str(bad)], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 1
    assert "no entry named 'nope' in contexts" in out.stderr, out.stderr


def test_tls_with_the_clusters_ca(weft, pki, tmp_path):
    cert, key = make_server_cert(pki, tmp_path)
    server = kas.KubeApiServer(tls_cert=cert, tls_key=key).start()
    try:
        server.put(kubectl("create", "namespace", "default"))
        kubeconfig = server.kubeconfig(tmp_path / "kubeconfig", ca_file=pki.ca.cert)
        weftd = wd.Weftd(tmp_path / "weftd", extra_args=["--kubeconfig", str(kubeconfig)])
        weftd.start()
        try:
            assert wh.wait_for(lambda: all_synced(weftd), 10), weftd.log_text()[-3000:]
        finally:
            weftd.stop()
        # A CA that did not sign the server's certificate: refused, and said so.
        kubeconfig = server.kubeconfig(tmp_path / "kubeconfig2", ca_file=pki.wrong_ca.cert)
        weftd = wd.Weftd(tmp_path / "weftd2", extra_args=["--kubeconfig", str(kubeconfig), "--kube-sync-timeout-s",
                                                          "1"])
        weftd.start()
        try:
            assert wh.wait_for(lambda: "certificate verify failed" in weftd.log_text(), 10), weftd.log_text()[-2000:]
            assert not all_synced(weftd)
        finally:
            weftd.stop()
    finally:
        server.stop()


def make_server_cert(pki, tmp_path):
    """A server certificate for 127.0.0.1, signed by the test root."""
    key, csr, cert = tmp_path / "api.key", tmp_path / "api.csr", tmp_path / "api.crt"
    ext = tmp_path / "api.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(csr), "-subj", "/CN=kube-apiserver"], check=True,
                   capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", pki.ca.cert, "-CAkey", pki.ca.key,
                    "-CAserial", str(tmp_path / "api.srl"), "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext)], check=True,
                   capture_output=True)
    return str(cert), str(key)


def test_the_ca_authenticates_service_account_tokens_with_a_token_review(api, tmp_path):
    import test_weftd_ca_service as cas
    # A projected service account token, as the API server knows it (not one weftd signed).
    api.tokens["sa-token-reviews"] = {"username": "system:serviceaccount:default:reviews", "audiences": ["istio-ca"]}
    api.tokens["sa-token-other-aud"] = {"username": "system:serviceaccount:default:reviews", "audiences": ["api"]}
    state = tmp_path / "state"
    weftd = start_weftd(tmp_path, api, extra=["--state-dir", str(state)])
    try:
        _, csr = cas.make_csr(tmp_path, "reviews", "spiffe://cluster.local/ns/default/sa/reviews")
        res = cas.call_ca(weftd, state, csr, token="sa-token-reviews")
        assert res["ok"], res
        assert "URI:spiffe://cluster.local/ns/default/sa/reviews" in cas.openssl_text(res["cert_chain"][0])
        reviews = [p for m, p in api.requests if m == "POST" and p == "/apis/authentication.k8s.io/v1/tokenreviews"]
        assert len(reviews) == 1
        # A token for another audience, or one the API server does not know: refused, with why.
        res = cas.call_ca(weftd, state, csr, token="sa-token-other-aud")
        assert not res["ok"] and "not authenticated" in res["details"], res
        res = cas.call_ca(weftd, state, csr, token="forged")
        assert not res["ok"] and res["code"] == 16, res  # UNAUTHENTICATED
        assert "Kubernetes: the service account token is not authenticated: invalid bearer token" in res["details"]
        # The token names reviews; a CSR for ratings is refused.
        _, evil = cas.make_csr(tmp_path, "evil", "spiffe://cluster.local/ns/default/sa/ratings")
        res = cas.call_ca(weftd, state, evil, token="sa-token-reviews")
        assert not res["ok"] and res["code"] == 3, res
    finally:
        weftd.stop()


def webhook_config(kind, name, hooks):
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": {"name": name},
            "webhooks": [{"name": h, "clientConfig": {"service": {"name": "weftd", "namespace": "weft-system",
                                                                  "path": "/inject", "port": 15017}},
                          "admissionReviewVersions": ["v1"], "sideEffects": "None"} for h in hooks]}


def test_weftd_keeps_its_webhooks_cabundle_to_its_root(api, tmp_path):
    import base64
    api.put(webhook_config("MutatingWebhookConfiguration", "weft-sidecar-injector",
                           ["rev.namespace.sidecar-injector.weft.io", "rev.object.sidecar-injector.weft.io"]))
    api.put(webhook_config("ValidatingWebhookConfiguration", "weft-validator", ["rev.validation.weft.io"]))
    state = tmp_path / "state"
    weftd = start_weftd(tmp_path, api, extra=["--state-dir", str(state), "--webhook-addr",
                                              "127.0.0.1:%d" % wh.free_port(), "--ca-bundle-check-s", "1"])
    try:
        root = base64.b64encode((state / "ca" / "root-cert.pem").read_bytes()).decode()

        def bundles():
            return [h["clientConfig"].get("caBundle") for kind, name in (
                ("MutatingWebhookConfiguration", "weft-sidecar-injector"),
                ("ValidatingWebhookConfiguration", "weft-validator")) for h in api.get(kind, name)["webhooks"]]
        assert wh.wait_for(lambda: bundles() == [root] * 3, 10), bundles()
        # Someone puts the configuration back as the manifests have it: weftd patches it again.
        api.put(webhook_config("ValidatingWebhookConfiguration", "weft-validator", ["rev.validation.weft.io"]))
        assert wh.wait_for(lambda: bundles() == [root] * 3, 10), bundles()
        # In step, it is only read, not patched.
        patches = api.count("PATCH", "/apis/admissionregistration.k8s.io/")
        wh.wait_for(lambda: False, 2.5)
        assert api.count("PATCH", "/apis/admissionregistration.k8s.io/") == patches
        assert "caBundle of /apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/weft-validator " \
               "set to weftd's root" in weftd.log_text()
    finally:
        weftd.stop()


def test_native_sidecars_follow_the_nodes_kubelet_versions(api, tmp_path):
    """--native-sidecars auto (Istio's default): native when every node's kubelet is 1.33+."""
    import ssl
    import test_weftd_webhooks as tw
    import jsonpatch

    def node(name, version):
        return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                "status": {"nodeInfo": {"kubeletVersion": version}}}
    api.put(node("n1", "v1.33.2"))
    api.put(node("n2", "v1.34.0"))
    state, port = tmp_path / "state", wh.free_port()
    weftd = start_weftd(tmp_path, api, extra=["--state-dir", str(state), "--webhook-addr", "127.0.0.1:%d" % port])
    try:
        ctx = ssl.create_default_context(cafile=str(state / "ca" / "root-cert.pem"))

        def injected():
            status, body = tw.post(port, ctx, json.dumps(tw.review(tw.POD)), "weftd.weft-system.svc", path="/inject")
            r = json.loads(body)["response"]
            return jsonpatch.apply_patch(tw.POD, json.loads(__import__("base64").b64decode(r["patch"])))
        pod = injected()
        names = [c["name"] for c in pod["spec"]["initContainers"]]
        assert names == ["istio-init", "istio-proxy"], names
        assert pod["spec"]["initContainers"][1]["restartPolicy"] == "Always"
        assert "istio-proxy" not in [c["name"] for c in pod["spec"]["containers"]]
        # An older node joins: no native sidecars anywhere.
        api.put(node("n3", "v1.31.5"))
        assert wh.wait_for(lambda: "istio-proxy" in [c["name"] for c in injected()["spec"]["containers"]], 10)
    finally:
        weftd.stop()


def test_in_a_pod_without_a_service_account_weftd_says_so(tmp_path):
    import os
    env = dict(os.environ, KUBERNETES_SERVICE_HOST="10.255.255.1", KUBERNETES_SERVICE_PORT="443")
    # Without a directory: nothing to serve, and the reason named.
    out = subprocess.run([str(wd.weftd_binary())], env=env, capture_output=True, text=True, timeout=10)
    assert out.returncode == 1
    assert "cannot read the service account token '/var/run/secrets/kubernetes.io/serviceaccount/token'" in \
        out.stderr, out.stderr
    # With one: the directory alone, said once at start.
    (tmp_path / "mesh").mkdir()
    http = wh.free_port()
    proc = subprocess.Popen([str(wd.weftd_binary()), "--config-dir", str(tmp_path / "mesh"), "--grpc-addr",
                             "127.0.0.1:%d" % wh.free_port(), "--secure-grpc-addr", "127.0.0.1:%d" % wh.free_port(),
                             "--http-addr", "127.0.0.1:%d" % http], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        import urllib.request

        def ready():
            try:
                return urllib.request.urlopen("http://127.0.0.1:%d/ready" % http, timeout=1).status == 200
            except OSError:
                return False
        assert wh.wait_for(ready, 10)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "not watching Kubernetes" in err and "serving --config-dir only" in err, err
