"""A sidecar's workload identity as pilot-agent gives it: weft-agent in the pod's network
namespace makes its key and CSR, gets the certificate from weftd's CA on 15012 over TLS with
the token `weftd --issue-token` made for it, renews it at about half its lifetime with the
current certificate, and serves it over SDS on a unix socket (resources `default` and
`ROOTCA`), read here by a real gRPC client (@grpc/grpc-js). When weftd is away the current
certificate keeps serving and the agent retries; after a restart weftd keeps its root."""

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from netns import REPO_ROOT, Pod, require_root, wait_for

BIN = REPO_ROOT / "build" / "bin"
PROXY_BIN = os.environ.get("WEFT_PROXY_BIN", str(BIN / "weft-proxy"))
AGENT_BIN = os.environ.get("WEFT_AGENT_BIN", str(BIN / "weft-agent"))
WEFTD_BIN = os.environ.get("WEFTD_BIN", str(BIN / "weftd"))
INTEROP = REPO_ROOT / "tests" / "interop"
CERT_TTL_S = 8


def node():
    path = shutil.which("node")
    if not path:
        pytest.fail("node not found on PATH: run scripts/setup.sh", pytrace=False)
    return path


class Mesh:
    def __init__(self, pod, tmp):
        self.pod, self.tmp = pod, tmp
        self.share = Path(tempfile.mkdtemp(prefix="weft-e2e-certs-"))
        self.share.chmod(0o755)
        self.state = tmp / "state"
        self.mesh = tmp / "mesh"
        self.mesh.mkdir()
        self.grpc = "%s:%d" % (pod.host_ip, 15500 + pod.index)
        self.secure = "%s:%d" % (pod.host_ip, 15700 + pod.index)
        self.http = "%s:%d" % (pod.host_ip, 15600 + pod.index)
        self.socket = self.share / "sds" / "socket"
        self.weftd = None
        self.agent = None
        self.agent_log = tmp / "agent.log"

    def start_weftd(self):
        self.weftd = subprocess.Popen([WEFTD_BIN, "--config-dir", str(self.mesh), "--grpc-addr", self.grpc,
                                       "--http-addr", self.http, "--secure-grpc-addr", self.secure,
                                       "--state-dir", str(self.state)],
                                      stdout=open(self.tmp / "weftd.log", "ab"), stderr=subprocess.STDOUT)
        wait_for(lambda: subprocess.run(["curl", "-sf", "http://%s/ready" % self.http],
                                        capture_output=True).returncode == 0, what="weftd ready")

    def stop_weftd(self):
        self.weftd.terminate()
        self.weftd.wait()

    def start_agent(self):
        token = self.share / "istio-token"
        r = subprocess.run([WEFTD_BIN, "--state-dir", str(self.state), "--issue-token", "default/app"],
                           capture_output=True, text=True, check=True)
        token.write_text(r.stdout)
        shutil.copy(self.state / "ca" / "root-cert.pem", self.share / "root-cert.pem")
        env = {"POD_NAME": "app-1", "POD_NAMESPACE": "default", "INSTANCE_IP": self.pod.ip,
               "SERVICE_ACCOUNT": "app", "WEFT_DISCOVERY_ADDRESS": self.grpc, "PATH": os.environ["PATH"],
               "CA_ADDR": self.secure}
        cmd = ["env"] + ["%s=%s" % kv for kv in env.items()] + [
            AGENT_BIN, "proxy", "--proxy-bin", PROXY_BIN, "--bootstrap", str(self.share / "bootstrap.json"),
            "--concurrency", "1", "--ca-root-cert", str(self.share / "root-cert.pem"),
            "--token-file", str(token), "--sds-socket", str(self.socket), "--cert-ttl-s", str(CERT_TTL_S)]
        self.agent = self.pod.spawn(cmd, log=self.agent_log)

    def certificate(self):
        r = self.pod.run(["curl", "-s", "http://127.0.0.1:15020/certificate"], check=False)
        try:
            return json.loads(r.stdout)
        except ValueError:
            return {}

    def sds(self, names, responses=1, timeout_ms=10000):
        r = subprocess.run([node(), str(INTEROP / "secrets_client.js"), "sds", "--socket", str(self.socket),
                            "--names", names, "--responses", str(responses), "--timeout-ms", str(timeout_ms)],
                           capture_output=True, text=True, timeout=timeout_ms / 1000 + 20)
        lines = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        return r.returncode, lines

    def ctx(self):
        return "\n--- agent (exit %s) log ---\n%s\n--- weftd log ---\n%s" % (self.agent.poll() if self.agent else None,
            self.agent_log.read_text()[-3000:] if self.agent_log.exists() else "",
            (self.tmp / "weftd.log").read_text()[-2000:] if (self.tmp / "weftd.log").exists() else "")

    def close(self):
        if self.agent and self.agent.poll() is None:
            self.agent.kill()
            self.agent.wait()
        # The agent's proxy outlives a SIGKILLed agent: stop it by its bootstrap's path.
        subprocess.run(["pkill", "-KILL", "-f", str(self.share)], check=False)
        if self.weftd and self.weftd.poll() is None:
            self.weftd.terminate()
            self.weftd.wait()
        shutil.rmtree(self.share, ignore_errors=True)


