// local_reply_config: the first matching mapper rewrites status, body and headers; the body
// format (the mapper's override, else the config's, else the body as it is) makes the body and
// its content type; filters see the original status, flags and request headers.
#include "proxy/http/local_reply.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/config/error.h"
#include "proxy/proxy_test_support.h"

namespace weft::proxy::http {
namespace {

using Proto = envoy::extensions::filters::network::http_connection_manager::v3::LocalReplyConfig;
using weft::testing::fromYaml;
using weft::testing::TestRequest;

Proto fromJson(const std::string& json) {
  Proto p;
  config::jsonToMessage(json, p, "test");
  return p;
}

struct Fixture {
  explicit Fixture(const std::string& yaml) : Fixture(fromYaml<Proto>(yaml)) {}
  explicit Fixture(const Proto& proto) : config(LocalReplyConfig::compile(proto, "local_reply_config", capture)) {}
  LocalReplyConfig::Rewritten rewrite(int status, std::string_view body, uint32_t flags = 0,
                                      const RequestHead* req = nullptr) {
    info.response_flags = flags;
    return config->rewrite(req, info, status, body, rt, random);
  }
  access_log::CaptureList capture;
  std::shared_ptr<const LocalReplyConfig> config;
  StreamInfo info;
  runtime::Snapshot rt;
  Random random{7};
};

TEST(LocalReplyTest, WithoutMappersTheBodyIsAsItIs) {
  Fixture f("{}");
  auto r = f.rewrite(503, "no healthy upstream");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "no healthy upstream");
  EXPECT_EQ(r.content_type, "text/plain");
  EXPECT_EQ(r.headers, nullptr);
}

TEST(LocalReplyTest, FirstMatchingMapperWins) {
  Fixture f(R"(
mappers:
- filter: {status_code_filter: {comparison: {op: EQ, value: {default_value: 503, runtime_key: k}}}}
  status_code: 504
  body: {inline_string: "first"}
  headers_to_add: [{header: {key: x-m, value: "1"}}]
- filter: {status_code_filter: {comparison: {op: GE, value: {default_value: 500, runtime_key: k2}}}}
  body: {inline_string: "second"}
body_format: {text_format: "[%RESPONSE_CODE%] %LOCAL_REPLY_BODY%"}
)");
  auto r = f.rewrite(503, "orig");
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(r.body, "[504] first");
  ASSERT_NE(r.headers, nullptr);
  EXPECT_EQ(r.headers->add.at(0).name, "x-m");
  r = f.rewrite(502, "orig");
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(r.body, "[502] second");
  r = f.rewrite(404, "orig");
  EXPECT_EQ(r.body, "[404] orig");
}

TEST(LocalReplyTest, RuntimeOverridesTheComparisonValue) {
  Fixture f(R"(
mappers:
- filter: {status_code_filter: {comparison: {op: EQ, value: {default_value: 503, runtime_key: lr.code}}}}
  status_code: 500
)");
  f.rt.values["lr.code"] = runtime::Value::parse("404");
  EXPECT_EQ(f.rewrite(503, "").status, 503);
  EXPECT_EQ(f.rewrite(404, "").status, 500);
}

TEST(LocalReplyTest, FlagsHeadersAndBooleanFilters) {
  Fixture f(R"(
mappers:
- filter:
    or_filter:
      filters:
      - response_flag_filter: {flags: [UH, UF]}
      - and_filter:
          filters:
          - header_filter: {header: {name: x-debug, present_match: true}}
          - not_health_check_filter: {}
  body: {inline_string: "matched"}
)");
  EXPECT_EQ(f.rewrite(503, "x", kNoHealthyUpstream).body, "matched");
  EXPECT_EQ(f.rewrite(503, "x", kUpstreamOverflow).body, "x");
  TestRequest with("/", "h", {{"x-debug", "1"}});
  TestRequest without("/", "h");
  EXPECT_EQ(f.rewrite(404, "x", 0, &with.head()).body, "matched");
  EXPECT_EQ(f.rewrite(404, "x", 0, &without.head()).body, "x");
  EXPECT_EQ(f.rewrite(404, "x", 0, nullptr).body, "x");
}

TEST(LocalReplyTest, JsonFormatKeepsNumbersAndSetsTheContentType) {
  // Straight from JSON, so 3 and true keep their types (weft-proxy's YAML loader hands plain
  // scalars to protobuf as strings, and a Struct keeps them so).
  Fixture f(fromJson(R"({"body_format": {"json_format":
      {"code": "%RESPONSE_CODE%", "msg": "%LOCAL_REPLY_BODY%", "fixed": 3, "nested": {"ok": true}}}})"));
  auto r = f.rewrite(429, "slow \"down\"");
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, "{\"code\":429,\"fixed\":3,\"msg\":\"slow \\\"down\\\"\",\"nested\":{\"ok\":true}}\n");
}

TEST(LocalReplyTest, MapperOverrideFormatAndContentType) {
  Fixture f(R"(
mappers:
- filter: {status_code_filter: {comparison: {value: {default_value: 401, runtime_key: k}}}}
  body_format_override: {text_format: "<h1>%LOCAL_REPLY_BODY%</h1>", content_type: "text/html; charset=UTF-8"}
body_format: {json_format: {m: "%LOCAL_REPLY_BODY%"}}
)");
  auto r = f.rewrite(401, "who?");
  EXPECT_EQ(r.body, "<h1>who?</h1>");
  EXPECT_EQ(r.content_type, "text/html; charset=UTF-8");
}

TEST(LocalReplyTest, UnsupportedPiecesAreNamed) {
  auto compile = [](const std::string& yaml) {
    access_log::CaptureList c;
    try {
      LocalReplyConfig::compile(fromYaml<Proto>(yaml), "lrc", c);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_THAT(compile("mappers: [{filter: {duration_filter: {comparison: {}}}}]"),
              ::testing::HasSubstr("lrc.mappers[0].filter: this kind of filter is not supported"));
  EXPECT_THAT(compile("mappers: [{filter: {response_flag_filter: {flags: [XX]}}}]"),
              ::testing::HasSubstr("lrc.mappers[0].filter.response_flag_filter.flags[0]: 'XX'"));
  EXPECT_THAT(compile("mappers: [{filter: {not_health_check_filter: {}}, status_code: 99}]"),
              ::testing::HasSubstr("lrc.mappers[0].status_code: must be in [200, 600)"));
  EXPECT_THAT(compile("body_format: {text_format: \"%NOPE%\"}"), ::testing::HasSubstr("lrc.body_format.text_format"));
}

}  // namespace
}  // namespace weft::proxy::http
