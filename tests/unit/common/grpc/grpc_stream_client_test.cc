// weft::grpc::StreamClient against a real grpc++ ADS server: messages both ways, grpc-status
// from trailers, reconnect after the server goes away, and deadlines.
#include "common/grpc/grpc_stream_client.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "envoy/service/discovery/v3/ads.grpc.pb.h"

namespace {

using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

// Echoes each request's type_url back as a response; "fail" ends the stream with
// FAILED_PRECONDITION; "hang" answers nothing.
class EchoAds final : public envoy::service::discovery::v3::AggregatedDiscoveryService::Service {
 public:
  grpc::Status StreamAggregatedResources(
      grpc::ServerContext* ctx, grpc::ServerReaderWriter<DiscoveryResponse, DiscoveryRequest>* stream) override {
    DiscoveryRequest req;
    while (stream->Read(&req)) {
      if (req.type_url() == "fail") return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "told to fail");
      if (req.type_url() == "hang") {
        while (!ctx->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return grpc::Status::CANCELLED;
      }
      DiscoveryResponse resp;
      resp.set_type_url(req.type_url());
      resp.set_version_info(std::string(100000, 'x'));  // larger than one HTTP/2 frame
      stream->Write(resp);
    }
    return grpc::Status::OK;
  }
};

struct Recorder : weft::grpc::StreamClient::Callbacks {
  weft::event::Reactor* reactor = nullptr;
  int ready = 0;
  std::vector<DiscoveryResponse> messages;
  std::vector<std::pair<int, std::string>> closed;
  std::function<void()> on_ready;
  std::function<void()> on_message;
  void onStreamReady() override {
    ++ready;
    if (on_ready) on_ready();
  }
  void onMessage(std::string_view bytes) override {
    DiscoveryResponse r;
    r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
    messages.push_back(r);
    if (on_message) on_message();
  }
  void onStreamClosed(int status, const std::string& msg) override { closed.emplace_back(status, msg); }
};

class StreamClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(&service_);
    server_ = b.BuildAndStart();
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }
  weft::net::Address address() { return *weft::net::Address::parse("127.0.0.1", static_cast<uint16_t>(port_)); }
  // Runs the reactor until `done` or `seconds` pass (a reactor runs once: one call per test).
  void runUntil(weft::event::Reactor& r, std::function<bool()> done, double seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
    std::unique_ptr<weft::event::Timer> check;
    check = std::make_unique<weft::event::Timer>(r, [&] {
      if (done() || std::chrono::steady_clock::now() > deadline)
        r.stop();
      else
        check->arm(std::chrono::milliseconds(10));
    });
    check->arm(std::chrono::milliseconds(10));
    r.run();
  }

  EchoAds service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace

TEST_F(StreamClientTest, MessagesFlowBothWays) {
  weft::event::Reactor r;
  Recorder rec;
  weft::grpc::StreamClient client(
      r, address(), "test", "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources", rec);
  rec.on_ready = [&] {
    for (const char* t : {"a", "b", "c"}) {
      DiscoveryRequest req;
      req.set_type_url(t);
      EXPECT_TRUE(client.send(req));
    }
  };
  client.start();
  runUntil(
      r, [&] { return rec.messages.size() == 3; }, 5);
  ASSERT_EQ(rec.messages.size(), 3u);
  EXPECT_EQ(rec.messages[0].type_url(), "a");
  EXPECT_EQ(rec.messages[2].type_url(), "c");
  EXPECT_EQ(rec.messages[1].version_info().size(), 100000u);
  EXPECT_TRUE(rec.closed.empty());
}

TEST_F(StreamClientTest, GrpcStatusFromTrailersThenReconnect) {
  weft::event::Reactor r;
  Recorder rec;
  weft::grpc::StreamClient client(
      r, address(), "test", "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources", rec);
  rec.on_ready = [&] {
    DiscoveryRequest req;
    req.set_type_url(rec.ready == 1 ? "fail" : "again");
    client.send(req);
  };
  client.start();
  runUntil(
      r, [&] { return rec.ready >= 2 && !rec.messages.empty(); }, 5);
  ASSERT_FALSE(rec.closed.empty());
  EXPECT_EQ(rec.closed[0].first, 9) << rec.closed[0].second;  // FAILED_PRECONDITION
  EXPECT_EQ(rec.closed[0].second, "told to fail");
  EXPECT_GE(rec.ready, 2) << "the client must open a new stream after the server ended one";
  ASSERT_FALSE(rec.messages.empty());
  EXPECT_EQ(rec.messages.back().type_url(), "again");
}

TEST_F(StreamClientTest, DeadlineEndsAHangingStream) {
  weft::event::Reactor r;
  Recorder rec;
  weft::grpc::StreamClient client(
      r, address(), "test", "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources", rec);
  client.setDeadline(std::chrono::milliseconds(200));
  rec.on_ready = [&] {
    DiscoveryRequest req;
    req.set_type_url("hang");
    client.send(req);
  };
  auto start = std::chrono::steady_clock::now();
  client.start();
  runUntil(
      r, [&] { return !rec.closed.empty(); }, 5);
  ASSERT_FALSE(rec.closed.empty());
  EXPECT_EQ(rec.closed[0].first, 4) << rec.closed[0].second;  // DEADLINE_EXCEEDED (ours or the server's)
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(StreamClientTest, UnreachableServerIsUnavailableAndRetried) {
  weft::event::Reactor r;
  Recorder rec;
  auto dead = *weft::net::Address::parse("127.0.0.1", 1);
  weft::grpc::StreamClient client(r, dead, "test", "/x/y", rec);
  client.start();
  runUntil(
      r, [&] { return rec.closed.size() >= 2; }, 5);
  ASSERT_GE(rec.closed.size(), 2u) << "a refused connection must be retried with backoff";
  EXPECT_EQ(rec.closed[0].first, 14);
  EXPECT_NE(rec.closed[0].second.find("cannot connect"), std::string::npos) << rec.closed[0].second;
}