@pytest.fixture
def mesh(tmp_path):
    require_root()
    with Pod("certs", index=150 + os.getpid() % 50) as pod:
        m = Mesh(pod, tmp_path)
        try:
            yield m
        finally:
            m.close()


def leaf_text(pem):
    return subprocess.run(["openssl", "x509", "-noout", "-text"], input=pem, capture_output=True, text=True,
                          check=True).stdout


def test_identity_sds_rotation_and_ca_outage(mesh):
    mesh.start_weftd()
    mesh.start_agent()
    wait_for(lambda: mesh.certificate().get("generation", 0) >= 1, timeout=15, what="the first certificate" + mesh.ctx())
    cert = mesh.certificate()
    assert cert["identity"] == "spiffe://cluster.local/ns/default/sa/app", cert

    # SDS over the unix socket, only to the proxy's user (uid 1337) and root.
    st = os.stat(mesh.socket)
    assert (st.st_uid, st.st_mode & 0o777) == (1337, 0o600), (st.st_uid, oct(st.st_mode))
    rc, out = mesh.sds("default,ROOTCA")
    assert rc == 0, (out, mesh.ctx())
    secrets = {s["name"]: s for s in out[0]["secrets"]}
    assert out[0]["type_url"] == "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
    assert "URI:spiffe://cluster.local/ns/default/sa/app" in leaf_text(secrets["default"]["chain"])
    assert "PRIVATE KEY" in secrets["default"]["key"]
    assert secrets["ROOTCA"]["trusted_ca"] == (mesh.state / "ca" / "root-cert.pem").read_text()
    # The key matches the certificate, and it is ECDSA P-256.
    key_pub = subprocess.run(["openssl", "pkey", "-pubout"], input=secrets["default"]["key"], capture_output=True,
                             text=True, check=True).stdout
    cert_pub = subprocess.run(["openssl", "x509", "-noout", "-pubkey"], input=secrets["default"]["chain"],
                              capture_output=True, text=True, check=True).stdout
    assert key_pub == cert_pub
    assert "prime256v1" in leaf_text(secrets["default"]["chain"])

    # An unknown secret (a file-cert: name without its key file) is refused by name.
    rc, out = mesh.sds("file-cert:/etc/x.pem")
    assert rc == 1 and "unknown secret 'file-cert:/etc/x.pem'" in out[-1]["error"], out
    # Istio's file secrets: a root bundle in the pod, read by the agent; a missing file is refused
    # naming it.
    rc, out = mesh.sds("file-root:" + str(mesh.share / "root-cert.pem"))
    assert rc == 0 and out[0]["secrets"][0]["trusted_ca"] == (mesh.share / "root-cert.pem").read_text(), out
    rc, out = mesh.sds("file-root:/nonexistent/ca.pem")
    assert rc == 1 and "cannot read '/nonexistent/ca.pem'" in out[-1]["error"], out

    # Rotation: renewals at about half of the 8 s lifetime are pushed on an open stream.
    t0 = time.monotonic()
    rc, out = mesh.sds("default", responses=3, timeout_ms=20000)
    assert rc == 0, (out, mesh.ctx())
    versions = [o["version"] for o in out]
    assert len(set(versions)) == 3, versions
    chains = [o["secrets"][0]["chain"] for o in out]
    assert len(set(chains)) == 3
    elapsed = time.monotonic() - t0
    assert elapsed < 14, "three certificates took %.1f s with an 8 s lifetime" % elapsed
    log = mesh.agent_log.read_text()
    assert "renewal in" in log

    # weftd away: the agent keeps serving the current certificate and retries.
    mesh.stop_weftd()
    before = mesh.certificate()["generation"]
    wait_for(lambda: "retrying in" in mesh.agent_log.read_text(), timeout=10, what="a failed renewal" + mesh.ctx())
    rc, out = mesh.sds("default")
    assert rc == 0 and out[0]["version"] == str(mesh.certificate()["generation"]), out
    assert "the current certificate keeps serving" in mesh.agent_log.read_text() or \
        mesh.certificate()["generation"] == before
    # weftd back with its state: the same root, and the agent renews again (with its certificate
    # while it is valid, else with its token).
    root = (mesh.state / "ca" / "root-cert.pem").read_text()
    mesh.start_weftd()
    assert (mesh.state / "ca" / "root-cert.pem").read_text() == root
    wait_for(lambda: mesh.certificate().get("generation", 0) > before and not mesh.certificate().get("last_error"),
             timeout=40, what="a renewal after weftd came back" + mesh.ctx())
    metrics = subprocess.run(["curl", "-s", "http://%s/metrics" % mesh.http], capture_output=True, text=True).stdout
    assert "citadel_server_success_cert_issuance_count" in metrics
