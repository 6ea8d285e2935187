"""A pod with its sidecar as Istio runs it: weft-iptables' rules, weft-agent started with the
injector's environment, weft-proxy under it (uid 1337) configured by weftd over xDS. The app
calls a Service VIP and is served through the sidecar; the sidecar is ready only once its
configuration arrived; a killed proxy is back within a second; SIGTERM drains in-flight
requests."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from netns import REPO_ROOT, Pod, require_root, sh, wait_for

BIN = REPO_ROOT / "build" / "bin"
PROXY_BIN = os.environ.get("WEFT_PROXY_BIN", str(BIN / "weft-proxy"))
AGENT_BIN = os.environ.get("WEFT_AGENT_BIN", str(BIN / "weft-agent"))
IPTABLES_BIN = os.environ.get("WEFT_IPTABLES_BIN", str(BIN / "weft-iptables"))
WEFTD_BIN = os.environ.get("WEFTD_BIN", str(BIN / "weftd"))
ECHO = str(REPO_ROOT / "examples" / "backend" / "echo_server.py")
VIP = "10.96.77.10"


def mesh_yaml(pod):
    return """apiVersion: v1
kind: Service
metadata: {name: remote, namespace: default}
spec:
  clusterIP: %(vip)s
  selector: {app: remote}
  ports: [{name: http, port: 8080, targetPort: 8080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: remote, namespace: default}
subsets:
- addresses: [{ip: %(host)s}]
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: app, namespace: default}
spec:
  clusterIP: 10.96.77.20
  selector: {app: app}
  ports: [{name: http, port: 9080, targetPort: 9080}]
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
  ports: [{name: http, port: 9080}]
