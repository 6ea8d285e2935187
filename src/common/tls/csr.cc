#include "common/tls/csr.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>

namespace weft::tls {

std::string csrPem(EVP_PKEY* key, const std::string& uri_san, std::string& error) {
  std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)> req(X509_REQ_new(), X509_REQ_free);
  bool ok = req && X509_REQ_set_version(req.get(), 0) == 1 && X509_REQ_set_pubkey(req.get(), key) == 1;
  if (ok && !uri_san.empty()) {
    STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
    std::string san = "critical,URI:" + uri_san;
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str());
    ok = ext != nullptr && sk_X509_EXTENSION_push(exts, ext) > 0 && X509_REQ_add_extensions(req.get(), exts) == 1;
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  }
  ok = ok && X509_REQ_sign(req.get(), key, EVP_sha256()) > 0;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  ok = ok && PEM_write_bio_X509_REQ(bio.get(), req.get()) == 1;
  if (!ok) {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
    ERR_clear_error();
    error = std::string("cannot make the CSR: ") + buf;
    return {};
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

}  // namespace weft::tls
