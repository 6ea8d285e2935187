#pragma once
// Renders the stats store as Envoy does: `name: value` text, JSON, and Prometheus text
// exposition with Envoy's metric names and tag labels
// (cluster.x.upstream_rq_2xx -> envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",envoy_cluster_name="x"}).
#include <string>

#include "common/stats/stats.h"

namespace weft::proxy::admin {

// `filter` is an RE2 pattern matched against names (partial match); empty: all.
std::string renderStatsText(const stats::Store& store, const std::string& filter, bool used_only);
std::string renderStatsJson(const stats::Store& store, const std::string& filter, bool used_only);
std::string renderPrometheus(const stats::Store& store);

}  // namespace weft::proxy::admin
