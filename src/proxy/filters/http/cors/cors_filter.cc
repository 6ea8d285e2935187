#include "proxy/filters/http/cors/cors_filter.h"

#include "common/config/error.h"
#include "envoy/extensions/filters/http/cors/v3/cors.pb.h"
#include "proxy/http/filter_registry.h"
#include "proxy/http/route_table.h"
#include "proxy/worker_context.h"

namespace weft::proxy::http::cors {

bool CorsPolicy::originAllowed(std::string_view origin) const {
  for (const StringMatcher& m : allow_origins) {
    if (m.match(origin) || m.match("*")) return true;
  }
  return false;
}

FilterStatus CorsFilter::decodeHeaders(RequestHead& req, bool) {
  const Route* route = dec_->route();
  if (route == nullptr || route->action != Route::ActionKind::Cluster) return FilterStatus::Continue;
  policy_ = static_cast<const CorsPolicy*>(dec_->perRouteConfig(shared_.filter_name));
  if (policy_ == nullptr) return FilterStatus::Continue;
  Random& random = dec_->worker().random();
  const runtime::Snapshot& rt = dec_->worker().runtime();
  bool enabled = policy_->enabled.draw(random, rt);
  bool shadow = !enabled && policy_->shadow && policy_->shadow->draw(random, rt);
  if (!enabled && !shadow) return FilterStatus::Continue;
  const std::string_view* origin = req.find("origin");
  if (origin == nullptr || origin->empty()) return FilterStatus::Continue;
  bool preflight = req.method == "OPTIONS" && req.find("access-control-request-method") != nullptr &&
                   !req.find("access-control-request-method")->empty();
  if (!policy_->originAllowed(*origin)) {
    shared_.stats->inc(CorsStats::origin_invalid);
    if (enabled && preflight && !policy_->forward_not_matching_preflights) {
      LocalReply r;  // answered here, without CORS headers: the browser refuses the request
      r.status = 200;
      r.details = "cors_response";
      dec_->sendLocalReply(r);
      return FilterStatus::StopIteration;
    }
    return FilterStatus::Continue;
  }
  shared_.stats->inc(CorsStats::origin_valid);
  if (!enabled) return FilterStatus::Continue;  // shadow mode: counted only
  origin_ = *origin;
  if (!preflight) return FilterStatus::Continue;
  LocalReply r;
  r.status = 200;
  r.details = "cors_response";
  if (!policy_->allow_methods.empty()) r.headers.push_back({"access-control-allow-methods", policy_->allow_methods});
  if (!policy_->allow_headers.empty()) r.headers.push_back({"access-control-allow-headers", policy_->allow_headers});
  if (!policy_->max_age.empty()) r.headers.push_back({"access-control-max-age", policy_->max_age});
  dec_->sendLocalReply(r);  // encodeHeaders below adds the origin and credentials
  return FilterStatus::StopIteration;
}

FilterStatus CorsFilter::encodeHeaders(ResponseHead& head, bool) {
  if (origin_.empty()) return FilterStatus::Continue;
  // Ours replace whatever the upstream said about CORS.
  std::erase_if(head.headers, [](const Header& h) {
    return equalsIgnoreCase(h.name, "access-control-allow-origin") ||
           equalsIgnoreCase(h.name, "access-control-allow-credentials");
  });
  head.headers.push_back({"access-control-allow-origin", origin_});
  if (policy_->allow_credentials) head.headers.push_back({"access-control-allow-credentials", "true"});
  if (!policy_->expose_headers.empty()) {
    head.headers.push_back({"access-control-expose-headers", policy_->expose_headers});
  }
  return FilterStatus::Continue;
}

// ---- registration ---------------------------------------------------------------------------

namespace {
namespace corsv3 = envoy::extensions::filters::http::cors::v3;

class CorsFactory final : public HttpFilterFactory {
 public:
  std::string_view name() const override { return "envoy.filters.http.cors"; }
  std::vector<std::string_view> configTypes() const override {
    return {"envoy.extensions.filters.http.cors.v3.Cors", "envoy.extensions.filters.http.cors.v3.CorsPolicy"};
  }
  config::FieldTable supportedFields() const override {
    return {
        {"envoy.extensions.filters.http.cors.v3.Cors", {}},
        {"envoy.extensions.filters.http.cors.v3.CorsPolicy",
         {"allow_origin_string_match", "allow_methods", "allow_headers", "expose_headers", "max_age",
          "allow_credentials", "filter_enabled", "shadow_enabled", "forward_not_matching_preflights"}},
        {"envoy.config.core.v3.RuntimeFractionalPercent", {"default_value", "runtime_key"}},
        {"envoy.type.v3.FractionalPercent", {"numerator", "denominator"}},
    };
  }
  FilterFactoryCb compile(const google::protobuf::Any& any, const std::string& path,
                          FilterFactoryContext& ctx) const override {
    if (!any.type_url().empty() && !any.Is<corsv3::Cors>()) {
      throw ConfigError(path + ": the listener's envoy.filters.http.cors config is a Cors; policies go per route");
    }
    auto shared = std::make_shared<CorsShared>();
    shared->filter_name = std::string(ctx.filter_name);
    std::string prefix(ctx.stat_prefix);
    shared->stats = ctx.store.scope("http." + prefix + ".cors.", CorsStats::kDefs, CorsStats::kCount,
                                    {{"envoy_http_conn_manager_prefix", prefix}});
    return [shared](FilterChainBuilder& chain) { chain.addBoth<CorsFilter>(*shared); };
  }
  std::shared_ptr<const RouteSpecificFilterConfig> compilePerRoute(const google::protobuf::Any& any,
                                                                   const std::string& path,
                                                                   stats::Store*) const override {
    corsv3::CorsPolicy p;
    if (!any.UnpackTo(&p)) throw ConfigError(path + ": cannot decode a CorsPolicy");
    auto c = std::make_shared<CorsPolicy>();
    for (int i = 0; i < p.allow_origin_string_match_size(); ++i) {
      c->allow_origins.push_back(StringMatcher::compile(
          p.allow_origin_string_match(i), path + ".allow_origin_string_match[" + std::to_string(i) + "]"));
    }
    c->allow_methods = p.allow_methods();
    c->allow_headers = p.allow_headers();
    c->expose_headers = p.expose_headers();
    c->max_age = p.max_age();
    if (!c->max_age.empty() && c->max_age.find_first_not_of("0123456789") != std::string::npos) {
      throw ConfigError(path + ".max_age: must be a number of seconds, got '" + c->max_age + "'");
    }
    c->allow_credentials = p.has_allow_credentials() && p.allow_credentials().value();
    if (p.has_filter_enabled()) c->enabled = Percent::of(p.filter_enabled());
    if (p.has_shadow_enabled()) c->shadow = Percent::of(p.shadow_enabled());
    if (p.has_forward_not_matching_preflights())
      c->forward_not_matching_preflights = p.forward_not_matching_preflights().value();
    return c;
  }
};
}  // namespace

WEFT_REGISTER_HTTP_FILTER(CorsFactory);

}  // namespace weft::proxy::http::cors
