"""gRPC through weft-proxy with real gRPC C++ peers (grpc++ 1.51).

The upstream is tests/interop/grpc/echo_server.cc ($WEFT_GRPC_ECHO_SERVER), the client
tests/interop/grpc/echo_client.cc ($WEFT_GRPC_ECHO_CLIENT), which runs one scenario and prints one
JSON line (status code and message, initial metadata, trailers, bytes and SHA-256 digests). The
proxy listens h2c with codec AUTO and reaches the server over an HTTP/2 cluster
(HttpProtocolOptions explicit_http_config.http2_protocol_options); `curl --http2-prior-knowledge`
sends hand-framed gRPC requests where the test needs exact headers (grpc-timeout with no client
deadline, raw trailers) and plain HTTP requests for the `grpc: {}` route match.

Virtual hosts of the shared proxy, chosen with the client's :authority:
  "*"              /weft.test.Echo/ -> echo (h2c)
  timeout.test     route timeout 0.2s
  maxgrpc.test     timeout 0s (none), max_grpc_timeout 0s: the grpc-timeout header, uncapped
  cap.test         timeout 0s, max_grpc_timeout 0.3s: grpc-timeout capped at 300 ms
  down.test        cluster `down`: nothing listens on its port
  nomatch.test     only /other.Service/: Echo calls match no route (404 NR)
  grpconly.test    match {prefix: /, grpc: {}}: only gRPC requests match
  tlsup.test       cluster echo_tls: HTTP/2 over TLS (ALPN h2) to a TLS gRPC server
A second listener terminates TLS (DownstreamTlsContext, ALPN h2) in front of the same routes.

Two bugs these tests found are fixed and guarded here: body DATA between an h2 downstream and
an h2 upstream waited for unrelated frames (no flush), and a reply sent while the client was still
uploading was dropped (RST_STREAM submitted before the response went out).
"""

import json
import os
import select
import subprocess
import time
import types
from pathlib import Path

import pytest

import weft_harness as wh

HTTP_PROTOCOL_OPTIONS_TYPE = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
BUILD_DIR = wh.REPO_ROOT / "build" / "tests" / "interop" / "grpc"

A = "a.example.com"   # the downstream TLS listener's name (pki.server_a)
B = "b.example.com"   # the TLS upstream's name (pki.server_b)

OK, NOT_FOUND, DEADLINE_EXCEEDED, UNIMPLEMENTED, UNAVAILABLE = 0, 5, 4, 12, 14

# ---------------------------------------------------------------------------------------------
# the gRPC C++ peers
# ---------------------------------------------------------------------------------------------

def _binary(env, name):
    path = Path(os.environ.get(env) or (BUILD_DIR / name))
    if not path.is_file() or not os.access(path, os.X_OK):
        raise AssertionError("%s not found at %s (build it: cmake --build build --target %s, or set %s)"
                             % (name, path, name, env))
    return path


def server_binary():
    return _binary("WEFT_GRPC_ECHO_SERVER", "grpc_echo_server")


def client_binary():
    return _binary("WEFT_GRPC_ECHO_CLIENT", "grpc_echo_client")


class GrpcEchoServer:
    """grpc_echo_server on a kernel-chosen loopback port (it prints "listening on PORT")."""

    def __init__(self, name, workdir, tls_cert=None, tls_key=None, extra_args=()):
        self.name = name
        self.log_path = Path(workdir) / ("grpc-%s.log" % name)
        self._log = open(self.log_path, "wb")
        args = [str(server_binary()), "--host", wh.LOOPBACK, "--port", "0"] + list(extra_args)
        if tls_cert:
            args += ["--tls-cert", str(tls_cert), "--tls-key", str(tls_key)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._log,
                                     stdin=subprocess.DEVNULL)
        self.port = self._wait_listening(10.0)

    def _wait_listening(self, timeout):
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            r, _, _ = select.select([self.proc.stdout], [], [], max(0, deadline - time.monotonic()))
            if not r:
                self.stop()
                raise RuntimeError("grpc echo server %r: no 'listening on' line within %.0fs; log: %s"
                                   % (self.name, timeout, self.log_text()))
            ch = os.read(self.proc.stdout.fileno(), 1)
            if not ch:
                rc = self.proc.wait()
                raise RuntimeError("grpc echo server %r exited (rc=%s) before listening; log: %s"
                                   % (self.name, rc, self.log_text()))
            line += ch
        if not line.startswith(b"listening on "):
            raise RuntimeError("unexpected first line from grpc echo server: %r" % line)
        return int(line.split()[-1])

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(3)
        if self.proc.stdout:
            self.proc.stdout.close()
        self._log.close()


