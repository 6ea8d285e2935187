#include "control/ca/serving_cert.h"

#include <arpa/inet.h>
#include <openssl/x509v3.h>

namespace weft::control::ca {

namespace {
bool isIp(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}
}  // namespace

ServingCertificate issueServingCertificate(const CaBundle& ca, const std::vector<std::string>& names,
                                           std::chrono::seconds ttl) {
  if (names.empty()) throw CaError("serving certificate: no names");
  auto now = std::chrono::system_clock::now();
  if (now + ttl > ca.not_after) ttl = std::chrono::duration_cast<std::chrono::seconds>(ca.not_after - now);
  if (ttl.count() <= 0) throw CaError("serving certificate: the signing certificate has expired");
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) throw CaError("serving certificate: cannot make a key: " + lastError());
  X509Ptr cert = newCertificate(static_cast<long>(ttl.count()));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.signing_cert.get()));
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(names[0].c_str()), -1,
                             -1, 0);
  X509_set_pubkey(cert.get(), key.get());
  std::string san;
  for (const auto& n : names) san += (san.empty() ? "" : ",") + std::string(isIp(n) ? "IP:" : "DNS:") + n;
  bool ok =
      addExtension(cert.get(), ca.signing_cert.get(), NID_subject_alt_name, san) &&
      addExtension(cert.get(), ca.signing_cert.get(), NID_basic_constraints, "critical,CA:FALSE") &&
      addExtension(cert.get(), ca.signing_cert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
      addExtension(cert.get(), ca.signing_cert.get(), NID_ext_key_usage, "serverAuth") &&
      addExtension(cert.get(), ca.signing_cert.get(), NID_authority_key_identifier, "keyid");
  if (!ok || X509_sign(cert.get(), ca.signing_key.get(), EVP_sha256()) == 0)
    throw CaError("serving certificate: signing failed: " + lastError());
  ServingCertificate out;
  out.chain_pem = certToPem(cert.get()) + ca.cert_chain_pem;
  out.key_pem = keyToPem(key.get());
  return out;
}

}  // namespace weft::control::ca
