#pragma once
// The workload's private key and its CSR, made in the pod and never sent anywhere: ECDSA P-256
// by default (Istio's ECC_SIGNATURE_ALGORITHM=ECDSA), RSA 2048 as Istio's default otherwise;
// the CSR's only name is the SPIFFE URI SAN the CA will check against the caller.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace weft::agent {

struct KeyAndCsr {
  std::string key_pem;
  std::string csr_pem;
};

enum class KeyType { EcdsaP256, Rsa2048 };

// nullopt only when OpenSSL fails (the error says why).
std::optional<KeyAndCsr> makeKeyAndCsr(const std::string& spiffe_id, KeyType type, std::string& error);

struct CertificateTimes {
  std::chrono::system_clock::time_point not_before, not_after;
};
// The validity of the first certificate in `chain_pem`; nullopt when it does not parse.
std::optional<CertificateTimes> leafValidity(const std::string& chain_pem);
// The URI SANs of the first certificate in `chain_pem`.
std::vector<std::string> leafUris(const std::string& chain_pem);

}  // namespace weft::agent
