// weft-xds-load: N simulated proxies, each on its own connection and ADS stream, that
// subscribe like Envoy (CDS and LDS wildcard, then the EDS and RDS names those name) and ACK
// every response. Reads commands on stdin so a benchmark can time pushes:
//   mark              remember every stream's current version of every type
//   wait TYPE SECS    block until every stream has a new version of TYPE (cds|eds|lds|rds)
//                     since `mark`, then print "converged TYPE <ms>" (or "timeout TYPE k/N")
// Prints "synced <ms>" once every stream holds a version of all four types.
#include <grpcpp/grpcpp.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"

using envoy::service::discovery::v3::AggregatedDiscoveryService;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;
using Clock = std::chrono::steady_clock;

namespace {
const char* kTypes[] = {"type.googleapis.com/envoy.config.cluster.v3.Cluster",
                        "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
                        "type.googleapis.com/envoy.config.listener.v3.Listener",
                        "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"};
const char* kShort[] = {"cds", "eds", "lds", "rds"};
int typeIndex(const std::string& url) {
  for (int i = 0; i < 4; ++i) {
    if (url == kTypes[i]) return i;
  }
  return -1;
}

struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::array<std::string, 4>> versions;  // per stream, per type
  std::vector<std::array<std::string, 4>> marked;
};

class Stream : public grpc::ClientBidiReactor<DiscoveryRequest, DiscoveryResponse> {
 public:
  Stream(std::shared_ptr<grpc::Channel> channel, int index, Shared& shared)
      : stub_(AggregatedDiscoveryService::NewStub(channel)), index_(index), shared_(shared) {
    stub_->async()->StreamAggregatedResources(&ctx_, this);
    DiscoveryRequest cds;
    auto* node = cds.mutable_node();
    node->set_id("sidecar~10.0." + std::to_string(index / 250) + "." + std::to_string(index % 250 + 1) + "~load-" +
                 std::to_string(index) + ".default~default.svc.cluster.local");
    (*node->mutable_metadata()->mutable_fields())["NAMESPACE"].set_string_value("default");
    cds.set_type_url(kTypes[0]);
    send(std::move(cds));
    DiscoveryRequest lds;
    lds.set_type_url(kTypes[2]);
    send(std::move(lds));
    StartRead(&resp_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    int t = typeIndex(resp_.type_url());
    if (t >= 0) {
      DiscoveryRequest ack;
      ack.set_type_url(resp_.type_url());
      ack.set_version_info(resp_.version_info());
      ack.set_response_nonce(resp_.nonce());
      for (const auto& n : names_[t]) ack.add_resource_names(n);
      send(std::move(ack));
      followNames(t);
      std::lock_guard<std::mutex> lock(shared_.mu);
      shared_.versions[index_][t] = resp_.version_info();
      shared_.cv.notify_all();
    }
    StartRead(&resp_);
  }
  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.pop_front();
    if (ok && !queue_.empty()) StartWrite(&queue_.front());
    else writing_ = false;
  }
  void OnDone(const grpc::Status& s) override {
    if (!s.ok()) std::cerr << "stream " << index_ << " ended: " << s.error_message() << "\n";
  }

 private:
  // Envoy subscribes to the EDS names its clusters use and the RDS names its listeners use.
  void followNames(int t) {
    if (t != 0 && t != 2) return;
    std::set<std::string> names;
    for (const auto& any : resp_.resources()) {
      if (t == 0) {
        envoy::config::cluster::v3::Cluster c;
        if (any.UnpackTo(&c) && c.type() == envoy::config::cluster::v3::Cluster::EDS) {
          names.insert(c.eds_cluster_config().service_name().empty() ? c.name() : c.eds_cluster_config().service_name());
        }
      } else {
        envoy::config::listener::v3::Listener l;
        if (!any.UnpackTo(&l)) continue;
        for (const auto& fc : l.filter_chains()) {
          for (const auto& f : fc.filters()) {
            envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager hcm;
            if (f.typed_config().UnpackTo(&hcm) && hcm.has_rds()) names.insert(hcm.rds().route_config_name());
          }
        }
      }
    }
    int target = t == 0 ? 1 : 3;
    std::vector<std::string> list(names.begin(), names.end());
    if (list == names_[target]) return;
    names_[target] = list;
    DiscoveryRequest req;
    req.set_type_url(kTypes[target]);
    req.set_version_info(version_of_[target]);
    for (const auto& n : list) req.add_resource_names(n);
    send(std::move(req));
  }
  void send(DiscoveryRequest req) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(req));
    if (!writing_) {
      writing_ = true;
      StartWrite(&queue_.front());
    }
  }

  std::unique_ptr<AggregatedDiscoveryService::Stub> stub_;
  grpc::ClientContext ctx_;
  DiscoveryResponse resp_;
  int index_;
  Shared& shared_;
  std::mutex mu_;
  std::deque<DiscoveryRequest> queue_;
  bool writing_ = false;
  std::array<std::vector<std::string>, 4> names_;
  std::array<std::string, 4> version_of_;
};
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: weft-xds-load HOST:PORT STREAMS\n";
    return 2;
  }
  std::string target = argv[1];
  int n = std::stoi(argv[2]);
  Shared shared;
  shared.versions.resize(n);
  auto start = Clock::now();
  std::vector<std::unique_ptr<Stream>> streams;
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection per simulated proxy
    args.SetMaxReceiveMessageSize(256 * 1024 * 1024);
    streams.push_back(std::make_unique<Stream>(grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args), i, shared));
  }
  {
    std::unique_lock<std::mutex> lock(shared.mu);
    bool ok = shared.cv.wait_for(lock, std::chrono::seconds(120), [&] {
      for (const auto& v : shared.versions) {
        for (const auto& s : v) {
          if (s.empty()) return false;
        }
      }
      return true;
    });
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    std::cout << (ok ? "synced " : "not-synced ") << ms << std::endl;
  }
  Clock::time_point mark_time;
  std::string cmd;
  while (std::cin >> cmd) {
    if (cmd == "mark") {
      std::lock_guard<std::mutex> lock(shared.mu);
      shared.marked = shared.versions;
      mark_time = Clock::now();
      std::cout << "marked" << std::endl;
    } else if (cmd == "wait") {
      std::string type;
      double secs;
      std::cin >> type >> secs;
      int t = 0;
      while (t < 4 && type != kShort[t]) ++t;
      if (t == 4) {
        std::cout << "error unknown type " << type << std::endl;
        continue;
      }
      std::unique_lock<std::mutex> lock(shared.mu);
      auto done = [&] {
        int k = 0;
        for (int i = 0; i < n; ++i) k += shared.versions[i][t] != shared.marked[i][t];
        return k;
      };
      bool ok = shared.cv.wait_for(lock, std::chrono::duration<double>(secs), [&] { return done() == n; });
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - mark_time).count();
      if (ok) std::cout << "converged " << type << " " << ms << std::endl;
      else std::cout << "timeout " << type << " " << done() << "/" << n << std::endl;
    }
  }
  _exit(0);  // skip tearing down a thousand streams
}
