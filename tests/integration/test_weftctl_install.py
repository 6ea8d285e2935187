"""`weftctl install`: manifests/ printed (--dry-run) exactly as the repository has them, accepted
by kubectl's own client-side apply, applied with server-side apply to the test API server
(kube_api_server.py), and consistent with weftd: the Service and webhooks use weftd's ports and
paths, and the ClusterRole/Role grant exactly the requests weftd makes of the API server, no
more (checked against what a running weftd asked for)."""

import base64
import subprocess
from pathlib import Path

import yaml

import kube_api_server as kas
import test_weftd_ca_service as cas
import weft_harness as wh
import weftd_harness as wd

REPO = Path(__file__).resolve().parents[2]


def weftctl(*args, timeout=30):
    binary = Path(__import__("os").environ.get("WEFTCTL_BIN", REPO / "build" / "bin" / "weftctl"))
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=timeout)


def manifest_docs():
    docs = []
    for f in sorted((REPO / "manifests").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(f.read_text()) if d]
    return docs


def test_dry_run_prints_the_manifests_of_the_repository():
    r = weftctl("install", "--dry-run")
    assert r.returncode == 0, r.stderr
    printed = [d for d in yaml.safe_load_all(r.stdout) if d]
    assert printed == manifest_docs()
    kinds = {d["kind"] for d in printed}
    assert kinds >= {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service",
                     "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "DaemonSet",
                     "CustomResourceDefinition", "ConfigMap"}
    crds = {d["spec"]["names"]["kind"] for d in printed if d["kind"] == "CustomResourceDefinition"}
    assert crds >= {"VirtualService", "DestinationRule", "ServiceEntry", "WorkloadEntry", "Sidecar", "Gateway",
                    "PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication", "Telemetry"}


def test_weftd_service_and_webhooks_agree_with_weftd():
    docs = manifest_docs()
    svc = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "weftd")
    assert sorted(p["port"] for p in svc["spec"]["ports"]) == [15010, 15012, 15014, 15017]
    deploy = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "weftd")
    args = " ".join(deploy["spec"]["template"]["spec"]["containers"][0]["args"])
    assert "--webhook-addr=0.0.0.0:15017" in args and "--grpc-addr=0.0.0.0:15010" in args
    hooks = [(d["kind"], d["metadata"]["name"], h) for d in docs if d["kind"].endswith("WebhookConfiguration")
             for h in d["webhooks"]]
    paths = {(k, h["clientConfig"]["service"]["path"]) for k, _, h in hooks}
    assert paths == {("MutatingWebhookConfiguration", "/inject"), ("ValidatingWebhookConfiguration", "/validate")}
    for _, name, h in hooks:
        assert h["clientConfig"]["service"] == {"name": "weftd", "namespace": "weft-system",
                                                "path": h["clientConfig"]["service"]["path"], "port": 15017}
        assert name in ("weft-sidecar-injector", "weft-validator")  # the names weftd patches


def test_kubectl_accepts_the_manifests(tmp_path):
    api = kas.KubeApiServer(token=None).start()  # (kubectl sends no token over plain HTTP)
    try:
        kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
        dry = weftctl("install", "--dry-run").stdout
        r = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "apply", "--dry-run=client", "--validate=false",
                            "-f", "-"], input=dry, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.count("(dry run)") == len(manifest_docs()), r.stdout
    finally:
        api.stop()


