#pragma once
// Kubernetes service-account tokens, checked by the API server with a TokenReview, as istiod's
// KubeJWTAuthenticator checks them: authenticated, for the audience istio-ca, and the user
// "system:serviceaccount:NS:SA" is the identity the certificate is signed for.
#include <optional>
#include <string>
#include <string_view>

#include "common/kube/api_client.h"
#include "control/ca/csr_signer.h"

namespace weft::control::ca {

class KubeTokenReviewer {
 public:
  KubeTokenReviewer(const weft::kube::ApiClient& client, std::string trust_domain)
      : client_(client), trust_domain_(std::move(trust_domain)) {}
  // Blocking: one TokenReview (5 s at most). nullopt with the reason.
  std::optional<WorkloadIdentity> verify(std::string_view token, std::string& error) const;

  static std::string reviewRequest(std::string_view token);
  // The identity in a TokenReview answer (HTTP status and body).
  static std::optional<WorkloadIdentity> identityFromReview(int status, const std::string& body,
                                                            const std::string& trust_domain, std::string& error);

  static constexpr const char* kAudience = "istio-ca";

 private:
  const weft::kube::ApiClient& client_;
  std::string trust_domain_;
};

}  // namespace weft::control::ca
