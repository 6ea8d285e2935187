// HashPolicy: which part of a request each policy hashes, how several combine, terminal, and
// the cookie generated (with Envoy's Set-Cookie) when the request has none.
#include "proxy/http/hash_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/config/error.h"
#include "common/hash.h"
#include "proxy/proxy_test_support.h"

namespace weft::proxy::http {
namespace {

using envoy::config::route::v3::RouteAction;
using ::testing::MatchesRegex;
using weft::testing::fromYaml;

std::shared_ptr<const HashPolicy> policy(const std::string& yaml) {
  return HashPolicy::compile(fromYaml<RouteAction>(yaml).hash_policy(), "route.hash_policy");
}

struct Req {
  RequestHead head;
  net::Address remote = *net::Address::parse("10.1.2.3", 40000);
  net::Address local = *net::Address::parse("10.0.0.1", 8080);
  std::string set_cookie;
  explicit Req(std::initializer_list<Header> headers, std::string_view query = "") {
    head.headers = headers;
    head.query = query;
    head.host = "svc";
  }
  std::optional<uint64_t> hash(const HashPolicy& p) { return p.hash(head, remote, local, &set_cookie); }
};

TEST(HashPolicyTest, EachSourceHashesItsValue) {
  Req r({{"x-user", "alice"}, {"cookie", "a=1; session=\"s-9\""}}, "q=1&shard=7");
  EXPECT_EQ(r.hash(*policy("hash_policy: [{header: {header_name: X-User}}]")), xxHash64("alice"));
  EXPECT_EQ(r.hash(*policy("hash_policy: [{cookie: {name: session}}]")), xxHash64("s-9"));
  EXPECT_EQ(r.hash(*policy("hash_policy: [{connection_properties: {source_ip: true}}]")), xxHash64("10.1.2.3"));
  EXPECT_EQ(r.hash(*policy("hash_policy: [{query_parameter: {name: shard}}]")), xxHash64("7"));
  EXPECT_EQ(r.hash(*policy("hash_policy: [{header: {header_name: x-none}}]")), std::nullopt);
  EXPECT_EQ(r.set_cookie, "");
}

TEST(HashPolicyTest, HeaderValuesInAnyOrderHashAlike) {
  auto p = policy("hash_policy: [{header: {header_name: x-tag}}]");
  Req a({{"x-tag", "b"}, {"x-tag", "a"}}), b({{"x-tag", "a"}, {"x-tag", "b"}});
  EXPECT_EQ(a.hash(*p), b.hash(*p));
  EXPECT_EQ(a.hash(*p), xxHash64("b", xxHash64("a")));
}

TEST(HashPolicyTest, PoliciesCombineAndTerminalStops) {
  Req r({{"x-a", "1"}, {"x-b", "2"}});
  uint64_t a = xxHash64("1"), b = xxHash64("2");
  EXPECT_EQ(r.hash(*policy("hash_policy: [{header: {header_name: x-a}}, {header: {header_name: x-b}}]")),
            ((a << 1) | (a >> 63)) ^ b);
  EXPECT_EQ(r.hash(*policy("hash_policy: [{header: {header_name: x-a}, terminal: true}, {header: {header_name: "
                           "x-b}}]")),
            a);
  // A terminal policy that found nothing does not stop the list.
  EXPECT_EQ(r.hash(*policy("hash_policy: [{header: {header_name: x-z}, terminal: true}, {header: {header_name: "
                           "x-b}}]")),
            b);
}

TEST(HashPolicyTest, ACookieWithATtlIsGeneratedWhenMissing) {
  auto p = policy(
      "hash_policy: [{cookie: {name: sticky, ttl: 3600s, path: /app, attributes: [{name: SameSite, value: "
      "Lax}]}}]");
  Req r({});
  auto h = r.hash(*p);
  ASSERT_TRUE(h);
  EXPECT_THAT(r.set_cookie, MatchesRegex("sticky=\"[0-9a-f]{16}\"; Max-Age=3600; Path=/app; SameSite=Lax; HttpOnly"));
  // The next request of the client brings it back and lands on the same hash.
  std::string cookie = "sticky=" + r.set_cookie.substr(8, 16);
  Req again({{"cookie", cookie}});
  EXPECT_EQ(again.hash(*p), h);
  // Without a ttl nothing is generated.
  Req none({});
  EXPECT_EQ(none.hash(*policy("hash_policy: [{cookie: {name: sticky}}]")), std::nullopt);
  EXPECT_EQ(none.set_cookie, "");
}

TEST(HashPolicyTest, AnUnsupportedPolicyIsNamed) {
  try {
    policy("hash_policy: [{terminal: true}]");
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "route.hash_policy[0]: a header, cookie, connection_properties or query_parameter policy is needed "
                 "(filter_state is not supported by weft-proxy)");
  }
}

}  // namespace
}  // namespace weft::proxy::http