def grpc_call(port, scenario="unary", proxy=None, timeout=60.0, **opts):
    """Run grpc_echo_client against 127.0.0.1:port; returns its JSON result as a dict.
    opts become flags: size=1024 -> --size 1024, metadata=["k=v"] -> --metadata k=v (repeated),
    tls=True -> --tls."""
    args = [str(client_binary()), "--target", "%s:%d" % (wh.LOOPBACK, port), "--scenario", scenario]
    for key, value in opts.items():
        if value is None or value is False:
            continue
        if value is True:
            args.append("--" + key)
        elif isinstance(value, (list, tuple)):
            for v in value:
                args += ["--" + key, str(v)]
        else:
            args += ["--" + key, str(value)]
    try:
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, timeout=timeout, text=True, errors="replace")
    except subprocess.TimeoutExpired:
        raise AssertionError("grpc_echo_client did not finish within %.0fs: %s%s"
                             % (timeout, " ".join(args), proxy.ctx() if proxy else "")) from None
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    assert r.returncode == 0 and lines, (
        "grpc_echo_client failed (rc=%d): %s\nstdout: %s\nstderr: %s%s"
        % (r.returncode, " ".join(args), r.stdout[-2000:], r.stderr[-2000:],
           proxy.ctx() if proxy else ""))
    result = json.loads(lines[-1])
    result["_args"] = " ".join(args[1:])
    return result


def describe(res):
    """A result without the noise, for assertion messages."""
    keep = ("_args", "code", "code_name", "message", "trailers", "initial_metadata", "sent_messages",
            "sent_bytes", "received_messages", "received_bytes", "server_received_messages",
            "server_received_bytes", "sha256_match", "first_reply_ms", "elapsed_ms")
    return json.dumps({k: res.get(k) for k in keep}, indent=1)


def expect_code(res, code, proxy=None, message=None):
    ok = res["code"] == code and (message is None or res["message"] == message)
    assert ok, "expected grpc-status %d%s, got:\n%s%s" % (
        code, "" if message is None else " message %r" % message, describe(res),
        proxy.ctx() if proxy else "")


def expect_echoed(res, proxy=None):
    """OK, and every byte made the round trip intact."""
    expect_code(res, OK, proxy)
    assert res["sha256_match"], "payload digests differ:\n%s%s" % (
        describe(res), proxy.ctx() if proxy else "")


