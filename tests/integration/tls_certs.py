"""A throwaway test PKI for the TLS integration tests, made with the `openssl` CLI (OpenSSL 3).

    pki = make_pki(directory)      # conftest.py's session fixture `pki` does this once per run

What it holds (every leaf has its own key; EC P-256 unless noted):

| attribute | subject CN | SANs | signed by | notes |
| --- | --- | --- | --- | --- |
| `ca` | Weft Test Root CA | - | itself | the trusted root |
| `wrong_ca` | Weft Wrong CA | - | itself | unrelated root, trusted by nobody |
| `intermediate` | Weft Test Intermediate CA | - | `ca` | |
| `server_a` | a.example.com | DNS:a.example.com | `ca` | RSA 2048 |
| `server_b` | b.example.com | DNS:b.example.com | `ca` | |
| `server_spiffe` | server | URI:spiffe://cluster.local/ns/default/sa/server | `ca` | server+client EKU |
| `server_chain` | chain.example.com | DNS:chain.example.com | `intermediate` | .cert is leaf + intermediate |
| `server_expired` | a.example.com | DNS:a.example.com | `ca` | valid 2020-01-01 .. 2020-01-02 only |
| `server_wrong_ca` | a.example.com | DNS:a.example.com | `wrong_ca` | |
| `client` | client | URI:spiffe://cluster.local/ns/default/sa/client | `ca` | client+server EKU |
| `client_wrong_ca` | client | URI:spiffe://cluster.local/ns/default/sa/client | `wrong_ca` | |
| `key_mismatch` | - | - | - | .cert is server_a's certificate, .key an unrelated key |

`pki.garbage` is a file of non-PEM text (a "certificate" nobody can parse).
Each entry is a `CertKey` with `.cert` / `.key` paths (str), `.cn` and `.sans`.
"""

import os
import subprocess
from pathlib import Path

SPIFFE_SERVER = "spiffe://cluster.local/ns/default/sa/server"
SPIFFE_CLIENT = "spiffe://cluster.local/ns/default/sa/client"

EXPIRED_START = "20200101000000Z"
EXPIRED_END = "20200102000000Z"


class CertKey:
    def __init__(self, cert, key, cn=None, sans=()):
        self.cert = str(cert)
        self.key = str(key)
        self.cn = cn
        self.sans = list(sans)

    def __repr__(self):
        return "CertKey(cn=%r, sans=%r, cert=%s)" % (self.cn, self.sans, self.cert)


class Pki:
    """Paths of the generated files (see the module docstring)."""

    def __init__(self, directory):
        self.dir = Path(directory)

    def __repr__(self):
        return "Pki(%s)" % self.dir


