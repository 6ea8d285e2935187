#!/usr/bin/env python3
"""HTTP/1.1 reverse-proxy benchmark: weft-proxy vs HAProxy vs nginx.

Topology (all on 127.0.0.1, two cores):

    core 1: wrk (-t1 -c32, keep-alive)  --->  core 0: proxy (one worker)  --->  core 1: nginx upstream

Targets: "direct" (wrk straight to the upstream nginx), "weft" (weft-proxy --concurrency 1,
Envoy v3 bootstrap generated here), "haproxy" (nbthread 1), "nginx" (nginx reverse proxy,
worker_processes 1).  Interleaved rounds, order rotated each round.  Per run: requests/s,
p50/p99 latency (wrk --latency), CPU microseconds per request of the proxy's processes
(delta utime+stime from /proc/PID/stat), RSS (VmRSS, summed).  A separate pass under
`strace -c -f` counts syscalls per request.  Python stdlib only.

Exit status: 0 ok; 1 a target returned errors / failed its sanity check / died (results
for it are not trustworthy) or the setup failed; 2 weft-proxy missing or failed to start
(the others were still benchmarked); 3 (--strict only) weft-proxy missed a target.
"""

import argparse
import base64
import ctypes
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BODY = ("weft-bench-http1:" + "abcdefghijklmnopqrstuvwxyz0123456789" * 3)[:99] + "\n"  # 100 bytes
assert len(BODY) == 100
PROXY_CORE, CLIENT_CORE = 0, 1
TARGET_ORDER = ["direct", "weft", "weft-filters", "weft-retries", "weft-telemetry", "haproxy", "nginx"]
WEFT_TARGETS = ("weft", "weft-filters", "weft-retries", "weft-telemetry")
LABEL = {"direct": "direct", "weft": "weft-proxy", "weft-filters": "weft+filt", "weft-retries": "weft+retry",
         "weft-telemetry": "weft+telem", "haproxy": "haproxy",
         "nginx": "nginx-proxy"}

# Weft targets (DESIGN.md / brief).
RSS_TARGET_MB = 10.0
CPU_RATIO_MAX, CPU_RATIO_GOAL = 1.0, 0.8
P99_RATIO_MAX = 1.0
FILTERS_CPU_RATIO_MAX = 1.03  # fault, CORS and local rate limit configured, none triggering
TELEMETRY_CPU_RATIO_MAX = 1.10  # Istio's metadata exchange, standard metrics and tracing (issue P9)
CONTENTION_MAX = 0.05  # flag a run when others used more than 5% of the proxy core


class Abort(Exception):
    pass


def log(msg=""):
    print(msg, flush=True)


def warn(msg):
    print("!! " + msg, flush=True)


# ----------------------------------------------------------------------------- processes

_libc = None


