"""Helpers for the weft-proxy integration tests (Python 3 standard library only).

- free loopback ports, upstream servers (examples/backend/echo_server.py as a subprocess,
  raw TCP servers in-process, a "blackhole" port whose connects hang),
- Envoy v3 bootstrap builders (plain dicts, written as JSON, which is valid YAML),
- starting weft-proxy, waiting for admin /ready, admin helpers, always killing it at the end,
- HTTP clients: `http_request`/`HttpSession` (http.client) for normal traffic and `RawConn`
  (a raw socket with its own HTTP/1.1 response parser) to send exact bytes,
- TLS: `TlsConn` / `tls_request` / `tls_attempt` (Python ssl clients), `curl`, `TlsEchoServer`
  (the echo handler behind TLS, in-process) and the Envoy TLS config builders; the test PKI is
  tests/integration/tls_certs.py (fixture `pki`).

The binary is $WEFT_PROXY_BIN, default <repo>/build/bin/weft-proxy.
"""

import hashlib
import http.client
import json
import os
import re
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
ECHO_SERVER = REPO_ROOT / "examples" / "backend" / "echo_server.py"

if str(ECHO_SERVER.parent) not in sys.path:
    sys.path.insert(0, str(ECHO_SERVER.parent))
import echo_server  # noqa: E402  (payload helpers shared with the backend; tests import it too)

LOOPBACK = "127.0.0.1"

# Envoy type URLs used by the builders and tests.
HCM_TYPE = ("type.googleapis.com/envoy.extensions.filters.network."
            "http_connection_manager.v3.HttpConnectionManager")
ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
TCP_PROXY_TYPE = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
FILE_ACCESS_LOG_TYPE = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog"
DOWNSTREAM_TLS_TYPE = ("type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."
                       "DownstreamTlsContext")
UPSTREAM_TLS_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
TLS_INSPECTOR_TYPE = ("type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3."
                      "TlsInspector")

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ISO_MS_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


# ---------------------------------------------------------------------------------------------
# ports, waiting
# ---------------------------------------------------------------------------------------------

_handed_out = set()
_handed_lock = threading.Lock()


# Ports are drawn below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768 and
# up here): a port the kernel picks for bind(0) is one it may also give to some other process's
# outgoing connection a moment later, and a listener on 0.0.0.0:PORT then fails to bind.
# Each test process walks the range from its own pid-derived start, so two processes running at
# once only meet if their starts are within the few dozen ports each uses.
_PORT_LOW, _PORT_HIGH = 20000, 32000
_port_next = [_PORT_LOW + (os.getpid() * 7919) % (_PORT_HIGH - _PORT_LOW)]


def free_port(host=LOOPBACK):
    """A currently free TCP port (on `host` and on 0.0.0.0), outside the ephemeral range, never
    the same twice in this process."""
    for _ in range(2000):
        with _handed_lock:
            port = _port_next[0]
            _port_next[0] = _PORT_LOW + (port + 1 - _PORT_LOW) % (_PORT_HIGH - _PORT_LOW)
            if port in _handed_out:
                continue
        ok = True
        for addr in {host, "0.0.0.0"}:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind((addr, port))
            except OSError:
                ok = False
            finally:
                s.close()
        if not ok:
            continue
        with _handed_lock:
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError("could not find a free port in %d-%d" % (_PORT_LOW, _PORT_HIGH))


def wait_for(predicate, timeout, interval=0.05):
    """Poll predicate() until it returns a truthy value or timeout passes; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def read_lines(path):
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n") for line in f if line.strip()]
    except FileNotFoundError:
        return []


def wait_for_log(path, predicate=lambda line: True, count=1, timeout=3.0):
    """Poll a log file (access logs are flushed about once a second) until `count` lines satisfy
    predicate. Returns all lines that do (possibly fewer than count on timeout)."""
    def matching():
        return [line for line in read_lines(path) if predicate(line)]
    wait_for(lambda: len(matching()) >= count, timeout, 0.1)
    return matching()


def stream_payload(chunks, size):
    """The body the echo server sends for /stream?chunks=N&size=S."""
    return echo_server.stream_payload(chunks, size)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def tail(text, lines=60):
    parts = text.splitlines()
    return "\n".join(parts[-lines:])


# ---------------------------------------------------------------------------------------------
# HTTP responses and clients
# ---------------------------------------------------------------------------------------------

class Response:
    """One HTTP response: status, reason, version, headers (list of (name, value)), body bytes."""

    def __init__(self, status, reason="", version="HTTP/1.1", headers=(), body=b"", interim=()):
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = list(headers)
        self.body = body
        self.interim = list(interim)  # 1xx responses seen before this one (RawConn only)

    def header(self, name, default=None):
        name = name.lower()
        values = [v for k, v in self.headers if k.lower() == name]
        return ", ".join(values) if values else default

    def header_values(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def has_header(self, name):
        return any(k.lower() == name.lower() for k, _ in self.headers)

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise AssertionError("expected a JSON body, got %s" % self.describe()) from exc

    def describe(self, body_limit=400):
        hdrs = "; ".join("%s: %s" % kv for kv in self.headers)
        body = self.body[:body_limit]
        more = "" if len(self.body) <= body_limit else "... (%d bytes)" % len(self.body)
        return "%s %s %s [%s] body=%r%s" % (self.version, self.status, self.reason, hdrs, body, more)

    __repr__ = describe

    def connection_close(self):
        return "close" in (self.header("connection") or "").lower()


def _headers_items(headers):
    if headers is None:
        return []
    if isinstance(headers, dict):
        return list(headers.items())
    return list(headers)


def http_request(port, path="/", method="GET", headers=None, body=None, host=LOOPBACK,
                 timeout=10.0):
    """One request on a fresh connection (http.client). Pass headers={"Host": ...} to choose the
    Host header. Returns a Response."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        return _http_client_exchange(conn, method, path, headers, body)
    finally:
        conn.close()


