"""weft-cni called the way a container runtime calls a plugin chain: Debian's bridge +
host-local first, then weft-cni with the bridge's result as prevResult (ADD, CHECK), and in
reverse order for DEL. Rules are checked with iptables-save inside the pod's namespace."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from netns import REPO_ROOT, require_root, sh

CNI_BIN = os.environ.get("WEFT_CNI_BIN", str(REPO_ROOT / "build" / "bin" / "weft-cni"))
CNI_PATH = "/usr/lib/cni"
MESH_ANNOTATIONS = {"sidecar.istio.io/status": '{"containers":["istio-proxy"]}'}


@pytest.fixture
def sandbox(tmp_path):
    require_root()
    if not Path(CNI_PATH, "bridge").exists():
        pytest.fail("Debian's containernetworking-plugins is needed (%s/bridge); scripts/setup.sh installs it" % CNI_PATH)
    tag = os.getpid() % 10000
    name = "weft-cni-%d" % tag
    sh(["ip", "netns", "add", name])
    box = {"netns": "/run/netns/" + name, "name": name, "bridge": "wcni%d" % tag, "id": "ctr%d" % tag,
           "data": str(tmp_path / "ipam"), "tmp": tmp_path}
    yield box
    sh(["ip", "netns", "del", name], check=False)
    sh(["ip", "link", "del", box["bridge"]], check=False)


def bridge_conf(box):
    return {"cniVersion": "1.0.0", "name": "weftnet", "type": "bridge", "bridge": box["bridge"], "isGateway": True,
            "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.%d.0/24" % (os.getpid() % 200)}]],
                     "routes": [{"dst": "0.0.0.0/0"}], "dataDir": box["data"]}}


def call(plugin, command, conf, box, pod="productpage-1", namespace="default", env_extra=None, netns=None):
    env = {"PATH": os.environ["PATH"], "CNI_COMMAND": command, "CNI_CONTAINERID": box["id"],
           "CNI_NETNS": box["netns"] if netns is None else netns, "CNI_IFNAME": "eth0", "CNI_PATH": CNI_PATH,
           "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s" % (namespace, pod)}
    env.update(env_extra or {})
    exe = CNI_BIN if plugin == "weft-cni" else str(Path(CNI_PATH, plugin))
    r = subprocess.run([exe], input=json.dumps(conf) if conf is not None else "", env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    return r


def weft_conf(prev, annotations=None, **extra):
    conf = {"cniVersion": "1.0.0", "name": "weftnet", "type": "weft-cni", "prevResult": prev}
    if annotations is not None:
        conf["args"] = {"cni": {"annotations": annotations}}
    conf.update(extra)
    return conf


def nat_rules(box):
    return sh(["ip", "netns", "exec", box["name"], "iptables-save", "-t", "nat"]).stdout


def add_bridge(box):
    r = call("bridge", "ADD", bridge_conf(box), box)
    assert r.returncode == 0, "bridge ADD failed: %s %s" % (r.stdout, r.stderr)
    return json.loads(r.stdout)


def test_chain_add_check_del(sandbox):
    prev = add_bridge(sandbox)
    conf = weft_conf(prev, MESH_ANNOTATIONS)
    r = call("weft-cni", "ADD", conf, sandbox)
    assert r.returncode == 0, (r.stdout, r.stderr)
    result = json.loads(r.stdout)
    assert result["ips"] == prev["ips"] and result["interfaces"] == prev["interfaces"], result
    rules = nat_rules(sandbox)
    assert "-A OUTPUT -p tcp -j ISTIO_OUTPUT" in rules and "--to-ports 15001" in rules and "--to-ports 15006" in rules, rules
    for port in ("15090", "15021", "15020"):
        assert "--dport %s -j RETURN" % port in rules, (port, rules)
    # ADD again (a runtime retry) leaves exactly one set of rules.
    assert call("weft-cni", "ADD", conf, sandbox).returncode == 0
    assert nat_rules(sandbox).count("-j ISTIO_OUTPUT") == 1
    # CHECK passes with the rules, fails (with a CNI error) when someone removed them.
    r = call("weft-cni", "CHECK", weft_conf(result, MESH_ANNOTATIONS), sandbox)
    assert r.returncode == 0, (r.stdout, r.stderr)
    sh(["ip", "netns", "exec", sandbox["name"], "iptables", "-t", "nat", "-F", "ISTIO_OUTPUT"])
    r = call("weft-cni", "CHECK", weft_conf(result, MESH_ANNOTATIONS), sandbox)
    err = json.loads(r.stdout)
    assert r.returncode != 0 and err["code"] == 5 and "ISTIO_OUTPUT" in err["details"], r.stdout
    # DEL in reverse order: weft-cni, then bridge. Twice is fine.
    for _ in range(2):
        r = call("weft-cni", "DEL", weft_conf(result, MESH_ANNOTATIONS), sandbox)
        assert r.returncode == 0 and r.stdout.strip() == "", (r.stdout, r.stderr)
    assert "ISTIO" not in nat_rules(sandbox)
    assert call("bridge", "DEL", bridge_conf(sandbox), sandbox).returncode == 0


def test_pods_outside_the_mesh_are_passed_through(sandbox):
    prev = add_bridge(sandbox)
    cases = [
        ("no sidecar status annotation", dict(annotations={}), {}),
        ("inject false", dict(annotations=dict(MESH_ANNOTATIONS, **{"sidecar.istio.io/inject": "false"})), {}),
        ("excluded namespace", dict(annotations=MESH_ANNOTATIONS, exclude_namespaces=["kube-system"]),
         {"namespace": "kube-system"}),
        ("no pod in CNI_ARGS", dict(annotations=MESH_ANNOTATIONS), {"env_extra": {"CNI_ARGS": "IgnoreUnknown=1"}}),
    ]
    for what, conf_kw, call_kw in cases:
        r = call("weft-cni", "ADD", weft_conf(prev, **conf_kw), sandbox, **call_kw)
        assert r.returncode == 0, (what, r.stdout, r.stderr)
        assert json.loads(r.stdout)["ips"] == prev["ips"], what
        assert "skipped" in r.stderr, (what, r.stderr)
        assert "ISTIO" not in nat_rules(sandbox), what


def test_annotations_shape_the_rules(sandbox):
    prev = add_bridge(sandbox)
    ann = dict(MESH_ANNOTATIONS, **{"traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.96.0.0/12",
                                    "traffic.sidecar.istio.io/excludeOutboundPorts": "3306",
                                    "traffic.sidecar.istio.io/includeInboundPorts": "9080"})
    r = call("weft-cni", "ADD", weft_conf(prev, ann), sandbox)
    assert r.returncode == 0, (r.stdout, r.stderr)
    rules = nat_rules(sandbox)
    assert "-A ISTIO_OUTPUT -d 10.96.0.0/12 -j RETURN" in rules, rules
    assert "--dport 3306 -j RETURN" in rules, rules
    assert "--dport 9080 -j ISTIO_IN_REDIRECT" in rules and "-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT" not in rules, rules


def test_errors_are_cni_error_objects(sandbox):
    def err(r):
        assert r.returncode != 0, (r.stdout, r.stderr)
        e = json.loads(r.stdout)
        assert set(e) >= {"cniVersion", "code", "msg"}, e
        return e

    e = err(call("weft-cni", "ADD", None, sandbox))  # empty stdin
    assert e["code"] == 6, e
    r = subprocess.run([CNI_BIN], input="{not json", env={"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "x",
                                                          "CNI_NETNS": sandbox["netns"], "CNI_IFNAME": "eth0"},
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert err(r)["code"] == 6
    e = err(call("weft-cni", "ADD", {"cniVersion": "9.9.9", "name": "n", "type": "weft-cni"}, sandbox))
    assert e["code"] == 1 and "9.9.9" in e["details"], e
    e = err(call("weft-cni", "ADD", weft_conf({}, MESH_ANNOTATIONS), sandbox, env_extra={"CNI_CONTAINERID": ""}))
    assert e["code"] == 4 and "CNI_CONTAINERID" in e["details"], e
    e = err(call("weft-cni", "FROB", weft_conf({}, MESH_ANNOTATIONS), sandbox))
    assert e["code"] == 4 and "FROB" in e["details"], e
    bad = dict(MESH_ANNOTATIONS, **{"traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.0.0.0/40"})
    e = err(call("weft-cni", "ADD", weft_conf({}, bad), sandbox))
    assert e["code"] == 2 and "10.0.0.0/40" in e["details"], e
    e = err(call("weft-cni", "ADD", weft_conf({}, dict(MESH_ANNOTATIONS, **{"sidecar.istio.io/interceptionMode": "TPROXY"})), sandbox))
    assert e["code"] == 2 and "TPROXY" in e["details"], e
    assert "ISTIO" not in nat_rules(sandbox)


def test_del_when_the_namespace_is_gone(sandbox):
    r = call("weft-cni", "DEL", weft_conf({}, MESH_ANNOTATIONS), sandbox, netns="/run/netns/weft-no-such-ns")
    assert r.returncode == 0, (r.stdout, r.stderr)
    r = call("weft-cni", "DEL", weft_conf({}, MESH_ANNOTATIONS), sandbox, netns="")
    assert r.returncode == 0, (r.stdout, r.stderr)


def test_version():
    r = subprocess.run([CNI_BIN], env={"CNI_COMMAND": "VERSION"}, stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 0
    v = json.loads(r.stdout)
    assert v["cniVersion"] == "1.0.0" and "1.0.0" in v["supportedVersions"] and "0.4.0" in v["supportedVersions"], v


def test_in_kubernetes_the_pods_annotations_come_from_the_api_server(sandbox):
    """The config the installer writes (kubernetes.kubeconfig): weft-cni reads the pod from the API
    server (tests/integration/kube_api_server.py, on loopback) instead of the call's args."""
    import sys
    sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))
    import kube_api_server as kas
    api = kas.KubeApiServer().start()
    try:
        kubeconfig = api.kubeconfig(sandbox["tmp"] / "weft-cni-kubeconfig")
        api.put({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": "productpage-1", "namespace": "default",
            "annotations": dict(MESH_ANNOTATIONS, **{"traffic.sidecar.istio.io/excludeOutboundPorts": "5432"})}})
        prev = add_bridge(sandbox)
        conf = {"cniVersion": "1.0.0", "name": "weftnet", "type": "weft-cni", "prevResult": prev,
                "kubernetes": {"kubeconfig": str(kubeconfig)}}
        r = call("weft-cni", "ADD", conf, sandbox)
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert ("GET", "/api/v1/namespaces/default/pods/productpage-1") in api.requests
        rules = nat_rules(sandbox)
        assert "--to-ports 15001" in rules and "--dport 5432 -j RETURN" in rules, rules
        assert call("weft-cni", "DEL", conf, sandbox).returncode == 0
        assert "ISTIO" not in nat_rules(sandbox)
        # A pod the API server does not know: the ADD fails, naming the request.
        r = call("weft-cni", "ADD", conf, sandbox, pod="ghost-1")
        assert r.returncode != 0
        err = json.loads(r.stdout)
        assert err["msg"] == "cannot read the pod from the Kubernetes API", err
        assert "/api/v1/namespaces/default/pods/ghost-1: HTTP 404" in err["details"], err
    finally:
        api.stop()


