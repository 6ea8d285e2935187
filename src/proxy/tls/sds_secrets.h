#pragma once
// weft-proxy's SDS client (envoy.service.secret.v3.SecretDiscoveryService, state of the world):
// one gRPC stream per secret name, to the static cluster its sds_config names (Istio's
// `sds-grpc`, the agent's unix socket), as Envoy's SdsApi. A TLS context that uses SDS secrets
// is built once all of them have arrived (until then its listener or cluster warms) and is
// rebuilt at every new version; a version no context can use is NACKed and the last good one
// stays in force.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/grpc/grpc_stream_client.h"
#include "common/tls/tls_context.h"
#include "envoy/config/bootstrap/v3/bootstrap.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/common.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "proxy/tls/context_source.h"

namespace weft::proxy::tls {

// One secret as SDS last delivered it: a certificate and key, or a trusted CA.
struct Secret {
  std::optional<weft::tls::ContextOptions::CertKey> certificate;
  std::optional<weft::tls::PemSource> trusted_ca;
  std::string version;
};

class SecretSubscription;

// A context from fixed options plus SDS secrets, rebuilt when one of them changes.
class DynamicContext {
 public:
  weft::tls::ContextOptions base;
  std::shared_ptr<SecretSubscription> certificate;  // null: the certificates are in `base`
  std::shared_ptr<SecretSubscription> validation;   // null: the trusted CA (if any) is in `base`
  ContextSource source;
  // Builds the context when every secret is there; the error when they do not make one.
  std::string rebuild();
};

class SdsSecrets;

class SecretSubscription : public grpc::StreamClient::Callbacks {
 public:
  SecretSubscription(SdsSecrets& owner, std::string name, std::string cluster, net::Address server);
  void start();
  // Closes the stream; the last secret stays (the server is shutting down).
  void stop() { client_.reset(); }
  const std::string& name() const { return name_; }
  const Secret* secret() const { return secret_ ? &*secret_ : nullptr; }
  void addDependent(const std::shared_ptr<DynamicContext>& context) { dependents_.push_back(context); }
  bool connected() const { return client_ && client_->streamOpen(); }

  void onStreamReady() override;
  void onMessage(std::string_view bytes) override;
  void onStreamClosed(int grpc_status, const std::string& message) override;

 private:
  void request(const std::string& error);
  SdsSecrets& owner_;
  std::string name_;
  std::string cluster_;
  std::unique_ptr<grpc::StreamClient> client_;
  std::optional<Secret> secret_;
  std::string accepted_version_;
  std::string nonce_;
  std::vector<std::weak_ptr<DynamicContext>> dependents_;
};

class SdsSecrets {
 public:
  SdsSecrets(event::Reactor& reactor, const envoy::config::bootstrap::v3::Bootstrap& bootstrap);
  // Compiled configs may outlive this (and the reactor): their subscriptions stop here.
  ~SdsSecrets();
  // A context source for `base` plus the SDS secrets named; throws ConfigError naming `path`
  // for a source weft-proxy cannot use (only api_config_source GRPC to a static cluster).
  std::shared_ptr<const ContextSource> dynamicContext(
      weft::tls::ContextOptions base, const envoy::extensions::transport_sockets::tls::v3::SdsSecretConfig* certificate,
      const envoy::extensions::transport_sockets::tls::v3::SdsSecretConfig* validation, const std::string& path);
  // Opens the streams (after the bootstrap compiled; validate-only mode never does).
  void start();
  // Called after a context was built or rebuilt: the server republishes what warmed.
  void onChange(std::function<void()> callback) { on_change_ = std::move(callback); }

  event::Reactor& reactor() { return reactor_; }
  const envoy::config::core::v3::Node& node() const { return node_; }
  void changed() {
    if (on_change_) on_change_();
  }

 private:
  std::shared_ptr<SecretSubscription> subscribe(const envoy::extensions::transport_sockets::tls::v3::SdsSecretConfig& c,
                                                const std::string& path);
  event::Reactor& reactor_;
  envoy::config::core::v3::Node node_;
  std::map<std::string, net::Address> static_clusters_;                       // name -> its first endpoint
  std::map<std::string, std::shared_ptr<SecretSubscription>> subscriptions_;  // by "cluster/name"
  std::function<void()> on_change_;
  bool started_ = false;
};

// A Secret resource as weft-proxy uses it; throws ConfigError naming the field.
Secret secretFromProto(const envoy::extensions::transport_sockets::tls::v3::Secret& s, const std::string& path);

}  // namespace weft::proxy::tls
