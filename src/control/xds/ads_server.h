#pragma once
// envoy.service.discovery.v3.AggregatedDiscoveryService, state of the world, on grpc++'s
// callback API (no thread per stream). Each stream tracks, per type URL, what the proxy
// subscribed to, the version and nonce last sent, the version it ACKed and its last NACK.
// A new model is pushed to every stream in CDS, EDS, LDS, RDS order, and only for the types
// whose generated resources changed for that proxy.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "control/model/mesh_model.h"
#include "control/xds/generator.h"
#include "control/xds/proxy_info.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"

namespace weft::control::xds {

struct TypeStatus {
  std::string type_url;
  std::vector<std::string> names;
  std::string sent_version;
  std::string acked_version;
  std::string nack;
  size_t resources = 0;
};
struct StreamStatus {
  uint64_t id;
  std::string node_id;
  std::string peer;
  std::vector<TypeStatus> types;
};

struct AdsMetrics {
  std::atomic<uint64_t> pushes_cds{0}, pushes_eds{0}, pushes_lds{0}, pushes_rds{0};
  std::atomic<uint64_t> rejects{0};
  std::atomic<int64_t> connected{0};
  // pilot_proxy_convergence_time: model change -> ACK, seconds (sum and count, plus buckets).
  std::mutex mu;
  std::vector<double> bucket_bounds = {0.01, 0.1, 0.5, 1, 3, 5, 10, 20, 30};
  std::vector<uint64_t> buckets = std::vector<uint64_t>(9, 0);
  double convergence_sum = 0;
  uint64_t convergence_count = 0;
  void observeConvergence(double seconds);
  std::string prometheus();
};

class AdsServer final : public envoy::service::discovery::v3::AggregatedDiscoveryService::CallbackService {
 public:
  AdsServer();
  ~AdsServer() override;

  grpc::ServerBidiReactor<envoy::service::discovery::v3::DiscoveryRequest,
                          envoy::service::discovery::v3::DiscoveryResponse>*
  StreamAggregatedResources(grpc::CallbackServerContext* context) override;
  grpc::ServerBidiReactor<envoy::service::discovery::v3::DeltaDiscoveryRequest,
                          envoy::service::discovery::v3::DeltaDiscoveryResponse>*
  DeltaAggregatedResources(grpc::CallbackServerContext* context) override;

  // Publishes a new model and pushes it to every connected proxy.
  void setModel(std::shared_ptr<const MeshModel> model);
  std::shared_ptr<const MeshModel> model() const;
  std::vector<StreamStatus> status() const;
  AdsMetrics& metrics() { return metrics_; }

  // Resources generated once per model for every proxy with the same inputs (type, names,
  // namespace, labels, capture mode): a push to a thousand alike proxies generates once.
  struct Generated {
    ResourceMap resources;
    std::string version;
    std::map<std::string, uint64_t> hashes;  // per resource, for delta
  };
  // Subscribed names, interned: a thousand proxies subscribed to the same two thousand EDS
  // names share one list, and the generation cache keys on its id, not its text.
  struct NameList {
    std::vector<std::string> names;
    uint64_t id = 0;
  };
  std::shared_ptr<const NameList> intern(std::vector<std::string> names);
  // Names whose resource differs between two generations (new or changed), computed once
  // for all the streams that move from `from` to `to`.
  std::shared_ptr<const std::vector<std::string>> changedNames(const std::shared_ptr<const Generated>& from,
                                                               const std::shared_ptr<const Generated>& to);
  std::shared_ptr<const Generated> generated(const std::shared_ptr<const MeshModel>& model, const std::string& type,
                                             const ProxyInfo& proxy, const NameList& names);

  class Stream;
  class DeltaStream;
  void add(Stream* s);
  void remove(Stream* s);

 private:
  mutable std::mutex mu_;  // guards streams_; taken before any stream's own lock
  std::atomic<std::shared_ptr<const MeshModel>> model_;
  std::set<Stream*> streams_;
  AdsMetrics metrics_;
  std::atomic<uint64_t> next_id_{1};
  std::mutex cache_mu_;
  const MeshModel* cache_model_ = nullptr;
  std::map<std::string, std::shared_ptr<const Generated>> cache_;
  struct Diff {
    std::shared_ptr<const Generated> from, to;  // held so the pointers in the key stay unique
    std::shared_ptr<const std::vector<std::string>> changed;
  };
  std::map<std::pair<const Generated*, const Generated*>, Diff> diffs_;  // guarded by cache_mu_
  std::mutex intern_mu_;
  std::map<std::vector<std::string>, std::shared_ptr<const NameList>> interned_;
  uint64_t next_list_id_ = 1;
  size_t prune_at_ = 64;
};

}  // namespace weft::control::xds
