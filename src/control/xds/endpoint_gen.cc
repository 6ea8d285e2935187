#include <map>

#include "control/model/traffic_policy.h"
#include "control/xds/generator.h"
#include "control/xds/locality_lb.h"
#include "control/xds/pack.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"

namespace weft::control::xds {

ResourceMap generateEndpoints(const MeshModel& model, const ProxyInfo& proxy, const std::vector<std::string>& names) {
  ResourceMap out;
  for (const auto& name : names) {
    ClusterName cn;
    if (!ClusterName::parse(name, cn) || cn.direction != "outbound") continue;
    const MeshService* svc = model.service(cn.host);
    if (svc == nullptr || svc->resolution != MeshService::Resolution::Endpoints) continue;
    const MeshPort* port = svc->port(cn.port);
    if (port == nullptr) continue;
    const DestinationRule* dr = model.destinationRuleFor(cn.host, proxy.ns);
    const Labels* subset_labels = nullptr;
    if (!cn.subset.empty()) {
      if (dr == nullptr) continue;
      for (const auto& s : dr->subsets) {
        if (s.name == cn.subset) subset_labels = &s.labels;
      }
      if (subset_labels == nullptr) continue;
    }
    // One LocalityLbEndpoints per locality, in locality order.
    std::map<std::string, std::vector<const MeshEndpoint*>> by_locality;
    for (const auto& e : port->endpoints) {
      if (subset_labels) {
        bool match = true;
        for (const auto& [k, v] : *subset_labels) {
          auto it = e.labels.find(k);
          match &= it != e.labels.end() && it->second == v;
        }
        if (!match) continue;
      }
      by_locality[e.locality].push_back(&e);
    }
    envoy::config::endpoint::v3::ClusterLoadAssignment cla;
    cla.set_cluster_name(name);
    std::vector<std::vector<const MeshEndpoint*>> groups;
    for (const auto& [locality, endpoints] : by_locality) {
      auto* group = cla.add_endpoints();
      // gRPC's xDS client rejects a LocalityLbEndpoints without a locality, and ignores one
      // without a weight.
      *group->mutable_locality() = toLocality(locality);
      uint32_t total = 0;
      for (const MeshEndpoint* e : endpoints) {
        auto* lbe = group->add_lb_endpoints();
        auto* sa = lbe->mutable_endpoint()->mutable_address()->mutable_socket_address();
        sa->set_address(e->ip);
        sa->set_port_value(e->port);
        lbe->mutable_load_balancing_weight()->set_value(e->weight);
        lbe->set_health_status(envoy::config::core::v3::HEALTHY);
        if (e->istioMutual()) {
          // Auto mTLS picks the cluster's tlsMode-istio transport socket for this endpoint.
          (*lbe->mutable_metadata()->mutable_filter_metadata())["envoy.transport_socket_match"]
              .mutable_fields()
              ->
              operator[]("tlsMode")
              .set_string_value("istio");
        }
        total += e->weight;
      }
      group->mutable_load_balancing_weight()->set_value(total);
      groups.push_back(endpoints);
    }
    applyLocalityLb(effectiveTrafficPolicy(dr, cn.subset, cn.port), proxy, cla, groups);
    pack(out[name], cla);
  }
  return out;
}

}  // namespace weft::control::xds
