#pragma once
// Envoy's admin /clusters: every active cluster (static and from CDS) with its circuit
// breaker settings and, per host, its stats, health, weight and locality; as text
// ("cluster::host::stat::value" lines) or, with ?format=json, as envoy.admin.v3.Clusters.
#include <memory>
#include <string>
#include <vector>

#include "envoy/admin/v3/config_dump_shared.pb.h"
#include "proxy/upstream/cluster_config.h"

namespace weft::proxy::admin {

struct ClusterView {
  std::shared_ptr<const upstream::ClusterConfig> config;
  std::shared_ptr<const upstream::HostSet> hosts;  // null: none known yet
  bool added_via_api = false;
};

std::string renderClustersText(const std::vector<ClusterView>& clusters);
std::string renderClustersJson(const std::vector<ClusterView>& clusters);
// /config_dump?include_eds: each cluster's endpoints as they are now (rebuilt from its hosts,
// as Envoy does), static clusters' under static_endpoint_configs, CDS ones' under dynamic.
envoy::admin::v3::EndpointsConfigDump renderEndpointsDump(const std::vector<ClusterView>& clusters);

}  // namespace weft::proxy::admin