def _openssl(args, cwd):
    cmd = ["openssl"] + [str(a) for a in args]
    r = subprocess.run(cmd, cwd=str(cwd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, text=True, errors="replace", timeout=60)
    if r.returncode != 0:
        raise RuntimeError("test PKI: `%s` failed (rc=%d):\n%s%s"
                           % (" ".join(cmd), r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
    return r.stdout


class _Builder:
    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._serial = 0x1000

    def path(self, name):
        return self.dir / name

    def key(self, name, kind="ec"):
        path = self.path(name + ".key")
        if kind == "rsa":
            _openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                      "-out", path], self.dir)
        else:
            _openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-out", path], self.dir)
        os.chmod(path, 0o600)
        return path

    def root_ca(self, name, cn):
        key = self.key(name)
        cert = self.path(name + ".crt")
        _openssl(["req", "-x509", "-new", "-key", key, "-sha256", "-days", "3650",
                  "-subj", "/O=Weft Test/CN=%s" % cn,
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                  "-addext", "subjectKeyIdentifier=hash",
                  "-out", cert], self.dir)
        return CertKey(cert, key, cn)

    def _csr(self, name, key, cn):
        csr = self.path(name + ".csr")
        _openssl(["req", "-new", "-key", key, "-subj", "/O=Weft Test/CN=%s" % cn, "-out", csr],
                 self.dir)
        return csr

    def _extfile(self, name, lines):
        ext = self.path(name + ".ext")
        ext.write_text("\n".join(lines) + "\n")
        return ext

    def _next_serial(self):
        self._serial += 1
        return "0x%x" % self._serial

    def sign(self, name, issuer, cn, sans=(), eku="serverAuth", ca=False, key_kind="ec",
             days=3650):
        """A certificate for a fresh key, signed by `issuer` (a CertKey)."""
        key = self.key(name, key_kind)
        csr = self._csr(name, key, cn)
        lines = ["subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid,issuer"]
        if ca:
            lines += ["basicConstraints=critical,CA:TRUE,pathlen:0",
                      "keyUsage=critical,keyCertSign,cRLSign"]
        else:
            lines += ["basicConstraints=critical,CA:FALSE",
                      "keyUsage=critical,digitalSignature,keyEncipherment",
                      "extendedKeyUsage=%s" % eku]
        if sans:
            lines.append("subjectAltName=%s" % ",".join(sans))
        ext = self._extfile(name, lines)
        cert = self.path(name + ".crt")
        _openssl(["x509", "-req", "-in", csr, "-CA", issuer.cert, "-CAkey", issuer.key,
                  "-set_serial", self._next_serial(), "-sha256", "-days", str(days),
                  "-extfile", ext, "-out", cert], self.dir)
        return CertKey(cert, key, cn, sans)

    def sign_backdated(self, name, issuer, cn, sans, start, end):
        """Like sign(), but valid only from `start` to `end` (openssl ca can set both dates;
        `openssl x509 -req` in OpenSSL 3.0 cannot)."""
        key = self.key(name)
        csr = self._csr(name, key, cn)
        cadir = self.path(name + "-ca")
        cadir.mkdir(exist_ok=True)
        (cadir / "index.txt").write_text("")
        (cadir / "serial").write_text("%x\n" % (self._serial + 0x100000))
        self._serial += 1
        conf = cadir / "ca.cnf"
        conf.write_text(
            "[ca]\ndefault_ca = backdated\n"
            "[backdated]\n"
            "dir = %(dir)s\n"
            "database = $dir/index.txt\n"
            "serial = $dir/serial\n"
            "new_certs_dir = $dir\n"
            "default_md = sha256\n"
            "policy = policy_any\n"
            "unique_subject = no\n"
            "copy_extensions = none\n"
            "x509_extensions = leaf_ext\n"
            "[policy_any]\ncommonName = supplied\norganizationName = optional\n"
            "[leaf_ext]\n"
            "subjectKeyIdentifier = hash\n"
            "authorityKeyIdentifier = keyid,issuer\n"
            "basicConstraints = critical,CA:FALSE\n"
            "keyUsage = critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage = serverAuth\n"
            "subjectAltName = %(sans)s\n" % {"dir": cadir, "sans": ",".join(sans)})
        cert = self.path(name + ".crt")
        _openssl(["ca", "-batch", "-config", conf, "-cert", issuer.cert, "-keyfile", issuer.key,
                  "-in", csr, "-out", cert, "-notext",
                  "-startdate", start, "-enddate", end], self.dir)
        return CertKey(cert, key, cn, sans)


def make_pki(directory):
    """Generate the whole PKI under `directory` and return a Pki. Takes about a second."""
    b = _Builder(directory)
    pki = Pki(b.dir)
    pki.ca = b.root_ca("ca", "Weft Test Root CA")
    pki.wrong_ca = b.root_ca("wrong-ca", "Weft Wrong CA")
    pki.intermediate = b.sign("intermediate", pki.ca, "Weft Test Intermediate CA", ca=True)

    pki.server_a = b.sign("server-a", pki.ca, "a.example.com", ["DNS:a.example.com"],
                          key_kind="rsa")
    pki.server_b = b.sign("server-b", pki.ca, "b.example.com", ["DNS:b.example.com"])
    pki.server_spiffe = b.sign("server-spiffe", pki.ca, "server", ["URI:" + SPIFFE_SERVER],
                               eku="serverAuth,clientAuth")
    leaf = b.sign("server-chain-leaf", pki.intermediate, "chain.example.com",
                  ["DNS:chain.example.com"])
    chain = b.path("server-chain.crt")
    chain.write_text(Path(leaf.cert).read_text() + Path(pki.intermediate.cert).read_text())
    pki.server_chain = CertKey(chain, leaf.key, leaf.cn, leaf.sans)
    pki.server_expired = b.sign_backdated("server-expired", pki.ca, "a.example.com",
                                          ["DNS:a.example.com"], EXPIRED_START, EXPIRED_END)
    pki.server_wrong_ca = b.sign("server-wrong-ca", pki.wrong_ca, "a.example.com",
                                 ["DNS:a.example.com"])

    pki.client = b.sign("client", pki.ca, "client", ["URI:" + SPIFFE_CLIENT],
                        eku="clientAuth,serverAuth")
    pki.client_wrong_ca = b.sign("client-wrong-ca", pki.wrong_ca, "client",
                                 ["URI:" + SPIFFE_CLIENT], eku="clientAuth,serverAuth")

    other_key = b.key("unrelated")
    pki.key_mismatch = CertKey(pki.server_a.cert, other_key, pki.server_a.cn, pki.server_a.sans)

    garbage = b.path("garbage.pem")
    garbage.write_text("this is not a PEM certificate\n")
    pki.garbage = str(garbage)
    return pki


def x509_text(cert_path):
    """`openssl x509 -text` of a certificate (for failure messages and self-checks)."""
    return _openssl(["x509", "-in", cert_path, "-noout", "-text"], Path(cert_path).parent)


def verify(cert_path, ca_path, untrusted=None, purpose=None):
    """(ok, output) of `openssl verify -CAfile ca_path cert_path`."""
    args = ["openssl", "verify", "-CAfile", str(ca_path)]
    if untrusted:
        args += ["-untrusted", str(untrusted)]
    if purpose:
        args += ["-purpose", purpose]
    r = subprocess.run(args + [str(cert_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, errors="replace", timeout=30)
    return r.returncode == 0, r.stdout
