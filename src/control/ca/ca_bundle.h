#pragma once
// The CA's signing material, as Istio keeps it (istio-ca-secret, or the cacerts plug-in):
// ca-cert.pem and ca-key.pem sign workload certificates, cert-chain.pem is what comes between
// them and the root (empty for a self-signed root), root-cert.pem is what workloads trust.
#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "control/ca/openssl_util.h"

namespace weft::control::ca {

// A CA that cannot load or be made: names the file and what is wrong with it.
class CaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CaBundle {
  X509Ptr signing_cert;
  KeyPtr signing_key;
  std::string signing_cert_pem, cert_chain_pem, root_cert_pem;
  std::chrono::system_clock::time_point not_after;  // of the signing certificate
  bool self_signed = false;
};

// Writes a file of weftd's state via a temporary file and a rename (a crash never leaves half
// a key), with `mode` set before the rename.
void writeStateFile(const std::filesystem::path& p, const std::string& data, unsigned mode);

// Istio's plug-in CA: the four files in `dir`. The key must match the certificate, the
// certificate must be a CA, and it must verify up to root-cert.pem through cert-chain.pem.
std::shared_ptr<const CaBundle> loadPluggedCa(const std::filesystem::path& dir);

// The self-signed root kept in `state_dir`: loaded when its files are there (so a restart
// never makes a new root), else made (RSA 2048, O=trust domain, 10 years, as Istio's) and
// written before use, the key readable by its owner only.
std::shared_ptr<const CaBundle> loadOrCreateSelfSigned(const std::filesystem::path& state_dir,
                                                       const std::string& trust_domain,
                                                       std::chrono::hours ttl = std::chrono::hours(24 * 3650));

}  // namespace weft::control::ca