def _http_client_exchange(conn, method, path, headers, body):
    hdrs = dict(_headers_items(headers))
    conn.request(method, path, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    version = {10: "HTTP/1.0", 11: "HTTP/1.1"}.get(resp.version, str(resp.version))
    return Response(resp.status, resp.reason, version, resp.getheaders(), data)


class HttpSession:
    """A keep-alive http.client connection (it silently reconnects if the server closed it, so
    use RawConn when the test is about the connection itself)."""

    def __init__(self, port, host=LOOPBACK, timeout=10.0):
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def request(self, path="/", method="GET", headers=None, body=None):
        return _http_client_exchange(self.conn, method, path, headers, body)

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def build_request(method, path, headers=None, body=None, version="HTTP/1.1", host="test.local"):
    """Exact request bytes. A Host header is added unless given (host=None: none at all);
    Content-Length is added for a body unless Content-Length/Transfer-Encoding is given."""
    items = _headers_items(headers)
    names = {k.lower() for k, _ in items}
    lines = ["%s %s %s" % (method, path, version)]
    if host is not None and "host" not in names:
        lines.append("Host: %s" % host)
    for k, v in items:
        lines.append("%s: %s" % (k, v))
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        lines.append("Content-Length: %d" % len(body))
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + (body or b"")


def chunked_body(data, sizes=(8192,)):
    """Encode data with chunked transfer coding, cycling through the given chunk sizes."""
    out = []
    pos = 0
    i = 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        i += 1
        piece = data[pos:pos + n]
        pos += n
        out.append(b"%x\r\n" % len(piece) + piece + b"\r\n")
    out.append(b"0\r\n\r\n")
    return b"".join(out)


class RawConn:
    """A raw TCP connection with a small HTTP/1.1 response reader, for exact-byte tests."""

    def __init__(self, port, host=LOOPBACK, timeout=10.0, source_ip=None):
        self.timeout = timeout
        source = (source_ip, 0) if source_ip else None
        self.sock = socket.create_connection((host, port), timeout=timeout, source_address=source)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False
        self.reset = False

    # -- sending --
    def send(self, data):
        self.sock.sendall(data)

    def request(self, method="GET", path="/", headers=None, body=None, version="HTTP/1.1",
                host="test.local"):
        self.send(build_request(method, path, headers, body, version, host))

    # -- receiving --
    def _fill(self, deadline, what):
        if self.eof:
            raise AssertionError("connection closed by peer while waiting for %s; received so far: %r"
                                 % (what, bytes(self.buf[:600])))
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("timed out waiting for %s; received so far: %r"
                                 % (what, bytes(self.buf[:600])))
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 18)
        except socket.timeout:
            raise AssertionError("timed out waiting for %s; received so far: %r"
                                 % (what, bytes(self.buf[:600]))) from None
        except ConnectionResetError:
            self.eof = True
            self.reset = True
            return
        if not data:
            self.eof = True
            return
        self.buf += data

    def _deadline(self, timeout):
        return time.monotonic() + (self.timeout if timeout is None else timeout)

    def read_exact(self, n, timeout=None, what=None):
        deadline = self._deadline(timeout)
        while len(self.buf) < n:
            self._fill(deadline, what or "%d bytes" % n)
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def _read_line(self, deadline, what):
        while True:
            idx = self.buf.find(b"\r\n")
            if idx >= 0:
                line = bytes(self.buf[:idx])
                del self.buf[:idx + 2]
                return line
            self._fill(deadline, what)

    def read_head(self, timeout=None):
        """Read one status line + header block. Returns (version, status, reason, headers)."""
        deadline = self._deadline(timeout)
        while True:
            idx = self.buf.find(b"\r\n\r\n")
            if idx >= 0:
                break
            self._fill(deadline, "a response header block")
        head = bytes(self.buf[:idx]).decode("latin-1")
        del self.buf[:idx + 4]
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise AssertionError("malformed status line %r (head %r)" % (lines[0], head[:600]))
        headers = []
        for line in lines[1:]:
            if ":" not in line:
                raise AssertionError("malformed response header line %r" % line)
            k, v = line.split(":", 1)
            headers.append((k.strip(), v.strip()))
        return parts[0], int(parts[1]), (parts[2] if len(parts) > 2 else ""), headers

    def read_response(self, method="GET", timeout=None, body_sink=None, after_head=None):
        """Read one final response (1xx interim responses are collected in .interim).
        body_sink(bytes) receives body pieces instead of keeping them (Response.body is then b"");
        after_head(response) is called once the header block is parsed, before the body is read."""
        deadline = self._deadline(timeout)
        interim = []
        while True:
            version, status, reason, headers = self.read_head(max(0.001, deadline - time.monotonic()))
            if 100 <= status < 200 and status != 101:
                interim.append(Response(status, reason, version, headers))
                continue
            break
        resp = Response(status, reason, version, headers, b"", interim)
        if after_head is not None:
            after_head(resp)
        pieces = []
        sink = body_sink or pieces.append
        te = (resp.header("transfer-encoding") or "").lower()
        cl = resp.header("content-length")
        if method == "HEAD" or status in (101, 204, 304) or 100 <= status < 200:
            pass
        elif "chunked" in te:
            while True:
                line = self._read_line(deadline, "a chunk size line")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self._read_line(deadline, "chunked trailers") != b"":
                        pass
                    break
                while size:
                    while not self.buf:
                        self._fill(deadline, "chunk data")
                    n = min(size, len(self.buf))
                    sink(bytes(self.buf[:n]))
                    del self.buf[:n]
                    size -= n
                if self._read_line(deadline, "CRLF after chunk data") != b"":
                    raise AssertionError("chunk data not followed by CRLF")
        elif cl is not None:
            remaining = int(cl.split(",")[0])
            while remaining:
                while not self.buf:
                    self._fill(deadline, "%d more body bytes (content-length %s)" % (remaining, cl))
                n = min(remaining, len(self.buf))
                sink(bytes(self.buf[:n]))
                del self.buf[:n]
                remaining -= n
        else:
            # close-delimited body
            while not self.eof:
                if self.buf:
                    sink(bytes(self.buf))
                    self.buf.clear()
                self._fill(deadline, "the end of a close-delimited body")
            if self.buf:
                sink(bytes(self.buf))
                self.buf.clear()
        resp.body = b"".join(pieces)
        return resp

    def read_available(self, timeout=0.2):
        """Whatever arrives within timeout (b"" if nothing)."""
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            r, _, _ = select.select([self.sock], [], [], max(0, deadline - time.monotonic()))
            if not r:
                break
            try:
                data = self.sock.recv(1 << 18)
            except ConnectionResetError:
                self.eof = self.reset = True
                break
            if not data:
                self.eof = True
                break
            self.buf += data
        data = bytes(self.buf)
        self.buf.clear()
        return data

    def wait_closed(self, timeout=3.0):
        """True if the peer closes (EOF or reset) within timeout. Data that arrives meanwhile is
        kept in .buf."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            r, _, _ = select.select([self.sock], [], [], remaining)
            if not r:
                return False
            try:
                data = self.sock.recv(1 << 18)
            except ConnectionResetError:
                self.eof = self.reset = True
                break
            if not data:
                self.eof = True
                break
            self.buf += data
        return True

    def is_open_for(self, seconds):
        """True if the peer does NOT close the connection within `seconds`."""
        return not self.wait_closed(seconds)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect_refused(port, host=LOOPBACK, timeout=1.0):
    """True if a TCP connect to host:port is refused (nothing listening)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        s.close()


