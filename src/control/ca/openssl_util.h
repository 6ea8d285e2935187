#pragma once
// Owning handles for the OpenSSL objects the CA uses, and PEM in and out.
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

namespace weft::control::ca {

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct KeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct ReqFree {
  void operator()(X509_REQ* p) const { X509_REQ_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using ReqPtr = std::unique_ptr<X509_REQ, ReqFree>;

// Every certificate in `pem` (empty when there is none or it does not parse).
std::vector<X509Ptr> certsFromPem(const std::string& pem);
KeyPtr keyFromPem(const std::string& pem);
ReqPtr csrFromPem(const std::string& pem);
std::string certToPem(X509* cert);
std::string keyToPem(EVP_PKEY* key);
// A v3 certificate with a random 127-bit serial, valid from 2 minutes ago (Istio's clock-skew
// grace) for `lifetime_seconds`; the caller sets names, key and extensions, then signs.
X509Ptr newCertificate(long lifetime_seconds);
// Adds an extension written as OpenSSL's config text ("critical,CA:FALSE"); false if it does not parse.
bool addExtension(X509* cert, X509* issuer, int nid, const std::string& value);
// The last OpenSSL error, for messages.
std::string lastError();

}  // namespace weft::control::ca
