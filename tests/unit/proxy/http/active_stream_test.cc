// The protocol-independent stream and its filter manager, driven the way both codecs drive it:
// pause and resume with held body and trailers, local replies from each phase, encoder stops,
// resets, gRPC local replies, and per-route filter config from the most specific level.
#include "proxy/http/active_stream.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <functional>

#include "proxy/http/filter_registry.h"
#include "proxy/proxy_test_support.h"
#include "proxy/test_worker.h"

namespace weft::proxy::http {
namespace {

using ::testing::ElementsAre;

// What the codec was asked to write, in order.
class RecordingCodec final : public StreamCodec {
 public:
  void encodeHeaders(const ResponseHead& head, bool end_stream) override {
    status = head.status;
    headers.clear();
    for (const auto& h : head.headers) headers.emplace_back(std::string(h.name), std::string(h.value));
    content_length = head.content_length;
    events.push_back(end_stream ? "headers+end" : "headers");
  }
  void encodeData(std::string_view data, bool end_stream) override {
    body += data;
    events.push_back(end_stream ? "data+end" : "data");
  }
  void encodeTrailers(const std::vector<Header>& t) override {
    events.push_back("trailers:" + std::to_string(t.size()));
  }
  void resetStream() override { events.push_back("reset"); }
  bool aboveWriteLimit() const override { return false; }
  void flush() override {}
  void resumeRequestBody() override { events.push_back("resume"); }
  void upgradeTunnel(const ResponseHead&, net::Connection&) override { events.push_back("upgrade"); }

  std::string header(const std::string& name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return "<none>";
  }
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<uint64_t> content_length;
  std::string body;
  std::vector<std::string> events;
};

// A filter whose every step is a script: by default it records and continues.
struct Script {
  std::function<FilterStatus(RequestHead&, bool)> decode_headers;
  std::function<FilterStatus(std::string_view, bool)> decode_data;
  std::function<FilterStatus(ResponseHead&, bool)> encode_headers;
  std::vector<std::string> seen;
};

class ScriptedFilter final : public StreamFilterBase, public StreamDecoderFilter, public StreamEncoderFilter {
 public:
  explicit ScriptedFilter(Script& s) : s_(s) {}
  void setDecoderFilterCallbacks(StreamDecoderFilterCallbacks& cb) override { dec = &cb; }
  void setEncoderFilterCallbacks(StreamEncoderFilterCallbacks& cb) override { enc = &cb; }
  FilterStatus decodeHeaders(RequestHead& h, bool end) override {
    s_.seen.push_back(end ? "headers+end" : "headers");
    return s_.decode_headers ? s_.decode_headers(h, end) : FilterStatus::Continue;
  }
  FilterStatus decodeData(std::string_view d, bool end) override {
    s_.seen.push_back("data:" + std::string(d) + (end ? "+end" : ""));
    return s_.decode_data ? s_.decode_data(d, end) : FilterStatus::Continue;
  }
  FilterStatus decodeTrailers(std::vector<Header>& t) override {
    s_.seen.push_back("trailers:" + std::to_string(t.size()));
    return FilterStatus::Continue;
  }
  FilterStatus encodeHeaders(ResponseHead& h, bool end) override {
    s_.seen.push_back("encode-headers:" + std::to_string(h.status) + (end ? "+end" : ""));
    return s_.encode_headers ? s_.encode_headers(h, end) : FilterStatus::Continue;
  }
  FilterStatus encodeData(std::string_view d, bool end) override {
    s_.seen.push_back("encode-data:" + std::string(d) + (end ? "+end" : ""));
    return FilterStatus::Continue;
  }
  void onLocalReply() override { s_.seen.push_back("on-local-reply"); }
  void onDestroy() override { s_.seen.push_back("destroy"); }

  StreamDecoderFilterCallbacks* dec = nullptr;
  StreamEncoderFilterCallbacks* enc = nullptr;

