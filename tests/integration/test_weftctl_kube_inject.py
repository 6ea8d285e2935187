"""`weftctl kube-inject -f FILE` (istioctl kube-inject's job, offline): every workload kind it
takes, against golden files in data/inject (WEFT_UPDATE_GOLDEN=1 rewrites them); injection is
idempotent; stdin works; a pod that cannot be injected is named with the reason."""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

DATA = Path(__file__).parent / "data" / "inject"
INPUTS = sorted(p.name for p in DATA.glob("*.yaml") if not p.name.endswith(".golden.yaml"))


def weftctl():
    path = Path(os.environ.get("WEFTCTL_BIN", Path(__file__).resolve().parents[2] / "build" / "bin" / "weftctl"))
    assert path.exists(), "weftctl not found at %s (build it, or set WEFTCTL_BIN)" % path
    return str(path)


def kube_inject(*args, stdin=None):
    return subprocess.run([weftctl(), "kube-inject"] + list(args), input=stdin, capture_output=True, text=True,
                          timeout=20)


@pytest.mark.parametrize("name", INPUTS)
def test_golden(name):
    r = kube_inject("-f", str(DATA / name))
    assert r.returncode == 0, r.stderr
    golden = DATA / name.replace(".yaml", ".golden.yaml")
    if os.environ.get("WEFT_UPDATE_GOLDEN"):
        golden.write_text(r.stdout)
    assert golden.exists(), "no golden file %s (run with WEFT_UPDATE_GOLDEN=1 once)" % golden
    assert r.stdout == golden.read_text(), "kube-inject output differs from %s" % golden
    # Injecting the output again changes nothing.
    again = kube_inject("-f", "-", stdin=r.stdout)
    assert again.returncode == 0 and again.stdout == r.stdout, again.stderr


def test_what_each_kind_gets():
    r = kube_inject("-f", str(DATA / "workloads.yaml"))
    docs = {d["kind"]: d for d in yaml.safe_load_all(r.stdout)}

    def pod(kind):
        d = docs[kind]
        return d if kind == "Pod" else (d["spec"]["jobTemplate"]["spec"]["template"] if kind == "CronJob"
                                        else d["spec"]["template"])

    for kind in ("Pod", "StatefulSet", "ReplicaSet", "CronJob"):
        names = [c["name"] for c in pod(kind)["spec"]["containers"]]
        assert "istio-proxy" in names, (kind, names)
        assert [c["name"] for c in pod(kind)["spec"]["initContainers"]] == ["istio-init"], kind
    assert [c["name"] for c in pod("ReplicaSet")["spec"]["containers"]] == ["istio-proxy", "details"]
    assert "istio-proxy" not in [c["name"] for c in pod("DaemonSet")["spec"]["containers"]]  # hostNetwork
    assert "istio-proxy" not in [c["name"] for c in pod("Job")["spec"]["containers"]]  # opted out
    assert "DaemonSet node-agent left as it is: hostNetwork pods are never injected" in r.stderr, r.stderr
    env = {e["name"]: e.get("value") for e in pod("StatefulSet")["spec"]["containers"][1]["env"]}
    assert env["ISTIO_META_OWNER"] == "kubernetes://apis/apps/v1/namespaces/data/statefulsets/db", env
    assert pod("StatefulSet")["metadata"]["labels"]["service.istio.io/canonical-revision"] == "15"
    proxy = [c for c in pod("CronJob")["spec"]["containers"] if c["name"] == "istio-proxy"][0]
    assert proxy["resources"]["requests"]["memory"] == "64Mi", proxy["resources"]


def test_errors_name_the_document(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {proxy.istio.io/config: '[1]'}}\n"
                   "spec: {containers: [{name: c, image: i}]}\n")
    r = kube_inject("-f", str(bad))
    assert r.returncode == 1, r
    assert "document 1 (Pod p): metadata.annotations[proxy.istio.io/config]: must be a ProxyConfig map" in r.stderr
    bad.write_text("a: [\n")
    r = kube_inject("-f", str(bad))
    assert r.returncode == 1 and "YAML error at line" in r.stderr, r.stderr
    r = kube_inject("-f", str(tmp_path / "missing.yaml"))
    assert r.returncode == 1 and "cannot read" in r.stderr, r.stderr


@pytest.mark.parametrize("doc, error", [
    ("kind: 7\n", "document 1: kind: must be a string"),
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: 7}\nspec: {}\n", "document 1: metadata.name: must be a string"),
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: x\n", "document 1: spec: must be an object"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p, ownerReferences: [{kind: ReplicaSet, controller: 'yes'}]}\n"
     "spec: {containers: [{name: c}]}\n",
     "document 1 (Pod p): metadata.ownerReferences[0].controller: must be true or false"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, ports: [{containerPort: http}]}]}\n",
     "document 1 (Pod p): spec.containers[0].ports[0].containerPort: must be an integer"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {proxy.istio.io/config: 'concurrency: x'}}\n"
     "spec: {containers: [{name: c}]}\n",
     "document 1 (Pod p): metadata.annotations[proxy.istio.io/config].concurrency: must be an integer"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {proxy.istio.io/config: 'proxyMetadata: [1]'}}\n"
     "spec: {containers: [{name: c}]}\n",
     "document 1 (Pod p): metadata.annotations[proxy.istio.io/config].proxyMetadata: must be an object"),
])
def test_a_field_of_the_wrong_type_is_named_not_a_crash(tmp_path, doc, error):
    r = kube_inject("-f", "-", stdin=doc)
    assert r.returncode == 1, r
    assert error in r.stderr, r.stderr
