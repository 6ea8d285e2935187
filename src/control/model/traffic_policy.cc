#include "control/model/traffic_policy.h"

namespace weft::control {

namespace {

template <typename Policy>
void overlayFields(TrafficPolicy& out, const Policy& p) {
  if (p.load_balancer) out.load_balancer = p.load_balancer;
  if (p.connection_pool) out.connection_pool = p.connection_pool;
  if (p.outlier_detection) out.outlier_detection = p.outlier_detection;
  if (p.tls) out.tls = p.tls;
}

void overlay(TrafficPolicy& out, const TrafficPolicy& p, uint32_t port) {
  overlayFields(out, p);
  for (const auto& pl : p.port_level_settings) {
    if (pl.port == port) {
      overlayFields(out, pl);
      break;
    }
  }
}

}  // namespace

TrafficPolicy effectiveTrafficPolicy(const DestinationRule* dr, const std::string& subset, uint32_t port) {
  TrafficPolicy out;
  if (dr == nullptr) return out;
  if (dr->traffic_policy) overlay(out, *dr->traffic_policy, port);
  if (subset.empty()) return out;
  for (const auto& s : dr->subsets) {
    if (s.name == subset && s.traffic_policy) overlay(out, *s.traffic_policy, port);
  }
  return out;
}

}  // namespace weft::control