def grpc_frame(message=b""):
    """One length-prefixed gRPC message (uncompressed)."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def echo_request_bytes(text=b"", sleep_ms=0):
    """A serialized weft.test.EchoRequest (text = field 2, sleep_ms = field 3)."""
    out = b""
    if text:
        out += b"\x12" + varint(len(text)) + text
    if sleep_ms:
        out += b"\x18" + varint(sleep_ms)
    return out


def curl_grpc(port, path, authority, body, headers=(), workdir=None, name="req"):
    """A hand-made gRPC POST with curl --http2-prior-knowledge (body None: no DATA frame). Returns
    (status, headers dict, trailers dict, body bytes, elapsed seconds)."""
    out = Path(workdir) / ("%s.out" % name)
    args = ["--http2-prior-knowledge", "-D", "-", "-o", str(out),
            "-H", "content-type: application/grpc", "-H", "te: trailers",
            "-H", "host: %s" % authority]
    if body is None:   # no body at all: END_STREAM on the request HEADERS
        args += ["-X", "POST"]
    else:
        req = Path(workdir) / ("%s.bin" % name)
        req.write_bytes(body)
        args += ["--data-binary", "@%s" % req]
    for h in headers:
        args += ["-H", h]
    args.append("http://%s:%d%s" % (wh.LOOPBACK, port, path))
    t0 = time.monotonic()
    r = wh.curl(args)
    elapsed = time.monotonic() - t0
    assert r.returncode == 0, "curl %s failed rc=%d: %s" % (" ".join(args), r.returncode, r.stderr)
    # -D -: the response head, a blank line, then the trailers (HTTP/2), each "name: value".
    blocks = r.stdout.replace("\r\n", "\n").split("\n\n")
    head_lines = blocks[0].strip().splitlines()
    status = int(head_lines[0].split()[1])

    def fields(lines):
        d = {}
        for line in lines:
            if ":" in line:
                k, v = line.split(":", 1)
                d[k.strip().lower()] = v.strip()
        return d
    trailers = fields(blocks[1].strip().splitlines()) if len(blocks) > 1 else {}
    return status, fields(head_lines[1:]), trailers, out.read_bytes() if out.exists() else b"", elapsed


# ---------------------------------------------------------------------------------------------
# bootstrap
# ---------------------------------------------------------------------------------------------

def h2_options():
    return {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": HTTP_PROTOCOL_OPTIONS_TYPE,
        "explicit_http_config": {"http2_protocol_options": {}}}}


def h2_cluster(name, port, **extra):
    return wh.cluster(name, [port], typed_extension_protocol_options=h2_options(), **extra)


def echo_route(cluster="echo", prefix="/weft.test.Echo/", **action):
    return {"match": {"prefix": prefix}, "route": dict({"cluster": cluster}, **action)}


def grpc_virtual_hosts():
    return [
        wh.vhost("timeout", ["timeout.test"], [echo_route(timeout="0.2s")]),
        wh.vhost("maxgrpc", ["maxgrpc.test"], [echo_route(timeout="0s", max_grpc_timeout="0s")]),
        wh.vhost("cap", ["cap.test"], [echo_route(timeout="0s", max_grpc_timeout="0.3s")]),
        wh.vhost("down", ["down.test"], [echo_route("down")]),
        wh.vhost("nomatch", ["nomatch.test"], [echo_route(prefix="/other.Service/")]),
        wh.vhost("grpconly", ["grpconly.test"],
                 [{"match": {"prefix": "/", "grpc": {}}, "route": {"cluster": "echo"}}]),
        wh.vhost("tlsup", ["tlsup.test"], [echo_route("echo_tls")]),
        wh.vhost("default", ["*"], [echo_route()]),
    ]


def grpc_hcm(stat_prefix):
    return wh.hcm_filter(grpc_virtual_hosts(), stat_prefix=stat_prefix, codec_type="AUTO")


@pytest.fixture(scope="module")
def env(weft_module, pki):
    h = weft_module
    servers = []
    try:
        echo = GrpcEchoServer("echo", h.workdir)
        servers.append(echo)
        echo_tls = GrpcEchoServer("echo-tls", h.workdir, pki.server_b.cert, pki.server_b.key)
        servers.append(echo_tls)
        port, tls_port, admin, closed = h.port(), h.port(), h.port(), h.port()
        config = wh.bootstrap(admin, listeners=[
            wh.listener("grpc", port, [grpc_hcm("grpc")]),
            wh.listener("grpc_tls", tls_port, filter_chains=[wh.filter_chain(
                [grpc_hcm("grpc_tls")],
                transport_socket=wh.downstream_tls(pki.server_a.cert, pki.server_a.key,
                                                   alpn=["h2"]))]),
        ], clusters=[
            h2_cluster("echo", echo.port),
            h2_cluster("down", closed),
            h2_cluster("echo_tls", echo_tls.port,
                       transport_socket=wh.upstream_tls(sni=B, trusted_ca=pki.ca.cert,
                                                        match_sans=[wh.san_matcher(B, "DNS")],
                                                        alpn=["h2"])),
        ])
        proxy = h.start_proxy(config)
        yield types.SimpleNamespace(harness=h, proxy=proxy, port=port, tls_port=tls_port,
                                    echo=echo, echo_tls=echo_tls, pki=pki, workdir=h.workdir)
    finally:
        for s in servers:
            s.stop()


# ---------------------------------------------------------------------------------------------
# the four kinds of RPC, large messages, metadata and trailers
# ---------------------------------------------------------------------------------------------

def test_unary_small(env):
    res = grpc_call(env.port, "unary", env.proxy, size=100, text="hello",
                    metadata=["x-weft-test=abc"])
    expect_echoed(res, env.proxy)
    assert res["text"] == "hello" and res["received_bytes"] == 100, describe(res)
    md = res["initial_metadata"]
    assert md.get("echo-x-weft-test") == "abc", "request metadata did not reach the server:\n" + describe(res)
    assert md.get("echo-authority") == "%s:%d" % (wh.LOOPBACK, env.port), describe(res)
    assert wh.UUID_RE.match(md.get("echo-x-request-id", "")), (
        "the proxy adds x-request-id upstream:\n" + describe(res))
    assert md.get("echo-x-forwarded-proto") == "http", describe(res)
    assert res["trailers"] == {"x-trailer": "unary-done", "x-received-bytes": "100"}, (
        "the server's trailers must reach the client:\n" + describe(res))


def test_unary_4mb(env):
    size = 4 * 1024 * 1024
    res = grpc_call(env.port, "unary", env.proxy, size=size, deadline_ms=10000)
    expect_echoed(res, env.proxy)
    assert res["received_bytes"] == size and res["server_received_bytes"] == size, describe(res)
    assert res["trailers"].get("x-received-bytes") == str(size), describe(res)


def test_server_stream(env):
    res = grpc_call(env.port, "server_stream", env.proxy, size=65536, count=100,
                    deadline_ms=10000)
    expect_echoed(res, env.proxy)
    assert res["received_messages"] == 100 and res["received_bytes"] == 100 * 65536, describe(res)
    assert res["trailers"].get("x-trailer") == "server_stream-done", describe(res)


def test_client_stream(env):
    res = grpc_call(env.port, "client_stream", env.proxy, size=65536, count=100,
                    deadline_ms=10000)
    expect_echoed(res, env.proxy)
    assert res["server_received_messages"] == 100, describe(res)
    assert res["server_received_bytes"] == 100 * 65536, describe(res)
    assert res["trailers"] == {"x-trailer": "client_stream-done",
                               "x-received-bytes": str(100 * 65536)}, describe(res)


def test_bidi_stream(env):
    res = grpc_call(env.port, "bidi", env.proxy, size=65536, count=100, deadline_ms=10000)
    expect_echoed(res, env.proxy)
    assert res["sent_messages"] == 100 and res["received_messages"] == 100, describe(res)
    assert res["received_bytes"] == 100 * 65536, describe(res)
    assert res["trailers"] == {"x-trailer": "bidi-done",
                               "x-received-bytes": str(100 * 65536)}, describe(res)


def test_bidi_ping_pong(env):
    """Each request waits for its echo: the proxy must forward every message as it comes, not
    at the end of the stream."""
    res = grpc_call(env.port, "bidi_pingpong", env.proxy, size=1000, count=50, deadline_ms=10000)
    expect_echoed(res, env.proxy)
    assert res["received_messages"] == 50, describe(res)


def test_server_stream_not_buffered(env):
    """Replies 1 s apart reach the client about 1 s apart, not all at the end of the stream (the
    bounds leave half a second for a loaded machine)."""
    res = grpc_call(env.port, "server_stream", env.proxy, size=100, count=3, interval_ms=1000,
                    deadline_ms=15000)
    expect_echoed(res, env.proxy)
    t = res["reply_ms"]
    assert len(t) == 3 and t[0] < 800 and t[1] - t[0] >= 500 and t[2] - t[1] >= 500, (
        "replies sent 1 s apart arrived at %s ms (call took %.0f ms): the proxy held them back"
        "\n%s%s" % (t, res["elapsed_ms"], describe(res), env.proxy.ctx()))


def test_raw_trailers_grpc_status(env):
    """On the wire (curl, HTTP/2): 200 with content-type application/grpc, then trailers with
    grpc-status 0 and the server's x-trailer."""
    status, headers, trailers, body, _ = curl_grpc(
        env.port, "/weft.test.Echo/Unary", "raw.test",
        grpc_frame(echo_request_bytes(b"raw")), workdir=env.workdir, name="raw-trailers")
    assert status == 200 and headers.get("content-type") == "application/grpc", (status, headers)
    assert trailers.get("grpc-status") == "0", "trailers: %r (headers %r)" % (trailers, headers)
    assert trailers.get("x-trailer") == "unary-done", trailers
    assert body[:1] == b"\x00" and int.from_bytes(body[1:5], "big") == len(body) - 5, body
    assert b"raw" in body, body