# ---------------------------------------------------------------------------------------------
# TLS clients (Python ssl and curl)
# ---------------------------------------------------------------------------------------------

TLS_VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}
# what SSLSocket.version() says for each
TLS_VERSION_NAMES = {"1.0": "TLSv1", "1.1": "TLSv1.1", "1.2": "TLSv1.2", "1.3": "TLSv1.3"}


def _set_tls_versions(ctx, minimum=None, maximum=None):
    with warnings.catch_warnings():   # TLSv1 / TLSv1_1 are deprecated in Python's ssl
        warnings.simplefilter("ignore", DeprecationWarning)
        if minimum:
            ctx.minimum_version = TLS_VERSIONS[minimum]
        if maximum:
            ctx.maximum_version = TLS_VERSIONS[maximum]


def tls_client_context(ca=None, cert=None, key=None, alpn=None, version=None,
                       check_hostname=True, legacy=False):
    """A client SSLContext. ca=None: no verification of the server at all. cert/key: the client
    certificate. alpn: protocols to offer. version: "1.2" / "1.3" / ... pins min = max.
    legacy=True lowers OpenSSL's security level so that TLS 1.0/1.1 can be offered at all."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca:
        ctx.load_verify_locations(cafile=str(ca))
        ctx.check_hostname = check_hostname
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(str(cert), str(key))
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    if legacy:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    if version:
        _set_tls_versions(ctx, version, version)
    return ctx


def peer_cert_names(cert_dict):
    """(CN, [SAN strings like 'DNS:a.example.com' / 'URI:spiffe://...']) of a getpeercert() dict."""
    cn = None
    for rdn in (cert_dict or {}).get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                cn = v
    sans = ["%s:%s" % (k, v) for k, v in (cert_dict or {}).get("subjectAltName", ())]
    return cn, sans


def tls_info(sock):
    """What a client or server TLS socket negotiated, as a plain dict."""
    try:
        cert = sock.getpeercert()
    except (ValueError, ssl.SSLError):
        cert = None
    cn, sans = peer_cert_names(cert)
    cipher = sock.cipher()
    return {
        "version": sock.version(),
        "cipher": cipher[0] if cipher else None,
        "alpn": sock.selected_alpn_protocol(),
        "session_reused": sock.session_reused,
        "peer_cn": cn,
        "peer_sans": sans,
        "peer_cert_present": sock.getpeercert(binary_form=True) is not None,
    }


class TlsConn(RawConn):
    """RawConn over TLS: TCP connect, then a client handshake with `context` (server_hostname is
    the SNI; session= resumes a session). Raises ssl.SSLError / OSError if the handshake fails."""

    def __init__(self, port, context, server_hostname=None, session=None, host=LOOPBACK,
                 timeout=10.0, source_ip=None):
        super().__init__(port, host, timeout, source_ip)
        raw = self.sock
        try:
            self.sock = context.wrap_socket(raw, server_hostname=server_hostname, session=session)
        except BaseException:
            raw.close()
            raise
        self.server_hostname = server_hostname

    @property
    def info(self):
        return tls_info(self.sock)

    @property
    def session(self):
        return self.sock.session

    def _fill(self, deadline, what):
        try:
            super()._fill(deadline, what)
        except ssl.SSLError as exc:   # an alert from the peer
            self.eof = self.reset = True
            self.tls_error = exc

    def wait_closed(self, timeout=3.0):
        # select() cannot see bytes already decrypted into OpenSSL's buffer: poll with recv.
        deadline = time.monotonic() + timeout
        while not self.eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(1 << 18)
            except socket.timeout:
                return False
            except (ConnectionResetError, ssl.SSLError):
                self.eof = self.reset = True
                break
            if not data:
                self.eof = True
                break
            self.buf += data
        return True

    def read_available(self, timeout=0.2):
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            self.sock.settimeout(max(0.001, deadline - time.monotonic()))
            try:
                data = self.sock.recv(1 << 18)
            except socket.timeout:
                break
            except (ConnectionResetError, ssl.SSLError):
                self.eof = self.reset = True
                break
            if not data:
                self.eof = True
                break
            self.buf += data
        data = bytes(self.buf)
        self.buf.clear()
        return data


def tls_request(port, context, server_hostname=None, path="/", method="GET", headers=None,
                body=None, session=None, host_header=None, timeout=10.0):
    """One HTTP/1.1 request over a fresh TLS connection. Returns (Response, info dict, session).
    The session is read after the response, so TLS 1.3 tickets have arrived."""
    with TlsConn(port, context, server_hostname, session=session, timeout=timeout) as c:
        c.request(method, path, headers=headers, body=body,
                  host=host_header or server_hostname or "test.local")
        r = c.read_response(method)
        return r, c.info, c.session


class TlsOutcome:
    """What became of one TLS connection attempt + GET (see tls_attempt)."""

    def __init__(self, stage, response=None, error=None, info=None):
        self.stage = stage          # "handshake" (failed there), "response" (got one), "closed", "timeout"
        self.response = response
        self.error = error
        self.info = info

    @property
    def rejected(self):
        """The connection failed or was closed without any HTTP response."""
        return self.stage in ("handshake", "closed")

    def describe(self):
        if self.stage == "response":
            return "got a response %s (TLS %r)" % (self.response.describe(200), self.info)
        if self.stage == "timeout":
            return "no response and no close within the timeout (TLS %r)" % (self.info,)
        return "%s failed: %r (TLS %r)" % (self.stage, self.error, self.info)

    __repr__ = describe


def tls_attempt(port, context, server_hostname=None, path="/", timeout=5.0):
    """Try a handshake and one GET without raising. In TLS 1.3 the client's handshake finishes
    before the server has checked the client certificate, so a rejection can also show up as an
    alert, a reset or EOF on the first read: all of those count as `rejected`."""
    try:
        c = TlsConn(port, context, server_hostname, timeout=timeout)
    except (ssl.SSLError, OSError) as exc:
        return TlsOutcome("handshake", error=exc)
    with c:
        info = None
        try:
            info = c.info
            c.request("GET", path, host=server_hostname or "test.local")
            return TlsOutcome("response", response=c.read_response(timeout=timeout), info=info)
        except (ssl.SSLError, OSError) as exc:
            return TlsOutcome("closed", error=exc, info=info)
        except AssertionError as exc:   # RawConn: EOF or timeout before a complete response
            stage = "closed" if c.eof else "timeout"
            return TlsOutcome(stage, error=getattr(c, "tls_error", None) or exc, info=info)


def curl(args, timeout=20.0, text=True):
    """Run curl (silent, errors shown, 10 s max). Returns CompletedProcess with text output
    (bytes with text=False)."""
    cmd = ["curl", "-sS", "--max-time", "10"] + [str(a) for a in args]
    try:
        if not text:
            return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, timeout=timeout)
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, timeout=timeout, text=True,
                              errors="replace")
    except subprocess.TimeoutExpired:
        raise AssertionError("curl did not finish within %.0fs: %s" % (timeout, " ".join(cmd))) from None


def curl_resolve(name, port):
    """curl arguments that send `name` as SNI/Host but connect to 127.0.0.1:port."""
    return ["--resolve", "%s:%d:%s" % (name, port, LOOPBACK)]


# ---------------------------------------------------------------------------------------------
# upstream servers
# ---------------------------------------------------------------------------------------------

class EchoProcess:
    """examples/backend/echo_server.py as a subprocess on a kernel-chosen loopback port."""

    def __init__(self, name, log_dir):
        self.name = name
        self.port = None
        self.log_path = Path(log_dir) / ("echo-%s.log" % name)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(ECHO_SERVER), "--host", LOOPBACK, "--port", "0", "--name", name],
            stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL)

    def wait_listening(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            r, _, _ = select.select([self.proc.stdout], [], [], max(0, remaining))
            if not r:
                raise RuntimeError("echo server %r did not report LISTENING within %.0fs; log: %s"
                                   % (self.name, timeout, self.log_text()))
            ch = os.read(self.proc.stdout.fileno(), 1)
            if not ch:
                raise RuntimeError("echo server %r exited (rc=%s) before listening; log: %s"
                                   % (self.name, self.proc.poll(), self.log_text()))
            line += ch
        m = re.match(rb"LISTENING (\S+):(\d+)", line)
        if not m:
            raise RuntimeError("unexpected first line from echo server: %r" % line)
        self.port = int(m.group(2))
        return self

    @property
    def address(self):
        return "%s:%d" % (LOOPBACK, self.port)

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


class TcpServer:
    """An in-process raw TCP server on a loopback port.

    mode "echo": echo bytes as they arrive; on the client's EOF, close.
    mode "echo_after_eof": read until the client's EOF, then send everything back and close
      (proves a half-closed connection still carries data the other way).
    banner: bytes sent first on every accepted connection (identifies the server).
    """

    def __init__(self, mode="echo", banner=b"", host=LOOPBACK):
        self.mode = mode
        self.banner = banner
        self.accepted = 0
        self._lock = threading.Lock()
        self._conns = []
        self._stop = threading.Event()
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, 0))
        self.lsock.listen(256)
        self.lsock.settimeout(0.1)
        self.port = self.lsock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    @property
    def address(self):
        return "%s:%d" % (LOOPBACK, self.port)

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(None)
        try:
            if self.banner:
                conn.sendall(self.banner)
            if self.mode == "echo":
                while True:
                    data = conn.recv(1 << 16)
                    if not data:
                        break
                    conn.sendall(data)
            elif self.mode == "echo_after_eof":
                got = []
                while True:
                    data = conn.recv(1 << 16)
                    if not data:
                        break
                    got.append(data)
                conn.sendall(b"".join(got))
            else:
                raise ValueError(self.mode)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def stop(self):
        self._stop.set()
        try:
            self.lsock.close()
        except OSError:
            pass
        with self._lock:
            for c in self._conns:
                try:
                    c.close()
                except OSError:
                    pass


class Blackhole:
    """A loopback port where TCP connects hang (a listener whose accept queue is full and never
    drained: the kernel drops further SYNs). Used to exercise connect_timeout."""

    def __init__(self, host=LOOPBACK):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind((host, 0))
        self.lsock.listen(0)
        self.port = self.lsock.getsockname()[1]
        self._held = []
        for _ in range(8):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.settimeout(0.3)
            try:
                c.connect((host, self.port))
                self._held.append(c)
            except (socket.timeout, OSError):
                c.close()
                return
        raise RuntimeError("could not fill the accept queue of the blackhole listener")

    def stop(self):
        for c in self._held:
            c.close()
        self.lsock.close()


class _TlsEchoHandler(echo_server.EchoHandler):
    """The echo handler; its JSON gains "tls": what the server's handshake saw (SNI, version,
    ALPN, client certificate)."""

    def _describe(self, body_len, body_sha):
        d = super()._describe(body_len, body_sha)
        d["tls"] = getattr(self.connection, "weft_info", None)
        return d


class TlsEchoServer(echo_server.EchoServer):
    """examples/backend/echo_server.py's handler behind a TLS server, in-process (a thread per
    connection). The handshake runs in the connection's thread; what each one negotiated is in
    .handshakes (dicts: sni, version, alpn, peer_cn, peer_sans, ...) and failures in
    .handshake_errors. ca + require_client_cert: the client must present a certificate from ca.
    min_version/max_version ("1.0".."1.3"), ciphers, alpn: server policy."""

    def __init__(self, name, cert, key, ca=None, require_client_cert=False, min_version=None,
                 max_version=None, ciphers=None, alpn=None, host=LOOPBACK):
        super().__init__((host, 0), name)
        self.RequestHandlerClass = _TlsEchoHandler
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        if ciphers:
            ctx.set_ciphers(ciphers)
        _set_tls_versions(ctx, min_version, max_version)
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        if ca:
            ctx.load_verify_locations(cafile=str(ca))
            ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
        ctx.sni_callback = self._on_sni
        self.ctx = ctx
        self.handshakes = []
        self.handshake_errors = []
        self._tls_lock = threading.Lock()
        self._open = []
        self.port = self.server_address[1]
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True)
        self._thread.start()

    @staticmethod
    def _on_sni(sslsock, server_name, ctx):
        sslsock.weft_sni = server_name

    @property
    def address(self):
        return "%s:%d" % (LOOPBACK, self.port)

    def finish_request(self, request, client_address):
        request.settimeout(10)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            with self._tls_lock:
                self.handshake_errors.append(repr(exc))
            request.close()
            return
        tls.settimeout(None)
        info = tls_info(tls)
        info["sni"] = getattr(tls, "weft_sni", None)
        tls.weft_info = info
        with self._tls_lock:
            self.handshakes.append(info)
            self._open.append(tls)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def stats_text(self):
        with self._tls_lock:
            return "handshakes=%r handshake_errors=%r" % (self.handshakes, self.handshake_errors)

    def stop(self):
        self.shutdown()
        self.server_close()
        with self._tls_lock:
            for s in self._open:
                try:
                    s.close()
                except OSError:
                    pass


# ---------------------------------------------------------------------------------------------
# bootstrap builders (Envoy v3 shapes, as dicts)
# ---------------------------------------------------------------------------------------------

def socket_address(port, host=LOOPBACK):
    return {"socket_address": {"address": host, "port_value": port}}


def router_filter():
    return {"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER_TYPE}}


def file_access_log(path, fmt=None):
    """envoy.access_loggers.file; fmt=None means Envoy's default format."""
    cfg = {"@type": FILE_ACCESS_LOG_TYPE, "path": str(path)}
    if fmt is not None:
        cfg["log_format"] = {"text_format_source": {"inline_string": fmt}}
    return {"name": "envoy.access_loggers.file", "typed_config": cfg}


