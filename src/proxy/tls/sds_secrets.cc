#include "proxy/tls/sds_secrets.h"

#include <spdlog/spdlog.h>

#include "common/config/error.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "proxy/config/field_support.h"
#include "proxy/tls/tls_config.h"

namespace weft::proxy::tls {

namespace tlsv3 = envoy::extensions::transport_sockets::tls::v3;
namespace corev3 = envoy::config::core::v3;

namespace {
constexpr const char* kSecretType = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";
constexpr const char* kStreamSecrets = "/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets";
}  // namespace

Secret secretFromProto(const tlsv3::Secret& s, const std::string& path) {
  config::requireSupportedFields(s, path);
  Secret out;
  if (s.has_tls_certificate()) {
    const auto& tc = s.tls_certificate();
    if (!tc.has_certificate_chain()) throw ConfigError(path + ".tls_certificate.certificate_chain: required");
    if (!tc.has_private_key()) throw ConfigError(path + ".tls_certificate.private_key: required");
    out.certificate =
        weft::tls::ContextOptions::CertKey{readPem(tc.certificate_chain(), path + ".tls_certificate.certificate_chain"),
                                           readPem(tc.private_key(), path + ".tls_certificate.private_key")};
  } else if (s.has_validation_context()) {
    const auto& v = s.validation_context();
    if (!v.has_trusted_ca()) throw ConfigError(path + ".validation_context.trusted_ca: required");
    if (v.match_typed_subject_alt_names_size() > 0 || v.match_subject_alt_names_size() > 0) {
      throw ConfigError(path +
                        ".validation_context: SAN matchers from SDS are not supported by weft-proxy; put them "
                        "in combined_validation_context.default_validation_context");
    }
    out.trusted_ca = readPem(s.validation_context().trusted_ca(), path + ".validation_context.trusted_ca");
  } else {
    throw ConfigError(path + ": a tls_certificate or a validation_context is required");
  }
  return out;
}

std::string DynamicContext::rebuild() {
  weft::tls::ContextOptions o = base;
  if (certificate) {
    const Secret* s = certificate->secret();
    if (!s) return {};  // still warming
    if (!s->certificate) return "secret '" + certificate->name() + "' holds no tls_certificate";
    o.certificates = {*s->certificate};
  }
  if (validation) {
    const Secret* s = validation->secret();
    if (!s) return {};
    if (!s->trusted_ca) return "secret '" + validation->name() + "' holds no validation_context";
    o.trusted_ca = s->trusted_ca;
  }
  try {
    source.set(weft::tls::Context::create(o));
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

SecretSubscription::SecretSubscription(SdsSecrets& owner, std::string name, std::string cluster, net::Address server)
    : owner_(owner),
      name_(std::move(name)),
      cluster_(std::move(cluster)),
      client_(std::make_unique<grpc::StreamClient>(owner.reactor(), server, cluster_, kStreamSecrets, *this)) {}

void SecretSubscription::start() {
  if (client_) client_->start();
}

void SecretSubscription::onStreamReady() {
  nonce_.clear();
  request("");
}

void SecretSubscription::request(const std::string& error) {
  envoy::service::discovery::v3::DiscoveryRequest req;
  *req.mutable_node() = owner_.node();
  req.add_resource_names(name_);
  req.set_type_url(kSecretType);
  req.set_version_info(accepted_version_);
  req.set_response_nonce(nonce_);
  if (!error.empty()) {
    req.mutable_error_detail()->set_code(3);  // INVALID_ARGUMENT
    req.mutable_error_detail()->set_message(error);
  }
  if (client_) client_->send(req);
}

void SecretSubscription::onMessage(std::string_view bytes) {
  envoy::service::discovery::v3::DiscoveryResponse res;
  if (!res.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    spdlog::warn("SDS '{}': a response that is not a DiscoveryResponse", name_);
    return;
  }
  nonce_ = res.nonce();
  std::string error;
  std::optional<Secret> next;
  for (int i = 0; i < res.resources_size() && error.empty(); ++i) {
    tlsv3::Secret s;
    if (!res.resources(i).UnpackTo(&s)) {
      error = "resources[" + std::to_string(i) + "]: not a " + std::string(kSecretType);
      continue;
    }
    if (s.name() != name_) continue;  // not ours (a server may send more than asked)
    try {
      next = secretFromProto(s, "secret '" + name_ + "'");
      next->version = res.version_info();
    } catch (const ConfigError& e) {
      error = e.what();
    }
  }
  if (error.empty() && next) {
    // Every context that uses this secret must accept it, or none gets it.
    std::optional<Secret> previous = std::move(secret_);
    secret_ = std::move(next);
    for (auto& weak : dependents_) {
      if (auto d = weak.lock()) {
        std::string e = d->rebuild();
        if (!e.empty() && error.empty()) error = e;
      }
    }
    if (!error.empty()) {
      secret_ = std::move(previous);
      for (auto& weak : dependents_)
        if (auto d = weak.lock()) d->rebuild();
    }
  }
  if (!error.empty()) {
    spdlog::warn("SDS '{}' version {} rejected: {}", name_, res.version_info(), error);
    request(error);
    return;
  }
  accepted_version_ = res.version_info();
  spdlog::info("SDS '{}' version {} applied", name_, accepted_version_);
  request("");
  owner_.changed();
}

void SecretSubscription::onStreamClosed(int status, const std::string& message) {
  spdlog::warn("SDS '{}' stream to cluster '{}' closed ({}: {}); reconnecting, the current secret stays", name_,
               cluster_, status, message);
}

SdsSecrets::SdsSecrets(event::Reactor& reactor, const envoy::config::bootstrap::v3::Bootstrap& bootstrap)
    : reactor_(reactor), node_(bootstrap.node()) {
  for (const auto& c : bootstrap.static_resources().clusters()) {
    for (const auto& loc : c.load_assignment().endpoints()) {
      for (const auto& lbe : loc.lb_endpoints()) {
        const auto& a = lbe.endpoint().address();
        std::optional<net::Address> addr;
        if (a.has_pipe()) addr = net::Address::unixPath(a.pipe().path());
        if (a.has_socket_address())
          addr =
              net::Address::parse(a.socket_address().address(), static_cast<uint16_t>(a.socket_address().port_value()));
        if (addr && !static_clusters_.count(c.name())) static_clusters_.emplace(c.name(), *addr);
      }
    }
  }
}

std::shared_ptr<SecretSubscription> SdsSecrets::subscribe(const tlsv3::SdsSecretConfig& c, const std::string& path) {
  if (c.name().empty()) throw ConfigError(path + ".name: required");
  if (!c.has_sds_config()) {
    throw ConfigError(path + ".sds_config: required (weft-proxy has no static secrets by name)");
  }
  const auto& src = c.sds_config();
  if (src.has_ads()) {
    throw ConfigError(path +
                      ".sds_config.ads: SDS over ADS is not supported by weft-proxy; use api_config_source "
                      "with a gRPC cluster (Istio's sds-grpc)");
  }
  if (!src.has_api_config_source() || src.api_config_source().api_type() != corev3::ApiConfigSource::GRPC ||
      src.api_config_source().grpc_services_size() != 1 || !src.api_config_source().grpc_services(0).has_envoy_grpc()) {
    throw ConfigError(
        path + ".sds_config: weft-proxy needs api_config_source {api_type: GRPC, grpc_services: [one envoy_grpc]}");
  }
  const std::string& cluster = src.api_config_source().grpc_services(0).envoy_grpc().cluster_name();
  auto it = static_clusters_.find(cluster);
  if (it == static_clusters_.end()) {
    throw ConfigError(path + ".sds_config.api_config_source.grpc_services[0].envoy_grpc.cluster_name: '" + cluster +
                      "' is not a static cluster with an endpoint");
  }
  std::string key = cluster + "/" + c.name();
  auto& sub = subscriptions_[key];
  if (!sub) {
    sub = std::make_shared<SecretSubscription>(*this, c.name(), cluster, it->second);
    if (started_) sub->start();
  }
  return sub;
}

std::shared_ptr<const ContextSource> SdsSecrets::dynamicContext(weft::tls::ContextOptions base,
                                                                const tlsv3::SdsSecretConfig* certificate,
                                                                const tlsv3::SdsSecretConfig* validation,
                                                                const std::string& path) {
  auto d = std::make_shared<DynamicContext>();
  d->base = std::move(base);
  if (certificate) d->certificate = subscribe(*certificate, path + ".tls_certificate_sds_secret_configs[0]");
  if (validation) d->validation = subscribe(*validation, path + ".validation_context_sds_secret_config");
  if (d->certificate) d->certificate->addDependent(d);
  if (d->validation) d->validation->addDependent(d);
  std::string error = d->rebuild();  // secrets already here (a config update) apply at once
  if (!error.empty()) throw ConfigError(path + ": " + error);
  // The source lives as long as the compiled config that holds it (aliasing the owner).
  return std::shared_ptr<const ContextSource>(d, &d->source);
}

SdsSecrets::~SdsSecrets() {
  for (auto& [key, sub] : subscriptions_) sub->stop();
}

void SdsSecrets::start() {
  started_ = true;
  for (auto& [key, sub] : subscriptions_) sub->start();
}

}  // namespace weft::proxy::tls
