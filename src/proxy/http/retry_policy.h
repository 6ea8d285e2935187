#pragma once
// A route's envoy.config.route.v3.RetryPolicy (or its virtual host's): which failures are
// retried, how often, with which per-try timeout and backoff, and whether a retry avoids the
// hosts already tried. The router keeps the per-request state (router_filter.cc).
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "envoy/config/route/v3/route_components.pb.h"
#include "proxy/http/headers.h"
#include "proxy/http/matchers.h"

namespace weft::proxy::http {

struct RetryPolicy {
  enum On : uint32_t {
    k5xx = 1u << 0,
    kGatewayError = 1u << 1,
    kReset = 1u << 2,
    kConnectFailure = 1u << 3,
    kRetriable4xx = 1u << 4,
    kRefusedStream = 1u << 5,
    kRetriableStatusCodes = 1u << 6,
    kEnvoyRateLimited = 1u << 7,
    kGrpcCancelled = 1u << 8,
    kGrpcDeadlineExceeded = 1u << 9,
    kGrpcInternal = 1u << 10,
    kGrpcResourceExhausted = 1u << 11,
    kGrpcUnavailable = 1u << 12,
    kRetriableHeaders = 1u << 13,
  };
  uint32_t retry_on = 0;
  uint32_t num_retries = 1;                           // Envoy's default with a retry_policy
  std::chrono::milliseconds per_try_timeout{0};       // 0: none
  std::chrono::milliseconds per_try_idle_timeout{0};  // 0: none
  std::chrono::milliseconds base_interval{25};
  std::chrono::milliseconds max_interval{250};  // 10 x base unless set
  std::vector<uint32_t> retriable_status_codes;
  std::vector<HeaderMatcher> retriable_headers;  // retriable-headers: any match asks for a retry
  // retriable_request_headers: a request is retried only if one matches (none: any request).
  std::vector<HeaderMatcher> retriable_request_headers;
  bool previous_hosts = false;  // retry_host_predicate envoy.retry_host_predicates.previous_hosts
  uint32_t host_selection_max_attempts = 1;
  // retry_priority envoy.retry_priorities.previous_priorities: every this many attempts the
  // priorities tried so far take no load (0: no retry priority).
  uint32_t previous_priorities_frequency = 0;

  // Throws ConfigError naming `path` (an unknown retry_on name, a bad interval ...).
  static std::shared_ptr<const RetryPolicy> compile(const envoy::config::route::v3::RetryPolicy& proto,
                                                    const std::string& path);
  // Parses a retry_on list ("5xx,reset"); returns false and names the bad entry in `bad`.
  static bool parseRetryOn(std::string_view list, uint32_t& bits, std::string& bad);

  // Whether this request may be retried at all (retriable_request_headers).
  bool requestRetriable(const RequestHead& req, std::string_view scheme) const;
  // Whether a response with this status (and grpc-status header, -1 if none) asks for a retry.
  bool retriableResponse(const ResponseHead& head, bool is_grpc) const;
  // Whether a failure before any response (a ResponseFlag and the reason text) does.
  bool retriableFailure(uint32_t flag, std::string_view reason) const;
  // The jittered exponential backoff before retry number `n` (1-based), as Envoy's.
  std::chrono::milliseconds backoff(uint32_t n, uint64_t random) const;
};

}  // namespace weft::proxy::http
