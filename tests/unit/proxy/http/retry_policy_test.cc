// RetryPolicy: retry_on parsing and which responses and failures it retries, as Envoy's
// router does; the jittered exponential backoff's bounds.
#include "proxy/http/retry_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/config/error.h"
#include "proxy/proxy_test_support.h"
#include "proxy/stream_info.h"

namespace weft::proxy::http {
namespace {

using weft::testing::fromYaml;

std::shared_ptr<const RetryPolicy> policy(const std::string& yaml) {
  return RetryPolicy::compile(fromYaml<envoy::config::route::v3::RetryPolicy>(yaml), "retry_policy");
}

ResponseHead response(int status, std::vector<Header> headers = {}) {
  ResponseHead h;
  h.status = status;
  h.headers = std::move(headers);
  return h;
}

TEST(RetryPolicyTest, ResponsesAsEnvoy) {
  auto p5xx = policy("retry_on: 5xx");
  EXPECT_TRUE(p5xx->retriableResponse(response(500), false));
  EXPECT_TRUE(p5xx->retriableResponse(response(503), false));
  EXPECT_FALSE(p5xx->retriableResponse(response(404), false));
  auto gw = policy("retry_on: gateway-error");
  EXPECT_FALSE(gw->retriableResponse(response(500), false));
  EXPECT_TRUE(gw->retriableResponse(response(504), false));
  auto r4 = policy("retry_on: retriable-4xx");
  EXPECT_TRUE(r4->retriableResponse(response(409), false));
  EXPECT_FALSE(r4->retriableResponse(response(404), false));
  auto codes = policy("retry_on: retriable-status-codes\nretriable_status_codes: [418]");
  EXPECT_TRUE(codes->retriableResponse(response(418), false));
  auto rl = policy("retry_on: envoy-ratelimited");
  EXPECT_TRUE(rl->retriableResponse(response(429, {{"x-envoy-ratelimited", "true"}}), false));
  EXPECT_FALSE(rl->retriableResponse(response(429), false));
  auto grpc = policy("retry_on: 'unavailable, cancelled'");
  EXPECT_TRUE(grpc->retriableResponse(response(200, {{"grpc-status", "14"}}), true));
  EXPECT_TRUE(grpc->retriableResponse(response(200, {{"grpc-status", "1"}}), true));
  EXPECT_FALSE(grpc->retriableResponse(response(200, {{"grpc-status", "13"}}), true));
  EXPECT_FALSE(grpc->retriableResponse(response(200, {{"grpc-status", "14"}}), false));
}

TEST(RetryPolicyTest, FailuresAsEnvoy) {
  auto cf = policy("retry_on: connect-failure");
  EXPECT_TRUE(cf->retriableFailure(kUpstreamConnectionFailure, "connection failure"));
  EXPECT_FALSE(cf->retriableFailure(kUpstreamConnectionTermination, "connection termination"));
  auto rs = policy("retry_on: refused-stream");
  EXPECT_TRUE(rs->retriableFailure(kUpstreamConnectionTermination, "remote refused stream reset"));
  EXPECT_FALSE(rs->retriableFailure(kUpstreamConnectionTermination, "remote reset"));
  // 5xx, gateway-error and reset cover connect failures, resets and refused streams.
  for (const char* on : {"5xx", "gateway-error", "reset"}) {
    auto p = policy(std::string("retry_on: ") + on);
    EXPECT_TRUE(p->retriableFailure(kUpstreamConnectionFailure, "connection failure")) << on;
    EXPECT_TRUE(p->retriableFailure(kUpstreamConnectionTermination, "connection termination")) << on;
  }
  // A circuit breaker's overflow is never retried.
  EXPECT_FALSE(policy("retry_on: 5xx")->retriableFailure(kUpstreamOverflow, "overflow"));
}

TEST(RetryPolicyTest, DefaultsAndBackoff) {
  auto p = policy("retry_on: 5xx");
  EXPECT_EQ(p->num_retries, 1u);
  EXPECT_EQ(p->base_interval.count(), 25);
  EXPECT_EQ(p->max_interval.count(), 250);
  for (uint64_t r : {0ull, 7ull, 123456789ull}) {
    EXPECT_LE(p->backoff(1, r).count(), 25);
    EXPECT_LE(p->backoff(2, r).count(), 50);
    EXPECT_LE(p->backoff(10, r).count(), 250);
  }
  auto q = policy("retry_on: 5xx\nnum_retries: 4\nretry_back_off: {base_interval: 0.1s}\nper_try_timeout: 2s");
  EXPECT_EQ(q->num_retries, 4u);
  EXPECT_EQ(q->max_interval.count(), 1000);
  EXPECT_EQ(q->per_try_timeout.count(), 2000);
}

TEST(RetryPolicyTest, BadConfigIsNamed) {
  auto error = [](const std::string& yaml) {
    try {
      policy(yaml);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_THAT(error("retry_on: '5xx,often'"), ::testing::HasSubstr("retry_policy.retry_on: 'often'"));
  EXPECT_THAT(error("retry_on: 5xx\nretry_back_off: {base_interval: 0.1s, max_interval: 0.05s}"),
              ::testing::HasSubstr("retry_policy.retry_back_off.max_interval"));
  EXPECT_THAT(error("retry_on: 5xx\nretry_host_predicate: [{name: envoy.retry_host_predicates.omit_canary_hosts}]"),
              ::testing::HasSubstr("retry_policy.retry_host_predicate[0]"));
}

TEST(RetryPolicyTest, RetriableHeadersAsEnvoy) {
  auto p = policy(
      "retry_on: retriable-headers\nretriable_headers: [{name: x-upstream-busy, string_match: {exact: yes}}, "
      "{name: ':status', string_match: {prefix: '42'}}]");
  EXPECT_TRUE(p->retriableResponse(response(200, {{"x-upstream-busy", "yes"}}), false));
  EXPECT_FALSE(p->retriableResponse(response(200, {{"x-upstream-busy", "no"}}), false));
  EXPECT_TRUE(p->retriableResponse(response(429), false));
  EXPECT_FALSE(p->retriableResponse(response(503), false));
  // The matchers are only read with retriable-headers in retry_on.
  auto off = policy("retry_on: 5xx\nretriable_headers: [{name: x-upstream-busy, present_match: true}]");
  EXPECT_FALSE(off->retriableResponse(response(200, {{"x-upstream-busy", "yes"}}), false));
}

}  // namespace
}  // namespace weft::proxy::http
