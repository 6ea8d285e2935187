#include "proxy/access_log/formatter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <string>

#include "common/config/error.h"

namespace weft::proxy::access_log {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// 2024-01-02T03:04:05.678901234Z
std::chrono::system_clock::time_point startTime() {
  return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::seconds(1704164645) + std::chrono::nanoseconds(678901234)));
}

class FormatterTest : public ::testing::Test {
 protected:
  std::string render(const std::string& format) {
    Formatter f(format, "access_log[0]", capture_);
    info_.request_headers.resize(capture_.request.size());
    info_.response_headers.resize(capture_.response.size());
    for (size_t i = 0; i < capture_.request.size(); ++i) info_.request_headers[i] = lookup(req_, capture_.request[i]);
    for (size_t i = 0; i < capture_.response.size(); ++i) {
      info_.response_headers[i] = lookup(resp_, capture_.response[i]);
    }
    std::string out;
    f.format(info_, out);
    return out;
  }
  static StreamInfo::Captured lookup(const std::map<std::string, std::string>& m, const std::string& name) {
    auto it = m.find(name);
    if (it == m.end()) return {};
    return {true, it->second};
  }
  std::string error(const std::string& format) {
    try {
      Formatter f(format, "access_log[0]", capture_);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "<no ConfigError>";
  }
  void fill() {
    info_.start_time = startTime();
    info_.start = event::TimePoint(10s);
    info_.end = info_.start + 12ms;
    info_.response_code = 200;
    info_.bytes_received = 10;
    info_.bytes_sent = 20;
    info_.upstream_host = "10.0.0.1:8080";
    info_.upstream_cluster = "backend";
    req_ = {{":method", "GET"},
            {":path", "/path?q=1"},
            {":authority", "example.com"},
            {"x-forwarded-for", "1.2.3.4"},
            {"user-agent", "curl/8.0"},
            {"x-request-id", "abc-123"}};
    resp_ = {{"x-envoy-upstream-service-time", "5"}};
  }

  CaptureList capture_;
  StreamInfo info_;
  std::map<std::string, std::string> req_;
  std::map<std::string, std::string> resp_;
};

TEST_F(FormatterTest, DefaultFormat) {
  fill();
  EXPECT_EQ(render(Formatter::defaultFormat()),
            "[2024-01-02T03:04:05.678Z] \"GET /path?q=1 HTTP/1.1\" 200 - 10 20 12 5 \"1.2.3.4\" \"curl/8.0\" "
            "\"abc-123\" \"example.com\" \"10.0.0.1:8080\"\n");
}

TEST_F(FormatterTest, DefaultFormatPrefersTheOriginalPath) {
  fill();
  req_["x-envoy-original-path"] = "/before/rewrite";
  EXPECT_THAT(render(Formatter::defaultFormat()), HasSubstr("\"GET /before/rewrite HTTP/1.1\""));
}

TEST_F(FormatterTest, DefaultFormatForALocalReply) {
  fill();
  info_.response_code = 404;
  info_.response_flags = kNoRouteFound;
  info_.upstream_host.clear();
  resp_.clear();
  req_.erase("x-forwarded-for");
  req_.erase("user-agent");
  EXPECT_EQ(render(Formatter::defaultFormat()),
            "[2024-01-02T03:04:05.678Z] \"GET /path?q=1 HTTP/1.1\" 404 NR 10 20 12 - \"-\" \"-\" \"abc-123\" "
            "\"example.com\" \"-\"\n");
}

TEST_F(FormatterTest, DefaultFormatCapturesHeadersOnce) {
  Formatter a(Formatter::defaultFormat(), "a", capture_);
  size_t n = capture_.request.size();
  Formatter b("%REQ(USER-AGENT)% %REQ(x-new)%", "b", capture_);
  EXPECT_EQ(capture_.request.size(), n + 1);  // user-agent was already captured
  EXPECT_EQ(capture_.request.back(), "x-new");
  EXPECT_EQ(capture_.response, (std::vector<std::string>{"x-envoy-upstream-service-time"}));
}

TEST_F(FormatterTest, ReqWithFallbackAndTruncation) {
  fill();
  req_["x-b"] = "abcdef";
  EXPECT_EQ(render("%REQ(X-A?X-B)%"), "abcdef");
  EXPECT_EQ(render("%REQ(X-A?X-B):3%"), "abc");
  req_["x-a"] = "zzzzz";
  EXPECT_EQ(render("%REQ(X-A?X-B):3%"), "zzz");
  EXPECT_EQ(render("%REQ(X-A?X-B):10%"), "zzzzz");
  EXPECT_EQ(render("%REQ(X-NONE?X-NOPE):3%"), "-");
  EXPECT_EQ(render("%REQ(X-NONE)%"), "-");
  EXPECT_EQ(render("%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%"), "5");
  EXPECT_EQ(render("%RESP(X-NONE)%"), "-");
}

TEST_F(FormatterTest, EmptyCapturedValueIsPrintedEmpty) {
  fill();
  req_["x-empty"] = "";
  EXPECT_EQ(render("[%REQ(X-EMPTY)%]"), "[]");
}

TEST_F(FormatterTest, StartTimeFormats) {
  fill();
  EXPECT_EQ(render("%START_TIME%"), "2024-01-02T03:04:05.678Z");
  EXPECT_EQ(render("%START_TIME(%Y)%"), "2024");
  EXPECT_EQ(render("%START_TIME(%Y/%m/%d %H:%M:%S)%"), "2024/01/02 03:04:05");
  EXPECT_EQ(render("%START_TIME(%E6S)%"), "05.678901");
  EXPECT_EQ(render("x %START_TIME(%Y)% y"), "x 2024 y");
}

TEST_F(FormatterTest, StartTimeFractionalSecondsAsEnvoyDocumentsThem) {
  // Envoy's START_TIME specifiers: "%f, %[1-9]f: fractional seconds digits, default is 9 digits
  // (nanosecond); %3f millisecond, %6f microsecond, %9f nanosecond".
  fill();
  EXPECT_EQ(render("%START_TIME(%f)%"), "678901234");
  EXPECT_EQ(render("%START_TIME(%H:%M:%S.%3f)%"), "03:04:05.678");
  EXPECT_EQ(render("%START_TIME(%6f)%"), "678901");
  EXPECT_EQ(render("%START_TIME(%9f)%"), "678901234");
}

TEST_F(FormatterTest, PercentLiteral) {
  fill();
  EXPECT_EQ(render("100%% %RESPONSE_CODE% %%"), "100% 200 %");
  EXPECT_EQ(render("no operators"), "no operators");
  EXPECT_EQ(render(""), "");
}

TEST_F(FormatterTest, SimpleOperators) {
  fill();
  net::Address remote = *net::Address::parse("192.168.1.9", 51000);
  net::Address local = *net::Address::parse("10.0.0.2", 10000);
  info_.downstream_remote = &remote;
  info_.downstream_local = &local;
  info_.route_name = "r1";
  info_.response_code_details = "via_upstream";
  info_.first_upstream_byte = info_.start + 7ms;
  info_.response_flags = kUpstreamConnectionFailure | kNoRouteFound;
  EXPECT_EQ(render("%DOWNSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"),
            "192.168.1.9:51000 192.168.1.9");
  EXPECT_EQ(render("%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%"), "10.0.0.2:10000 10.0.0.2");
  EXPECT_EQ(render("%UPSTREAM_CLUSTER% %UPSTREAM_HOST% %ROUTE_NAME%"), "backend 10.0.0.1:8080 r1");
  EXPECT_EQ(render("%RESPONSE_CODE_DETAILS%"), "via_upstream");
  EXPECT_EQ(render("%DURATION% %RESPONSE_DURATION%"), "12 7");
  EXPECT_EQ(render("%BYTES_RECEIVED%/%BYTES_SENT%"), "10/20");
  EXPECT_EQ(render("%PROTOCOL%"), "HTTP/1.1");
  EXPECT_EQ(render("%RESPONSE_FLAGS%"), "UF,NR");
  EXPECT_EQ(render("%REQUESTED_SERVER_NAME%"), "-");
  EXPECT_EQ(render("%UPSTREAM_TRANSPORT_FAILURE_REASON%"), "-");
  // Istio's default format's operators.
  EXPECT_EQ(render("%UPSTREAM_CLUSTER_RAW% %CONNECTION_TERMINATION_DETAILS%"), "backend -");
  EXPECT_EQ(render("%UPSTREAM_LOCAL_ADDRESS%"), "-");
  info_.upstream_local = *net::Address::parse("10.0.0.2", 43210);
  EXPECT_EQ(render("%UPSTREAM_LOCAL_ADDRESS% %UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%"), "10.0.0.2:43210 10.0.0.2");
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  EXPECT_EQ(render("%HOSTNAME%"), host);
}

TEST_F(FormatterTest, UnsetValuesPrintDash) {
  info_.start = event::TimePoint(1s);
  info_.end = info_.start;
  info_.protocol = {};
  EXPECT_EQ(render("%UPSTREAM_HOST% %UPSTREAM_CLUSTER% %ROUTE_NAME% %RESPONSE_DURATION% %RESPONSE_CODE_DETAILS% "
                   "%DOWNSTREAM_REMOTE_ADDRESS% %PROTOCOL% %RESPONSE_FLAGS%"),
            "- - - - - - - -");
}

TEST_F(FormatterTest, UnknownOperatorIsAConfigErrorNamingIt) {
  EXPECT_EQ(error("%RESPONSE_CODE% %NOT_A_THING%"),
            "access_log[0]: unknown or unsupported command operator %NOT_A_THING%");
  EXPECT_EQ(error("%RESPONSE_CODE(x)%"), "access_log[0]: unknown or unsupported command operator %RESPONSE_CODE(x)%");
  EXPECT_THAT(error("%DYNAMIC_METADATA(a:b)%"), HasSubstr("%DYNAMIC_METADATA(a:b)%"));
}

TEST_F(FormatterTest, MalformedOperators) {
  EXPECT_THAT(error("abc %RESPONSE_CODE"), StartsWith("access_log[0]: unterminated command operator at offset 4"));
  EXPECT_EQ(error("%REQ()%"), "access_log[0]: %REQ()% needs a header name");
  EXPECT_EQ(error("%REQ(X):x%"), "access_log[0]: malformed length in operator %REQ(X):x%");
  EXPECT_EQ(error("%REQ(X):%"), "access_log[0]: malformed length in operator %REQ(X):%");
}

}  // namespace
}  // namespace weft::proxy::access_log
