"""HTTP/2 in weft-proxy (nghttp2): h2c prior knowledge and AUTO preface detection downstream,
codec HTTP1 / HTTP2 listeners, h2 upstream clusters (HttpProtocolOptions explicit_http_config and
use_downstream_protocol_config) with h1 <-> h2 translation, multiplexing, SETTINGS
(max_concurrent_streams), upstream connection reuse, flow control with bounded memory (100 MB
up and down, a slow reader), GOAWAY on drain, RST_STREAM when the upstream dies mid-response,
PING keepalive, TLS with ALPN h2, and config errors.

Clients: curl (`--http2-prior-knowledge`, `--http2` over TLS), nghttp (`nghttp -nv` prints every
frame), h2load, and `H2Conn` below: a minimal raw HTTP/2 client on a socket (frames, HPACK
literals out; in, only the frame types and the `:status` of a static-table index), for the
tests that need to order frames on one connection (new stream after GOAWAY, a stream after a
reset).

Upstreams: examples/backend/echo_server.py (HTTP/1.1), a second weft-proxy whose codec HTTP2 /
AUTO listeners front that echo server (an h2-only upstream, whose own stats show what protocol
the upstream hop spoke), nginx with `listen PORT http2` proxying to the echo server (a non-weft
h2c upstream; its tests skip without nginx), and an in-process raw server that dies
mid-response.

Proxy bugs these tests found (h2c upgrade answered 403, a doubled x-envoy-upstream-service-time,
a PING timeout that never fired, stalled bodies) are fixed; the tests guard them."""

import hashlib
import json
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import threading
import time
import types

import pytest

import echo_server
import weft_harness as wh
from weft_harness import expect_status

A = "a.example.com"

for _tool in ("curl", "nghttp", "h2load"):
    if shutil.which(_tool) is None:
        pytest.skip("%s is not installed (Debian: curl, nghttp2-client)" % _tool, allow_module_level=True)

HTTP_OPTIONS_KEY = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
HTTP_OPTIONS_TYPE = "type.googleapis.com/" + HTTP_OPTIONS_KEY


def h2_cluster(name, ports, **extra):
    """A cluster that speaks HTTP/2 (prior knowledge) to its endpoints."""
    return wh.cluster(name, ports, typed_extension_protocol_options={HTTP_OPTIONS_KEY: {
        "@type": HTTP_OPTIONS_TYPE, "explicit_http_config": {"http2_protocol_options": {}}}},
        **extra)


def downstream_protocol_cluster(name, ports):
    """A cluster that speaks to its endpoints whatever the downstream client spoke."""
    return wh.cluster(name, ports, typed_extension_protocol_options={HTTP_OPTIONS_KEY: {
        "@type": HTTP_OPTIONS_TYPE,
        "use_downstream_protocol_config": {"http_protocol_options": {},
                                           "http2_protocol_options": {}}}})


def redirect_route(prefix, **redirect):
    return {"match": {"prefix": prefix}, "redirect": redirect}


# ---------------------------------------------------------------------------------------------
# clients
# ---------------------------------------------------------------------------------------------

def h2c(port, path, args=(), host=wh.LOOPBACK, timeout=20.0):
    """curl with HTTP/2 prior knowledge (h2c). Returns CompletedProcess."""
    return wh.curl(["--http2-prior-knowledge"] + list(args) + ["http://%s:%d%s" % (host, port, path)],
                   timeout=timeout)


def h1(port, path, args=(), timeout=20.0):
    return wh.curl(["--http1.1"] + list(args) + ["http://%s:%d%s" % (wh.LOOPBACK, port, path)],
                   timeout=timeout)


def curl_head(r):
    """(http version, status, {lower name: value}) from `curl -i` / `-D -` output (the last
    response head in it)."""
    text = r.stdout.replace("\r\n", "\n")
    heads = [m for m in re.finditer(r"^HTTP/(\S+) (\d{3})[^\n]*\n((?:[^\n]+\n)*)\n?", text, re.M)]
    assert heads, "no response head in curl output: rc=%d stdout %r stderr %r" % (
        r.returncode, r.stdout[:800], r.stderr[-800:])
    m = heads[-1]
    headers = {}
    for line in m.group(3).splitlines():
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return m.group(1), int(m.group(2)), headers


def curl_body(r):
    """The body of a `curl -i` response (after the last head)."""
    text = r.stdout.replace("\r\n", "\n")
    idx = text.rfind("\n\n")
    return text[idx + 2:] if idx >= 0 else ""


def run(cmd, timeout=30.0):
    try:
        return subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, timeout=timeout, text=True, errors="replace")
    except subprocess.TimeoutExpired as exc:
        raise AssertionError("%s did not finish within %.0fs; stdout %r" % (
            " ".join(map(str, cmd)), timeout, (exc.stdout or b"")[-2000:])) from None


def h2load(url, n, c, m, timeout=40.0):
    """Run h2load; returns (CompletedProcess, {"total", "started", "done", "succeeded", "failed",
    "errored", "timeout", "2xx", "3xx", "4xx", "5xx"})."""
    r = run(["h2load", "-n", n, "-c", c, "-m", m, url], timeout)
    counts = {}
    m1 = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                   r"(\d+) failed, (\d+) errored, (\d+) timeout", r.stdout)
    m2 = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", r.stdout)
    if m1:
        counts.update(zip(("total", "started", "done", "succeeded", "failed", "errored", "timeout"),
                          map(int, m1.groups())))
    if m2:
        counts.update(zip(("2xx", "3xx", "4xx", "5xx"), map(int, m2.groups())))
    return r, counts


def nghttp(urls, args=(), timeout=20.0):
    """nghttp -nv (frames printed, bodies discarded). All URLs share one connection."""
    return run(["nghttp", "-nv"] + list(args) + list(urls), timeout)


def nghttp_frames(text, direction, kind):
    """Lines like 'recv SETTINGS frame <length=..., flags=..., stream_id=...>' with what follows
    each (up to the next frame line), as a list of strings."""
    out = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.search(r"\b%s %s frame\b" % (direction, kind), line):
            block = [line]
            for nxt in lines[i + 1:]:
                if re.search(r"\b(recv|send) \S+ frame\b", nxt):
                    break
                block.append(nxt)
            out.append("\n".join(block))
    return out


from h2_client import (ACK, CONTINUATION, DATA, END_HEADERS, END_STREAM, FRAME_NAMES, GOAWAY,  # noqa: F401
                       HEADERS, PADDED, PING, PREFACE, PRIORITY, PRIORITY_FLAG, PUSH_PROMISE, RST_STREAM,
                       SETTINGS, STATIC_STATUS, WINDOW_UPDATE, Frame, H2Conn, header_block_status,
                       hpack_int, hpack_literal)

# ---------------------------------------------------------------------------------------------
# upstreams
# ---------------------------------------------------------------------------------------------

