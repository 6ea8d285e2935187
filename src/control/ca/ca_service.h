#pragma once
// Istio's istio.v1.auth.IstioCertificateService/CreateCertificate, as istiod serves it on
// 15012: the caller proves who it is with a bearer token (`authorization: Bearer ...`, one
// weftd signed) or, to renew, with its current workload certificate over mutual TLS; the
// certificate is signed for that identity only. Plaintext callers are refused.
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/ca/csr_signer.h"
#include "control/ca/token_review.h"
#include "control/ca/workload_token.h"
#include "istio/v1/auth/istioca.grpc.pb.h"

namespace weft::control::ca {

// What the transport says about the caller.
struct CallerCredentials {
  bool tls = false;
  std::vector<std::string> authorization;  // values of the `authorization` metadata
  std::string peer_certificate_pem;        // the verified client certificate, if any
  std::string peer;                        // address, for logs
};

// The caller's identity, or nullopt with why not (a token first, then the client certificate).
// A token weftd did not sign goes to the API server's TokenReview when `kube` is given.
std::optional<WorkloadIdentity> authenticate(const CallerCredentials& caller, const TokenAuthority& tokens,
                                             const std::string& trust_domain, std::string& error,
                                             const KubeTokenReviewer* kube = nullptr);

struct CaMetrics {
  // Istio's names: citadel_server_csr_count, ..._success_cert_issuance_count,
  // ..._authentication_failure_count, ..._csr_sign_error_count.
  std::atomic<uint64_t> csr{0}, issued{0}, auth_failures{0}, sign_errors{0};
  std::string prometheus() const;
};

class CaService final : public istio::v1::auth::IstioCertificateService::CallbackService {
 public:
  CaService(std::shared_ptr<const CaBundle> ca, std::shared_ptr<const TokenAuthority> tokens, std::string trust_domain,
            SignPolicy policy, const KubeTokenReviewer* kube = nullptr);
  grpc::ServerUnaryReactor* CreateCertificate(grpc::CallbackServerContext* context,
                                              const istio::v1::auth::IstioCertificateRequest* request,
                                              istio::v1::auth::IstioCertificateResponse* response) override;
  const CaMetrics& metrics() const { return metrics_; }

 private:
  std::shared_ptr<const CaBundle> ca_;
  std::shared_ptr<const TokenAuthority> tokens_;
  std::string trust_domain_;
  SignPolicy policy_;
  const KubeTokenReviewer* kube_;
  CaMetrics metrics_;
};

}  // namespace weft::control::ca
