#pragma once
// The configuration weft-proxy receives over xDS: clusters (CDS), their endpoints (EDS),
// listeners (LDS) and route tables (RDS), each kept with its version. A resource that fails
// validation is reported and its previous version (if any) stays in force. Clusters warm
// until their endpoints arrive and listeners until their routes arrive, and both until the SDS
// secrets of their TLS contexts arrive; only warm resources reach the workers.
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "envoy/admin/v3/config_dump.pb.h"
#include "proxy/server/snapshot.h"
#include "proxy/xds/ads_client.h"

namespace weft::proxy::server {

class DynamicConfig : public xds::XdsApplier {
 public:
  // Binds a listener's sockets; returns null (and sets *error) on failure.
  using Bind = std::function<std::shared_ptr<SocketSet>(const network::ListenerConfig&, std::string* error)>;
  DynamicConfig(stats::Store& store, Bind bind, std::function<void()> on_change, std::set<std::string> static_clusters,
                std::set<std::string> static_listeners, tls::SdsSecrets* sds = nullptr);

  std::vector<std::string> apply(const std::string& type_url,
                                 const std::vector<const google::protobuf::Any*>& resources,
                                 const std::string& version) override;
  std::vector<std::string> wantedNames(const std::string& type_url) const override;

  // Adds the warm dynamic resources to a snapshot being built.
  void fill(Snapshot& snapshot) const;
  void dump(envoy::admin::v3::ClustersConfigDump& clusters, envoy::admin::v3::ListenersConfigDump& listeners,
            envoy::admin::v3::RoutesConfigDump& routes) const;
  // Initialized once every subscribed type (CDS, LDS) has had its first response.
  bool initialized() const { return (!cds_ || got_clusters_) && (!lds_ || got_listeners_); }
  void subscribed(bool cds, bool lds) {
    cds_ = cds;
    lds_ = lds;
  }
  size_t warmingClusters() const;

 private:
  std::vector<std::string> applyClusters(const std::vector<const google::protobuf::Any*>& resources,
                                         const std::string& version);
  std::vector<std::string> applyEndpoints(const std::vector<const google::protobuf::Any*>& resources);
  std::vector<std::string> applyListeners(const std::vector<const google::protobuf::Any*>& resources,
                                          const std::string& version);
  std::vector<std::string> applyRoutes(const std::vector<const google::protobuf::Any*>& resources,
                                       const std::string& version);
  bool clusterWarm(const upstream::ClusterConfig& c) const;
  bool listenerWarm(const network::ListenerConfig& l) const;

  template <typename Proto, typename Compiled>
  struct Entry {
    Proto proto;
    std::shared_ptr<const Compiled> compiled;
    std::string version;
    google::protobuf::Timestamp updated;
    std::shared_ptr<SocketSet> sockets;  // listeners only
  };
  stats::Store& store_;
  tls::SdsSecrets* sds_;
  Bind bind_;
  std::function<void()> on_change_;
  std::set<std::string> static_clusters_;
  std::set<std::string> static_listeners_;
  std::map<std::string, Entry<envoy::config::cluster::v3::Cluster, upstream::ClusterConfig>> clusters_;
  std::map<std::string, std::shared_ptr<const upstream::HostSet>> endpoints_;  // by EDS service name
  std::map<std::string, Entry<envoy::config::listener::v3::Listener, network::ListenerConfig>> listeners_;
  std::map<std::string, Entry<envoy::config::route::v3::RouteConfiguration, http::RouteTable>> routes_;
  bool cds_ = true;
  bool lds_ = true;
  bool got_clusters_ = false;
  bool got_listeners_ = false;
};

}  // namespace weft::proxy::server
