// envoy.filters.network.rbac: Envoy's role-based access control on connections, a gate in front
// of the chain's terminal filter. It decides once (Envoy's ONE_TIME_ON_FIRST_BYTE) when the
// connection's facts are known: at once for plaintext, after the handshake for TLS so the peer
// certificate counts. A refused connection is closed; an allowed one goes on to the next filter.
// Request-level matchers (headers, paths, JWT metadata) see nothing here. Stats
// <stat_prefix>rbac.{allowed,denied,shadow_allowed,shadow_denied}, as Envoy.
#include <openssl/ssl.h>

#include "common/config/error.h"
#include "envoy/extensions/filters/network/rbac/v3/rbac.pb.h"
#include "proxy/filters/common/rbac/rbac_stats.h"
#include "proxy/network/gate.h"
#include "proxy/network/listener_config.h"
#include "proxy/network/network_filter.h"

namespace weft::proxy::network {

namespace {

namespace nrbacv3 = envoy::extensions::filters::network::rbac::v3;
using rbac::RbacConfig;

// Holds the connection until it can be judged (a TLS handshake in progress).
class RbacGate final : public GateSession {
 public:
  RbacGate(WorkerContext& worker, std::unique_ptr<net::Connection> conn, std::shared_ptr<const RbacConfig> config,
           std::shared_ptr<const NetworkFilter> next, std::shared_ptr<stats::Scope> listener_stats)
      : GateSession(worker, std::move(conn), std::move(next), std::move(listener_stats)), config_(std::move(config)) {}

  void start() {
    if (conn_->tls()) {
      conn_->setCallbacks(this);  // the handshake runs as the ClientHello arrives
      return;
    }
    decide();
  }
  void onHandshakeComplete(net::Connection&) override { decide(); }
  void onData(net::Connection&) override { decide(); }

 private:
  void decide() {
    if (done()) return;
    SSL* ssl = conn_->ssl();
    const char* sni = ssl ? SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) : nullptr;
    rbac::RbacRequest r(nullptr, {}, &conn_->remoteAddress(), &conn_->localAddress(), ssl,
                        sni ? std::string_view(sni) : std::string_view());
    if (!config_->allowed(r, nullptr)) {
      closeNow();
      return;
    }
    pass();
  }

  std::shared_ptr<const RbacConfig> config_;
};

// Envoy's statPrefixJoin.
std::string join(const std::string& prefix, const std::string& token) {
  if (prefix.empty()) return token;
  return prefix.back() == '.' ? prefix + token : prefix + "." + token;
}

class RbacNetworkFactory final : public NetworkFilterFactory {
 public:
  std::string_view name() const override { return "envoy.filters.network.rbac"; }
  std::vector<std::string_view> configTypes() const override {
    return {"envoy.extensions.filters.network.rbac.v3.RBAC"};
  }
  config::FieldTable supportedFields() const override {
    config::FieldTable t = rbac::rbacSupportedFields();
    t["envoy.extensions.filters.network.rbac.v3.RBAC"] = {"rules", "shadow_rules", "shadow_rules_stat_prefix",
                                                          "stat_prefix", "enforcement_type"};
    return t;
  }
  bool terminal() const override { return false; }
  std::shared_ptr<const NetworkFilter> compile(const google::protobuf::Any& any, const std::string& path,
                                               const NetworkFilterContext& ctx) const override {
    nrbacv3::RBAC p;
    if (!any.UnpackTo(&p)) throw ConfigError(path + ": cannot decode an RBAC");
    if (p.stat_prefix().empty()) throw ConfigError(path + ".stat_prefix: must not be empty");
    if (p.enforcement_type() != nrbacv3::RBAC::ONE_TIME_ON_FIRST_BYTE)
      throw ConfigError(path + ".enforcement_type: weft-proxy decides once per connection (ONE_TIME_ON_FIRST_BYTE)");
    auto c =
        RbacConfig::compile(p.has_rules() ? &p.rules() : nullptr, p.has_shadow_rules() ? &p.shadow_rules() : nullptr,
                            join(p.stat_prefix(), "rbac."), "", p.shadow_rules_stat_prefix(), ctx.store, path);
    return std::make_shared<GateFilter<RbacGate, RbacConfig>>(std::move(c), ctx.next);
  }
};

}  // namespace

WEFT_REGISTER_NETWORK_FILTER(RbacNetworkFactory);

}  // namespace weft::proxy::network
