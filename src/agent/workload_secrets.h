#pragma once
// The workload's certificate, as pilot-agent's secret manager keeps it: a key and CSR made
// here, signed by weftd's CA (istio.v1.auth.IstioCertificateService over TLS), renewed at about
// half its lifetime (with jitter) using the current certificate over mutual TLS, or the
// bearer token when there is no valid certificate. When the CA is away the current
// certificate keeps serving and the call is retried with backoff.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/workload_csr.h"
#include "common/event/reactor.h"
#include "common/grpc/grpc_stream_client.h"
#include "common/random.h"

namespace weft::agent {

struct CaClientOptions {
  net::Address address;                                 // weftd's 15012
  std::string server_name = "istiod.istio-system.svc";  // must be in weftd's certificate
  std::string root_cert_pem;                            // trusts weftd's certificate
  std::string token_file;                               // bearer token, re-read on every call
  std::string spiffe_id;
  KeyType key_type = KeyType::EcdsaP256;
  std::chrono::seconds ttl{0};  // 0: the CA's default
  double grace_ratio = 0.5;     // Istio's SECRET_GRACE_PERIOD_RATIO: renew with this share left
};

struct WorkloadCertificate {
  std::string chain_pem;  // leaf first
  std::string key_pem;
  std::string root_pem;
  CertificateTimes validity;
  uint64_t generation = 0;  // 1 for the first, +1 per renewal
};

class WorkloadSecrets : public grpc::StreamClient::Callbacks {
 public:
  WorkloadSecrets(event::Reactor& reactor, CaClientOptions options, std::function<void(const std::string&)> log);
  void start();
  const WorkloadCertificate* current() const { return current_ ? &*current_ : nullptr; }
  // Called after every new certificate.
  void onChange(std::function<void()> callback) { on_change_.push_back(std::move(callback)); }
  const std::string& lastError() const { return last_error_; }
  std::chrono::system_clock::time_point nextRenewal() const { return next_renewal_; }

  void onStreamReady() override;
  void onMessage(std::string_view bytes) override;
  void onStreamClosed(int grpc_status, const std::string& message) override;

 private:
  void request();
  void retryLater(const std::string& why);
  bool currentValid() const;

  event::Reactor& reactor_;
  CaClientOptions options_;
  std::function<void(const std::string&)> log_;
  std::unique_ptr<grpc::StreamClient> call_;
  std::optional<KeyAndCsr> pending_;
  std::optional<std::vector<std::string>> response_;
  std::optional<WorkloadCertificate> current_;
  bool with_certificate_ = false;  // the call in flight authenticates with the current certificate
  bool token_next_ = false;        // the certificate was refused: use the token next time
  std::vector<std::function<void()>> on_change_;
  std::string last_error_;
  std::chrono::system_clock::time_point next_renewal_{};
  std::chrono::milliseconds backoff_{1000};
  Random random_;
  event::Timer timer_;
};

}  // namespace weft::agent