class DyingServer:
    """An HTTP/1.1 upstream that answers 200 with Content-Length: 10000000, sends `send` bytes of
    the body and then resets the connection (SO_LINGER 0)."""

    def __init__(self, send=200_000):
        self.send = send
        self.accepted = 0
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((wh.LOOPBACK, 0))
        self.lsock.listen(64)
        self.lsock.settimeout(0.1)
        self.port = self.lsock.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.settimeout(5)
            buf = b""
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                         b"Content-Length: 10000000\r\n\r\n" + b"x" * self.send)
            time.sleep(0.2)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self._stop.set()
        self.lsock.close()


class NginxH2:
    """nginx as an h2c-only upstream (`listen PORT http2`, prior knowledge) proxying to the echo
    server over HTTP/1.1, streaming both ways; the echo server sees `x-nginx-proto: HTTP/2.0`
    when the hop into nginx was HTTP/2. A non-weft HTTP/2 peer for the proxy's h2 client."""

    def __init__(self, workdir, echo_port):
        self.dir = os.path.join(str(workdir), "nginx-h2")
        os.makedirs(self.dir, exist_ok=True)
        self.port = wh.free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        d = self.dir
        with open(conf, "w") as f:
            f.write("""worker_processes 1;
daemon off;
master_process off;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fastcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    server {
        listen 127.0.0.1:%(port)d http2;
        client_max_body_size 0;
        location / {
            proxy_pass http://127.0.0.1:%(echo)d;
            proxy_http_version 1.1;
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_set_header Host $host;
            proxy_set_header X-Nginx-Proto $server_protocol;
        }
    }
}
""" % {"d": d, "port": self.port, "echo": echo_port})
        self.error_log = os.path.join(d, "error.log")
        self.log = open(os.path.join(d, "nginx.out"), "wb")
        self.proc = subprocess.Popen(["nginx", "-p", d, "-e", self.error_log, "-c", conf],
                                     stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        ok = wh.wait_for(lambda: self.proc.poll() is not None or not wh.connect_refused(self.port), 5)
        if self.proc.poll() is not None or not ok:
            raise RuntimeError("nginx did not start: %s" % open(os.path.join(d, "nginx.out")).read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(3)
        self.log.close()


# ---------------------------------------------------------------------------------------------
# the shared setup: a front proxy and an h2-only upstream proxy, both with one worker
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def env(weft_module):
    h = weft_module
    echo = h.echo("echo")
    dying = DyingServer()
    h._servers.append(dying)
    nginx = None
    if shutil.which("nginx"):
        nginx = NginxH2(h.workdir, echo.port)
        h._servers.append(nginx)

    # the upstream proxy: codec HTTP2 (h2c only) and AUTO listeners in front of the echo server
    up_h2, up_auto, up_admin = h.port(), h.port(), h.port()
    up_routes = [wh.vhost("all", ["*"], [wh.route_to("echo")])]
    up = h.start_proxy(wh.bootstrap(up_admin, listeners=[
        wh.http_listener("up_h2", up_h2, up_routes, stat_prefix="up_h2",
                         hcm_extra={"codec_type": "HTTP2"}),
        wh.http_listener("up_auto", up_auto, up_routes, stat_prefix="up_auto"),
    ], clusters=[wh.cluster("echo", [echo.port])]), concurrency=1, name="upstream")

    ports = {k: h.port() for k in ("auto", "h1", "h2", "limit", "ka")}
    admin = h.port()
    routes = [
        wh.direct(200, "hello from weft", prefix="/direct"),
        redirect_route("/redirect", path_redirect="/moved", response_code="MOVED_PERMANENTLY"),
        wh.route_to("h2up", prefix="/h2up/", prefix_rewrite="/"),
        wh.route_to("h2reuse", prefix="/h2reuse/"),
        wh.route_to("nginx", prefix="/nginx/", prefix_rewrite="/"),
        wh.route_to("ds", prefix="/ds/"),
        wh.route_to("dying", prefix="/dies"),
        wh.route_to("echo", prefix="/"),
    ]
    vhosts = [wh.vhost("nr", ["nr.test"], [wh.direct(200, "only", match={"path": "/only"})]),
              wh.vhost("all", ["*"], routes)]
    echo_only = [wh.vhost("all", ["*"], [wh.route_to("echo")])]
    front = h.start_proxy(wh.bootstrap(admin, listeners=[
        wh.http_listener("auto", ports["auto"], vhosts, stat_prefix="auto"),
        wh.http_listener("h1", ports["h1"], echo_only, stat_prefix="h1only",
                         hcm_extra={"codec_type": "HTTP1"}),
        wh.http_listener("h2", ports["h2"], echo_only, stat_prefix="h2only",
                         hcm_extra={"codec_type": "HTTP2"}),
        wh.http_listener("limit", ports["limit"], vhosts, stat_prefix="limit",
                         hcm_extra={"codec_type": "HTTP2",
                                    "http2_protocol_options": {"max_concurrent_streams": 5}}),
        wh.http_listener("ka", ports["ka"], echo_only, stat_prefix="ka",
                         hcm_extra={"codec_type": "HTTP2", "http2_protocol_options": {
                             "connection_keepalive": {"interval": "0.2s", "timeout": "1s"}}}),
    ], clusters=[
        wh.cluster("echo", [echo.port]),
        wh.cluster("dying", [dying.port]),
        h2_cluster("h2up", [up_h2]),
        h2_cluster("h2reuse", [up_h2]),
        downstream_protocol_cluster("ds", [up_auto]),
        h2_cluster("nginx", [nginx.port if nginx else 9]),
    ]), concurrency=1, name="front")
    return types.SimpleNamespace(harness=h, proxy=front, up=up, echo=echo, dying=dying, nginx=nginx,
                                 **ports)


def echo_json(r, what, proxy):
    assert r.returncode == 0, "%s: curl rc=%d stderr %s%s" % (what, r.returncode, r.stderr[-1500:],
                                                              proxy.ctx())
    version, status, headers = curl_head(r)
    assert status == 200, "%s: HTTP %s %d %r body %r%s" % (what, version, status, headers,
                                                          curl_body(r)[:500], proxy.ctx())
    return version, headers, json.loads(curl_body(r))


# ---------------------------------------------------------------------------------------------
# h2c downstream -> HTTP/1.1 upstream
# ---------------------------------------------------------------------------------------------

def test_h2c_get_reaches_h1_upstream(env):
    r = h2c(env.auto, "/get?x=1", ["-i", "-H", "x-custom: abc"])
    version, headers, seen = echo_json(r, "h2c GET", env.proxy)
    assert version == "2", "expected an HTTP/2 response, got HTTP/%s" % version
    assert seen["http_version"] == "HTTP/1.1", seen
    assert seen["method"] == "GET" and seen["path"] == "/get?x=1", seen
    hdrs = seen["headers"]
    assert hdrs.get("host") == "%s:%d" % (wh.LOOPBACK, env.auto), (
        ":authority must become Host on the HTTP/1.1 hop: %r" % hdrs)
    assert hdrs.get("x-custom") == "abc", hdrs
    assert hdrs.get("x-forwarded-proto") == "http", hdrs
    assert wh.UUID_RE.match(hdrs.get("x-request-id", "")), hdrs
    assert not any(k.startswith(":") for k in hdrs), "pseudo-headers leaked upstream: %r" % hdrs
    assert headers.get("x-echo-server") == "echo", headers
    assert "connection" not in headers and "transfer-encoding" not in headers, (
        "connection-specific headers are not allowed in HTTP/2 responses: %r" % headers)


def test_h2c_post_body_sha(env, tmp_path):
    data = os.urandom(700_000 + 17)
    f = tmp_path / "body.bin"
    f.write_bytes(data)
    r = h2c(env.auto, "/post", ["-i", "--data-binary", "@%s" % f, "-H",
                                "content-type: application/octet-stream"])
    version, _, seen = echo_json(r, "h2c POST 700 KB", env.proxy)
    assert version == "2"
    assert seen["method"] == "POST"
    assert seen["headers"].get("content-length") == str(len(data)), seen["headers"]
    assert (seen["body_len"], seen["body_sha256"]) == (len(data), wh.sha256(data)), seen


def test_h2c_post_without_content_length_is_chunked_upstream(env):
    # curl -T - sends the body as DATA frames with no content-length
    data = os.urandom(200_000)
    p = subprocess.run(["curl", "-sS", "--max-time", "10", "--http2-prior-knowledge", "-T", "-",
                        "http://%s:%d/put" % (wh.LOOPBACK, env.auto)], input=data,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    assert p.returncode == 0, p.stderr
    seen = json.loads(p.stdout)
    assert seen["method"] == "PUT"
    assert (seen["body_len"], seen["body_sha256"]) == (len(data), wh.sha256(data)), seen
    assert seen["headers"].get("transfer-encoding") == "chunked" and "content-length" not in seen["headers"], (
        "an h2 body without content-length needs chunked framing on the HTTP/1.1 hop: %r" % seen["headers"])


def test_h2c_head(env):
    r = h2c(env.auto, "/bytes/5000", ["-I"])
    assert r.returncode == 0, r.stderr
    version, status, headers = curl_head(r)
    assert (version, status) == ("2", 200), r.stdout
    assert headers.get("content-length") == "5000", headers
    assert curl_body(r) == "", "HEAD must have no body: %r" % r.stdout[-300:]


def test_h2c_responses_content_length_and_chunked(env):
    rc, sha, n, err = curl_sha(["--http2-prior-knowledge", "http://%s:%d/bytes/3000000" % (wh.LOOPBACK, env.auto)])
    assert rc == 0 and (n, sha) == (3_000_000, wh.sha256(echo_server.stream_chunk(0, 3_000_000))), (rc, n, err)
    rc, sha, n, err = curl_sha(["--http2-prior-knowledge", "http://%s:%d/stream?chunks=40&size=10000"
                                % (wh.LOOPBACK, env.auto)])
    assert rc == 0 and (n, sha) == (400_000, stream_sha(40, 10000)), (rc, n, err)


def test_h2c_404_nr(env):
    before = env.proxy.stats().get("http.auto.no_route", 0)
    r = h2c(env.auto, "/nothing-here", ["-i", "-H", "Host: nr.test"])
    assert r.returncode == 0, r.stderr
    version, status, _ = curl_head(r)
    assert (version, status) == ("2", 404), r.stdout
    assert env.proxy.stats().get("http.auto.no_route", 0) == before + 1
    r = h2c(env.auto, "/only", ["-i", "-H", "Host: nr.test"])
    assert curl_head(r)[1] == 200 and curl_body(r) == "only", r.stdout


def test_h2c_direct_response_and_redirect(env):
    r = h2c(env.auto, "/direct", ["-i"])
    version, status, headers = curl_head(r)
    assert (version, status) == ("2", 200) and curl_body(r) == "hello from weft", r.stdout
    assert headers.get("content-length") == str(len("hello from weft")), headers
    r = h2c(env.auto, "/redirect", ["-i"])
    version, status, headers = curl_head(r)
    assert (version, status) == ("2", 301), r.stdout
    assert headers.get("location", "").endswith("/moved"), headers


# ---------------------------------------------------------------------------------------------
# codec selection
# ---------------------------------------------------------------------------------------------

def test_auto_serves_h1_and_h2_on_one_port(env):
    before = env.proxy.stats()
    r1 = h1(env.auto, "/which", ["-i"])
    v1, _, seen1 = echo_json(r1, "HTTP/1.1 on the AUTO listener", env.proxy)
    r2 = h2c(env.auto, "/which", ["-i"])
    v2, _, seen2 = echo_json(r2, "h2c on the AUTO listener", env.proxy)
    assert (v1, v2) == ("1.1", "2"), (v1, v2)
    assert seen1["path"] == seen2["path"] == "/which"
    after = env.proxy.stats()
    d = {k: after.get("http.auto." + k, 0) - before.get("http.auto." + k, 0)
         for k in ("downstream_cx_http1_total", "downstream_cx_http2_total", "downstream_rq_http2_total")}
    assert d == {"downstream_cx_http1_total": 1, "downstream_cx_http2_total": 1,
                 "downstream_rq_http2_total": 1}, d


def test_auto_http2_upgrade_falls_back_to_http1(env):
    # curl --http2 on cleartext offers "Upgrade: h2c"; Envoy does not upgrade: HTTP/1.1 it is
    r = wh.curl(["--http2", "-i", "http://%s:%d/upgrade" % (wh.LOOPBACK, env.auto)])
    version, _, seen = echo_json(r, "curl --http2 (h2c upgrade) on AUTO", env.proxy)
    assert version == "1.1", version
    assert "upgrade" not in seen["headers"] and "http2-settings" not in seen["headers"], (
        "the h2c upgrade request headers must not reach the upstream: %r" % seen["headers"])


def test_http1_listener_does_not_speak_h2(env):
    r = h2c(env.h1, "/h2", ["-i"])
    assert r.returncode != 0, (
        "codec HTTP1 listener answered an h2c prior-knowledge request: %r" % r.stdout[:500])
    # the preface is an HTTP/1.1 request line it refuses: 400 and close, no SETTINGS
    with wh.RawConn(env.h1) as c:
        c.send(PREFACE + H2Conn._frame(SETTINGS, 0, 0, b""))
        assert c.wait_closed(3), "the HTTP1 listener kept an h2 preface connection open"
        assert bytes(c.buf).startswith(b"HTTP/1.1 400 "), bytes(c.buf[:300])
    r = h1(env.h1, "/h1", ["-i"])
    assert echo_json(r, "HTTP/1.1 on the HTTP1 listener", env.proxy)[0] == "1.1"


def test_http2_listener_does_not_serve_http1(env):
    r = h1(env.h2, "/h1", ["-i"])
    assert r.returncode != 0, "codec HTTP2 listener served HTTP/1.1: %r" % r.stdout[:500]
    r = h2c(env.h2, "/h2", ["-i"])
    assert echo_json(r, "h2c on the HTTP2 listener", env.proxy)[0] == "2"


# ---------------------------------------------------------------------------------------------
# h2 upstreams
# ---------------------------------------------------------------------------------------------

def up_rq_h2(env):
    return env.up.stats().get("http.up_h2.downstream_rq_http2_total", 0)


def test_h1_client_to_h2_upstream(env):
    before = up_rq_h2(env)
    data = os.urandom(100_000)
    p = subprocess.run(["curl", "-sS", "-i", "--max-time", "10", "--http1.1", "--data-binary", "@-",
                        "-H", "x-custom: h1", "http://%s:%d/h2up/h1-client" % (wh.LOOPBACK, env.auto)],
                       input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    r = subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode(), p.stderr.decode())
    version, headers, seen = echo_json(r, "HTTP/1.1 client -> h2 cluster", env.proxy)
    assert version == "1.1"
    assert (seen["body_len"], seen["body_sha256"]) == (len(data), wh.sha256(data)), seen
    assert seen["path"] == "/h1-client" and seen["headers"].get("x-custom") == "h1", seen
    assert headers.get("x-echo-server") == "echo", headers
    assert up_rq_h2(env) == before + 1, "the upstream hop should have been HTTP/2%s" % env.up.ctx()


def test_h2_client_to_h2_upstream(env):
    before = up_rq_h2(env)
    r = h2c(env.auto, "/h2up/h2-client", ["-i", "-H", "x-custom: h2"])
    version, headers, seen = echo_json(r, "h2 client -> h2 cluster", env.proxy)
    assert version == "2"
    assert seen["path"] == "/h2-client" and seen["headers"].get("x-custom") == "h2", seen
    assert seen["http_version"] == "HTTP/1.1", "the h2 upstream proxy talks HTTP/1.1 to the echo server"
    assert up_rq_h2(env) == before + 1, env.up.ctx()
    # the h2 upstream answers the proxy's bodies too
    r = h2c(env.auto, "/h2up/bytes/1000000", ["-o", "/dev/null", "-w", "%{http_code} %{size_download}"])
    assert r.stdout == "200 1000000", (r.stdout, r.stderr)


def h2_upstream_prefixes(env):
    """Route prefixes to h2 clusters: the weft-proxy HTTP2 listener, and nginx when installed."""
    return ["/h2up"] + (["/nginx"] if env.nginx else [])


def need_nginx(env):
    if env.nginx is None:
        pytest.skip("nginx is not installed (Debian: nginx-light)")


def test_h1_client_to_nginx_h2_upstream_streams_both_ways(env, tmp_path):
    """HTTP/1.1 client -> weft-proxy -> nginx over h2c: 5 MB up and 10 MB down, intact."""
    need_nginx(env)
    data = os.urandom(5 * 1024 * 1024)
    f = tmp_path / "up.bin"
    f.write_bytes(data)
    r = h1(env.auto, "/nginx/upload", ["-i", "--data-binary", "@%s" % f] + STALL)
    version, _, seen = echo_json(r, "h1 client -> nginx h2 upstream, 5 MB upload", env.proxy)
    assert seen["headers"].get("x-nginx-proto") == "HTTP/2.0", (
        "the hop into nginx should have been HTTP/2: %r" % seen["headers"])
    assert (seen["body_len"], seen["body_sha256"]) == (len(data), wh.sha256(data)), seen
    rc, sha, n, err = curl_sha(["--http1.1", "http://%s:%d/nginx/bytes/10000000" % (wh.LOOPBACK, env.auto)])
    assert rc == 0 and (n, sha) == (10_000_000, wh.sha256(echo_server.stream_chunk(0, 10_000_000))), (rc, n, err)
    # and an h2 client, small bodies
    r = h2c(env.auto, "/nginx/h2-small", ["-i", "-d", "hello"])
    version, _, seen = echo_json(r, "h2 client -> nginx h2 upstream", env.proxy)
    assert version == "2" and seen["headers"].get("x-nginx-proto") == "HTTP/2.0" and seen["body_len"] == 5, seen


def test_h2_client_large_response_from_h2_upstream(env):
    """20 MB from an h2 upstream to an h2 client: both windows must keep moving (the proxy pauses
    and resumes the upstream stream as the client reads). Upstreams: the weft h2 listener, nginx."""
    size = 20_000_000
    expected = wh.sha256(echo_server.stream_chunk(0, size))
    for prefix in h2_upstream_prefixes(env):
        path = "%s/bytes/%d" % (prefix, size)
        rc, sha, n, err = curl_sha(["--http2-prior-knowledge", "http://%s:%d%s" % (wh.LOOPBACK, env.auto, path)],
                                   timeout=20)
        assert rc == 0 and (n, sha) == (size, expected), (
            "h2 client, h2 upstream, %s: curl rc=%d, %d bytes; %s" % (path, rc, n, err))
    # and with a slow reader
    rc, sha, n, err = curl_sha(["--http2-prior-knowledge", "--limit-rate", "20M", "http://%s:%d%s/bytes/%d"
                                % (wh.LOOPBACK, env.auto, h2_upstream_prefixes(env)[-1], size)], timeout=20)
    assert rc == 0 and (n, sha) == (size, expected), (rc, n, err)


def test_h2_client_large_upload_to_h2_upstream(env):
    data = os.urandom(5 << 20)
    for prefix in h2_upstream_prefixes(env):
        sent, st, seen = raw_h2_upload(env.auto, prefix + "/upload", data)
        assert sent == len(data), "5 MB h2 upload to %s stalled after %d bytes" % (prefix, sent)
        assert seen and (seen["body_len"], seen["body_sha256"]) == (len(data), wh.sha256(data)), (prefix, seen)


def test_upstream_service_time_header_once(env):
    r = h2c(env.auto, "/h2up/service-time", ["-D", "-", "-o", "/dev/null"])
    values = re.findall(r"(?im)^x-envoy-upstream-service-time:", r.stdout)
    assert len(values) == 1, r.stdout


def test_use_downstream_protocol_config(env):
    s0 = env.up.stats()
    r = h1(env.auto, "/ds/h1", ["-i"])
    echo_json(r, "h1 client via use_downstream_protocol_config", env.proxy)
    r = h2c(env.auto, "/ds/h2", ["-i"])
    echo_json(r, "h2 client via use_downstream_protocol_config", env.proxy)
    s1 = env.up.stats()
    d = {k: s1.get("http.up_auto." + k, 0) - s0.get("http.up_auto." + k, 0)
         for k in ("downstream_rq_http1_total", "downstream_rq_http2_total")}
    assert d == {"downstream_rq_http1_total": 1, "downstream_rq_http2_total": 1}, (
        "use_downstream_protocol_config: the h1 client's request should reach the upstream over "
        "HTTP/1.1 and the h2 client's over HTTP/2: %r%s" % (d, env.up.ctx()))


def test_upstream_h2_connection_reuse(env):
    for i in range(30):
        r = h2c(env.auto, "/h2reuse/%d" % i, ["-o", "/dev/null", "-w", "%{http_code}"])
        assert r.stdout == "200", (i, r.stdout, r.stderr)
    for i in range(10):
        r = h1(env.auto, "/h2reuse/h1-%d" % i, ["-o", "/dev/null", "-w", "%{http_code}"])
        assert r.stdout == "200", (i, r.stdout, r.stderr)
    stats = env.proxy.stats()
    assert stats.get("cluster.h2reuse.upstream_rq_total") == 40, stats.get("cluster.h2reuse.upstream_rq_total")
    assert stats.get("cluster.h2reuse.upstream_cx_total") == 1, (
        "40 sequential requests through an h2 cluster (one worker) should share one upstream "
        "connection, upstream_cx_total=%r" % stats.get("cluster.h2reuse.upstream_cx_total"))


# ---------------------------------------------------------------------------------------------
# multiplexing and SETTINGS
# ---------------------------------------------------------------------------------------------

def test_h2load_multiplexed(env):
    before = env.proxy.stats().get("http.auto.downstream_rq_http2_total", 0)
    r, c = h2load("http://%s:%d/direct" % (wh.LOOPBACK, env.auto), 2000, 4, 50)
    assert c.get("succeeded") == 2000 and c.get("2xx") == 2000, (c, r.stdout[-1500:])
    r, c = h2load("http://%s:%d/load" % (wh.LOOPBACK, env.auto), 1000, 4, 50)
    assert c.get("succeeded") == 1000 and c.get("2xx") == 1000, (c, r.stdout[-1500:])
    after = env.proxy.stats().get("http.auto.downstream_rq_http2_total", 0)
    assert after - before == 3000, (before, after)


def test_max_concurrent_streams_settings(env):
    """max_concurrent_streams: 5 is announced in SETTINGS. Clients that open streams before the
    SETTINGS arrive (nghttp -m, h2load -m 50 often do) get the excess refused with
    RST_STREAM(REFUSED_STREAM) and do not retry them: every request is either served 200 or
    refused, and the proxy only counts the served ones."""
    url = "http://%s:%d/limited" % (wh.LOOPBACK, env.limit)
    before = env.proxy.stats()
    r = nghttp([url], ["-m", "20"])
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    settings = [b for b in nghttp_frames(r.stdout, "recv", "SETTINGS") if "flags=0x00" in b]
    assert settings and "SETTINGS_MAX_CONCURRENT_STREAMS(0x03):5" in settings[0], (
        "the listener's SETTINGS should carry MAX_CONCURRENT_STREAMS 5: %r" % settings)
    assert "SETTINGS_INITIAL_WINDOW_SIZE(0x04):1048576" in settings[0], settings[0]
    ok = len(re.findall(r":status: 200", r.stdout))
    refused = [b for b in nghttp_frames(r.stdout, "recv", "RST_STREAM") if "REFUSED_STREAM" in b]
    assert ok >= 5 and ok + len(refused) == 20, (
        "20 streams at once, limit 5: %d answered 200, %d refused\n%s" % (ok, len(refused), r.stdout[-3000:]))
    # h2load: a client that respects the limit (-m 5) gets everything served
    r, c = h2load(url, 500, 2, 5)
    assert c.get("succeeded") == 500 and c.get("2xx") == 500, "%r\n%s" % (c, r.stdout)
    # -m 50: what h2load sent before it saw SETTINGS may be refused (counted as errored)
    r, c = h2load(url, 500, 2, 50)
    assert c.get("done") == 500 and c.get("succeeded") == c.get("2xx"), "%r\n%s" % (c, r.stdout)
    assert c["succeeded"] >= 500 - 2 * (50 - 5) and c["succeeded"] + c["errored"] == 500, (
        "h2load -c 2 -m 50 against max_concurrent_streams 5: at most 45 streams per connection can "
        "be refused; %r\n%s" % (c, r.stdout))
    after = env.proxy.stats()
    served = ok + 500 + c["succeeded"]
    d = after.get("http.limit.downstream_rq_http2_total", 0) - before.get("http.limit.downstream_rq_http2_total", 0)
    d2 = after.get("http.limit.downstream_rq_2xx", 0) - before.get("http.limit.downstream_rq_2xx", 0)
    assert (d, d2) == (served, served), (
        "refused streams must not count as requests: served %d, downstream_rq_http2_total +%d, "
        "downstream_rq_2xx +%d" % (served, d, d2))


def test_max_concurrent_streams_refuses_excess_streams(env):
    """A raw client opens 7 streams before it has read the server's SETTINGS: 5 are served, 2 are
    refused with RST_STREAM(REFUSED_STREAM), the connection stays up."""
    with H2Conn(env.limit) as c:
        sids = [1 + 2 * i for i in range(7)]
        for sid in sids:
            c.request(sid, "/slow-%d" % sid, headers=[("x-echo-delay-ms", "300")])
        c.read_until(lambda c: all(c.done(s) for s in sids), timeout=10)
        assert c.settings.get(3) == 5, c.settings
        served = [s for s in sids if c.streams[s]["status"] == 200 and c.streams[s]["ended"]]
        refused = [s for s in sids if c.streams[s]["reset"] == 7]   # REFUSED_STREAM
        assert (served, refused) == (sids[:5], sids[5:]), (
            "7 streams at once, max_concurrent_streams 5: served %r refused %r; frames %r"
            % (served, refused, c.frames[:40]))
        assert not c.goaways(), c.frames
        # once those are done, new streams are served again
        c.request(15, "/after")
        assert c.read_until(lambda c: c.done(15), timeout=5) and c.streams[15]["status"] == 200, c.frames[-10:]


# ---------------------------------------------------------------------------------------------
# flow control and memory
# ---------------------------------------------------------------------------------------------

class RssSampler:
    """Samples the proxy's VmRSS every 50 ms; stop() returns the peak growth in MB."""

    def __init__(self, proxy, interval=0.05):
        self.proxy = proxy
        self.base = proxy.rss_kb()
        self.peak = self.base
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._t.start()

    def _run(self, interval):
        while not self._stop.is_set():
            v = self.proxy.rss_kb()
            if v:
                self.peak = max(self.peak, v)
            time.sleep(interval)

    def stop(self):
        self._stop.set()
        self._t.join()
        return (self.peak - self.base) / 1024.0


def stream_sha(chunks, size):
    d = hashlib.sha256()
    for i in range(chunks):
        d.update(echo_server.stream_chunk(i, size))
    return d.hexdigest()


# A transfer that makes no progress for 3 s is a stall: fail fast instead of waiting max-time.
STALL = ["--speed-limit", "1", "--speed-time", "3"]


def curl_sha(args, timeout=60):
    """Run curl writing the body to stdout; returns (rc, sha256, length, stderr)."""
    cmd = ["curl", "-sS", "--max-time", str(int(timeout))] + STALL + [str(a) for a in args]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    d, n = hashlib.sha256(), 0
    while True:
        chunk = p.stdout.read(1 << 20)
        if not chunk:
            break
        d.update(chunk)
        n += len(chunk)
    err = p.stderr.read().decode(errors="replace")
    rc = p.wait(timeout)
    return rc, d.hexdigest(), n, err


def upload(env, path, size, tmp_path):
    """PUT `size` random-ish bytes (curl -T file, h2c) to the echo upstream; returns
    (CompletedProcess, sha256 of what was sent, RSS growth in MB)."""
    f = tmp_path / "upload.bin"
    block = os.urandom(1 << 20)
    digest = hashlib.sha256()
    with open(f, "wb") as out:
        left = size
        while left:
            piece = block[:min(left, len(block))]
            out.write(piece)
            digest.update(piece)
            left -= len(piece)
    rss = RssSampler(env.proxy)
    try:
        r = h2c(env.auto, path, ["-T", f] + STALL, timeout=60)
    finally:
        growth = rss.stop()
        f.unlink()
    return r, digest.hexdigest(), growth


def raw_h2_upload(port, path, data, stall=1.5):
    """Upload `data` (content-length) on one stream of an H2Conn that respects flow control.
    Returns (bytes sent before a stall, the stream's state, the response JSON or None)."""
    with H2Conn(port) as c:
        c.request(1, path, method="POST", headers=[("content-length", str(len(data)))], more_body=True)
        sent = c.send_body(1, data, stall)
        if sent == len(data):
            c.read_until(lambda c: c.done(1), timeout=10)
        st = c.streams[1]
        seen = json.loads(bytes(st["data"])) if st["ended"] and st["status"] == 200 else None
        return sent, st, seen


def test_raw_h2_upload_within_window(env):
    data = os.urandom(500_000)
    sent, st, seen = raw_h2_upload(env.auto, "/raw-upload", data)
    assert sent == len(data) and seen, (sent, {k: v for k, v in st.items() if k != "data"})
    assert (seen["body_len"], seen["body_sha256"]) == (len(data), wh.sha256(data)), seen


def test_h2c_post_larger_than_stream_window(env):
    """3 MB on one stream: more than the 1 MiB stream window, so the proxy must keep granting
    window (WINDOW_UPDATE) as the upstream takes the bytes."""
    data = os.urandom(3 * 1024 * 1024 + 17)
    sent, st, seen = raw_h2_upload(env.auto, "/post-3mb", data)
    assert sent == len(data), (
        "h2 upload of %d bytes: the proxy's flow control windows stayed shut after %d bytes"
        % (len(data), sent))
    assert seen and (seen["body_len"], seen["body_sha256"]) == (len(data), wh.sha256(data)), (
        seen, {k: v for k, v in st.items() if k != "data"})


def test_100mb_upload_bounded_memory(env, tmp_path):
    size = 100 * 1024 * 1024
    r, sha, growth = upload(env, "/upload", size, tmp_path)
    assert r.returncode == 0, "100 MB h2 upload: curl rc=%d %s%s" % (r.returncode, r.stderr, env.proxy.ctx())
    seen = json.loads(r.stdout)
    assert (seen["body_len"], seen["body_sha256"]) == (size, sha), seen
    assert growth < 60, "proxy RSS grew by %.0f MB during a 100 MB h2 upload%s" % (growth, env.proxy.ctx())


def test_100mb_download_bounded_memory(env):
    chunks, size = 1600, 65536
    rss = RssSampler(env.proxy)
    try:
        rc, sha, n, err = curl_sha(["--http2-prior-knowledge", "http://%s:%d/stream?chunks=%d&size=%d"
                                    % (wh.LOOPBACK, env.auto, chunks, size)])
    finally:
        growth = rss.stop()
    assert rc == 0, "100 MB h2 download: curl rc=%d %s%s" % (rc, err, env.proxy.ctx())
    assert (n, sha) == (chunks * size, stream_sha(chunks, size)), (
        "100 MB h2 download: got %d bytes sha %s, expected %d bytes sha %s"
        % (n, sha, chunks * size, stream_sha(chunks, size)))
    assert growth < 60, "proxy RSS grew by %.0f MB during a 100 MB h2 download%s" % (growth, env.proxy.ctx())


def test_slow_reader_bounded_memory(env):
    """48 MB read at 12 MB/s (the echo server writes far faster): the proxy must hold back the
    upstream instead of buffering the response (about 1 MiB per stream)."""
    chunks, size = 768, 65536
    rss = RssSampler(env.proxy)
    try:
        rc, sha, n, err = curl_sha(["--http2-prior-knowledge", "--limit-rate", "12M",
                                    "http://%s:%d/stream?chunks=%d&size=%d"
                                    % (wh.LOOPBACK, env.auto, chunks, size)], timeout=30)
    finally:
        growth = rss.stop()
    assert rc == 0, err
    assert (n, sha) == (chunks * size, stream_sha(chunks, size)), (n, sha)
    assert growth < 24, ("proxy RSS grew by %.0f MB while a slow h2 client read 48 MB: the response "
                         "should not be buffered%s" % (growth, env.proxy.ctx()))


# ---------------------------------------------------------------------------------------------
# resets, PING
# ---------------------------------------------------------------------------------------------

def test_upstream_dies_mid_response_resets_stream(env):
    r = h2c(env.auto, "/dies", ["-o", "/dev/null"])
    assert r.returncode == 92, (
        "curl should report an HTTP/2 stream error (exit 92) when the upstream dies "
        "mid-response, got rc=%d %s" % (r.returncode, r.stderr))
    with H2Conn(env.auto) as c:
        c.request(1, "/dies")
        assert c.read_until(lambda c: c.done(1), timeout=5), c.frames
        st = c.streams[1]
        assert st["status"] == 200 and st["reset"] is not None and not st["ended"], (
            "stream 1 should get its 200 headers, some data, then RST_STREAM: %r %r"
            % ({k: v for k, v in st.items() if k != "data"}, c.frames[-10:]))
        assert len(st["data"]) > 0, c.frames[-10:]
        # the connection is still good: another stream on it completes
        c.request(3, "/after-reset")
        assert c.read_until(lambda c: c.done(3), timeout=5), c.frames[-10:]
        st = c.streams[3]
        assert st["status"] == 200 and st["ended"] and st["reset"] is None, (st, c.frames[-10:])
        assert b'"/after-reset"' in st["data"], bytes(st["data"][:300])
        assert not c.goaways(), c.frames


def nghttp_stream_ids(text):
    """{":path" value: stream id} of the requests nghttp sent."""
    out = {}
    for block in nghttp_frames(text, "send", "HEADERS"):
        sid = re.search(r"stream_id=(\d+)", block)
        path = re.search(r":path: (\S+)", block)
        if sid and path:
            out[path.group(1)] = int(sid.group(1))
    return out


def test_upstream_dies_other_concurrent_streams_survive(env):
    # nghttp multiplexes the three URIs on one connection
    base = "http://%s:%d" % (wh.LOOPBACK, env.auto)
    paths = ["/stream?chunks=20&size=20000&interval_ms=20", "/dies", "/direct"]
    r = nghttp([base + p for p in paths])
    ids = nghttp_stream_ids(r.stdout)
    assert sorted(ids) == sorted(paths), (ids, r.stdout[-3000:])
    rst = [int(re.search(r"stream_id=(\d+)", b).group(1)) for b in nghttp_frames(r.stdout, "recv", "RST_STREAM")]
    assert rst == [ids["/dies"]], (
        "only the stream whose upstream died should be reset: RST_STREAM on %r, streams %r\n%s"
        % (rst, ids, r.stdout[-3000:]))
    ends = [b for b in nghttp_frames(r.stdout, "recv", "DATA") if "END_STREAM" in b]
    ended = sorted(int(re.search(r"stream_id=(\d+)", b).group(1)) for b in ends)
    assert ended == sorted([ids[paths[0]], ids["/direct"]]), (ended, ids, r.stdout[-3000:])
    assert not nghttp_frames(r.stdout, "recv", "GOAWAY"), r.stdout[-3000:]


def test_ping_keepalive(env):
    r = nghttp(["http://%s:%d/ping" % (wh.LOOPBACK, env.ka)], ["-H", "x-echo-delay-ms: 1200"])
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    pings = [b for b in nghttp_frames(r.stdout, "recv", "PING") if "flags=0x00" in b]
    assert len(pings) >= 3, ("connection_keepalive interval 0.2s: expected PINGs during a 1.2 s "
                             "request, got %d\n%s" % (len(pings), r.stdout[-3000:]))
    assert re.search(r":status: 200", r.stdout), r.stdout[-2000:]
    # no keepalive on a listener without connection_keepalive
    r = nghttp(["http://%s:%d/ping" % (wh.LOOPBACK, env.h2)], ["-H", "x-echo-delay-ms: 600"])
    assert not [b for b in nghttp_frames(r.stdout, "recv", "PING") if "flags=0x00" in b], r.stdout


def silent_client_outcome(port, seconds):
    """Connect, send SETTINGS, then never answer anything (no SETTINGS ACK, no PING ACK).
    Returns (closed, seconds until closed or None, PINGs received)."""
    with H2Conn(port) as c:
        t0 = time.monotonic()
        deadline = t0 + seconds
        pings = 0
        while True:
            f = c._read_frame(deadline)
            if f is None:
                return c.eof, (time.monotonic() - t0 if c.eof else None), pings
            if f.type == PING and not f.flags & ACK:
                pings += 1


def test_ping_answered_keeps_connection(env):
    """A client that answers PINGs keeps its idle connection past the 1 s timeout."""
    with H2Conn(env.ka) as c:
        c.read_until(lambda c: False, timeout=1.6)   # H2Conn ACKs PINGs as they come
        pings = [f for f in c.frames if f.type == PING and not f.flags & ACK]
        assert len(pings) >= 4 and not c.eof, (len(pings), c.eof, c.frames[-5:])
        c.request(1, "/still-there")
        assert c.read_until(lambda c: c.done(1), timeout=5) and c.streams[1]["status"] == 200, c.frames[-5:]


def test_ping_timeout_closes_connection_interval_longer_than_timeout(weft):
    echo = weft.echo("echo")
    port, admin = weft.port(), weft.port()
    weft.start_proxy(wh.bootstrap(admin, listeners=[
        wh.http_listener("ka", port, [wh.vhost("all", ["*"], [wh.route_to("echo")])],
                         hcm_extra={"codec_type": "HTTP2", "http2_protocol_options": {
                             "connection_keepalive": {"interval": "0.4s", "timeout": "0.3s"}}})],
        clusters=[wh.cluster("echo", [echo.port])]), concurrency=1)
    closed, after, pings = silent_client_outcome(port, 3.0)
    assert closed and pings >= 1 and after < 2.0, (
        "interval 0.4s timeout 0.3s: a client that never ACKs the PING should be disconnected "
        "about 0.7 s in; closed=%r after=%r pings=%d" % (closed, after, pings))




def test_ping_timeout_closes_connection(env):
    """interval 0.2s, timeout 1s: a client that never ACKs is disconnected about 1.2 s in."""
    closed, after, pings = silent_client_outcome(env.ka, 3.0)
    assert closed and after < 2.5, (
        "no PING ACK: expected a close within ~1.2 s, closed=%r after=%r pings=%d" % (closed, after, pings))


# ---------------------------------------------------------------------------------------------
# GOAWAY on drain
# ---------------------------------------------------------------------------------------------

def test_goaway_on_drain_listeners(weft):
    echo = weft.echo("echo")
    port, admin = weft.port(), weft.port()
    proxy = weft.start_proxy(wh.bootstrap(admin, listeners=[
        wh.http_listener("main", port, [wh.vhost("all", ["*"], [wh.route_to("echo")])])],
        clusters=[wh.cluster("echo", [echo.port])]), concurrency=1)
    with H2Conn(port) as c:
        c.request(1, "/before")
        assert c.read_until(lambda c: c.done(1)), c.frames
        c.request(3, "/in-flight", headers=[("x-echo-delay-ms", "1000")])
        assert proxy.wait_stat("http.ingress_http.downstream_rq_active", 1) == 1, proxy.ctx()
        expect_status(proxy.admin_post("/drain_listeners"), 200, "POST /drain_listeners", proxy)
        assert c.read_until(lambda c: c.goaways(), timeout=3), (
            "no GOAWAY after /drain_listeners: %r%s" % (c.frames, proxy.ctx()))
        last_stream, err = c.goaways()[-1]
        assert err == 0 and last_stream == 3, (
            "GOAWAY(NO_ERROR) should name the in-flight stream 3 as the last one: %r" % c.goaways())
        assert not c.done(3), "stream 3 was still waiting on its upstream"
        # a new stream after the GOAWAY is not served (nghttp2 ignores streams above last_stream_id)
        c.request(5, "/after-goaway")
        assert c.read_until(lambda c: c.done(3), timeout=5), c.frames
        st = c.streams[3]
        assert st["status"] == 200 and st["ended"] and b'"/in-flight"' in st["data"], (
            "the in-flight stream must complete after GOAWAY: %r %r" % (st, c.frames))
        assert c.read_until(lambda c: c.eof, timeout=5), (
            "connection not closed once its last stream finished after GOAWAY: %r" % c.frames[-5:])
        assert c.streams[5]["status"] is None, (
            "stream 5 was opened after GOAWAY(last_stream_id=3) and must not be served: %r" % c.frames)
    assert wh.connect_refused(port), "listener still accepting after /drain_listeners"
    s = proxy.stats()
    assert s.get("http.ingress_http.downstream_rq_http2_total") == 2, s.get("http.ingress_http.downstream_rq_http2_total")


def test_goaway_seen_by_nghttp(weft):
    echo = weft.echo("echo")
    port, admin = weft.port(), weft.port()
    proxy = weft.start_proxy(wh.bootstrap(admin, listeners=[
        wh.http_listener("main", port, [wh.vhost("all", ["*"], [wh.route_to("echo")])])],
        clusters=[wh.cluster("echo", [echo.port])]), concurrency=1)
    p = subprocess.Popen(["nghttp", "-nv", "-H", "x-echo-delay-ms: 1000",
                          "http://%s:%d/long" % (wh.LOOPBACK, port)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proxy.wait_stat("http.ingress_http.downstream_rq_active", 1, timeout=5) == 1, proxy.ctx()
        expect_status(proxy.admin_post("/drain_listeners"), 200, "POST /drain_listeners", proxy)
        out, _ = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, out[-3000:]
    goaway = nghttp_frames(out, "recv", "GOAWAY")
    assert goaway and "NO_ERROR" in goaway[0], out[-3000:]
    assert re.search(r":status: 200", out), out[-3000:]
    ends = [b for b in nghttp_frames(out, "recv", "DATA") if "END_STREAM" in b]
    assert ends, "the in-flight request must complete: %s" % out[-3000:]


# ---------------------------------------------------------------------------------------------
# TLS + ALPN
# ---------------------------------------------------------------------------------------------

def test_tls_alpn_h2_and_h1(weft, pki):
    echo = weft.echo("echo")
    port, admin = weft.port(), weft.port()
    a = pki.server_a
    proxy = weft.start_proxy(wh.bootstrap(admin, listeners=[
        wh.listener("tls", port, filter_chains=[wh.filter_chain(
            [wh.hcm_filter([wh.vhost("all", ["*"], [wh.route_to("echo")])], stat_prefix="tls")],
            transport_socket=wh.downstream_tls(a.cert, a.key, alpn=["h2", "http/1.1"]))])],
        clusters=[wh.cluster("echo", [echo.port])]), concurrency=1)
    common = ["--cacert", pki.ca.cert] + wh.curl_resolve(A, port)
    r = wh.curl(["--http2", "-i"] + common + ["https://%s:%d/tls-h2" % (A, port)])
    version, _, seen = echo_json(r, "curl --http2 over TLS", proxy)
    assert version == "2" and seen["headers"].get("x-forwarded-proto") == "https", (version, seen)
    assert seen["http_version"] == "HTTP/1.1"
    r = wh.curl(["--http1.1", "-i"] + common + ["https://%s:%d/tls-h1" % (A, port)])
    assert echo_json(r, "curl --http1.1 over TLS", proxy)[0] == "1.1"
    # nghttp (no certificate verification) over TLS: ALPN h2, 20 streams on one connection
    r = run(["nghttp", "-ns", "-m", "20", "https://%s:%d/tls-nghttp" % (wh.LOOPBACK, port)])
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert len(re.findall(r"/tls-nghttp", r.stdout)) == 20, r.stdout[-2000:]
    s = proxy.stats()
    got = {k: s.get("http.tls." + k) for k in ("downstream_cx_http2_total", "downstream_rq_http2_total",
                                                "downstream_cx_http1_total")}
    assert got == {"downstream_cx_http2_total": 2, "downstream_rq_http2_total": 21,
                   "downstream_cx_http1_total": 1}, got


# ---------------------------------------------------------------------------------------------
# config errors
# ---------------------------------------------------------------------------------------------

def config_with_hcm(weft, hcm_extra=None, cluster=None):
    port, admin = weft.port(), weft.port()
    return wh.bootstrap(admin, listeners=[
        wh.http_listener("main", port, [wh.vhost("all", ["*"], [wh.route_to("c")])],
                         hcm_extra=hcm_extra or {})],
        clusters=[cluster or wh.cluster("c", [9])])


def rejected(result, what):
    assert result.returncode != 0, "%s: accepted (stderr %r)" % (what, result.stderr[-500:])
    return result.stderr


def test_config_codec_http3_rejected(weft):
    _, res = weft.validate(config_with_hcm(weft, {"codec_type": "HTTP3"}))
    err = rejected(res, "codec_type HTTP3")
    assert "static_resources.listeners[0].filter_chains[0].filters[0]" in err and \
        "codec_type" in err and "HTTP3" in err, err


def test_config_valid_http2_options_accepted(weft):
    _, res = weft.validate(config_with_hcm(weft, {"codec_type": "HTTP2", "http2_protocol_options": {
        "max_concurrent_streams": 100, "initial_stream_window_size": 65535,
        "initial_connection_window_size": 1048576,
        "connection_keepalive": {"interval": "10s", "timeout": "5s"}}},
        cluster=h2_cluster("c", [9])))
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("field,value", [("initial_stream_window_size", 1000),
                                         ("initial_connection_window_size", 4294967295)])
def test_config_bad_window_rejected(weft, field, value):
    _, res = weft.validate(config_with_hcm(weft, {"http2_protocol_options": {field: value}}))
    err = rejected(res, "%s %d" % (field, value))
    assert "http2_protocol_options.%s" % field in err and "static_resources.listeners[0]" in err, err


def test_config_bad_cluster_window_rejected(weft):
    c = wh.cluster("c", [9], typed_extension_protocol_options={HTTP_OPTIONS_KEY: {
        "@type": HTTP_OPTIONS_TYPE, "explicit_http_config": {"http2_protocol_options": {
            "initial_stream_window_size": 10}}}})
    _, res = weft.validate(config_with_hcm(weft, cluster=c))
    err = rejected(res, "cluster initial_stream_window_size 10")
    assert "static_resources.clusters[0].typed_extension_protocol_options" in err and \
        "initial_stream_window_size" in err, err