 private:
  Script& s_;
};

class ActiveStreamTest : public ::testing::Test {
 protected:
  ActiveStreamTest() : store_(1) {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    peer_fd_ = fds[1];
    auto addr = *net::Address::parse("127.0.0.1", 8080);
    conn_ = net::Connection::adopt(worker_.reactor(), fds[0], addr, addr);
    hcm_.stats = store_.scope("http.test.", HcmStats::kDefs, HcmStats::kCount);
    hcm_.http2_stats = store_.scope("http.test.http2.", Http2Stats::kDefs, Http2Stats::kCount);
  }
  ~ActiveStreamTest() override {
    stream_.reset();
    conn_.reset();
    worker_.reactor().runDeferredDeletes();
    ::close(peer_fd_);
  }
  // Builds the chain [first, second] for each new stream (first_, last_); `second` plays the router.
  void chain(Script& first, Script& second) {
    for (auto [script, slot] : {std::pair{&first, &first_}, std::pair{&second, &last_}}) {
      hcm_.filter_factories.push_back([script, slot](FilterChainBuilder& b) {
        auto f = std::make_unique<ScriptedFilter>(*script);
        *slot = f.get();
        b.addStreamFilter(std::move(f), *slot, *slot);
      });
    }
  }
  ActiveStream& start(bool http2 = false) {
    stream_ = std::make_unique<ActiveStream>(worker_, hcm_, codec_, *conn_, http2);
    stream_->begin(worker_.reactor().now());
    return *stream_;
  }
  uint64_t stat(size_t i) { return hcm_.stats->value(i); }

