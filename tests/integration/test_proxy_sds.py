"""weft-proxy's SDS client, as Istio's sidecars use it: certificates (`default`) and the trusted
root (`ROOTCA`) from an SDS server over a unix socket (the `sds-grpc` static cluster with a
`pipe` address), in tls_certificate_sds_secret_configs and combined_validation_context, on a
listener (mutual TLS) and on a cluster. The SDS server is a real gRPC one (@grpc/grpc-js,
tests/interop/sds_server.js). A new certificate applies to new handshakes without dropping a
connection; a secret no context can use is NACKed and the last good one stays; a static
listener whose secret has not arrived refuses connections."""

import json
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

import tls_certs
import weft_harness as wh

INTEROP = Path(__file__).resolve().parents[1] / "interop"
SDS_CONFIG = {"api_config_source": {"api_type": "GRPC", "transport_api_version": "V3",
                                    "grpc_services": [{"envoy_grpc": {"cluster_name": "sds-grpc"}}]},
              "resource_api_version": "V3"}


def sds(name):
    return {"name": name, "sds_config": SDS_CONFIG}


def istio_tls(match_sans):
    """The CommonTlsContext Istio generates for ISTIO_MUTUAL."""
    return {"tls_certificate_sds_secret_configs": [sds("default")],
            "combined_validation_context": {
                "default_validation_context": {"match_subject_alt_names": [{"exact": s} for s in match_sans]},
                "validation_context_sds_secret_config": sds("ROOTCA")}}


class SdsServer:
    def __init__(self, directory):
        node = shutil.which("node")
        if not node:
            pytest.fail("node not found on PATH: run scripts/setup.sh", pytrace=False)
        self.dir = Path(directory)
        self.socket = self.dir / "sds.sock"
        self.log = self.dir / "sds.log"
        self.proc = subprocess.Popen([node, str(INTEROP / "sds_server.js"), "--socket", str(self.socket),
                                      "--dir", str(self.dir)], stdin=subprocess.PIPE, stdout=open(self.log, "w"),
                                     stderr=subprocess.STDOUT, text=True)
        assert wh.wait_for(lambda: '"listening"' in self.log.read_text(), 10), self.log.read_text()

    def events(self):
        return [json.loads(l) for l in self.log.read_text().splitlines() if l.startswith("{")]

    def push(self):
        self.proc.stdin.write("push\n")
        self.proc.stdin.flush()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()


def set_secret(directory, name, cert_key):
    shutil.copy(cert_key.cert, Path(directory) / (name + ".crt"))
    shutil.copy(cert_key.key, Path(directory) / (name + ".key"))


def serial_of(port, pki):
    ctx = wh.tls_client_context(ca=pki.ca.cert, cert=pki.server_spiffe.cert, key=pki.server_spiffe.key,
                                check_hostname=False)
    with wh.TlsConn(port, ctx) as c:
        return c.sock.getpeercert()["serialNumber"]


@pytest.fixture
def mesh(weft, pki):
    d = Path(tempfile.mkdtemp(prefix="weft-sds-", dir="/tmp"))  # a short path for the unix socket
    set_secret(d, "default", pki.server_spiffe)
    shutil.copy(pki.ca.cert, d / "ROOTCA.ca")
    echo = weft.echo("behind-mtls")
    mtls_port, plain_port, admin = weft.port(), weft.port(), weft.port()
    server_side = wh.downstream_tls(None, None, require_client_certificate=True)
    server_side["typed_config"]["common_tls_context"] = istio_tls([tls_certs.SPIFFE_SERVER])
    client_side = wh.upstream_tls(sni="outbound_.80_._.echo.default.svc.cluster.local")
    client_side["typed_config"]["common_tls_context"] = istio_tls([tls_certs.SPIFFE_SERVER])
    sds_cluster = wh.cluster("sds-grpc", [], typed_extension_protocol_options={
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "explicit_http_config": {"http2_protocol_options": {}}}})
    sds_cluster["load_assignment"]["endpoints"] = [
        {"lb_endpoints": [{"endpoint": {"address": {"pipe": {"path": str(d / "sds.sock")}}}}]}]
    config = wh.bootstrap(admin, listeners=[
        wh.listener("mtls", mtls_port, filter_chains=[wh.filter_chain(
            [wh.hcm_filter([wh.vhost("all", ["*"], [wh.route_to("echo")])], stat_prefix="mtls")],
            transport_socket=server_side)]),
        wh.http_listener("plain", plain_port, [wh.vhost("all", ["*"], [wh.route_to("mesh")])]),
    ], clusters=[wh.cluster("echo", [echo.port]), wh.cluster("mesh", [mtls_port], transport_socket=client_side),
                 sds_cluster])
    env = type("Mesh", (), {})()
    env.dir, env.weft, env.pki, env.config = d, weft, pki, config
    env.mtls_port, env.plain_port = mtls_port, plain_port
    env.server = None
    yield env
    if env.server:
        env.server.stop()
    shutil.rmtree(d, ignore_errors=True)