def route_to(cluster, prefix="/", **route_extra):
    return {"match": {"prefix": prefix}, "route": dict({"cluster": cluster}, **route_extra)}


def direct(status, body=None, prefix="/", match=None):
    action = {"status": status}
    if body is not None:
        action["body"] = {"inline_string": body}
    return {"match": match or {"prefix": prefix}, "direct_response": action}


def vhost(name, domains, routes, **extra):
    return dict({"name": name, "domains": list(domains), "routes": list(routes)}, **extra)


def hcm_filter(virtual_hosts=None, route_config=None, stat_prefix="ingress_http",
               access_log=None, **extra):
    """envoy.filters.network.http_connection_manager with a static route_config."""
    if route_config is None:
        route_config = {"name": "local_route", "virtual_hosts": list(virtual_hosts or [])}
    cfg = {
        "@type": HCM_TYPE,
        "stat_prefix": stat_prefix,
        "route_config": route_config,
        "http_filters": [router_filter()],
    }
    if access_log:
        cfg["access_log"] = list(access_log)
    cfg.update(extra)
    return {"name": "envoy.filters.network.http_connection_manager", "typed_config": cfg}


def tcp_proxy_filter(cluster=None, stat_prefix="tcp", weighted=None, **extra):
    cfg = {"@type": TCP_PROXY_TYPE, "stat_prefix": stat_prefix}
    if weighted:
        cfg["weighted_clusters"] = {"clusters": [{"name": n, "weight": w} for n, w in weighted]}
    else:
        cfg["cluster"] = cluster
    cfg.update(extra)
    return {"name": "envoy.filters.network.tcp_proxy", "typed_config": cfg}


