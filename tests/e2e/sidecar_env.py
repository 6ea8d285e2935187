"""One pod with its sidecar for end-to-end tests: a network namespace with Istio's capture rules
(weft-iptables), weftd on the host reading a config directory (with its CA when `ca` is set, the
agent then getting its workload certificate and serving SDS), and weft-agent running
weft-proxy in the pod as the injector would start it."""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from netns import REPO_ROOT, wait_for

BIN = REPO_ROOT / "build" / "bin"
PROXY_BIN = os.environ.get("WEFT_PROXY_BIN", str(BIN / "weft-proxy"))
AGENT_BIN = os.environ.get("WEFT_AGENT_BIN", str(BIN / "weft-agent"))
IPTABLES_BIN = os.environ.get("WEFT_IPTABLES_BIN", str(BIN / "weft-iptables"))
WEFTD_BIN = os.environ.get("WEFTD_BIN", str(BIN / "weftd"))


class Sidecar:
    def __init__(self, pod, tmp, mesh_yaml, ca=False, weftd_args=(), weftd_env=None, labels=None):
        self.pod, self.tmp = pod, tmp
        self.share = Path(tempfile.mkdtemp(prefix="weft-e2e-sidecar-"))
        self.share.chmod(0o755)
        self.mesh = tmp / "mesh"
        self.mesh.mkdir(exist_ok=True)
        (self.mesh / "mesh.yaml").write_text(mesh_yaml)
        self.state = tmp / "state"
        self.grpc = "%s:%d" % (pod.host_ip, 15500 + pod.index)
        self.http = "%s:%d" % (pod.host_ip, 15600 + pod.index)
        self.secure = "%s:%d" % (pod.host_ip, 15700 + pod.index)
        self.weftd_log, self.agent_log = tmp / "weftd.log", tmp / "agent.log"
        pod.run([IPTABLES_BIN, "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*",
                 "-b", "*", "-d", "15090,15021,15020"])
        args = [WEFTD_BIN, "--config-dir", str(self.mesh), "--grpc-addr", self.grpc, "--http-addr", self.http]
        if ca:
            args += ["--secure-grpc-addr", self.secure, "--state-dir", str(self.state)]
        self.weftd = subprocess.Popen(args + list(weftd_args), env=dict(os.environ, **(weftd_env or {})),
                                      stdout=open(self.weftd_log, "ab"), stderr=subprocess.STDOUT)
        wait_for(lambda: subprocess.run(["curl", "-sf", "http://%s/ready" % self.http],
                                        capture_output=True).returncode == 0, what="weftd ready" + self.ctx())
        env = {"POD_NAME": "app-1", "POD_NAMESPACE": "default", "INSTANCE_IP": pod.ip, "SERVICE_ACCOUNT": "app",
               "WEFT_DISCOVERY_ADDRESS": self.grpc, "PATH": os.environ["PATH"],
               "ISTIO_METAJSON_LABELS": json.dumps(labels or {"app": "app"})}
        extra = []
        if ca:
            token = self.share / "istio-token"
            r = subprocess.run([WEFTD_BIN, "--state-dir", str(self.state), "--issue-token", "default/app"],
                               capture_output=True, text=True, check=True)
            token.write_text(r.stdout)
            shutil.copy(self.state / "ca" / "root-cert.pem", self.share / "root-cert.pem")
            env["CA_ADDR"] = self.secure
            extra = ["--ca-root-cert", str(self.share / "root-cert.pem"), "--token-file", str(token),
                     "--sds-socket", str(self.share / "sds" / "socket")]
        cmd = ["env"] + ["%s=%s" % kv for kv in env.items()] + [
            AGENT_BIN, "proxy", "--proxy-bin", PROXY_BIN, "--bootstrap", str(self.share / "bootstrap.json"),
            "--concurrency", "1"] + extra
        self.agent = pod.spawn(cmd, log=self.agent_log)
        r = pod.run([AGENT_BIN, "wait", "--timeout", "20"], check=False, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr + self.ctx()

    def stats(self):
        return self.pod.run(["curl", "-s", "http://127.0.0.1:15000/stats"], check=False).stdout

    def ctx(self):
        def tail(p, n):
            return p.read_text()[-n:] if p.exists() else ""
        return "\n--- weftd log ---\n%s\n--- agent log ---\n%s" % (tail(self.weftd_log, 3000), tail(self.agent_log, 3000))

    def close(self):
        if self.agent.poll() is None:
            self.agent.kill()
            self.agent.wait()
        # The agent's proxy outlives a SIGKILLed agent: stop it by its bootstrap's path.
        subprocess.run(["pkill", "-KILL", "-f", str(self.share)], check=False)
        self.weftd.terminate()
        self.weftd.wait()
        shutil.rmtree(self.share, ignore_errors=True)