  testing::TestWorker worker_;
  stats::Store store_;
  HcmConfig hcm_;
  RecordingCodec codec_;
  std::unique_ptr<net::Connection> conn_;
  int peer_fd_ = -1;
  std::unique_ptr<ActiveStream> stream_;
  Script s1_, s2_;  // outlive the stream: its filters write to them until destroyed
  ScriptedFilter* first_ = nullptr;
  ScriptedFilter* last_ = nullptr;
};

TEST_F(ActiveStreamTest, PausedHeadersHoldBodyAndTrailersUntilContinue) {
  Script& pause = s1_;
  Script& router = s2_;
  pause.decode_headers = [](RequestHead&, bool) { return FilterStatus::StopIteration; };
  chain(pause, router);
  weft::testing::TestRequest req("/a");
  ActiveStream& s = start();
  s.decodeHeaders(req.head(), false);
  EXPECT_FALSE(s.wantsRequestBody());
  s.decodeData("abc", false);
  s.decodeData("de", false);
  std::vector<Header> trailers{{"x-t", "1"}};
  s.decodeTrailers(trailers);
  EXPECT_TRUE(router.seen.empty());
  // The pausing filter sees the body only when it continues, like the rest of the chain.
  EXPECT_THAT(pause.seen, ElementsAre("headers"));

  last_->dec->continueDecoding();  // any callbacks of the stream resume it
  EXPECT_THAT(router.seen, ElementsAre("headers", "data:abcde", "trailers:1"));
  EXPECT_THAT(codec_.events, ElementsAre("resume"));
}

TEST_F(ActiveStreamTest, DataStopHoldsLaterPiecesForTheNextFilter) {
  Script& buffer = s1_;
  Script& router = s2_;
  buffer.decode_data = [](std::string_view, bool) { return FilterStatus::StopIteration; };
  chain(buffer, router);
  weft::testing::TestRequest req("/a");
  ActiveStream& s = start();
  s.decodeHeaders(req.head(), false);
  s.decodeData("12", false);
  s.decodeData("34", true);
  EXPECT_THAT(router.seen, ElementsAre("headers"));
  last_->dec->continueDecoding();
  EXPECT_THAT(router.seen, ElementsAre("headers", "data:1234+end"));
}

TEST_F(ActiveStreamTest, LocalReplyFromDecodeHeadersRunsTheEncoders) {
  Script& deny = s1_;
  Script& router = s2_;
  chain(deny, router);
  deny.decode_headers = [&](RequestHead&, bool) {
    LocalReply r;
    r.status = 403;
    r.body = "nope";
    r.details = "denied";
    r.headers.push_back({"x-why", "test"});
    first_->dec->sendLocalReply(r);
    return FilterStatus::StopIteration;
  };
  weft::testing::TestRequest req("/a");
  ActiveStream& s = start();
  s.decodeHeaders(req.head(), true);
  EXPECT_EQ(codec_.status, 403);
  EXPECT_EQ(codec_.body, "nope");
  EXPECT_EQ(codec_.content_length, 4u);
  EXPECT_EQ(codec_.header("x-why"), "test");
  EXPECT_EQ(codec_.header("content-type"), "text/plain");
  EXPECT_EQ(codec_.header("server"), "envoy");
  EXPECT_THAT(codec_.events, ElementsAre("headers", "data+end"));
  // The later filter never saw the request, but its encoder saw the reply (encoders run last first).
  EXPECT_THAT(router.seen, ElementsAre("on-local-reply", "encode-headers:403", "encode-data:nope+end"));
  EXPECT_EQ(s.info().response_code_details, "denied");
  EXPECT_EQ(stat(HcmStats::downstream_rq_4xx), 1u);
}

TEST_F(ActiveStreamTest, LocalReplyFromDecodeData) {
  Script& limit = s1_;
  Script& router = s2_;
  chain(limit, router);
  limit.decode_data = [&](std::string_view d, bool) {
    if (d.size() > 3) {
      LocalReply r;
      r.status = 413;
      first_->dec->sendLocalReply(r);
      return FilterStatus::StopIteration;
    }
    return FilterStatus::Continue;
  };
  weft::testing::TestRequest req("/a");
  ActiveStream& s = start();
  s.decodeHeaders(req.head(), false);
  s.decodeData("ok", false);
  s.decodeData("too long", false);
  s.decodeData("ignored", true);  // after the reply, the body is dropped
  EXPECT_EQ(codec_.status, 413);
  EXPECT_THAT(router.seen, ElementsAre("headers", "data:ok", "on-local-reply", "encode-headers:413+end"));
  EXPECT_TRUE(s.answered());
}

TEST_F(ActiveStreamTest, LocalReplyFromAnEncoderReplacesTheResponse) {
  Script& check = s1_;
  Script& router = s2_;
  chain(check, router);
  check.encode_headers = [&](ResponseHead& h, bool) {
    if (h.status == 500) {
      LocalReply r;
      r.status = 502;
      r.body = "masked";
      first_->dec->sendLocalReply(r);
      return FilterStatus::StopIteration;
    }
    return FilterStatus::Continue;
  };
  weft::testing::TestRequest req("/a");
  ActiveStream& s = start();
  s.decodeHeaders(req.head(), true);
  ResponseHead upstream;
  upstream.status = 500;
  last_->dec->encodeHeaders(upstream, false);
  EXPECT_EQ(codec_.status, 502);
  EXPECT_EQ(codec_.body, "masked");
  last_->dec->encodeData("upstream body", true);  // the replaced response's rest goes nowhere
  EXPECT_EQ(codec_.body, "masked");
}

TEST_F(ActiveStreamTest, EncoderStopHoldsTheResponseUntilContinue) {
  Script& hold = s1_;
  Script& router = s2_;
  hold.encode_headers = [](ResponseHead&, bool) { return FilterStatus::StopIteration; };
  chain(hold, router);
  weft::testing::TestRequest req("/a");
  ActiveStream& s = start();
  s.decodeHeaders(req.head(), true);
  ResponseHead head;
  head.status = 200;
  last_->dec->encodeHeaders(head, false);
  last_->dec->encodeData("part1", false);
  last_->dec->encodeData("part2", false);
  std::vector<Header> trailers{{"grpc-status", "0"}};
  last_->dec->encodeTrailers(trailers);
  EXPECT_TRUE(codec_.events.empty());
  last_->enc->continueEncoding();
  EXPECT_THAT(codec_.events, ElementsAre("headers", "data", "trailers:1"));
  EXPECT_EQ(codec_.body, "part1part2");
  EXPECT_TRUE(s.responseComplete());
}

TEST_F(ActiveStreamTest, LocalReplyAfterTheResponseStartedResets) {
  Script& a = s1_;
  Script& router = s2_;
  chain(a, router);
  weft::testing::TestRequest req("/a");
  ActiveStream& s = start();
  s.decodeHeaders(req.head(), true);
  ResponseHead head;
  head.status = 200;
  last_->dec->encodeHeaders(head, false);
  LocalReply r;
  r.status = 504;
  last_->dec->sendLocalReply(r);
  EXPECT_THAT(codec_.events, ElementsAre("headers", "reset"));
  EXPECT_EQ(stat(HcmStats::downstream_rq_tx_reset), 1u);
}

TEST_F(ActiveStreamTest, GrpcLocalReplyIsTrailersOnly) {
  Script& a = s1_;
  Script& router = s2_;
  chain(a, router);
  weft::testing::TestRequest req("/pkg.Svc/M", "example.com", {{"content-type", "application/grpc"}}, "POST");
  ActiveStream& s = start(true);
  s.decodeHeaders(req.head(), false);
  LocalReply r;
  r.status = 503;
  r.body = "no healthy upstream";
  last_->dec->sendLocalReply(r);
  EXPECT_EQ(codec_.status, 200);
  EXPECT_EQ(codec_.header("grpc-status"), "14");
  EXPECT_EQ(codec_.header("grpc-message"), "no healthy upstream");
  EXPECT_EQ(codec_.header("content-type"), "application/grpc");
  EXPECT_THAT(codec_.events, ElementsAre("headers+end"));
  EXPECT_EQ(s.grpcStatus(), 14);
}

TEST_F(ActiveStreamTest, FinishDestroysTheFiltersAndCountsTheStream) {
  Script& a = s1_;
  Script& router = s2_;
  chain(a, router);
  weft::testing::TestRequest req("/a");
  ActiveStream& s = start();
  s.decodeHeaders(req.head(), true);
  s.onDownstreamReset(kDownstreamConnectionTermination);
  s.finish();
  EXPECT_EQ(a.seen.back(), "destroy");
  EXPECT_EQ(router.seen.back(), "destroy");
  EXPECT_EQ(stat(HcmStats::downstream_rq_rx_reset), 1u);
  EXPECT_EQ(stat(HcmStats::downstream_rq_completed), 1u);
  EXPECT_EQ(hcm_.stats->gaugeValue(HcmStats::downstream_rq_active), 0);
}

// ---- per-route config -------------------------------------------------------------------------

struct Tag final : public RouteSpecificFilterConfig {
  std::string value;
};

class TagFactory final : public HttpFilterFactory {
 public:
  std::string_view name() const override { return "test.tag"; }
  std::vector<std::string_view> configTypes() const override { return {"google.protobuf.StringValue"}; }
  config::FieldTable supportedFields() const override { return {{"google.protobuf.StringValue", {"value"}}}; }
  FilterFactoryCb compile(const google::protobuf::Any&, const std::string&, FilterFactoryContext&) const override {
    return [](FilterChainBuilder&) {};
  }
  std::shared_ptr<const RouteSpecificFilterConfig> compilePerRoute(const google::protobuf::Any& any, const std::string&,
                                                                   stats::Store*) const override {
    google::protobuf::StringValue v;
    any.UnpackTo(&v);
    auto t = std::make_shared<Tag>();
    t->value = v.value();
    return t;
  }
};
WEFT_REGISTER_HTTP_FILTER(TagFactory);

TEST_F(ActiveStreamTest, PerRouteConfigFromTheMostSpecificLevel) {
  hcm_.routes = RouteTable::compile(weft::testing::fromYaml<envoy::config::route::v3::RouteConfiguration>(R"(
typed_per_filter_config:
  test.tag: {"@type": type.googleapis.com/google.protobuf.StringValue, value: table}
virtual_hosts:
- name: a
  domains: [a.example]
  typed_per_filter_config:
    test.tag: {"@type": type.googleapis.com/google.protobuf.StringValue, value: vhost}
  routes:
  - match: {prefix: /route}
    direct_response: {status: 200}
    typed_per_filter_config:
      test.tag: {"@type": type.googleapis.com/google.protobuf.StringValue, value: route}
  - match: {prefix: /}
    direct_response: {status: 200}
- name: b
  domains: ["*"]
  routes:
  - match: {prefix: /}
    direct_response: {status: 200}
)"),
                                    "route_config");
  Script& a = s1_;
  Script& router = s2_;
  chain(a, router);
  auto tagFor = [&](const char* path, const char* host) {
    weft::testing::TestRequest req(path, host);
    ActiveStream& s = start();
    s.decodeHeaders(req.head(), true);
    auto* t = static_cast<const Tag*>(s.perRouteConfig("test.tag"));
    std::string v = t ? t->value : "<none>";
    EXPECT_EQ(s.perRouteConfig("other.filter"), nullptr);
    s.finish();
    return v;
  };
  EXPECT_EQ(tagFor("/route/x", "a.example"), "route");
  EXPECT_EQ(tagFor("/other", "a.example"), "vhost");
  EXPECT_EQ(tagFor("/", "b.example"), "table");
}

}  // namespace
}  // namespace weft::proxy::http