def listener(name, port, filters=None, filter_chains=None, host=LOOPBACK, **extra):
    if filter_chains is None:
        filter_chains = [{"filters": list(filters)}]
    return dict({"name": name, "address": socket_address(port, host),
                 "filter_chains": filter_chains}, **extra)


def http_listener(name, port, virtual_hosts=None, route_config=None, stat_prefix="ingress_http",
                  access_log=None, hcm_extra=None, **listener_extra):
    f = hcm_filter(virtual_hosts, route_config, stat_prefix, access_log, **(hcm_extra or {}))
    return listener(name, port, [f], **listener_extra)


def endpoint(host, port, weight=None):
    ep = {"endpoint": {"address": socket_address(port, host)}}
    if weight is not None:
        ep["load_balancing_weight"] = weight
    return ep


def cluster(name, endpoints, lb_policy="ROUND_ROBIN", connect_timeout="1s", type="STATIC",
            **extra):
    """endpoints: iterable of ports, (host, port) or (host, port, weight)."""
    lb_endpoints = []
    for ep in endpoints:
        if isinstance(ep, int):
            lb_endpoints.append(endpoint(LOOPBACK, ep))
        elif len(ep) == 2:
            lb_endpoints.append(endpoint(ep[0], ep[1]))
        else:
            lb_endpoints.append(endpoint(ep[0], ep[1], ep[2]))
    c = {
        "name": name,
        "connect_timeout": connect_timeout,
        "type": type,
        "lb_policy": lb_policy,
        "load_assignment": {"cluster_name": name,
                            "endpoints": [{"lb_endpoints": lb_endpoints}] if lb_endpoints else []},
    }
    c.update(extra)
    return c