def test_trailers_reach_an_http11_client_as_chunked_trailers(env):
    """An HTTP/1.1 client of an HTTP/2 gRPC upstream: the response is chunked and the upstream's
    trailers (grpc-status, x-trailer) follow the last chunk."""
    req = Path(env.workdir) / "h1-trailers.bin"
    req.write_bytes(grpc_frame(echo_request_bytes(b"h1")))
    r = wh.curl(["--http1.1", "--raw", "-D", "-", "-H", "content-type: application/grpc",
                 "-H", "te: trailers", "-H", "host: raw.test", "--data-binary", "@%s" % req,
                 "http://%s:%d/weft.test.Echo/Unary" % (wh.LOOPBACK, env.port)], text=False)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    head, _, rest = out.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower(), head
    last = rest.rfind(b"\r\n0\r\n")
    assert last >= 0, "no last chunk: %r" % rest
    trailers = rest[last + 5:]
    assert b"grpc-status: 0\r\n" in trailers and b"x-trailer: unary-done\r\n" in trailers, trailers
    assert trailers.endswith(b"\r\n\r\n"), trailers


# ---------------------------------------------------------------------------------------------
# statuses from the server and from the proxy
# ---------------------------------------------------------------------------------------------

def test_server_status_passes_through(env):
    res = grpc_call(env.port, "unary", env.proxy, fail_code=NOT_FOUND, fail_message="no such echo")
    expect_code(res, NOT_FOUND, env.proxy, "no such echo")
    assert res["trailers"].get("x-trailer") == "unary-done", describe(res)