def _child_setup():
    """preexec_fn: die (SIGTERM) if the benchmark process dies, even by SIGKILL."""
    try:
        _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Children:
    """Every process we start, each in its own session (pgid == pid), so cleanup can
    signal exactly the groups we created and nothing else."""

    def __init__(self):
        self.procs = []

    def start(self, argv, log_path=None, stdout=None, stderr=None):
        out = open(log_path, "ab") if log_path else stdout
        err = subprocess.STDOUT if log_path else stderr
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             start_new_session=True, preexec_fn=_child_setup)
        if log_path:
            out.close()
        self.procs.append(p)
        return p

    @staticmethod
    def _signal_group(p, sig):
        try:
            os.killpg(p.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, p, timeout=3.0):
        if p.poll() is None:
            self._signal_group(p, signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # Leftovers of the group (e.g. nginx workers) or a process ignoring SIGTERM.
        self._signal_group(p, signal.SIGKILL)
        try:
            p.wait(2)
        except subprocess.TimeoutExpired:
            pass
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in reversed(list(self.procs)):
            self.stop(p)


def proc_tree(root):
    """root pid plus all its descendants (nginx master + workers)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        ppid = int(s[s.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if os.path.exists(f"/proc/{pid}"):
            out.append(pid)
            todo.extend(children.get(pid, []))
    return out


def cpu_ticks(pids):
    """utime+stime (all threads of each process) summed over pids, in clock ticks."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14, 15)
    return total


def rss_kb(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def core_ticks(core):
    """(user+nice+system, all) ticks of one CPU from /proc/stat (all processes on it)."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{core} "):
                v = [int(x) for x in line.split()[1:]]
                return v[0] + v[1] + v[2], sum(v[:8])
    return 0, 0


def busy_elsewhere(interval=1.0):
    """Fraction of each of cores 0,1 used by processes over `interval` seconds."""
    a = [core_ticks(c) for c in (PROXY_CORE, CLIENT_CORE)]
    time.sleep(interval)
    b = [core_ticks(c) for c in (PROXY_CORE, CLIENT_CORE)]
    return [(b[i][0] - a[i][0]) / max(b[i][1] - a[i][1], 1) for i in range(2)]


def nthreads(pids):
    n = 0
    for pid in pids:
        try:
            n += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            pass
    return n


# ----------------------------------------------------------------------------- network

_used_ports = set()


def free_port():
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _used_ports:
            _used_ports.add(port)
            return port
    raise Abort("could not find a free loopback port")


def wait_accepting(port, proc, timeout=10.0):
    """True once 127.0.0.1:port accepts; False if proc exits or timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def http_get(port, path="/", timeout=3.0):
    """(status, body) or raises OSError/HTTPException."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Host": "bench.local"})
        r = c.getresponse()
        return r.status, r.read().decode("latin-1")
    finally:
        c.close()


def sanity_check(port):
    """None if GET / returns 200 with the upstream's exact body, else a reason."""
    try:
        status, body = http_get(port)
    except (OSError, http.client.HTTPException) as e:
        return f"GET / failed: {e!r}"
    if status != 200:
        return f"GET / returned HTTP {status}: {_short(body)!r}"
    if body != BODY:
        return f"GET / returned 200 but the wrong body ({len(body)} bytes: {body[:60]!r})"


def _short(text, n=80):
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n] + "..."
    return None


# ----------------------------------------------------------------------------- configs

def nginx_temp_paths(tmp, name):
    """*_temp_path directives inside tmp for the modules this nginx was built with."""
    try:
        v = subprocess.run(["nginx", "-V"], capture_output=True, text=True, timeout=10).stderr
    except Exception:
        v = ""
    lines = [f"client_body_temp_path {tmp}/{name}-body;", f"proxy_temp_path {tmp}/{name}-proxy;"]
    for mod in ("fastcgi", "uwsgi", "scgi"):
        if f"--without-http_{mod}_module" not in v:
            lines.append(f"{mod}_temp_path {tmp}/{name}-{mod};")
    return "\n    ".join(lines)


def nginx_upstream_conf(tmp, port):
    return f"""# upstream: serves a fixed 100-byte body, keep-alive (generated by bench/http1.sh)
worker_processes 1;
daemon off;
master_process on;
pid {tmp}/upstream.pid;
error_log {tmp}/upstream-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    {nginx_temp_paths(tmp, "upstream")}
    keepalive_timeout 65s;
    keepalive_requests 10000000;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        server_name _;
        location / {{
            default_type text/plain;
            return 200 "{BODY.rstrip(chr(10))}\\n";
        }}
    }}
}}
"""


def nginx_proxy_conf(tmp, port, up_port):
    return f"""# nginx reverse proxy, one worker (generated by bench/http1.sh)
worker_processes 1;
daemon off;
master_process on;
pid {tmp}/nginx-proxy.pid;
error_log {tmp}/nginx-proxy-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    {nginx_temp_paths(tmp, "nginx-proxy")}
    keepalive_timeout 65s;
    keepalive_requests 10000000;
    upstream bench_upstream {{
        server 127.0.0.1:{up_port};
        keepalive 32;
        keepalive_requests 10000000;
        keepalive_timeout 60s;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        server_name _;
        location / {{
            proxy_pass http://bench_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


def haproxy_conf(port, up_port):
    return f"""# HAProxy, one thread (generated by bench/http1.sh)
global
    nbthread 1
    maxconn 4096

defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout http-keep-alive 30s

frontend bench_fe
    bind 127.0.0.1:{port}
    default_backend bench_be

backend bench_be
    server upstream 127.0.0.1:{up_port}
"""


# weft-filters: the fault, CORS and local rate limit filters in the chain, configured as a mesh
# has them and run on every request, but none triggering (no fault header, no Origin, a bucket
# that never empties).
FILTERS = """          - name: envoy.filters.http.fault
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
              abort: { http_status: 503, percentage: { numerator: 100 } }
              headers: [ { name: x-bench-fault, present_match: true } ]
          - name: envoy.filters.http.cors
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors }
          - name: envoy.filters.http.local_ratelimit
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
              stat_prefix: bench
              token_bucket: { max_tokens: 1000000000, tokens_per_fill: 1000000000, fill_interval: 1s }
              filter_enabled: { default_value: { numerator: 100 } }
              filter_enforced: { default_value: { numerator: 100 } }
"""
CORS_POLICY = """              typed_per_filter_config:
                envoy.filters.http.cors:
                  "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy
                  allow_origin_string_match: [ { exact: "https://bench.example" } ]
"""


# weft-retries: Istio's default retry policy on the route (what weftd gives every sidecar
# route), circuit breakers and outlier detection (as a DestinationRule's outlierDetection
# gives) on the cluster, on a healthy upstream: nothing is ever retried or ejected.
RETRY_POLICY = """                  retry_policy:
                    retry_on: connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes
                    num_retries: 2
                    retry_host_predicate: [ { name: envoy.retry_host_predicates.previous_hosts } ]
                    host_selection_retry_max_attempts: 5
"""
CIRCUIT_BREAKERS = """    circuit_breakers:
      thresholds: [ { max_connections: 100000, max_pending_requests: 100000, max_requests: 100000, max_retries: 3 } ]
    outlier_detection:
      consecutive_5xx: 5
      enforcing_success_rate: 0
      interval: 10s
      base_ejection_time: 30s
      max_ejection_percent: 100
    common_lb_config: { healthy_panic_threshold: { value: 0 } }
"""


# weft-telemetry: a sidecar's inbound chain with Istio's telemetry, as weftd builds it: the
# metadata exchange (the client's x-envoy-peer-metadata read and removed, this workload's added
# to the response) and the standard metrics (istio_requests_total and three histograms) on an
# INBOUND listener, each request carrying a client sidecar's metadata.
TELEMETRY = """          - name: istio.metadata_exchange
            typed_config:
              "@type": type.googleapis.com/xds.type.v3.TypedStruct
              type_url: type.googleapis.com/io.istio.http.peer_metadata.Config
              value:
                downstream_discovery: [ { istio_headers: {} }, { workload_discovery: {} } ]
                downstream_propagation: [ { istio_headers: {} } ]
          - name: istio.stats
            typed_config:
              "@type": type.googleapis.com/stats.PluginConfig
              disable_host_header_fallback: true
