"""weftd's CA on the wire: istio.v1.auth.IstioCertificateService/CreateCertificate over TLS,
called by a real gRPC client (@grpc/grpc-js, tests/interop/secrets_client.js). The identity
comes from the caller's token (or, to renew, its current certificate), never from the CSR."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import weftd_harness as wd

INTEROP = Path(__file__).resolve().parents[1] / "interop"


def node():
    path = shutil.which("node")
    if not path:
        pytest.fail("node not found on PATH: run scripts/setup.sh (installs nodejs)", pytrace=False)
    if not (INTEROP / "node_modules" / "@grpc" / "grpc-js").exists():
        pytest.fail("tests/interop/node_modules is missing: run tests/interop/install.sh", pytrace=False)
    return path


def make_csr(tmp, name, uri, key_type="ec"):
    key, csr = tmp / (name + ".key"), tmp / (name + ".csr")
    newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if key_type == "ec" else ["-newkey", "rsa:2048"]
    subprocess.run(["openssl", "req", "-new", *newkey, "-nodes", "-keyout", str(key), "-out", str(csr),
                    "-subj", "/O=weft-test", "-addext", "subjectAltName=URI:" + uri],
                   check=True, capture_output=True)
    return key, csr


def issue_token(state, ns_sa, extra=()):
    r = subprocess.run([str(wd.weftd_binary()), "--state-dir", str(state), "--issue-token", ns_sa, *extra],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def call_ca(weftd, state, csr, token=None, cert=None, key=None, port=None, insecure=False, ttl_s=None):
    args = [node(), str(INTEROP / "secrets_client.js"), "ca", "--target", "127.0.0.1:%d" % (port or weftd.secure_port),
            "--root", str(state / "ca" / "root-cert.pem"), "--csr", str(csr)]
    if token is not None:
        tf = csr.with_suffix(".token")
        tf.write_text(token)
        args += ["--token", str(tf)]
    if cert:
        args += ["--cert", str(cert), "--key", str(key)]
    if insecure:
        args += ["--insecure", "1"]
    if ttl_s is not None:
        args += ["--ttl-s", str(ttl_s)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def openssl_text(pem):
    return subprocess.run(["openssl", "x509", "-noout", "-text"], input=pem, capture_output=True, text=True,
                          check=True).stdout


def verify_chain(tmp, chain, root_file):
    leaf = tmp / "leaf.pem"
    leaf.write_text(chain[0])
    untrusted = tmp / "untrusted.pem"
    untrusted.write_text("".join(chain[1:-1]) or chain[-1])
    r = subprocess.run(["openssl", "verify", "-CAfile", str(root_file), "-untrusted", str(untrusted), str(leaf)],
                       capture_output=True, text=True)
    return r.returncode == 0


@pytest.fixture
def ca(tmp_path):
    state = tmp_path / "state"
    w = wd.Weftd(tmp_path / "w", extra_args=["--state-dir", str(state)]).start()
    yield w, state
    w.stop()


def test_a_token_gets_a_spiffe_certificate(ca, tmp_path):
    w, state = ca
    token = issue_token(state, "default/reviews")
    _, csr = make_csr(tmp_path, "reviews", "spiffe://cluster.local/ns/default/sa/reviews")
    res = call_ca(w, state, csr, token=token)
    assert res["ok"], res
    chain = res["cert_chain"]
    assert len(chain) == 2, chain  # leaf, root
    assert chain[-1] == (state / "ca" / "root-cert.pem").read_text()
    text = openssl_text(chain[0])
    assert "URI:spiffe://cluster.local/ns/default/sa/reviews" in text, text
    assert "TLS Web Server Authentication, TLS Web Client Authentication" in text, text
    assert verify_chain(tmp_path, chain, state / "ca" / "root-cert.pem")
    # RSA 2048 CSRs are accepted too, and the lifetime asked for is honoured.
    _, rsa_csr = make_csr(tmp_path, "rsa", "spiffe://cluster.local/ns/default/sa/reviews", key_type="rsa")
    res = call_ca(w, state, rsa_csr, token=token, ttl_s=3600)
    assert res["ok"], res
    dates = subprocess.run(["openssl", "x509", "-noout", "-startdate", "-enddate"], input=res["cert_chain"][0],
                           capture_output=True, text=True, check=True).stdout
    assert dates.count("=") == 2


def test_a_csr_for_another_identity_is_refused_and_logged(ca, tmp_path):
    w, state = ca
    token = issue_token(state, "default/reviews")
    _, csr = make_csr(tmp_path, "evil", "spiffe://cluster.local/ns/default/sa/ratings")
    res = call_ca(w, state, csr, token=token)
    assert not res["ok"]
    assert res["code"] == 3, res  # INVALID_ARGUMENT
    assert "asks for identity spiffe://cluster.local/ns/default/sa/ratings" in res["details"], res
    assert "spiffe://cluster.local/ns/default/sa/reviews" in res["details"], res
    assert "refused a CSR" in w.log_text()


def test_callers_without_a_valid_credential_are_refused(ca, tmp_path):
    w, state = ca
    _, csr = make_csr(tmp_path, "x", "spiffe://cluster.local/ns/default/sa/x")
    res = call_ca(w, state, csr)
    assert (res["ok"], res.get("code")) == (False, 16), res  # UNAUTHENTICATED
    assert "no credential" in res["details"]
    res = call_ca(w, state, csr, token="not.a.token")
    assert (res["ok"], res.get("code")) == (False, 16), res
    # A token from another weftd (another key) is not this CA's.
    other = tmp_path / "other-state"
    res = call_ca(w, state, csr, token=issue_token(other, "default/x"))
    assert (res["ok"], res.get("code")) == (False, 16), res
    assert "not signed by this weftd" in res["details"], res  # expiry: unit tests (a minute of skew grace)
    # The plaintext xDS port does not sign.
    res = call_ca(w, state, csr, token=issue_token(state, "default/x"), port=w.grpc_port, insecure=True)
    assert (res["ok"], res.get("code")) == (False, 16), res
    assert "only over TLS" in res["details"], res
    metrics = w.get("/metrics")
    assert "citadel_server_authentication_failure_count 4" in metrics, metrics


def test_renewal_with_the_current_certificate_and_a_restart_keeps_the_root(ca, tmp_path):
    w, state = ca
    key, csr = make_csr(tmp_path, "first", "spiffe://cluster.local/ns/shop/sa/cart")
    res = call_ca(w, state, csr, token=issue_token(state, "shop/cart"))
    assert res["ok"], res
    cert = tmp_path / "cart.pem"
    cert.write_text("".join(res["cert_chain"][:-1]))
    # Renewal: no token, the current certificate over mutual TLS, a new key.
    _, csr2 = make_csr(tmp_path, "second", "spiffe://cluster.local/ns/shop/sa/cart")
    res = call_ca(w, state, csr2, cert=cert, key=key)
    assert res["ok"], res
    assert "URI:spiffe://cluster.local/ns/shop/sa/cart" in openssl_text(res["cert_chain"][0])
    # The certificate authenticates its own identity only.
    _, csr3 = make_csr(tmp_path, "third", "spiffe://cluster.local/ns/shop/sa/admin")
    res = call_ca(w, state, csr3, cert=cert, key=key)
    assert (res["ok"], res.get("code")) == (False, 3), res
    # Restart: the same root, and the certificate issued before still verifies and renews.
    root = (state / "ca" / "root-cert.pem").read_text()
    w.stop()
    w.start()
    assert (state / "ca" / "root-cert.pem").read_text() == root
    res = call_ca(w, state, csr2, cert=cert, key=key)
    assert res["ok"], res
    assert verify_chain(tmp_path, res["cert_chain"], state / "ca" / "root-cert.pem")
    metrics = w.get("/metrics")
    assert "citadel_server_success_cert_issuance_count 1" in metrics, metrics