""" % {"vip": VIP, "host": pod.host_ip, "ip": pod.ip}


class Env:
    def __init__(self, pod, tmp):
        self.pod, self.tmp = pod, tmp
        self.share = Path(tempfile.mkdtemp(prefix="weft-e2e-agent-"))
        self.share.chmod(0o755)
        self.mesh = tmp / "mesh"
        self.mesh.mkdir()
        (self.mesh / "mesh.yaml").write_text(mesh_yaml(pod))
        self.grpc = "%s:%d" % (pod.host_ip, 15500 + pod.index)
        self.weftd = None
        self.agent = None
        self.agent_log = tmp / "agent.log"

    def start_weftd(self):
        self.weftd = subprocess.Popen([WEFTD_BIN, "--config-dir", str(self.mesh), "--grpc-addr", self.grpc,
                                       "--http-addr", "%s:%d" % (self.pod.host_ip, 15600 + self.pod.index)],
                                      stdout=open(self.tmp / "weftd.log", "ab"), stderr=subprocess.STDOUT)

    def start_agent(self):
        env = {"POD_NAME": "app-1", "POD_NAMESPACE": "default", "INSTANCE_IP": self.pod.ip,
               "SERVICE_ACCOUNT": "app", "WEFT_DISCOVERY_ADDRESS": self.grpc,
               "ISTIO_METAJSON_LABELS": json.dumps({"app": "app"}),
               "ISTIO_KUBE_APP_PROBERS": json.dumps({"/app-health/app/readyz": {"httpGet": {"path": "/", "port": 9080}}}),
               "PATH": os.environ["PATH"]}
        cmd = ["env"] + ["%s=%s" % kv for kv in env.items()] + [
            AGENT_BIN, "proxy", "--proxy-bin", PROXY_BIN, "--bootstrap", str(self.share / "bootstrap.json"),
            "--concurrency", "1", "--drain-duration", "2"]
        self.agent = self.pod.spawn(cmd, log=self.agent_log)

    def ready_status(self):
        r = self.pod.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:15020/healthz/ready"],
                         check=False)
        return r.stdout.strip()

    def proxy_pid(self):
        r = sh(["pgrep", "-f", str(self.share / "bootstrap.json")], check=False)
        pids = [int(p) for p in r.stdout.split() if int(p) != self.agent.pid]
        # The agent's own command line names the bootstrap too: the proxy is its child.
        for p in pids:
            if "weft-proxy" in Path("/proc/%d/cmdline" % p).read_bytes().decode(errors="replace"):
                return p
        return None

    def ctx(self):
        return "\n--- agent log ---\n%s\n--- weftd log ---\n%s" % (
            self.agent_log.read_text()[-3000:] if self.agent_log.exists() else "",
            (self.tmp / "weftd.log").read_text()[-2000:] if (self.tmp / "weftd.log").exists() else "")

    def close(self):
        if self.agent and self.agent.poll() is None:
            self.agent.kill()
            self.agent.wait()
        # The agent's proxy outlives a SIGKILLed agent: stop it by its bootstrap's path.
        subprocess.run(["pkill", "-KILL", "-f", str(self.share)], check=False)
        if self.weftd:
            self.weftd.terminate()
            self.weftd.wait()
        shutil.rmtree(self.share, ignore_errors=True)


@pytest.fixture
def env(tmp_path):
    require_root()
    with Pod("agent", index=100 + os.getpid() % 50) as pod:
        remote = subprocess.Popen([sys.executable, ECHO, "--host", pod.host_ip, "--port", "8080", "--name", "remote"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        app = pod.spawn([sys.executable, ECHO, "--host", "0.0.0.0", "--port", "9080", "--name", "app"])
        pod.run([IPTABLES_BIN, "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*",
                 "-b", "*", "-d", "15090,15021,15020"])
        e = Env(pod, tmp_path)
        try:
            yield e
        finally:
            e.close()
            remote.terminate()
            remote.wait()


def call_vip(env, path="/"):
    r = env.pod.run(["curl", "-sS", "--max-time", "5", "-D", "-", "http://%s:8080%s" % (VIP, path)], check=False)
    head, _, body = r.stdout.partition("\n\n")
    return r.returncode, head.lower(), body


def test_sidecar_lifecycle(env):
    # Not ready before the control plane has sent listeners and clusters.
    env.start_agent()
    wait_for(lambda: env.ready_status() in ("503", "200"), what="the agent's status port" + env.ctx())
    time.sleep(0.5)
    assert env.ready_status() == "503", env.ctx()
    t0 = time.monotonic()
    env.start_weftd()
    r = env.pod.run([AGENT_BIN, "wait", "--timeout", "20"], check=False, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr + env.ctx()
    ready_s = time.monotonic() - t0
    # Through 15021 as the kubelet probes it (the proxy's readiness listener -> the agent).
    r = env.pod.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:15021/healthz/ready"], check=False)
    assert r.stdout == "200", (r.stdout, env.ctx())

    # Outbound: the app calls a Service VIP; the sidecar routes it to the endpoint.
    code, head, body = call_vip(env, "/hello")
    assert code == 0 and json.loads(body)["server"] == "remote" and "x-envoy-upstream-service-time" in head, (head, body, env.ctx())
    # Inbound: the host calls the pod's app port; the sidecar's virtualInbound serves it.
    r = sh(["curl", "-sS", "--max-time", "5", "-D", "-", "http://%s:9080/in" % env.pod.ip])
    head, _, body = r.stdout.partition("\n\n")
    assert json.loads(body)["server"] == "app" and "x-envoy-upstream-service-time" in head.lower(), (head, env.ctx())
    # The probe rewrite and the merged metrics on 15020.
    r = env.pod.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:15020/app-health/app/readyz"], check=False)
    assert r.stdout == "200", r.stdout
    metrics = env.pod.run(["curl", "-s", "http://127.0.0.1:15020/stats/prometheus"]).stdout
    assert "envoy_cluster_upstream_rq_total" in metrics and "weft_agent_proxy_restarts_total 0" in metrics, metrics[-2000:]
    metrics15090 = env.pod.run(["curl", "-s", "http://127.0.0.1:15090/stats/prometheus"]).stdout
    assert "envoy_" in metrics15090

    # A killed proxy is restarted by the agent and serves again in moments (within a second on an
    # idle machine; the bound leaves room for a loaded one: speed is the benchmarks' business).
    pid = env.proxy_pid()
    assert pid, env.ctx()
    os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    wait_for(lambda: call_vip(env)[0] == 0 and env.proxy_pid() not in (None, pid), timeout=5, interval=0.02,
             what="the restarted proxy serving" + env.ctx())
    back_s = time.monotonic() - t0
    assert back_s < 3.0, "the proxy took %.2f s to serve again%s" % (back_s, env.ctx())
    assert "killed by signal 9" in env.agent_log.read_text(), env.ctx()

    # SIGTERM: in-flight requests finish, then the agent exits.
    slow = env.pod.spawn(["curl", "-sS", "--max-time", "10", "-o", str(env.share / "slow.out"), "-w", "%{http_code}",
                          "-H", "x-echo-delay-ms: 1000", "http://%s:8080/slow" % VIP], log=env.tmp / "slow.log")
    # SIGTERM once the request is in the proxy (Envoy's gauge, on the Prometheus port).
    wait_for(lambda: re.search(r'envoy_http_downstream_rq_active\{[^}]*\} [1-9]', env.pod.run(
        ["curl", "-s", "http://127.0.0.1:15090/stats/prometheus"]).stdout), timeout=5, interval=0.05,
        what="the slow request in the proxy" + env.ctx())
    env.agent.send_signal(signal.SIGTERM)
    assert slow.wait(timeout=10) == 0, (env.tmp / "slow.log").read_text()
    assert (env.tmp / "slow.log").read_text().strip() == "200"
    assert env.agent.wait(timeout=10) == 0, env.ctx()
    print("sidecar ready %.2f s after weftd started; proxy back %.3f s after SIGKILL" % (ready_s, back_s))
