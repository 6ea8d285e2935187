#pragma once
// envoy.filters.http.local_ratelimit: a token bucket per config (the listener's, or a route's
// typed_per_filter_config), shared by all workers. A request that finds no token is answered
// 429 (or the configured status; gRPC: UNAVAILABLE, or RESOURCE_EXHAUSTED when
// rate_limited_as_resource_exhausted) with details local_rate_limited and flag RL, when the
// filter is enforced; x-ratelimit-limit / -remaining / -reset go on every response when
// enable_x_ratelimit_headers is DRAFT_VERSION_03. Stats <stat_prefix>.http_local_rate_limit.*.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/stats/stats.h"
#include "proxy/filters/http/local_ratelimit/token_bucket.h"
#include "proxy/http/filter.h"
#include "proxy/http/fractional_percent.h"

namespace weft::proxy::http::local_ratelimit {

#define WEFT_LOCAL_RATELIMIT_STATS(COUNTER, GAUGE) COUNTER(enabled) COUNTER(enforced) COUNTER(rate_limited) COUNTER(ok)
WEFT_STATS_STRUCT(LocalRateLimitStats, WEFT_LOCAL_RATELIMIT_STATS)

struct LocalRateLimitConfig final : public RouteSpecificFilterConfig {
  std::shared_ptr<stats::Scope> stats;  // null without a stats store (unit tests)
  std::unique_ptr<TokenBucket> bucket;  // null: the filter is disabled
  Percent enabled;                      // filter_enabled; Envoy: absent means disabled
  Percent enforced;                     // filter_enforced
  int status = 429;
  std::vector<std::pair<std::string, std::string>> response_headers;              // response_headers_to_add
  std::vector<std::pair<std::string, std::string>> request_headers_not_enforced;  // ..._when_not_enforced
  bool x_ratelimit_headers = false;
  bool resource_exhausted = false;
};

struct LocalRateLimitShared {
  std::shared_ptr<const LocalRateLimitConfig> config;  // the listener's
  std::string filter_name;
};

class LocalRateLimitFilter final : public StreamFilterBase, public StreamDecoderFilter, public StreamEncoderFilter {
 public:
  explicit LocalRateLimitFilter(const LocalRateLimitShared& shared) : shared_(shared) {}

  void setDecoderFilterCallbacks(StreamDecoderFilterCallbacks& cb) override { dec_ = &cb; }
  void setEncoderFilterCallbacks(StreamEncoderFilterCallbacks&) override {}
  FilterStatus decodeHeaders(RequestHead& req, bool end_stream) override;
  FilterStatus encodeHeaders(ResponseHead& head, bool end_stream) override;

 private:
  const LocalRateLimitShared& shared_;
  StreamDecoderFilterCallbacks* dec_ = nullptr;
  const LocalRateLimitConfig* config_ = nullptr;  // set when the bucket was consulted
  uint32_t remaining_ = 0;
};

}  // namespace weft::proxy::http::local_ratelimit