"""
# ... and Istio's tracing: Envoy's decision in x-request-id, 1% of requests sampled (Istio's
# default), spans to a Zipkin collector cluster (a closed port here: the reports fail fast, the
# request path does the same work).
TRACING = """          tracing:
            random_sampling: { value: 1 }
            custom_tags: [ { tag: istio.canonical_service, literal: { value: bench-server } } ]
            provider:
              name: envoy.tracers.zipkin
              typed_config:
                "@type": type.googleapis.com/envoy.config.trace.v3.ZipkinConfig
                collector_cluster: zipkin
                collector_endpoint: /api/v2/spans
                collector_endpoint_version: HTTP_JSON
                trace_id_128bit: true
                shared_span_context: false
"""
ZIPKIN_CLUSTER = """  - name: zipkin
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: zipkin
      endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 9 } } } } ] } ]
"""
TELEMETRY_NODE = """  metadata:
    NAME: bench-server-1
    NAMESPACE: default
    WORKLOAD_NAME: bench-server
    CLUSTER_ID: Kubernetes
    LABELS: { app: bench-server, version: v1 }
"""
TELEMETRY_CLUSTER_METADATA = """    metadata:
      filter_metadata:
        istio: { services: [ { host: bench-server.default.svc.cluster.local, name: bench-server, namespace: default } ] }
"""


def _pb_len(field, data):
    """One length-delimited protobuf field."""
    out, n = bytes([(field << 3) | 2]), len(data)
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n]) + data


def peer_metadata_header():
    """x-envoy-peer-metadata as a client sidecar sends it: base64 of a google.protobuf.Struct."""
    def value(v):
        if isinstance(v, dict):
            return _pb_len(5, struct(v))
        return _pb_len(3, v.encode())

    def struct(d):
        return b"".join(_pb_len(1, _pb_len(1, k.encode()) + _pb_len(2, value(v))) for k, v in d.items())
    return base64.b64encode(struct({"NAME": "bench-client-1", "NAMESPACE": "default", "WORKLOAD_NAME": "bench-client",
                                    "CLUSTER_ID": "Kubernetes", "LABELS": {"app": "bench-client", "version": "v1"}})).decode()


def weft_bootstrap(port, admin_port, up_port, filters=False, retries=False, telemetry=False):
    """A valid Envoy v3 Bootstrap (YAML): static listener -> HCM -> [filters] -> router -> STATIC cluster."""
    return f"""# Envoy v3 bootstrap for weft-proxy (generated by bench/http1.sh)
node:
  id: bench-http1
  cluster: bench
{TELEMETRY_NODE if telemetry else ""}admin:
  address:
    socket_address: {{ address: 127.0.0.1, port_value: {admin_port} }}