def bootstrap(admin_port, listeners=(), clusters=(), node_id="weft-test-node",
              node_cluster="weft-test"):
    return {
        "node": {"id": node_id, "cluster": node_cluster},
        "admin": {"address": socket_address(admin_port)},
        "static_resources": {"listeners": list(listeners), "clusters": list(clusters)},
    }


# -- TLS (envoy.transport_sockets.tls, envoy.filters.listener.tls_inspector) --

def tls_certificate(cert, key):
    return {"certificate_chain": {"filename": str(cert)}, "private_key": {"filename": str(key)}}


def san_matcher(value, san_type="URI", kind="exact"):
    """One match_typed_subject_alt_names entry: san_type DNS / URI / EMAIL / IP_ADDRESS;
    kind exact / prefix / suffix / contains."""
    return {"san_type": san_type, "matcher": {kind: value}}


def common_tls_context(cert=None, key=None, trusted_ca=None, match_sans=None, alpn=None,
                       tls_params=None, **extra):
    """CommonTlsContext. match_sans: list of san_matcher() dicts (or plain strings = exact URI)."""
    ctx = {}
    if cert is not None:
        ctx["tls_certificates"] = [tls_certificate(cert, key)]
    if trusted_ca is not None or match_sans:
        vc = {}
        if trusted_ca is not None:
            vc["trusted_ca"] = {"filename": str(trusted_ca)}
        if match_sans:
            vc["match_typed_subject_alt_names"] = [
                san_matcher(m) if isinstance(m, str) else m for m in match_sans]
        ctx["validation_context"] = vc
    if alpn:
        ctx["alpn_protocols"] = list(alpn)
    if tls_params:
        ctx["tls_params"] = dict(tls_params)
    ctx.update(extra)
    return ctx


