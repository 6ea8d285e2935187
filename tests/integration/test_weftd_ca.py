"""weftd's CA material at start-up: a self-signed root made once in --state-dir and kept across
restarts (never regenerated), or Istio's cacerts plug-in from --cacerts-dir, checked before
anything is served: a bad plug-in stops weftd with the file and the fault."""

import os
import shutil
import stat
import subprocess

import weftd_harness as wd


def test_the_self_signed_root_survives_restarts(tmp_path):
    state = tmp_path / "state"
    w = wd.Weftd(tmp_path / "w1", extra_args=["--state-dir", str(state), "--trust-domain", "example.org"]).start()
    w.stop()
    root = (state / "ca" / "root-cert.pem").read_text()
    assert root.startswith("-----BEGIN CERTIFICATE-----")
    assert stat.S_IMODE(os.stat(state / "ca" / "ca-key.pem").st_mode) == 0o600
    out = subprocess.run(["openssl", "x509", "-noout", "-subject", "-enddate"], input=root, text=True,
                         capture_output=True, check=True).stdout
    assert "O = example.org" in out, out
    w = wd.Weftd(tmp_path / "w2", extra_args=["--state-dir", str(state)]).start()
    w.stop()
    assert (state / "ca" / "root-cert.pem").read_text() == root
    assert "self-signed root" in w.log_text()


def test_a_bad_plug_in_ca_stops_weftd_naming_the_file(tmp_path):
    state = tmp_path / "state"
    wd.Weftd(tmp_path / "w1", extra_args=["--state-dir", str(state)]).start().stop()
    other = tmp_path / "other"
    wd.Weftd(tmp_path / "w2", extra_args=["--state-dir", str(other)]).start().stop()
    plug = tmp_path / "cacerts"
    plug.mkdir()
    for name in ("ca-cert.pem", "root-cert.pem"):
        shutil.copy(state / "ca" / name, plug / name)
    shutil.copy(state / "ca" / "ca-cert.pem", plug / "cert-chain.pem")
    shutil.copy(other / "ca" / "ca-key.pem", plug / "ca-key.pem")  # another CA's key
    w = wd.Weftd(tmp_path / "w3", extra_args=["--cacerts-dir", str(plug), "--state-dir", str(tmp_path / "s3")])
    r = subprocess.run([str(wd.weftd_binary()), "--config-dir", str(w.config_dir), "--cacerts-dir", str(plug),
                        "--grpc-addr", "127.0.0.1:%d" % w.grpc_port, "--http-addr", "127.0.0.1:%d" % w.http_port],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1, r
    assert "weftd: CA: %s/ca-key.pem: does not match ca-cert.pem" % plug in r.stderr, r.stderr
    # With the right key the plug-in CA is used.
    shutil.copy(state / "ca" / "ca-key.pem", plug / "ca-key.pem")
    w.start()
    w.stop()
    assert "CA: plug-in certificates from %s" % plug in w.log_text()
