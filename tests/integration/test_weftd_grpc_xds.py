"""weftd against a real xDS client: @grpc/grpc-js-xds (proxyless gRPC), state-of-the-world ADS.

The scenario, all on loopback:

- two Greeter backends (tests/interop/server.js): "v1" on 127.0.0.2, "v2" on 127.0.0.3, same
  port (Linux routes all of 127.0.0.0/8 to lo, so no setup is needed);
- a config dir of Kubernetes/Istio YAML in namespace "default": Service `greeter` (port 50051
  named grpc, targetPort = the backends' port), Pods `greeter-v1`/`greeter-v2` (labels app,
  version; status.podIP), Endpoints `greeter` whose addresses point at the pods (targetRef),
  DestinationRule `greeter` with subsets v1/v2 by label `version`, VirtualService `greeter`
  splitting 80/20 between the subsets;
- weftd --config-dir DIR --grpc-addr 127.0.0.1:P --http-addr 127.0.0.1:P2, ready when
  GET /ready answers 200;
- ONE long-lived client process (tests/interop/client.js --script) with GRPC_XDS_BOOTSTRAP
  pointing at weftd, target xds:///greeter.default.svc.cluster.local:50051, driven over
  stdin/stdout.

Checks: 400 calls split about 80/20 with no errors; after the VirtualService file is rewritten to
0/100, the same client converges to v2 only within 10 s without a single failed call, and stays
there.

Needs: $WEFTD_BIN (default <repo>/build/bin/weftd), node, and tests/interop/node_modules
(`bash tests/interop/install.sh`, which scripts/setup.sh runs). Nothing is skipped: a missing
piece fails the test with a message saying what to do.
"""

import http.client
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

import weft_harness
from weft_harness import free_port, http_request, tail, wait_for

REPO_ROOT = weft_harness.REPO_ROOT
INTEROP_DIR = REPO_ROOT / "tests" / "interop"

NAMESPACE = "default"
SERVICE_HOST = "greeter.default.svc.cluster.local"
SERVICE_PORT = 50051
TARGET = "xds:///%s:%d" % (SERVICE_HOST, SERVICE_PORT)
BACKENDS = {"v1": "127.0.0.2", "v2": "127.0.0.3"}

INITIAL_CALLS = 400          # sd of the v1 share at p=0.8: 0.02, so +-0.09 is 4.5 sd
INITIAL_SHARE = 0.8
SHARE_TOLERANCE = 0.09
CONVERGE_TIMEOUT_S = 10
CALL_DEADLINE_MS = 10000     # covers the first call, which waits for LDS/RDS/CDS/EDS
WEFTD_READY_TIMEOUT_S = 20

# grpc-js tracers worth having when something goes wrong (client stderr, attached on failure):
# every DiscoveryRequest sent (with error_detail when it NACKs), every resource decoded, every
# resolution error. Add cds_balancer,priority,weighted_target,round_robin for the LB side.
CLIENT_TRACE = "xds_client,xds_resolver"
# Client stderr lines quoted first on failure.
CLIENT_HIGHLIGHTS = re.compile(r"validation (failed|errors)|does not exist|[Rr]esolution error|"
                               r"No matching route|ADS stream ended|Unexpected type|not usable")


# ---------------------------------------------------------------------------------------------
# preconditions (fail, never skip)
# ---------------------------------------------------------------------------------------------

def weftd_binary():
    binary = Path(os.environ.get("WEFTD_BIN") or (REPO_ROOT / "build" / "bin" / "weftd"))
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail("weftd binary not found or not executable at %s: build it "
                    "(bash scripts/build.sh), or set WEFTD_BIN" % binary, pytrace=False)
    return binary.resolve()  # processes run with cwd = the test's tmp dir


def node_binary():
    node = shutil.which("node")
    if not node:
        pytest.fail("node not found on PATH: run scripts/setup.sh (installs nodejs)", pytrace=False)
    return node


def check_interop_modules():
    """tests/interop/node_modules must hold exactly the versions package.json pins."""
    pins = json.loads((INTEROP_DIR / "package.json").read_text())["dependencies"]
    problems = []
    for name, version in sorted(pins.items()):
        meta = INTEROP_DIR / "node_modules" / name / "package.json"
        try:
            got = json.loads(meta.read_text())["version"]
        except (OSError, ValueError, KeyError):
            problems.append("%s missing" % name)
            continue
        if got != version:
            problems.append("%s is %s, package.json pins %s" % (name, got, version))
    if problems:
        pytest.fail("tests/interop/node_modules is not installed as pinned (%s): run "
                    "`bash tests/interop/install.sh` (scripts/setup.sh runs it)"
                    % "; ".join(problems), pytrace=False)