def test_install_applies_every_object_with_server_side_apply(tmp_path):
    api = kas.KubeApiServer().start()
    try:
        kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
        r = weftctl("install", "--kubeconfig", str(kubeconfig))
        assert r.returncode == 0, r.stderr
        docs = manifest_docs()
        assert r.stdout.count(" applied\n") == len(docs)
        for d in docs:
            ns = d["metadata"].get("namespace", "default")
            got = api.get(d["kind"], d["metadata"]["name"], ns)
            assert got is not None, d["metadata"]
        assert all(q == {"fieldManager": "weftctl", "force": "true"} for *_, q in api.applied)
        # Again: the same objects, applied in place.
        assert weftctl("install", "--kubeconfig", str(kubeconfig)).returncode == 0
        assert len(api.applied) == 2 * len(docs)
        # A cluster that refuses: the object and the answer are named, the exit status says so.
        api.fail_next(1, 403)
        r = weftctl("install", "--kubeconfig", str(kubeconfig))
        assert r.returncode == 1 and "Namespace weft-system: HTTP 403" in r.stderr, r.stderr
    finally:
        api.stop()


# --- RBAC: exactly what weftd asks for ------------------------------------------------------

def request_verb(method, path):
    """(verb, group, resource, namespace, name) of an API request, as the authorizer sees it."""
    url = path.split("?")[0]
    query = path.split("?")[1] if "?" in path else ""
    parts = [p for p in url.split("/") if p]
    if parts[0] == "api":
        group, rest = "", parts[2:]
    else:
        group, rest = parts[1], parts[3:]
    ns = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    resource, name = rest[0], rest[1] if len(rest) > 1 else None
    if method == "GET":
        verb = "watch" if "watch=1" in query or "watch=true" in query else ("get" if name else "list")
    else:
        verb = {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}[method]
    return verb, group, resource, ns, name


def allowed(rules, verb, group, resource, name):
    return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] and
               (not r.get("resourceNames") or name in r["resourceNames"]) for r in rules)


def test_the_roles_grant_exactly_what_weftd_asks_for(tmp_path):
    docs = manifest_docs()
    cluster_rules = next(d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "weftd")["rules"]
    role = next(d for d in docs if d["kind"] == "Role" and d["metadata"]["name"] == "weftd")
    api = kas.KubeApiServer().start()
    try:
        # The cluster as the manifests leave it (webhook configurations included), and a workload's token.
        for d in docs:
            if d["kind"].endswith("WebhookConfiguration"):
                api.put(d)
        api.tokens["sa-token"] = {"username": "system:serviceaccount:default:reviews", "audiences": ["istio-ca"]}
        state = tmp_path / "state"
        weftd = wd.Weftd(tmp_path / "weftd", extra_args=[
            "--kubeconfig", str(api.kubeconfig(tmp_path / "kubeconfig")), "--state-dir", str(state),
            "--webhook-addr", "127.0.0.1:%d" % wh.free_port()])
        weftd.start()
        try:
            root = base64.b64encode((state / "ca" / "root-cert.pem").read_bytes()).decode()
            assert wh.wait_for(lambda: api.get("ValidatingWebhookConfiguration", "weft-validator")["webhooks"][0]
                               ["clientConfig"].get("caBundle") == root, 10)
            _, csr = cas.make_csr(tmp_path, "reviews", "spiffe://cluster.local/ns/default/sa/reviews")
            assert cas.call_ca(weftd, state, csr, token="sa-token")["ok"]

            def watched():
                with api.lock:
                    return {p.split("?")[0] for m, p in api.requests if "watch=1" in p}
            assert wh.wait_for(lambda: len(watched()) == 15, 10), watched()
        finally:
            weftd.stop()
        with api.lock:
            requests = list(api.requests)
        used = set()
        for method, path in requests:
            verb, group, resource, ns, name = request_verb(method, path)
            if ns == "istio-system" and group == "" and resource == "configmaps":
                assert allowed(role["rules"], verb, group, resource, name), (method, path)
                assert role["metadata"]["namespace"] == "istio-system"
            else:
                assert allowed(cluster_rules, verb, group, resource, name), (method, path)
            used.add((verb, group, resource))
        granted = {(v, g, res) for r in cluster_rules + role["rules"] for g in r["apiGroups"]
                   for res in r["resources"] for v in r["verbs"]}
        assert granted == used, "granted but never used: %s" % sorted(granted - used)
    finally:
        api.stop()
