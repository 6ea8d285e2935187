#include "control/ca/ca_bundle.h"

#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

namespace weft::control::ca {

namespace fs = std::filesystem;

namespace {

std::string readFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw CaError(p.string() + ": cannot read the file");
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

void writeStateFile(const fs::path& p, const std::string& data, unsigned mode) {
  fs::path tmp = p;
  tmp += ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw CaError(tmp.string() + ": cannot write the file");
    f << data;
    f.flush();
    if (!f) throw CaError(tmp.string() + ": cannot write the file");
  }
  if (::chmod(tmp.c_str(), mode) != 0) throw CaError(tmp.string() + ": cannot set its mode");
  std::error_code ec;
  fs::rename(tmp, p, ec);
  if (ec) throw CaError(p.string() + ": " + ec.message());
}

namespace {

std::chrono::system_clock::time_point notAfter(X509* cert) {
  int days = 0, secs = 0;
  ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(cert));
  return std::chrono::system_clock::now() + std::chrono::hours(24) * days + std::chrono::seconds(secs);
}

bool isCa(X509* cert) { return X509_check_ca(cert) >= 1; }

void addExt(X509* cert, X509* issuer, int nid, const char* value) {
  if (!addExtension(cert, issuer, nid, value)) throw CaError("cannot make certificate extension: " + lastError());
}

// Checks the bundle's parts against each other; `where` names the files in messages.
void verify(CaBundle& b, const std::string& where) {
  if (X509_check_private_key(b.signing_cert.get(), b.signing_key.get()) != 1)
    throw CaError(where + "ca-key.pem: does not match ca-cert.pem");
  if (!isCa(b.signing_cert.get())) throw CaError(where + "ca-cert.pem: is not a CA certificate (basicConstraints)");
  auto roots = certsFromPem(b.root_cert_pem);
  if (roots.empty()) throw CaError(where + "root-cert.pem: no certificate in it");
  X509_STORE* store = X509_STORE_new();
  for (auto& r : roots) X509_STORE_add_cert(store, r.get());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  auto chain = certsFromPem(b.cert_chain_pem);
  for (auto& c : chain) sk_X509_push(untrusted, c.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, b.signing_cert.get(), untrusted);
  bool ok = X509_verify_cert(ctx) == 1;
  std::string why = ok ? "" : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
  X509_STORE_free(store);
  if (!ok) throw CaError(where + "ca-cert.pem: does not verify to root-cert.pem through cert-chain.pem: " + why);
  b.not_after = notAfter(b.signing_cert.get());
  if (b.not_after <= std::chrono::system_clock::now()) throw CaError(where + "ca-cert.pem: has expired");
}

std::shared_ptr<CaBundle> fromFiles(const fs::path& dir, bool chain_required) {
  auto b = std::make_shared<CaBundle>();
  std::string where = dir.string() + "/";
  b->signing_cert_pem = readFile(dir / "ca-cert.pem");
  auto certs = certsFromPem(b->signing_cert_pem);
  if (certs.empty()) throw CaError(where + "ca-cert.pem: no certificate in it");
  b->signing_cert = std::move(certs.front());
  b->signing_key = keyFromPem(readFile(dir / "ca-key.pem"));
  if (!b->signing_key) throw CaError(where + "ca-key.pem: not a PEM private key");
  b->root_cert_pem = readFile(dir / "root-cert.pem");
  if (chain_required || fs::exists(dir / "cert-chain.pem")) b->cert_chain_pem = readFile(dir / "cert-chain.pem");
  verify(*b, where);
  return b;
}

}  // namespace

std::shared_ptr<const CaBundle> loadPluggedCa(const fs::path& dir) { return fromFiles(dir, true); }

std::shared_ptr<const CaBundle> loadOrCreateSelfSigned(const fs::path& state_dir, const std::string& trust_domain,
                                                       std::chrono::hours ttl) {
  if (fs::exists(state_dir / "ca-cert.pem") || fs::exists(state_dir / "ca-key.pem")) {
    auto b = fromFiles(state_dir, false);
    b->self_signed = true;
    return b;
  }
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  if (ec) throw CaError(state_dir.string() + ": " + ec.message());

  KeyPtr key(EVP_RSA_gen(2048));
  if (!key) throw CaError("cannot make the root key: " + lastError());
  X509Ptr cert = newCertificate(static_cast<long>(ttl.count()) * 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(trust_domain.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  addExt(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  addExt(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  addExt(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) throw CaError("cannot sign the root: " + lastError());

  auto b = std::make_shared<CaBundle>();
  b->signing_cert_pem = certToPem(cert.get());
  b->root_cert_pem = b->signing_cert_pem;
  // The key first: a certificate without its key on disk would be unusable after a crash.
  writeStateFile(state_dir / "ca-key.pem", keyToPem(key.get()), 0600);
  writeStateFile(state_dir / "ca-cert.pem", b->signing_cert_pem, 0644);
  writeStateFile(state_dir / "root-cert.pem", b->root_cert_pem, 0644);
  b->signing_cert = std::move(cert);
  b->signing_key = std::move(key);
  b->self_signed = true;
  b->not_after = notAfter(b->signing_cert.get());
  return b;
}

}  // namespace weft::control::ca
