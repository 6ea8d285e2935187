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
  proxy::rbac::RbacRequest r(&head, conn.tls() ? "https" : "http", &conn.remoteAddress(), &conn.localAddress(), ssl,
                             sni ? std::string_view(sni) : std::string_view(), &dec_->streamInfo().metadata);
  std::string matched;
  if (config_.allowed(r, &matched)) return FilterStatus::Continue;
  LocalReply reply;
  reply.status = 403;
  reply.body = "RBAC: access denied";
  reply.details = dec_->keep("rbac_access_denied_matched_policy[" + (matched.empty() ? "none" : matched) + "]");
  dec_->sendLocalReply(reply);
  return FilterStatus::StopIteration;
}

namespace {

namespace rbacv3 = envoy::extensions::filters::http::rbac::v3;
using namespace proxy::rbac;

class RbacFactory final : public HttpFilterFactory {
 public:
  std::string_view name() const override { return "envoy.filters.http.rbac"; }
  std::vector<std::string_view> configTypes() const override { return {"envoy.extensions.filters.http.rbac.v3.RBAC"}; }
  config::FieldTable supportedFields() const override {
    config::FieldTable t = rbacSupportedFields();
    t["envoy.extensions.filters.http.rbac.v3.RBAC"] = {"rules", "rules_stat_prefix", "shadow_rules",
                                                       "shadow_rules_stat_prefix"};
    return t;
  }
  FilterFactoryCb compile(const google::protobuf::Any& any, const std::string& path,
                          FilterFactoryContext& ctx) const override {
    rbacv3::RBAC p;
    if (!any.UnpackTo(&p)) throw ConfigError(path + ": cannot decode an RBAC");
    auto c =
        RbacConfig::compile(p.has_rules() ? &p.rules() : nullptr, p.has_shadow_rules() ? &p.shadow_rules() : nullptr,
                            "http." + std::string(ctx.stat_prefix) + ".rbac.", p.rules_stat_prefix(),
                            p.shadow_rules_stat_prefix(), ctx.store, path);
    return [c](FilterChainBuilder& chain) { chain.addDecoder<RbacFilter>(*c); };
  }
};

}  // namespace

WEFT_REGISTER_HTTP_FILTER(RbacFactory);

}  // namespace weft::proxy::http::rbac
