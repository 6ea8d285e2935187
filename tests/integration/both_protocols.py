"""One HTTP client for tests that must hold on HTTP/1.1 and HTTP/2 alike (as Envoy's protocol
integration tests run each case on both): curl with --http1.1 or --http2-prior-knowledge.

    @pytest.mark.parametrize("proto", PROTOCOLS)
    def test_x(env, proto):
        r = request(proto, env.port, "/path", headers=["x-a: 1"])
        assert r.status == 200, r.describe()
"""

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import weft_harness as wh

PROTOCOLS = ("http1", "http2")

if shutil.which("curl") is None:
    raise AssertionError("curl is not installed (Debian: apt-get install -y curl); it is the client of these tests")


class Reply:
    def __init__(self, proto, args, status, headers, trailers, body, elapsed):
        self.proto, self.args = proto, args
        self.status, self.headers, self.trailers, self.body, self.elapsed = status, headers, trailers, body, elapsed

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def describe(self):
        return "%s: status %s in %.3fs, headers %s, trailers %s, body %r (curl %s)" % (
            self.proto, self.status, self.elapsed, self.headers, self.trailers, self.body[:300],
            " ".join(self.args))


def _fields(lines):
    d = {}
    for line in lines:
        if ":" in line:
            k, v = line.split(":", 1)
            d[k.strip().lower()] = v.strip()
    return d


def request(proto, port, path, method="GET", headers=(), body=None, host="test.local", timeout=20.0,
            reset=False):
    """One request; returns a Reply (status, headers and trailers as lower-cased dicts, body bytes,
    elapsed seconds). `reset`: the stream must end in a reset or truncation (curl fails), and
    the Reply holds what came before it (status None if no head came)."""
    assert proto in PROTOCOLS, proto
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "body"
        args = ["--http1.1" if proto == "http1" else "--http2-prior-knowledge", "-sS", "-D", "-",
                "-o", str(out), "-X", method, "-H", "host: %s" % host]
        for h in headers:
            args += ["-H", h]
        if body is not None:
            req = Path(tmp) / "req"
            req.write_bytes(body)
            args += ["--data-binary", "@%s" % req]
        args.append("http://%s:%d%s" % (wh.LOOPBACK, port, path))
        t0 = time.monotonic()
        r = wh.curl(args, timeout=timeout)
        elapsed = time.monotonic() - t0
        if reset:
            assert r.returncode != 0, "curl %s succeeded; a reset was expected: %s" % (" ".join(args), r.stdout)
            heads = [b for b in r.stdout.replace("\r\n", "\n").split("\n\n") if b.startswith("HTTP/")]
            status = int(heads[-1].split()[1]) if heads else None
            return Reply(proto, args, status, {}, {}, out.read_bytes() if out.exists() else b"", elapsed)
        assert r.returncode == 0, "curl %s failed rc=%d: %s" % (" ".join(args), r.returncode, r.stderr)
        # -D -: the final response head (after any 100 Continue), then the trailers (HTTP/2).
        blocks = [b for b in r.stdout.replace("\r\n", "\n").split("\n\n") if b.strip()]
        heads = [b for b in blocks if b.startswith("HTTP/")]
        head = heads[-1].strip().splitlines()
        trailers = _fields(blocks[-1].strip().splitlines()) if not blocks[-1].startswith("HTTP/") else {}
        return Reply(proto, args, int(head[0].split()[1]), _fields(head[1:]), trailers,
                     out.read_bytes() if out.exists() else b"", elapsed)


def status_classes(proto, port, path, count, headers=(), host="test.local", timeout=60.0):
    """`count` GETs of `path` on one connection; returns how many answers fell in each class,
    {"2xx": n, "5xx": m, ...}. HTTP/1.1 with curl; HTTP/2 with h2load (curl 7.88 fails to reuse
    an h2c connection for a second URL: "Error in the HTTP2 framing layer", with any server)."""
    url = "http://%s:%d%s" % (wh.LOOPBACK, port, path)
    if proto == "http1":
        args = ["--http1.1", "-sS", "-H", "host: %s" % host]
        for h in headers:
            args += ["-H", h]
        for _ in range(count):
            args += ["-o", "/dev/null", "-w", "%{http_code}\\n", url]
        r = subprocess.run(["curl"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout)
        assert r.returncode == 0, "curl failed rc=%d: %s" % (r.returncode, r.stderr[-500:])
        out = {}
        for code in r.stdout.split():
            key = "%sxx" % code[0]
            out[key] = out.get(key, 0) + 1
        return out
    if shutil.which("h2load") is None:
        raise AssertionError("h2load is not installed (Debian: apt-get install -y nghttp2-client)")
    args = ["h2load", "-n", str(count), "-c", "1", "-m", "1", "-H", ":authority: %s" % host]
    for h in headers:
        args += ["-H", h]
    r = subprocess.run(args + [url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", r.stdout)
    assert r.returncode == 0 and m, "h2load failed rc=%d: %s %s" % (r.returncode, r.stdout[-800:], r.stderr[-500:])
    return {k: int(v) for k, v in zip(("2xx", "3xx", "4xx", "5xx"), m.groups()) if int(v)}