def test_server_status_message_encoding(env):
    """grpc-message is percent-encoded on the wire; the proxy must not alter it."""
    msg = "caf\u00e9 100% \u2713 \"quoted\" \\ end"
    res = grpc_call(env.port, "unary", env.proxy, fail_code=9, fail_message=msg)
    expect_code(res, 9, env.proxy, msg)


@pytest.mark.parametrize("scenario", ["server_stream", "client_stream", "bidi"])
def test_server_status_on_streams(env, scenario):
    res = grpc_call(env.port, scenario, env.proxy, size=1000, count=3, fail_code=7,
                    fail_message="denied: %s" % scenario)
    expect_code(res, 7, env.proxy, "denied: %s" % scenario)


@pytest.mark.parametrize("scenario", ["client_stream", "bidi"])
def test_server_status_while_client_still_sending(env, scenario):
    """The server fails on the first of 200 x 64 KB messages; its status must reach the client
    although the client's upload has not finished (the proxy then resets the upload)."""
    res = grpc_call(env.port, scenario, env.proxy, size=65536, count=200, fail_code=7,
                    fail_message="early", deadline_ms=10000)
    expect_code(res, 7, env.proxy, "early")


def test_upstream_down_is_unavailable(env):
    res = grpc_call(env.port, "unary", env.proxy, authority="down.test")
    expect_code(res, UNAVAILABLE, env.proxy)


def test_unknown_route_is_unimplemented(env):
    res = grpc_call(env.port, "unary", env.proxy, authority="nomatch.test")
    expect_code(res, UNIMPLEMENTED, env.proxy)


def test_unknown_route_trailers_only_on_the_wire(env):
    """No body (END_STREAM on the request HEADERS)."""
    status, headers, trailers, body, _ = curl_grpc(
        env.port, "/weft.test.Echo/Unary", "nomatch.test", None, workdir=env.workdir,
        name="nomatch")
    fields = dict(headers, **trailers)
    assert status == 200 and fields.get("grpc-status") == "12" and body == b"", (
        "expected a trailers-only HTTP 200 with grpc-status 12: %d %r %r %r"
        % (status, headers, trailers, body))
    assert fields.get("content-type", "").startswith("application/grpc"), (headers, trailers)


