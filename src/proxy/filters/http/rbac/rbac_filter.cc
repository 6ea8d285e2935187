#include "proxy/filters/http/rbac/rbac_filter.h"

#include <openssl/ssl.h>

#include "common/config/error.h"
#include "envoy/extensions/filters/http/rbac/v3/rbac.pb.h"
#include "proxy/http/filter_registry.h"

namespace weft::proxy::http::rbac {

FilterStatus RbacFilter::decodeHeaders(RequestHead& head, bool) {
  net::Connection& conn = dec_->downstreamConnection();
  SSL* ssl = conn.ssl();
  const char* sni = ssl ? SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) : nullptr;
  RbacRequest r(&head, conn.tls() ? "https" : "http", &conn.remoteAddress(), &conn.localAddress(), ssl,
                sni ? std::string_view(sni) : std::string_view());
  if (config_.shadow_rules) {
    bool ok = config_.shadow_rules->allowed(r, nullptr);
    config_.shadow_stats->inc(ok ? RbacShadowStats::shadow_allowed : RbacShadowStats::shadow_denied);
  }
  if (!config_.rules) return FilterStatus::Continue;
  std::string matched;
  if (config_.rules->allowed(r, &matched)) {
    config_.stats->inc(RbacStats::allowed);
    return FilterStatus::Continue;
  }
  config_.stats->inc(RbacStats::denied);
  LocalReply reply;
  reply.status = 403;
  reply.body = "RBAC: access denied";
  reply.details = dec_->keep("rbac_access_denied_matched_policy[" + (matched.empty() ? "none" : matched) + "]");
  dec_->sendLocalReply(reply);
  return FilterStatus::StopIteration;
}

namespace {

namespace rbacv3 = envoy::extensions::filters::http::rbac::v3;

class RbacFactory final : public HttpFilterFactory {
 public:
  std::string_view name() const override { return "envoy.filters.http.rbac"; }
  std::vector<std::string_view> configTypes() const override { return {"envoy.extensions.filters.http.rbac.v3.RBAC"}; }
  config::FieldTable supportedFields() const override {
    return {
        {"envoy.extensions.filters.http.rbac.v3.RBAC",
         {"rules", "rules_stat_prefix", "shadow_rules", "shadow_rules_stat_prefix"}},
        {"envoy.config.rbac.v3.RBAC", {"action", "policies"}},
        {"envoy.config.rbac.v3.Policy", {"permissions", "principals"}},
        {"envoy.config.rbac.v3.Permission",
         {"and_rules", "or_rules", "any", "header", "url_path", "destination_ip", "destination_port",
          "destination_port_range", "not_rule", "requested_server_name"}},
        {"envoy.config.rbac.v3.Permission.Set", {"rules"}},
        {"envoy.config.rbac.v3.Principal",
         {"and_ids", "or_ids", "any", "authenticated", "source_ip", "direct_remote_ip", "remote_ip", "header",
          "url_path", "not_id"}},
        {"envoy.config.rbac.v3.Principal.Set", {"ids"}},
        {"envoy.config.rbac.v3.Principal.Authenticated", {"principal_name"}},
        {"envoy.type.matcher.v3.PathMatcher", {"path"}},
        {"envoy.config.core.v3.CidrRange", {"address_prefix", "prefix_len"}},
        {"envoy.type.v3.Int32Range", {"start", "end"}},
    };
  }
  FilterFactoryCb compile(const google::protobuf::Any& any, const std::string& path,
                          FilterFactoryContext& ctx) const override {
    rbacv3::RBAC p;
    if (!any.UnpackTo(&p)) throw ConfigError(path + ": cannot decode an RBAC");
    auto c = std::make_shared<RbacConfig>();
    std::string prefix = "http." + std::string(ctx.stat_prefix) + ".rbac.";
    if (p.has_rules()) {
      c->rules = Policies::compile(p.rules(), path + ".rules");
      c->stats = ctx.store.scope(prefix + p.rules_stat_prefix(), RbacStats::kDefs, RbacStats::kCount);
    }
    if (p.has_shadow_rules()) {
      c->shadow_rules = Policies::compile(p.shadow_rules(), path + ".shadow_rules");
      c->shadow_stats =
          ctx.store.scope(prefix + p.shadow_rules_stat_prefix(), RbacShadowStats::kDefs, RbacShadowStats::kCount);
    }
    return [c](FilterChainBuilder& chain) { chain.addDecoder<RbacFilter>(*c); };
  }
};

}  // namespace

WEFT_REGISTER_HTTP_FILTER(RbacFactory);

}  // namespace weft::proxy::http::rbac
