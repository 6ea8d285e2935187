#include "control/ca/ca_service.h"

#include <grpc/grpc_security_constants.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include "common/tls/subject_alt_names.h"

namespace weft::control::ca {

namespace {

// spiffe://TD/ns/NS/sa/SA from the certificate's URI SANs.
std::optional<WorkloadIdentity> spiffeIdentity(X509* cert, std::string& uri) {
  for (const std::string& u : tls::subjectAltNames(cert, GEN_URI)) {
    uri = u;
    const std::string scheme = "spiffe://";
    if (uri.rfind(scheme, 0) != 0) continue;
    auto td_end = uri.find('/', scheme.size());
    if (td_end == std::string::npos) continue;
    std::string rest = uri.substr(td_end);  // /ns/NS/sa/SA
    auto sa = rest.find("/sa/");
    if (rest.rfind("/ns/", 0) != 0 || sa == std::string::npos) continue;
    WorkloadIdentity w{uri.substr(scheme.size(), td_end - scheme.size()), rest.substr(4, sa - 4), rest.substr(sa + 4)};
    if (w.ns.empty() || w.service_account.empty() || w.ns.find('/') != std::string::npos ||
        w.service_account.find('/') != std::string::npos)
      continue;
    return w;
  }
  return std::nullopt;
}

}  // namespace

std::optional<WorkloadIdentity> authenticate(const CallerCredentials& caller, const TokenAuthority& tokens,
                                             const std::string& trust_domain, std::string& error,
                                             const KubeTokenReviewer* kube) {
  if (!caller.tls) {
    error = "the CA answers only over TLS (port 15012), not plaintext";
    return std::nullopt;
  }
  for (const auto& value : caller.authorization) {
    const std::string bearer = "Bearer ";
    if (value.rfind(bearer, 0) != 0) {
      error = "the authorization metadata is not 'Bearer <token>'";
      return std::nullopt;
    }
    std::string_view token = std::string_view(value).substr(bearer.size());
    auto id = tokens.verify(token, error);
    if (id || !kube) return id;
    std::string own_error = error;
    error.clear();
    id = kube->verify(token, error);
    if (!id) error = "not a token weftd signed (" + own_error + "), and Kubernetes: " + error;
    return id;
  }
  if (!caller.peer_certificate_pem.empty()) {
    auto certs = certsFromPem(caller.peer_certificate_pem);
    std::string uri;
    auto id = certs.empty() ? std::nullopt : spiffeIdentity(certs.front().get(), uri);
    if (!id) {
      error = "the client certificate has no SPIFFE identity (spiffe://TD/ns/NS/sa/SA)";
      return std::nullopt;
    }
    if (id->trust_domain != trust_domain) {
      error = "the client certificate's identity " + uri + " is not in trust domain " + trust_domain;
      return std::nullopt;
    }
    return id;
  }
  error = "no credential: send 'authorization: Bearer <token>' or present the current workload certificate";
  return std::nullopt;
}

std::string CaMetrics::prometheus() const {
  std::string out;
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name + " " +
           std::to_string(v) + "\n";
  };
  counter("citadel_server_csr_count", "The number of CSRs received by the CA.", csr.load());
  counter("citadel_server_success_cert_issuance_count", "The number of certificates issued.", issued.load());
  counter("citadel_server_authentication_failure_count", "The number of CSRs whose caller failed authentication.",
          auth_failures.load());
  counter("citadel_server_csr_sign_error_count", "The number of CSRs refused or failed in signing.",
          sign_errors.load());
  return out;
}

CaService::CaService(std::shared_ptr<const CaBundle> ca, std::shared_ptr<const TokenAuthority> tokens,
                     std::string trust_domain, SignPolicy policy, const KubeTokenReviewer* kube)
    : ca_(std::move(ca)),
      tokens_(std::move(tokens)),
      trust_domain_(std::move(trust_domain)),
      policy_(policy),
      kube_(kube) {}

grpc::ServerUnaryReactor* CaService::CreateCertificate(grpc::CallbackServerContext* context,
                                                       const istio::v1::auth::IstioCertificateRequest* request,
                                                       istio::v1::auth::IstioCertificateResponse* response) {
  auto* reactor = context->DefaultReactor();
  metrics_.csr++;
  CallerCredentials caller;
  caller.peer = context->peer();
  auto auth = context->auth_context();
  if (auth) {
    for (const auto& v : auth->FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME))
      caller.tls = caller.tls || std::string(v.data(), v.size()) == GRPC_SSL_TRANSPORT_SECURITY_TYPE;
    for (const auto& v : auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME))
      caller.peer_certificate_pem.assign(v.data(), v.size());
  }
  auto md = context->client_metadata().equal_range("authorization");
  for (auto it = md.first; it != md.second; ++it)
    caller.authorization.emplace_back(it->second.data(), it->second.size());

  std::string error;
  auto who = authenticate(caller, *tokens_, trust_domain_, error, kube_);
  if (!who) {
    metrics_.auth_failures++;
    spdlog::warn("CA: refused a CSR from {}: {}", caller.peer, error);
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, error));
    return reactor;
  }
  auto result = signCsr(*ca_, *who, request->csr(), std::chrono::seconds(request->validity_duration()), policy_);
  if (!result.error.empty()) {
    metrics_.sign_errors++;
    spdlog::warn("CA: refused a CSR from {} ({}): {}", caller.peer, who->spiffe(), result.error);
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, result.error));
    return reactor;
  }
  for (auto& pem : result.cert_chain) response->add_cert_chain(std::move(pem));
  metrics_.issued++;
  spdlog::info("CA: issued a certificate for {} to {}", who->spiffe(), caller.peer);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace weft::control::ca
