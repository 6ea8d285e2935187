#include "proxy/filters/http/local_ratelimit/local_ratelimit_filter.h"

#include "common/config/error.h"
#include "common/strings.h"
#include "envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.pb.h"
#include "proxy/http/filter_registry.h"
#include "proxy/worker_context.h"

namespace weft::proxy::http::local_ratelimit {

namespace {
constexpr int kResourceExhausted = 8;
constexpr int kUnavailable = 14;
}  // namespace

FilterStatus LocalRateLimitFilter::decodeHeaders(RequestHead& req, bool) {
  const auto* c = static_cast<const LocalRateLimitConfig*>(dec_->perRouteConfig(shared_.filter_name));
  if (c == nullptr) c = shared_.config.get();
  if (c == nullptr || !c->bucket) return FilterStatus::Continue;
  Random& random = dec_->worker().random();
  const runtime::Snapshot& rt = dec_->worker().runtime();
  if (!c->enabled.draw(random, rt)) return FilterStatus::Continue;
  if (c->stats) c->stats->inc(LocalRateLimitStats::enabled);
  config_ = c;
  if (c->bucket->consume(TokenBucket::Clock::now(), remaining_)) {
    if (c->stats) c->stats->inc(LocalRateLimitStats::ok);
    return FilterStatus::Continue;
  }
  if (c->stats) c->stats->inc(LocalRateLimitStats::rate_limited);
  if (!c->enforced.draw(random, rt)) {
    for (const auto& [name, value] : c->request_headers_not_enforced) req.headers.push_back({name, value});
    return FilterStatus::Continue;
  }
  if (c->stats) c->stats->inc(LocalRateLimitStats::enforced);
  LocalReply r;
  r.status = c->status;
  r.body = "local_rate_limited";
  r.flag = kRateLimited;
  r.details = "local_rate_limited";
  r.grpc_status = c->resource_exhausted ? kResourceExhausted : kUnavailable;
  for (const auto& [name, value] : c->response_headers) r.headers.push_back({name, value});
  dec_->sendLocalReply(r);
  return FilterStatus::StopIteration;
}

FilterStatus LocalRateLimitFilter::encodeHeaders(ResponseHead& head, bool) {
  if (config_ == nullptr || !config_->x_ratelimit_headers) return FilterStatus::Continue;
  head.headers.push_back({"x-ratelimit-limit", dec_->keep(std::to_string(config_->bucket->maxTokens()))});
  head.headers.push_back({"x-ratelimit-remaining", dec_->keep(std::to_string(remaining_))});
  head.headers.push_back(
      {"x-ratelimit-reset", dec_->keep(std::to_string(config_->bucket->secondsToNextFill(TokenBucket::Clock::now())))});
  return FilterStatus::Continue;
}

// ---- registration ---------------------------------------------------------------------------

namespace {
namespace lrlv3 = envoy::extensions::filters::http::local_ratelimit::v3;

std::shared_ptr<const LocalRateLimitConfig> compileConfig(const google::protobuf::Any& any, const std::string& path,
                                                          stats::Store* store) {
  lrlv3::LocalRateLimit p;
  if (!any.type_url().empty() && !any.UnpackTo(&p)) throw ConfigError(path + ": cannot decode a LocalRateLimit");
  auto c = std::make_shared<LocalRateLimitConfig>();
  if (p.stat_prefix().empty()) throw ConfigError(path + ".stat_prefix: must not be empty");
  if (store) {
    c->stats = store->scope(p.stat_prefix() + ".http_local_rate_limit.", LocalRateLimitStats::kDefs,
                            LocalRateLimitStats::kCount);
  }
  if (p.has_token_bucket()) {
    const auto& tb = p.token_bucket();
    if (tb.max_tokens() == 0) throw ConfigError(path + ".token_bucket.max_tokens: must be at least 1");
    uint32_t per_fill = tb.has_tokens_per_fill() ? tb.tokens_per_fill().value() : 1;
    auto interval = weft::toMillis(tb.fill_interval());
    if (interval.count() < 50) throw ConfigError(path + ".token_bucket.fill_interval: must be at least 50ms");
    c->bucket = std::make_unique<TokenBucket>(tb.max_tokens(), per_fill, interval, TokenBucket::Clock::now());
  } else if (p.has_filter_enabled()) {
    throw ConfigError(path + ".token_bucket: is required when filter_enabled is set");
  }
  if (p.has_filter_enabled()) c->enabled = Percent::of(p.filter_enabled());
  if (p.has_filter_enforced()) c->enforced = Percent::of(p.filter_enforced());
  if (p.has_status()) {
    int code = static_cast<int>(p.status().code());
    if (code < 400 || code > 599) throw ConfigError(path + ".status.code: must be in [400, 599]");
    c->status = code;
  }
  auto headerList = [&](const auto& list, const std::string& field, auto& out) {
    for (int i = 0; i < list.size(); ++i) {
      const auto& h = list.Get(i).header();
      if (h.key().empty())
        throw ConfigError(path + "." + field + "[" + std::to_string(i) + "].header.key: must not be empty");
      out.emplace_back(toLower(h.key()), h.value());
    }
  };
  headerList(p.response_headers_to_add(), "response_headers_to_add", c->response_headers);
  headerList(p.request_headers_to_add_when_not_enforced(), "request_headers_to_add_when_not_enforced",
             c->request_headers_not_enforced);
  c->x_ratelimit_headers = p.enable_x_ratelimit_headers() == envoy::extensions::common::ratelimit::v3::DRAFT_VERSION_03;
  c->resource_exhausted = p.rate_limited_as_resource_exhausted();
  return c;
}

class LocalRateLimitFactory final : public HttpFilterFactory {
 public:
  std::string_view name() const override { return "envoy.filters.http.local_ratelimit"; }
  std::vector<std::string_view> configTypes() const override {
    return {"envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"};
  }
  config::FieldTable supportedFields() const override {
    return {
        {"envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
         {"stat_prefix", "status", "token_bucket", "filter_enabled", "filter_enforced", "response_headers_to_add",
          "request_headers_to_add_when_not_enforced", "enable_x_ratelimit_headers",
          "rate_limited_as_resource_exhausted"}},
        {"envoy.type.v3.TokenBucket", {"max_tokens", "tokens_per_fill", "fill_interval"}},
        {"envoy.type.v3.HttpStatus", {"code"}},
        {"envoy.config.core.v3.RuntimeFractionalPercent", {"default_value", "runtime_key"}},
        {"envoy.type.v3.FractionalPercent", {"numerator", "denominator"}},
    };
  }
  FilterFactoryCb compile(const google::protobuf::Any& any, const std::string& path,
                          FilterFactoryContext& ctx) const override {
    auto shared = std::make_shared<LocalRateLimitShared>();
    shared->config = compileConfig(any, path, &ctx.store);
    shared->filter_name = std::string(ctx.filter_name);
    return [shared](FilterChainBuilder& chain) { chain.addBoth<LocalRateLimitFilter>(*shared); };
  }
  std::shared_ptr<const RouteSpecificFilterConfig> compilePerRoute(const google::protobuf::Any& any,
                                                                   const std::string& path,
                                                                   stats::Store* store) const override {
    return compileConfig(any, path, store);
  }
};
}  // namespace

WEFT_REGISTER_HTTP_FILTER(LocalRateLimitFactory);

}  // namespace weft::proxy::http::local_ratelimit
