#include "proxy/http/request_encoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "envoy/config/route/v3/route_components.pb.h"
#include "proxy/proxy_test_support.h"

namespace weft::proxy::http {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using weft::testing::fromYaml;
using weft::testing::TestRequest;

struct Encoded {
  std::string request_line;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string raw;

  std::vector<std::string> values(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [n, v] : headers) {
      if (equalsIgnoreCase(n, name)) out.push_back(v);
    }
    return out;
  }
  bool has(std::string_view name) const { return !values(name).empty(); }
};

Encoded encode(const UpstreamHead& h) {
  Buffer out;
  encodeRequestHead(out, h);
  Encoded e;
  e.raw = std::string(out.view());
  std::string_view v = out.view();
  EXPECT_TRUE(v.size() >= 4 && v.substr(v.size() - 4) == "\r\n\r\n") << e.raw;
  size_t eol = v.find("\r\n");
  e.request_line = std::string(v.substr(0, eol));
  v.remove_prefix(eol + 2);
  while (!v.empty() && v.substr(0, 2) != "\r\n") {
    eol = v.find("\r\n");
    std::string_view line = v.substr(0, eol);
    auto colon = line.find(": ");
    EXPECT_NE(colon, std::string_view::npos) << line;
    e.headers.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 2)));
    v.remove_prefix(eol + 2);
  }
  return e;
}

struct Fixture {
  HcmConfig hcm;
  net::Address remote = *net::Address::parse("10.0.0.7", 41000);
  UpstreamHead head(const TestRequest& req) {
    UpstreamHead h;
    h.req = &req.head();
    h.hcm = &hcm;
    h.path = req.head().target;
    h.host = req.head().host;
    h.remote = &remote;
    return h;
  }
};

HeaderMutations mutations(const std::string& yaml) {
  auto vh = fromYaml<envoy::config::route::v3::VirtualHost>(yaml);
  return HeaderMutations::compile(vh.request_headers_to_add(), vh.request_headers_to_remove(), "vh",
                                  "request_headers_to_add", "request_headers_to_remove");
}

TEST(RequestEncoderTest, RequestLineAndHost) {
  Fixture f;
  TestRequest req("/a?b=1", "example.com", {{"Accept", "*/*"}}, "DELETE");
  Encoded e = encode(f.head(req));
  EXPECT_EQ(e.request_line, "DELETE /a?b=1 HTTP/1.1");
  EXPECT_THAT(e.values("host"), ElementsAre("example.com"));
  EXPECT_THAT(e.values("accept"), ElementsAre("*/*"));
}

TEST(RequestEncoderTest, HopByHopHeadersAreDropped) {
  Fixture f;
  TestRequest req("/", "example.com",
                  {{"Connection", "keep-alive, x-foo"},
                   {"Keep-Alive", "timeout=5"},
                   {"Proxy-Connection", "keep-alive"},
                   {"TE", "gzip"},
                   {"Trailer", "x-checksum"},
                   {"Upgrade", "h2c"},
                   {"Transfer-Encoding", "chunked"},
                   {"Content-Length", "99"},
                   {"X-Keep", "yes"}});
  Encoded e = encode(f.head(req));
  for (const char* n : {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "transfer-encoding",
                        "content-length"}) {
    EXPECT_FALSE(e.has(n)) << n << " in\n" << e.raw;
  }
  EXPECT_THAT(e.values("x-keep"), ElementsAre("yes"));
}

TEST(RequestEncoderTest, HostRewrite) {
  Fixture f;
  TestRequest req("/", "public.example.com", {{"Host", "public.example.com"}});
  UpstreamHead h = f.head(req);
  h.host = "internal.svc.cluster.local";
  Encoded e = encode(h);
  EXPECT_THAT(e.values("host"), ElementsAre("internal.svc.cluster.local"));
}

TEST(RequestEncoderTest, PathRewriteAddsOriginalPath) {
  Fixture f;
  TestRequest req("/old/x?q", "h");
  UpstreamHead h = f.head(req);
  h.path = "/new/x?q";
  h.path_rewritten = true;
  Encoded e = encode(h);
  EXPECT_EQ(e.request_line, "GET /new/x?q HTTP/1.1");
  EXPECT_THAT(e.values("x-envoy-original-path"), ElementsAre("/old/x?q"));

  h.suppress_envoy_headers = true;
  EXPECT_FALSE(encode(h).has("x-envoy-original-path"));
}

TEST(RequestEncoderTest, ClientEnvoyInternalHeadersAreNotForwarded) {
  Fixture f;
  TestRequest req("/", "h", {{"x-envoy-original-path", "/spoofed"}, {"x-envoy-expected-rq-timeout-ms", "1"}});
  Encoded e = encode(f.head(req));
  EXPECT_FALSE(e.has("x-envoy-original-path"));
  EXPECT_FALSE(e.has("x-envoy-expected-rq-timeout-ms"));
}

