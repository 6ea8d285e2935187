#pragma once
// envoy.filters.http.cors: answers CORS preflights (OPTIONS with Origin and
// Access-Control-Request-Method) from the route's policy, and adds
// Access-Control-Allow-Origin / -Credentials / -Expose-Headers to the responses of allowed
// cross-origin requests. The policy is the route's typed_per_filter_config
// (envoy.extensions.filters.http.cors.v3.CorsPolicy), else the virtual host's, else the route
// configuration's. Routes with a direct response or a redirect are left alone, as in Envoy.
// Stats: http.<stat_prefix>.cors.origin_valid / origin_invalid.
#include <memory>
#include <string>
#include <vector>

#include "common/stats/stats.h"
#include "proxy/http/filter.h"
#include "proxy/http/fractional_percent.h"
#include "proxy/http/matchers.h"

namespace weft::proxy::http::cors {

#define WEFT_CORS_STATS(COUNTER, GAUGE) COUNTER(origin_valid) COUNTER(origin_invalid)
WEFT_STATS_STRUCT(CorsStats, WEFT_CORS_STATS)

struct CorsPolicy final : public RouteSpecificFilterConfig {
  std::vector<StringMatcher> allow_origins;
  std::string allow_methods;
  std::string allow_headers;
  std::string expose_headers;
  std::string max_age;
  bool allow_credentials = false;
  Percent enabled{100, 100};
  std::optional<Percent> shadow;
  bool forward_not_matching_preflights = true;

  bool originAllowed(std::string_view origin) const;
};

struct CorsShared {
  std::string filter_name;
  std::shared_ptr<stats::Scope> stats;
};

class CorsFilter final : public StreamFilterBase, public StreamDecoderFilter, public StreamEncoderFilter {
 public:
  explicit CorsFilter(const CorsShared& shared) : shared_(shared) {}

  void setDecoderFilterCallbacks(StreamDecoderFilterCallbacks& cb) override { dec_ = &cb; }
  void setEncoderFilterCallbacks(StreamEncoderFilterCallbacks&) override {}
  FilterStatus decodeHeaders(RequestHead& req, bool end_stream) override;
  FilterStatus encodeHeaders(ResponseHead& head, bool end_stream) override;

 private:
  const CorsShared& shared_;
  StreamDecoderFilterCallbacks* dec_ = nullptr;
  const CorsPolicy* policy_ = nullptr;
  std::string_view origin_;  // set for an allowed cross-origin request
};

}  // namespace weft::proxy::http::cors