def test_secrets_from_sds_serve_mutual_tls_both_ways(mesh):
    pki = mesh.pki
    # Started before the SDS server: the static mTLS listener has no certificate and refuses.
    proxy = mesh.weft.start_proxy(mesh.config)
    with pytest.raises((ssl.SSLError, OSError)):
        serial_of(mesh.mtls_port, pki)
    assert wh.http_request(mesh.plain_port, "/").status == 503  # the cluster cannot handshake either
    mesh.server = SdsServer(mesh.dir)
    assert wh.wait_for(lambda: wh.http_request(mesh.plain_port, "/").status == 200, 10), proxy.diagnostics()
    # Both names were asked for, each on its own stream, and ACKed.
    events = mesh.server.events()
    asked = {tuple(e["names"]) for e in events if e["event"] == "request"}
    assert asked == {("default",), ("ROOTCA",)}, events
    assert not [e for e in events if e.get("error")], events
    # The listener asks for a client certificate from the root SDS gave, with the SAN listed.
    assert serial_of(mesh.mtls_port, pki)
    for cert in (None, pki.client, pki.client_wrong_ca):  # none, another SAN, another root
        ctx = wh.tls_client_context(ca=pki.ca.cert, cert=cert.cert if cert else None,
                                    key=cert.key if cert else None, check_hostname=False)
        with pytest.raises((ssl.SSLError, OSError, AssertionError)):
            with wh.TlsConn(mesh.mtls_port, ctx) as c:
                c.send(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
                head = c.read_head(timeout=3)
                raise AssertionError("served without an acceptable client certificate: %r" % (head,))


def test_rotation_under_traffic_and_a_bad_secret_is_nacked(mesh):
    pki = mesh.pki
    mesh.server = SdsServer(mesh.dir)
    mesh.weft.start_proxy(mesh.config)
    assert wh.wait_for(lambda: wh.http_request(mesh.plain_port, "/").status == 200, 10)
    builder = tls_certs._Builder(mesh.dir / "rotated")
    failures, count, stop = [], [0], threading.Event()

    def traffic():
        with wh.HttpSession(mesh.plain_port) as s:  # one keep-alive connection throughout
            while not stop.is_set():
                r = s.request("/")
                count[0] += 1
                if r.status != 200:
                    failures.append(r.status)
        while not stop.is_set():
            time.sleep(0.01)

    def fresh_traffic():
        while not stop.is_set():
            r = wh.http_request(mesh.plain_port, "/")  # new connections, new handshakes upstream
            count[0] += 1
            if r.status != 200:
                failures.append(r.status)

    threads = [threading.Thread(target=traffic), threading.Thread(target=fresh_traffic)]
    for t in threads:
        t.start()
    serials = [serial_of(mesh.mtls_port, pki)]
    for i in range(3):
        rotated = builder.sign("rot%d" % i, pki.ca, "server", ["URI:" + tls_certs.SPIFFE_SERVER],
                               eku="serverAuth,clientAuth")
        set_secret(mesh.dir, "default", rotated)
        mesh.server.push()
        assert wh.wait_for(lambda: serial_of(mesh.mtls_port, pki) not in serials, 5), serials
        serials.append(serial_of(mesh.mtls_port, pki))
        time.sleep(0.5)
    # A certificate with another certificate's key: every context refuses it, so it is NACKed.
    shutil.copy(pki.server_b.key, mesh.dir / "default.key")
    mesh.server.push()
    assert wh.wait_for(lambda: any(e.get("error") for e in mesh.server.events()), 5), mesh.server.events()
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    assert failures == [], "failed requests during rotation: %s of %d" % (failures, count[0])
    assert count[0] > 50, count[0]
    assert len(set(serials)) == 4, serials
    assert serial_of(mesh.mtls_port, pki) == serials[-1]  # the last good certificate stays
    nack = [e for e in mesh.server.events() if e.get("error")][0]
    assert nack["names"] == ["default"] and "secret 'default'" in nack["error"], nack


def test_sds_config_errors_name_the_field(weft, pki):
    bad = wh.downstream_tls(None, None)
    bad["typed_config"]["common_tls_context"] = {"tls_certificate_sds_secret_configs": [
        {"name": "default", "sds_config": {"ads": {}, "resource_api_version": "V3"}}]}
    config = wh.bootstrap(weft.port(), listeners=[wh.listener("l", weft.port(), filter_chains=[wh.filter_chain(
        [wh.hcm_filter([wh.vhost("all", ["*"], [wh.route_to("c")])])], transport_socket=bad)])],
        clusters=[wh.cluster("c", [weft.port()])])
    _, r = weft.validate(config)
    assert r.returncode != 0
    assert "tls_certificate_sds_secret_configs[0].sds_config.ads: SDS over ADS is not supported" in r.stderr, r.stderr
    bad["typed_config"]["common_tls_context"]["tls_certificate_sds_secret_configs"][0]["sds_config"] = SDS_CONFIG
    _, r = weft.validate(config)
    assert "cluster_name: 'sds-grpc' is not a static cluster with an endpoint" in r.stderr, r.stderr


def test_testssl_finds_no_old_protocol_or_weak_cipher_on_the_mtls_port(mesh, tmp_path):
    """testssl.sh (Debian's package, 3.0.8) against the mutual-TLS listener: no SSLv2/SSLv3/
    TLS 1.0/TLS 1.1 and no NULL, anonymous, export, LOW, 3DES or other obsolete cipher. This
    testssl has no client-certificate option; its probes read the ServerHello, which the server
    sends before it asks for the client certificate."""
    testssl = shutil.which("testssl") or shutil.which("testssl.sh")
    if not testssl:
        pytest.fail("testssl not found: run scripts/setup.sh (installs testssl.sh)", pytrace=False)
    mesh.server = SdsServer(mesh.dir)
    mesh.weft.start_proxy(mesh.config)
    assert wh.wait_for(lambda: wh.http_request(mesh.plain_port, "/").status == 200, 10)
    out = tmp_path / "testssl.json"
    r = subprocess.run([testssl, "--quiet", "--color", "0", "--warnings", "off",
                        "--protocols", "--std", "--jsonfile", str(out), "127.0.0.1:%d" % mesh.mtls_port],
                       capture_output=True, text=True, timeout=240)
    assert out.exists(), r.stdout[-3000:] + r.stderr[-2000:]
    findings = {f["id"]: f["finding"] for f in json.loads(out.read_text())}
    for proto in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
        assert findings.get(proto, "").startswith("not offered"), (proto, findings.get(proto), r.stdout[-3000:])
    assert findings.get("TLS1_2", "").startswith("offered"), findings
    assert findings.get("TLS1_3", "").startswith("offered"), findings
    # testssl 3.0's categories: AVERAGE holds the CBC and non-forward-secret suites.
    weak = ["cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW", "cipherlist_3DES_IDEA",
            "cipherlist_AVERAGE"]
    for w in weak:
        assert w in findings and findings[w].startswith("not offered"), (w, findings.get(w))
    assert findings.get("cipherlist_STRONG", "").startswith("offered"), findings
