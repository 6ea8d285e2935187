#pragma once
// An in-process ADS server (grpc::Server on 127.0.0.1:0 serving an AdsServer) and a blocking
// grpc++ client stream whose responses a background thread queues, so a test can wait for the
// next response with a timeout (and a stream deadline makes any hang fail fast).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "control/xds/ads_server.h"
#include "control/xds/generator.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"

namespace weft::control::testing {

using envoy::service::discovery::v3::AggregatedDiscoveryService;
using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;
using Millis = std::chrono::milliseconds;

// Polls `pred` until it holds or `timeout` passes.
inline bool eventually(const std::function<bool()>& pred, Millis timeout = Millis(5000)) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(Millis(2));
  }
  return true;
}

class AdsTestServer {
 public:
  AdsTestServer() {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(&ads);
    server_ = b.BuildAndStart();
    EXPECT_TRUE(server_ != nullptr && port_ > 0) << "cannot start the gRPC server";
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials());
    stub = AggregatedDiscoveryService::NewStub(channel_);
  }
  ~AdsTestServer() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }

  xds::AdsServer ads;  // outlives server_ (declared first, destroyed last)
  std::unique_ptr<AggregatedDiscoveryService::Stub> stub;

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

template <typename Req, typename Resp>
class StreamClient {
 public:
  using Opener = std::function<std::unique_ptr<grpc::ClientReaderWriter<Req, Resp>>(grpc::ClientContext*)>;

  explicit StreamClient(const Opener& open, std::chrono::seconds deadline = std::chrono::seconds(30)) {
    ctx_.set_deadline(std::chrono::system_clock::now() + deadline);
    rw_ = open(&ctx_);
    reader_ = std::thread([this] {
      Resp r;
      while (rw_->Read(&r)) {
        std::lock_guard<std::mutex> lock(mu_);
        queue_.push_back(r);
        cv_.notify_all();
      }
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      cv_.notify_all();
    });
  }
  ~StreamClient() {
    ctx_.TryCancel();
    if (reader_.joinable()) reader_.join();
    if (!finished_) rw_->Finish();
  }

  bool send(const Req& r) { return rw_->Write(r); }

  // The next response, or nullopt when none arrives within `timeout` (or the stream ended).
  std::optional<Resp> next(Millis timeout = Millis(5000)) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !queue_.empty() || closed_; });
    if (queue_.empty()) return std::nullopt;
    Resp r = std::move(queue_.front());
    queue_.pop_front();
    return r;
  }

  size_t pending() {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.size();
  }

  // Waits for the server to end the stream and returns its status.
  grpc::Status finish(Millis timeout = Millis(5000)) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!cv_.wait_for(lock, timeout, [&] { return closed_; })) {
        return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "test: the server did not end the stream");
      }
    }
    reader_.join();
    finished_ = true;
    return rw_->Finish();
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<Req, Resp>> rw_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Resp> queue_;
  bool closed_ = false;
  bool finished_ = false;
};

using SotwClient = StreamClient<DiscoveryRequest, DiscoveryResponse>;
using DeltaClient = StreamClient<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

inline std::unique_ptr<SotwClient> openSotw(AdsTestServer& s) {
  return std::make_unique<SotwClient>([&](grpc::ClientContext* ctx) { return s.stub->StreamAggregatedResources(ctx); });
}
inline std::unique_ptr<DeltaClient> openDelta(AdsTestServer& s) {
  return std::make_unique<DeltaClient>([&](grpc::ClientContext* ctx) { return s.stub->DeltaAggregatedResources(ctx); });
}

inline envoy::config::core::v3::Node testNode(const std::string& ns = "default", const Labels& labels = {}) {
  envoy::config::core::v3::Node n;
  n.set_id("sidecar~10.9.9.9~client-pod." + ns + "~" + ns + ".svc.cluster.local");
  auto& f = *n.mutable_metadata()->mutable_fields();
  f["NAMESPACE"].set_string_value(ns);
  // No capture: the resource sets are the services' alone (the capture listeners and
  // clusters have their own tests in listener_gen_test and cluster_gen_test).
  f["INTERCEPTION_MODE"].set_string_value("NONE");
  auto& l = *f["LABELS"].mutable_struct_value()->mutable_fields();
  for (const auto& [k, v] : labels) l[k].set_string_value(v);
  return n;
}

inline DiscoveryRequest sotwRequest(const std::string& type, std::vector<std::string> names = {},
                                    const std::string& version = "", const std::string& nonce = "",
                                    bool with_node = false) {
  DiscoveryRequest r;
  r.set_type_url(type);
  for (auto& n : names) r.add_resource_names(n);
  r.set_version_info(version);
  r.set_response_nonce(nonce);
  if (with_node) *r.mutable_node() = testNode();
  return r;
}

inline DiscoveryRequest ackOf(const DiscoveryResponse& resp, std::vector<std::string> names = {}) {
  return sotwRequest(resp.type_url(), std::move(names), resp.version_info(), resp.nonce());
}

inline DeltaDiscoveryRequest deltaRequest(const std::string& type, std::vector<std::string> subscribe = {},
                                          std::vector<std::string> unsubscribe = {}, const std::string& nonce = "",
                                          bool with_node = false) {
  DeltaDiscoveryRequest r;
  r.set_type_url(type);
  for (auto& n : subscribe) r.add_resource_names_subscribe(n);
  for (auto& n : unsubscribe) r.add_resource_names_unsubscribe(n);
  r.set_response_nonce(nonce);
  if (with_node) *r.mutable_node() = testNode();
  return r;
}

// The status of `type` on the only stream of `ads`, if there is one stream and it subscribed.
inline std::optional<xds::TypeStatus> typeStatus(const xds::AdsServer& ads, const std::string& type) {
  auto all = ads.status();
  if (all.size() != 1) return std::nullopt;
  for (const auto& t : all[0].types) {
    if (t.type_url == type) return t;
  }
  return std::nullopt;
}

inline std::set<std::string> deltaNames(const DeltaDiscoveryResponse& r) {
  std::set<std::string> out;
  for (const auto& res : r.resources()) out.insert(res.name());
  return out;
}

inline std::set<std::string> removedNames(const DeltaDiscoveryResponse& r) {
  return {r.removed_resources().begin(), r.removed_resources().end()};
}

// The names of the resources of a state-of-the-world response (unpacked by type).
inline std::set<std::string> sotwNames(const DiscoveryResponse& r) {
  std::set<std::string> out;
  for (const auto& any : r.resources()) {
    EXPECT_EQ(any.type_url(), r.type_url());
    if (any.type_url() == xds::kClusterType) {
      envoy::config::cluster::v3::Cluster c;
      EXPECT_TRUE(any.UnpackTo(&c));
      out.insert(c.name());
    } else if (any.type_url() == xds::kEndpointType) {
      envoy::config::endpoint::v3::ClusterLoadAssignment c;
      EXPECT_TRUE(any.UnpackTo(&c));
      out.insert(c.cluster_name());
    } else if (any.type_url() == xds::kListenerType) {
      envoy::config::listener::v3::Listener l;
      EXPECT_TRUE(any.UnpackTo(&l));
      out.insert(l.name());
    } else if (any.type_url() == xds::kRouteType) {
      envoy::config::route::v3::RouteConfiguration rc;
      EXPECT_TRUE(any.UnpackTo(&rc));
      out.insert(rc.name());
    }
  }
  return out;
}

}  // namespace weft::control::testing
