#pragma once
// Istio's locality load balancing for one proxy (loadbalancer.go): endpoints grouped by
// locality get priorities by how near they are to the proxy (failover, only with outlier
// detection, as Istio: without ejections nothing would ever fail over), or weights from
// `distribute`. The mesh default, as Istio's, is localityLbSetting enabled with no rules.
#include <vector>

#include "control/config/kinds.h"
#include "control/model/mesh_model.h"
#include "control/xds/proxy_info.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"

namespace weft::control::xds {

// `groups[i]` are the endpoints of cla.endpoints(i), in order.
void applyLocalityLb(const TrafficPolicy& tp, const ProxyInfo& proxy,
                     envoy::config::endpoint::v3::ClusterLoadAssignment& cla,
                     const std::vector<std::vector<const MeshEndpoint*>>& groups);

// Whether the cluster needs common_lb_config.locality_weighted_lb_config (Istio sets it for
// `distribute`, and for failover rules when failover is on).
bool needsLocalityWeightedLb(const TrafficPolicy& tp);

// "region/zone/subzone" as an Envoy Locality.
envoy::config::core::v3::Locality toLocality(const std::string& locality);

}  // namespace weft::control::xds