static_resources:
  listeners:
  - name: bench_http
    address:
      socket_address: {{ address: 127.0.0.1, port_value: {port} }}
{"    traffic_direction: INBOUND" + chr(10) if telemetry else ""}    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench_http
          codec_type: AUTO
{TRACING if telemetry else ""}          route_config:
            name: bench_route
            virtual_hosts:
            - name: all
              domains: ["*"]
{CORS_POLICY if filters else ""}              routes:
              - match: {{ prefix: "/" }}
                route:
                  cluster: bench_upstream
{RETRY_POLICY if retries else ""}
          http_filters:
{FILTERS if filters else ""}{TELEMETRY if telemetry else ""}          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
{ZIPKIN_CLUSTER if telemetry else ""}  - name: bench_upstream
    type: STATIC
    connect_timeout: 2s
    lb_policy: ROUND_ROBIN
{CIRCUIT_BREAKERS if retries else ""}{TELEMETRY_CLUSTER_METADATA if telemetry else ""}    load_assignment:
      cluster_name: bench_upstream
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: {{ address: 127.0.0.1, port_value: {up_port} }}
"""


# ----------------------------------------------------------------------------- wrk / strace

_UNITS_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}


def _dur_us(tok):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", tok)
    if not m:
        raise ValueError(f"bad wrk duration {tok!r}")
    return float(m.group(1)) * _UNITS_US[m.group(2)]


def parse_wrk(out):
    r = {"requests": None, "rps": None, "p50_us": None, "p99_us": None,
         "sock_errors": 0, "non2xx": 0, "sock_detail": ""}
    m = re.search(r"^\s*(\d+) requests in ([0-9.]+\w+)", out, re.M)
    if m:
        r["requests"] = int(m.group(1))
    m = re.search(r"^Requests/sec:\s*([0-9.]+)", out, re.M)
    if m:
        r["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_us"), ("99", "p99_us")):
        m = re.search(rf"^\s*{pct}(?:\.0+)?%\s+([0-9.]+\w+)", out, re.M)
        if m:
            r[key] = _dur_us(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        c, rd, w, t = map(int, m.groups())
        r["sock_errors"] = c + rd + w + t
        r["sock_detail"] = f"connect {c}, read {rd}, write {w}, timeout {t}"
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        r["non2xx"] = int(m.group(1))
    return r


class Bench:
    def __init__(self, args):
        self.args = args
        self.kids = Children()
        self.tmp = None
        self.pin = True
        self.targets = {}   # name -> dict(proc, port, status, reason, runs, ...)
        self.problems = []  # strings; any -> exit 1
        self.weft_problem = None
        self.noisy = []     # core-0 contention fractions of runs over CONTENTION_MAX

    # -- helpers
    def taskset(self, core, argv):
        return (["taskset", "-c", str(core)] + argv) if self.pin else argv

    def run_wrk(self, port, duration, conns, headers=()):
        extra = [a for h in headers for a in ("-H", h)]
        argv = self.taskset(CLIENT_CORE, ["wrk", "-t1", f"-c{conns}", f"-d{duration}s",
                                          "--timeout", "2s", "--latency"] + extra +
                            [f"http://127.0.0.1:{port}/"])
        p = self.kids.start(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            out, _ = p.communicate(timeout=duration + 30)
        except subprocess.TimeoutExpired:
            self.kids.stop(p)
            raise Abort(f"wrk did not finish within {duration + 30}s")
        self.kids.procs.remove(p)
        out = out.decode("utf-8", "replace")
        if p.returncode != 0:
            raise Abort(f"wrk exited {p.returncode}: {out.strip()[-400:]}")
        r = parse_wrk(out)
        if r["requests"] is None or r["rps"] is None:
            raise Abort(f"could not parse wrk output:\n{out}")
        r["raw"] = out
        return r

    # -- setup
    def check_tools(self):
        need = {"wrk": "wrk", "nginx": "nginx-light", "taskset": "util-linux"}
        if "haproxy" in self.args.targets:
            need["haproxy"] = "haproxy"
        if not self.args.no_strace:
            need["strace"] = "strace"
        missing = [f"{t} (apt-get install -y {pkg})" for t, pkg in need.items() if not shutil.which(t)]
        if missing:
            if missing == [m for m in missing if m.startswith("strace")]:
                warn("strace not found: skipping the syscall pass (apt-get install -y strace)")
                self.args.no_strace = True
            else:
                raise Abort("missing tools: " + "; ".join(missing))
        cpus = os.sched_getaffinity(0)
        if not {PROXY_CORE, CLIENT_CORE} <= cpus:
            warn(f"cores {PROXY_CORE} and {CLIENT_CORE} not both available (have {sorted(cpus)}): "
                 "running unpinned, numbers are less meaningful")
            self.pin = False

    def start_nginx(self, name, conf, port, core):
        path = os.path.join(self.tmp, f"{name}.conf")
        with open(path, "w") as f:
            f.write(conf)
        logp = os.path.join(self.tmp, f"{name}.log")
        test = subprocess.run(["nginx", "-t", "-q", "-p", self.tmp, "-e", os.path.join(self.tmp, f"{name}-error.log"),
                               "-c", path], capture_output=True, text=True, timeout=20)
        if test.returncode != 0:
            return None, f"nginx -t failed for {name}: {(test.stderr or test.stdout).strip()}"
        p = self.kids.start(self.taskset(core, ["nginx", "-p", self.tmp, "-e",
                                                os.path.join(self.tmp, f"{name}-error.log"), "-c", path]),
                            log_path=logp)
        return p, None

    def tail(self, path, n=15):
        try:
            with open(path, errors="replace") as f:
                lines = f.read().splitlines()
            return "\n".join("     | " + l for l in lines[-n:]) or "     | (empty)"
        except OSError:
            return "     | (no log)"

    def start_target(self, name, up_port):
        a = self.args
        port = free_port()
        t = {"name": name, "port": port, "proc": None, "ok": False, "reason": None, "runs": [],
             "log": os.path.join(self.tmp, f"{name}.log"), "strace": None}
        self.targets[name] = t
        if name == "haproxy":
            cfg = os.path.join(self.tmp, "haproxy.cfg")
            with open(cfg, "w") as f:
                f.write(haproxy_conf(port, up_port))
            chk = subprocess.run(["haproxy", "-c", "-q", "-f", cfg], capture_output=True, text=True, timeout=20)
            if chk.returncode != 0:
                t["reason"] = f"haproxy -c failed: {(chk.stderr or chk.stdout).strip()}"
                return t
            t["proc"] = self.kids.start(self.taskset(PROXY_CORE, ["haproxy", "-db", "-f", cfg]), log_path=t["log"])
        elif name == "nginx":
            t["proc"], err = self.start_nginx("nginx-proxy", nginx_proxy_conf(self.tmp, port, up_port), port, PROXY_CORE)
            t["log"] = os.path.join(self.tmp, "nginx-proxy-error.log")
            if err:
                t["reason"] = err
                return t
        elif name in WEFT_TARGETS:
            proxy = a.proxy
            if not os.path.isfile(proxy):
                t["reason"] = f"{proxy} does not exist (not built yet? pass --proxy PATH)"
                return t
            if not os.access(proxy, os.X_OK):
                t["reason"] = f"{proxy} is not executable"
                return t
            admin = free_port()
            t["admin_port"] = admin
            boot = os.path.join(self.tmp, f"{name}-bootstrap.yaml")
            with open(boot, "w") as f:
                f.write(weft_bootstrap(port, admin, up_port, filters=name == "weft-filters",
                                       retries=name == "weft-retries", telemetry=name == "weft-telemetry"))
            argv = [proxy, "-c", boot, "--concurrency", "1"] + a.proxy_arg
            if name == "weft-telemetry":
                t["headers"] = ["x-envoy-peer-metadata-id: sidecar~127.0.0.1~bench-client-1.default~default.svc.cluster.local",
                                "x-envoy-peer-metadata: " + peer_metadata_header()]
            t["proc"] = self.kids.start(self.taskset(PROXY_CORE, argv), log_path=t["log"])
        else:
            raise ValueError(name)

        if not wait_accepting(port, t["proc"], timeout=a.start_timeout):
            rc = t["proc"].poll()
            why = f"exited with status {rc}" if rc is not None else f"not accepting on 127.0.0.1:{port} after {a.start_timeout:g}s"
            t["reason"] = f"{LABEL[name]} {why}; last lines of {t['log']}:\n{self.tail(t['log'])}"
            self.kids.stop(t["proc"])
            t["proc"] = None
            return t
        if name in WEFT_TARGETS and not wait_accepting(t["admin_port"], t["proc"], timeout=3):
            warn(f"weft-proxy admin not accepting on 127.0.0.1:{t['admin_port']} (continuing)")
        time.sleep(0.3)  # let it settle before the idle RSS sample
        pids = proc_tree(t["proc"].pid)
        t["idle_rss_kb"] = rss_kb(pids)
        t["threads"] = nthreads(pids)
        t["nprocs"] = len(pids)
        err = sanity_check(port)
        if err:
            t["reason"] = f"sanity check failed: {err}"
            self.kids.stop(t["proc"])
            t["proc"] = None
            return t
        t["ok"] = True
        return t

    # -- measurement
    def measure(self, t, duration):
        """One timed wrk run against target t; returns the run record."""
        pids = proc_tree(self.cpu_root(t).pid)
        up_pids = proc_tree(self.upstream.pid)
        k0 = [core_ticks(PROXY_CORE), core_ticks(CLIENT_CORE)]
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        c0, u0, w0 = cpu_ticks(pids), cpu_ticks(up_pids), time.monotonic()
        r = self.run_wrk(t["port"], duration, self.args.connections, t.get("headers", ()))
        pids = proc_tree(self.cpu_root(t).pid)
        up_pids = proc_tree(self.upstream.pid)
        c1, u1, w1 = cpu_ticks(pids), cpu_ticks(up_pids), time.monotonic()
        k1 = [core_ticks(PROXY_CORE), core_ticks(CLIENT_CORE)]
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        r.pop("raw", None)
        n = max(r["requests"], 1)
        r["cpu_us_req"] = (c1 - c0) * 1e6 / CLK_TCK / n
        r["up_cpu_us_req"] = (u1 - u0) * 1e6 / CLK_TCK / n
        r["cpu_util"] = (c1 - c0) / CLK_TCK / (w1 - w0)
        r["rss_kb"] = rss_kb(pids)
        # CPU time on our two cores used by anything but the benchmark (e.g. a build): it steals
        # cycles from the proxy (core 0) or throttles the load generator (core 1).
        wrk_ticks = ((ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)) * CLK_TCK
        proxy_ticks = 0 if t["name"] == "direct" else (c1 - c0)
        own = [proxy_ticks, (u1 - u0) + wrk_ticks]
        r["other_cpu"] = [max(0.0, (k1[i][0] - k0[i][0]) - own[i]) / max(k1[i][1] - k0[i][1], 1)
                          if self.pin else 0.0 for i in range(2)]
        if t["name"] == "direct":
            r["other_cpu"][0] = 0.0  # direct does not use the proxy core
        return r

    def cpu_root(self, t):
        return self.upstream if t["name"] == "direct" else t["proc"]

    def alive(self, t):
        p = self.cpu_root(t)
        if p.poll() is not None:
            t["ok"] = False
            t["reason"] = f"{LABEL[t['name']]} died (status {p.returncode}); log:\n{self.tail(t['log'])}"
            self.problems.append(f"{LABEL[t['name']]} died during the benchmark")
            return False
        return True

    def strace_pass(self, t):
        pids = proc_tree(self.cpu_root(t).pid)
        outp = os.path.join(self.tmp, f"strace-{t['name']}.txt")
        argv = ["strace", "-c", "-f", "-o", outp]
        for pid in pids:
            argv += ["-p", str(pid)]
        errp = os.path.join(self.tmp, f"strace-{t['name']}.err")
        st = self.kids.start(argv, log_path=errp)
        # Wait until strace reports every pid attached (or gives up).
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if st.poll() is not None:
                break
            with open(errp, errors="replace") as f:
                txt = f.read()
            if all(re.search(rf"Process {pid} attached", txt) for pid in pids):
                break
            time.sleep(0.05)
        if st.poll() is not None:
            self.kids.procs.remove(st)
            return {"error": "strace failed: " + self.tail(errp, 3).strip()}
        time.sleep(0.2)
        try:
            r = self.run_wrk(t["port"], self.args.strace_duration, self.args.connections, t.get("headers", ()))
        finally:
            st.send_signal(signal.SIGINT)  # detach; strace writes the -c summary
            try:
                st.wait(15)
            except subprocess.TimeoutExpired:
                pass
            self.kids.stop(st)
        calls = {}
        total = None
        try:
            with open(outp) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) < 5 or not re.fullmatch(r"[0-9.]+", parts[0]):
                        continue
                    name = parts[-1]
                    if name == "total":
                        total = int(parts[3])
                    else:
                        calls[name] = int(parts[3])
        except OSError:
            pass
        if total is None:
            return {"error": "no strace summary"}
        n = max(r["requests"], 1)
        top = sorted(calls.items(), key=lambda kv: -kv[1])[:5]
        return {"requests": r["requests"], "per_req": total / n,
                "top": [(k, v / n) for k, v in top],
                "errors": r["sock_errors"] + r["non2xx"]}

    # -- main flow
    def run(self):
        a = self.args
        self.check_tools()
        self.tmp = tempfile.mkdtemp(prefix="weft-bench-http1-")
        os.chmod(self.tmp, 0o755)  # nginx workers run as an unprivileged user
        log(f"weft HTTP/1.1 proxy benchmark: {a.rounds} round(s) x {a.duration}s, wrk -t1 -c{a.connections}, "
            f"body {len(BODY)} B; proxies on core {PROXY_CORE}, wrk + upstream on core {CLIENT_CORE}"
            + ("" if self.pin else " (UNPINNED)"))
        log(f"tmp dir {self.tmp}")
        if self.pin:
            idle = busy_elsewhere(1.0)
            if max(idle) > 0.10:
                warn(f"the machine is busy before the benchmark starts: core {PROXY_CORE} {idle[0] * 100:.0f}%, "
                     f"core {CLIENT_CORE} {idle[1] * 100:.0f}% used by other processes -- results will be noisy")

        up_port = free_port()
        self.upstream, err = self.start_nginx("upstream", nginx_upstream_conf(self.tmp, up_port), up_port, CLIENT_CORE)
        if err:
            raise Abort(err)
        if not wait_accepting(up_port, self.upstream, a.start_timeout):
            raise Abort("upstream nginx did not start:\n" + self.tail(os.path.join(self.tmp, "upstream-error.log")))
        err = sanity_check(up_port)
        if err:
            raise Abort(f"upstream nginx sanity check: {err}")
        d = {"name": "direct", "port": up_port, "proc": self.upstream, "ok": True, "reason": None, "runs": [],
             "log": os.path.join(self.tmp, "upstream-error.log"), "strace": None}
        pids = proc_tree(self.upstream.pid)
        d["idle_rss_kb"], d["threads"], d["nprocs"] = rss_kb(pids), nthreads(pids), len(pids)
        self.targets["direct"] = d

        for name in TARGET_ORDER:
            if name == "direct" or name not in a.targets:
                continue
            t = self.start_target(name, up_port)
            if t["ok"]:
                log(f"  {LABEL[name]:<11} up on 127.0.0.1:{t['port']} pid {t['proc'].pid} "
                    f"({t['nprocs']} proc, {t['threads']} thr, idle RSS {t['idle_rss_kb'] / 1024:.1f} MB)")
            else:
                warn(f"{LABEL[name]} not benchmarked: {t['reason']}")
                if name in WEFT_TARGETS:
                    self.weft_problem = t["reason"]
                else:
                    self.problems.append(f"{LABEL[name]} failed to start")

        order = [n for n in TARGET_ORDER if n in a.targets and self.targets.get(n, {}).get("ok")]
        if a.warmup > 0:
            for name in order:
                self.run_wrk(self.targets[name]["port"], a.warmup, a.connections,
                             self.targets[name].get("headers", ()))

        for rnd in range(a.rounds):
            k = rnd % len(order) if order else 0
            rorder = order[k:] + order[:k]
            log(f"round {rnd + 1}/{a.rounds}: " + ", ".join(LABEL[n] for n in rorder))
            for name in rorder:
                t = self.targets[name]
                if not t["ok"] or not self.alive(t):
                    continue
                r = self.measure(t, a.duration)
                t["runs"].append(r)
                flag = ""
                if r["sock_errors"] or r["non2xx"]:
                    flag = f"  ERRORS: non-2xx {r['non2xx']}, socket errors {r['sock_detail'] or '0'}"
                if max(r["other_cpu"]) > CONTENTION_MAX:
                    flag += (f"  NOISY: other processes used {r['other_cpu'][0] * 100:.0f}% of core {PROXY_CORE}, "
                             f"{r['other_cpu'][1] * 100:.0f}% of core {CLIENT_CORE}")
                    self.noisy.append(max(r["other_cpu"]))
                log(f"  {LABEL[name]:<11} {r['rps']:>9.0f} req/s  p50 {fmt_us(r['p50_us']):>8}  "
                    f"p99 {fmt_us(r['p99_us']):>8}  cpu {r['cpu_us_req']:6.2f} us/req "
                    f"({r['cpu_util'] * 100:3.0f}% core)  rss {r['rss_kb'] / 1024:5.1f} MB{flag}")
                self.alive(t)

        if not a.no_strace:
            log(f"syscall pass (strace -c -f, {a.strace_duration}s each, not timed)")
            for name in order:
                t = self.targets[name]
                if not t["ok"] or not self.alive(t):
                    continue
                t["strace"] = self.strace_pass(t)
                s = t["strace"]
                if "error" in s:
                    warn(f"{LABEL[name]}: {s['error']}")

        for name in order:  # the proxy must still be serving the right bytes after load
            t = self.targets[name]
            if t["ok"] and self.alive(t):
                err = sanity_check(t["port"])
                if err:
                    t["ok"] = False
                    t["reason"] = f"post-load sanity check failed: {err}"
                    self.problems.append(f"{LABEL[name]}: {t['reason']}")

        return self.report()

    # -- output
    def report(self):
        a = self.args
        rows = {}
        log("")
        log(f"medians over {a.rounds} round(s) of {a.duration}s   "
            "(cpu = the target's own processes: upstream nginx for direct; up = upstream nginx)")
        hdr = (f"{'target':<11} {'req/s':>9} {'p50':>8} {'p99':>8} {'cpu us/req':>10} {'up us/req':>9} "
               f"{'syscall/req':>11} {'RSS idle':>8} {'RSS load':>8}  errors")
        log(hdr)
        log("-" * len(hdr))
        for name in TARGET_ORDER:
            if name not in self.targets:
                continue
            t = self.targets[name]
            runs = t["runs"]
            if not runs:
                why = (t["reason"] or "no runs").splitlines()[0].split("; last lines of")[0]
                log(f"{LABEL[name]:<11} not run: {why}")
                continue
            med = lambda k: statistics.median(r[k] for r in runs if r[k] is not None) \
                if any(r[k] is not None for r in runs) else None
            row = {k: med(k) for k in ("rps", "p50_us", "p99_us", "cpu_us_req", "up_cpu_us_req")}
            row["idle_rss_mb"] = t["idle_rss_kb"] / 1024
            row["load_rss_mb"] = max(r["rss_kb"] for r in runs) / 1024
            errs = sum(r["sock_errors"] + r["non2xx"] for r in runs)
            row["errors"] = errs
            s = t.get("strace") or {}
            row["syscalls_per_req"] = s.get("per_req")
            rows[name] = row
            if errs:
                self.problems.append(f"{LABEL[name]} had {errs} failed requests (non-2xx or socket errors)")
            err_txt = "0" if not errs else f"{errs} !! INVALID"
            if not t["ok"] and t["reason"]:
                err_txt += " !! " + t["reason"].splitlines()[0]
            up = "-" if name == "direct" else f"{row['up_cpu_us_req']:.2f}"
            sc = "-" if row["syscalls_per_req"] is None else f"{row['syscalls_per_req']:.2f}"
            log(f"{LABEL[name]:<11} {row['rps']:>9.0f} {fmt_us(row['p50_us']):>8} {fmt_us(row['p99_us']):>8} "
                f"{row['cpu_us_req']:>10.2f} {up:>9} {sc:>11} {row['idle_rss_mb']:>6.1f}MB {row['load_rss_mb']:>6.1f}MB  {err_txt}")

        if not a.no_strace:
            log("")
            log("syscalls per request (strace pass), top 5:")
            for name in TARGET_ORDER:
                s = (self.targets.get(name) or {}).get("strace")
                if s and "error" not in s:
                    top = "  ".join(f"{k} {v:.2f}" for k, v in s["top"])
                    e = f"  ({s['errors']} errors)" if s["errors"] else ""
                    log(f"  {LABEL[name]:<11} {s['per_req']:5.2f} = {top}{e}")

        # weft vs the others
        missed = []
        log("")
        if "weft" not in a.targets:
            log("weft-proxy: not selected (--targets)")
        elif "weft" not in rows:
            why = self.weft_problem or (self.targets.get("weft") or {}).get("reason") or "no runs"
            log("weft-proxy: NOT BENCHMARKED -- " + why.splitlines()[0])
            for extra in why.splitlines()[1:]:
                log(extra)
        else:
            w = rows["weft"]
            others = [n for n in ("haproxy", "nginx") if n in rows]
            log("weft-proxy vs " + (" / ".join(LABEL[n] for n in others) or "nothing (no other proxy ran)")
                + " (medians):")
            invalid = [LABEL[n] for n in ["weft"] + others if rows[n]["errors"]]
            if invalid:
                log(f"  !! INVALID comparison: {', '.join(invalid)} returned errors; targets count as missed")
                missed.append("errors")
            for key, label, unit in (("cpu_us_req", "CPU us/req", "us"), ("p99_us", "p99", "lat"),
                                     ("rps", "req/s", "")):
                parts = []
                for other in ("haproxy", "nginx"):
                    if other in rows and rows[other][key]:
                        ratio = w[key] / rows[other][key]
                        parts.append(f"{ratio:.2f}x {LABEL[other]}")
                val = fmt_us(w[key]) if unit == "lat" else (f"{w[key]:.2f}" if unit == "us" else f"{w[key]:.0f}")
                log(f"  {label:<11} {val:>9}   " + ",  ".join(parts))
            log("targets:")
            if "haproxy" in rows:
                cr = w["cpu_us_req"] / rows["haproxy"]["cpu_us_req"]
                ok = cr <= CPU_RATIO_MAX and not invalid
                goal = "goal met" if cr <= CPU_RATIO_GOAL else f"goal {CPU_RATIO_GOAL:.1f}x not yet"
                log(f"  CPU/req <= HAProxy ({CPU_RATIO_MAX:.1f}x; goal {CPU_RATIO_GOAL:.1f}x): {cr:.2f}x  "
                    f"{'PASS' if ok else 'FAIL'} ({goal})")
                if not ok:
                    missed.append("cpu")
                pr = w["p99_us"] / rows["haproxy"]["p99_us"]
                ok = pr <= P99_RATIO_MAX and not invalid
                log(f"  p99 <= HAProxy: {fmt_us(w['p99_us'])} vs {fmt_us(rows['haproxy']['p99_us'])} ({pr:.2f}x)  "
                    f"{'PASS' if ok else 'FAIL'}")
                if not ok:
                    missed.append("p99")
            else:
                log("  CPU/req and p99 vs HAProxy: n/a (HAProxy not benchmarked)")
            ok = w["idle_rss_mb"] <= RSS_TARGET_MB
            log(f"  idle RSS <= {RSS_TARGET_MB:g} MB: {w['idle_rss_mb']:.1f} MB  {'PASS' if ok else 'FAIL'}"
                f"   (after load {w['load_rss_mb']:.1f} MB)")
            if not ok:
                missed.append("rss")
            # Configured-but-idle features against the router alone, each within the same budget.
            for target, what, key in (("weft-retries", "Istio's default retries, circuit breakers and outlier detection, no failures",
                                       "retries"),
                                      ("weft-filters", "fault+CORS+local rate limit configured, none triggering",
                                       "filters"),
                                      ("weft-telemetry", "Istio's metadata exchange, standard metrics and tracing (1%, Zipkin)", "telemetry")):
                if target not in rows:
                    continue
                # Paired by round (the two ran one after the other), then the median: the machine's
                # speed drifts between rounds, which a ratio of medians would count as cost.
                pairs = sorted(a_["cpu_us_req"] / b_["cpu_us_req"]
                               for a_, b_ in zip(self.targets[target]["runs"], self.targets["weft"]["runs"])
                               if b_.get("cpu_us_req"))
                ratio = pairs[len(pairs) // 2] if pairs else rows[target]["cpu_us_req"] / w["cpu_us_req"]
                limit = TELEMETRY_CPU_RATIO_MAX if target == "weft-telemetry" else FILTERS_CPU_RATIO_MAX
                ok = ratio <= limit and not rows[target]["errors"]
                log(f"  CPU/req with {what}, <= {limit:.2f}x the router alone: "
                    f"{rows[target]['cpu_us_req']:.2f} vs {w['cpu_us_req']:.2f} (medians); median of per-round "
                    f"ratios {ratio:.3f}x (spread {pairs[0]:.3f}-{pairs[-1]:.3f})  {'PASS' if ok else 'FAIL'}")
                if not ok:
                    missed.append(key)

        if a.json:
            out = {"rounds": a.rounds, "duration_s": a.duration, "connections": a.connections,
                   "body_bytes": len(BODY), "medians": rows,
                   "runs": {n: t["runs"] for n, t in self.targets.items()},
                   "strace": {n: t.get("strace") for n, t in self.targets.items()},
                   "weft_problem": self.weft_problem, "problems": self.problems, "missed_targets": missed}
            with open(a.json, "w") as f:
                json.dump(out, f, indent=2)
            log(f"wrote {a.json}")

        log("")
        if self.noisy:
            warn(f"{len(self.noisy)} run(s) shared their cores with other processes (up to "
                 f"{max(self.noisy) * 100:.0f}% of it): treat the numbers as noisy and rerun on an idle machine")
        if self.problems:
            for p in dict.fromkeys(self.problems):
                warn(p)
            log("RESULT: INVALID (errors above; exit 1)")
            return 1
        if self.weft_problem:
            log("RESULT: weft-proxy not benchmarked (exit 2); other targets OK")
            return 2
        if missed and a.strict:
            log(f"RESULT: weft-proxy missed targets: {', '.join(missed)} (exit 3, --strict)")
            return 3
        log("RESULT: OK" + (f" (weft-proxy missed: {', '.join(missed)})" if missed else ""))
        return 0

    def cleanup(self):
        self.kids.stop_all()
        if self.tmp and os.path.isdir(self.tmp):
            if self.args.keep_tmp:
                log(f"kept {self.tmp}")
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)


def fmt_us(us):
    if us is None:
        return "-"
    if us < 1000:
        return f"{us:.0f}us"
    if us < 1e6:
        return f"{us / 1e3:.2f}ms"
    return f"{us / 1e6:.2f}s"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench/http1.sh", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--duration", type=int, default=10, help="seconds of wrk load per target per round (default 10)")
    ap.add_argument("--proxy", default=os.path.join(REPO, "build", "bin", "weft-proxy"),
                    help="weft-proxy binary (default build/bin/weft-proxy)")
    ap.add_argument("--proxy-arg", action="append", default=[],
                    help="extra argument for weft-proxy (repeatable), e.g. --proxy-arg=-l --proxy-arg=warn")
    ap.add_argument("--targets", default=",".join(TARGET_ORDER),
                    help="comma list from direct,weft,weft-filters,haproxy,nginx (default all)")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed warm-up seconds per target (default 1)")
    ap.add_argument("--strace-duration", type=int, default=3, help="seconds of load in the strace pass (default 3)")
    ap.add_argument("--no-strace", action="store_true", help="skip the syscall-count pass")
    ap.add_argument("--start-timeout", type=float, default=10.0, help="seconds to wait for a server to accept")
    ap.add_argument("--json", help="also write raw results as JSON to this file")
    ap.add_argument("--strict", action="store_true", help="exit 3 if weft-proxy misses a target")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (configs, logs) for inspection")
    a = ap.parse_args(argv)
    a.targets = [x.strip() for x in a.targets.split(",") if x.strip()]
    bad = [x for x in a.targets if x not in TARGET_ORDER]
    if bad or not a.targets:
        ap.error(f"unknown target(s) {bad}; choose from {','.join(TARGET_ORDER)}")
    if "direct" not in a.targets:
        a.targets.append("direct")  # the upstream always runs; it is cheap to measure
    for k in ("rounds", "duration", "connections", "strace_duration"):
        if getattr(a, k) < 1:
            ap.error(f"--{k.replace('_', '-')} must be >= 1")
    if a.rounds * a.duration * 4 > 3600:
        ap.error("refusing a run longer than an hour (rounds x duration x 4 targets)")
    a.proxy = os.path.abspath(a.proxy)
    return run_bench(Bench(a))


def run_bench(bench):
    """Signal handling and cleanup around bench.run() (an object with run() and cleanup());
    the entry of every bench/*.sh."""
    global _libc
    try:
        _libc = ctypes.CDLL(None, use_errno=True)  # PR_SET_PDEATHSIG for children
    except OSError:
        _libc = None

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    # Explicit even for SIGINT: a shell that starts us in the background sets SIGINT to ignored.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    rc = 1
    try:
        rc = bench.run()
    except Abort as e:
        warn(f"benchmark aborted: {e}")
        rc = 1
    except KeyboardInterrupt:
        warn("interrupted; cleaning up")
        rc = 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # finish cleanup even on a second Ctrl-C
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        bench.cleanup()
    return rc


if __name__ == "__main__":
    sys.exit(main())
