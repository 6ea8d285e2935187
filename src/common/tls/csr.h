#pragma once
// A PKCS#10 certificate signing request in PEM, as workloads send Istio's CA: an empty subject,
// and the SPIFFE identity (when given) as a critical URI SAN. Used by weft-agent, and by the CA's
// tests and benchmark to make requests the way the agent does.
#include <openssl/evp.h>

#include <string>

namespace weft::tls {

// Empty when OpenSSL fails (`error` says why).
std::string csrPem(EVP_PKEY* key, const std::string& uri_san, std::string& error);

}  // namespace weft::tls
