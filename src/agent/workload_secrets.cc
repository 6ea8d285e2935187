#include "agent/workload_secrets.h"

#include <fstream>
#include <sstream>

#include "agent/sds_messages.h"
#include "common/config/error.h"
#include "common/tls/tls_context.h"

namespace weft::agent {

namespace {

constexpr int kUnauthenticated = 16;
constexpr auto kMaxBackoff = std::chrono::milliseconds(60000);
constexpr auto kCallDeadline = std::chrono::milliseconds(10000);

std::optional<std::string> readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

WorkloadSecrets::WorkloadSecrets(event::Reactor& reactor, CaClientOptions options,
                                 std::function<void(const std::string&)> log)
    : reactor_(reactor),
      options_(std::move(options)),
      log_(std::move(log)),
      random_(static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())),
      timer_(reactor, [this] { request(); }) {}

void WorkloadSecrets::start() { request(); }

bool WorkloadSecrets::currentValid() const {
  return current_ && std::chrono::system_clock::now() < current_->validity.not_after;
}

void WorkloadSecrets::request() {
  std::string error;
  pending_ = makeKeyAndCsr(options_.spiffe_id, options_.key_type, error);
  if (!pending_) return retryLater(error);
  tls::ContextOptions o;
  o.server = false;
  o.trusted_ca = tls::PemSource{options_.root_cert_pem, "root certificate", "the CA root"};
  o.sni = options_.server_name;
  o.alpn = {"h2"};  // gRPC servers refuse TLS without it
  o.path = "CA client";
  std::vector<std::pair<std::string, std::string>> metadata;
  with_certificate_ = currentValid() && !token_next_;
  if (with_certificate_) {
    o.certificates.push_back({tls::PemSource{current_->chain_pem, "workload certificate", "memory"},
                              tls::PemSource{current_->key_pem, "workload key", "memory"}});
  } else {
    auto token = readFile(options_.token_file);
    if (!token || trim(*token).empty())
      return retryLater("no valid certificate to renew with, and no token in '" + options_.token_file + "'");
    metadata.emplace_back("authorization", "Bearer " + trim(*token));
  }
  std::shared_ptr<const tls::Context> ctx;
  try {
    ctx = tls::Context::create(o);
  } catch (const std::exception& e) {
    return retryLater(std::string("TLS to the CA: ") + e.what());
  }
  response_.reset();
  // A new call each time: the old one may still be unwinding its own callbacks.
  if (call_) reactor_.post([old = std::shared_ptr<grpc::StreamClient>(std::move(call_))] {});
  call_ = std::make_unique<grpc::StreamClient>(reactor_, options_.address, options_.server_name,
                                               "/istio.v1.auth.IstioCertificateService/CreateCertificate", *this);
  call_->setUnary(true);
  call_->setDeadline(kCallDeadline);
  call_->setTls(ctx, options_.server_name);
  call_->setMetadata(std::move(metadata));
  call_->start();
}

void WorkloadSecrets::onStreamReady() {
  call_->sendBytes(encodeIstioCertificateRequest(pending_->csr_pem, options_.ttl.count()));
}

void WorkloadSecrets::onMessage(std::string_view bytes) { response_ = decodeIstioCertificateResponse(bytes); }

void WorkloadSecrets::onStreamClosed(int status, const std::string& message) {
  if (status != 0) {
    if (status == kUnauthenticated && with_certificate_) token_next_ = true;
    return retryLater("CA answered " + std::to_string(status) + ": " + message);
  }
  if (!response_ || response_->size() < 2) return retryLater("CA answered without a certificate chain");
  std::string chain;
  for (size_t i = 0; i + 1 < response_->size(); ++i) chain += (*response_)[i];
  auto validity = leafValidity(chain);
  auto uris = leafUris(chain);
  if (!validity || uris.size() != 1 || uris[0] != options_.spiffe_id)
    return retryLater("CA answered with a certificate that is not for " + options_.spiffe_id);
  WorkloadCertificate c;
  c.chain_pem = std::move(chain);
  c.key_pem = std::move(pending_->key_pem);
  c.root_pem = response_->back();
  c.validity = *validity;
  c.generation = current_ ? current_->generation + 1 : 1;
  current_ = std::move(c);
  pending_.reset();
  token_next_ = false;
  last_error_.clear();
  backoff_ = std::chrono::milliseconds(1000);
  // Renew when grace_ratio of the lifetime is left, less up to 5% more at random so that a
  // fleet started together does not renew together. The lifetime counts from now, not from
  // notBefore: CAs backdate it (2 minutes, for clock skew), which would make short
  // certificates look half spent on arrival.
  auto lifetime = current_->validity.not_after - std::chrono::system_clock::now();
  auto jitter = lifetime * (static_cast<double>(random_.below(1000)) / 1000.0 * 0.05);
  auto renew_at = current_->validity.not_after -
                  std::chrono::duration_cast<std::chrono::system_clock::duration>(lifetime * options_.grace_ratio) -
                  std::chrono::duration_cast<std::chrono::system_clock::duration>(jitter);
  next_renewal_ = renew_at;
  auto wait =
      std::max(std::chrono::milliseconds(100),
               std::chrono::duration_cast<std::chrono::milliseconds>(renew_at - std::chrono::system_clock::now()));
  timer_.arm(wait);
  log_("certificate " + std::to_string(current_->generation) + " for " + options_.spiffe_id + ", renewal in " +
       std::to_string(wait.count() / 1000) + " s");
  for (auto& cb : on_change_) cb();
}

void WorkloadSecrets::retryLater(const std::string& why) {
  last_error_ = why;
  auto half = backoff_.count() / 2;
  auto delay = std::chrono::milliseconds(half + static_cast<int64_t>(random_.below(static_cast<uint64_t>(half) + 1)));
  log_("certificate request failed (" + why + "); retrying in " + std::to_string(delay.count()) + " ms" +
       (currentValid() ? " (the current certificate keeps serving)" : ""));
  backoff_ = std::min(kMaxBackoff, backoff_ * 2);
  next_renewal_ = std::chrono::system_clock::now() + delay;
  timer_.arm(delay);
}

}  // namespace weft::agent
