#pragma once
// Envoy's admin /clusters: every active cluster (static and from CDS) with its circuit
// breaker settings and, per host, its stats, health, weight and locality; as text
// ("cluster::host::stat::value" lines) or, with ?format=json, as envoy.admin.v3.Clusters.
#include <memory>
#include <string>
#include <vector>

#include "proxy/upstream/cluster_config.h"

namespace weft::proxy::admin {

struct ClusterView {
  std::shared_ptr<const upstream::ClusterConfig> config;
  std::shared_ptr<const upstream::HostSet> hosts;  // null: none known yet
  bool added_via_api = false;
};

std::string renderClustersText(const std::vector<ClusterView>& clusters);
std::string renderClustersJson(const std::vector<ClusterView>& clusters);

}  // namespace weft::proxy::admin