def downstream_tls(cert, key, trusted_ca=None, require_client_certificate=None, match_sans=None,
                   alpn=None, tls_params=None, **extra):
    """A listener filter chain's transport_socket: DownstreamTlsContext terminating TLS."""
    cfg = {"@type": DOWNSTREAM_TLS_TYPE,
           "common_tls_context": common_tls_context(cert, key, trusted_ca, match_sans, alpn,
                                                    tls_params)}
    if require_client_certificate is not None:
        cfg["require_client_certificate"] = bool(require_client_certificate)
    cfg.update(extra)
    return {"name": "envoy.transport_sockets.tls", "typed_config": cfg}


def upstream_tls(sni=None, trusted_ca=None, cert=None, key=None, match_sans=None, alpn=None,
                 tls_params=None, **extra):
    """A cluster's transport_socket: UpstreamTlsContext (client certificate optional)."""
    cfg = {"@type": UPSTREAM_TLS_TYPE,
           "common_tls_context": common_tls_context(cert, key, trusted_ca, match_sans, alpn,
                                                    tls_params)}
    if sni is not None:
        cfg["sni"] = sni
    cfg.update(extra)
    return {"name": "envoy.transport_sockets.tls", "typed_config": cfg}


def tls_inspector():
    """The listener filter that reads SNI / ALPN / TLS-or-not for filter_chain_match."""
    return {"name": "envoy.filters.listener.tls_inspector",
            "typed_config": {"@type": TLS_INSPECTOR_TYPE}}


def filter_chain_match(server_names=None, transport_protocol=None, application_protocols=None,
                       **extra):
    """transport_protocol: "tls" or "raw_buffer" (needs tls_inspector)."""
    m = {}
    if server_names is not None:
        m["server_names"] = list(server_names)
    if transport_protocol is not None:
        m["transport_protocol"] = transport_protocol
    if application_protocols is not None:
        m["application_protocols"] = list(application_protocols)
    m.update(extra)
    return m


def filter_chain(filters, match=None, transport_socket=None, name=None, **extra):
    c = {"filters": list(filters)}
    if name is not None:
        c["name"] = name
    if match is not None:
        c["filter_chain_match"] = match
    if transport_socket is not None:
        c["transport_socket"] = transport_socket
    c.update(extra)
    return c


# ---------------------------------------------------------------------------------------------
# weft-proxy process
# ---------------------------------------------------------------------------------------------

def proxy_binary():
    return Path(os.environ.get("WEFT_PROXY_BIN") or (REPO_ROOT / "build" / "bin" / "weft-proxy"))


def _require_binary():
    binary = proxy_binary()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise AssertionError(
            "weft-proxy binary not found or not executable at %s (build it, or set WEFT_PROXY_BIN)"
            % binary)
    return binary


