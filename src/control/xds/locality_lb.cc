#include "control/xds/locality_lb.h"

#include <cmath>
#include <map>
#include <set>

namespace weft::control::xds {

namespace ev3 = envoy::config::endpoint::v3;
using envoy::config::core::v3::Locality;

namespace {

const LocalityLbSetting* settingOf(const TrafficPolicy& tp) {
  static const LocalityLbSetting kMeshDefault;  // Istio's default mesh config: enabled, no rules
  const LocalityLbSetting* s =
      tp.load_balancer && tp.load_balancer->locality ? &*tp.load_balancer->locality : &kMeshDefault;
  if (s->enabled && !*s->enabled) return nullptr;
  return s;
}

// Istio's util.LocalityMatch: a rule "region[/zone[/subzone]]" with '*' for any.
bool localityMatch(const Locality& l, const std::string& rule) {
  Locality r = toLocality(rule);
  bool region = r.region() == "*" || l.region() == r.region();
  bool zone = r.zone() == "*" || r.zone().empty() || l.zone() == r.zone();
  bool subzone = r.sub_zone() == "*" || r.sub_zone().empty() || l.sub_zone() == r.sub_zone();
  return region && zone && subzone;
}

// Istio's util.LbPriority: 0 same subzone, 1 same zone, 2 same region, 3 elsewhere.
int lbPriority(const Locality& proxy, const Locality& ep) {
  if (proxy.region() != ep.region()) return 3;
  if (proxy.zone() != ep.zone()) return 2;
  return proxy.sub_zone() == ep.sub_zone() ? 0 : 1;
}

// Priorities from 0 without gaps, keeping their order (Envoy must not see empty levels).
void compactPriorities(ev3::ClusterLoadAssignment& cla) {
  std::set<uint32_t> used;
  for (const auto& g : cla.endpoints()) used.insert(g.priority());
  std::map<uint32_t, uint32_t> rank;
  for (uint32_t p : used) rank.emplace(p, static_cast<uint32_t>(rank.size()));
  for (auto& g : *cla.mutable_endpoints()) g.set_priority(rank[g.priority()]);
}

void applyLocalityWeights(const Locality& proxy, ev3::ClusterLoadAssignment& cla,
                          const std::vector<LocalityLbSetting::Distribute>& distribute) {
  for (const auto& d : distribute) {
    if (!localityMatch(proxy, d.from)) continue;
    std::set<int> unmatched;
    for (int i = 0; i < cla.endpoints_size(); ++i) unmatched.insert(i);
    for (const auto& [loc, weight] : d.to) {
      std::map<int, uint32_t> original;
      uint32_t total = 0;
      for (int i = 0; i < cla.endpoints_size(); ++i) {
        if (!unmatched.count(i) || !localityMatch(cla.endpoints(i).locality(), loc)) continue;
        unmatched.erase(i);
        const auto& g = cla.endpoints(i);
        original[i] = g.has_load_balancing_weight() ? g.load_balancing_weight().value() : 1;
        total += original[i];
      }
      // A wildcard that matches several localities splits its weight among them.
      for (const auto& [i, w] : original) {
        double share = static_cast<double>(w) * weight / total;
        if (share > 0)
          cla.mutable_endpoints(i)->mutable_load_balancing_weight()->set_value(static_cast<uint32_t>(std::ceil(share)));
      }
    }
    for (int i : unmatched) cla.mutable_endpoints(i)->clear_lb_endpoints();
    return;
  }
}

void applyLocalityFailover(const Locality& proxy, ev3::ClusterLoadAssignment& cla,
                           const std::vector<LocalityLbSetting::Failover>& failover) {
  for (auto& g : *cla.mutable_endpoints()) {
    int priority = lbPriority(proxy, g.locality());
    if (priority == 3) {
      for (const auto& f : failover) {
        if (f.from != proxy.region()) continue;
        if (g.locality().region() != f.to) priority = 4;
        break;
      }
    }
    // Five levels per earlier (failoverPriority) priority keep that order first.
    g.set_priority(g.priority() * 5 + static_cast<uint32_t>(priority));
  }
  compactPriorities(cla);
}

// A label of an endpoint or proxy, with the topology labels Istio adds from the locality.
std::string labelOf(const Labels& labels, const std::string& locality, const std::string& name) {
  auto it = labels.find(name);
  if (it != labels.end()) return it->second;
  Locality l = toLocality(locality);
  if (name == "topology.kubernetes.io/region") return l.region();
  if (name == "topology.kubernetes.io/zone") return l.zone();
  if (name == "topology.istio.io/subzone") return l.sub_zone();
  return "";
}

// Istio's applyFailoverPriorities: each locality splits by how many of the labels (in order)
// an endpoint shares with the proxy; "label=value" compares with that value instead.
void applyFailoverPriorities(const ProxyInfo& proxy, ev3::ClusterLoadAssignment& cla,
                             const std::vector<std::vector<const MeshEndpoint*>>& groups,
                             const std::vector<std::string>& priority_labels) {
  if (proxy.labels.empty() || groups.empty()) return;
  const int lowest = static_cast<int>(priority_labels.size());
  const bool network_first = !priority_labels.empty() && priority_labels[0] == "topology.istio.io/network";
  std::vector<std::pair<std::string, std::optional<std::string>>> labels;
  for (const auto& l : priority_labels) {
    auto eq = l.find('=');
    if (eq == std::string::npos)
      labels.emplace_back(l, std::nullopt);
    else
      labels.emplace_back(l.substr(0, eq), l.substr(eq + 1));
  }
  ev3::ClusterLoadAssignment out;
  for (size_t gi = 0; gi < groups.size() && gi < static_cast<size_t>(cla.endpoints_size()); ++gi) {
    const auto& g = cla.endpoints(static_cast<int>(gi));
    std::map<int, std::vector<int>> by_priority;
    for (size_t i = 0; i < groups[gi].size(); ++i) {
      const MeshEndpoint& ep = *groups[gi][i];
      int priority = 0, adjust = 0;
      for (int j = 0; j < lowest; ++j) {
        const auto& [name, fixed] = labels[static_cast<size_t>(j)];
        std::string want = fixed ? *fixed : labelOf(proxy.labels, proxy.locality, name);
        if (want == labelOf(ep.labels, ep.locality, name)) continue;
        if (j == 0 && network_first) {
          adjust = lowest;  // another network: after every same-network endpoint
          continue;
        }
        priority = lowest - j;
        break;
      }
      by_priority[priority + adjust].push_back(static_cast<int>(i));
    }
    for (const auto& [priority, members] : by_priority) {
      auto* ng = out.add_endpoints();
      *ng->mutable_locality() = g.locality();
      ng->set_priority(static_cast<uint32_t>(priority));
      uint32_t weight = 0;
      for (int i : members) {
        *ng->add_lb_endpoints() = g.lb_endpoints(i);
        weight += g.lb_endpoints(i).load_balancing_weight().value();
      }
      ng->mutable_load_balancing_weight()->set_value(weight);
    }
  }
  cla.mutable_endpoints()->Swap(out.mutable_endpoints());
  compactPriorities(cla);
}

}  // namespace

Locality toLocality(const std::string& locality) {
  Locality l;
  size_t a = locality.find('/');
  l.set_region(locality.substr(0, a));
  if (a == std::string::npos) return l;
  size_t b = locality.find('/', a + 1);
  l.set_zone(locality.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1));
  if (b != std::string::npos) l.set_sub_zone(locality.substr(b + 1));
  return l;
}

void applyLocalityLb(const TrafficPolicy& tp, const ProxyInfo& proxy, ev3::ClusterLoadAssignment& cla,
                     const std::vector<std::vector<const MeshEndpoint*>>& groups) {
  const LocalityLbSetting* s = settingOf(tp);
  if (s == nullptr) return;
  Locality here = toLocality(proxy.locality);
  if (!s->distribute.empty()) {
    applyLocalityWeights(here, cla, s->distribute);
    return;
  }
  if (!tp.outlier_detection) return;
  if (!s->failover_priority.empty()) {
    applyFailoverPriorities(proxy, cla, groups, s->failover_priority);
    if (!s->failover.empty()) applyLocalityFailover(here, cla, s->failover);
  } else {
    applyLocalityFailover(here, cla, s->failover);
  }
}

bool needsLocalityWeightedLb(const TrafficPolicy& tp) {
  const LocalityLbSetting* s = settingOf(tp);
  if (s == nullptr) return false;
  return !s->distribute.empty() || (tp.outlier_detection && (!s->failover.empty() || !s->failover_priority.empty()));
}

}  // namespace weft::control::xds
