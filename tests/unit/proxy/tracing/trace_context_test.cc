// B3 context parsing and writing, and Envoy's trace decision kept in x-request-id.
#include "proxy/tracing/trace_context.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>

#include "proxy/tracing/http_tracing.h"

namespace weft::proxy::tracing {
namespace {

weft::http::RequestHead head(const std::vector<std::pair<std::string, std::string>>& headers,
                             std::vector<std::string>& storage) {
  weft::http::RequestHead h;
  storage.clear();
  storage.reserve(headers.size() * 2);
  for (const auto& [n, v] : headers) {
    storage.push_back(n);
    storage.push_back(v);
    h.headers.push_back({storage[storage.size() - 2], storage.back()});
  }
  return h;
}

TEST(TraceContextTest, MultiHeaderB3) {
  std::vector<std::string> s;
  auto h = head({{"X-B3-TraceId", "463ac35c9f6413ad48485a3953bb6124"},
                 {"x-b3-spanid", "a2fb4a1d1a96d312"},
                 {"x-b3-parentspanid", "0020000000000001"},
                 {"x-b3-sampled", "1"}},
                s);
  IncomingContext c = extractContext(h, false);
  ASSERT_TRUE(c.found);
  EXPECT_EQ(c.ids.trace_high, 0x463ac35c9f6413adULL);
  EXPECT_EQ(c.ids.trace, 0x48485a3953bb6124ULL);
  EXPECT_EQ(c.ids.span, 0xa2fb4a1d1a96d312ULL);
  EXPECT_EQ(c.ids.parent, 0x0020000000000001ULL);
  EXPECT_EQ(c.sampled, true);
}

TEST(TraceContextTest, SingleHeaderAndFlags) {
  std::vector<std::string> s;
  IncomingContext c = extractContext(head({{"b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0"}}, s), false);
  ASSERT_TRUE(c.found);
  EXPECT_EQ(c.ids.span, 0xe457b5a2e4d86bd1ULL);
  EXPECT_EQ(c.sampled, false);
  c = extractContext(head({{"b3", "d"}}, s), false);  // debug: sampled, no ids
  EXPECT_FALSE(c.found);
  EXPECT_EQ(c.sampled, true);
  c = extractContext(head({{"x-b3-flags", "1"}, {"x-b3-sampled", "0"}}, s), false);
  EXPECT_EQ(c.sampled, true);  // debug wins
}

TEST(TraceContextTest, MalformedContextsAreAbsent) {
  std::vector<std::string> s;
  for (const auto& bad :
       std::vector<std::pair<std::string, std::string>>{{"zz3ac35c9f6413ad", "a2fb4a1d1a96d312"},    // not hex
                                                        {"463ac35c9f6413ad4", "a2fb4a1d1a96d312"},   // 17 digits
                                                        {"0000000000000000", "a2fb4a1d1a96d312"},    // zero trace id
                                                        {"463ac35c9f6413ad", "a2fb4a1d1a96d31"}}) {  // short span id
    IncomingContext c = extractContext(head({{"x-b3-traceid", bad.first}, {"x-b3-spanid", bad.second}}, s), false);
    EXPECT_FALSE(c.found) << bad.first << " " << bad.second;
  }
}

TEST(TraceContextTest, OutgoingHeaders) {
  OutgoingContext out;
  out.set(TraceIds{0x463ac35c9f6413adULL, 0x48485a3953bb6124ULL, 0x1ULL, 0xa2fb4a1d1a96d312ULL}, true, false);
  std::map<std::string, std::string> got;
  out.forEach([&](std::string_view n, std::string_view v) { got[std::string(n)] = std::string(v); });
  EXPECT_EQ(got, (std::map<std::string, std::string>{{"x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124"},
                                                     {"x-b3-spanid", "0000000000000001"},
                                                     {"x-b3-parentspanid", "a2fb4a1d1a96d312"},
                                                     {"x-b3-sampled", "1"}}));
  out.set(TraceIds{0, 0x48485a3953bb6124ULL, 0x2ULL, 0}, false, false);
  got.clear();
  out.forEach([&](std::string_view n, std::string_view v) { got[std::string(n)] = std::string(v); });
  EXPECT_EQ(got.size(), 3u);  // no parent
  EXPECT_EQ(got["x-b3-traceid"], "48485a3953bb6124");
  EXPECT_EQ(got["x-b3-sampled"], "0");
  EXPECT_TRUE(out.replaces("X-B3-Sampled"));
  EXPECT_TRUE(out.replaces("b3"));
  EXPECT_FALSE(out.replaces("traceparent"));  // passes through (Envoy's USE_B3)
}

// USE_B3_WITH_W3C_PROPAGATION: B3 first, traceparent when there is no B3 context.
TEST(TraceContextTest, W3cTraceparentIsTheFallback) {
  std::vector<std::string> s;
  const std::string tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  IncomingContext c = extractContext(head({{"traceparent", tp}}, s), true);
  ASSERT_TRUE(c.found);
  EXPECT_EQ(c.ids.trace_high, 0x4bf92f3577b34da6ULL);
  EXPECT_EQ(c.ids.trace, 0xa3ce929d0e0e4736ULL);
  EXPECT_EQ(c.ids.span, 0x00f067aa0ba902b7ULL);
  EXPECT_EQ(c.sampled, true);
  EXPECT_FALSE(extractContext(head({{"traceparent", tp}}, s), false).found);  // USE_B3 ignores it
  c = extractContext(head({{"traceparent", tp}, {"b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0"}}, s),
                     true);
  EXPECT_EQ(c.ids.span, 0xe457b5a2e4d86bd1ULL);  // B3 wins
  c = extractContext(head({{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}}, s), true);
  EXPECT_EQ(c.sampled, false);
  // A later version may append fields; 00 may not.
  EXPECT_TRUE(
      extractContext(head({{"traceparent", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x"}}, s), true)
          .found);
  for (const std::string bad : {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",   // 00 with more
                                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",     // version ff
                                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",     // zero trace id
                                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",     // zero parent
                                "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",      // short trace id
                                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g"}) {  // flags not hex
    EXPECT_FALSE(extractContext(head({{"traceparent", bad}}, s), true).found) << bad;
  }
}

TEST(TraceContextTest, W3cOutgoingTraceparent) {
  OutgoingContext out;
  out.set(TraceIds{0x463ac35c9f6413adULL, 0x48485a3953bb6124ULL, 0x1ULL, 0xa2fb4a1d1a96d312ULL}, true, true);
  std::map<std::string, std::string> got;
  out.forEach([&](std::string_view n, std::string_view v) { got[std::string(n)] = std::string(v); });
  EXPECT_EQ(got["traceparent"], "00-463ac35c9f6413ad48485a3953bb6124-0000000000000001-01");
  EXPECT_EQ(got["x-b3-spanid"], "0000000000000001");  // B3 too
  EXPECT_TRUE(out.replaces("TraceParent"));
  EXPECT_FALSE(out.replaces("tracestate"));  // passes through
  out.set(TraceIds{0, 0x48485a3953bb6124ULL, 0x2ULL, 0}, false, true);
  got.clear();
  out.forEach([&](std::string_view n, std::string_view v) { got[std::string(n)] = std::string(v); });
  EXPECT_EQ(got["traceparent"], "00-000000000000000048485a3953bb6124-0000000000000002-00");  // 64-bit id, padded
  IncomingContext back;
  ASSERT_TRUE(parseTraceparent(got["traceparent"], back));
  EXPECT_EQ(back.ids.trace, 0x48485a3953bb6124ULL);
  EXPECT_EQ(back.ids.span, 2u);
}

// Envoy's UUID request id: the version digit says whether the request is traced.
TEST(TraceDecisionTest, RandomSamplingMarksTheRequestId) {
  TracingConfig all, none;
  none.random_sampling = 0;
  char rid[36];
  std::memcpy(rid, "0000002a-1111-4222-8333-444444444444", 36);  // 42 % 10000 = 42
  bool traced = false;
  ASSERT_TRUE(decideFromRequestId(all, rid, traced));
  EXPECT_TRUE(traced);
  EXPECT_EQ(rid[14], '9');
  // Once marked, every hop keeps the decision, whatever its own percentage.
  ASSERT_TRUE(decideFromRequestId(none, rid, traced));
  EXPECT_TRUE(traced);
  // 0.5% samples the ids whose first 32 bits modulo 10000 are below 50.
  TracingConfig half;
  half.random_sampling = 0.5;
  std::memcpy(rid, "0000002a-1111-4222-8333-444444444444", 36);
  ASSERT_TRUE(decideFromRequestId(half, rid, traced));
  EXPECT_TRUE(traced);
  std::memcpy(rid, "00000064-1111-4222-8333-444444444444", 36);  // 100
  ASSERT_TRUE(decideFromRequestId(half, rid, traced));
  EXPECT_FALSE(traced);
  EXPECT_EQ(rid[14], '4');
  // overall_sampling 0 turns even a marked request off.
  TracingConfig off;
  off.overall_sampling = 0;
  std::memcpy(rid, "0000002a-1111-9222-8333-444444444444", 36);
  ASSERT_TRUE(decideFromRequestId(off, rid, traced));
  EXPECT_FALSE(traced);
  char bad[36];
  std::memcpy(bad, "not-a-uuid-at-all-not-a-uuid-at-all!", 36);
  EXPECT_FALSE(decideFromRequestId(all, bad, traced));
}

}  // namespace
}  // namespace weft::proxy::tracing