def test_the_installer_adds_weft_cni_to_the_nodes_chain_and_removes_it_on_stop(tmp_path):
    bin_dir, net_dir, secrets = tmp_path / "bin", tmp_path / "net.d", tmp_path / "sa"
    for d in (bin_dir, net_dir, secrets):
        d.mkdir()
    (secrets / "token").write_text("sa-token\n")
    (secrets / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (net_dir / "10-bridge.conf").write_text(json.dumps({"cniVersion": "1.0.0", "name": "k8s", "type": "bridge"}))
    env = dict(os.environ, KUBERNETES_SERVICE_HOST="10.96.0.1", KUBERNETES_SERVICE_PORT="443")
    args = [CNI_BIN, "install", "--cni-bin-dir", str(bin_dir), "--cni-net-dir", str(net_dir), "--secrets-dir",
            str(secrets)]
    proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
    try:
        import time
        deadline = time.time() + 10
        while not (net_dir / "10-bridge.conflist").exists() and time.time() < deadline:
            time.sleep(0.05)
        chain = json.loads((net_dir / "10-bridge.conflist").read_text())
        assert [p["type"] for p in chain["plugins"]] == ["bridge", "weft-cni"], chain
        assert chain["plugins"][1]["kubernetes"]["kubeconfig"] == "/etc/cni/net.d/weft-cni-kubeconfig"
        kube = json.loads((net_dir / "weft-cni-kubeconfig").read_text())
        assert kube["clusters"][0]["cluster"]["server"] == "https://10.96.0.1:443"
        assert kube["users"][0]["user"]["token"] == "sa-token"
        assert os.access(bin_dir / "weft-cni", os.X_OK)
        r = subprocess.run([str(bin_dir / "weft-cni")], input="", env={"CNI_COMMAND": "VERSION"},
                           capture_output=True, text=True)
        assert "1.0.0" in r.stdout, r
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "removed from" in err, err
    chain = json.loads((net_dir / "10-bridge.conflist").read_text())
    assert [p["type"] for p in chain["plugins"]] == ["bridge"]
