#include "proxy/http/retry_policy.h"

#include <algorithm>
#include <cstdio>

#include "common/config/error.h"
#include "common/strings.h"
#include "envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.pb.h"
#include "envoy/extensions/retry/priority/previous_priorities/v3/previous_priorities_config.pb.h"
#include "proxy/stream_info.h"

namespace weft::proxy::http {

namespace {
struct Name {
  std::string_view name;
  uint32_t bit;
};
constexpr Name kRetryOn[] = {
    {"5xx", RetryPolicy::k5xx},
    {"gateway-error", RetryPolicy::kGatewayError},
    {"reset", RetryPolicy::kReset},
    {"connect-failure", RetryPolicy::kConnectFailure},
    {"retriable-4xx", RetryPolicy::kRetriable4xx},
    {"refused-stream", RetryPolicy::kRefusedStream},
    {"retriable-status-codes", RetryPolicy::kRetriableStatusCodes},
    {"envoy-ratelimited", RetryPolicy::kEnvoyRateLimited},
    {"cancelled", RetryPolicy::kGrpcCancelled},
    {"deadline-exceeded", RetryPolicy::kGrpcDeadlineExceeded},
    {"internal", RetryPolicy::kGrpcInternal},
    {"resource-exhausted", RetryPolicy::kGrpcResourceExhausted},
    {"unavailable", RetryPolicy::kGrpcUnavailable},
    {"retriable-headers", RetryPolicy::kRetriableHeaders},
};

bool refusedStream(std::string_view reason) { return reason.find("refused stream") != std::string_view::npos; }
}  // namespace

bool RetryPolicy::parseRetryOn(std::string_view list, uint32_t& bits, std::string& bad) {
  for (std::string_view item : splitList(list)) {
    bool found = false;
    for (const Name& n : kRetryOn) {
      if (n.name == item) {
        bits |= n.bit;
        found = true;
      }
    }
    if (!found) {
      bad = std::string(item);
      return false;
    }
  }
  return true;
}

std::shared_ptr<const RetryPolicy> RetryPolicy::compile(const envoy::config::route::v3::RetryPolicy& p,
                                                        const std::string& path) {
  auto r = std::make_shared<RetryPolicy>();
  std::string bad;
  if (!parseRetryOn(p.retry_on(), r->retry_on, bad)) {
    throw ConfigError(path + ".retry_on: '" + bad +
                      "' is not a retry condition weft-proxy knows (5xx, gateway-error, reset, connect-failure, "
                      "retriable-4xx, refused-stream, retriable-status-codes, retriable-headers, envoy-ratelimited, "
                      "cancelled, deadline-exceeded, internal, resource-exhausted, unavailable)");
  }
  if (p.has_num_retries()) r->num_retries = p.num_retries().value();
  if (p.has_per_try_timeout()) r->per_try_timeout = toMillis(p.per_try_timeout());
  if (p.has_per_try_idle_timeout()) r->per_try_idle_timeout = toMillis(p.per_try_idle_timeout());
  if (p.has_retry_back_off()) {
    const auto& b = p.retry_back_off();
    r->base_interval = toMillis(b.base_interval());
    if (r->base_interval.count() < 1) throw ConfigError(path + ".retry_back_off.base_interval: must be at least 1ms");
    r->max_interval = b.has_max_interval() ? toMillis(b.max_interval()) : r->base_interval * 10;
    if (r->max_interval < r->base_interval) {
      throw ConfigError(path + ".retry_back_off.max_interval: must not be less than base_interval");
    }
  }
  for (uint32_t code : p.retriable_status_codes()) r->retriable_status_codes.push_back(code);
  for (int i = 0; i < p.retriable_headers_size(); ++i) {
    r->retriable_headers.push_back(
        HeaderMatcher::compile(p.retriable_headers(i), path + ".retriable_headers[" + std::to_string(i) + "]"));
  }
  for (int i = 0; i < p.retriable_request_headers_size(); ++i) {
    r->retriable_request_headers.push_back(HeaderMatcher::compile(
        p.retriable_request_headers(i), path + ".retriable_request_headers[" + std::to_string(i) + "]"));
  }
  for (int i = 0; i < p.retry_host_predicate_size(); ++i) {
    const auto& pred = p.retry_host_predicate(i);
    std::string pp = path + ".retry_host_predicate[" + std::to_string(i) + "]";
    if (pred.name() == "envoy.retry_host_predicates.previous_hosts" ||
        pred.typed_config().Is<envoy::extensions::retry::host::previous_hosts::v3::PreviousHostsPredicate>()) {
      r->previous_hosts = true;
    } else {
      throw ConfigError(pp + ": '" + pred.name() + "' is not supported by weft-proxy (previous_hosts is)");
    }
  }
  if (p.has_retry_priority()) {
    const auto& rp = p.retry_priority();
    envoy::extensions::retry::priority::previous_priorities::v3::PreviousPrioritiesConfig cfg;
    if (!rp.typed_config().UnpackTo(&cfg)) {
      throw ConfigError(path + ".retry_priority: '" + rp.name() +
                        "' is not supported by weft-proxy (envoy.retry_priorities.previous_priorities with its "
                        "PreviousPrioritiesConfig is)");
    }
    if (cfg.update_frequency() <= 0) {
      throw ConfigError(path + ".retry_priority.typed_config.update_frequency: must be greater than 0");
    }
    r->previous_priorities_frequency = static_cast<uint32_t>(cfg.update_frequency());
  }
  if (p.host_selection_retry_max_attempts() > 0) {
    r->host_selection_max_attempts =
        static_cast<uint32_t>(std::min<int64_t>(p.host_selection_retry_max_attempts(), 16));
  }
  return r;
}

bool RetryPolicy::requestRetriable(const RequestHead& req, std::string_view scheme) const {
  if (retriable_request_headers.empty()) return true;
  for (const HeaderMatcher& m : retriable_request_headers) {
    if (m.match(req, scheme)) return true;
  }
  return false;
}

bool RetryPolicy::retriableResponse(const ResponseHead& head, bool is_grpc) const {
  int s = head.status;
  if ((retry_on & k5xx) && s >= 500 && s < 600) return true;
  if ((retry_on & kGatewayError) && (s == 502 || s == 503 || s == 504)) return true;
  if ((retry_on & kRetriable4xx) && s == 409) return true;
  if ((retry_on & kRetriableStatusCodes) && std::find(retriable_status_codes.begin(), retriable_status_codes.end(),
                                                      static_cast<uint32_t>(s)) != retriable_status_codes.end()) {
    return true;
  }
  if ((retry_on & kEnvoyRateLimited) && head.find("x-envoy-ratelimited") != nullptr) return true;
  if (retry_on & kRetriableHeaders) {
    char status[8];
    std::snprintf(status, sizeof(status), "%03d", s % 1000);
    const std::string_view status_view(status, 3);
    for (const HeaderMatcher& m : retriable_headers) {
      if (m.matchValue(m.name() == ":status" ? &status_view : head.find(m.name()))) return true;
    }
  }
  if (is_grpc) {
    // A trailers-only gRPC error carries grpc-status in its headers.
    const std::string_view* g = head.find("grpc-status");
    auto code = g ? parseDecimal(*g) : std::nullopt;
    if (code) {
      if ((retry_on & kGrpcCancelled) && *code == 1) return true;
      if ((retry_on & kGrpcDeadlineExceeded) && *code == 4) return true;
      if ((retry_on & kGrpcResourceExhausted) && *code == 8) return true;
      if ((retry_on & kGrpcInternal) && *code == 13) return true;
      if ((retry_on & kGrpcUnavailable) && *code == 14) return true;
    }
  }
  return false;
}

bool RetryPolicy::retriableFailure(uint32_t flag, std::string_view reason) const {
  if (flag == kUpstreamOverflow) return false;  // a circuit breaker said no: retrying would not help
  // As Envoy: 5xx and gateway-error include a failed connect, a reset and a refused stream.
  if (retry_on & (k5xx | kGatewayError | kReset)) return true;
  if ((retry_on & kConnectFailure) && flag == kUpstreamConnectionFailure) return true;
  if ((retry_on & kRefusedStream) && refusedStream(reason)) return true;
  return false;
}

std::chrono::milliseconds RetryPolicy::backoff(uint32_t n, uint64_t random) const {
  // Envoy's JitteredExponentialBackOffStrategy: uniform in [0, min(base * 2^(n-1), max)].
  uint64_t ceiling = static_cast<uint64_t>(base_interval.count()) << std::min<uint32_t>(n > 0 ? n - 1 : 0, 20);
  ceiling = std::min<uint64_t>(ceiling, static_cast<uint64_t>(max_interval.count()));
  return std::chrono::milliseconds(ceiling ? random % (ceiling + 1) : 0);
}

}  // namespace weft::proxy::http
