// Envoy's request attributes for CEL over a finished stream: values from StreamInfo and the
// captured headers, absent ones absent, and unknown names refused with what is offered.
#include "proxy/cel/stream_attributes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "common/config/error.h"
#include "proxy/telemetry/peer_metadata.h"

namespace weft::proxy {
namespace {

struct Stream {
  access_log::CaptureList capture;
  StreamInfo info;
  net::Address remote = *net::Address::parse("10.0.0.1", 40000), local = *net::Address::parse("10.0.0.2", 9080);

  weft::cel::Value eval(const std::string& text) {
    auto p = compileStreamExpression(text, "expr", capture);
    // Capture what the expression asked for, as the stream would have.
    std::map<std::string, std::string> req = {
        {":path", "/reviews/1?user=jason"}, {":authority", "reviews:9080"}, {":method", "GET"}, {"x-user", "jason"}};
    info.request_headers.resize(capture.request.size());
    for (size_t i = 0; i < capture.request.size(); ++i) {
      auto it = req.find(capture.request[i]);
      info.request_headers[i].present = it != req.end();
      if (it != req.end()) info.request_headers[i].value = it->second;
    }
    info.response_headers.resize(capture.response.size());
    return p->evaluate(StreamActivation(info));
  }
};

TEST(StreamAttributesTest, RequestResponseAndConnection) {
  Stream s;
  s.info.response_code = 503;
  s.info.bytes_received = 12;
  s.info.start = event::TimePoint{};
  s.info.end = s.info.start + std::chrono::milliseconds(250);
  s.info.downstream_remote = &s.remote;
  s.info.downstream_local = &s.local;
  s.info.upstream_host = "10.0.0.3:8080";
  s.info.upstream_cluster = "outbound|9080||reviews.default.svc.cluster.local";
  EXPECT_EQ(s.eval("request.path").asString(), "/reviews/1?user=jason");
  EXPECT_EQ(s.eval("request.url_path").asString(), "/reviews/1");
  EXPECT_EQ(s.eval("request.query").asString(), "user=jason");
  EXPECT_EQ(s.eval("request.host + ' ' + request.method").asString(), "reviews:9080 GET");
  EXPECT_EQ(s.eval("request.headers['X-User']").asString(), "jason");  // header names are case-insensitive
  EXPECT_TRUE(s.eval("request.headers['x-missing']").isAbsent());
  EXPECT_EQ(s.eval("has(request.headers.referer)").asBool(), false);
  EXPECT_EQ(s.eval("response.code >= 500 && request.size == 12").asBool(), true);
  EXPECT_EQ(s.eval("request.duration == duration('250ms')").asBool(), true);
  EXPECT_EQ(s.eval("string(destination.port) + ' ' + source.address").asString(), "9080 10.0.0.1:40000");
  EXPECT_EQ(s.eval("upstream.port").asInt(), 8080);
  EXPECT_EQ(s.eval("xds.cluster_name").asString(), "outbound|9080||reviews.default.svc.cluster.local");
  EXPECT_EQ(s.eval("connection.mtls").asBool(), false);
  EXPECT_TRUE(s.eval("response.grpc_status").isAbsent());
  EXPECT_TRUE(s.eval("upstream_peer.app").isAbsent());
  // The capture list holds each header once, lower case.
  EXPECT_EQ(std::count(s.capture.request.begin(), s.capture.request.end(), ":path"), 1);
}

TEST(StreamAttributesTest, IstioPeers) {
  Stream s;
  auto peer = std::make_shared<telemetry::PeerMetadata>();
  peer->ns = "default";
  peer->workload_name = "ratings-v1";
  peer->app = "ratings";
  peer->version = "v1";
  s.info.upstream_peer = peer;
  EXPECT_EQ(s.eval("upstream_peer.workload + '/' + upstream_peer.namespace + '/' + upstream_peer.service").asString(),
            "ratings-v1/default/ratings");
  EXPECT_EQ(s.eval("upstream_peer.revision").asString(), "v1");
}

TEST(StreamAttributesTest, UnknownAttributesAreConfigErrors) {
  access_log::CaptureList capture;
  try {
    compileStreamExpression("request.nope == 1", "access_log[0].filter", capture);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "access_log[0].filter: invalid CEL expression 'request.nope == 1': offset 7: unknown attribute "
                 "'request.nope' (weft-proxy offers request.path, url_path, query, host, scheme, method, headers, "
                 "referer, useragent, id, protocol, time, duration, size)");
  }
  EXPECT_THROW(compileStreamExpression("filter_state['x']", "p", capture), ConfigError);
  EXPECT_THROW(compileStreamExpression("size(request.headers)", "p", capture), ConfigError);
}

}  // namespace
}  // namespace weft::proxy