TEST(RequestEncoderTest, ForwardedProtoIsAddedWhenAbsent) {
  Fixture f;
  TestRequest req("/", "h");
  EXPECT_THAT(encode(f.head(req)).values("x-forwarded-proto"), ElementsAre("http"));
}

TEST(RequestEncoderTest, ForwardedProtoFromATrustedHopIsKept) {
  Fixture f;
  TestRequest req("/", "h", {{"X-Forwarded-Proto", "https"}});
  EXPECT_THAT(encode(f.head(req)).values("x-forwarded-proto"), ElementsAre("https"));
}

TEST(RequestEncoderTest, ForwardedProtoIsReplacedAtTheEdge) {
  Fixture f;
  f.hcm.use_remote_address = true;
  TestRequest req("/", "h", {{"X-Forwarded-Proto", "https"}});
  EXPECT_THAT(encode(f.head(req)).values("x-forwarded-proto"), ElementsAre("http"));
}

TEST(RequestEncoderTest, ForwardedForAppendsTheRemoteAddressAtTheEdge) {
  Fixture f;
  f.hcm.use_remote_address = true;
  {
    TestRequest req("/", "h", {{"X-Forwarded-For", "1.1.1.1, 2.2.2.2"}});
    EXPECT_THAT(encode(f.head(req)).values("x-forwarded-for"), ElementsAre("1.1.1.1, 2.2.2.2, 10.0.0.7"));
  }
  {
    TestRequest req("/", "h");
    EXPECT_THAT(encode(f.head(req)).values("x-forwarded-for"), ElementsAre("10.0.0.7"));
  }
  {
    TestRequest req("/", "h", {{"x-forwarded-for", ""}});
    EXPECT_THAT(encode(f.head(req)).values("x-forwarded-for"), ElementsAre("10.0.0.7"));
  }
  {
    net::Address v6 = *net::Address::parse("2001:db8::9", 1);
    TestRequest req("/", "h");
    UpstreamHead h = f.head(req);
    h.remote = &v6;
    EXPECT_THAT(encode(h).values("x-forwarded-for"), ElementsAre("2001:db8::9"));
  }
}

TEST(RequestEncoderTest, ForwardedForUntouchedWithoutUseRemoteAddressOrWithSkip) {
  Fixture f;
  TestRequest with("/", "h", {{"X-Forwarded-For", "1.1.1.1"}});
  TestRequest without("/", "h");
  EXPECT_THAT(encode(f.head(with)).values("x-forwarded-for"), ElementsAre("1.1.1.1"));
  EXPECT_FALSE(encode(f.head(without)).has("x-forwarded-for"));

  f.hcm.use_remote_address = true;
  f.hcm.skip_xff_append = true;
  EXPECT_THAT(encode(f.head(with)).values("x-forwarded-for"), ElementsAre("1.1.1.1"));
  EXPECT_FALSE(encode(f.head(without)).has("x-forwarded-for"));
}

TEST(RequestEncoderTest, GeneratedRequestIdReplacesTheClients) {
  Fixture f;
  TestRequest req("/", "h", {{"X-Request-Id", "client-chosen"}});
  UpstreamHead h = f.head(req);
  EXPECT_THAT(encode(h).values("x-request-id"), ElementsAre("client-chosen"));
  h.generated_request_id = "6f1f1d7c-3a53-4d0e-9b7e-2c9f0a7d5e11";
  EXPECT_THAT(encode(h).values("x-request-id"), ElementsAre("6f1f1d7c-3a53-4d0e-9b7e-2c9f0a7d5e11"));

  TestRequest none("/", "h");
  UpstreamHead h2 = f.head(none);
  h2.generated_request_id = "abc";
  EXPECT_THAT(encode(h2).values("x-request-id"), ElementsAre("abc"));
  h2.generated_request_id = {};
  EXPECT_FALSE(encode(h2).has("x-request-id"));
}

TEST(RequestEncoderTest, ExpectedTimeoutHeader) {
  Fixture f;
  TestRequest req("/", "h");
  UpstreamHead h = f.head(req);
  EXPECT_FALSE(encode(h).has("x-envoy-expected-rq-timeout-ms"));
  h.timeout = std::chrono::milliseconds(1500);
  EXPECT_THAT(encode(h).values("x-envoy-expected-rq-timeout-ms"), ElementsAre("1500"));
  h.suppress_envoy_headers = true;
  EXPECT_FALSE(encode(h).has("x-envoy-expected-rq-timeout-ms"));
}

