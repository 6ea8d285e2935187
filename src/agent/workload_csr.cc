#include "agent/workload_csr.h"

#include "common/tls/csr.h"
#include "common/tls/subject_alt_names.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>

namespace weft::agent {

namespace {

std::string bioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string opensslError() {
  unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return e ? buf : "unknown OpenSSL error";
}

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

X509Ptr firstCert(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
}

std::chrono::system_clock::time_point toTimePoint(const ASN1_TIME* t) {
  int days = 0, secs = 0;
  ASN1_TIME_diff(&days, &secs, nullptr, t);
  return std::chrono::system_clock::now() + std::chrono::hours(24) * days + std::chrono::seconds(secs);
}

}  // namespace

std::optional<KeyAndCsr> makeKeyAndCsr(const std::string& spiffe_id, KeyType type, std::string& error) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      type == KeyType::EcdsaP256 ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048), EVP_PKEY_free);
  if (!key) {
    error = "cannot make a key: " + opensslError();
    return std::nullopt;
  }
  std::string csr = tls::csrPem(key.get(), spiffe_id, error);
  if (csr.empty()) return std::nullopt;
  std::unique_ptr<BIO, decltype(&BIO_free)> kb(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return KeyAndCsr{bioString(kb.get()), std::move(csr)};
}

std::optional<CertificateTimes> leafValidity(const std::string& chain_pem) {
  auto cert = firstCert(chain_pem);
  if (!cert) return std::nullopt;
  return CertificateTimes{toTimePoint(X509_get0_notBefore(cert.get())), toTimePoint(X509_get0_notAfter(cert.get()))};
}

std::vector<std::string> leafUris(const std::string& chain_pem) {
  auto cert = firstCert(chain_pem);
  return tls::subjectAltNames(cert.get(), GEN_URI);
}

}  // namespace weft::agent
