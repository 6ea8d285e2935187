#include "control/xds/generator.h"
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
    const Labels* subset_labels = nullptr;
    if (!cn.subset.empty()) {
      const DestinationRule* dr = model.destinationRuleFor(cn.host, proxy.ns);
      if (dr == nullptr) continue;
      for (const auto& s : dr->subsets) {
        if (s.name == cn.subset) subset_labels = &s.labels;
      }
      if (subset_labels == nullptr) continue;
    }
    envoy::config::endpoint::v3::ClusterLoadAssignment cla;
    cla.set_cluster_name(name);
    auto* locality = cla.add_endpoints();
    locality->mutable_locality();  // gRPC's xDS client rejects a LocalityLbEndpoints without one
    uint32_t total = 0;
    for (const auto& e : port->endpoints) {
      if (subset_labels) {
        bool match = true;
        for (const auto& [k, v] : *subset_labels) {
          auto it = e.labels.find(k);
          match &= it != e.labels.end() && it->second == v;
        }
        if (!match) continue;
      }
      auto* lbe = locality->add_lb_endpoints();
      auto* sa = lbe->mutable_endpoint()->mutable_address()->mutable_socket_address();
      sa->set_address(e.ip);
      sa->set_port_value(e.port);
      lbe->mutable_load_balancing_weight()->set_value(e.weight);
      lbe->set_health_status(envoy::config::core::v3::HEALTHY);
      total += e.weight;
    }
    // gRPC's xDS client ignores a locality without a weight.
    if (total > 0)
      locality->mutable_load_balancing_weight()->set_value(total);
    else
      cla.clear_endpoints();
    out[name].PackFrom(cla);
  }
  return out;
}

}  // namespace weft::control::xds
