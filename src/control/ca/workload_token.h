#pragma once
// Workload credentials for the config-directory mode, where there is no Kubernetes to issue
// service-account tokens: weftd signs a JWT (ES256) naming the workload's namespace and
// service account, shaped like a Kubernetes projected token (sub
// "system:serviceaccount:NS:SA", aud "istio-ca", a "kubernetes.io" claim). `weftctl up` hands
// one to each workload; the CA believes the identity in a token it verifies, never the CSR.
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "control/ca/csr_signer.h"
#include "control/ca/openssl_util.h"

namespace weft::control::ca {

class TokenAuthority {
 public:
  // The signing key is STATE_DIR/token-key.pem: loaded, or made once (EC P-256, mode 0600).
  // Throws CaError naming the file.
  static std::shared_ptr<const TokenAuthority> loadOrCreate(const std::filesystem::path& state_dir,
                                                            std::string trust_domain);

  std::string issue(const std::string& ns, const std::string& service_account, std::chrono::seconds ttl) const;
  // The identity in a token this authority signed, still valid; nullopt with the reason.
  std::optional<WorkloadIdentity> verify(std::string_view token, std::string& error) const;

  static constexpr const char* kIssuer = "weftd";
  static constexpr const char* kAudience = "istio-ca";  // Istio's default token audience

 private:
  KeyPtr key_;
  std::string trust_domain_;
};

}  // namespace weft::control::ca