def test_route_timeout_is_deadline_exceeded(env):
    """timeout: 0.2s on the route, the server sleeps 1 s, the client would wait 10 s."""
    res = grpc_call(env.port, "unary", env.proxy, authority="timeout.test", sleep_ms=1000,
                    deadline_ms=10000)
    expect_code(res, DEADLINE_EXCEEDED, env.proxy)
    assert 150 <= res["elapsed_ms"] < 900, (
        "the proxy's 0.2 s route timeout should end the call:\n" + describe(res))


def test_route_timeout_on_a_stream(env):
    res = grpc_call(env.port, "server_stream", env.proxy, authority="timeout.test", sleep_ms=1000,
                    count=2, size=10, deadline_ms=10000)
    expect_code(res, DEADLINE_EXCEEDED, env.proxy)
    assert res["elapsed_ms"] < 900, describe(res)


def test_max_grpc_timeout_client_deadline(env):
    """max_grpc_timeout: the client's 100 ms deadline (grpc-timeout) becomes the route timeout."""
    res = grpc_call(env.port, "unary", env.proxy, authority="maxgrpc.test", sleep_ms=1000,
                    deadline_ms=100)
    expect_code(res, DEADLINE_EXCEEDED, env.proxy)
    assert res["elapsed_ms"] < 900, describe(res)


def test_max_grpc_timeout_header_from_the_proxy(env):
    """grpc-timeout: 100m and no client-side deadline at all (curl): the proxy itself answers
    DEADLINE_EXCEEDED after about 100 ms."""
    status, headers, trailers, body, elapsed = curl_grpc(
        env.port, "/weft.test.Echo/Unary", "maxgrpc.test",
        grpc_frame(echo_request_bytes(sleep_ms=1000)), headers=["grpc-timeout: 100m"],
        workdir=env.workdir, name="grpc-timeout")
    fields = dict(headers, **trailers)
    assert status == 200 and fields.get("grpc-status") == "4", (
        "expected grpc-status 4 from the proxy: %d %r %r" % (status, headers, trailers))
    assert elapsed < 0.9, "took %.2f s" % elapsed


def test_max_grpc_timeout_caps_the_deadline(env):
    """max_grpc_timeout 0.3s caps the client's 10 s deadline."""
    res = grpc_call(env.port, "unary", env.proxy, authority="cap.test", sleep_ms=1000,
                    deadline_ms=10000)
    expect_code(res, DEADLINE_EXCEEDED, env.proxy)
    assert 250 <= res["elapsed_ms"] < 900, (
        "the 0.3 s cap, not the client's deadline, should end the call:\n" + describe(res))


def test_max_grpc_timeout_within_the_deadline(env):
    res = grpc_call(env.port, "unary", env.proxy, authority="maxgrpc.test", sleep_ms=200,
                    deadline_ms=5000)
    expect_echoed(res, env.proxy)


# ---------------------------------------------------------------------------------------------
# route match `grpc: {}`
# ---------------------------------------------------------------------------------------------

def plain_curl_status(port, authority, path, args):
    url = "http://%s:%d%s" % (wh.LOOPBACK, port, path)
    r = wh.curl(list(args) + ["-o", "/dev/null", "-w", "%{http_code}", "-H", "host: " + authority, url])
    return r.stdout if r.returncode == 0 else "curl rc=%d: %s" % (r.returncode, r.stderr.strip())


def test_grpc_route_match(env):
    """match {prefix: /, grpc: {}}: the gRPC call is routed, plain requests to the same path
    (HTTP/2 and, on the same AUTO listener, HTTP/1.1) get 404."""
    res = grpc_call(env.port, "unary", env.proxy, authority="grpconly.test", size=10)
    expect_echoed(res, env.proxy)
    for what, args in (("HTTP/2 GET", ["--http2-prior-knowledge"]),
                       ("HTTP/1.1 POST", ["--http1.1", "-H", "content-type: application/json",
                                          "--data-binary", "{}"])):
        got = plain_curl_status(env.port, "grpconly.test", "/weft.test.Echo/Unary", args)
        assert got == "404", "a non-gRPC request (%s) must not match the grpc route: %s%s" % (
            what, got, env.proxy.ctx())


