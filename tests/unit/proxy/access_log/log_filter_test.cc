// AccessLog.filter: Envoy's comparison, response flag, and/or filters and the CEL extension
// filter Istio sends; what weft-proxy does not do is refused by path.
#include "proxy/access_log/log_filter.h"

#include <gtest/gtest.h>

#include <google/protobuf/util/json_util.h>

#include "common/config/error.h"

namespace weft::proxy::access_log {
namespace {

std::shared_ptr<const LogFilter> filterFrom(const std::string& json, CaptureList& capture) {
  envoy::config::accesslog::v3::AccessLogFilter f;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &f).ok()) << json;
  return compileLogFilter(f, "access_log[0].filter", capture);
}

std::string errorOf(const std::string& json) {
  CaptureList capture;
  try {
    filterFrom(json, capture);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(LogFilterTest, IstiosCelFilter) {
  CaptureList capture;
  auto f = filterFrom(R"({"extension_filter": {"name": "envoy.access_loggers.extension_filters.cel",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter",
                     "expression": "response.code >= 400 || request.headers['x-debug'] == '1'"}}})",
                      capture);
  ASSERT_EQ(capture.request.size(), 1u);
  StreamInfo info;
  info.request_headers.resize(1);
  info.response_code = 200;
  EXPECT_FALSE(f->accepts(info));  // absent header: an error, || decided by its other side: false
  info.request_headers[0] = {true, "1"};
  EXPECT_TRUE(f->accepts(info));
  info.request_headers[0].present = false;
  info.response_code = 404;
  EXPECT_TRUE(f->accepts(info));
  // A non-bool result does not log.
  EXPECT_FALSE(filterFrom(R"({"extension_filter": {"typed_config": {
    "@type": "type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter",
    "expression": "response.code"}}})",
                          capture)
                   ->accepts(info));
}

TEST(LogFilterTest, ComparisonsFlagsAndCombinations) {
  CaptureList capture;
  auto f = filterFrom(R"({"or_filter": {"filters": [
      {"and_filter": {"filters": [{"status_code_filter": {"comparison": {"op": "GE", "value": {"default_value": 500,
                                                         "runtime_key": "k"}}}},
                                  {"duration_filter": {"comparison": {"op": "LE", "value": {"default_value": 100,
                                                         "runtime_key": "k"}}}}]}},
      {"response_flag_filter": {"flags": ["UH", "NR"]}}]}})",
                      capture);
  StreamInfo info;
  info.end = info.start + std::chrono::milliseconds(50);
  info.response_code = 503;
  EXPECT_TRUE(f->accepts(info));
  info.end = info.start + std::chrono::milliseconds(150);
  EXPECT_FALSE(f->accepts(info));
  info.response_flags = kNoRouteFound;
  EXPECT_TRUE(f->accepts(info));
  info.response_flags = kUpstreamRequestTimeout;
  EXPECT_FALSE(f->accepts(info));
  EXPECT_TRUE(filterFrom(R"({"response_flag_filter": {}})", capture)->accepts(info));  // any flag
  EXPECT_TRUE(filterFrom(R"({"not_health_check_filter": {}})", capture)->accepts(info));
}

TEST(LogFilterTest, ErrorsNameThePath) {
  EXPECT_EQ(errorOf(R"({"traceable_filter": {}})"),
            "access_log[0].filter.traceable_filter: not supported by weft-proxy");
  EXPECT_EQ(errorOf(R"({"and_filter": {"filters": [{"not_health_check_filter": {}}]}})"),
            "access_log[0].filter.and_filter.filters: needs at least 2 filters");
  EXPECT_EQ(errorOf(R"({"response_flag_filter": {"flags": ["XX"]}})"),
            "access_log[0].filter.response_flag_filter.flags[0]: 'XX' is not a response flag weft-proxy sets");
  EXPECT_EQ(errorOf(R"({"extension_filter": {"typed_config": {
    "@type": "type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter",
    "expression": "response.code >"}}})"),
            "access_log[0].filter.extension_filter.typed_config.expression: invalid CEL expression 'response.code >': "
            "offset 15: unexpected end of the expression");
}

}  // namespace
}  // namespace weft::proxy::access_log