class Proxy:
    """A running weft-proxy. Output goes to files (no pipe can fill up)."""

    def __init__(self, config_path, admin_port, workdir, concurrency=2, extra_args=(),
                 name="proxy", log_level="info"):
        self.binary = _require_binary()
        self.config_path = Path(config_path)
        self.admin_port = admin_port
        self.name = name
        self.stdout_path = Path(workdir) / ("%s.stdout" % name)
        self.stderr_path = Path(workdir) / ("%s.stderr" % name)
        self.args = [str(self.binary), "-c", str(self.config_path), "--concurrency", str(concurrency)]
        if log_level:
            self.args += ["--log-level", log_level]
        self.args += [str(a) for a in extra_args]
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL, cwd=str(workdir))
        self.pid = self.proc.pid

    # -- diagnostics --
    def stderr_text(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stdout_text(self):
        try:
            return self.stdout_path.read_text(errors="replace")
        except OSError:
            return ""

    def diagnostics(self, lines=60):
        rc = self.proc.poll()
        state = "running" if rc is None else "exited rc=%s" % rc
        out = ["weft-proxy %s (pid %d, %s): %s" % (self.name, self.pid, state, " ".join(self.args))]
        err = tail(self.stderr_text(), lines)
        out.append("--- stderr (last %d lines) ---\n%s" % (lines, err or "(empty)"))
        so = tail(self.stdout_text(), 20)
        if so:
            out.append("--- stdout (last 20 lines) ---\n%s" % so)
        return "\n".join(out)

    def ctx(self):
        """Suffix for assertion messages."""
        return "\n" + self.diagnostics(40)

    # -- lifecycle --
    def alive(self):
        return self.proc.poll() is None

    def wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError("weft-proxy exited (rc=%s) before admin /ready answered 200"
                                     "\n%s" % (self.proc.returncode, self.diagnostics()))
            try:
                r = self.admin("/ready", timeout=1.0)
                if r.status == 200 and r.text.strip() == "LIVE":
                    return self
                last = "HTTP %d %r" % (r.status, r.body[:200])
            except (OSError, http.client.HTTPException) as exc:
                last = repr(exc)
            time.sleep(0.05)
        raise AssertionError("weft-proxy admin /ready on port %d not 200 'LIVE' within %.0fs "
                             "(last: %s)\n%s" % (self.admin_port, timeout, last, self.diagnostics()))

    def send_signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        """Exit code, or None if still running after timeout."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for f in (self._out, self._err):
            try:
                f.close()
            except OSError:
                pass

    def rss_kb(self):
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    # -- admin --
    def admin(self, path, method="GET", body=None, timeout=5.0):
        return http_request(self.admin_port, path, method=method, body=body, timeout=timeout)

    def admin_post(self, path, timeout=5.0):
        return self.admin(path, method="POST", body=b"", timeout=timeout)

    def stats(self):
        """/stats as {name: int} (histogram lines and other non-integer values are skipped)."""
        r = self.admin("/stats")
        assert r.status == 200, "GET /stats -> %s%s" % (r.describe(), self.ctx())
        out = {}
        for line in r.text.splitlines():
            name, sep, value = line.partition(": ")
            if sep and value.strip().lstrip("-").isdigit():
                out[name.strip()] = int(value.strip())
        return out

    def wait_stat(self, name, expected, timeout=3.0):
        """Poll /stats until stat `name` equals expected; returns the last value seen (None if the
        stat is absent)."""
        seen = [None]

        def check():
            seen[0] = self.stats().get(name)
            return seen[0] == expected
        wait_for(check, timeout, 0.1)
        return seen[0]


# ---------------------------------------------------------------------------------------------
# the per-test harness
# ---------------------------------------------------------------------------------------------

class Harness:
    """Owns every process and server a test starts; close() stops them all."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proxies = []
        self._echoes = []
        self._servers = []
        self._n = 0

    def port(self):
        return free_port()

    def path(self, name):
        return self.workdir / name

    # -- upstreams --
    def echoes(self, *names):
        procs = [EchoProcess(n, self.workdir) for n in names]
        self._echoes.extend(procs)
        for p in procs:
            p.wait_listening()
        return procs

    def echo(self, name="echo"):
        return self.echoes(name)[0]

    def tcp_server(self, mode="echo", banner=b""):
        s = TcpServer(mode, banner)
        self._servers.append(s)
        return s

    def blackhole(self):
        b = Blackhole()
        self._servers.append(b)
        return b

    def tls_echo(self, name, cert, key, **tls):
        """A TlsEchoServer (see there for the TLS options); stopped at close()."""
        s = TlsEchoServer(name, cert, key, **tls)
        self._servers.append(s)
        return s

    # -- proxy --
    def write_config(self, config, name=None, suffix=".yaml"):
        self._n += 1
        path = self.workdir / ("%s%s" % (name or "bootstrap-%d" % self._n, suffix))
        if isinstance(config, (bytes, str)):
            path.write_bytes(config if isinstance(config, bytes) else config.encode())
        else:
            path.write_text(json.dumps(config, indent=2))
        return path

    def start_proxy(self, config, concurrency=2, extra_args=(), wait_ready=True, name=None,
                    ready_timeout=10.0):
        """Write `config` (a bootstrap dict) and start weft-proxy; waits for admin /ready."""
        name = name or "proxy-%d" % (len(self.proxies) + 1)
        path = self.write_config(config, name)
        admin_port = config["admin"]["address"]["socket_address"]["port_value"]
        p = Proxy(path, admin_port, self.workdir, concurrency, extra_args, name)
        self.proxies.append(p)
        if wait_ready:
            p.wait_ready(ready_timeout)
        return p

    def run_proxy_cli(self, args, timeout=20.0):
        """Run weft-proxy to completion (e.g. --mode validate). Returns CompletedProcess (text)."""
        binary = _require_binary()
        try:
            return subprocess.run([str(binary)] + [str(a) for a in args], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                  timeout=timeout, cwd=str(self.workdir), text=True,
                                  errors="replace")
        except subprocess.TimeoutExpired as exc:
            raise AssertionError("weft-proxy %s did not finish within %.0fs (stderr: %s)"
                                 % (" ".join(map(str, args)), timeout, exc.stderr)) from None

    def validate(self, config, name=None, suffix=".yaml"):
        path = self.write_config(config, name, suffix)
        return path, self.run_proxy_cli(["-c", path, "--mode", "validate"])

    # -- teardown / diagnostics --
    def diagnostics(self):
        parts = [p.diagnostics() for p in self.proxies]
        parts += ["TLS upstream %s (port %d): %s" % (s.name, s.port, s.stats_text())
                  for s in self._servers if isinstance(s, TlsEchoServer)]
        return "\n\n".join(parts)

    def close(self):
        for p in self.proxies:
            try:
                p.stop()
            except Exception:  # keep tearing down the rest
                pass
        for e in self._echoes:
            try:
                e.stop()
            except Exception:
                pass
        for s in self._servers:
            try:
                s.stop()
            except Exception:
                pass


def expect_status(resp, status, what, proxy=None):
    """Assert a response status with a message that says what was expected and what came back."""
    assert resp.status == status, "%s: expected HTTP %d, got %s%s" % (
        what, status, resp.describe(), proxy.ctx() if proxy else "")