def backend_port():
    """A TCP port free on both backend addresses (they must share it: one targetPort)."""
    for _ in range(50):
        try:
            port = free_port(BACKENDS["v1"])
        except OSError as exc:
            pytest.fail("cannot bind %s (Linux routes 127.0.0.0/8 to lo; is lo up?): %s"
                        % (BACKENDS["v1"], exc), pytrace=False)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((BACKENDS["v2"], port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    pytest.fail("no TCP port free on both %s and %s" % (BACKENDS["v1"], BACKENDS["v2"]),
                pytrace=False)


# ---------------------------------------------------------------------------------------------
# mesh config (Kubernetes + Istio YAML, as a user writes it)
# ---------------------------------------------------------------------------------------------

def service_yaml(target_port):
    return """\
apiVersion: v1
kind: Service
metadata:
  name: greeter
  namespace: {ns}
  labels:
    app: greeter
spec:
  selector:
    app: greeter
  ports:
  - name: grpc
    port: {port}
    targetPort: {target_port}
    protocol: TCP
""".format(ns=NAMESPACE, port=SERVICE_PORT, target_port=target_port)


def pods_yaml(target_port):
    docs = []
    for version, ip in sorted(BACKENDS.items()):
        docs.append("""\
apiVersion: v1
kind: Pod
metadata:
  name: greeter-{version}
  namespace: {ns}
  labels:
    app: greeter
    version: {version}
spec:
  containers:
  - name: greeter
    image: example/greeter:{version}
    ports:
    - name: grpc
      containerPort: {target_port}
      protocol: TCP
status:
  phase: Running
  podIP: {ip}
  podIPs:
  - ip: {ip}
  conditions:
  - type: Ready
    status: "True"
""".format(version=version, ns=NAMESPACE, ip=ip, target_port=target_port))
    return "---\n".join(docs)


def endpoints_yaml(target_port):
    addresses = "".join("""\
  - ip: {ip}
    targetRef:
      kind: Pod
      name: greeter-{version}
      namespace: {ns}
""".format(ip=ip, version=version, ns=NAMESPACE) for version, ip in sorted(BACKENDS.items()))
    return """\
apiVersion: v1
kind: Endpoints
metadata:
  name: greeter
  namespace: {ns}
  labels:
    app: greeter
subsets:
- addresses:
{addresses}  ports:
  - name: grpc
    port: {target_port}
    protocol: TCP
""".format(ns=NAMESPACE, addresses=addresses, target_port=target_port)


def destination_rule_yaml():
    return """\
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: greeter
  namespace: {ns}
spec:
  host: {host}
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
""".format(ns=NAMESPACE, host=SERVICE_HOST)


def virtual_service_yaml(weight_v1, weight_v2):
    return """\
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: greeter
  namespace: {ns}
spec:
  hosts:
  - {host}
  http:
  - route:
    - destination:
        host: {host}
        subset: v1
        port:
          number: {port}
      weight: {w1}
    - destination:
        host: {host}
        subset: v2
        port:
          number: {port}
      weight: {w2}
""".format(ns=NAMESPACE, host=SERVICE_HOST, port=SERVICE_PORT, w1=weight_v1, w2=weight_v2)


def grpc_xds_bootstrap(xds_port):
    """What grpc-js-xds reads from GRPC_XDS_BOOTSTRAP (see tests/interop/README.md)."""
    return {
        "xds_servers": [{
            "server_uri": "127.0.0.1:%d" % xds_port,
            "channel_creds": [{"type": "insecure"}],
            "server_features": ["xds_v3"],
        }],
        "node": {
            "id": "sidecar~127.0.0.1~client.%s~%s.svc.cluster.local" % (NAMESPACE, NAMESPACE),
            "cluster": "client",
            "metadata": {
                "NAMESPACE": NAMESPACE,
                "ISTIO_VERSION": "1.20.0",
                # What Istio's agent puts in a proxyless gRPC bootstrap; istiod picks its gRPC
                # generator by it. Harmless to a control plane that ignores it.
                "GENERATOR": "grpc",
            },
            "locality": {},
        },
    }


def write_atomically(path, text, staging_dir):
    """Replace `path` in one rename, from a file outside the watched config dir."""
    staging_dir.mkdir(parents=True, exist_ok=True)
    tmp = staging_dir / (path.name + ".new")
    tmp.write_text(text)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------------------------

class Proc:
    """A child process with stderr (and optionally stdout) in files under workdir."""

    def __init__(self, name, args, workdir, env=None, stdin=False, stdout_pipe=False,
                 highlights=None):
        self.name = name
        self.highlights = highlights
        self.args = [str(a) for a in args]
        self.stderr_path = workdir / ("%s.stderr" % name)
        self.stdout_path = workdir / ("%s.stdout" % name)
        self._err = open(self.stderr_path, "wb")
        self._out = None if stdout_pipe else open(self.stdout_path, "wb")
        self.proc = subprocess.Popen(
            self.args, cwd=str(workdir), env=env,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout_pipe else self._out, stderr=self._err)
        self.lines = queue.Queue()
        self.transcript = []
        if stdout_pipe:
            threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.transcript.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def alive(self):
        return self.proc.poll() is None

    def read_line(self, timeout, what):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("%s: no output from %s within %.0fs"
                                 % (what, self.name, timeout)) from None
        if line is None:
            raise AssertionError("%s: %s exited (rc=%s) before answering"
                                 % (what, self.name, self.proc.wait(5)))
        return line

    def send(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def stderr_text(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def diagnostics(self, lines=60):
        rc = self.proc.poll()
        state = "running" if rc is None else "exited rc=%s" % rc
        out = ["%s (pid %d, %s): %s" % (self.name, self.proc.pid, state, " ".join(self.args))]
        if self.transcript:
            out.append("--- stdout transcript ---\n%s" % "\n".join(self.transcript[-20:]))
        if self.highlights:
            hits = [l for l in self.stderr_text().splitlines() if self.highlights.search(l)]
            out.append("--- stderr lines matching %r (last 30 of %d) ---\n%s"
                       % (self.highlights.pattern, len(hits), "\n".join(hits[-30:]) or "(none)"))
        out.append("--- stderr (last %d lines) ---\n%s"
                   % (lines, tail(self.stderr_text(), lines) or "(empty)"))
        return "\n".join(out)

    def stop(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for f in (self._err, self._out, self.proc.stdin, self.proc.stdout):
            try:
                if f:
                    f.close()
            except OSError:
                pass


class Mesh:
    """Everything the scenario starts; close() stops it all."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = []
        self.weftd = None
        self.http_port = None

    def start(self, name, args, **kw):
        p = Proc(name, args, self.workdir, **kw)
        self.procs.append(p)
        return p

    def debug_syncz(self):
        if not self.http_port:
            return ""
        try:
            r = http_request(self.http_port, "/debug/syncz", timeout=2.0)
            return "GET /debug/syncz -> %d\n%s" % (r.status, r.text[:4000])
        except Exception as exc:  # diagnostics only
            return "GET /debug/syncz failed: %r" % (exc,)

    def ctx(self):
        """Suffix for assertion messages: every process's output, weftd's /debug/syncz."""
        parts = [p.diagnostics(80 if p is self.weftd else 40) for p in self.procs]
        if self.weftd is not None and self.weftd.alive():
            parts.append(self.debug_syncz())
        parts.append("(files under %s)" % self.workdir)
        return "\n\n" + "\n\n".join(parts)

    def close(self):
        for p in reversed(self.procs):
            try:
                p.stop()
            except Exception:  # keep tearing down the rest
                pass


@pytest.fixture
def mesh(tmp_path):
    m = Mesh(tmp_path)
    try:
        yield m
    finally:
        m.close()


def start_backend(mesh, node, version, port):
    p = mesh.start("greeter-%s" % version,
                   [node, INTEROP_DIR / "server.js", "--host", BACKENDS[version],
                    "--port", port, "--name", version], stdout_pipe=True)
    line = p.read_line(10, "backend %s startup" % version)
    assert line == "listening %d" % port, "backend %s: unexpected first line %r%s" % (
        version, line, mesh.ctx())
    return p


def wait_weftd_ready(mesh, timeout):
    last = ["no answer"]

    def ready():
        if not mesh.weftd.alive():
            return True
        try:
            r = http_request(mesh.http_port, "/ready", timeout=1.0)
            last[0] = "HTTP %d %r" % (r.status, r.body[:200])
            return r.status == 200
        except (OSError, http.client.HTTPException) as exc:
            last[0] = repr(exc)
            return False

    wait_for(ready, timeout, 0.1)
    assert mesh.weftd.alive(), "weftd exited (rc=%s) before /ready answered 200%s" % (
        mesh.weftd.proc.returncode, mesh.ctx())
    assert last[0].startswith("HTTP 200"), (
        "weftd GET /ready on 127.0.0.1:%d not 200 within %ds (last: %s)%s"
        % (mesh.http_port, timeout, last[0], mesh.ctx()))


def client_command(mesh, client, command, timeout):
    client.send(command)
    line = client.read_line(timeout, "client command %r" % command)
    try:
        result = json.loads(line)
    except ValueError:
        raise AssertionError("client answered %r to %r: not JSON%s"
                             % (line, command, mesh.ctx())) from None
    assert "error" not in result, "client rejected %r: %s%s" % (command, result, mesh.ctx())
    return result


# ---------------------------------------------------------------------------------------------
# the test
# ---------------------------------------------------------------------------------------------

def test_grpc_js_xds_follows_virtualservice_weights(mesh, tmp_path):
    weftd = weftd_binary()
    node = node_binary()
    check_interop_modules()

    # Backends.
    port = backend_port()
    for version in sorted(BACKENDS):
        start_backend(mesh, node, version, port)

    # Mesh config.
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    staging = tmp_path / "staging"
    (config_dir / "service.yaml").write_text(service_yaml(port))
    (config_dir / "pods.yaml").write_text(pods_yaml(port))
    (config_dir / "endpoints.yaml").write_text(endpoints_yaml(port))
    (config_dir / "destinationrule.yaml").write_text(destination_rule_yaml())
    vs_path = config_dir / "virtualservice.yaml"
    vs_path.write_text(virtual_service_yaml(80, 20))

    # weftd.
    grpc_port = free_port()
    mesh.http_port = free_port()
    mesh.weftd = mesh.start("weftd", [weftd, "--config-dir", config_dir,
                                      "--grpc-addr", "127.0.0.1:%d" % grpc_port,
                                      "--http-addr", "127.0.0.1:%d" % mesh.http_port])
    wait_weftd_ready(mesh, WEFTD_READY_TIMEOUT_S)

    # One client for the whole scenario.
    bootstrap = tmp_path / "grpc-xds-bootstrap.json"
    bootstrap.write_text(json.dumps(grpc_xds_bootstrap(grpc_port), indent=2))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRPC_")}
    env.update(GRPC_XDS_BOOTSTRAP=str(bootstrap), GRPC_TRACE=CLIENT_TRACE, GRPC_VERBOSITY="DEBUG")
    client = mesh.start("client", [node, INTEROP_DIR / "client.js", "--target", TARGET,
                                   "--script", "--deadline-ms", CALL_DEADLINE_MS],
                        env=env, stdin=True, stdout_pipe=True, highlights=CLIENT_HIGHLIGHTS)
    ready = json.loads(client.read_line(15, "client startup"))
    assert ready.get("event") == "ready", "client: unexpected first line %r%s" % (ready, mesh.ctx())

    # Phase 0: one call, which waits (up to CALL_DEADLINE_MS) for LDS -> RDS -> CDS -> EDS. A
    # config grpc-js rejects shows up here, as DEADLINE_EXCEEDED "waiting for name resolution"
    # (NACK or missing resource) or UNAVAILABLE (e.g. no usable endpoint).
    probe = client_command(mesh, client, "count 1", timeout=CALL_DEADLINE_MS / 1000 + 30)
    assert probe["errors"] == 0, (
        "first call through weftd's xDS config failed: %s (grpc-js traces in the client's "
        "stderr below)%s" % (probe["first_error"], mesh.ctx()))

    # Phase 1: 80/20.
    first = client_command(mesh, client, "count %d" % INITIAL_CALLS, timeout=120)
    assert first["errors"] == 0, (
        "%d of %d calls failed against the 80/20 config; first error: %s; summary %s%s"
        % (first["errors"], INITIAL_CALLS, first["first_error"], first, mesh.ctx()))
    assert set(first["counts"]) <= set(BACKENDS), "unexpected backends answered: %s%s" % (
        first, mesh.ctx())
    share_v1 = first["counts"].get("v1", 0) / INITIAL_CALLS
    assert abs(share_v1 - INITIAL_SHARE) <= SHARE_TOLERANCE, (
        "VirtualService 80/20: v1 got %.3f of %d calls, expected %.2f +- %.2f; summary %s%s"
        % (share_v1, INITIAL_CALLS, INITIAL_SHARE, SHARE_TOLERANCE, first, mesh.ctx()))

    # Phase 2: rewrite the VirtualService to 0/100; the same client must follow the push.
    write_atomically(vs_path, virtual_service_yaml(0, 100), staging)
    switch = client_command(mesh, client, "until v2 1.0 %d" % CONVERGE_TIMEOUT_S,
                            timeout=CONVERGE_TIMEOUT_S + 60)
    assert switch["converged"], (
        "after the VirtualService went to 0/100 the client did not send a whole batch to v2 "
        "within %ds: last batch %s (%d batches, all counts %s)%s"
        % (CONVERGE_TIMEOUT_S, switch["counts"], switch["batches"], switch["total_counts"],
           mesh.ctx()))
    assert switch["total_errors"] == 0, (
        "%d of %d calls failed while the config changed; first error: %s; summary %s%s"
        % (switch["total_errors"], switch["total_calls"], switch["total_first_error"], switch,
           mesh.ctx()))

    # Phase 3: it stays on v2.
    after = client_command(mesh, client, "count 100", timeout=60)
    assert after["errors"] == 0 and after["counts"] == {"v2": 100}, (
        "after converging, 100 calls should all reach v2: %s%s" % (after, mesh.ctx()))

    client.send("quit")
    assert client.proc.wait(10) == 0, "client exit status%s" % mesh.ctx()
    assert mesh.weftd.alive(), "weftd died during the test%s" % mesh.ctx()