TEST(RequestEncoderTest, MutationsAreApplied) {
  Fixture f;
  TestRequest req("/", "h",
                  {{"User-Agent", "curl"},
                   {"X-Secret", "s3cr3t"},
                   {"X-Present", "client"},
                   {"X-Multi", "client"},
                   {"X-Overwrite-Existing", "client"}});
  HeaderMutations route = mutations(R"(
request_headers_to_add:
- {header: {key: user-agent, value: weft}, append_action: OVERWRITE_IF_EXISTS_OR_ADD}
- {header: {key: x-present, value: route}, append_action: ADD_IF_ABSENT}
- {header: {key: x-absent, value: route}, append_action: ADD_IF_ABSENT}
- {header: {key: x-multi, value: route}}
- {header: {key: x-overwrite-existing, value: route}, append_action: OVERWRITE_IF_EXISTS}
- {header: {key: x-overwrite-missing, value: route}, append_action: OVERWRITE_IF_EXISTS}
request_headers_to_remove: [x-secret]
)");
  HeaderMutations vhost = mutations(R"(
request_headers_to_add:
- {header: {key: x-from-vhost, value: v}}
)");
  UpstreamHead h = f.head(req);
  h.mutations.sets[0] = &route;
  h.mutations.sets[2] = &vhost;
  Encoded e = encode(h);
  EXPECT_THAT(e.values("user-agent"), ElementsAre("weft"));
  EXPECT_FALSE(e.has("x-secret"));
  EXPECT_THAT(e.values("x-present"), ElementsAre("client"));
  EXPECT_THAT(e.values("x-absent"), ElementsAre("route"));
  EXPECT_THAT(e.values("x-multi"), ElementsAre("client", "route"));
  EXPECT_THAT(e.values("x-overwrite-existing"), ElementsAre("route"));
  EXPECT_FALSE(e.has("x-overwrite-missing"));
  EXPECT_THAT(e.values("x-from-vhost"), ElementsAre("v"));
}

TEST(RequestEncoderTest, ContentLengthFraming) {
  Fixture f;
  {
    TestRequest req("/", "h", {{"Content-Length", "5"}}, "POST");
    req.head().content_length = 5;
    EXPECT_THAT(encode(f.head(req)).values("content-length"), ElementsAre("5"));
  }
  {
    TestRequest req("/", "h", {{"Content-Length", "0"}}, "POST");
    req.head().content_length = 0;
    EXPECT_THAT(encode(f.head(req)).values("content-length"), ElementsAre("0"));
  }
  {
    TestRequest req("/", "h", {{"Content-Length", "0"}}, "GET");
    req.head().content_length = 0;
    EXPECT_FALSE(encode(f.head(req)).has("content-length"));
  }
  {
    TestRequest req("/", "h", {}, "GET");
    Encoded e = encode(f.head(req));
    EXPECT_FALSE(e.has("content-length"));
    EXPECT_FALSE(e.has("transfer-encoding"));
  }
}

TEST(RequestEncoderTest, ChunkedFraming) {
  Fixture f;
  TestRequest req("/", "h", {{"Transfer-Encoding", "chunked"}}, "POST");
  req.head().chunked = true;
  UpstreamHead h = f.head(req);
  h.chunked_body = true;
  Encoded e = encode(h);
  EXPECT_THAT(e.values("transfer-encoding"), ElementsAre("chunked"));
  EXPECT_FALSE(e.has("content-length"));
}

TEST(RequestEncoderTest, ExpectContinueIsAnsweredNotForwarded) {
  Fixture f;
  TestRequest req("/", "h", {{"Expect", "100-continue"}, {"Content-Length", "3"}}, "PUT");
  req.head().expect_continue = true;
  req.head().content_length = 3;
  EXPECT_FALSE(encode(f.head(req)).has("expect"));
}

TEST(RequestEncoderTest, UpgradeTunnelHeaders) {
  Fixture f;
  TestRequest req("/ws", "h", {{"Connection", "Upgrade"}, {"Upgrade", "websocket"}, {"Sec-WebSocket-Key", "k"}});
  UpstreamHead h = f.head(req);
  h.upgrade = "websocket";
  Encoded e = encode(h);
  EXPECT_THAT(e.values("connection"), ElementsAre("upgrade"));
  EXPECT_THAT(e.values("upgrade"), ElementsAre("websocket"));
  EXPECT_THAT(e.values("sec-websocket-key"), ElementsAre("k"));
}

TEST(CodecUtilTest, BodyFramingAndReasonPhrases) {
  Buffer out;
  appendBody(out, "hello", true);
  appendBody(out, "", true);  // never a zero-length chunk: that would end the body
  appendBody(out, std::string(26, 'x'), true);
  EXPECT_EQ(out.view(), "5\r\nhello\r\n1a\r\n" + std::string(26, 'x') + "\r\n");
  Buffer raw;
  appendBody(raw, "abc", false);
  EXPECT_EQ(raw.view(), "abc");
  EXPECT_EQ(reasonPhrase(200), "OK");
  EXPECT_EQ(reasonPhrase(404), "Not Found");
  EXPECT_EQ(reasonPhrase(503), "Service Unavailable");
  EXPECT_EQ(reasonPhrase(431), "Request Header Fields Too Large");
}

}  // namespace
}  // namespace weft::proxy::http