def test_grpc_route_match_h2_request_with_body(env):
    """The same 404 for an HTTP/2 POST with a body (the body is still arriving when the proxy
    answers)."""
    got = plain_curl_status(env.port, "grpconly.test", "/weft.test.Echo/Unary",
                            ["--http2-prior-knowledge", "-H", "content-type: application/json",
                             "--data-binary", "{}"])
    assert got == "404", "HTTP/2 POST with a body: expected 404, got %s%s" % (got, env.proxy.ctx())


# ---------------------------------------------------------------------------------------------
# TLS
# ---------------------------------------------------------------------------------------------

TLS_CASES = [("unary", 100000, 1), ("bidi", 1000, 10),
             ("bidi", 65536, 50)]


@pytest.mark.parametrize("scenario,size,count", TLS_CASES)
def test_tls_listener_h2_alpn(env, scenario, size, count):
    """grpc SslCredentials with the test CA against a DownstreamTlsContext (ALPN h2)."""
    res = grpc_call(env.tls_port, scenario, env.proxy, size=size, count=count, tls=True,
                    ca=env.pki.ca.cert, server_name=A, authority=A, deadline_ms=10000)
    expect_echoed(res, env.proxy)
    assert res["initial_metadata"].get("echo-x-forwarded-proto") == "https", describe(res)
    assert res["initial_metadata"].get("echo-authority") == A, describe(res)
    assert res["trailers"].get("x-trailer") == "%s-done" % scenario, describe(res)


@pytest.mark.parametrize("scenario,size,count", TLS_CASES)
def test_tls_upstream_h2(env, scenario, size, count):
    """h2c downstream, HTTP/2 over TLS (ALPN h2, SNI b.example.com) to a TLS gRPC server."""
    res = grpc_call(env.port, scenario, env.proxy, size=size, count=count, authority="tlsup.test",
                    deadline_ms=10000)
    expect_echoed(res, env.proxy)
    assert res["trailers"].get("x-trailer") == "%s-done" % scenario, describe(res)


# ---------------------------------------------------------------------------------------------
# stats
# ---------------------------------------------------------------------------------------------

def test_stats(weft):
    echo = GrpcEchoServer("stats", weft.workdir)
    try:
        port, admin = weft.port(), weft.port()
        proxy = weft.start_proxy(wh.bootstrap(admin, listeners=[
            wh.listener("grpc", port, [wh.hcm_filter([wh.vhost("all", ["*"], [echo_route("backend")])],
                                                     stat_prefix="grpc_stats", codec_type="AUTO")]),
        ], clusters=[h2_cluster("backend", echo.port)]))
        for scenario in ("unary", "unary", "server_stream", "client_stream", "bidi"):
            expect_echoed(grpc_call(port, scenario, proxy, size=1000, count=5), proxy)
        # a server-side error is still HTTP 200 upstream
        expect_code(grpc_call(port, "unary", proxy, fail_code=NOT_FOUND, fail_message="x"),
                    NOT_FOUND, proxy)
        for name, want in (("http.grpc_stats.downstream_rq_http2_total", 6),
                           ("http.grpc_stats.downstream_rq_2xx", 6),
                           ("cluster.backend.upstream_rq_2xx", 6),
                           ("cluster.backend.upstream_rq_total", 6),
                           # per gRPC status: five OK calls, one NOT_FOUND (5)
                           ("cluster.backend.grpc.0", 5),
                           ("cluster.backend.grpc.5", 1),
                           ("cluster.backend.grpc.success", 5),
                           ("cluster.backend.grpc.failure", 1),
                           ("cluster.backend.grpc.total", 6)):
            got = proxy.wait_stat(name, want)
            assert got == want, "%s: expected %d, got %r\n%s%s" % (
                name, want, got,
                "\n".join("%s: %s" % kv for kv in sorted(proxy.stats().items())
                          if "grpc_stats" in kv[0] or "backend" in kv[0]), proxy.ctx())
        stats = proxy.stats()
        assert stats.get("http.grpc_stats.downstream_rq_http1_total", 0) == 0, stats
    finally:
        echo.stop()
