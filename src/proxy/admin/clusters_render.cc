#include "proxy/admin/clusters_render.h"

#include "common/config/yaml_json.h"
#include "envoy/admin/v3/clusters.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "proxy/upstream/outlier_detector.h"

#include <algorithm>
#include <map>

namespace weft::proxy::admin {

namespace {
// The success rates outlier detection computed over its last interval (-1: none).
std::pair<double, double> successRates(const upstream::ClusterConfig& c, const upstream::Host& h) {
  if (!c.outlier) return {-1, -1};
  return {c.outlier->successRate(h, false), c.outlier->successRate(h, true)};
}

std::string rateText(double r) {
  if (r < 0) return "-1";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", r);
  return buf;
}

struct Thresholds {
  uint64_t max_connections, max_pending_requests, max_requests, max_retries;
};

// "region/zone/sub_zone" back into its parts.
envoy::config::core::v3::Locality localityOf(const upstream::Host& h) {
  envoy::config::core::v3::Locality l;
  if (h.locality.empty()) return l;
  size_t a = h.locality.find('/'), b = h.locality.find('/', a + 1);
  l.set_region(h.locality.substr(0, a));
  l.set_zone(h.locality.substr(a + 1, b - a - 1));
  l.set_sub_zone(h.locality.substr(b + 1));
  return l;
}

Thresholds thresholdsOf(const upstream::ClusterConfig& c) {
  return {c.limits->connections.max(), c.limits->pending_requests.max(), c.limits->requests.max(),
          c.limits->maxRetries()};
}
}  // namespace

std::string renderClustersText(const std::vector<ClusterView>& clusters) {
  std::string out;
  for (const ClusterView& v : clusters) {
    const std::string& n = v.config->name;
    out += n + "::observability_name::" +
           (v.config->source.alt_stat_name().empty() ? n : v.config->source.alt_stat_name()) + "\n";
    for (const char* priority : {"default_priority", "high_priority"}) {
      const upstream::ClusterConfig* pc = v.config.get();
      if (priority[0] == 'h' && v.config->high_priority) pc = v.config->high_priority.get();
      Thresholds t = thresholdsOf(*pc);
      std::string p = n + "::" + priority + "::";
      out += p + "max_connections::" + std::to_string(t.max_connections) + "\n";
      out += p + "max_pending_requests::" + std::to_string(t.max_pending_requests) + "\n";
      out += p + "max_requests::" + std::to_string(t.max_requests) + "\n";
      out += p + "max_retries::" + std::to_string(t.max_retries) + "\n";
    }
    out += n + "::added_via_api::" + (v.added_via_api ? "true" : "false") + "\n";
    if (!v.config->eds_service_name.empty()) out += n + "::eds_service_name::" + v.config->eds_service_name + "\n";
    if (!v.hosts) continue;
    for (const auto& h : v.hosts->hosts) {
      std::string p = n + "::" + h->address_string + "::";
      std::map<std::string, int64_t> sorted;  // Envoy prints a host's stats by name
      for (size_t i = 0; i < h->stats->size(); ++i) sorted[h->stats->def(i).name] = h->stats->gaugeValue(i);
      for (const auto& [stat, value] : sorted) out += p + stat + "::" + std::to_string(value) + "\n";
      out += p + "hostname::" + h->hostname + "\n";
      out += p + "health_flags::" + upstream::health::flagsText(h->health_flags.load(std::memory_order_relaxed)) + "\n";
      out += p + "weight::" + std::to_string(h->weight) + "\n";
      auto loc = localityOf(*h);
      out += p + "region::" + loc.region() + "\n" + p + "zone::" + loc.zone() + "\n" + p +
             "sub_zone::" + loc.sub_zone() + "\n" + p + "canary::false\n" + p +
             "priority::" + std::to_string(h->priority) + "\n";
      auto [sr, local_sr] = successRates(*v.config, *h);
      out += p + "success_rate::" + rateText(sr) + "\n" + p + "local_origin_success_rate::" + rateText(local_sr) + "\n";
    }
  }
  return out;
}

std::string renderClustersJson(const std::vector<ClusterView>& clusters) {
  envoy::admin::v3::Clusters out;
  for (const ClusterView& v : clusters) {
    auto* cs = out.add_cluster_statuses();
    cs->set_name(v.config->name);
    cs->set_observability_name(v.config->source.alt_stat_name().empty() ? v.config->name
                                                                        : v.config->source.alt_stat_name());
    cs->set_added_via_api(v.added_via_api);
    if (!v.config->eds_service_name.empty()) cs->set_eds_service_name(v.config->eds_service_name);
    for (auto priority : {envoy::config::core::v3::DEFAULT, envoy::config::core::v3::HIGH}) {
      const upstream::ClusterConfig* pc = v.config.get();
      if (priority == envoy::config::core::v3::HIGH && v.config->high_priority) pc = v.config->high_priority.get();
      Thresholds t = thresholdsOf(*pc);
      auto* th = cs->mutable_circuit_breakers()->add_thresholds();
      th->set_priority(priority);
      th->mutable_max_connections()->set_value(static_cast<uint32_t>(t.max_connections));
      th->mutable_max_pending_requests()->set_value(static_cast<uint32_t>(t.max_pending_requests));
      th->mutable_max_requests()->set_value(static_cast<uint32_t>(t.max_requests));
      th->mutable_max_retries()->set_value(static_cast<uint32_t>(t.max_retries));
    }
    if (!v.hosts) continue;
    for (const auto& h : v.hosts->hosts) {
      auto* hs = cs->add_host_statuses();
      auto* sa = hs->mutable_address()->mutable_socket_address();
      sa->set_address(h->address.ip());
      sa->set_port_value(h->address.port());
      // Counters, then gauges, as Envoy lists them.
      for (stats::Kind kind : {stats::Kind::Counter, stats::Kind::Gauge}) {
        for (size_t i = 0; i < h->stats->size(); ++i) {
          if (h->stats->def(i).kind != kind) continue;
          auto* m = hs->add_stats();
          m->set_name(h->stats->def(i).name);
          m->set_value(static_cast<uint64_t>(h->stats->gaugeValue(i)));
          m->set_type(kind == stats::Kind::Gauge ? envoy::admin::v3::SimpleMetric::GAUGE
                                                 : envoy::admin::v3::SimpleMetric::COUNTER);
        }
      }
      uint32_t flags = h->health_flags.load(std::memory_order_relaxed);
      auto* health = hs->mutable_health_status();
      health->set_eds_health_status(flags & upstream::health::kEdsDraining ? envoy::config::core::v3::DRAINING
                                                                           : (flags & upstream::health::kFailedEdsHealth
                                                                                  ? envoy::config::core::v3::UNHEALTHY
                                                                                  : envoy::config::core::v3::HEALTHY));
      health->set_failed_outlier_check(flags & upstream::health::kFailedOutlierCheck);
      health->set_failed_active_health_check(flags & upstream::health::kFailedActiveHc);
      health->set_pending_active_hc(flags & upstream::health::kPendingActiveHc);
      auto [sr, local_sr] = successRates(*v.config, *h);
      if (sr >= 0) hs->mutable_success_rate()->set_value(sr);
      if (local_sr >= 0) hs->mutable_local_origin_success_rate()->set_value(local_sr);
      hs->set_weight(h->weight);
      if (!h->hostname.empty()) hs->set_hostname(h->hostname);
      *hs->mutable_locality() = localityOf(*h);
      hs->set_priority(h->priority);
    }
  }
  return weft::config::messageToJson(out, true, false) + "\n";
}

envoy::admin::v3::EndpointsConfigDump renderEndpointsDump(const std::vector<ClusterView>& clusters) {
  envoy::admin::v3::EndpointsConfigDump out;
  for (const ClusterView& v : clusters) {
    envoy::config::endpoint::v3::ClusterLoadAssignment cla;
    cla.set_cluster_name(v.config->eds_service_name.empty() ? v.config->name : v.config->eds_service_name);
    cla.mutable_policy()->mutable_overprovisioning_factor()->set_value(v.hosts ? v.hosts->overprovisioning_factor
                                                                               : 140);
    if (v.hosts && !v.hosts->hosts.empty()) {
      // One LocalityLbEndpoints per (priority, locality), in the order the hosts first show them.
      std::vector<std::pair<uint32_t, std::string>> groups;
      for (const auto& h : v.hosts->hosts) {
        std::pair<uint32_t, std::string> key{h->priority, h->locality};
        size_t gi = std::find(groups.begin(), groups.end(), key) - groups.begin();
        if (gi == groups.size()) {
          groups.push_back(key);
          auto* g = cla.add_endpoints();
          *g->mutable_locality() = localityOf(*h);
          g->set_priority(h->priority);
          for (const auto& lw : v.hosts->locality_weights) {
            if (lw.priority == h->priority && lw.locality == h->locality && lw.weight > 0)
              g->mutable_load_balancing_weight()->set_value(lw.weight);
          }
        }
        auto* lbe = cla.mutable_endpoints(static_cast<int>(gi))->add_lb_endpoints();
        auto* ep = lbe->mutable_endpoint();
        auto* sa = ep->mutable_address()->mutable_socket_address();
        sa->set_address(h->address.ip());
        sa->set_port_value(h->address.port());
        if (!h->hostname.empty()) ep->set_hostname(h->hostname);
        ep->mutable_health_check_config();
        lbe->set_health_status(envoy::config::core::v3::HEALTHY);
        lbe->mutable_load_balancing_weight()->set_value(h->weight);
        lbe->mutable_metadata();
      }
    }
    if (v.added_via_api) {
      out.add_dynamic_endpoint_configs()->mutable_endpoint_config()->PackFrom(cla);
    } else {
      out.add_static_endpoint_configs()->mutable_endpoint_config()->PackFrom(cla);
    }
  }
  return out;
}

}  // namespace weft::proxy::admin
