"""Network namespaces for the end-to-end tests (root required): a "pod" namespace joined to
the host by a veth pair, processes started inside it (optionally as another uid), and cleanup.

    with Pod("cap1", index=1) as pod:        # 10.77.1.2 in the pod, 10.77.1.1 on the host
        pod.run(["curl", ...])              # a command in the pod's namespace
        proc = pod.spawn([...], uid=1337)   # a long-running process in it
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent


def require_root():
    import pytest
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests need root (network namespaces, iptables)")
    for tool in ("ip", "iptables-save", "iptables-restore", "setpriv", "curl"):
        if shutil.which(tool) is None:
            pytest.fail("end-to-end tests need %s (scripts/setup.sh installs it)" % tool)


def sh(args, check=True, **kw):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s failed (%d): %s %s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


class Pod:
    def __init__(self, name, index):
        self.name = "weft-e2e-%s-%d" % (name, os.getpid() % 10000)
        self.index = index
        self.host_if = "wh%d_%d" % (index, os.getpid() % 10000)
        self.host_ip = "10.77.%d.1" % index
        self.ip = "10.77.%d.2" % index
        self.netns_path = "/run/netns/" + self.name
        self.procs = []

    def __enter__(self):
        sh(["ip", "netns", "add", self.name])
        try:
            sh(["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", "eth0", "netns", self.name])
            sh(["ip", "addr", "add", self.host_ip + "/24", "dev", self.host_if])
            sh(["ip", "link", "set", self.host_if, "up"])
            self.run(["ip", "addr", "add", self.ip + "/24", "dev", "eth0"])
            self.run(["ip", "link", "set", "eth0", "up"])
            self.run(["ip", "link", "set", "lo", "up"])
            # Service VIPs (10.96/12) have no address anywhere: the capture rules take them
            # before they leave, but the kernel needs a route to accept the connect().
            self.run(["ip", "route", "add", "default", "via", self.host_ip])
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        sh(["ip", "link", "del", self.host_if], check=False)
        sh(["ip", "netns", "del", self.name], check=False)

    def cmd(self, args, uid=None):
        prefix = ["ip", "netns", "exec", self.name]
        if uid is not None:
            prefix += ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups"]
        return prefix + [str(a) for a in args]

    def run(self, args, uid=None, check=True, timeout=20):
        return sh(self.cmd(args, uid), check=check, timeout=timeout)

    def spawn(self, args, uid=None, log=None):
        out = open(log, "wb") if log else subprocess.DEVNULL
        p = subprocess.Popen(self.cmd(args, uid), stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def curl(self, url, uid=None, extra=()):
        """curl from inside the pod; returns (exit code, stdout)."""
        r = self.run(["curl", "-sS", "--max-time", "5"] + list(extra) + [url], uid=uid, check=False)
        return r.returncode, r.stdout + r.stderr


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
